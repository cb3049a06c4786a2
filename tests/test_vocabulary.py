"""The tokenizer made visible: pieces of a text, piece counts and the share of split words, checked
against an obvious count through the tokenizer's word ids, and recorded by training."""

import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from transformers import BertTokenizerFast

from babybert.analysis import vocabulary
from babybert.bert.checkpoint import Checkpoint
from babybert.data.corpus import piece_ids, split_corpus
from babybert.bert.tokenizer import train_tokenizer
from babybert.analysis.vocabulary import count_ids, ids_stats, pieces, text_stats, tokenize_view
from babybert.errors import UserError


def obvious_counts(tokenizer, sentences):
    """The reference: one sentence at a time, words grouped by the tokenizer's word ids (not by the
    '##' mark our code uses); a word that is only [UNK] is not counted."""
    counts, words, split = Counter(), 0, 0
    for sentence in sentences:
        enc = tokenizer(sentence, add_special_tokens=False)
        counts.update(t for t in enc.tokens() if t != tokenizer.unk_token)
        by_word = defaultdict(list)
        for token, word in zip(enc.tokens(), enc.word_ids()):
            by_word[word].append(token)
        for word_pieces in by_word.values():
            if word_pieces != [tokenizer.unk_token]:
                words += 1
                split += len(word_pieces) > 1
    return counts, words, split


def random_sentences(rng: random.Random, n: int) -> list[str]:
    """Words of a small alphabet, some frequent (single pieces), many rare (split), some punctuation."""
    common = ["the", "cat", "sat", "on", "mat", "dog"]
    rare = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 11))) for _ in range(80)]
    return [" ".join(rng.choice(common) if rng.random() < 0.5 else rng.choice(rare) + rng.choice(["", ",", "."])
                     for _ in range(rng.randint(1, 14))) for _ in range(n)]


@pytest.fixture(scope="module")
def small_tokenizer():
    sentences = random_sentences(random.Random(0), 300)
    return train_tokenizer(sentences, vocab_size=60)  # small: most rare words become several pieces


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_of_ids_equal_the_obvious_count(small_tokenizer, seed):
    sentences = random_sentences(random.Random(seed), 60) + ["zzz ±±"]  # characters the vocabulary lacks: [UNK]
    ids = np.array([i for e in piece_ids(small_tokenizer, sentences) for i in e], dtype=np.int32)
    counts, words, split = count_ids(ids, small_tokenizer)
    expected_counts, expected_words, expected_split = obvious_counts(small_tokenizer, sentences)
    assert (words, split) == (expected_words, expected_split)
    assert 0 < split < words  # the corpus really has split and whole words
    vocab = small_tokenizer.get_vocab()
    assert {t: int(counts[vocab[t]]) for t in expected_counts} == dict(expected_counts)
    stats = ids_stats(ids, small_tokenizer, "random", top=10)
    ranked = sorted(expected_counts.items(), key=lambda kv: (-kv[1], vocab[kv[0]]))[:10]
    assert stats.top == ranked and stats.pieces == sum(expected_counts.values())
    assert stats.split_share == pytest.approx(expected_split / expected_words)


def test_text_stats_in_chunks_equal_one_pass(small_tokenizer, monkeypatch):
    sentences = random_sentences(random.Random(4), 50)
    whole = text_stats(small_tokenizer, "\n".join(sentences))
    monkeypatch.setattr(vocabulary, "CHUNK", 7)  # many chunks, one sentence left over
    assert text_stats(small_tokenizer, iter(sentences)) == whole


def test_text_stats_of_nothing_countable_is_an_error(small_tokenizer):
    with pytest.raises(UserError, match="no words this vocabulary knows"):
        text_stats(small_tokenizer, "±±± ±")


