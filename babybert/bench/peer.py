"""The tuned peer: BabyBERT's published recipe copied into plain transformers, as a careful user
writes it after reading our README (about 50 lines). It shares none of BabyBERT's training code.

`BertForPreTraining` with SDPA attention, trained with the defaults docs/settings.md publishes (lr
2e-3, 5% warmup then linear decay, AdamW betas (0.9, 0.98) fused and without decay on biases and
LayerNorm gains, 30% masking, batch 16, dropout 0, init 0.05, clip 1.0), the MLM head on the masked
positions only, sentences tokenized once up front, NSP pairs drawn afresh every epoch and batched by
similar length, padding and masking by `DataCollatorForLanguageModeling`. It runs in float32, as
transformers does on a CPU unless told otherwise.
"""

from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from babybert.config import ModelConfig, TrainConfig
from babybert.data.corpus import Document


def peer_pairs(docs: list[list], rng: random.Random) -> list[tuple[object, object, int]]:
    """(A, B, label) for every sentence with a successor: label 0 = B is the next sentence, 1 = a
    random sentence of another document (half each). A sentence is whatever the documents hold:
    token ids for the peer, text for the plain recipe (bench/quality.py)."""
    pairs = []
    for d, doc in enumerate(docs):
        for i in range(len(doc) - 1):
            if rng.random() < 0.5 or len(docs) < 2:
                pairs.append((doc[i], doc[i + 1], 0))
            else:
                other = rng.randrange(len(docs) - 1)
                other += other >= d  # any document but this one
                pairs.append((doc[i], rng.choice(docs[other]), 1))
    return pairs


def peer_features(tokenizer, pairs, max_len: int) -> list[dict]:
    """`[CLS] A [SEP] B [SEP]` for each pair, the longer side cut first to fit `max_len`."""
    cls, sep, room = tokenizer.cls_token_id, tokenizer.sep_token_id, max_len - 3
    features = []
    for a, b, label in pairs:
        while len(a) + len(b) > room:
            a, b = (a[:-1], b) if len(a) > len(b) else (a, b[:-1])
        features.append({"input_ids": [cls, *a, sep, *b, sep], "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
                         "next_sentence_label": label})
    return features


def by_length(features: list[dict], batch_size: int, rng: random.Random) -> list[list[dict]]:
    """Shuffled, then sorted by length within windows of 50 batches, batches shuffled again (as
    transformers' `group_by_length` does), so little compute goes to padding."""
    order = list(range(len(features)))
    rng.shuffle(order)
    window, batches = batch_size * 50, []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(features[i]["input_ids"]))
        batches += [[features[i] for i in chunk[j:j + batch_size]] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def peer_trainer(tokenizer, model_config: ModelConfig, config: TrainConfig, seed: int = 0):
    """(model, step): step(features, fraction) trains on a batch at `fraction` of the run (for the
    learning rate) and returns its real tokens."""
    from transformers import BertConfig, BertForPreTraining, DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    bert_config = BertConfig(**{**model_config.to_bert_config(), "vocab_size": len(tokenizer)})
    bert_config._attn_implementation = "sdpa"
    model = BertForPreTraining(bert_config).train()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mask_prob)  # torch's generator, seeded above
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=config.lr, betas=(0.9, config.adam_beta2), eps=1e-6, fused=True)

    def step(features: list[dict], fraction: float) -> int:
        warm = config.warmup
        lr = config.lr * ((fraction + 1e-3) / warm if fraction < warm else max(0.0, 1 - fraction) / (1 - warm))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = collator(features)
        sequence, pooled = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      token_type_ids=batch["token_type_ids"], return_dict=False)[:2]
        masked = batch["labels"] != -100
        mlm_logits = model.cls.predictions(sequence[masked])  # the head on the masked positions only
        nsp_logits = model.cls.seq_relationship(pooled)
        loss = F.cross_entropy(mlm_logits, batch["labels"][masked]) + \
            F.cross_entropy(nsp_logits, batch["next_sentence_label"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(batch["attention_mask"].sum())
    return model, step


def train_peer(train_docs: list[Document], tokenizer, budget: float, seed: int = 0,
               model_config: ModelConfig | None = None, config: TrainConfig | None = None):
    """The tuned peer for `budget` seconds of wall clock; returns (model, steps, tokens). As train()'s,
    its clock starts once the text is tokenized (once) and the model made."""
    model_config, config = model_config or ModelConfig(), config or TrainConfig()
    rng = random.Random(seed)
    docs = [tokenizer(list(d), add_special_tokens=False, verbose=False)["input_ids"] for d in train_docs]
    model, step = peer_trainer(tokenizer, model_config, config, seed)
    t0 = time.perf_counter()
    steps = tokens = 0
    while (elapsed := time.perf_counter() - t0) < budget:
        features = peer_features(tokenizer, peer_pairs(docs, rng), model_config.max_position_embeddings)
        for batch in by_length(features, config.batch_size, rng):
            if (elapsed := time.perf_counter() - t0) >= budget:
                break
            tokens += step(batch, elapsed / budget)
            steps += 1
    return model.eval(), steps, tokens


__all__ = ["by_length", "peer_features", "peer_pairs", "peer_trainer", "train_peer"]
