"""Hours of uptime, compressed: one `python app.py` serves 20 train/stop cycles from 20 sessions and
1,000 fill-mask calls. Afterwards the memory of the server and of its warm training worker is back
within 10% of where it started, and no session file or extra process is left (nor, once the tests
end, their temporary folders); SIGTERM in the middle of a training ends both processes at once,
with exit status 0 and no crash. Bounded in count and time (about two minutes), so CI runs it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from .conftest import animal_corpus, running_app, start_app_process

TTL = 4  # seconds before an idle session (and its files) is forgotten: BABYBERT_SESSION_TTL
TRAIN = dict(corpus=animal_corpus(12), tasks=["MLM", "NSP"], vocab_size=256, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, max_position_embeddings=32, batch_size=16, epochs=500, lr=3e-3, mask_prob=0.15, time_budget=30,
             seed=0, start_from="scratch", probes="")

pytestmark = [pytest.mark.soak, pytest.mark.timeout(600)]


def status_kb(pid: int, field: str = "VmRSS") -> int:
    """A process's memory figure from /proc (VmRSS: resident; VmSize: address space)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1])


def children(pid: int) -> set[str]:
    return set(subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())


def fill_mask(http: httpx.Client, url: str, session: str) -> None:
    data = {"data": ["every morning the cow says [MASK].", 5, "default", False, "default"], "session_hash": session}
    http.post(f"{url}gradio_api/run/fill_mask", json=data).raise_for_status()


def train_and_stop(url: str) -> str:
    client = Client(url, verbose=False)  # a new visitor each time
    job = client.submit(**TRAIN, api_name="/train")
    while not job.outputs():
        time.sleep(0.05)
    time.sleep(0.5)
    assert client.predict(api_name="/stop").startswith("Stopping")
    status = job.result()[0]
    client.close()
    return status


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w+")
    process, url = start_app_process(log, BABYBERT_RUNS_DIR=str(runs), BABYBERT_SESSION_TTL=str(TTL),
                                     PYTHONFAULTHANDLER="1")  # a crash prints where it happened
    yield process, url, runs, log
    process.send_signal(signal.SIGTERM)  # (ended already if the last test ran)
    process.wait(timeout=30)


def test_twenty_trainings_and_a_thousand_predictions_leave_nothing_behind(server):
    process, url, runs, _ = server
    with httpx.Client(timeout=30) as http:
        # warm up: a training and some predictions load what stays for the server's lifetime
        assert "stopped" in train_and_stop(url)
        for _ in range(50):
            fill_mask(http, url, "warm-up")
        workers = children(process.pid)
        (worker,) = workers  # the warm training process, which serves every training below
        time.sleep(TTL + 1)
        fill_mask(http, url, "baseline")  # a request, so that idle sessions are swept
        before, worker_before = status_kb(process.pid), status_kb(int(worker))

        for cycle in range(20):
            status = train_and_stop(url)
            assert "finished after" in status and "stopped" in status, f"cycle {cycle}: {status}"
        for i in range(1000):
            fill_mask(http, url, f"asker-{i % 4}")

        time.sleep(TTL + 1)
        fill_mask(http, url, "last")  # sweeps every session idle for longer than the TTL
        after, worker_after = status_kb(process.pid), status_kb(int(worker))
    print(f"RSS: server {before:,} -> {after:,} KB; training worker {worker_before:,} -> {worker_after:,} KB")
    assert after <= 1.10 * before, f"server RSS grew from {before:,} KB to {after:,} KB"
    assert worker_after <= 1.10 * worker_before, \
        f"the training worker's RSS grew from {worker_before:,} KB to {worker_after:,} KB"
    left = sorted(p.name for p in runs.iterdir())
    assert len(left) <= 1, f"session directories left behind: {left}"  # only the last request's own session
    assert not any(runs.rglob("*.safetensors")), "checkpoints of forgotten sessions are still on disk"
    assert children(process.pid) == workers, "the server started processes it did not end"


def test_a_killed_worker_is_reported_and_the_app_goes_on(server):
    """The training process dies mid-run (out of memory, killed): the user is told, the session's
    previous model is kept, and the next training works."""
    process, url, _, _ = server
    client = Client(url, verbose=False)
    assert "finished after" in client.predict(**dict(TRAIN, time_budget=2), api_name="/train")[0]
    question = ("every morning the cow says [MASK].", 3, "trained", False, "default")
    before = client.predict(*question, api_name="/fill_mask")[2]
    job = client.submit(**TRAIN, api_name="/train")
    while not job.outputs():
        time.sleep(0.05)
    for pid in children(process.pid):  # the warm training worker
        os.kill(int(pid), signal.SIGKILL)
    with pytest.raises(Exception, match="Training failed: the training process ended unexpectedly"):
        job.result()
    assert client.predict(*question, api_name="/fill_mask")[2] == before
    assert "finished after" in client.predict(**dict(TRAIN, time_budget=2), api_name="/train")[0]


