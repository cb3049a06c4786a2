"""Corpus -> training batches: tokenize once into tensors, draw next-sentence pairs and MLM
masks with vectorized tensor ops (no Python loop over tokens), plan each epoch's batches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from babybert.data.corpus import Document, piece_ids
from babybert.errors import UserError


@dataclass
class EncodedCorpus:
    """Every sentence tokenized once: all pieces back to back in one int32 tensor (4 bytes a piece,
    no padding), with where each sentence starts, how long it is, and its document."""
    ids: torch.Tensor  # (N,) int32 piece ids of every sentence, one after another
    starts: torch.Tensor  # (S,) int64 offset of each sentence in ids
    lengths: torch.Tensor  # (S,) int32 pieces per sentence
    doc: torch.Tensor  # (S,) int32 document index of each sentence (sentences of a document are contiguous)

    def __len__(self) -> int:
        return self.lengths.size(0)

    def sentence(self, i: int) -> torch.Tensor:
        return self.ids[int(self.starts[i]):int(self.starts[i] + self.lengths[i])]


ENCODE_CHUNK = 5_000  # sentences tokenized per call: bounds the Rust encodings held at once (~1.5 KB each)


def encode_chunk(sentences: list[str], tokenizer, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(ids, lengths, sentence of each row, pieces) for a chunk of sentences. A sentence longer than
    `max_len - 2` pieces becomes consecutive rows that stay in its document, so nothing is dropped;
    an empty one (only characters the tokenizer drops) becomes [UNK], which `pieces` does not count."""
    width = max_len - 2
    encoded = piece_ids(tokenizer, sentences)
    sizes = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    pieces = int(sizes.sum())
    ids = np.fromiter(itertools.chain.from_iterable(e or [tokenizer.unk_token_id] for e in encoded), dtype=np.int32,
                      count=int(np.maximum(sizes, 1).sum()))
    sizes = np.maximum(sizes, 1)
    rows_per = -(-sizes // width)  # ceil
    owner = np.repeat(np.arange(len(sizes)), rows_per)
    first_row = np.cumsum(rows_per) - rows_per
    k = np.arange(len(owner)) - first_row[owner]  # the row's place within its sentence
    lengths = np.minimum(width, sizes[owner] - k * width)
    return ids, lengths, owner, pieces


def encode_corpus(docs: list[Document], tokenizer, max_len: int) -> EncodedCorpus:
    """Tokenize all sentences, in chunks, into one flat EncodedCorpus (store.py does the same
    for a corpus file, onto disk)."""
    sentences = [s for d in docs for s in d]
    doc_of = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    ids, lengths, docs_of_rows = [], [], []
    for start in range(0, len(sentences), ENCODE_CHUNK):
        chunk_ids, chunk_lengths, owner, _ = encode_chunk(sentences[start:start + ENCODE_CHUNK], tokenizer, max_len)
        ids.append(chunk_ids)
        lengths.append(chunk_lengths)
        docs_of_rows.append(doc_of[start + owner])
    return from_arrays(np.concatenate(ids) if ids else np.zeros(0, np.int32),
                       np.concatenate(lengths) if lengths else np.zeros(0, np.int32),
                       np.concatenate(docs_of_rows) if docs_of_rows else np.zeros(0, np.int32))


def from_arrays(ids: np.ndarray, lengths: np.ndarray, doc: np.ndarray) -> EncodedCorpus:
    """An EncodedCorpus over int32 arrays; memory-mapped ones stay mapped (no copy is made)."""
    lengths = torch.from_numpy(np.ascontiguousarray(lengths, dtype=np.int32))
    starts = torch.cumsum(lengths, 0, dtype=torch.int64) - lengths
    return EncodedCorpus(torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int32)), starts, lengths,
                         torch.from_numpy(np.ascontiguousarray(doc, dtype=np.int32)))


def nsp_firsts(corpus: EncodedCorpus) -> torch.Tensor:
    """Indices of the sentences that have a successor in their document: the possible A's."""
    return torch.nonzero(corpus.doc[:-1] == corpus.doc[1:]).flatten()


