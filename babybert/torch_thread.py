"""One thread for every piece of torch work in a server (the Gradio app).

OpenMP gives each thread that runs parallel torch code its own team of busy-waiting workers. With
training on one thread and predictions on others, the teams fight over the cores: on 2 cores,
training ran at half speed (measured: 11.8k vs 22.7k tokens/s). So the app runs training *and*
predictions here, on one thread: predictions are served between training steps (milliseconds for
a tiny BERT), and several trainings advance step by step in turn.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future


class TorchThread:
    """Serves torch work on a daemon thread started at the first request, or on the main
    thread after `run_forever()` (training measured ~15% faster there than on a second thread)."""

    def __init__(self, name: str = "babybert-torch"):
        self._calls: queue.Queue = queue.Queue()
        self._jobs: list[tuple[Iterator, queue.Queue]] = []
        self._wake = threading.Event()
        self._name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run_forever(self) -> None:
        """Serve on the calling thread (the main one) until the process ends."""
        with self._lock:
            assert self._thread is None, "already serving"
            self._thread = threading.current_thread()
        self._loop()

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def call(self, fn: Callable, *args, **kwargs):
        """Run fn on the torch thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        self._ensure_started()
        future: Future = Future()
        self._calls.put((fn, args, kwargs, future))
        self._wake.set()
        return future.result()

    def start(self, make_job: Callable[[], Iterator]) -> queue.Queue:
        """Advance the generator `make_job()` on the torch thread, one item per turn. Its items
        arrive on the returned queue as ("item", x), then ("error", exc) or ("end", None)."""
        out: queue.Queue = queue.Queue()
        self.call(lambda: self._jobs.append((make_job(), out)))
        return out

    def _loop(self) -> None:
        while True:
            while True:
                try:
                    fn, args, kwargs, future = self._calls.get_nowait()
                except queue.Empty:
                    break
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as e:  # handed to the caller
                    future.set_exception(e)
            for job in list(self._jobs):
                self._step(job)
            if not self._jobs and self._calls.empty():
                self._wake.wait()
                self._wake.clear()

    def _step(self, job) -> None:
        generator, out = job
        try:
            out.put(("item", next(generator)))
        except StopIteration:
            self._jobs.remove(job)
            out.put(("end", None))
        except Exception as e:  # a failed run ends; the thread, the server and other runs go on
            self._jobs.remove(job)
            out.put(("error", e))
