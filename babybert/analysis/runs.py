"""Runs side by side: what each run's settings were, what changed between them, and what it scored.

Change one setting, train again, and see the effect: this is how people learn what a hyperparameter
does. A run is read from what a checkpoint records (babybert.json), so the app's runs of a session
and the CLI's checkpoints on disk are compared by the same code.

    runs = [Run.from_info(load_checkpoint(p).info, name=p) for p in paths]
    headers, rows = table(runs)        # the settings that differ, then the held-out metrics
    write_csv(runs, "runs.csv")        # every setting and metric
    change(runs[0], runs[1])           # "lr 2e-3 → 5e-3"
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from babybert.config import ModelConfig, TrainConfig, settings
from babybert.errors import UserError

# (key, label) of the settings a run records, in the order a table shows them: where the run started,
# then every setting declared in babybert/config.py, under its short label
RUN = (("corpus", "corpus"), ("tokenizer", "tokenizer"), ("start", "start"))
MODEL_SETTINGS = tuple((f.name, s.label) for f, s in settings(ModelConfig))
TRAIN_SETTINGS = tuple((f.name, s.label) for f, s in settings(TrainConfig))
SETTINGS = RUN + MODEL_SETTINGS + TRAIN_SETTINGS
# (key, label) of what a run measured; accuracies are shares
RESULTS = (
    ("mlm_accuracy", "MLM acc."), ("word_accuracy", "word acc."), ("nsp_accuracy", "NSP acc."),
    ("minimal_pair_accuracy", "pairs acc."),
    ("mlm_perplexity", "perplexity"), ("steps", "steps"), ("seconds", "seconds"), ("tokens_per_sec", "tokens/s"),
    ("num_parameters", "parameters"),
)
SHOWN_WHEN_ALONE = ("lr", "hidden_size", "num_hidden_layers", "batch_size", "time_budget")  # a table of one run


@dataclass
class Run:
    """One training run: its settings, its loss curve and its final held-out metrics."""
    name: str
    settings: dict
    results: dict
    history: list[dict] = field(default_factory=list, repr=False)  # {step, loss, ...} rows
    eval_history: list[dict] = field(default_factory=list, repr=False)

    @classmethod
    def from_info(cls, info: dict, name: str = "") -> Run:
        """From what a checkpoint records (babybert.json, or Done.info with "model_config" added)."""
        t, m = info.get("train_config") or {}, info.get("model_config") or {}
        metrics = info.get("metrics") or {}
        settings = {
            "corpus": (info.get("corpus") or {}).get("name"),
            "tokenizer": info.get("tokenizer") or "WordPiece on the corpus",
            "start": f"from {Path(info['init']).name}" if info.get("init") else "scratch",
            **{k: m.get(k) for k, _ in MODEL_SETTINGS},
            **{k: t.get(k) for k, _ in TRAIN_SETTINGS},
        }
        # the vocabulary asked for (a small corpus may give fewer pieces: the parameters column tells)
        settings["vocab_size"] = t.get("vocab_size", m.get("vocab_size"))
        settings["tasks"] = "+".join(x.upper() for x in t.get("tasks", ()))
        results = {**{k: metrics.get(k) for k in ("mlm_accuracy", "word_accuracy", "nsp_accuracy", "minimal_pair_accuracy",
                                                 "mlm_perplexity")},
                   "steps": info.get("steps"), "seconds": info.get("train_seconds"),
                   "tokens_per_sec": info.get("tokens_per_sec"), "num_parameters": info.get("num_parameters")}
        return cls(name or info.get("name") or "run", settings, results, list(info.get("history") or []),
                   list(info.get("eval_history") or []))


def short(value) -> str:
    """A setting as people write it: 0.002 -> 2e-3, 0.15 -> 0.15, 128 -> 128, None -> -.

    >>> [short(x) for x in (0.002, 0.0025, 0.0005, 0.15, 3.0, 128, None, "MLM")]
    ['2e-3', '2.5e-3', '5e-4', '0.15', '3', '128', '-', 'MLM']
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 0.01:
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{value:g}"
    return str(value)


def differing(runs: list[Run]) -> list[str]:
    """The settings whose values are not the same in every run, in table order."""
    return [key for key, _ in SETTINGS if len({short(r.settings.get(key)) for r in runs}) > 1]


def change(before: Run, after: Run) -> str:
    """What changed from one run to the next, as a label: "lr 2e-3 → 5e-3, batch 16 → 32"."""
    labels = dict(SETTINGS)
    parts = [f"{labels[key]} {short(before.settings.get(key))} → {short(after.settings.get(key))}"
             for key in differing([before, after])]
    return ", ".join(parts) or "same settings"


def percent(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _result(key: str, value) -> str:
    if key.endswith("accuracy"):
        return percent(value)
    if value is None:
        return "-"
    if key == "mlm_perplexity":
        return f"{value:.2f}"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: the run, the settings that differ between runs (a few main ones when
    there is only one run, or none differ), then the final held-out metrics."""
    keys = differing(runs) or list(SHOWN_WHEN_ALONE)
    labels = dict(SETTINGS)
    headers = ["run", *(labels[k] for k in keys), *(label for _, label in RESULTS)]
    rows = [[r.name, *(short(r.settings.get(k)) for k in keys), *(_result(k, r.results.get(k)) for k, _ in RESULTS)]
            for r in runs]
    return headers, rows


def write_csv(runs: list[Run], path: str | Path) -> Path:
    """Every setting and metric of every run, one row each, numbers unrounded (for a spreadsheet)."""
    path = Path(path)
    try:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["run", *(k for k, _ in SETTINGS), *(k for k, _ in RESULTS)])
            for r in runs:
                writer.writerow([r.name, *(_csv(r.settings.get(k)) for k, _ in SETTINGS),
                                 *(_csv(r.results.get(k)) for k, _ in RESULTS)])
    except OSError as e:  # a folder, a missing folder, no permission
        raise UserError(f"cannot write {path}: {e.strerror or e}; choose another --csv") from e
    return path


def _csv(value) -> str:
    return "" if value is None else str(value)


def overlays(runs: list[Run], current: dict | None = None, limit: int = 5) -> list[tuple[str, list[dict]]]:
    """(label, loss history) of the last `limit` runs, each labelled by what changed from it to
    `current` (the settings of the run being drawn), for muted curves behind it."""
    now = Run("now", current, {}) if current is not None else None
    shown = runs[-limit:]
    return [(f"{r.name}: {change(r, now)}" if now is not None else r.name, r.history) for r in shown if r.history]
