"""WordPiece training, special tokens, saving so that transformers' AutoTokenizer loads it."""

from transformers import AutoTokenizer

from babybert.bert.tokenizer import SPECIAL_TOKENS, load_tokenizer, save_tokenizer, train_tokenizer


def test_special_tokens_come_first(documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    assert tok.convert_ids_to_tokens(list(range(5))) == SPECIAL_TOKENS
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 1, 2, 3, 4)


def test_round_trip_and_lowercasing(documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    ids = tok("The Cow SAYS moo.")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids, skip_special_tokens=True) == "the cow says moo."


def test_tiny_corpus_gets_a_smaller_vocabulary():
    tok = train_tokenizer(["a b c", "a b", "c a"], vocab_size=4096)
    assert 5 < len(tok) < 50


def test_rare_characters_do_not_crowd_out_words():
    sentences = [chr(0x4E00 + i) * 2 for i in range(3000)] + ["the cat sat on the mat"] * 50
    tok = train_tokenizer(sentences, vocab_size=300)
    assert len(tok) <= 300
    assert tok.tokenize("the cat sat") == ["the", "cat", "sat"]
    assert "[UNK]" in tok.tokenize(chr(0x4E00 + 2999))  # outside the capped alphabet


def test_unicode_corpus(tmp_path):
    from pathlib import Path

    from babybert.data.corpus import read_corpus
    docs = read_corpus(Path(__file__).parent.parent / "examples" / "unicode_sample.txt")
    tok = train_tokenizer((s for d in docs for s in d), vocab_size=500)
    text = docs[0][0]
    assert tok.unk_token not in tok.tokenize(text)


def test_saved_tokenizer_loads_with_autotokenizer(tmp_path, documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    save_tokenizer(tok, tmp_path)
    assert (tmp_path / "vocab.txt").read_text().splitlines()[:5] == SPECIAL_TOKENS
    auto = AutoTokenizer.from_pretrained(tmp_path)
    assert len(auto) == len(tok)
    assert auto("the cow says [MASK].")["input_ids"] == tok("the cow says [MASK].")["input_ids"]
    (tmp_path / "tokenizer.json").unlink()  # the classic layout: vocab.txt only
    classic = load_tokenizer(tmp_path)
    assert classic("the cow says moo.")["input_ids"] == tok("the cow says moo.")["input_ids"]


def test_training_is_deterministic(documents):
    """tokenizers alone numbers '##x' pieces in hash order and picks different merges run to run."""
    vocabs = [train_tokenizer((s for d in documents for s in d), vocab_size=200).get_vocab() for _ in range(5)]
    assert all(v == vocabs[0] for v in vocabs)


def test_continuation_pieces_are_ordinary_tokens(documents):
    tok = train_tokenizer((s for d in documents for s in d), vocab_size=200)
    assert set(tok.all_special_tokens) == set(SPECIAL_TOKENS)
    assert "##s" in tok.get_vocab() and "##s" not in tok.all_special_tokens
    assert tok.decode(tok("the cows")["input_ids"], skip_special_tokens=True) == "the cows"
