"""What the app shows, made from the library's results: the Train tab's live view (status, plot,
metrics, samples) updated event by event, and the Hub tab's summary of a pulled model."""

from __future__ import annotations
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from huggingface_hub import ModelCard
from babybert.bert.checkpoint import Checkpoint
from babybert.analysis.grammar import MinimalPair, Verdict
from babybert.analysis.plots import LossPlot
from babybert.training.events import Done, Eval, Probes, Progress, Sample, Start


@dataclass
class TrainView:
    """Everything the Train tab shows, updated event by event."""
    history: list[dict] = field(default_factory=list)
    eval_history: list[dict] = field(default_factory=list)
    samples: list[list[str]] = field(default_factory=list)
    probe_rows: list[list[str]] = field(default_factory=list)
    status: str = "preparing: tokenizer and data…"
    start: Start | None = None
    done: Done | None = None
    fraction: float = 0.0  # of the way to the first limit
    pause: str = ""  # why no step moves (an evaluation), while it lasts
    plot: LossPlot = field(default_factory=lambda: LossPlot("Pretraining loss (live)", dpi=80), repr=False)

    def update(self, event) -> None:
        self.pause = ""
        if isinstance(event, Start):
            self.start = event
            self.status = (f"training {event.num_parameters:,} parameters on {event.train.sentences:,} sentences "
                           f"({event.train.tokens:,} tokens), vocabulary {event.vocab_size:,}, device {event.device}")
        elif isinstance(event, Progress):
            self.fraction = event.fraction
            self.history.append({"step": event.step, "loss": event.loss, "mlm_loss": event.mlm_loss,
                                 "nsp_loss": event.nsp_loss, "lr": event.lr})
            left = event.elapsed / event.fraction - event.elapsed if event.fraction > 0 else float("nan")
            self.status = (f"step **{event.step:,}** · epoch {event.epoch:.2f} · loss {event.loss:.3f} · "
                           f"{event.tokens_per_sec:,.0f} tokens/s · {event.elapsed:.0f} s elapsed · ~{left:.0f} s left")
        elif isinstance(event, Eval):
            self.eval_history.append({"step": event.step, **event.metrics.to_dict()})
        elif isinstance(event, Sample):
            ex = event.example
            guesses = " ".join(p[0].token if p else "?" for p in ex.predictions)
            verdict = f"{ex.correct}/{len(ex.truth)} right"
            self.samples.insert(0, [str(event.step), ex.text, " ".join(ex.truth), guesses, verdict])
            del self.samples[8:]
        elif isinstance(event, Probes):
            self.probe_rows = event.rows
        elif isinstance(event, Done):
            self.done = event
            reasons = {"epochs": "all epochs done", "max_steps": "step limit reached", "time_budget": "time budget used",
                       "stopped": "stopped"}
            speed = f", {event.info['tokens_per_sec']:,} tokens/s" if "tokens_per_sec" in event.info else ""
            self.status = f"finished after {event.step:,} steps in {event.elapsed:.0f} s ({reasons[event.reason]}){speed}"

    @property
    def last_step(self) -> int:
        return self.history[-1]["step"] if self.history else 0

    @property
    def expected_steps(self) -> float | None:
        """How many steps the run will take, from how far it has got (past the first, slower steps)."""
        step = self.last_step
        return step / self.fraction if step >= 20 and self.fraction > 0 else None

    def waiting(self, eval_every: int) -> bool:
        """Say why nothing is moving, in the status and on the plot: after the last step before
        an evaluation, or at the end. True if the view changed."""
        last = self.last_step
        if self.pause or not last:
            return False
        if self.fraction >= 1 or (eval_every and last % eval_every == 0):
            self.pause = "final evaluation and saving…" if self.fraction >= 1 else "evaluating on held-out text…"
            self.status += " · " + self.pause
            return True
        return False

    def png(self, directory: Path) -> str:
        """The live plot as a PNG file named after what it shows (a new name when there is something
        new, so the browser fetches it), old ones removed."""
        directory.mkdir(parents=True, exist_ok=True)
        state = "-final" if self.done else "-pause" if self.pause else ""
        path = directory / f"loss-{len(self.history)}-{len(self.eval_history)}{state}.png"
        live = self.done is None  # once finished, the x axis fits the run
        self.plot.title.set_text("Pretraining loss (live)" if live else "Pretraining loss")
        self.plot.update(self.history, self.eval_history, max_points=300, live=live, expected_steps=self.expected_steps,
                         pause=self.pause)
        self.plot.png(path)
        return keep_only(path)

    def metrics_markdown(self) -> str:
        if not self.eval_history:
            return "Held-out metrics appear at the first evaluation."
        m = self.eval_history[-1]
        label = "Final held-out metrics" if self.done else f"Held-out metrics at step {m['step']:,}"
        rows = [("MLM accuracy", m["mlm_accuracy"], "pct"), ("most-frequent-piece baseline", m["baseline_accuracy"], "pct"),
                ("MLM perplexity", m["mlm_perplexity"], "num"), ("whole-word accuracy", m["word_accuracy"], "pct"),
                ("NSP accuracy (chance 50%)", m["nsp_accuracy"], "pct")]
        if m.get("minimal_pair_accuracy") is not None:
            rows.append((f"minimal pairs known (of {m['minimal_pairs']:,}; chance 50%)", m["minimal_pair_accuracy"], "pct"))
        cells = "\n".join(f"| {name} | {'–' if v is None else (f'{v:.1%}' if kind == 'pct' else f'{v:.2f}')} |"
                          for name, v, kind in rows)
        return f"**{label}**\n\n| metric | value |\n|---|---|\n{cells}"


