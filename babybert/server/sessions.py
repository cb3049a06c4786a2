"""A server's sessions: one per browser tab, each with its models, its run and its own folder;
idle ones forgotten and their files deleted."""

from __future__ import annotations
import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from babybert.bert.checkpoint import Checkpoint
from babybert.analysis.runs import Run


@dataclass
class Session:
    """One browser tab's world: its models and its training run."""
    trained: Checkpoint | None = None  # the model this session trained last
    pulled: Checkpoint | None = None  # the model this session pulled from the Hub
    held_out: dict[str, list[list[str]]] = field(default_factory=dict)  # model -> held-out documents of its corpus
    latest: str | None = None  # "trained" or "pulled": the model made current last
    stop: threading.Event = field(default_factory=threading.Event)
    training: bool = False
    runs: list[Run] = field(default_factory=list)  # this session's finished runs, oldest first (at most MAX_RUNS)
    dataset: tuple[str, str, str] | None = None  # (text, name, description) of the Hub dataset loaded last
    last_used: float = field(default_factory=time.monotonic)


class Sessions:
    """Sessions by Gradio's session hash, each with its own directory under `root`. Idle ones are
    forgotten after `ttl` seconds; a forgotten session's directory is deleted (at once, or when its
    training ends)."""

    def __init__(self, root: Path, ttl: float = 6 * 3600):
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.root, self.ttl = Path(root), ttl

    def directory(self, key: str) -> Path:
        """Where the session's files go. The key comes from the client, so it never becomes a path
        itself: '../../etc' must not lead anywhere."""
        return self.root / hashlib.sha256(key.encode()).hexdigest()[:24]

    def get(self, key: str) -> Session:
        now = time.monotonic()
        with self._lock:
            for k in [k for k, s in self._sessions.items() if now - s.last_used > self.ttl and not s.training]:
                self._forget(k)
            session = self._sessions.setdefault(key, Session())
            session.last_used = now
            return session

    def drop(self, key: str) -> None:
        with self._lock:
            self._forget(key)

    def trainings(self) -> int:
        """How many sessions are training now."""
        with self._lock:
            return sum(s.training for s in self._sessions.values())

    def release(self, key: str) -> None:
        """After a training: the session's idle time starts now; if it was forgotten meanwhile
        (its tab closed), delete what the run wrote."""
        with self._lock:
            if key in self._sessions:
                self._sessions[key].last_used = time.monotonic()
            else:
                shutil.rmtree(self.directory(key), ignore_errors=True)

    def _forget(self, key: str) -> None:
        session = self._sessions.pop(key, None)
        if session is not None:
            session.stop.set()  # a closed tab stops its training
        if session is None or not session.training:
            shutil.rmtree(self.directory(key), ignore_errors=True)


MAX_RUNS = 20  # a session's runs kept for comparison; the oldest go first


def add_run(session: Session, info: dict) -> Run:
    """Keep a finished run (what its checkpoint records) for the runs table and plot."""
    number = int(session.runs[-1].name.split()[-1]) + 1 if session.runs else 1
    run = Run.from_info(info, name=f"run {number}")
    session.runs.append(run)
    del session.runs[:-MAX_RUNS]
    return run
