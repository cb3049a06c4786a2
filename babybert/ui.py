"""Helpers for the Gradio app that outgrew app.py: per-session state, deployment limits, input
checks, and turning training events into what the Train tab shows. No Gradio import and no ML
here: models are only handed to the library's functions.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from huggingface_hub import ModelCard

from .checkpoint import Checkpoint
from .config import ModelConfig, TrainConfig, estimate_parameters
from .data import check_text, decode_text, parse_corpus
from .plots import LossPlot
from .runs import Run
from .train import Done, Eval, Probes, Progress, Sample, Start

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "babybert-default"


# ----------------------------------------------------------------------------- settings

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
                value = int(raw)
            except ValueError:
                raise ValueError(f"environment variable {name} must be a whole number, got {raw!r}") from None
            if value <= 0:
                raise ValueError(f"environment variable {name} must be positive, got {value}")
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
                "`python -m babybert train` (with `torchrun`, `--save-every` and `--resume`; see the README's "
                "*Scaling up*).")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


# what the Train tab's controls start at: a useful model in about a minute on 2 CPU cores
_M, _T = ModelConfig(), TrainConfig()  # one recipe: the app starts from train()'s own defaults
DEFAULT_SETTINGS = dict(tasks=[t.upper() for t in _T.tasks], vocab_size=_T.vocab_size, hidden_size=_M.hidden_size,
                        num_layers=_M.num_hidden_layers, num_heads=_M.num_attention_heads,
                        intermediate_size=_M.intermediate_size, max_seq_len=_M.max_position_embeddings,
                        batch_size=_T.batch_size, epochs=_T.epochs, lr=_T.lr, mask_prob=_T.mask_prob, time_budget=60, seed=_T.seed)


# ----------------------------------------------------------------------------- sessions

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


# ----------------------------------------------------------------------------- corpus

def example_corpora() -> dict[str, Path]:
    return {p.name: p for p in sorted(EXAMPLES_DIR.glob("*.txt"))}


def corpus_summary(text: str) -> str:
    """Live statistics for the corpus box (approximate tokens: words and punctuation)."""
    docs = parse_corpus(text or "")
    sentences = sum(len(d) for d in docs)
    words = sum(len(s.split()) for d in docs for s in d)
    tokens = round(words * 1.25)
    return f"**{len(docs):,}** documents · **{sentences:,}** sentences · ~**{tokens:,}** tokens · {len(text or ''):,} characters"


def read_upload(path: str | Path, limits: Limits) -> str:
    data = Path(path).read_bytes()
    if len(data) > 4 * limits.max_corpus_chars:
        raise ValueError(f"the file is {len(data):,} bytes; this server takes corpora up to {limits.max_corpus_chars:,} characters")
    return decode_text(data, Path(path).name)


def check_corpus(text: str, limits: Limits) -> list[list[str]]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the corpus is empty: paste some text (one sentence per line, a blank line between documents) or pick an example")
    if len(text) > limits.max_corpus_chars:
        raise ValueError(f"the corpus has {len(text):,} characters; this server takes up to {limits.max_corpus_chars:,}")
    check_text(text)
    docs = parse_corpus(text)
    if sum(len(d) for d in docs) < 2:
        raise ValueError("the corpus needs at least two sentences (one per line)")
    return docs


def number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """A finite number within [low, high], from whatever a client sent (sliders can be bypassed)."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return x


def whole(name: str, value, low: int = 1, high: int | None = None) -> int:
    x = number(name, value)
    if x != int(x):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(number(name, x, low, high))


MAX_BATCH_SIZE, MAX_SEED = 1024, 2**32 - 1


