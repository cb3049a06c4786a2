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

import copy
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


def masked_rows(ids: torch.Tensor, lengths: torch.Tensor, words: torch.Tensor, mask_id: int,
                metric: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The masked copies of encoded sentences: `ids` (S, T) are [CLS] ... [SEP] padded to T, `words`
    (S, T) each piece's word (-1 for specials and padding). One row per piece, sentence by sentence:
    row r hides piece `target[r]` of sentence `sentence[r]` (and, for within_word_l2r, the later pieces
    of its word). Returns (rows (R, T), hidden (R, T) bool, sentence (R,), target (R,))."""
    n = lengths - 2  # pieces per sentence
    sentence = torch.repeat_interleave(torch.arange(len(n)), n)
    first_row = torch.cumsum(n, 0) - n
    target = torch.arange(len(sentence)) - first_row[sentence] + 1  # 1 .. n in each sentence
    rows = ids[sentence]
    hidden = torch.zeros_like(rows, dtype=torch.bool)
    hidden[torch.arange(len(sentence)), target] = True
    if metric == "within_word_l2r":
        word = words[sentence]
        later = torch.arange(ids.size(1))[None, :] > target[:, None]
        hidden |= later & (word == word.gather(1, target[:, None])) & (word >= 0)
    return rows.masked_fill(hidden, mask_id), hidden, sentence, target


@torch.no_grad()
def score_sentences(model, tokenizer, sentences: list[str], metric: str = "original", progress: bool = False,
                    bf16: bool = False) -> list[SentenceScore]:
    """The PLL of each sentence, piece by piece: the same numbers whatever the batch. In float32, or
    with `bf16` on a bfloat16 copy of the model, weights and activations, as Hugging Face inference
    runs with `dtype=torch.bfloat16` (1.5x autocast's speed on a CPU with AMX, 2.6x float32's; the
    log-probabilities then differ by up to ~0.3)."""
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
    scorer = copy.deepcopy(model).to(torch.bfloat16) if bf16 else model  # (the model itself is left as it is)
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
            _score_chunk(scorer, tokenizer, enc, sentences, chunk, metric, device, scores)
            bar.update(len(chunk))
            chunk, rows = [], 0
    bar.close()
    model.train(was_training)
    return scores


def _score_chunk(model, tokenizer, enc, sentences, chunk, metric, device, scores) -> None:
    lengths = torch.tensor([len(enc["input_ids"][i]) for i in chunk])
    word_ids = [enc.word_ids(i) for i in chunk]  # (None for [CLS] and [SEP])
    T = int(lengths.max())
    ids = torch.full((len(chunk), T), tokenizer.pad_token_id)
    words = torch.full((len(chunk), T), -1)
    for k, i in enumerate(chunk):
        ids[k, :lengths[k]] = torch.tensor(enc["input_ids"][i])
        words[k, :lengths[k]] = torch.tensor([-1 if w is None else w for w in word_ids[k]])
    rows, _, sentence, target = masked_rows(ids, lengths, words, tokenizer.mask_token_id, metric)
    attention_mask = torch.arange(T)[None, :] < lengths[sentence][:, None]
    scored = torch.zeros_like(rows, dtype=torch.bool)  # one scored position per row: the piece it is about
    scored[torch.arange(len(rows)), target] = True
    truth = ids[sentence, target]
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
        keys[n:, 0] = True
        logits = model(x.to(device), torch.zeros_like(x).to(device), keys.to(device),
                       mlm_mask=F.pad(scored[part], (0, 0, 0, spare)).to(device), rows_multiple=size).mlm_logits
        logprobs.append(F.log_softmax(logits.float(), dim=-1).gather(1, truth[part].to(device)[:, None])[:, 0])  # (n,)
    logprobs = torch.cat(logprobs).tolist()
    offset = 0
    for k, i in enumerate(chunk):
        n = int(lengths[k]) - 2
        pieces = word_ids[k][1:-1]
        first = pieces[0] if pieces else 0
        scores[i] = SentenceScore(sentences[i], enc.tokens(i)[1:-1], [w - first for w in pieces],
                                  logprobs[offset:offset + n])
        offset += n