def draw_pairs(corpus: EncodedCorpus, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One epoch of NSP pairs: (a, b, label) sentence indices, label 0 = IsNext, 1 = NotNext, 50/50.

    Every sentence that has a successor in its document is an A. NotNext B comes from another
    document; with a single document, from a part of it at least a quarter of the text away.
    Both cases draw uniformly from "all sentences minus one excluded range [lo, hi]".
    """
    S = len(corpus)
    doc = corpus.doc
    a = nsp_firsts(corpus)
    if a.numel() == 0:
        raise UserError("next-sentence prediction needs documents of at least two sentences; add some, or train with tasks=mlm")
    if int(doc.max()) > 0:  # several documents: exclude A's own document
        doc_start = torch.searchsorted(doc, doc, side="left")
        doc_end = torch.searchsorted(doc, doc, side="right") - 1
        lo, hi = doc_start[a], doc_end[a]
    else:  # one document: exclude a window around A and its true successor
        if S < 3:
            raise UserError("next-sentence prediction needs at least three sentences; add some, or train with tasks=mlm")
        gap = max(0, min(S // 4, (S - 3) // 2))
        lo, hi = (a - gap).clamp(min=0), (a + 1 + gap).clamp(max=S - 1)
    allowed = S - (hi - lo + 1)  # >= 1 by construction
    r = (torch.rand(a.numel(), generator=generator) * allowed).long()
    random_b = r + (r >= lo).long() * (hi - lo + 1)
    label = (torch.rand(a.numel(), generator=generator) < 0.5).long()
    b = torch.where(label == 0, a + 1, random_b)
    return a, b, label


@dataclass
class SpecialIds:
    cls: int
    sep: int
    pad: int
    mask: int
    random_ids: torch.Tensor  # every non-special id: the pool for the "10% random token" rule

    @classmethod
    def from_tokenizer(cls, tokenizer) -> SpecialIds:
        special = set(tokenizer.all_special_ids)
        random_ids = torch.tensor([i for i in range(len(tokenizer)) if i not in special])
        return cls(tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id,
                   tokenizer.mask_token_id, random_ids)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    token_type_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    special_mask: torch.Tensor  # (B, T) bool: [CLS], [SEP], padding — never masked
    mlm_mask: torch.Tensor | None = None  # (B, T) bool: positions the MLM task predicts
    mlm_labels: torch.Tensor | None = None  # (M,) original ids at mlm_mask, row-major order
    nsp_labels: torch.Tensor | None = None  # (B,) 0 = IsNext, 1 = NotNext

    def to(self, device) -> Batch:
        """On a GPU, through pinned memory: the copy then overlaps the step still running."""
        cuda = torch.device(device).type == "cuda"
        move = lambda t: None if t is None else (t.pin_memory() if cuda else t).to(device, non_blocking=True)
        return Batch(*(move(getattr(self, f)) for f in self.__dataclass_fields__))

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum())


def build_inputs(corpus: EncodedCorpus, a: torch.Tensor, b: torch.Tensor | None, ids: SpecialIds,
                 max_len: int, multiple: int = 1) -> Batch:
    """`[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]` when b is None) for a batch, padded to its
    longest row, or on to a multiple of `multiple` positions (at most max_len), so that batches
    come in few shapes. Pairs too long are cut longest-first exactly as transformers' fast tokenizers do:
    the shorter side keeps up to half the room (the second side wins a tie), the longer the rest."""
    la = corpus.lengths[a]
    lb = corpus.lengths[b] if b is not None else torch.zeros_like(la)
    budget = max_len - (3 if b is not None else 2)
    half = budget // 2
    keep_a = torch.where(la > lb, budget - lb.clamp(max=half), la.clamp(max=half))
    la = torch.where(la + lb > budget, keep_a, la)
    lb = torch.minimum(lb, budget - la)
    la, lb = la[:, None], lb[:, None]  # (B, 1)
    end_a = la + 1  # position of the first [SEP]
    end = end_a + lb + (1 if b is not None else 0)  # last real position
    T = min(max_len, -(-(int(end.max()) + 1) // multiple) * multiple)
    B, t = len(a), torch.arange(T)[None, :]  # t: (1, T)
    last = corpus.ids.numel() - 1  # reading past a sentence's end is harmless (replaced below), past the store is not
    tok_a = corpus.ids[(corpus.starts[a][:, None] + (t - 1).clamp(min=0)).clamp(max=last)].long()
    assert tok_a.shape == (B, T), tok_a.shape  # row i holds sentence a[i], not row 0's
    x = torch.where(t < end_a, tok_a, ids.sep)
    if b is not None:
        tok_b = corpus.ids[(corpus.starts[b][:, None] + (t - end_a - 1).clamp(min=0)).clamp(max=last)].long()
        assert tok_b.shape == (B, T), tok_b.shape
        x = torch.where((t > end_a) & (t < end), tok_b, x)
    x = torch.where(t == 0, ids.cls, x)
    x = torch.where(t > end, ids.pad, x)
    segment_b = (t > end_a) & (t <= end)
    special = (t == 0) | (t == end_a) | (t >= end)
    assert x.shape == segment_b.shape == special.shape == (B, T), (x.shape, segment_b.shape, special.shape)
    return Batch(x, segment_b.long(), (t <= end).long(), special)


def pick_random(candidates: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Pick `share` of each row's candidate positions (at least one) uniformly at random.

    The count is rounded stochastically (7 tokens x 0.15 = 1.05 -> 1 or, 5% of the time, 2) so
    the expected share is exact even for short sentences.

    >>> pick_random(torch.tensor([[True, True, False]]), 0.01, torch.Generator()).sum().item()
    1
    """
    n = candidates.sum(1)  # (B,)
    k = torch.floor(n * share + torch.rand(n.shape, generator=generator)).long()
    k = torch.minimum(torch.clamp(k, min=1), n)
    scores = torch.rand(candidates.shape, generator=generator).masked_fill(~candidates, 2.0)  # others sort last
    rank = scores.argsort(dim=1).argsort(dim=1)  # rank of each position in a random order
    return rank < k[:, None]


