"""A user's mistakes reach the library's caller as a UserError that says what was wrong and what to
do, with the other library's error kept as its cause; a bug of ours stays a plain error (the CLI
and the app show its traceback)."""

import json
import shutil

import pytest
from pyarrow import ArrowException
from safetensors import SafetensorError

from babybert import load_checkpoint, save_checkpoint
from babybert.analysis.predict import run_probes
from babybert.analysis.runs import write_csv
from babybert.bert import checkpoint
from babybert.bert.tokenizer import load_tokenizer
from babybert.data import store, stream
from babybert.data.corpus import read_corpus, split_corpus
from babybert.errors import UserError
from babybert.hub import dataset
from babybert.hub.dataset import corpus_from_dataset
from babybert.hub.repos import HubError

from .test_hub_dataset import jsonl, parquet


def test_hub_errors_are_user_errors():
    assert issubclass(HubError, UserError) and issubclass(UserError, ValueError)


# ----------------------------------------------------------------------------- data files

def test_a_corrupt_parquet_file(tmp_path):
    good = parquet({"text": ["A row. Of text."] * 20})
    (tmp_path / "rows.parquet").write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match=r"^rows.parquet is not readable as parquet \(ArrowInvalid: .*\); check that it "
                                        r"is a complete, valid .parquet file$") as error:
        corpus_from_dataset(str(tmp_path / "rows.parquet"), cache_dir=tmp_path / "cache")
    assert isinstance(error.value.__cause__, ArrowException)


def test_a_jsonl_file_with_a_broken_line(tmp_path):
    (tmp_path / "rows.jsonl").write_bytes(jsonl([{"text": "A row."}]) + b'{"text": "cut off\n' + jsonl([{"text": "B."}]))
    with pytest.raises(UserError, match=r"^rows.jsonl is not readable as json \(ArrowInvalid: JSON parse error: .*\); "
                                        "check that it is a complete, valid .jsonl file$"):
        corpus_from_dataset(str(tmp_path / "rows.jsonl"), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("name, data", [("rows.jsonl", b""), ("rows.csv", b"text\n")])
def test_a_data_file_without_rows(tmp_path, name, data):
    """(datasets' json reader raises StopIteration on an empty file, which a generator turned into a RuntimeError)"""
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UserError, match=rf"^{name} \(column text\) has no text: its 0 rows are empty$"):
        corpus_from_dataset(str(tmp_path / name), cache_dir=tmp_path / "cache")


def test_a_csv_file_that_is_not_utf8(tmp_path):
    (tmp_path / "rows.csv").write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"^rows.csv is not readable as csv \(UnicodeDecodeError: "):
        corpus_from_dataset(str(tmp_path / "rows.csv"), cache_dir=tmp_path / "cache")


# ----------------------------------------------------------------------------- checkpoints

@pytest.fixture
def ckpt(tmp_path, checkpoint_dir):
    shutil.copytree(checkpoint_dir, tmp_path / "ckpt")
    return tmp_path / "ckpt"


@pytest.mark.parametrize("text, message", [
    ('{"vocab_size": 200,', r"config.json is not valid JSON \(Expecting .*\); fix it, or download or save the checkpoint again"),
    ("[1, 2]", r"config.json is not a JSON object of settings \(list\)"),
    (b"\xff\xfe{}", r"config.json is not valid JSON \(.*can't decode byte 0xff"),
])
def test_a_config_json_that_is_not_json(ckpt, text, message):
    (ckpt / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError, match=message):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("edit, message", [
    ({"model_type": "gpt2"}, "^not a BERT checkpoint: config.json has model_type='gpt2'"),  # config.py's ValueError
    ({"hidden_dropout_prob": "high"}, r"config.json: hidden_dropout_prob must be a number, got 'high'"),
])
def test_a_config_json_we_cannot_load(ckpt, edit, message):
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, **edit}))
    with pytest.raises(UserError, match=message):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("keep", [0, 7, 100])
def test_truncated_safetensors(ckpt, keep):
    (ckpt / "model.safetensors").write_bytes((ckpt / "model.safetensors").read_bytes()[:keep])
    with pytest.raises(UserError, match=r"model.safetensors is corrupt or truncated \(.*\); download or save it again") \
            as error:
        load_checkpoint(ckpt)
    assert isinstance(error.value.__cause__, SafetensorError)