def keep_only(picture: Path) -> str:
    """`picture`, the live plot now shown, with the older loss-*.png files beside it deleted."""
    for old in picture.parent.glob("loss-*.png"):
        if old != picture:
            old.unlink(missing_ok=True)
    return str(picture)


def zip_checkpoint(directory: Path) -> Path:
    """A zip of the checkpoint next to it, for the download button."""
    archive = shutil.make_archive(str(directory), "zip", root_dir=directory.parent, base_dir=directory.name)
    return Path(archive)


def pulled_summary(repo_id: str, ckpt: Checkpoint) -> str:
    """What the Hub tab says about a pulled model: its shape, its metrics, and its card's first paragraph."""
    cfg, info = ckpt.model.config, ckpt.info
    made_by = f"BabyBERT {info.get('babybert_version', '')}" if info else "another tool (a transformers BERT)"
    lines = [f"**Pulled `{repo_id}`**: now the current model in Fill-mask, Next sentence and Model, and the "
             "starting point of *continue from the current model* in Train.", "",
             "| property | value |", "|---|---|",
             f"| parameters | {ckpt.model.num_parameters():,} |",
             f"| layers / hidden / heads / feed-forward | {cfg.num_hidden_layers} / {cfg.hidden_size} / "
             f"{cfg.num_attention_heads} / {cfg.intermediate_size} |",
             f"| vocabulary / max length | {cfg.vocab_size:,} / {cfg.max_position_embeddings} |",
             f"| made by | {made_by} |"]
    metrics = info.get("metrics") or {}
    if metrics.get("mlm_accuracy") is not None:
        lines.append(f"| held-out MLM accuracy (from its card) | {metrics['mlm_accuracy']:.1%} |")
    card = ckpt.path / "README.md" if ckpt.path else None
    if card is not None and card.is_file():
        body = ModelCard.load(card).text  # without the YAML front matter
        summary = next((p for p in body.split("\n\n") if p.strip() and not p.lstrip().startswith(("#", "|", "!", "<"))), "")
        if summary:
            lines += ["", "**From its model card:** " + " ".join(summary.split())[:600]]
    return "\n".join(lines)


def verdict_markdown(v: Verdict) -> str:
    """The minimal-pair panel's answer: which sentence, by how much, and the piece objected to."""
    a, b = v.a.pll, v.b.pll
    if v.preferred == "neither":
        head = f"The model finds A and B **equally natural** (PLL {a:.2f} each)."
    else:
        better, worse = (a, b) if v.preferred == "A" else (b, a)
        head = (f"**{v.preferred} is more natural** to this model: pseudo-log-likelihood {better:.2f} against "
                f"{worse:.2f} (a difference of {better - worse:.2f}).")
    objections = "; ".join(f"in {w}, **{s.tokens[v.objection(w)]}** ({s.logprobs[v.objection(w)]:.2f})"
                           for w, s in (("A", v.a), ("B", v.b)))
    return (f"{head}\n\nThe piece it finds least likely, given the rest of its sentence: {objections}. "
            "Each bar below is one piece's log-probability with that piece masked; a sentence's bars add up to its PLL.")


def verdict_json(v: Verdict) -> dict:
    """What /minimal_pair gives an API user beside the picture."""
    side = lambda s: {"sentence": s.text, "pll": s.pll, "tokens": s.tokens, "logprobs": s.logprobs}
    return {"preferred": v.preferred, "a": side(v.a), "b": side(v.b)}


def pair_note(pair: MinimalPair, good: str) -> str:
    """Where a drawn pair comes from, and which of A and B is the grammatical one."""
    return (f"A pair of **{pair.phenomenon.replace('_', ' ')}** ({pair.field.replace('_', ' and ')}), from "
            f"`examples/minimal_pairs.jsonl`. The grammatical sentence is **{good}**.")
