"""Corpus parsing, the held-out split, encoding, NSP pairs and MLM masking."""

import pytest
import torch

from babybert.data.batches import SpecialIds, build_inputs, draw_pairs, encode_corpus, epoch_batches, mask_tokens
from babybert.data.corpus import parse_corpus, read_corpus, split_corpus
from babybert.bert.tokenizer import train_tokenizer
from babybert.errors import UserError


def test_parse_handles_bom_crlf_trailing_spaces_and_blank_runs():
    text = "\ufeffFirst one.  \r\nSecond one.\t\r\n\r\n\r\n   \r\nOther doc.\r\nIts end.\r\n\r\n"
    assert parse_corpus(text) == [["First one.", "Second one."], ["Other doc.", "Its end."]]


def test_parse_keeps_unicode():
    docs = parse_corpus("Café au lait ☕.\n東京は大きい。\n\n🙂 emoji line.\n")
    assert docs == [["Café au lait ☕.", "東京は大きい。"], ["🙂 emoji line."]]


@pytest.mark.parametrize("content, message", [
    (b"", "0 sentence"),
    (b"\n\n  \n", "0 sentence"),
    (b"only one line\n", "1 sentence"),
])
def test_too_small_corpora_are_refused(tmp_path, content, message):
    path = tmp_path / "c.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        split_corpus(read_corpus(path))


