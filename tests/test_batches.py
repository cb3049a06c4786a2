"""Properties of every batch the data path builds, checked on random corpora and random batch
compositions against references that share none of its tensor code: the transformers tokenizer's
own `[CLS] A [SEP] B [SEP]` encoding, and plain Python loops.

Row i must hold sentence a[i] (and b[i]); nothing may be masked or scored but real pieces; an NSP
label must say exactly whether B is the sentence after A in the same document. A batch where every
row carried the first row's sentence passed 192 tests before these existed.
"""

import random

import pytest
import torch

from babybert.data.batches import (SpecialIds, build_inputs, draw_pairs, encode_corpus, epoch_batches, mask_tokens, nsp_firsts)
from babybert.analysis.evaluate import evaluate
from babybert.bert.model import BabyBert
from babybert.bert.tokenizer import train_tokenizer

from .conftest import TINY_MODEL

SEEDS = range(5)
BATCH_SIZES = [1, 2, 7, 64]


def random_corpus(seed: int, n_docs: int = 30) -> list[list[str]]:
    """Documents of 1-6 distinct sentences of 1-16 made-up words, some long enough to split into
    several WordPiece pieces, some with punctuation: rows of very different lengths."""
    rng = random.Random(seed)
    lexicon = ["".join(rng.choice("abcdefghilmnoprstu") for _ in range(rng.randint(1, 9))) for _ in range(120)]
    seen, docs = set(), []
    while len(docs) < n_docs:
        doc = []
        for _ in range(rng.randint(1, 6)):
            words = [rng.choice(lexicon) for _ in range(rng.randint(1, 16))]
            sentence = " ".join(words) + rng.choice(["", ".", " !", ", ok ?"])
            if sentence not in seen:
                seen.add(sentence)
                doc.append(sentence)
        if doc:
            docs.append(doc)
    return docs


@pytest.fixture(scope="module", params=SEEDS)
def world(request):
    """(documents, sentences in order, document of each sentence, tokenizer, encoded corpus, ids, rng)"""
    docs = random_corpus(request.param)
    sentences = [s for d in docs for s in d]
    doc_of = [i for i, d in enumerate(docs) for _ in d]
    tok = train_tokenizer(sentences, vocab_size=300, max_length=128)
    corpus = encode_corpus(docs, tok, max_len=128)
    assert len(corpus) == len(sentences), "no sentence is long enough to be split at 128"
    return docs, sentences, doc_of, tok, corpus, SpecialIds.from_tokenizer(tok), random.Random(request.param)


def check_row(tok, batch, i: int, text_a: str, text_b: str | None, max_len: int) -> None:
    """Row i is exactly what the transformers tokenizer makes of (A, B), then padding."""
    expected = tok(text_a, text_b, truncation="longest_first", max_length=max_len)
    n, T = len(expected["input_ids"]), batch.input_ids.size(1)
    row = batch.input_ids[i].tolist()
    assert row[:n] == expected["input_ids"], f"row {i} is not its own sentence(s)"
    assert row[n:] == [tok.pad_token_id] * (T - n)
    assert tok.pad_token_id not in row[:n], "[PAD] inside [CLS] ... [SEP]"
    assert batch.token_type_ids[i].tolist() == expected["token_type_ids"] + [0] * (T - n)
    assert batch.attention_mask[i].tolist() == [1] * n + [0] * (T - n)
    specials = {tok.cls_token_id, tok.sep_token_id}
    assert batch.special_mask[i].tolist() == [t in specials for t in row[:n]] + [True] * (T - n)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("pairs", [False, True], ids=["single", "pairs"])
@pytest.mark.parametrize("max_len", [128, 24], ids=["whole", "truncated"])
def test_every_row_holds_its_own_sentences(world, batch_size, pairs, max_len):
    _, sentences, _, tok, corpus, ids, rng = world
    a = [rng.randrange(len(sentences)) for _ in range(batch_size)]
    b = [rng.randrange(len(sentences)) for _ in range(batch_size)] if pairs else None
    batch = build_inputs(corpus, torch.tensor(a), torch.tensor(b) if pairs else None, ids, max_len)
    longest = max(len(tok(sentences[x], sentences[y] if pairs else None, truncation="longest_first",
                          max_length=max_len)["input_ids"]) for x, y in zip(a, b or a))
    assert batch.input_ids.shape == (batch_size, longest)  # padded to the longest row, no further
    for i in range(batch_size):
        check_row(tok, batch, i, sentences[a[i]], sentences[b[i]] if pairs else None, max_len)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