def mask_tokens(batch: Batch, ids: SpecialIds, mask_prob: float, generator: torch.Generator,
                mlm_mask: torch.Tensor | None = None, mask_frac: float = 0.8, random_frac: float = 0.1) -> Batch:
    """BERT's dynamic masking, drawn afresh each call: `mask_prob` of each row's non-special
    tokens (at least one) are picked; of those 80% become [MASK], 10% a random token,
    10% stay unchanged. The model must predict the original token at every picked position.
    Evaluation passes its own `mlm_mask` (whole words) and mask_frac=1 (all [MASK])."""
    x, special = batch.input_ids, batch.special_mask
    B, T = x.shape
    if mlm_mask is None:
        mlm_mask = pick_random(~special, mask_prob, generator)
    assert mlm_mask.shape == (B, T), mlm_mask.shape  # a data-dependent check here would sync every step
    u = torch.rand(B, T, generator=generator)
    random_tokens = ids.random_ids[torch.randint(len(ids.random_ids), (B, T), generator=generator)]
    masked = torch.where(mlm_mask & (u < mask_frac), ids.mask, x)
    masked = torch.where(mlm_mask & (u >= mask_frac) & (u < mask_frac + random_frac), random_tokens, masked)
    return Batch(masked, batch.token_type_ids, batch.attention_mask, special,
                 mlm_mask, x[mlm_mask], batch.nsp_labels)


