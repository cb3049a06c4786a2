"""`babybert train`: the flags become the two configs (validated once, in babybert/config.py), the
corpus comes from a file or a dataset, and train()'s events become a progress bar or JSON lines."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from babybert.cli.output import describe_done, describe_example, describe_metrics, describe_start, event_to_json
from babybert.cli.parser import flag
from babybert.cli.progress import PlainProgress, PrepareBars
from babybert.config import ModelConfig, TrainConfig, build, settings
from babybert.errors import UserError

RESUMABLE = ("epochs", "max_steps", "time_budget", "save_every", "save_every_seconds")  # what a resumed run may change


def dataset_corpus(args, tell: bool = True):
    """The corpus file made from --dataset (hub/dataset.py), said on stderr; None without --dataset."""
    if not args.dataset:
        given = [name for name, value in (("--dataset-split", args.dataset_split), ("--text-column", args.text_column),
                                          ("--max-rows", args.max_rows)) if value is not None]
        if given:
            raise UserError(f"{' and '.join(given)} {'goes' if len(given) == 1 else 'go'} with --dataset: "
                            "it chooses what to take from a dataset")
        return None
    from babybert.hub.dataset import corpus_from_dataset

    corpus = corpus_from_dataset(args.dataset, split=args.dataset_split or "train", text_column=args.text_column or "text",
                                 max_rows=args.max_rows, endpoint=args.endpoint, token=args.token,
                                 cache_dir=args.cache_dir)
    if tell:
        print(f"dataset: {corpus.description}\ncorpus file: {corpus.path}", file=sys.stderr, flush=True)
    return corpus


def given_settings(args) -> dict:
    """The settings given on the command line, by their config names (--dropout sets both dropouts;
    --save-every 90s is save_every_seconds)."""
    names = {f.name for cls in (ModelConfig, TrainConfig) for f, _ in settings(cls)}
    given = {name: value for name, value in vars(args).items() if name in names}
    if "dropout" in args:
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            given.setdefault(name, args.dropout)
    if "save_every" in given:
        unit, amount = given.pop("save_every")
        given[unit] = amount
    return given


def train_configs(args) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings of `babybert train`: the library's defaults and the flags
    given, or with --resume the run's own settings (only its limits and saving may change)."""
    given = given_settings(args)
    if args.resume:
        from babybert.training.state import load_training_state

        if args.init:
            raise UserError("--resume and --init exclude each other: --resume goes on with a run, --init starts one")
        fixed = sorted(flag(name) for name in given if name not in RESUMABLE)
        if fixed:
            raise UserError(f"a resumed run keeps its settings: {', '.join(fixed)} cannot change with --resume (only "
                            f"{', '.join(flag(n) for n in RESUMABLE[:3])} and --save-every); start a new run from its "
                            "weights with --init to change them")
        saved = TrainConfig.from_dict(load_training_state(args.resume)["train_config"])
        config = replace(saved, **given)
        config.validate(flag)
        return ModelConfig(), config
    model_fields = {f.name for f, _ in settings(ModelConfig)}
    model_config = build(ModelConfig, {k: v for k, v in given.items() if k in model_fields}, flag)
    config = build(TrainConfig, {k: v for k, v in given.items() if k not in model_fields}, flag)
    return model_config, config


def cmd_train(args) -> int:
    from babybert.training import distributed

    world = distributed.setup(args.device if "device" in args else TrainConfig().device)  # under torchrun: join the others
    try:
        return run_training(args, world)
    finally:
        distributed.teardown()


def run_training(args, world) -> int:
    from babybert.analysis.predict import parse_probes
    from babybert.training.loop import train

    if world.distributed and world.main:
        print(f"distributed: {world.size} processes, backend {world.backend}", file=sys.stderr, flush=True)
    probes = parse_probes("\n".join(args.probe))
    model_config, config = train_configs(args)
    out = args.out or args.resume
    if out is None:
        raise UserError("--out is required: the checkpoint directory to write")
    tokenizer = None
    if args.tokenizer and not args.resume:  # (a resumed run has its tokenizer in its checkpoint)
        from babybert.hub.repos import get_tokenizer
        tokenizer = get_tokenizer(args.tokenizer, endpoint=args.endpoint, token=args.token)
    dataset = dataset_corpus(args, tell=world.main)
    corpus = dataset.path if dataset else args.corpus
    stop = threading.Event()
    command = "python -m babybert " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report, close_report = lambda event: None, lambda: None
    if args.report_to and world.main:
        from babybert.training.report import open_reporter
        settings_now = {"command": command, **config.to_dict(), **vars(model_config)}
        report, close_report = open_reporter(args.report_to, name=Path(out).name, settings=settings_now,
                                             logging_dir=args.logging_dir)

    def on_ctrl_c(*_):  # first Ctrl-C: stop gracefully, evaluate and save; a second one aborts
        print("\nstopping: finishing evaluation and saving (Ctrl-C again to abort)", file=sys.stderr)
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    preparing, shown = PrepareBars(sys.stderr), Shown(args.json, out)
    try:
        events = train(corpus, model_config, config, out_dir=out, init=args.init, stop=stop,
                       corpus_name=dataset.name if dataset else corpus.name, command=command, probes=probes,
                       resume=args.resume, cache_dir=args.cache_dir, progress=None if args.json else preparing,
                       tokenizer=tokenizer, corpus_source=dataset and dataset.description)
        for event in events:
            if world.main:  # rank 0 speaks for the run
                preparing.close()
                report(event)
                shown.show(event)
    finally:
        signal.signal(signal.SIGINT, previous)
        preparing.close(finished=False)
        shown.close()
        close_report()
    return 0


class Shown:
    """Training's events on stderr (a progress bar on a terminal, a line every few seconds in a log),
    or as JSON lines on stdout with --json."""

    def __init__(self, as_json: bool, out: Path):
        self.as_json, self.out, self.bar = as_json, out, None

    def show(self, event) -> None:
        from tqdm.auto import tqdm

        from babybert.training.events import Done, Eval, Probes, Progress, Sample, Start

        if self.as_json:
            print(json.dumps(event_to_json(event)), flush=True)
        elif isinstance(event, Start):
            print(describe_start(event), file=sys.stderr)
            self.bar = (tqdm(total=event.total_steps, initial=event.step, unit="step", dynamic_ncols=True,
                             mininterval=0.5, file=sys.stderr) if sys.stderr.isatty()
                        else PlainProgress(event.total_steps, sys.stderr, initial=event.step))
        elif isinstance(event, Progress):
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix_str(f"loss {event.loss:.3f} lr {event.lr:.1e} {event.tokens_per_sec:,.0f} tok/s")
        elif isinstance(event, Eval):
            self.bar.write(f"step {event.step:>6} | held-out {describe_metrics(event.metrics)}", file=sys.stderr)
        elif isinstance(event, Sample):
            self.bar.write("             " + describe_example(event.example), file=sys.stderr)
        elif isinstance(event, Probes):
            for probe, answer in event.rows:
                self.bar.write(f"             probe: {probe} -> {answer}", file=sys.stderr)
        elif isinstance(event, Done):
            self.close()
            print(describe_done(event, self.out), file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
