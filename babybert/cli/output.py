"""What the CLI prints about training and its results: one line per event for people, a JSON
object per event for programs (--json)."""

from __future__ import annotations

import shlex
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

from babybert.training.events import Done


def event_to_json(event) -> dict:
    if isinstance(event, Done):
        d = {"step": event.step, "metrics": event.metrics.to_dict(), "reason": event.reason,
             "elapsed": event.elapsed, "checkpoint": str(event.checkpoint) if event.checkpoint else None}
    else:  # every field but the live model and tokenizer
        d = {f.name: _jsonable(getattr(event, f.name)) for f in fields(event) if f.name not in ("model", "tokenizer")}
    return {"event": type(event).__name__.lower(), **d}


def _jsonable(value):
    return asdict(value) if is_dataclass(value) else value


def describe_start(event) -> str:
    tr, ho = event.train, event.held_out
    return (f"corpus: {tr.documents + ho.documents} documents, {tr.sentences + ho.sentences} sentences "
            f"({tr.documents} documents / {tr.tokens:,} tokens to train on, {ho.documents} held out)\n"
            f"model: {event.num_parameters:,} parameters, vocabulary {event.vocab_size:,}, device {event.device}"
            + (f"\ntoken store: {event.token_store}" if event.token_store else "")
            + (f"\nresuming after step {event.step:,}" if event.step else ""))


def describe_metrics(m) -> str:
    parts = []
    if m.mlm_accuracy is not None:
        parts.append(f"MLM acc {m.mlm_accuracy:.1%} (baseline {m.baseline_accuracy:.1%}), ppl {m.mlm_perplexity:.2f}")
    if m.word_accuracy is not None:
        parts.append(f"word acc {m.word_accuracy:.1%}")
    if m.nsp_accuracy is not None:
        parts.append(f"NSP acc {m.nsp_accuracy:.1%}")
    if m.minimal_pair_accuracy is not None:
        parts.append(f"minimal pairs {m.minimal_pair_accuracy:.1%} of {m.minimal_pairs:,}")
    return ", ".join(parts) or "nothing to measure"


def describe_example(ex) -> str:
    guesses = " ".join(f"{p[0].token if p else '?'}{'✓' if p and p[0].token == t else '✗'}" for p, t in zip(ex.predictions, ex.truth))
    return f"'{ex.text}'  truth: {' '.join(ex.truth)}  model: {guesses}"


def describe_done(event, out: Path) -> str:
    reasons = {"epochs": "all epochs done", "max_steps": "max steps reached", "time_budget": "time budget used",
               "stopped": "stopped on request"}
    return (f"finished after {event.step} steps in {event.elapsed:.0f}s ({reasons[event.reason]})\n"
            f"held-out: {describe_metrics(event.metrics)}\n"
            f"checkpoint: {event.checkpoint}\n"
            f"try it:  python -m babybert fill-mask {shlex.quote(str(out))} \"your sentence with a [MASK] .\"")