def length_grouped_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffle, then sort within windows of 50 batches by length, so each batch holds rows of
    similar length and little compute goes to padding; batch order is shuffled again."""
    order = torch.randperm(len(lengths), generator=generator)
    window = batch_size * 50
    chunks = []
    for start in range(0, len(order), window):
        w = order[start:start + window]
        w = w[lengths[w].argsort(stable=True)]
        chunks.extend(w.split(batch_size))
    return [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]


@dataclass
class EpochPlan:
    """One epoch's order: the sentence pairs (or single sentences) and which go into each batch."""
    a: torch.Tensor  # (N,) sentence index of each example's first (or only) sentence
    b: torch.Tensor | None  # (N,) its second sentence, for NSP
    label: torch.Tensor | None  # (N,) 0 = IsNext, 1 = NotNext
    batches: list[torch.Tensor]  # example indices of each batch, in training order


def plan_epoch(corpus: EncodedCorpus, tasks: tuple[str, ...], batch_size: int, generator: torch.Generator) -> EpochPlan:
    """Draw an epoch's NSP pairs and batch order. Only `generator` decides it, so an epoch can be
    planned again, identically, from the generator's saved state (which is how a run resumes)."""
    if "nsp" in tasks:
        a, b, label = draw_pairs(corpus, generator)
        lengths = corpus.lengths[a] + corpus.lengths[b]
    else:
        a, b, label = torch.arange(len(corpus)), None, None
        lengths = corpus.lengths
    return EpochPlan(a, b, label, length_grouped_batches(lengths, batch_size, generator))


def make_batch(corpus: EncodedCorpus, plan: EpochPlan, rows: torch.Tensor, tasks: tuple[str, ...], ids: SpecialIds,
               max_len: int, mask_prob: float, generator: torch.Generator, multiple: int = 1) -> Batch:
    """The ready-to-train batch of examples `rows` of the plan, masked afresh with `generator` (padded
    to a multiple of `multiple` positions: see build_inputs)."""
    batch = build_inputs(corpus, plan.a[rows], None if plan.b is None else plan.b[rows], ids, max_len, multiple)
    if plan.label is not None:
        batch.nsp_labels = plan.label[rows]
    if "mlm" in tasks:
        batch = mask_tokens(batch, ids, mask_prob, generator)
    return batch


def epoch_batches(corpus: EncodedCorpus, tasks: tuple[str, ...], ids: SpecialIds, batch_size: int,
                  max_len: int, mask_prob: float, generator: torch.Generator):
    """Yield one epoch of ready-to-train batches for the chosen tasks."""
    plan = plan_epoch(corpus, tasks, batch_size, generator)
    for rows in plan.batches:
        yield make_batch(corpus, plan, rows, tasks, ids, max_len, mask_prob, generator)


def batches_per_epoch(corpus: EncodedCorpus, tasks: tuple[str, ...], batch_size: int) -> int:
    n = len(nsp_firsts(corpus)) if "nsp" in tasks else len(corpus)
    return max(1, -(-n // batch_size))


def masking_walkthrough(tokenizer, sentence: str, mask_prob: float = 0.15, seed: int = 0) -> list[tuple[str, str, str]]:
    """What dynamic masking does to one sentence, piece by piece: (piece, what happened, shown).
    Uses the very function training uses, so the worked example is the real rule."""
    corpus = encode_corpus([[sentence]], tokenizer, max_len=min(tokenizer.model_max_length, 512))
    ids = SpecialIds.from_tokenizer(tokenizer)
    batch = build_inputs(corpus, torch.tensor([0]), None, ids, max_len=int(corpus.lengths[0]) + 2)
    masked = mask_tokens(batch, ids, mask_prob, torch.Generator().manual_seed(seed))
    original = tokenizer.convert_ids_to_tokens(batch.input_ids[0].tolist())
    shown = tokenizer.convert_ids_to_tokens(masked.input_ids[0].tolist())
    rows = []
    for piece, new, picked, special in zip(original, shown, masked.mlm_mask[0].tolist(), batch.special_mask[0].tolist()):
        if special:
            what = "special token, never masked"
        elif not picked:
            what = "kept (not picked)"
        elif new == tokenizer.mask_token:
            what = "picked -> [MASK] (80% case)"
        elif new != piece:
            what = "picked -> random token (10% case)"
        else:
            what = "picked -> left unchanged (10% case), still predicted"
        rows.append((piece, what, new))
    return rows
