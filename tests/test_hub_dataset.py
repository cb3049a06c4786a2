"""A corpus from a Hub dataset or a local data file (--dataset): a row is a document, its sentences
found by the splitter or kept at its line breaks; the Hub stand-in serves the dataset repositories."""

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from babybert import load_checkpoint, parse_corpus
from babybert import train
from babybert.hub.dataset import corpus_from_dataset
from babybert.errors import UserError

from .conftest import READ, TINY_MODEL, tiny_train_config

ANIMALS = ["cow", "dog", "cat", "duck", "sheep", "owl"]


def prose(rng: random.Random) -> str:
    """A row of a few sentences about animals, sometimes with an abbreviation, a number or line breaks."""
    sentences = []
    for _ in range(rng.randint(1, 5)):
        a, b = rng.sample(ANIMALS, 2)
        sentences.append(rng.choice([f"The {a} met the {b}.", f"Mr. Smith fed the {a} at 5 p.m. today.",
                                     f"Does the {a} like the {b}?", f"It weighs 3.5 kg. The {b} ran!",
                                     f'"Look at the {a}," said Dr. Jones.']))
    separator = "\n" if rng.random() < 0.3 else rng.choice([" ", "  "])
    return separator.join(sentences)


def rows(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [prose(rng) for _ in range(n)]


def parquet(table: dict) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(table), out)
    return out.getvalue()


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def documents_are_the_rows(path, texts: list[str]) -> None:
    """The property the whole feature rests on: document i of the corpus is row i, whole."""
    docs = parse_corpus(path.read_text(encoding="utf-8"))
    assert len(docs) == len(texts)
    for doc, text in zip(docs, texts):
        assert " ".join(doc) == " ".join(text.split())
        if "\n" in text:  # kept at its line breaks
            assert doc == [" ".join(line.split()) for line in text.splitlines()]


def resolved(hub) -> list[str]:
    """The data files downloaded from the stand-in (GETs of resolve URLs; the dataset card aside)."""
    paths = [r.path.split("/resolve/", 1)[1].split("/", 1)[1] for r in hub.requests if r.method == "GET"
             and "/resolve/" in r.path]
    return [p for p in paths if p != "README.md"]


def test_a_hub_dataset_gives_a_document_per_row_of_its_split(hub, tmp_path):
    texts = rows(40)
    hub.add_repo("alice/animals", {"data/train-00000-of-00001.parquet": parquet({"text": texts, "id": list(range(40))}),
                                   "data/test-00000-of-00001.parquet": parquet({"text": ["Not this.", "Nor this."]}),
                                   "README.md": b"# animals\n"}, repo_type="dataset")
    corpus = corpus_from_dataset("alice/animals", endpoint=hub.endpoint, cache_dir=tmp_path)
    documents_are_the_rows(corpus.path, texts)
    assert corpus.name == "alice/animals" and corpus.documents == 40
    assert corpus.sentences == sum(len(d) for d in parse_corpus(corpus.path.read_text()))
    assert "rows of alice/animals (split train, column text, commit" in corpus.description
    assert "40 documents (a row is a document)" in corpus.description
    assert "sentences by BabyBERT's splitter" in corpus.description and "line breaks" in corpus.description
    assert resolved(hub) == ["data/train-00000-of-00001.parquet"]  # the test split is never downloaded
    # only the corpus is kept: no downloads beside it, nothing in the Hugging Face cache
    assert sorted(p.name for p in corpus.path.parent.iterdir()) == ["corpus.txt", "meta.json"]
    assert list((tmp_path / "datasets").iterdir()) == [corpus.path.parent]
    assert not list(Path(os.environ["HF_HOME"]).glob("**/*animals*"))
    # the same dataset, commit and settings again: from the cache, nothing downloaded
    assert corpus_from_dataset("alice/animals", endpoint=hub.endpoint, cache_dir=tmp_path).path == corpus.path
    assert len(resolved(hub)) == 1
    test = corpus_from_dataset("alice/animals", split="test", endpoint=hub.endpoint, cache_dir=tmp_path)
    assert parse_corpus(test.path.read_text()) == [["Not this."], ["Nor this."]]


