"""Held-out evaluation: masked-LM accuracy and perplexity, whole-word accuracy, NSP accuracy.

Deterministic for a given seed, so numbers from different runs and models are comparable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from babybert.data.corpus import Document, take_sentences
from babybert.data.batches import (EncodedCorpus, SpecialIds, build_inputs, draw_pairs, encode_corpus, mask_tokens, pick_random)
from babybert.analysis.grammar import MinimalPair, score_pairs
from babybert.errors import UserError


@dataclass
class Metrics:
    mlm_accuracy: float | None = None  # share of masked pieces predicted exactly (top-1)
    mlm_loss: float | None = None  # mean cross-entropy over masked pieces
    mlm_perplexity: float | None = None  # exp(mlm_loss)
    word_accuracy: float | None = None  # share of fully masked words whose every piece is right
    nsp_accuracy: float | None = None  # share of held-out pairs classified right (chance = 0.5)
    baseline_accuracy: float | None = None  # MLM accuracy of always guessing the most frequent piece
    minimal_pair_accuracy: float | None = None  # share of minimal pairs whose good sentence has the higher PLL
    minimal_pair_fields: dict[str, float] | None = None  # the same, by field (morphology, syntax, ...)
    masked_tokens: int = 0
    masked_words: int = 0
    nsp_pairs: int = 0
    minimal_pairs: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


EVAL_MASK_PROB = 0.15  # BERT's rate, whatever rate a model trained with, so held-out numbers compare


@torch.no_grad()
def evaluate(model, tokenizer, documents: list[Document], seed: int = 0, tasks=("mlm", "nsp"),
             mask_prob: float = EVAL_MASK_PROB, batch_size: int = 64, max_sentences: int | None = None,
             pairs: list[MinimalPair] | None = None) -> Metrics:
    """Score `model` on `documents` it never trained on.

    MLM: `mask_prob` of each sentence's pieces are replaced by [MASK] (all of them, no 80/10/10,
    so the score says how well the model fills a visible blank); accuracy is per piece.
    Whole words: `mask_prob` of each sentence's words (at least one) have all their pieces masked;
    a word counts only if every piece is right, which stays comparable across vocabulary sizes.
    NSP: one pair per sentence with a successor, half true next sentences, half random ones.
    Minimal `pairs` (grammar.py), when given: the share whose good sentence has the higher PLL.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = SpecialIds.from_tokenizer(tokenizer)
    corpus = encode_corpus(take_sentences(documents, max_sentences), tokenizer, model.config.max_position_embeddings)
    metrics = Metrics()
    if "mlm" in tasks:
        _score_mlm(model, tokenizer, corpus, ids, mask_prob, batch_size, seed, device, metrics)
    if "nsp" in tasks:
        _score_nsp(model, corpus, ids, batch_size, seed, device, metrics)
    if pairs:
        known = score_pairs(model, tokenizer, pairs)
        metrics.minimal_pair_accuracy, metrics.minimal_pairs = known.overall.value, known.overall.pairs
        metrics.minimal_pair_fields = {k: v.value for k, v in known.by_field.items()}
    model.train(was_training)
    return metrics


def _word_starts(tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """Per vocabulary id: does it start a word (not '##…'), and is it a word (has a letter or digit)."""
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    starts = torch.tensor([not t.startswith("##") for t in vocab])
    wordy = torch.tensor([any(c.isalnum() for c in t) for t in vocab])
    return starts, wordy


def _score_mlm(model, tokenizer, corpus: EncodedCorpus, ids: SpecialIds, mask_prob, batch_size, seed, device, metrics):
    generator = torch.Generator().manual_seed(seed)
    starts, wordy = _word_starts(tokenizer)
    max_len = model.config.max_position_embeddings
    correct = total = loss_sum = words_right = words = 0
    rows = torch.arange(len(corpus))
    counts = torch.bincount(corpus.ids.long(), minlength=len(tokenizer))
    counts[list(set(tokenizer.all_special_ids))] = 0
    most_frequent, baseline_hits = int(counts.argmax()), 0
    for chunk in rows.split(batch_size):
        batch = build_inputs(corpus, chunk, None, ids, max_len)
        # piece-level: random pieces, all replaced by [MASK]
        masked = mask_tokens(batch, ids, mask_prob, generator, mask_frac=1.0, random_frac=0.0)
        logits = model(**_inputs(masked, device), mlm_mask=masked.mlm_mask.to(device)).mlm_logits
        labels = masked.mlm_labels.to(device)
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(-1) == labels).sum())
        total += labels.numel()
        baseline_hits += int((masked.mlm_labels == most_frequent).sum())
        # whole words: every piece of the chosen words
        x, special = batch.input_ids, batch.special_mask
        is_start = starts[x] & ~special
        word_id = is_start.long().cumsum(1)  # (B, T): word number of each piece, 1-based
        chosen_start = pick_random(is_start & wordy[x], mask_prob, generator)
        # chosen_word[b, w]: was word w picked. Its pieces (and the [SEP]/[PAD] after the last word)
        # share the index w, so an add, not a plain scatter, whose last write would win and unpick it
        chosen_word = torch.zeros(x.size(0), x.size(1) + 1, dtype=torch.long).scatter_add_(1, word_id, chosen_start.long()) > 0
        word_mask = chosen_word.gather(1, word_id) & ~special
        assert int(chosen_word.sum()) == int(chosen_start.sum()), "every picked word is masked"
        masked = mask_tokens(batch, ids, mask_prob, generator, mlm_mask=word_mask, mask_frac=1.0, random_frac=0.0)
        logits = model(**_inputs(masked, device), mlm_mask=word_mask.to(device)).mlm_logits
        wrong = torch.zeros_like(x)
        wrong[word_mask] = (logits.argmax(-1).cpu() != masked.mlm_labels).long()
        wrong_per_word = torch.zeros(x.size(0), x.size(1) + 1, dtype=torch.long).scatter_add_(1, word_id, wrong)
        words_right += int((chosen_word & (wrong_per_word == 0))[:, 1:].sum())
        words += int(chosen_word[:, 1:].sum())
    metrics.mlm_loss = loss_sum / total
    metrics.mlm_perplexity = math.exp(min(metrics.mlm_loss, 50.0))
    metrics.mlm_accuracy = correct / total
    metrics.baseline_accuracy = baseline_hits / total
    metrics.masked_tokens = total
    metrics.word_accuracy = words_right / words if words else None
    metrics.masked_words = words


def _score_nsp(model, corpus: EncodedCorpus, ids: SpecialIds, batch_size, seed, device, metrics):
    generator = torch.Generator().manual_seed(seed + 1)
    try:
        a, b, label = draw_pairs(corpus, generator)
    except UserError:  # too few held-out sentences to form pairs
        return
    correct = 0
    for chunk in torch.arange(len(a)).split(batch_size):
        batch = build_inputs(corpus, a[chunk], b[chunk], ids, model.config.max_position_embeddings)
        no_mlm = torch.zeros_like(batch.special_mask, device=device)  # skip the MLM head
        logits = model(**_inputs(batch, device), mlm_mask=no_mlm).nsp_logits
        correct += int((logits.argmax(-1).cpu() == label[chunk]).sum())
    metrics.nsp_accuracy = correct / len(a)
    metrics.nsp_pairs = len(a)


def _inputs(batch, device) -> dict:
    return {"input_ids": batch.input_ids.to(device), "token_type_ids": batch.token_type_ids.to(device),
            "attention_mask": batch.attention_mask.to(device)}