def test_read_corpus_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_corpus(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="not a file"):
        read_corpus(tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        read_corpus(tmp_path / "latin1.txt")
    (tmp_path / "bin.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    with pytest.raises(UserError, match="binary"):
        read_corpus(tmp_path / "bin.txt")


def test_split_holds_out_last_tenth_of_documents():
    docs = [[f"doc {i} a.", f"doc {i} b."] for i in range(25)]
    train, held = split_corpus(docs)
    assert held == docs[-2:] and train == docs[:-2]  # round(2.5) = 2 documents
    train, held = split_corpus(docs[:3])
    assert held == [docs[2]] and train == docs[:2]  # at least one


def test_split_single_document_by_lines():
    doc = [f"line {i}." for i in range(30)]
    train, held = split_corpus([doc])
    assert held == [doc[-3:]] and train == [doc[:-3]]
    assert not set(train[0]) & set(held[0])


@pytest.fixture(scope="module")
def tok(documents):
    return train_tokenizer((s for d in documents for s in d), vocab_size=200)


def test_long_lines_are_split_not_dropped(tok):
    long_line = " ".join(["the cow says moo"] * 40)
    corpus = encode_corpus([[long_line, "short."]], tok, max_len=16)
    n_pieces = len(tok(long_line, add_special_tokens=False)["input_ids"])
    assert int(corpus.lengths.max()) <= 14
    assert int(corpus.lengths[:-1].sum()) == n_pieces  # every piece kept, in chunks
    assert corpus.doc.tolist() == [0] * len(corpus)


def test_the_encoded_corpus_holds_every_sentence_back_to_back(tok, documents, monkeypatch):
    """Sentence i is exactly its pieces, at starts[i]; ids are int32 with no padding; tokenizing in
    chunks (as large corpora are) gives the same corpus as in one go."""
    import babybert.data.batches as data
    sentences = [s for d in documents for s in d]
    corpus = encode_corpus(documents, tok, max_len=128)
    assert corpus.ids.dtype == torch.int32 and len(corpus) == len(sentences)
    assert tok.pad_token_id not in corpus.ids.tolist()
    for i, sentence in enumerate(sentences):
        assert corpus.sentence(i).tolist() == tok(sentence, add_special_tokens=False)["input_ids"], i
    assert corpus.doc.tolist() == [d for d, doc in enumerate(documents) for _ in doc]
    monkeypatch.setattr(data, "ENCODE_CHUNK", 7)
    chunked = encode_corpus(documents, tok, max_len=128)
    assert all(torch.equal(getattr(chunked, f), getattr(corpus, f)) for f in ("ids", "starts", "lengths", "doc"))


def test_a_sentence_with_no_pieces_becomes_unk(tok):
    corpus = encode_corpus([["the cow.", "\u200b", "moo."]], tok, max_len=16)
    assert corpus.sentence(1).tolist() == [tok.unk_token_id] and len(corpus) == 3


def test_pairs_format_and_token_types(tok):
    corpus = encode_corpus([["the cow says moo.", "a dog."]], tok, max_len=32)
    ids = SpecialIds.from_tokenizer(tok)
    batch = build_inputs(corpus, torch.tensor([0]), torch.tensor([1]), ids, max_len=32)
    expected = tok("the cow says moo.", "a dog.")
    assert batch.input_ids[0].tolist() == expected["input_ids"]
    assert batch.token_type_ids[0].tolist() == expected["token_type_ids"]
    single = build_inputs(corpus, torch.tensor([0, 1]), None, ids, max_len=32)
    assert single.input_ids[0, :single.attention_mask[0].sum()].tolist() == tok("the cow says moo.")["input_ids"]
    assert single.input_ids[1, -1].item() == tok.pad_token_id  # shorter row padded


def test_pairs_are_truncated_longest_first(tok):
    corpus = encode_corpus([["the cow " * 20, "moo."]], tok, max_len=16)
    ids = SpecialIds.from_tokenizer(tok)
    last = len(corpus) - 1  # "moo." (the long line became chunks 0..last-1)
    batch = build_inputs(corpus, torch.tensor([0]), torch.tensor([last]), ids, max_len=16)
    assert batch.input_ids.shape[1] == 16
    assert batch.input_ids[0, -1] == tok.sep_token_id and (batch.token_type_ids[0] == 1).sum() == 3  # "moo", ".", [SEP]


def test_nsp_pairs_balanced_and_isnext_consecutive(tok, documents):
    corpus = encode_corpus(documents, tok, max_len=32)
    labels = []
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        a, b, label = draw_pairs(corpus, g)
        assert torch.all(corpus.doc[a] == corpus.doc[a + 1])  # every A has a successor in its document
        assert torch.all(b[label == 0] == a[label == 0] + 1)  # IsNext: the true next sentence
        assert torch.all(corpus.doc[b[label == 1]] != corpus.doc[a[label == 1]])  # NotNext: another document
        labels.append(label)
    share = torch.cat(labels).float().mean().item()
    assert 0.47 < share < 0.53


def test_single_document_notnext_comes_from_far_away(tok):
    doc = [f"sentence number {i} ." for i in range(40)]
    corpus = encode_corpus([doc], tok, max_len=32)
    a, b, label = draw_pairs(corpus, torch.Generator().manual_seed(1))
    far = (b[label == 1] - a[label == 1]).abs()
    assert far.min() >= 2 + 40 // 4 - 1 and label.sum() > 0


def test_masking_statistics(tok, documents):
    """Over many draws: 15% of non-special tokens are picked (at least one per row), of which
    80% become [MASK], 10% a random token, 10% stay; specials and padding are never picked."""
    corpus = encode_corpus(documents, tok, max_len=32)
    ids = SpecialIds.from_tokenizer(tok)
    g = torch.Generator().manual_seed(0)
    picked = real = as_mask = unchanged = 0
    for _ in range(30):
        for batch in epoch_batches(corpus, ("mlm",), ids, 16, 32, 0.15, g):
            assert not (batch.mlm_mask & batch.special_mask).any()
            assert (batch.mlm_mask.sum(1) >= 1).all()
            picked += int(batch.mlm_mask.sum())
            real += int((~batch.special_mask).sum())
            shown = batch.input_ids[batch.mlm_mask]
            as_mask += int((shown == tok.mask_token_id).sum())
            unchanged += int((shown == batch.mlm_labels).sum())
    assert 0.14 < picked / real < 0.20  # per-row rounding and the at-least-one rule push it a bit up
    assert 0.78 < as_mask / picked < 0.82
    random_share = 1 - (as_mask + unchanged) / picked
    assert 0.08 < random_share < 0.12  # a random draw equal to the original counts as unchanged
    assert 0.08 < unchanged / picked < 0.13


def test_masking_is_dynamic(tok, documents):
    corpus = encode_corpus(documents, tok, max_len=32)
    ids = SpecialIds.from_tokenizer(tok)
    g = torch.Generator().manual_seed(0)
    batch = build_inputs(corpus, torch.arange(8), None, ids, 32)
    first, second = mask_tokens(batch, ids, 0.15, g), mask_tokens(batch, ids, 0.15, g)
    assert not torch.equal(first.mlm_mask, second.mlm_mask)


def test_mask_probability_is_configurable(tok, documents):
    corpus = encode_corpus(documents, tok, max_len=32)
    ids = SpecialIds.from_tokenizer(tok)
    batch = build_inputs(corpus, torch.arange(len(corpus)), None, ids, 32)
    masked = mask_tokens(batch, ids, 0.4, torch.Generator().manual_seed(0))
    assert 0.37 < masked.mlm_mask.sum() / (~batch.special_mask).sum() < 0.45
