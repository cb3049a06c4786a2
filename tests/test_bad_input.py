"""The catalogue of bad input: each case is sent to the running app through its HTTP API as raw
JSON, as a script or a hostile client would (bypassing the sliders; NaN and infinity included), and
must get a clear, specific message.
After every case the server still answers, this session's trained model is unchanged, and no
traceback was printed, by the server or by its training process (whose stderr is the server's).

The same corpora go through the CLI too: one line on stderr, exit status 2.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from gradio_client import Client
from gradio_client.utils import Status

from babybert.cli import main
from babybert.bench.app import call_api
from babybert.server.worker import Worker

from .conftest import TINY_MODEL, WRITE, animal_corpus, running_app, tiny_train_config

MAX_CHARS = 150_000  # the server's corpus limit in these tests (BABYBERT_MAX_CORPUS_CHARS)
GOOD = animal_corpus(12)
TRAIN = dict(corpus=GOOD, tasks=["MLM", "NSP"], vocab_size=256, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, max_position_embeddings=32, batch_size=16, epochs=200, lr=3e-3, mask_prob=0.15, time_budget=2,
             seed=0, minimal_pairs=False, start_from="scratch", probes="", tokenizer_from="corpus", tokenizer_repo="",
             overlay=True)
QUESTION = "every morning the cow says [MASK]."


@pytest.fixture(scope="module")
def hub(module_hub):
    return module_hub


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, hub):
    with running_app(BABYBERT_RUNS_DIR=str(tmp_path_factory.mktemp("runs")), HF_ENDPOINT=hub.endpoint,
                     BABYBERT_MAX_CORPUS_CHARS=str(MAX_CHARS)) as (_, url):
        yield url


@pytest.fixture(scope="module")
def session(app_url):
    """One user who has trained a model; every bad input below comes from this same session."""
    client = Client(app_url, verbose=False)
    assert "finished after" in client.predict(**TRAIN, api_name="/train")[0]
    return client, answer(client)


def send(url: str, client: Client, api_name: str, args) -> list:
    """The event's outputs, from a raw JSON call in `client`'s session (json.dumps writes NaN)."""
    if isinstance(args, dict):  # by name: in the order of the endpoint's parameters
        parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]["parameters"]
        args = [args[p["parameter_name"]] for p in parameters]
    return list(call_api(url, api_name, list(args), client.session_hash))


def answer(client) -> list:
    return client.predict(QUESTION, 5, "trained", False, "default", api_name="/fill_mask")[2]["trained"]


def train_with(**changes) -> tuple[str, dict]:
    return "/train", {**TRAIN, **changes}


def fill(text, top_k=3, which="trained") -> tuple[str, list]:
    return "/fill_mask", [text, top_k, which, False, "default"]


def pair(a, b) -> tuple[str, list]:
    return "/next_sentence", [a, b, "trained"]


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n\n" + GOOD


CASES = {
    # corpora
    "empty corpus": (train_with(corpus=""), "the corpus is empty"),
    "whitespace-only corpus": (train_with(corpus=" \n\t \n\n   \n"), "the corpus is empty"),
    "one word": (train_with(corpus="hello"), "at least two sentences"),
    "one line": (train_with(corpus="the cow says moo."), "at least two sentences"),
    "over the size limit": (train_with(corpus="the cow says moo.\n" * (MAX_CHARS // 18 + 10)),
                            f"this server takes up to {MAX_CHARS:,}"),
    "a line of 100,000 characters": (train_with(corpus=doc("the cow.", "moo " * 25_000)),
                                     "line 2 of the corpus is 100,000 characters long"),
    "only punctuation": (train_with(corpus="!!! ...\n??? ,,,\n\n;;; ---\n«» ——\n"), "no letters or digits"),
    "a NUL character": (train_with(corpus=doc("the cow\x00 says moo.", "it eats grass.")), "control character U\\+0000"),
    "a terminal escape": (train_with(corpus=doc("the cow says \x1b[31mmoo.", "it eats grass.")), "control character U\\+001B"),
    "[MASK] in the corpus": (train_with(corpus=doc("the cow says moo.", "the dog says [MASK].")), "line 2 .* contains \\[MASK\\]"),
    "[CLS] in the corpus": (train_with(corpus=doc("[CLS] the cow says moo.", "it eats.")), "contains \\[CLS\\]"),
    "[SEP] in the corpus": (train_with(corpus=doc("the cow says moo. [SEP] it eats.", "it eats.")), "contains \\[SEP\\]"),
    "corpus is a number": (train_with(corpus=12345), "at least two sentences"),
    # fill-mask and next sentence
    "no mask": (fill("the cow says moo."), "has no \\[MASK\\]"),
    "only masks": (fill("[MASK] [MASK] [MASK]"), "only \\[MASK\\]s"),
    "50 masks": (fill("the cow says " + "[MASK] " * 50), "50 \\[MASK\\]s; ask about at most 20"),
    "longer than the max length": (fill("the cow says [MASK]. " + "moo " * 200), "reads at most 32"),
    "empty fill-mask text": (fill("   "), "the text is empty"),
    "fill-mask text is not text": (fill(None), "the text is empty"),
    "NSP: empty sentence A": (pair("", "the cow says moo."), "both sentences are needed"),
    "NSP: empty sentence B": (pair("the cow says moo.", "  "), "both sentences are needed"),
    "NSP: longer than the max length": (pair("moo " * 40, "moo " * 40), "reads at most 32"),
    # numbers sent straight to the API
    "vocabulary 0": (train_with(vocab_size=0), "vocabulary size must be at least 32"),
    "vocabulary negative": (train_with(vocab_size=-64), "vocabulary size must be at least 32"),
    "vocabulary a string": (train_with(vocab_size="many"), "vocabulary size must be a number"),
    "vocabulary a float": (train_with(vocab_size=256.5), "vocabulary size must be a whole number"),
    "hidden size 0": (train_with(hidden_size=0), "hidden size must be at least 1"),
    "hidden size not divisible by heads": (train_with(hidden_size=48, num_attention_heads=5), "divisible by num_attention_heads"),
    "layers negative": (train_with(num_hidden_layers=-2), "layers must be at least 1"),
    "heads a string": (train_with(num_attention_heads="two"), "heads must be a number"),
    "feed-forward NaN": (train_with(intermediate_size=math.nan), "feed-forward size must be a number"),
    "max length 4": (train_with(max_position_embeddings=4), "max sequence length must be at least 8"),
    "batch 0": (train_with(batch_size=0), "batch size must be between 1 and 1024"),
    "batch a float": (train_with(batch_size=2.5), "batch size must be a whole number"),
    "batch a billion": (train_with(batch_size=10**9), "batch size must be between 1 and 1024"),
    "epochs negative": (train_with(epochs=-1), "epochs must be a positive number"),
    "epochs a string": (train_with(epochs="ten"), "epochs must be a number"),
    "learning rate 0": (train_with(lr=0), "learning rate must be positive"),
    "learning rate 5": (train_with(lr=5), "peak learning rate must be between 0 and 1"),
    "learning rate a string": (train_with(lr="fast"), "learning rate must be a number"),
    "mask probability 1.5": (train_with(mask_prob=1.5), "mask probability must be between 0 and 1"),
    "mask probability NaN": (train_with(mask_prob=math.nan), "mask probability must be a number"),
    "time budget 0": (train_with(time_budget=0), "time budget must be between 1 and 600"),
    "time budget 900": (train_with(time_budget=900), "time budget must be between 1 and 600"),
    "time budget infinite": (train_with(time_budget=math.inf), "time budget must be between 1 and 600"),
    "time budget a string": (train_with(time_budget="soon"), "time budget must be between 1 and 600"),
    "seed negative": (train_with(seed=-1), "seed must be from 0 to 4,294,967,295"),
    "seed a float": (train_with(seed=0.5), "seed must be a whole number"),
    "no task": (train_with(tasks=[]), "choose at least one task"),
    "unknown task": (train_with(tasks=["SQUAD"]), "tasks must be one or more of mlm, nsp"),
    "tasks not a list": (train_with(tasks=7), "tasks must be one or more of mlm, nsp"),
    "model over the server's size": (train_with(hidden_size=512, num_hidden_layers=8, intermediate_size=2048, vocab_size=8192),
                                     "this server trains up to"),
    "probe without mask or pair": (train_with(probes="just words"), "no \\[MASK\\] and no '\\|\\|\\|'"),
    # the tokenizer choice, a Hub dataset, the Model tab's views (issue 14)
    "unknown tokenizer choice": (train_with(tokenizer_from="bpe"), "unknown tokenizer choice .bpe.: choose corpus or hub"),
    "tokenizer repo not text": (train_with(tokenizer_from="hub", tokenizer_repo=None), "no tokenizer repository given"),
    "tokenizer repo a path": (train_with(tokenizer_from="hub", tokenizer_repo="/etc/passwd"), "invalid tokenizer repository"),
    "dataset rows a string": (("/load_dataset", ["alice/x", "train", "text", "many"]), "rows must be a number"),
    "dataset rows 0": (("/load_dataset", ["alice/x", "train", "text", 0]), "rows must be between 1 and"),
    "dataset a path": (("/load_dataset", ["../../etc/passwd", "train", "text", 10]), "invalid dataset"),
    "dataset not text": (("/load_dataset", [None, "train", "text", 10]), "no dataset given"),
    "tokenize not text": (("/tokenize", [None, "trained"]), "type up to 10,000 characters"),
    "tokenize unknown model": (("/tokenize", ["the cow", "../../x"]), "unknown model"),
    "embeddings words a string": (("/embeddings", ["cow", "lots", "trained"]), "words drawn must be a number"),
    "embeddings 2 words": (("/embeddings", ["cow", 2, "trained"]), "words drawn must be between 3 and 300"),
    "embeddings unknown word": (("/embeddings", ["zzzzqqq", 50, "trained"]), "\[UNK\]|not in|unknown"),
    "top k 0": (fill(QUESTION, top_k=0), "top k must be between 1 and 50"),
    "top k a string": (fill(QUESTION, top_k="five"), "top k must be a number"),
    "unknown model": (fill(QUESTION, which="../../etc/passwd"), "unknown model"),
    "attention layer a string": (("/attention", [QUESTION, "first", 1, "trained"]), "layer must be a number"),
    "attention head 0": (("/attention", [QUESTION, 1, 0, "trained"]), "head must be at least 1"),
    # the Hub, with names that become paths
    "push: invalid repo id": (("/push", ["trained", "alice/not a name", False, WRITE]), "invalid repository id"),
    "push: path traversal": (("/push", ["trained", "../../etc/passwd", False, WRITE]), "invalid repository id"),
    "pull: path traversal": (("/pull", ["../../../tmp/x", "", ""]), "invalid repository id"),
    "pull: revision traversal": (("/pull", ["alice/tiny", "../../../etc", ""]), "no revision|invalid"),
    "pull: a repo that is not a BERT": (("/pull", ["alice/gpt", "", ""]), "not a BERT checkpoint"),
    "pull: corrupt weights": (("/pull", ["alice/corrupt", "", ""]), "corrupt or truncated"),
    "pull: truncated weights": (("/pull", ["alice/truncated", "", ""]), "holds only .* bytes|corrupt or truncated"),
    "pull: absurd config": (("/pull", ["alice/absurd", "", ""]), "describes a model of [\\d,]+ parameters"),
}


@pytest.fixture(scope="module")
def bad_repos(hub, checkpoint_dir):
    """Repositories on the Hub stand-in that a pull must refuse, made from a real tiny checkpoint."""
    files = {p.name: p.read_bytes() for p in checkpoint_dir.iterdir() if p.is_file()}
    weights = files["model.safetensors"]
    config = json.loads(files["config.json"])
    hub.add_repo("alice/tiny", files)
    hub.add_repo("alice/gpt", {"config.json": json.dumps({"model_type": "gpt2", "n_embd": 32}).encode(),
                               "model.safetensors": b"weights", "tokenizer.json": b"{}"})
    hub.add_repo("alice/corrupt", {**files, "model.safetensors": weights[:8] + b"\xff" * (len(weights) - 8)})
    hub.add_repo("alice/truncated", {**files, "model.safetensors": weights[: len(weights) // 10]})
    absurd = {**config, "vocab_size": 10**9, "hidden_size": 8192, "num_attention_heads": 8}
    hub.add_repo("alice/absurd", {**files, "config.json": json.dumps(absurd).encode()})


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_a_clear_message_and_changes_nothing(app_url, session, bad_repos, case, capfd):
    client, before = session
    (api_name, args), message = CASES[case]
    with pytest.raises(RuntimeError, match=message):
        send(app_url, client, api_name, args)
    assert answer(client) == before  # the server answers, and this session's model is the same
    assert "Traceback" not in capfd.readouterr().err  # a user's mistake is not logged as the server's


@pytest.fixture(scope="module")
def early_worker():
    """A training process started before any test captures stderr, as the app's is (by `session`)."""
    worker = Worker()
    yield worker
    worker.close()