def test_max_rows_takes_the_first_rows_and_downloads_only_the_shards_it_needs(hub, tmp_path):
    texts = rows(30, seed=1)
    hub.add_repo("alice/shards", {"data/train-00000-of-00002.parquet": parquet({"text": texts[:20]}),
                                  "data/train-00001-of-00002.parquet": parquet({"text": texts[20:]})}, repo_type="dataset")
    first = corpus_from_dataset("alice/shards", max_rows=20, endpoint=hub.endpoint, cache_dir=tmp_path)
    documents_are_the_rows(first.path, texts[:20])
    assert resolved(hub) == ["data/train-00000-of-00002.parquet"]
    assert first.description.startswith("the first 20 rows of alice/shards")
    more = corpus_from_dataset("alice/shards", max_rows=25, endpoint=hub.endpoint, cache_dir=tmp_path)
    documents_are_the_rows(more.path, texts[:25])
    everything = corpus_from_dataset("alice/shards", endpoint=hub.endpoint, cache_dir=tmp_path)
    documents_are_the_rows(everything.path, texts)


def test_a_config_and_split_from_the_dataset_card_and_a_private_dataset_with_a_token(hub, tmp_path):
    card = b"""---
configs:
- config_name: en
  data_files:
  - split: train
    path: en/train.jsonl
  - split: validation
    path: en/dev.jsonl
- config_name: fr
  data_files: fr/*.jsonl
---
# two languages
"""
    hub.add_repo("alice/words", {"README.md": card, "en/train.jsonl": jsonl([{"text": "The cow. The dog."}] * 3),
                                 "en/dev.jsonl": jsonl([{"text": "A dev row."}]),
                                 "fr/part1.jsonl": jsonl([{"text": "La vache. Le chien.", "n": 1}]),
                                 "fr/part2.jsonl": jsonl([{"text": "Le chat."}])}, repo_type="dataset", private=True)
    fr = corpus_from_dataset("alice/words:fr", endpoint=hub.endpoint, token=READ, cache_dir=tmp_path)
    assert parse_corpus(fr.path.read_text()) == [["La vache.", "Le chien."], ["Le chat."]]
    assert "alice/words (config fr, split train, column text" in fr.description
    dev = corpus_from_dataset("alice/words:en", split="validation", endpoint=hub.endpoint, token=READ, cache_dir=tmp_path)
    assert parse_corpus(dev.path.read_text()) == [["A dev row."]]


@pytest.mark.parametrize("spec, options, message", [
    ("alice/missing", {}, "dataset alice/missing not found on http://127.0.0.1:"),
    ("alice/secret", {}, r"dataset alice/secret not found .*\(or it is private: pass a token that can read it"),
    ("alice/secret", {"token": "hf_wrong"}, r"did not accept the token \(401\)"),
    ("alice/gated", {}, "alice/gated is gated: accept its conditions on its page"),
    ("not a dataset!", {}, r"invalid dataset 'not a dataset!': write OWNER/NAME\[:CONFIG\]"),
    ("alice/two:", {}, "invalid dataset 'alice/two:'"),
    ("alice/two", {}, "alice/two has several configs: a, b; pick one as alice/two:CONFIG"),
    ("alice/two:c", {}, "alice/two has no config 'c'; it has: a, b"),
    ("alice/plain", {"split": "validation"}, "alice/plain has no split 'validation'; it has: train, test"),
    ("alice/plain", {"text_column": "content"}, r"alice/plain has no column 'content'; its text columns are: text, title"),
    ("alice/plain", {"text_column": "stars"}, "column 'stars' of alice/plain holds int64, not text; its text columns are: "
                                              "text, title"),
    ("alice/plain", {"max_bytes": 100}, "split train of alice/plain is too large: over 100 bytes .*--max-rows N"),
    ("alice/empty", {}, r"alice/empty \(split train, column text, commit \w+\) has no text: its 3 rows are empty"),
    ("alice/images", {}, r"alice/images has no data files BabyBERT can read .*; it has: data/cat.png"),
    ("alice/broken", {}, r"train.parquet of alice/broken is not readable as parquet \(ArrowInvalid: .*\); check that it is "
                         "a complete, valid .parquet file"),
    ("alice/badcard", {}, r"the card \(README.md\) of alice/badcard has metadata that cannot be read"),
])
def test_the_error_catalogue(hub, tmp_path, spec, options, message):
    hub.add_repo("alice/secret", {"train.jsonl": jsonl([{"text": "Hidden."}])}, repo_type="dataset", private=True)
    hub.add_repo("alice/gated", {"train.jsonl": jsonl([{"text": "Gated."}])}, repo_type="dataset", gated=True)
    hub.add_repo("alice/two", {"README.md": b"---\nconfigs:\n- config_name: a\n  data_files: a.jsonl\n"
                                            b"- config_name: b\n  data_files: b.jsonl\n---\n",
                               "a.jsonl": jsonl([{"text": "A."}]), "b.jsonl": jsonl([{"text": "B."}])}, repo_type="dataset")
    table = {"text": ["A row. Of text."] * 20, "title": ["t"] * 20, "stars": list(range(20))}
    hub.add_repo("alice/plain", {"train.parquet": parquet(table), "test.parquet": parquet(table)}, repo_type="dataset")
    hub.add_repo("alice/empty", {"train.jsonl": jsonl([{"text": ""}, {"text": None}, {"text": "  \n "}])},
                 repo_type="dataset")
    hub.add_repo("alice/images", {"data/cat.png": b"\x89PNG"}, repo_type="dataset")
    hub.add_repo("alice/broken", {"train.parquet": parquet(table)[:100]}, repo_type="dataset")
    hub.add_repo("alice/badcard", {"README.md": b"---\nconfigs: [a\n---\n", "train.jsonl": jsonl([{"text": "A."}])},
                 repo_type="dataset")
    with pytest.raises(UserError, match=message):
        corpus_from_dataset(spec, endpoint=hub.endpoint, cache_dir=tmp_path, **options)
    if "max_bytes" in options:
        assert resolved(hub) == []  # refused before downloading anything


