"""What `train()` yields as it goes: Start, Progress (every step), Eval and Sample (every
evaluation), Probes, and Done (which carries the model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from babybert.analysis.evaluate import Metrics
from babybert.analysis.predict import MaskedExample
from babybert.bert.model import BabyBert
from babybert.data.corpus import CorpusStats


@dataclass
class Start:
    train: CorpusStats  # the training split (tokens are WordPiece pieces)
    held_out: CorpusStats  # the evaluation split, never trained on
    num_parameters: int
    vocab_size: int
    total_steps: int | None  # None when only a time budget bounds training
    device: str
    model: BabyBert = field(repr=False)  # the model being trained (changes in place as training goes)
    tokenizer: object = field(repr=False)
    step: int = 0  # the step training starts after: 0, or where a resumed run was saved
    token_store: str | None = None  # where a corpus file's pieces are memory-mapped from (store.py)


@dataclass
class Progress:
    step: int
    epoch: float  # epochs done, fractional
    mlm_loss: float | None
    nsp_loss: float | None
    loss: float
    lr: float
    tokens_per_sec: float
    elapsed: float  # seconds since training started
    fraction: float  # 0..1 of the way to the first limit (epochs, steps or time)


@dataclass
class Eval:
    step: int
    metrics: Metrics
    final: bool = False


@dataclass
class Sample:
    step: int
    example: MaskedExample


@dataclass
class Probes:
    step: int
    rows: list[list[str]]  # [probe, the model's answer now], see predict.run_probes


@dataclass
class Done:
    step: int
    metrics: Metrics
    reason: str  # "epochs" | "max_steps" | "time_budget" | "stopped"
    elapsed: float
    checkpoint: Path | None
    model: BabyBert = field(repr=False)
    tokenizer: object = field(repr=False)
    info: dict = field(repr=False, default_factory=dict)  # what babybert.json holds


Event = Start | Progress | Eval | Sample | Probes | Done
