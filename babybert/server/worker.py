"""Training in a separate, warm process, for servers such as the Gradio app.

Why a process: inside a web server's process, training shares the interpreter lock with the
server's threads and the CPU cores with their OpenMP thread teams. Measured on 2 cores, an idle
Gradio server in the same process cost training 13-20% of its speed, and streaming events to it
another 10-15%. Why warm: starting Python and importing torch takes ~5 s, longer than the first
point of a live plot may take to appear.

    worker = Worker()                            # starts a Python process that waits for work
    for events in worker.train(docs, model_config, config, out_dir="ckpt", stop=stop_event):
        ...                                      # lists of babybert.train's events
    stop_event.set()                             # from any thread: stops, evaluates and saves

Events arrive in order, in lists: Progress events are gathered for a quarter of a second, so
that the server is woken up rarely; Start, the first step and the step before an evaluation go
at once, an evaluation's results together. `Start` and `Done` carry no live model or tokenizer (they stay in the
worker): load `Done.checkpoint` to use the result.
"""

from __future__ import annotations

import logging
import gc
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection, Listener

from babybert.errors import UserError
from babybert.paths import ROOT

log = logging.getLogger(__name__)

SEND_EVERY = 0.25  # seconds between batches of Progress events
WORKER_NICENESS = 4  # BABYBERT_WORKER_NICE: training yields the cores to the server's requests, so a user's
# fill-mask is not kept waiting behind another user's training (bench --only load, p95: nice 0 229 ms, 4 114 ms)


class TrainingFailed(RuntimeError):
    """Training raised an error that is not the user's (a bug); its traceback is in the worker's log."""


class WorkerDied(RuntimeError):
    pass


SHUTTING_DOWN = "the server is shutting down"