@pytest.mark.parametrize("max_len", [128, 28], ids=["whole", "truncated"])
def test_padded_to_a_multiple_every_row_still_holds_its_own_sentences(world, batch_size, max_len):
    """The CPU pads batches to a multiple of 8 positions (training/setup.py, buckets): only
    padding is added, at the end of each row, and never past max_len."""
    _, sentences, _, tok, corpus, ids, rng = world
    a = [rng.randrange(len(sentences)) for _ in range(batch_size)]
    b = [rng.randrange(len(sentences)) for _ in range(batch_size)]
    batch = build_inputs(corpus, torch.tensor(a), torch.tensor(b), ids, max_len, multiple=8)
    longest = max(len(tok(sentences[x], sentences[y], truncation="longest_first", max_length=max_len)["input_ids"])
                  for x, y in zip(a, b))
    T = batch.input_ids.size(1)
    assert T == min(max_len, -(-longest // 8) * 8) and (T % 8 == 0 or T == max_len)
    for i in range(batch_size):
        check_row(tok, batch, i, sentences[a[i]], sentences[b[i]], max_len)
    masked = mask_tokens(batch, ids, 0.3, torch.Generator().manual_seed(0))
    assert not (masked.mlm_mask & batch.special_mask).any(), "padding was picked for masking"


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_masking_picks_only_real_pieces_and_labels_them_with_the_original(world, batch_size):
    _, sentences, _, tok, corpus, ids, rng = world
    a = torch.tensor([rng.randrange(len(sentences)) for _ in range(batch_size)])
    b = torch.tensor([rng.randrange(len(sentences)) for _ in range(batch_size)])
    batch = build_inputs(corpus, a, b, ids, 128)
    masked = mask_tokens(batch, ids, 0.15, torch.Generator().manual_seed(rng.randrange(1000)))
    real = batch.attention_mask.bool() & ~torch.isin(batch.input_ids, torch.tensor([tok.cls_token_id, tok.sep_token_id]))
    assert not (masked.mlm_mask & ~real).any(), "a special token or padding was picked"
    assert (masked.mlm_mask.sum(1) >= 1).all(), "every row has at least one piece to predict"
    assert masked.mlm_labels.tolist() == batch.input_ids[masked.mlm_mask].tolist()
    assert torch.equal(masked.input_ids[~masked.mlm_mask], batch.input_ids[~masked.mlm_mask])
    assert torch.equal(masked.attention_mask, batch.attention_mask)
    assert torch.equal(masked.token_type_ids, batch.token_type_ids)


def _split_pair(tok, row: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    first = row.index(tok.sep_token_id)
    second = row.index(tok.sep_token_id, first + 1)
    assert row[0] == tok.cls_token_id and tok.pad_token_id not in row[:second]
    return tuple(row[1:first]), tuple(row[first + 1:second])


@pytest.mark.parametrize("batch_size", [1, 2, 7, 64])
def test_an_epoch_of_pairs_has_every_first_sentence_once_and_true_labels(world, batch_size):
    docs, sentences, doc_of, tok, corpus, ids, rng = world
    index = {tuple(tok(s, add_special_tokens=False)["input_ids"]): k for k, s in enumerate(sentences)}
    generator = torch.Generator().manual_seed(rng.randrange(1000))
    seen_a, labels = [], []
    for batch in epoch_batches(corpus, ("nsp",), ids, batch_size, 128, 0.15, generator):
        assert batch.input_ids.size(0) <= batch_size
        for row, label in zip(batch.input_ids.tolist(), batch.nsp_labels.tolist()):
            pieces_a, pieces_b = _split_pair(tok, row)
            a, b = index[pieces_a], index[pieces_b]
            is_next = b == a + 1 and doc_of[a] == doc_of[b]
            assert label == (0 if is_next else 1), f"label {label} for {sentences[a]!r} -> {sentences[b]!r}"
            if label == 1:
                assert doc_of[a] != doc_of[b], "NotNext comes from another document"
            seen_a.append(a)
            labels.append(label)
    has_successor = [k for k in range(len(sentences) - 1) if doc_of[k] == doc_of[k + 1]]
    assert sorted(seen_a) == has_successor
    assert 0.25 < sum(labels) / len(labels) < 0.75


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_an_epoch_of_single_sentences_has_every_sentence_once_with_its_labels(world, batch_size):
    _, sentences, _, tok, corpus, ids, rng = world
    generator = torch.Generator().manual_seed(rng.randrange(1000))
    seen = []
    for batch in epoch_batches(corpus, ("mlm",), ids, batch_size, 128, 0.15, generator):
        restored = batch.input_ids.clone()
        restored[batch.mlm_mask] = batch.mlm_labels
        for i, row in enumerate(restored.tolist()):
            n = int(batch.attention_mask[i].sum())
            seen.append(tuple(row[:n]))
    assert sorted(seen) == sorted(tuple(tok(s)["input_ids"]) for s in sentences)


class Spy(torch.nn.Module):
    """A real model that records every batch evaluation feeds it."""

    def __init__(self, model: BabyBert):
        super().__init__()
        self.model, self.config, self.calls = model, model.config, []

    def forward(self, input_ids, token_type_ids, attention_mask, mlm_mask):
        self.calls.append((input_ids.clone(), token_type_ids.clone(), attention_mask.clone(), mlm_mask.clone()))
        return self.model(input_ids, token_type_ids, attention_mask, mlm_mask=mlm_mask)


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_evaluation_scores_each_sentence_in_its_own_row_and_never_padding(world, batch_size):
    docs, sentences, doc_of, tok, corpus, ids, _ = world
    config = TINY_MODEL.__class__(**{**vars(TINY_MODEL), "vocab_size": len(tok), "max_position_embeddings": 128})
    spy = Spy(BabyBert(config))
    metrics = evaluate(spy, tok, docs, batch_size=batch_size)
    mlm_calls = [c for c in spy.calls if c[3].any()]
    nsp_calls = [c for c in spy.calls if not c[3].any()]
    assert len(mlm_calls) == 2 * -(-len(sentences) // batch_size)  # pieces, then whole words, per chunk

    rows = []  # (sentence, input row, attention, mlm mask, which pass)
    for n, (x, _, att, mlm) in enumerate(mlm_calls):
        start = (n // 2) * batch_size
        rows += [(sentences[start + i], x[i], att[i], mlm[i], n % 2) for i in range(x.size(0))]
    assert len(rows) == 2 * len(sentences)
    word_rows = 0
    for sentence, x, att, mlm, whole_words in rows:
        enc = tok(sentence)
        expected, n = enc["input_ids"], len(enc["input_ids"])
        assert att.tolist() == [1] * n + [0] * (len(att) - n)
        assert not mlm[n:].any() and not mlm[0] and not mlm[n - 1], "padding or a special token was scored"
        shown = x[:n].tolist()
        assert [s for s, m in zip(shown, mlm.tolist()) if not m] == [e for e, m in zip(expected, mlm.tolist()) if not m]
        assert all(s == tok.mask_token_id for s, m in zip(shown, mlm.tolist()) if m)
        assert mlm.any()
        if whole_words:  # every piece of a chosen word, never part of one
            word_ids = enc.word_ids()
            chosen = {w for w, m in zip(word_ids, mlm.tolist()) if m}
            assert all(mlm[p] == (w in chosen) for p, w in enumerate(word_ids) if w is not None)
            word_rows += 1
    assert metrics.masked_words >= word_rows  # at least one word per sentence

    firsts = nsp_firsts(corpus).tolist()
    a, b, label = draw_pairs(corpus, torch.Generator().manual_seed(1))  # evaluate's own draw (seed + 1)
    pair_rows = [row for x, *_ in nsp_calls for row in x.tolist()]
    assert len(pair_rows) == len(firsts) == metrics.nsp_pairs
    for row, a_k, b_k in zip(pair_rows, a.tolist(), b.tolist()):
        index = tok(sentences[a_k], add_special_tokens=False)["input_ids"], tok(sentences[b_k], add_special_tokens=False)["input_ids"]
        assert _split_pair(tok, row) == tuple(map(tuple, index))
