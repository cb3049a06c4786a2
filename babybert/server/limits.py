"""The caps of a public deployment (corpus size, model size, training time, trainings at once),
read from environment variables with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from babybert.config import as_number
from babybert.errors import UserError


@dataclass
class Limits:
    """Caps for a public deployment, from environment variables with safe defaults."""
    max_corpus_chars: int = 2_000_000  # BABYBERT_MAX_CORPUS_CHARS
    max_parameters: int = 20_000_000  # BABYBERT_MAX_PARAMETERS
    max_train_seconds: int = 600  # BABYBERT_MAX_TRAIN_SECONDS
    concurrent_trainings: int = 1  # BABYBERT_CONCURRENT_TRAININGS: 2 CPU cores train one model well, two badly
    runs_dir: Path = Path("runs/app")  # BABYBERT_RUNS_DIR: where session checkpoints are written
    session_ttl: int = 6 * 3600  # BABYBERT_SESSION_TTL: seconds before an idle session and its files are deleted

    @classmethod
    def from_env(cls, env=os.environ) -> Limits:
        def number(name, default):
            raw = env.get(name)
            if raw is None:
                return default
            try:
                value = as_number(raw.strip(), f"environment variable {name}", whole=True)
            except UserError:
                raise UserError(f"environment variable {name} must be a whole number, got {raw!r}") from None
            if value <= 0:
                raise UserError(f"environment variable {name} must be positive, got {value}")
            return value
        d = cls()
        return cls(number("BABYBERT_MAX_CORPUS_CHARS", d.max_corpus_chars), number("BABYBERT_MAX_PARAMETERS", d.max_parameters),
                   number("BABYBERT_MAX_TRAIN_SECONDS", d.max_train_seconds),
                   number("BABYBERT_CONCURRENT_TRAININGS", d.concurrent_trainings),
                   Path(env.get("BABYBERT_RUNS_DIR", str(d.runs_dir))), number("BABYBERT_SESSION_TTL", d.session_ttl))

    def describe(self) -> str:
        return (f"Limits on this server: corpus up to {self.max_corpus_chars:,} characters, models up to "
                f"{self.max_parameters:,} parameters, training up to {self.max_train_seconds} s, "
                f"{plural(self.concurrent_trainings, 'training')} at a time (others wait in a queue). Beyond these, or "
                "for several processes or GPUs and runs of hours, the command line takes over: "
                "`python -m babybert train` (with `torchrun`, `--save-every` and `--resume`; see docs/scaling.md).")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
