"""Training in a warm worker process (babybert/worker.py), as the app runs it."""

import threading
import time
from pathlib import Path

import pytest
import torch

from babybert import Done, Eval, Probes, Progress, Sample, Start, load_checkpoint
from babybert import train
from babybert.server.worker import Worker, WorkerDied, WorkerPool

from .conftest import TINY_MODEL, tiny_train_config


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(1)
    yield pool
    pool.close()


def flat(batches):
    return [event for batch in batches for event in batch]


def test_worker_trains_exactly_as_in_process(pool, documents, tmp_path):
    config = tiny_train_config(max_steps=40, eval_every=20)
    probes = [("the cow says [MASK].", None), ("the cow lives in the farm.", "every morning the cow says moo.")]
    with pool.worker() as worker:
        events = flat(worker.train(documents, TINY_MODEL, config, out_dir=tmp_path / "worker", probes=probes))
    local = list(train(documents, TINY_MODEL, config, out_dir=tmp_path / "local", probes=probes))
    assert [type(e) for e in events] == [type(e) for e in local]
    assert [e.loss for e in events if isinstance(e, Progress)] == [e.loss for e in local if isinstance(e, Progress)]
    assert [e.rows for e in events if isinstance(e, Probes)] == [e.rows for e in local if isinstance(e, Probes)]
    start, done = events[0], events[-1]
    assert isinstance(start, Start) and start.model is None  # the live model stays in the worker
    assert isinstance(done, Done) and done.model is None and done.metrics == local[-1].metrics
    ours, theirs = load_checkpoint(done.checkpoint).model.state_dict(), local[-1].model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_stop_ends_promptly_and_keeps_the_model(pool, documents, tmp_path):
    stop = threading.Event()
    with pool.worker() as worker:
        seen = []
        for batch in worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=100_000), out_dir=tmp_path / "run",
                                  stop=stop):
            seen += batch
            if sum(isinstance(e, Progress) for e in seen) >= 20:
                stop.set()
    done = seen[-1]
    assert isinstance(done, Done) and done.reason == "stopped" and done.step < 1000
    assert isinstance(seen[-3], Eval) and isinstance(seen[-2], Sample)  # evaluated before saving
    assert load_checkpoint(done.checkpoint).info["steps"] == done.step


def test_an_abandoned_run_frees_the_worker(pool, documents, tmp_path):
    with pool.worker() as worker:
        run = worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=100_000), out_dir=tmp_path / "a")
        next(run)
        run.close()  # the browser tab went away: the generator is closed mid-run
        events = flat(worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=5), out_dir=tmp_path / "b"))
    assert isinstance(events[-1], Done) and events[-1].step == 5


def test_user_mistakes_come_back_as_value_errors(pool, documents, tmp_path):
    with pool.worker() as worker:
        with pytest.raises(ValueError, match="vocab_size must be at least"):
            flat(worker.train(documents, TINY_MODEL, tiny_train_config(vocab_size=2), out_dir=tmp_path / "x"))
        with pytest.raises(ValueError, match="the corpus has 1 sentence"):
            flat(worker.train([["one sentence."]], TINY_MODEL, tiny_train_config(), out_dir=tmp_path / "y"))


def test_a_dead_worker_is_reported_and_replaced(pool, documents, tmp_path):
    with pool.worker() as worker:
        worker.process.kill()
        worker.process.wait()
        with pytest.raises(WorkerDied, match="ended unexpectedly"):
            flat(worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=5), out_dir=tmp_path / "x"))
    with pool.worker() as fresh:
        assert fresh is not worker and fresh.alive()
        assert isinstance(flat(fresh.train(documents, TINY_MODEL, tiny_train_config(max_steps=5), out_dir=tmp_path / "y"))[-1], Done)


def test_worker_priority_comes_from_the_environment():
    from babybert.server.worker import WORKER_NICENESS, niceness
    assert niceness({}) == WORKER_NICENESS == 4
    assert niceness({"BABYBERT_WORKER_NICE": "0"}) == 0
    for bad in ("-5", "20", "low"):
        with pytest.raises(ValueError, match="BABYBERT_WORKER_NICE must be a whole number from 0 to 19"):
            niceness({"BABYBERT_WORKER_NICE": bad})


def test_the_worker_process_runs_at_a_lower_priority():
    """So that the server's requests (a user's fill-mask) come before another user's training."""
    worker = Worker()
    try:
        deadline = time.monotonic() + 30
        nice = None
        while time.monotonic() < deadline:
            nice = int(Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
            if nice == 4:
                break
            time.sleep(0.1)
        assert nice == 4
    finally:
        worker.close()


def test_closing_the_pool_ends_a_training_worker_at_once(documents, tmp_path):
    """The server stops (SIGTERM) while a user trains: the worker is ended now, not after its run,
    and no half-written checkpoint is left where the run would have saved."""
    pool, first, outcome = WorkerPool(1), threading.Event(), []
    out = tmp_path / "run"

    def user():
        try:
            with pool.worker() as worker:
                for _ in worker.train(documents, TINY_MODEL, tiny_train_config(max_steps=100_000), out_dir=out):
                    first.set()
        except WorkerDied as e:
            outcome.append(e)

    thread = threading.Thread(target=user)
    thread.start()
    assert first.wait(60)
    (busy,) = pool._all
    began = time.monotonic()
    pool.close()
    assert time.monotonic() - began < 3 and not busy.alive()
    thread.join(30)
    assert outcome and "ended unexpectedly" in str(outcome[0])  # the user's view is told, if anyone still listens
    assert not out.exists()
    assert pool._all == []  # no worker started in its place: the server is going away
