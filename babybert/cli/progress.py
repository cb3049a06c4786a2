"""Progress on a terminal and in a log: tqdm bars when stderr is a terminal, a plain line every
few seconds when it is a file or a pipe."""

from __future__ import annotations

import time


class PrepareBars:
    """The progress of reading and tokenizing a corpus file: a bar per stage on a terminal (shown
    once a stage takes over a second), else a line every 10 s and one when a slow stage is done."""

    UNITS = {"reading": ("B", True), "tokenizing": ("sentence", False)}

    def __init__(self, file, every: float = 10.0):
        self.file, self.every, self.stage, self.bar = file, every, None, None
        self.t0 = self.last = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        if stage != self.stage:
            self.close()
            self.stage, self.t0 = stage, time.monotonic()
            self.last = self.t0
            unit, scale = self.UNITS.get(stage, ("", False))
            if self.file.isatty():
                self.bar = tqdm(total=total, desc=stage, unit=unit, unit_scale=scale, dynamic_ncols=True, file=self.file,
                                mininterval=0.5, delay=1.0, bar_format=None if unit else "{desc}…")
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif time.monotonic() - self.last >= self.every and total:
            self.last = time.monotonic()
            print(f"{stage}: {done / total:.0%}", file=self.file, flush=True)

    def close(self, finished: bool = True) -> None:
        if self.bar is not None:
            self.bar.close()
        elif finished and self.stage is not None and time.monotonic() - self.t0 >= 1.0:
            print(f"{self.stage}: done in {time.monotonic() - self.t0:.1f} s", file=self.file, flush=True)
        self.bar, self.stage = None, None


class PlainProgress:
    """A progress bar's stand-in when stderr is a file or a pipe: one plain line every `every` seconds,
    not a bar redrawn several times a second (670 KB of log for a 10-minute run)."""

    def __init__(self, total: int | None, file, every: float = 10.0, initial: int = 0):
        self.total, self.file, self.every = total, file, every
        self.n, self.shown, self.text, self.last = initial, initial, "", time.monotonic()

    def update(self, k: int) -> None:
        self.n += k

    def set_postfix_str(self, text: str) -> None:
        self.text = text
        if time.monotonic() - self.last >= self.every:
            self._line()

    def write(self, text: str, file=None) -> None:
        print(text, file=file or self.file, flush=True)

    def close(self) -> None:  # the last step, unless it was just printed
        if self.n != self.shown:
            self._line()

    def _line(self) -> None:
        self.last, self.shown = time.monotonic(), self.n
        done = f"/{self.total:,} ({self.n / self.total:.0%})" if self.total else ""
        self.write(f"step {self.n:,}{done} | {self.text}")