def test_a_training_that_runs_out_of_memory_is_reported_and_the_app_goes_on(server):
    """The worker's memory is capped (its soft address-space limit, 100 MB above what it holds) below
    what a 13M-parameter model needs to train (~210 MB for its weights, gradients and Adam's two
    moments, besides the activations): the user is told why and what to change, the
    session's previous model is kept, and the app trains again once memory is back, in a fresh worker
    (the old one, whose oneDNN fails every later kernel once it failed for want of memory, has quit)."""
    process, url, _, _ = server
    client = Client(url, verbose=False)
    assert "finished after" in client.predict(**dict(TRAIN, time_budget=2), api_name="/train")[0]
    question = ("every morning the cow says [MASK].", 3, "trained", False, "default")
    before = client.predict(*question, api_name="/fill_mask")[2]
    (worker,) = children(process.pid)
    pid = int(worker)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
    held = status_kb(pid, "VmSize") * 1024
    resource.prlimit(pid, resource.RLIMIT_AS, (held + 100_000_000, hard))
    large = dict(TRAIN, hidden_size=512, num_attention_heads=8, num_hidden_layers=4, intermediate_size=2048, max_position_embeddings=128,
                 batch_size=1024, time_budget=20)
    try:
        with pytest.raises(Exception, match="training ran out of memory.*try a smaller batch size, max length or model"):
            client.predict(**large, api_name="/train")
    finally:
        with contextlib.suppress(ProcessLookupError):  # (expected: it has quit)
            resource.prlimit(pid, resource.RLIMIT_AS, (soft, hard))
    assert client.predict(*question, api_name="/fill_mask")[2] == before
    (fresh,) = children(process.pid)  # the worker that ran out of memory has quit; one took its place
    assert fresh != worker
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "finished after" in client.predict(**dict(TRAIN, time_budget=2), api_name="/train")[0]


def test_sigterm_during_a_training_ends_the_server_and_its_worker_at_once(server):
    """Last, as it ends the server: a Space being restarted stops the app in the middle of a run.
    It exits with status 0: not killed by a segmentation fault (-11; 139 in a shell), which it was in
    5 of 8 tries when the interpreter was torn down while Gradio's server thread still ran its event
    loop (see app.shut_down)."""
    process, url, runs, log = server
    client = Client(url, verbose=False)
    job = client.submit(**TRAIN, api_name="/train")
    while not job.outputs():
        time.sleep(0.05)
    workers = children(process.pid)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    status = process.wait(timeout=30)
    log.seek(0)
    output = log.read()
    assert status == 0, f"python app.py ended with status {status} on SIGTERM:\n{output[-3000:]}"
    assert "Fatal Python error" not in output and "Segmentation fault" not in output, output[-3000:]
    assert time.monotonic() - began < 10, "the server took long to stop"
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "the training worker outlived the server"
    saved = [p.parent for p in runs.rglob("config.json")]
    assert all((p / "model.safetensors").is_file() for p in saved)  # no half-written checkpoint


def test_shutting_down_mid_training_leaves_no_thread_serving(tmp_path):
    """The cause of that crash, checked where it does not depend on luck: after `app.shut_down()`
    in the middle of a training, no thread still runs the web server's event loop (one did, past
    Gradio's 5 s wait, into the interpreter's teardown), the worker is gone, and the user was told."""
    with running_app(BABYBERT_RUNS_DIR=str(tmp_path)) as (app, url):
        client = Client(url, verbose=False)
        job = client.submit(**TRAIN, api_name="/train")
        while not job.outputs():
            time.sleep(0.05)
        (worker,) = app.WORKERS._all
        app.shut_down()
        assert not app.demo.server.thread.is_alive(), "the web server's thread outlived the shutdown"
        assert not worker.alive()
        with pytest.raises(Exception, match="Training failed: the training process ended"):
            job.result()
        client.close()


def test_the_test_suites_temporary_folders_go_when_its_process_ends():
    """tests/conftest.py gives each process that imports it (a test run, a torchrun rank) its own
    Hugging Face home and token-store cache in the system's temp folder: gone when that process ends."""
    code = ("import os, pathlib, tests.conftest\n"
            "for name in ('HF_HOME', 'BABYBERT_CACHE'):\n"
            "    folder = pathlib.Path(os.environ[name]); (folder / 'used').write_text('x'); print(folder)\n")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    folders = [Path(line) for line in result.stdout.split()]
    assert [p.name.rsplit("-", 1)[0] for p in folders] == ["babybert-tests-hf", "babybert-tests-cache"]
    assert not [p for p in folders if p.exists()], "left in the temp folder"
