"""A corpus file read as a stream into the on-disk token store: the same sentences, splits, pieces
and numbers as the in-memory path, built once, found again, never half-written."""

import threading
import time

import numpy as np
import pytest
import torch

from babybert.data import stream, store
from babybert.config import TrainConfig
from babybert.data.corpus import MAX_LINE_CHARS, corpus_stats, parse_corpus, read_corpus, split_corpus, take_sentences
from babybert.data.batches import encode_corpus
from babybert.training.state import corpus_fingerprint
from babybert.bert.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from babybert.training.events import Done
from babybert.training.loop import train
from babybert.errors import UserError

from .conftest import TINY_MODEL, animal_corpus, tiny_train_config

ODD_TEXT = ("\ufeffFirst one.  \r\nSecond one.\t\r\n\r\n\r\n   \r\nOther doc.\rIts end.\r\n\r\n"
            "Café au lait ☕.\n東京は大きい。\n\n\n🙂 emoji line.\nlast line without a break")


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("text", [ODD_TEXT, animal_corpus(12), "one doc\nonly\nthree lines\n", "\n\n\nlate start\nend\n\n"])
def test_stream_reads_exactly_what_parse_corpus_reads(tmp_path, text, block_bytes):
    """Block edges anywhere (inside a character, between \\r and \\n) change nothing."""
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("utf-8"))
    expected = [(d, s) for d, doc in enumerate(parse_corpus(text)) for s in doc]
    assert list(stream.sentences(path, block_bytes)) == expected


def bad_files() -> dict[str, bytes]:
    good = "a fine line.\n" * 50
    return {
        "nul": b"text\x00more\n",
        "latin1": (good + "caf\xe9\n").encode("latin-1"),
        "control": (good + "bell \x07 here\n").encode(),
        "special": (good + "\n" + good + "the [MASK] is here\n").encode(),
        "long": (good + "x" * (MAX_LINE_CHARS + 5) + "\nshort\n").encode(),
        "symbols": b"... !!!\n???\n",
    }


@pytest.mark.parametrize("name", bad_files())
@pytest.mark.parametrize("block_bytes", [5, 100, 1 << 20])
def test_stream_refuses_what_read_corpus_refuses_with_the_same_message(tmp_path, name, block_bytes):
    path = tmp_path / f"{name}.txt"
    path.write_bytes(bad_files()[name])
    with pytest.raises(UserError) as whole:
        read_corpus(path)
    with pytest.raises(UserError) as streamed:
        list(stream.sentences(path, block_bytes))
    assert str(streamed.value) == str(whole.value)


def test_a_file_without_line_breaks_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "one_line.txt"
    path.write_bytes(b"word " * 1_000_000)  # 5 MB, no line break
    with pytest.raises(UserError, match=r"line 1 of .* is 5,000,000 characters long: write one sentence per line"):
        next(stream.sentences(path, block_bytes=64 << 10))


def write(tmp_path, text: str, name: str = "corpus.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CORPORA = {
    "documents": animal_corpus(30),
    "one document": "\n".join(f"sentence number {i} is about the {w}." for i, w in enumerate(["cat", "dog", "owl"] * 20)),
    "long sentences": "\n\n".join(" ".join(f"word{j % 40}" for j in range(i * 7, i * 7 + 90)) + ".\nshort one."
                                  for i in range(12)),
}


@pytest.mark.parametrize("name", CORPORA)
def test_store_equals_the_in_memory_encoding(tmp_path, monkeypatch, name):
    """Row i of the store is row i of encode_corpus (pieces, length, document), with chunks of 7
    sentences so that chunk edges fall inside documents; splits, stats and fingerprint agree."""
    monkeypatch.setattr(store, "ENCODE_CHUNK", 7)
    text, max_len, holdout = CORPORA[name], 24, 0.2
    path = write(tmp_path, text)
    tokenizer, built = store.prepare(path, max_len, holdout, vocab_size=120, cache_dir=tmp_path / "cache")

    train_docs, held_out_docs = split_corpus(parse_corpus(text), holdout)
    assert tokenizer.get_vocab() == train_tokenizer((s for d in train_docs for s in d), 120, True, max_len).get_vocab()
    expected = encode_corpus(train_docs, tokenizer, max_len)
    got = built.train
    assert len(got) == len(expected) > len([s for d in train_docs for s in d]) - (name != "long sentences")
    for field in ("ids", "starts", "lengths", "doc"):
        assert torch.equal(getattr(got, field).long(), getattr(expected, field).long()), field
    assert built.held_out() == held_out_docs
    assert built.held_out(3) == take_sentences(held_out_docs, 3)
    assert built.meta["train"] == vars(corpus_stats(train_docs, tokenizer))
    assert built.meta["held_out"] == vars(corpus_stats(held_out_docs, tokenizer))
    assert built.meta["fingerprint"] == corpus_fingerprint(train_docs)


def test_store_is_memory_mapped_and_never_written_back(tmp_path):
    path = write(tmp_path, animal_corpus(20))
    _, built = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=tmp_path / "cache")
    ids_file = built.path / "ids.int32"
    maps = open("/proc/self/maps").read()
    assert str(ids_file) in maps  # the pieces are read from the file's pages, not copied into memory
    before = ids_file.read_bytes()
    built.train.ids[:5] = 0  # copy-on-write: this process's pages change, the store does not
    assert ids_file.read_bytes() == before
    assert np.fromfile(ids_file, dtype=np.int32).size == built.meta["pieces"]