def make_configs(limits: Limits, *, tasks: list[str], vocab_size, hidden_size, num_layers, num_heads, intermediate_size,
                 max_seq_len, batch_size, epochs, lr, mask_prob, time_budget, seed) -> tuple[ModelConfig, TrainConfig]:
    """Slider values -> validated configs; every problem is a ValueError a user can act on."""
    def positive(name, value):
        x = number(name, value)
        if not x > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        return x
    if isinstance(tasks, str):
        tasks = [tasks]
    if not tasks or not isinstance(tasks, (list, tuple)) or not all(isinstance(t, str) for t in tasks):
        raise ValueError("choose at least one task: MLM, NSP or both")
    model_config = ModelConfig(vocab_size=whole("vocabulary size", vocab_size, 32), hidden_size=whole("hidden size", hidden_size),
                               num_hidden_layers=whole("layers", num_layers), num_attention_heads=whole("heads", num_heads),
                               intermediate_size=whole("feed-forward size", intermediate_size),
                               max_position_embeddings=whole("max sequence length", max_seq_len, 8))
    model_config.validate()
    try:
        budget = number("time budget", time_budget, 1, limits.max_train_seconds)
    except ValueError:
        raise ValueError(f"the time budget must be between 1 and {limits.max_train_seconds} seconds on this server, "
                         f"got {time_budget!r}") from None
    config = TrainConfig(tasks=tuple(t.lower() for t in tasks), epochs=positive("epochs", epochs) if epochs else None,
                         time_budget=budget, batch_size=whole("batch size", batch_size, 1, MAX_BATCH_SIZE),
                         lr=positive("learning rate", lr), mask_prob=positive("mask probability", mask_prob),
                         vocab_size=model_config.vocab_size, seed=whole("seed", seed, 0, MAX_SEED),
                         eval_every=100, eval_sentences=500)
    config.validate()
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise ValueError(f"that model would have ~{params:,} parameters; this server trains up to {limits.max_parameters:,}. "
                         "Make it smaller (hidden size, layers, feed-forward size or vocabulary).")
    return model_config, config


MAX_RUNS = 20  # a session's runs kept for comparison; the oldest go first


def tokenizer_choice(tokenizer_from, tokenizer_repo, start_from) -> str | None:
    """The Hub repository whose tokenizer a new model is to use, or None (a WordPiece learned from
    the corpus); a repository id is checked for form only here (downloading it takes a while)."""
    from .hub import valid_repo_id

    if tokenizer_from in (None, "", "corpus"):
        return None
    if tokenizer_from != "hub":
        raise ValueError(f"unknown tokenizer choice {tokenizer_from!r}: choose corpus or hub")
    if start_from == "continue":
        raise ValueError("a model trained further keeps its own tokenizer: choose 'from scratch' to train a new "
                         "model with a published tokenizer, or 'train a WordPiece on my corpus'")
    return valid_repo_id(tokenizer_repo if isinstance(tokenizer_repo, str) else "", "tokenizer repository")


def with_tokenizer(model_config: ModelConfig, config: TrainConfig, tokenizer, limits: Limits):
    """The configs for a published tokenizer: its vocabulary size, within the server's model limit."""
    vocab = len(tokenizer)
    model_config = ModelConfig(**{**vars(model_config), "vocab_size": vocab})
    params = estimate_parameters(model_config)
    if params > limits.max_parameters:
        raise ValueError(f"with the {vocab:,}-piece vocabulary of that tokenizer the model would have ~{params:,} "
                         f"parameters; this server trains up to {limits.max_parameters:,}. Make the hidden size smaller.")
    return model_config, replace(config, vocab_size=vocab)


def add_run(session: Session, info: dict) -> Run:
    """Keep a finished run (what its checkpoint records) for the runs table and plot."""
    number = int(session.runs[-1].name.split()[-1]) + 1 if session.runs else 1
    run = Run.from_info(info, name=f"run {number}")
    session.runs.append(run)
    del session.runs[:-MAX_RUNS]
    return run


def check_settings(limits: Limits, **settings) -> str:
    """A line under the controls, refreshed as they change, so a bad combination is explained
    before Start is pressed."""
    try:
        model_config, _ = make_configs(limits, **settings)
    except ValueError as e:
        return f"**These settings will not train:** {e}"
    return (f"Settings OK: about **{estimate_parameters(model_config):,}** parameters "
            f"(this server trains up to {limits.max_parameters:,}); the vocabulary may come out smaller on a small corpus.")




# ----------------------------------------------------------------------------- the live view

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
