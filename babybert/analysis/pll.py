"""Pseudo-log-likelihood: how natural a masked LM finds a sentence (Salazar, Liang, Nguyen and
Kirchhoff, "Masked Language Model Scoring", ACL 2020).

A masked LM has no probability for a whole sentence, but it can say how likely each piece is given
all the others: mask the piece, read the log-probability of the true one. Their sum is the PLL.
`within_word_l2r` (Kauf and Ivanova, 2023) also masks the later pieces of the same word, so a word
split into many pieces is not scored as if each piece gave away the next.

Every masked copy of every sentence is a row of one batch: a sentence of n pieces costs one
forward pass of n rows, not n passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from babybert.errors import UserError

PLL_METRICS = ("original", "within_word_l2r")
ROWS_TOKENS = 16384  # positions per forward pass (rows x length): bounds the activations' memory


@dataclass
class SentenceScore:
    text: str
    tokens: list[str]  # the word pieces, [CLS] and [SEP] left out
    words: list[int]  # the word each piece belongs to (0, 1, ...), as the tokenizer splits words
    logprobs: list[float]  # natural log P(piece | the rest), one per piece

    @property
    def pll(self) -> float:
        return sum(self.logprobs)

    @property
    def least_likely(self) -> int:
        """The index of the piece the model finds least likely: the word it objects to."""
        return min(range(len(self.logprobs)), key=self.logprobs.__getitem__)


def check_metric(metric: str) -> str:
    if metric not in PLL_METRICS:
        raise UserError(f"unknown PLL metric {metric!r}; use one of: {', '.join(PLL_METRICS)}")
    return metric


def masked_rows(ids: list[int], words: list[int | None], mask_id: int, metric: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The masked copies of one encoded sentence ([CLS] ... [SEP]): row r hides piece r+1 (and, for
    within_word_l2r, the pieces after it in its word). Returns (rows (n, T), hidden (n, T) bool)."""
    n = len(ids) - 2
    target = torch.arange(1, n + 1)
    hidden = torch.zeros(n, len(ids), dtype=torch.bool)
    hidden[torch.arange(n), target] = True
    if metric == "within_word_l2r":
        word = torch.tensor([-1 if w is None else w for w in words])
        later = torch.arange(len(ids))[None, :] > target[:, None]
        hidden |= later & (word[None, :] == word[target][:, None]) & (word[None, :] >= 0)
    rows = torch.tensor(ids).repeat(n, 1)
    rows[hidden] = mask_id
    return rows, hidden


@torch.no_grad()
def score_sentences(model, tokenizer, sentences: list[str], metric: str = "original", progress: bool = False,
                    bf16: bool = False) -> list[SentenceScore]:
    """The PLL of each sentence, piece by piece: the same numbers whatever the batch. In float32, or
    with `bf16` the matrix products in bfloat16 (faster where the device has it; the numbers then
    differ slightly)."""
    check_metric(metric)
    for i, s in enumerate(sentences):
        if not isinstance(s, str) or not s.strip():
            raise UserError(f"sentence {i + 1} is empty; every sentence needs at least one word")
    enc = tokenizer(list(sentences), add_special_tokens=True)
    max_len = model.config.max_position_embeddings
    for i, ids in enumerate(enc["input_ids"]):
        if len(ids) <= 2:
            raise UserError(f"sentence {i + 1} has no word this model's tokenizer can read: {sentences[i][:80]!r}")
        if len(ids) > max_len:
            raise UserError(f"sentence {i + 1} is {len(ids)} tokens long ([CLS] and [SEP] included) but this model "
                            f"reads at most {max_len}; shorten it: {sentences[i][:80]!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores: list[SentenceScore | None] = [None] * len(sentences)
    order = sorted(range(len(sentences)), key=lambda i: len(enc["input_ids"][i]))  # like lengths share a pass
    chunk: list[int] = []
    rows = 0  # the chunk's masked copies: one per piece
    bar = tqdm(total=len(sentences), unit="sentence", desc="scoring", disable=not progress)
    for k, i in enumerate(order):
        chunk.append(i)
        length = len(enc["input_ids"][i])
        rows += length - 2
        following = len(enc["input_ids"][order[k + 1]]) if k + 1 < len(order) else None
        if following is None or (rows + following - 2) * max(length, following) > ROWS_TOKENS:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                _score_chunk(model, tokenizer, enc, sentences, chunk, metric, device, scores)
            bar.update(len(chunk))
            chunk, rows = [], 0
    bar.close()
    model.train(was_training)
    return scores


def _score_chunk(model, tokenizer, enc, sentences, chunk, metric, device, scores) -> None:
    T = max(len(enc["input_ids"][i]) for i in chunk)
    parts = [masked_rows(enc["input_ids"][i], enc.word_ids(i), tokenizer.mask_token_id, metric) for i in chunk]
    rows = torch.cat([F.pad(r, (0, T - r.size(1)), value=tokenizer.pad_token_id) for r, _ in parts])
    attention_mask = torch.cat([F.pad(torch.ones_like(r), (0, T - r.size(1))) for r, _ in parts])
    target = torch.zeros_like(rows, dtype=torch.bool)  # one scored position per row: the piece it is about
    offset = 0
    for r, _ in parts:
        n = r.size(0)
        target[torch.arange(offset, offset + n), torch.arange(1, n + 1)] = True
        offset += n
    truth = torch.cat([torch.tensor(enc["input_ids"][i][1:-1]) for i in chunk])
    per = max(1, ROWS_TOKENS // T)  # rows per pass: every pass of this length has the same shape
    logprobs = []
    for part in torch.arange(rows.size(0)).split(per):  # (a long sentence: its rows in several passes)
        n = len(part)
        size = per if 2 * n >= per else min(per, -(-n // 64) * 64)  # a full pass's shape, or a multiple of 64
        spare = size - n
        # spare rows (only [CLS] attended, nothing scored) keep the shapes few, so oneDNN compiles each
        # product's kernel once, not for every pass (~1-2 ms a kernel in bf16: see training/setup.py, buckets)
        x = F.pad(rows[part], (0, 0, 0, spare), value=tokenizer.pad_token_id)
        keys = F.pad(attention_mask[part], (0, 0, 0, spare))
        keys[n:, 0] = 1
        scored = F.pad(target[part], (0, 0, 0, spare))
        logits = model(x.to(device), torch.zeros_like(x).to(device), keys.to(device), mlm_mask=scored.to(device),
                       rows_multiple=size).mlm_logits  # (n, V), in row order
        logprobs += F.log_softmax(logits.float(), dim=-1).gather(1, truth[part].to(device)[:, None])[:, 0].tolist()
    offset = 0
    for i, (r, _) in zip(chunk, parts):
        n = r.size(0)
        ids = enc["input_ids"][i]
        words = enc.word_ids(i)[1:-1]
        first = words[0] if words else 0
        scores[i] = SentenceScore(sentences[i], tokenizer.convert_ids_to_tokens(ids[1:-1]),
                                  [w - first for w in words], logprobs[offset:offset + n])
        offset += n
