"""A published tokenizer with fresh weights (--tokenizer): the model is trained from scratch with
it, its vocabulary size comes from it, and the checkpoint holds it (self-contained)."""

import json
import subprocess
import sys

import pytest

from babybert import load_checkpoint, parse_corpus
from babybert import train
from babybert.hub.repos import HubError, get_tokenizer
from babybert.bert.tokenizer import load_tokenizer

from .conftest import TINY_MODEL, animal_corpus, tiny_train_config

WORDS = "the cow dog cat duck sheep owl says moo woof meow quack baa hoot lives in farm house barn pond field tree " \
        "every morning then eats some grass meat fish bread hay mice at night sleeps . ,".split()


def old_layout_bert(folder):
    """google/bert_uncased_* as published: vocab.txt and a config.json without model_type, no tokenizer.json."""
    folder.mkdir()
    vocab = ["[PAD]", *[f"[unused{i}]" for i in range(3)], "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "config.json").write_text(json.dumps({"hidden_size": 32, "vocab_size": len(vocab)}))
    return folder, vocab


def test_training_with_a_published_tokenizer_keeps_its_vocabulary(tmp_path):
    folder, vocab = old_layout_bert(tmp_path / "bert-old")
    tokenizer = get_tokenizer(folder)
    events = list(train(parse_corpus(animal_corpus()), TINY_MODEL, tiny_train_config(vocab_size=60), out_dir=tmp_path / "out",
                        tokenizer=tokenizer))
    start, done = events[0], events[-1]
    assert start.vocab_size == len(vocab) == done.model.config.vocab_size  # not --vocab-size: the tokenizer's own
    assert done.tokenizer.get_vocab() == {t: i for i, t in enumerate(vocab)}
    ckpt = load_checkpoint(tmp_path / "out")  # self-contained: the tokenizer files travel with the weights
    assert ckpt.tokenizer.get_vocab() == tokenizer.get_vocab() and (tmp_path / "out" / "tokenizer.json").is_file()
    assert ckpt.info["tokenizer"] == str(folder) and ckpt.info["init"] is None
    # ids are the published ones: [CLS] the cow says [MASK] . [SEP]
    ids = ckpt.tokenizer("the cow says [MASK].")["input_ids"]
    assert ids == [vocab.index(t) for t in ["[CLS]", "the", "cow", "says", "[MASK]", ".", "[SEP]"]]
    assert done.metrics.mlm_accuracy > done.metrics.baseline_accuracy  # it learned with it


def test_a_tokenizer_from_the_hub_downloads_only_its_files(hub, tmp_path):
    folder, vocab = old_layout_bert(tmp_path / "bert-old")
    hub.add_repo("google/bert-old-test", {"vocab.txt": (folder / "vocab.txt").read_bytes(),
                                          "config.json": (folder / "config.json").read_bytes(),
                                          "pytorch_model.bin": b"weights we do not want"})
    tokenizer = get_tokenizer("google/bert-old-test", endpoint=hub.endpoint)
    assert tokenizer.get_vocab() == {t: i for i, t in enumerate(vocab)} and tokenizer.name_or_path == "google/bert-old-test"
    corpus = tmp_path / "animals.txt"
    corpus.write_text(animal_corpus())
    proc = subprocess.run([sys.executable, "-m", "babybert", "train", "--corpus", str(corpus), "--out", str(tmp_path / "m"),
                           "--tokenizer", "google/bert-old-test", "--endpoint", hub.endpoint, "--max-steps", "5",
                           "--hidden-size", "32", "--num-heads", "2", "--intermediate-size", "64"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"vocabulary {len(vocab)}," in proc.stderr
    ckpt = load_checkpoint(tmp_path / "m")
    assert ckpt.info["tokenizer"] == "google/bert-old-test" and ckpt.tokenizer.get_vocab() == tokenizer.get_vocab()


@pytest.mark.parametrize("source, message", [
    ("alice/missing", "repository alice/missing not found"),
    ("alice/no-tokenizer", "alice/no-tokenizer has no tokenizer: expected tokenizer.json or vocab.txt"),
    ("not a repo id!", "invalid tokenizer repository (or local folder) id"),
])
def test_tokenizer_errors_are_clear(hub, source, message):
    hub.add_repo("alice/no-tokenizer", {"config.json": b"{}"})
    with pytest.raises(HubError, match=message.replace("(", r"\(").replace(")", r"\)")):
        get_tokenizer(source, endpoint=hub.endpoint)


def test_a_folder_without_a_tokenizer_and_tokenizer_with_init_are_refused(tmp_path, checkpoint_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(HubError, match="no usable tokenizer in .*expected tokenizer.json or vocab.txt"):
        get_tokenizer(tmp_path / "empty")
    with pytest.raises(ValueError, match="either a tokenizer .* or a checkpoint to start from"):
        list(train(parse_corpus(animal_corpus()), init=checkpoint_dir, tokenizer=load_tokenizer(checkpoint_dir),
                   config=tiny_train_config()))