def test_a_large_corpus_trains_its_tokenizer_on_every_kth_sentence(tmp_path, monkeypatch):
    text = animal_corpus(40) + "\n" + "\n\n".join(f"the zebra number {i} runs.\nit stops." for i in range(60))
    path = write(tmp_path, text)
    chars = sum(len(s) for d in parse_corpus(text) for s in d)
    monkeypatch.setattr(store, "TOKENIZER_SAMPLE_CHARS", chars // 4)  # -> every 4th (or 5th) sentence
    tokenizer, _ = store.prepare(path, 32, 0.1, vocab_size=150, cache_dir=tmp_path / "cache")
    k = -(-chars // (chars // 4))
    train_sentences = [s for d in split_corpus(parse_corpus(text), 0.1)[0] for s in d]
    sample = train_sentences[::k]
    assert k >= 4 and len(sample) < len(train_sentences) / 3
    assert tokenizer.get_vocab() == train_tokenizer(sample, 150, True, 32).get_vocab()


def test_stores_are_found_again_and_keyed_by_what_decides_them(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    path = write(tmp_path, animal_corpus(20))
    tokenizer, first = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)

    def no_building(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(store, "build", no_building)
    monkeypatch.setattr(store, "train_tokenizer", no_building)
    again_tokenizer, again = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)
    assert again.path == first.path and again_tokenizer.get_vocab() == tokenizer.get_vocab()
    # the same tokenizer given explicitly (as --resume and --init give it) finds the same store
    assert store.prepare(path, 32, 0.1, tokenizer=again_tokenizer, cache_dir=cache)[1].path == first.path
    monkeypatch.undo()
    keys = {first.path}
    for change in ({"max_len": 24}, {"holdout": 0.2}, {"vocab_size": 100}):
        settings = {"max_len": 32, "holdout": 0.1, "vocab_size": 120, **change}
        keys.add(store.prepare(path, settings.pop("max_len"), settings.pop("holdout"), cache_dir=cache, **settings)[1].path)
    path.write_text(animal_corpus(20).replace("cow", "yak"), encoding="utf-8")  # same size, other bytes
    keys.add(store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)[1].path)
    assert len(keys) == 5
    assert not [p for p in cache.rglob(".*")]  # no temporary folder left


def test_tokenizer_hash_survives_a_save_and_load(tmp_path):
    tokenizer = train_tokenizer([s for d in parse_corpus(animal_corpus(10)) for s in d], 100)
    save_tokenizer(tokenizer, tmp_path / "tok")
    assert store.tokenizer_hash(load_tokenizer(tmp_path / "tok")) == store.tokenizer_hash(tokenizer)
    other = train_tokenizer([s for d in parse_corpus(animal_corpus(10)) for s in d], 100, lowercase=False)
    assert store.tokenizer_hash(other) != store.tokenizer_hash(tokenizer)


def test_a_failed_build_leaves_nothing_and_the_next_one_works(tmp_path, monkeypatch):
    cache, path = tmp_path / "cache", write(tmp_path, animal_corpus(20))
    real = store.encode_chunk
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as when a user presses Ctrl-C halfway
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "ENCODE_CHUNK", 10)
    monkeypatch.setattr(store, "encode_chunk", failing)
    with pytest.raises(KeyboardInterrupt):
        store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)
    assert not list((cache / "tokens").iterdir())  # the tokenizer was finished and kept; no tokens folder at all
    monkeypatch.setattr(store, "encode_chunk", real)
    _, built = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)
    assert len(built.train) == built.meta["rows"] > 0


def test_other_ranks_wait_for_the_first_to_build(tmp_path):
    """torchrun's other ranks on a node (build_here=False) wait, then map what the first built."""
    cache, path = tmp_path / "cache", write(tmp_path, animal_corpus(20))
    waited = {}

    def other_rank():
        waited["result"] = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache, build_here=False)

    thread = threading.Thread(target=other_rank)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive() and not cache.exists()  # it builds nothing itself
    tokenizer, built = store.prepare(path, 32, 0.1, vocab_size=120, cache_dir=cache)
    thread.join(timeout=30)
    other_tokenizer, other = waited["result"]
    assert other.path == built.path and other_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert torch.equal(other.train.ids, built.train.ids)


def test_training_on_the_file_equals_training_on_its_documents(tmp_path):
    """The end-to-end property: same events' numbers, same final weights."""
    text = animal_corpus(30)
    path = write(tmp_path, text)
    config = dict(max_steps=40, eval_every=20, eval_sentences=15)
    runs = []
    for source in (parse_corpus(text), path):
        events = list(train(source, TINY_MODEL, tiny_train_config(**config), cache_dir=tmp_path / "cache"))
        runs.append(events)
    (*a_events, a_done), (*b_events, b_done) = runs
    assert [e.loss for e in a_events if hasattr(e, "loss")] == [e.loss for e in b_events if hasattr(e, "loss")]
    assert a_done.metrics == b_done.metrics and isinstance(b_done, Done)
    assert all(torch.equal(v, b_done.model.state_dict()[k]) for k, v in a_done.model.state_dict().items())
    assert a_events[0].train == b_events[0].train and a_events[0].held_out == b_events[0].held_out
    assert b_events[0].token_store and a_events[0].token_store is None


def test_resuming_a_file_run_reuses_its_store(tmp_path):
    path, cache = write(tmp_path, animal_corpus(30)), tmp_path / "cache"
    config = tiny_train_config(max_steps=30, save_every=10)
    list(train(path, TINY_MODEL, config, out_dir=tmp_path / "run", cache_dir=cache))
    stores = list((cache / "tokens").iterdir())
    done = list(train(path, config=TrainConfig.from_dict({**config.to_dict(), "max_steps": 50}),
                      out_dir=tmp_path / "run", resume=tmp_path / "run", cache_dir=cache))[-1]
    assert done.step == 50 and list((cache / "tokens").iterdir()) == stores