def test_local_data_files(tmp_path):
    texts = rows(12, seed=2)
    files = {"rows.jsonl": jsonl([{"body": t, "n": i} for i, t in enumerate(texts)]),
             "rows.parquet": parquet({"body": texts}),
             "rows.json": json.dumps([{"body": t} for t in texts]).encode()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        corpus = corpus_from_dataset(str(tmp_path / name), text_column="body", cache_dir=tmp_path / "cache")
        documents_are_the_rows(corpus.path, texts)
        assert corpus.name == name and f"rows of {name} (column body)" in corpus.description
    # a .txt: documents between blank lines (a BabyBERT corpus file stays as it is), a paragraph on one line is split
    (tmp_path / "book.txt").write_text("The cow says moo.\nThe dog barks.\n\n\nA paragraph. Of two sentences.\n")
    corpus = corpus_from_dataset(str(tmp_path / "book.txt"), cache_dir=tmp_path / "cache")
    assert parse_corpus(corpus.path.read_text()) == [["The cow says moo.", "The dog barks."],
                                                     ["A paragraph.", "Of two sentences."]]
    (tmp_path / "rows.csv").write_text("text,n\n\"One row. Two.\",1\nAnother row,2\n")
    corpus = corpus_from_dataset(str(tmp_path / "rows.csv"), max_rows=1, cache_dir=tmp_path / "cache")
    assert parse_corpus(corpus.path.read_text()) == [["One row.", "Two."]]


def test_rows_are_made_fit_for_the_corpus_reader(tmp_path):
    """Special tokens lose their brackets, control characters become spaces, an endless line is cut at
    spaces, other line breaks (form feed, U+2028) count as line breaks: the corpus then passes the
    reader's checks."""
    long = " ".join(["word"] * 5000)  # 24,999 characters without a sentence end
    texts = ["He said [MASK] and [SEP]\x1b twice.", f"{long}.", "Page one.\x0cPage two.\u2028Page three."]
    (tmp_path / "odd.jsonl").write_bytes(jsonl([{"text": t} for t in texts]))
    corpus = corpus_from_dataset(str(tmp_path / "odd.jsonl"), cache_dir=tmp_path / "cache")
    docs = parse_corpus(corpus.path.read_text())
    assert docs[0] == ["He said mask and sep twice."]
    assert " ".join(docs[1]) == f"{long}." and len(docs[1]) == 3 and max(map(len, docs[1])) <= 10_000
    assert docs[2] == ["Page one.", "Page two.", "Page three."]


@pytest.mark.parametrize("spec, options, message", [
    ("missing.jsonl", {}, "data file not found: missing.jsonl"),
    ("notes.xlsx", {}, "notes.xlsx: BabyBERT reads .txt, .jsonl, .json, .parquet and .csv data files, not .xlsx"),
    ("rows.jsonl", {"split": "test"}, "a data file has one split, train"),
    ("rows.jsonl", {"max_bytes": 10}, "rows.jsonl is too large: over 10 bytes"),
    ("", {}, "no dataset given"),
])
def test_local_file_errors(tmp_path, monkeypatch, spec, options, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "rows.jsonl").write_bytes(jsonl([{"text": "A row."}]))
    with pytest.raises(UserError, match=message):
        corpus_from_dataset(spec, cache_dir=tmp_path / "cache", **options)


def test_without_the_datasets_library_it_says_how_to_install_it(hub, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    (tmp_path / "rows.jsonl").write_bytes(jsonl([{"text": "A row."}]))
    hub.add_repo("alice/rows", {"train.jsonl": jsonl([{"text": "A row."}])}, repo_type="dataset")
    for spec in [str(tmp_path / "rows.jsonl"), "alice/rows"]:
        with pytest.raises(UserError, match=r'pip install "babybert\[datasets\]"'):
            corpus_from_dataset(spec, endpoint=hub.endpoint, cache_dir=tmp_path / "cache")
    assert hub.requests == []  # said before anything is asked of the Hub


def test_training_records_how_the_text_was_split(tmp_path):
    (tmp_path / "rows.jsonl").write_bytes(jsonl([{"text": t} for t in rows(30, seed=3)]))
    corpus = corpus_from_dataset(str(tmp_path / "rows.jsonl"), cache_dir=tmp_path / "cache")
    done = list(train(corpus.path, TINY_MODEL, tiny_train_config(max_steps=3), out_dir=tmp_path / "m",
                      corpus_name=corpus.name, corpus_source=corpus.description, cache_dir=tmp_path / "cache"))[-1]
    info = load_checkpoint(done.checkpoint).info
    assert info["corpus"]["name"] == "rows.jsonl" and info["corpus"]["source"] == corpus.description
    assert info["corpus"]["train"]["documents"] + info["corpus"]["held_out"]["documents"] == 30
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"- the corpus is {corpus.description}" in card


def test_the_cli_trains_and_evaluates_on_a_hub_dataset(hub, tmp_path, capsys):
    texts = rows(40, seed=4)
    hub.add_repo("alice/animals", {"data/train-00000-of-00001.parquet": parquet({"story": texts})}, repo_type="dataset")
    hub.add_repo("alice/secret", {"train.jsonl": jsonl([{"text": "Hidden."}])}, repo_type="dataset", private=True)
    common = ["--dataset", "alice/animals", "--text-column", "story", "--max-rows", "30", "--endpoint", hub.endpoint,
              "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.run([sys.executable, "-m", "babybert", "train", *common, "--out", str(tmp_path / "m"),
                           "--max-steps", "3", "--hidden-size", "32", "--num-heads", "2", "--intermediate-size", "64",
                           "--max-seq-len", "32", "--vocab-size", "200"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "dataset: the first 30 rows of alice/animals (split train, column story" in proc.stderr
    info = load_checkpoint(tmp_path / "m").info
    assert info["corpus"]["name"] == "alice/animals" and "sentences by BabyBERT's splitter" in info["corpus"]["source"]
    assert info["corpus"]["train"]["documents"] + info["corpus"]["held_out"]["documents"] == 30
    from babybert.cli import main
    assert main(["eval", str(tmp_path / "m"), "--json", *common, "--dataset-split", "train"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["mlm_accuracy"] is not None
    assert main(["train", "--dataset", "alice/secret", "--endpoint", hub.endpoint, "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: dataset alice/secret not found")
    with pytest.raises(SystemExit) as exited:
        main(["train", "--corpus", "c.txt", "--dataset", "alice/animals", "--out", str(tmp_path / "x")])
    assert exited.value.code == 2
    assert "error: argument --dataset: not allowed with argument --corpus" in capsys.readouterr().err
