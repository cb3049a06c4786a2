"""Shared fixtures: a tiny corpus and a tiny trained checkpoint, built once per test session."""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager

import pytest


def temporary_folder(prefix: str) -> str:
    """A new folder in the system's temp folder, removed when this process ends: a test run, or a
    script that imports this module (tests/ddp_script.py's ranks). Processes started from here with
    this environment (`python app.py` and its worker) use it too, and end first."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(remove_folder, path, os.getpid())
    return path


def remove_folder(path: str, owner: int) -> None:
    if os.getpid() == owner:  # not in a forked child that exits normally: the folder is its parent's
        shutil.rmtree(path, ignore_errors=True)


# huggingface_hub reads its settings when imported: keep the tests away from this machine's login,
# cache and telemetry before anything imports it, and let Hub calls give up quickly
os.environ["HF_HOME"] = temporary_folder("babybert-tests-hf-")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["BABYBERT_HUB_TIMEOUT"] = "3"
os.environ["BABYBERT_CACHE"] = temporary_folder("babybert-tests-cache-")  # token stores (store.py)
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
    os.environ.pop(_var, None)

from babybert import ModelConfig, TrainConfig, parse_corpus
from babybert import train  # noqa: E402
from babybert.training.events import Done  # noqa: E402

from .hub_server import HubServer  # noqa: E402

HUB_TOKENS = {"hf_alice_write_SECRET1": ("alice", "write"), "hf_alice_read_SECRET2": ("alice", "read"),
              "hf_bob_write_SECRET3": ("bob", "write")}
WRITE, READ, BOB = HUB_TOKENS

ANIMALS = [("cow", "moo", "grass", "farm"), ("dog", "woof", "meat", "house"), ("cat", "meow", "fish", "barn"),
           ("duck", "quack", "bread", "pond"), ("sheep", "baa", "hay", "field"), ("owl", "hoot", "mice", "tree")]


def animal_corpus(n_docs: int = 48) -> str:
    """Documents of four consecutive sentences about one animal each: regular enough that a tiny
    model learns both the words (MLM) and the order (NSP) within a few hundred steps."""
    docs = []
    for i in range(n_docs):
        a, sound, food, home = ANIMALS[i % len(ANIMALS)]
        docs.append(f"the {a} lives in the {home}.\nevery morning the {a} says {sound}.\n"
                    f"then the {a} eats some {food}.\nat night the {a} sleeps in the {home}.")
    return "\n\n".join(docs) + "\n"


TINY_MODEL = ModelConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=32)


def tiny_train_config(**overrides) -> TrainConfig:
    settings = dict(epochs=None, max_steps=60, batch_size=16, lr=3e-3, eval_every=0, vocab_size=200, seed=0)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return animal_corpus()


@pytest.fixture(scope="session")
def documents(corpus_text):
    return parse_corpus(corpus_text)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, documents) -> Done:
    """A tiny model trained for 450 steps and saved; shared by tests that only read it."""
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    events = list(train(documents, TINY_MODEL, tiny_train_config(max_steps=450), out_dir=out, corpus_name="animals"))
    return events[-1]


@pytest.fixture(scope="session")
def checkpoint_dir(trained):
    return trained.checkpoint


@pytest.fixture
def hub():
    """A Hub stand-in on 127.0.0.1 (tests/hub_server.py) that the real huggingface_hub talks to."""
    with HubServer(tokens=HUB_TOKENS) as server:
        yield server
    assert server.errors == [], "the Hub stand-in crashed:\n" + "\n".join(server.errors)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(**env: str):
    """app.py's `demo`, launched in this process on 127.0.0.1 with its settings read from `env`:
    yields (the app module, its URL)."""
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, value)
    import app
    app = importlib.reload(app)  # read the limits from the environment set above
    port = free_port()
    app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH)
    try:
        yield app, f"http://127.0.0.1:{port}/"
    finally:
        app.WORKERS.close()  # its training processes (and the threads that read their stderr) end with it
        app.demo.close()
        mp.undo()


def start_app_process(log, **env: str) -> tuple:
    """`python app.py` as a user starts it, in a process of its own, with `env` added and its output
    in the file `log`: (the process, its URL) once it answers."""
    import subprocess
    import sys
    import time

    import httpx
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", **env}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.seek(0)
            pytest.fail(f"python app.py did not start:\n{log.read()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def module_hub():
    """The Hub stand-in, shared by one test module's app."""
    with HubServer(tokens=HUB_TOKENS) as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """Browser tests skipped for want of a browser must not pass unnoticed."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "NO BROWSER" in str(r.longrepr)]
    if skipped:
        terminalreporter.section("BROWSER TESTS DID NOT RUN", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"{len(skipped)} real-browser tests were SKIPPED: {skipped[0].longrepr[2]}", red=True, bold=True)
        terminalreporter.write_line("Install Chromium (apt-get install chromium) and playwright (requirements-dev.txt); "
                                    ".ci/run does both.", red=True, bold=True)