def test_a_corrupt_tokenizer_and_babybert_json(ckpt):
    (ckpt / "babybert.json").write_text("{")
    with pytest.raises(UserError, match="babybert.json is not valid JSON"):
        load_checkpoint(ckpt)
    (ckpt / "tokenizer.json").write_text('{"version": "1.0"}')
    with pytest.raises(UserError, match=r"the tokenizer in .* cannot be read \(KeyError: 'added_tokens'\); download or "
                                        "save it again"):
        load_tokenizer(ckpt)
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "vocab.txt").write_bytes(b"\xff\xfe\x00junk\n")
    with pytest.raises(UserError, match=r"the tokenizer in .* cannot be read \(Exception: .*UTF-8"):
        load_tokenizer(ckpt)


def test_saving_where_no_folder_can_be(tmp_path, trained):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match=r"cannot save the checkpoint in .*file: .*; choose another --out"):
        save_checkpoint(tmp_path / "file" / "ckpt", trained.model, trained.tokenizer)


# ----------------------------------------------------------------------------- corpora

def test_a_corpus_path_that_is_a_directory(tmp_path):
    with pytest.raises(UserError, match="corpus path is not a file"):
        read_corpus(tmp_path)
    with pytest.raises(UserError, match="corpus path is not a file"):
        next(stream.sentences(tmp_path))
    with pytest.raises(UserError, match="corpus path is not a file"):
        store.prepare(tmp_path, max_len=32, holdout=0.1, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("content", [b"", b"\n \n\n"])
def test_an_empty_corpus(tmp_path, content):
    (tmp_path / "empty.txt").write_bytes(content)
    with pytest.raises(UserError, match="the corpus has 0 sentence"):
        split_corpus(read_corpus(tmp_path / "empty.txt"))
    with pytest.raises(UserError, match="the corpus has 0 sentence"):
        store.prepare(tmp_path / "empty.txt", max_len=32, holdout=0.1, cache_dir=tmp_path / "cache")


def test_a_corpus_that_cannot_be_read(tmp_path, monkeypatch):
    """(Permissions cannot refuse root, who runs the tests in CI: the OSError is made instead.)"""
    (tmp_path / "c.txt").write_text("a line.\nanother.\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(stream, "open", refuse, raising=False)
    with pytest.raises(UserError, match=r"^cannot read .*c.txt: Permission denied$"):
        list(stream.sentences(tmp_path / "c.txt"))
    monkeypatch.setattr(type(tmp_path), "read_bytes", refuse)
    with pytest.raises(UserError, match=r"^cannot read the corpus .*c.txt: Permission denied$"):
        read_corpus(tmp_path / "c.txt")


def test_a_cache_folder_that_cannot_be_made(tmp_path):
    (tmp_path / "c.txt").write_text("a line.\nanother.\n\nthird line.\n")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match="cannot write to the cache folder .*; pass --cache-dir or set BABYBERT_CACHE"):
        store.prepare(tmp_path / "c.txt", max_len=32, holdout=0.1, cache_dir=tmp_path / "file")


def test_a_csv_path_that_is_a_folder(tmp_path):
    with pytest.raises(UserError, match=r"cannot write .*: Is a directory; choose another --csv"):
        write_csv([], tmp_path)


# ----------------------------------------------------------------------------- bugs stay bugs

def test_a_bug_is_not_a_user_error(ckpt, tmp_path, monkeypatch, trained):
    """A plain ValueError from our own code is not turned into a UserError on its way out."""
    def bug(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(checkpoint, "from_hf_state_dict", bug)
    with pytest.raises(ValueError, match="a bug") as error:
        load_checkpoint(ckpt)
    assert not isinstance(error.value, UserError)

    (tmp_path / "rows.jsonl").write_bytes(jsonl([{"text": "A row."}]))
    monkeypatch.setattr(dataset, "document", bug)
    with pytest.raises(ValueError, match="a bug") as error:
        corpus_from_dataset(str(tmp_path / "rows.jsonl"), cache_dir=tmp_path / "cache")
    assert not isinstance(error.value, UserError)

    # run_probes shows a user's mistake in its row, never a bug
    assert run_probes(trained.model, trained.tokenizer, [("no mask", None)])[0][1].startswith("(the text has no [MASK]")
    monkeypatch.setattr("babybert.analysis.predict.fill_mask", bug)
    with pytest.raises(ValueError, match="a bug") as error:
        run_probes(trained.model, trained.tokenizer, [("the [MASK] says moo.", None)])
    assert not isinstance(error.value, UserError)