def test_a_traceback_in_the_training_process_is_seen_by_the_check_above(early_worker, documents, tmp_path, capfd):
    """What the "Traceback" check above relies on: an internal error in the training process prints
    its traceback where the server's stderr goes, and capfd sees it (a child process's own fd 2 would
    have been the file that was stderr when it started, unseen by the test)."""
    with pytest.raises(RuntimeError, match="TypeError"):  # an internal error, not a user's: logged with its traceback
        for _ in early_worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=1), out_dir=tmp_path,
                                    tokenizer="not a tokenizer"):
            pass
    err, deadline = "", time.monotonic() + 30  # the lines were written before the error was sent: they come
    while "TypeError: " not in err and time.monotonic() < deadline:
        time.sleep(0.05)
        err += capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "TypeError: " in err, err


def test_the_catalogue_is_long_enough():
    assert len(CASES) >= 40


def test_sequence_mistakes(session, app_url):
    client, before = session
    other = Client(app_url, verbose=False)
    assert client.predict(api_name="/stop") == "Nothing is training in this session."
    with pytest.raises(Exception, match="not trained a model yet"):
        other.predict("trained", "alice/early", False, WRITE, api_name="/push")  # pushing before any training
    job = other.submit(**train_with(time_budget=30)[1], api_name="/train")
    while not job.outputs():
        time.sleep(0.1)
    # Train called twice through the API: the second call waits its turn (the browser's button says
    # "already training" instead: tests/test_browser.py)
    again = other.submit(**train_with(time_budget=2)[1], api_name="/train")
    time.sleep(1)
    assert again.status().code == Status.IN_QUEUE
    assert other.predict(api_name="/stop").startswith("Stopping")
    assert other.predict(api_name="/stop") in ("Stopping: finishing the evaluation and saving the model…",
                                               "Nothing is training in this session.")  # Stop twice: harmless
    status = job.result()[0]
    assert "finished after" in status and "stopped" in status
    assert "finished after" in again.result()[0] and "time budget used" in again.result()[0]
    assert answer(client) == before  # another session's runs changed nothing here