@pytest.fixture
def hand_tokenizer():
    """A WordPiece whose vocabulary is written out, so its pieces can be derived by hand."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cow", "##s", "un", "##believ", "##able", "."]
    return BertTokenizerFast(vocab={piece: i for i, piece in enumerate(vocab)})


def test_pieces_known_answer(hand_tokenizer):
    """'The cows unbelievable.' -> the | cow ##s | un ##believ ##able | . : words 0..3 (the
    period is a word of its own), the ids are the places in the vocabulary, the offsets cover the
    original (uppercase) characters."""
    text = "The cows unbelievable."
    found = pieces(hand_tokenizer, text)
    assert [(p.piece, p.id, p.continuation, p.word) for p in found] == [
        ("[CLS]", 2, False, None), ("the", 5, False, 0), ("cow", 6, False, 1), ("##s", 7, True, 1),
        ("un", 8, False, 2), ("##believ", 9, True, 2), ("##able", 10, True, 2), (".", 11, False, 3), ("[SEP]", 3, False, None)]
    assert [text[p.start:p.end] for p in found] == ["", "The", "cow", "s", "un", "believ", "able", ".", ""]
    assert vocabulary.split_words(found) == [["cow", "##s"], ["un", "##believ", "##able"]]


def test_pieces_agree_with_the_encoding(small_tokenizer):
    text = " ".join(random_sentences(random.Random(5), 3))
    found = pieces(small_tokenizer, text, special_tokens=False)
    assert [p.id for p in found] == small_tokenizer(text, add_special_tokens=False)["input_ids"]
    for before, p in zip(found, found[1:]):
        assert p.continuation == (p.word == before.word)  # '##' exactly where a word goes on
    known = [p for p in found if p.piece != "[UNK]"]  # (a word with a letter outside the alphabet is [UNK])
    assert len(known) > len(found) / 2 and all(text[p.start:p.end] == p.piece.removeprefix("##") for p in known)
    with pytest.raises(UserError, match="empty"):
        pieces(small_tokenizer, "  ")


def test_training_records_the_vocabulary_of_its_training_split(trained, documents):
    recorded = vocabulary.recorded_stats(trained.info)
    train_docs, _ = split_corpus(documents, trained.info["train_config"]["holdout"])
    counts, words, split = obvious_counts(trained.tokenizer, [s for d in train_docs for s in d])
    assert recorded.source == "the training split" and recorded.size == len(trained.tokenizer)
    assert (recorded.words, recorded.split_words, recorded.pieces) == (words, split, sum(counts.values()))
    vocab = trained.tokenizer.get_vocab()
    assert recorded.top == sorted(counts.items(), key=lambda kv: (-kv[1], vocab[kv[0]]))[:vocabulary.TOP_PIECES]
    assert vocabulary.recorded_stats({}) is None


def test_tokenize_view_uses_recorded_counts_or_the_text(trained):
    ckpt = Checkpoint(trained.model, trained.tokenizer, trained.info)
    view = tokenize_view(ckpt, "Every morning the cow says moo.")
    assert [row[0] for row in view.rows] == [t for t, _ in view.highlighted]
    assert view.rows[0] == ["[CLS]", trained.tokenizer.cls_token_id, "", "special"]
    assert [row[2] for row in view.rows[1:-1]] == [p.word + 1 for p in pieces(trained.tokenizer, "Every morning the cow says moo.")[1:-1]]
    recorded = vocabulary.recorded_stats(trained.info)
    assert "Counted in the training split" in view.summary and f"{recorded.split_share:.1%}" in view.summary
    assert [row[1:3] for row in view.top] == [list(t) for t in recorded.top[:vocabulary.SHOWN_TOP]]

    bare = Checkpoint(trained.model, trained.tokenizer, {})  # e.g. a BERT pulled from the Hub
    view = tokenize_view(bare, "the cow the owl")
    assert "Counted in your text" in view.summary
    assert view.top[0] == [1, "the", 2, "50.0%"]
    assert sorted(row[1:] for row in view.top[1:]) == [["cow", 1, "25.0%"], ["owl", 1, "25.0%"]]
    assert "unknown" in tokenize_view(bare, "±±").summary
