"""Training's numbers for an experiment tracker: TensorBoard or Trackio (`train --report-to`).

The scalars are those of the live plot: the losses and learning rate at each step, the held-out
metrics at each evaluation. Both trackers are optional dependencies, imported only when asked for.

    log, close = open_reporter("tensorboard", name="my-run", settings={...}, logging_dir="runs/my-run")
    for event in train(...):
        log(event)
    close()
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from babybert.errors import UserError
from babybert.training.events import Eval, Progress

REPORTERS = ("tensorboard", "trackio")  # each is also the name of the package it needs
TRACKIO_PROJECT = "babybert"


def scalars(event) -> tuple[int, dict[str, float]] | None:
    """(step, {name: value}) for the events a tracker shows; None for the others."""
    if isinstance(event, Progress):
        values = {"train/loss": event.loss, "train/mlm_loss": event.mlm_loss, "train/nsp_loss": event.nsp_loss,
                  "train/lr": event.lr, "train/tokens_per_sec": event.tokens_per_sec}
    elif isinstance(event, Eval):
        values = {f"eval/{k}": v for k, v in event.metrics.to_dict().items()
                  if k in ("mlm_accuracy", "mlm_loss", "mlm_perplexity", "word_accuracy", "nsp_accuracy",
                           "minimal_pair_accuracy")}
    else:
        return None
    return event.step, {k: float(v) for k, v in values.items() if v is not None}


def open_reporter(kind: str, *, name: str, settings: dict,
                  logging_dir: str | Path | None = None) -> tuple[Callable[[object], None], Callable[[], None]]:
    """(log, close): `log(event)` sends an event's scalars to the tracker; `close()` flushes it.
    TensorBoard writes event files to `logging_dir` (default: PyTorch's, runs/DATE_HOST); Trackio
    to its local database ($TRACKIO_DIR, default ~/.cache/huggingface/trackio), project "babybert"."""
    if kind not in REPORTERS:
        raise UserError(f"--report-to {kind!r}: choose one of {', '.join(REPORTERS)}")
    try:
        if kind == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter
        else:
            import trackio
    except ImportError:
        raise UserError(f"--report-to {kind} needs the {kind} package: "
                        f"pip install \"babybert[{kind}]\"") from None

    if kind == "tensorboard":
        writer = SummaryWriter(log_dir=str(logging_dir) if logging_dir else None, comment=f"_{name}")
        writer.add_text("settings", "\n".join(f"    {k}: {v}" for k, v in settings.items()))  # (indented: as code)

        def log(event) -> None:
            found = scalars(event)
            if found:
                for key, value in found[1].items():
                    writer.add_scalar(key, value, found[0])

        return log, writer.close

    with contextlib.redirect_stdout(sys.stderr):  # trackio prints; stdout may carry --json events
        run = trackio.init(project=TRACKIO_PROJECT, name=name, config=settings, embed=False)

    def log(event) -> None:
        found = scalars(event)
        if found:
            run.log(found[1], step=found[0])

    def close() -> None:
        with contextlib.redirect_stdout(sys.stderr):
            trackio.finish()  # (the module's: it also forgets the run, which trackio would otherwise
            # finish again at exit, printing to stdout)

    return log, close