@pytest.mark.parametrize("corpus", [
    "Le café est très bon.\nDer Bär schläft im Wald.\n\nこれは猫です。\n猫は魚が好きです。\n\n"
    "مرحبا بالعالم.\nالقطة تأكل السمك.\n\nthe cow 🐄 says moo 🎉.\nthe dog 🐕 says woof.\n\n"
    "cafe\u0301 with a combining accent.\nan\u0303o nuevo.\n",
    "\n".join(f"the cow number {i} says moo." for i in range(40)),  # no blank line: one document
])
def test_unusual_but_valid_corpora_train(app_url, corpus):
    """Emoji, CJK, right-to-left and combining characters, or no blank lines at all, are text: they train."""
    client = Client(app_url, verbose=False)
    status = client.predict(**train_with(corpus=corpus, vocab_size=8192)[1], api_name="/train")[0]  # more than it supports
    assert "finished after" in status
    guesses = client.predict("the cow says [MASK].", 3, "trained", False, "default", api_name="/fill_mask")[2]
    assert len(guesses["trained"][0]) == 3


@pytest.mark.parametrize("text, message", [
    ("", "0 sentence"),
    ("hello", "at least two lines"),
    ("the cow.\n" + "moo " * 25_000 + "\n\nthe dog.\nwoof.\n", "line 2 of .* is 100,000 characters long"),
    ("the cow\x00 says.\nmoo.\n", "binary file"),
    ("the dog says [MASK].\nwoof.\n", "contains \\[MASK\\]"),
    ("!!!\n???\n", "no letters or digits"),
])
def test_cli_refuses_the_same_corpora_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    assert main(["train", "--corpus", str(path), "--out", str(tmp_path / "out"), "--max-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_uploads_that_are_not_text_get_a_message(tmp_path):
    import gradio as gr

    import app
    for name, data, message in [("photo.txt", bytes(range(256)) * 64, "binary file"),
                                ("latin1.txt", "café crème\n".encode("latin-1"), "not UTF-8 text")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(gr.Error, match=message):
            app.load_upload(str(path))
