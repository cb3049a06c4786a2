"""Training throughput, side by side in one process: BabyBERT against the plain transformers
recipe (`BertForPreTraining` + `DataCollatorForLanguageModeling` + AdamW) on the same examples.

Rounds alternate between the contenders so a noisy machine slows all of them alike; the median
round counts. Throughput is real (non-padding) tokens per second, the data path included.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from .config import ModelConfig, TrainConfig
from .data import (SpecialIds, build_inputs, draw_pairs, encode_corpus, length_grouped_batches, mask_tokens,
                   read_corpus, split_corpus)
from .model import BabyBert
from .tokenizer import train_tokenizer
from .train import make_optimizer, pretraining_loss

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "examples" / "world_facts.txt"
TARGET_SPEEDUP = 2.0


def recipe_example(enc, ids: SpecialIds, a, b, label, i: int, max_len: int) -> dict:
    """Pair i as the recipe's collator wants it: token lists, tokenized once up front as
    `datasets.map` would, identical to what BabyBERT builds for the same pair."""
    x = build_inputs(enc, a[i:i + 1], b[i:i + 1], ids, max_len)
    n = x.num_tokens
    return {"input_ids": x.input_ids[0, :n].tolist(), "token_type_ids": x.token_type_ids[0, :n].tolist(),
            "attention_mask": [1] * n, "next_sentence_label": int(label[i])}


def _babybert_runner(corpus, ids, config: ModelConfig, a, b, label, seed):
    torch.manual_seed(seed)
    model = BabyBert(config).train()
    optimizer = make_optimizer(model, TrainConfig(), torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)

    def step(rows) -> int:
        batch = build_inputs(corpus, a[rows], b[rows], ids, config.max_position_embeddings)
        batch.nsp_labels = label[rows]
        batch = mask_tokens(batch, ids, 0.15, generator)
        loss, _, _ = pretraining_loss(model, batch, ("mlm", "nsp"))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return batch.num_tokens
    return step


def _transformers_runner(features, tokenizer, config: ModelConfig, seed):
    from transformers import BertConfig, BertForPreTraining, DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    model = BertForPreTraining(BertConfig(**config.to_bert_config())).train()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step(rows) -> int:
        batch = collator([features[i] for i in rows.tolist()])
        out = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                    attention_mask=batch["attention_mask"], labels=batch["labels"],
                    next_sentence_label=batch["next_sentence_label"])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(batch["attention_mask"].sum())
    return step


def _time(step, batches, start: int, steps: int) -> float:
    tokens, t0 = 0, time.perf_counter()
    for i in range(start, start + steps):
        tokens += step(batches[i % len(batches)])
    return tokens / (time.perf_counter() - t0)


def run_bench(corpus: str | Path | None = None, steps: int = 30, rounds: int = 3, batch_size: int = 32,
              seed: int = 0) -> dict:
    """Tokens per second of each contender, and BabyBERT's speed-up over the recipe."""
    path = Path(corpus) if corpus else DEFAULT_CORPUS
    train_docs, _ = split_corpus(read_corpus(path))
    tokenizer = train_tokenizer((s for d in train_docs for s in d), 4096)
    config = ModelConfig(vocab_size=len(tokenizer))
    enc = encode_corpus(train_docs, tokenizer, config.max_position_embeddings)
    ids = SpecialIds.from_tokenizer(tokenizer)
    generator = torch.Generator().manual_seed(seed)
    a, b, label = draw_pairs(enc, generator)

    random_batches = list(torch.randperm(len(a), generator=generator).split(batch_size))
    random_batches = [r for r in random_batches if len(r) == batch_size]
    needed = {int(i) for r in random_batches[: steps * rounds + 2] for i in r}
    features = {i: recipe_example(enc, ids, a, b, label, i, config.max_position_embeddings) for i in needed}
    grouped = [r for r in length_grouped_batches(enc.lengths[a] + enc.lengths[b], batch_size, generator) if len(r) == batch_size]
    contenders = {
        "transformers recipe": (_transformers_runner(features, tokenizer, config, seed), random_batches),
        "babybert, same batches": (_babybert_runner(enc, ids, config, a, b, label, seed), random_batches),
        "babybert": (_babybert_runner(enc, ids, config, a, b, label, seed), grouped),
    }
    results = {name: [] for name in contenders}
    for step, batches in contenders.values():  # warm-up: allocator, kernels, lazy imports
        _time(step, batches, 0, 2)
    for r in range(rounds):
        for name, (step, batches) in contenders.items():
            results[name].append(_time(step, batches, 2 + r * steps, steps))
    median = {name: statistics.median(v) for name, v in results.items()}
    base = median["transformers recipe"]
    return {
        "corpus": path.name,
        "model": {"hidden": config.hidden_size, "layers": config.num_hidden_layers, "vocab": config.vocab_size,
                  "max_len": config.max_position_embeddings, "batch_size": batch_size},
        "threads": torch.get_num_threads(),
        "steps_per_round": steps,
        "rounds": rounds,
        "tokens_per_sec": {k: round(v) for k, v in median.items()},
        "speedup": {k: round(v / base, 2) for k, v in median.items() if k != "transformers recipe"},
        "target_speedup": TARGET_SPEEDUP,
        "meets_target": median["babybert"] / base >= TARGET_SPEEDUP,
    }


def print_report(report: dict) -> str:
    lines = [f"training throughput on {report['corpus']} ({report['threads']} threads, "
             f"{report['rounds']} rounds x {report['steps_per_round']} steps, median round):"]
    for name, tps in report["tokens_per_sec"].items():
        speed = report["speedup"].get(name)
        lines.append(f"  {name:<24} {tps:>9,} tokens/s" + (f"   {speed:.2f}x" if speed else "   1.00x"))
    verdict = "meets" if report["meets_target"] else "MISSES"
    lines.append(f"target: babybert >= {report['target_speedup']:.1f}x the transformers recipe -> {verdict} it")
    return "\n".join(lines)