class Worker:
    """One warm training process, running one training at a time. What the process writes on its
    stderr (warnings, a failed run's traceback) is written on this process's `sys.stderr`, line by
    line, as it comes: where the server's log goes, and where a test capturing stderr sees it."""

    def __init__(self):
        authkey = secrets.token_bytes(32)
        with Listener(authkey=authkey) as listener:
            package_root = str(ROOT)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
            self.process = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, str(listener.address)],
                                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            self._stderr = threading.Thread(target=_forward, args=(self.process.stderr,), daemon=True,
                                            name=f"babybert-worker-{self.process.pid}-stderr")
            self._stderr.start()
            self.process.stdin.write(authkey.hex().encode() + b"\n")  # a secret never put on a command line
            self.process.stdin.close()
            self.conn: Connection = listener.accept()  # within ~0.1 s: the child connects before importing torch
        self._busy = threading.Lock()
        self._trainer: threading.Thread | None = None  # the thread in train(), reading the connection

    def alive(self) -> bool:
        return self.process.poll() is None

    def busy(self) -> bool:
        return self._busy.locked()

    def train(self, documents, model_config, config, *, out_dir, init=None, stop: threading.Event | None = None,
              corpus_name: str = "corpus", probes=(), tokenizer=None, poll: float = 0.1,
              heartbeat: float | None = None, corpus_source: str | None = None) -> Iterator:
        """`babybert.train` in the worker, its events yielded here in lists. `init` is a
        checkpoint path. With `heartbeat`, an empty list comes when nothing has arrived for that
        many seconds, a clock for a live view (and a sign of an evaluation). Closing the iterator
        early stops the training and frees the worker."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this worker is already training")
        self._trainer = threading.current_thread()
        stop = stop or threading.Event()
        ended, stop_sent = False, False
        try:
            job = {"documents": documents, "model_config": model_config, "config": config, "out_dir": str(out_dir),
                   "init": str(init) if init else None, "corpus_name": corpus_name, "probes": list(probes),
                   "tokenizer": tokenizer,  # a published tokenizer (see hub.get_tokenizer): it pickles
                   "corpus_source": corpus_source}
            self._send("train", job)
            last = time.monotonic()
            while True:
                if stop.is_set() and not stop_sent:
                    self._send("stop")
                    stop_sent = True
                if not self._wait(poll):
                    if heartbeat and time.monotonic() - last >= heartbeat:
                        last = time.monotonic()
                        yield []
                    continue
                kind, payload = self._recv()
                if kind == "events":
                    last = time.monotonic()
                    yield payload
                elif kind == "error":
                    ended = True
                    error_type, message, retired = payload
                    if retired:  # the process ran out of memory and is quitting: the pool replaces it
                        self.close()
                    raise (UserError if error_type == "UserError" else TrainingFailed)(message)
                elif kind == "end":
                    ended = True
                    return
        finally:
            if not ended and self.alive():  # abandoned mid-run: stop it and wait for the worker to be free
                self._finish_abandoned(stop_sent)
            if not self.alive():  # ended, maybe by close() from another thread, which left the connection to us
                self.conn.close()
            self._trainer = None
            self._busy.release()

    def _wait(self, timeout: float) -> bool:
        try:
            if self.conn.poll(timeout):
                return True
        except (EOFError, OSError):
            raise WorkerDied("the training process ended unexpectedly") from None
        if not self.alive():
            raise WorkerDied(f"the training process ended unexpectedly (exit code {self.process.returncode}); "
                             "if the model was large, it may have run out of memory")
        return False

    def _send(self, kind: str, payload=None) -> None:
        try:
            self.conn.send((kind, payload))
        except OSError:
            raise WorkerDied(f"the training process ended unexpectedly (exit code {self.process.poll()})") from None

    def _recv(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied("the training process ended unexpectedly") from None

    def _finish_abandoned(self, stop_sent: bool, timeout: float = 60.0) -> None:
        try:
            if not stop_sent:
                self.conn.send(("stop", None))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.conn.poll(0.2) and self.conn.recv()[0] in ("end", "error"):
                    return
            log.warning("the training process did not stop within %.0f s; ending it", timeout)
        except (EOFError, OSError):
            pass
        self.close()

    def close(self, wait: float = 5.0) -> None:
        """Ask the process to quit, and end it if it has not within `wait` seconds (0: at once).
        The connection is closed here, unless another thread is in train(): that one reads the end
        of it (WorkerDied) and closes it, as a read under which it is closed can fail in any way."""
        try:
            self.conn.send(("quit", None))
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._trainer in (None, threading.current_thread()):
            self.conn.close()
        self._stderr.join(timeout=5)  # the process's last lines, up to the end of its stderr


class WorkerPool:
    """`size` warm workers, started on first use (or by `start()`); a dead one is replaced, and so
    is one that ran out of memory (it quits after saying so: see babybert.training.memory.OutOfMemory)."""

    def __init__(self, size: int = 1):
        self.size = size
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []  # idle and training
        self._started = self._closed = False
        self._lock = threading.RLock()

    def start(self) -> None:
        with self._lock:
            if not self._started and not self._closed:
                self._started = True
                for _ in range(self.size):
                    self._idle.put(self._new())

    def _new(self) -> Worker:
        if self._closed:
            raise WorkerDied(SHUTTING_DOWN)
        worker = Worker()
        with self._lock:
            closed = self._closed
            if not closed:
                self._all = [w for w in self._all if w.alive()] + [worker]
        if closed:  # close() ran while it started: close() did not see it, so it is ended here
            worker.close(wait=0)
            raise WorkerDied(SHUTTING_DOWN)
        return worker

    @contextmanager
    def worker(self) -> Iterator[Worker]:
        """A free worker, waiting for one if all are training; once the pool is closed, WorkerDied."""
        if self._closed:
            raise WorkerDied(SHUTTING_DOWN)
        self.start()
        worker = self._idle.get()
        if self._closed:
            self._idle.put(worker)  # for the next one waiting, who is told the same
            raise WorkerDied(SHUTTING_DOWN)
        if not worker.alive():
            worker = self._new()
        try:
            yield worker
        finally:
            if worker.alive() or self._closed:  # (closed: it wakes whoever waits for a worker)
                self._idle.put(worker)
            else:  # a dead one is replaced
                self._idle.put(self._new())

    def close(self) -> None:
        """End every worker: idle ones are asked to quit; training ones are ended at once (the server
        is going away, and with it the sessions their models were for; a checkpoint is written to a
        temporary folder and renamed into place, so none is left half-written)."""
        with self._lock:
            workers, self._all, self._closed = self._all, [], True
        for worker in workers:
            worker.close(wait=0 if worker.busy() else 5.0)


def _forward(stream) -> None:
    """A worker's stderr, line by line, to `sys.stderr` (looked up at each line: a test may have
    replaced it), until the process ends. Read to the end whatever happens, so that the process
    never blocks on a full pipe."""
    with stream:
        for line in iter(stream.readline, b""):
            try:
                sys.stderr.write(line.decode(errors="replace"))
                sys.stderr.flush()
            except (OSError, ValueError):  # no stderr any more (closed): the line is lost, not the worker
                pass


# ----------------------------------------------------------------------------- the worker process

class _StopMessage:
    """`stop` for train(): set once the server has sent ("stop", None). Polling the connection
    costs a few microseconds per training step."""

    def __init__(self, conn: Connection):
        self.conn, self._set = conn, False

    def is_set(self) -> bool:
        try:
            if not self._set and self.conn.poll():
                kind, _ = self.conn.recv()
                self._set = kind in ("stop", "quit")
        except (EOFError, OSError):  # the server has gone: stop, and save what was learned
            self._set = True
        return self._set


def _warm_up() -> None:
    """Import what the first training would import lazily: creating an optimizer pulls in
    torch._dynamo, 2.6 s measured."""
    import torch

    import babybert.training.loop  # noqa: F401
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], fused=False)


def without_live_model(event):
    """The event as another process can receive it: Start and Done without the model and
    tokenizer (load Done.checkpoint instead)."""
    from babybert.training.events import Done, Start

    return replace(event, model=None, tokenizer=None) if isinstance(event, (Start, Done)) else event


def _run(conn: Connection, job: dict) -> bool:
    """One training, its events sent as they come. True when this process must not train again:
    it ran out of memory (see babybert.training.memory.OutOfMemory)."""
    from babybert.training.memory import MEMORY_ADVICE, OutOfMemory, out_of_memory
    from babybert.training.events import Eval, Progress, Start
    from babybert.training.loop import train

    batch, last_sent, eval_every = [], 0.0, job["config"].eval_every
    try:
        for event in train(stop=_StopMessage(conn), **job):
            event = without_live_model(event)  # the server loads the saved checkpoint
            if isinstance(event, Progress) and any(isinstance(e, Eval) for e in batch):
                conn.send(("events", batch))  # an evaluation's results (Eval, Sample, Probes), together
                batch = []
            batch.append(event)
            now = time.monotonic()
            if isinstance(event, Start) or (isinstance(event, Progress) and (
                    event.step == 1 or now - last_sent >= SEND_EVERY
                    or (eval_every and event.step % eval_every == 0))):  # an evaluation comes next: send first
                conn.send(("events", batch))
                batch, last_sent = [], now
        if batch:
            conn.send(("events", batch))
        conn.send(("end", None))
    except OutOfMemory as e:
        conn.send(("error", ("UserError", str(e), True)))
        return True
    except UserError as e:  # a user mistake the library explains
        conn.send(("error", ("UserError", str(e), False)))
    except Exception as e:
        if out_of_memory(e):  # outside a training step (the model, the optimizer, an evaluation)
            conn.send(("error", ("UserError", f"training ran out of memory; {MEMORY_ADVICE}", True)))
            return True
        log.exception("a bug: training failed")  # the traceback, in the server's log
        conn.send(("error", ("bug", f"{type(e).__name__}: {e}", False)))
    return False


# connect first (milliseconds), then import torch and babybert (seconds) while the server goes on
_BOOTSTRAP = """import sys
from multiprocessing.connection import Client
conn = Client(sys.argv[1], authkey=bytes.fromhex(sys.stdin.readline().strip()))
from babybert.server.worker import serve
serve(conn)
"""


def predictions_on_one_thread() -> None:
    """Set up the server's prediction thread: its predictions (a sentence or two, a tiny model) run on
    one core. Two OpenMP threads would wait, at each of a forward pass's ~100 operations, for a core
    the training worker holds (bench --only load, a browser's fill-mask p95 while another user trains:
    140 ms on two threads, 22 ms on one)."""
    import torch
    torch.set_num_threads(1)  # this thread's own setting: the worker processes keep theirs


def niceness(env=os.environ) -> int:
    raw = env.get("BABYBERT_WORKER_NICE", str(WORKER_NICENESS))
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 19:
        raise UserError(f"environment variable BABYBERT_WORKER_NICE must be a whole number from 0 to 19, got {raw!r}")
    return value


def serve(conn: Connection) -> None:
    """The worker's loop: run the trainings the server sends until it quits or goes away."""
    logging.basicConfig(level=logging.WARNING, format="babybert worker: %(message)s")
    os.nice(niceness())
    _warm_up()
    try:
        while True:
            kind, job = conn.recv()
            if kind == "quit":
                return
            if kind == "train":
                if _run(conn, job):
                    return  # out of memory: the server starts a fresh process in its place
                # a failed run's model, optimizer and activations hang on its exception's traceback,
                # in reference cycles: free them now, not whenever the collector next runs
                gc.collect()
    except (EOFError, OSError):  # the server has gone
        return
