"""Command line: `python -m babybert train | fill-mask | nsp | tokenize | embeddings | eval | push | pull |
deploy-space | bench`
(also `babybert ...`).

User mistakes print one line on stderr and exit with status 2; nothing else prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from babybert.config import ModelConfig, TrainConfig

EXIT_USAGE = 2


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def save_interval(text: str) -> tuple[str, float]:
    """'500' -> every 500 steps; '90s', '10m', '1h' -> every so many seconds of training."""
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:].lower() in units:
        return "seconds", positive_float(text[:-1]) * units[text[-1].lower()]
    try:
        return "steps", positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected steps (500) or a time (90s, 10m, 1h), got {text!r}") from None


def probability(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def unit_interval(text: str) -> float:
    """A share in [0, 1): 0 allowed (e.g. no dropout)."""
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def budgets_arg(text: str) -> tuple[float, ...]:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected seconds separated by commas, e.g. 60,180")
    return tuple(positive_float(t) for t in parts)


def tasks_arg(text: str) -> tuple[str, ...]:
    from babybert.config import parse_tasks
    try:
        return parse_tasks(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line instead of argparse's usage block, and the exit status of every user error."""
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


def dataset_options(p: argparse.ArgumentParser, source, split_flag: str) -> None:
    """--dataset (one of the corpus sources) and its options, the same for train and eval."""
    source.add_argument("--dataset", metavar="OWNER/NAME[:CONFIG]|FILE",
                        help="a corpus from a Hub dataset (through the datasets library: pip install "
                             "\"babybert[datasets]\"), or a local .txt, .jsonl, .json, .parquet or .csv file: a row is "
                             "a document, split into sentences by BabyBERT's splitter (rows with line breaks are kept "
                             "at them)")
    p.set_defaults(split_flag=split_flag)
    g = p.add_argument_group("with --dataset")
    g.add_argument(split_flag, dest="dataset_split", metavar="SPLIT", help="the dataset's split (default train)")
    g.add_argument("--text-column", metavar="NAME", help="the column that holds the text (default text)")
    g.add_argument("--max-rows", type=positive_int, metavar="N", help="take only the first N rows")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="babybert", description="Pretrain a tiny BERT from scratch on your own text, then play with it.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="pretrain a BERT (MLM + NSP) on a text corpus",
                       description="Pretrain a BERT from scratch on a corpus: one sentence per line, a blank line between documents.")
    source = t.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", type=Path,
                        help="UTF-8 text file of any size: read as a stream and tokenized once into a token store")
    dataset_options(t, source, "--split")
    t.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="where token stores and trained tokenizers are kept to be reused "
                        "(default $BABYBERT_CACHE or ~/.cache/babybert)")
    t.add_argument("--out", type=Path, help="checkpoint directory to write (required, except with --resume: its folder)")
    M, C = ModelConfig(), TrainConfig()  # the defaults live in the dataclasses: train(), CLI and app share them
    limits = t.add_argument_group("when to stop (the first limit reached wins)")
    limits.add_argument("--epochs", type=positive_float,
                        help=f"passes over the training split (default {C.epochs:g}: more overfits a tiny corpus)")
    limits.add_argument("--max-steps", type=positive_int, help="optimizer steps")
    limits.add_argument("--time-budget", type=positive_float, metavar="SECONDS", help="seconds of training")
    model = t.add_argument_group("model shape (ignored with --init)")
    model.add_argument("--vocab-size", type=positive_int, default=C.vocab_size,
                       help=f"WordPiece vocabulary size (default {C.vocab_size}; tiny corpora give fewer)")
    model.add_argument("--hidden-size", type=positive_int, default=M.hidden_size, help=f"default {M.hidden_size}")
    model.add_argument("--num-layers", type=positive_int, default=M.num_hidden_layers, help=f"default {M.num_hidden_layers}")
    model.add_argument("--num-heads", type=positive_int, default=M.num_attention_heads, help=f"default {M.num_attention_heads}")
    model.add_argument("--intermediate-size", type=positive_int, default=M.intermediate_size,
                       help=f"feed-forward width (default {M.intermediate_size})")
    model.add_argument("--max-seq-len", type=positive_int, default=M.max_position_embeddings,
                       help=f"longest input in tokens (default {M.max_position_embeddings})")
    model.add_argument("--dropout", type=unit_interval, default=M.hidden_dropout_prob,
                       help=f"dropout of hidden states and attention (default {M.hidden_dropout_prob:g}; BERT uses 0.1)")
    model.add_argument("--init-range", type=positive_float, default=M.initializer_range,
                       help=f"std of the normal weight init (default {M.initializer_range:g}; BERT uses 0.02)")
    opt = t.add_argument_group("training")
    opt.add_argument("--tasks", type=tasks_arg, default=C.tasks, help="mlm, nsp or mlm,nsp (default)")
    opt.add_argument("--batch-size", type=positive_int, default=C.batch_size, help=f"default {C.batch_size}")
    opt.add_argument("--lr", type=probability, default=C.lr, help=f"peak learning rate (default {C.lr:g})")
    opt.add_argument("--mask-prob", type=probability, default=C.mask_prob,
                     help=f"share of tokens masked (default {C.mask_prob:g}; BERT uses 0.15)")
    opt.add_argument("--eval-every", type=int, default=C.eval_every,
                     help=f"steps between held-out evaluations (default {C.eval_every}, 0 = only at the end)")
    opt.add_argument("--eval-sentences", type=positive_int, default=C.eval_sentences,
                     help=f"held-out sentences scored by each evaluation (default {C.eval_sentences})")
    opt.add_argument("--seed", type=int, default=C.seed, help=f"default {C.seed}; same corpus + settings + seed = same run")
    opt.add_argument("--init", type=Path, help="continue pretraining from this checkpoint (its tokenizer and shape are kept)")
    opt.add_argument("--tokenizer", metavar="REPO_OR_DIR",
                     help="train a new model from scratch with this published tokenizer (a Hub repository such as "
                          "google-bert/bert-base-uncased, or a folder such as a checkpoint) instead of a WordPiece "
                          "learned from the corpus; --vocab-size is then its own")
    opt.add_argument("--endpoint", help="Hub endpoint for --tokenizer and --dataset (default: $HF_ENDPOINT or "
                                        "huggingface.co)")
    opt.add_argument("--token", help="Hugging Face token for a private --dataset or --tokenizer (default: HF_TOKEN, "
                                     "else the saved `hf auth login`)")
    opt.add_argument("--save-every", type=save_interval, metavar="STEPS|TIME",
                     help="save the checkpoint with its training state every so many steps (500) or so much training "
                          "time (90s, 10m, 1h), atomically, so that --resume can go on from it")
    opt.add_argument("--resume", type=Path, metavar="DIR",
                     help="go on exactly where the run saved in DIR stopped (its settings, model, optimizer and place "
                          "in the data; --corpus must be the same); --epochs, --max-steps, --time-budget and "
                          "--save-every may change")
    opt.add_argument("--device", choices=["auto", "cpu", "cuda"], default=C.device, help="default auto (CUDA if available)")
    t.add_argument("--probe", action="append", default=[], metavar="TEXT",
                   help="a sentence with [MASK], or 'A ||| B', answered at every evaluation (repeatable)")
    t.add_argument("--json", action="store_true", help="print events as JSON lines instead of a progress bar")
    t.add_argument("--report-to", choices=["tensorboard", "trackio"],
                   help="also log the live plot's scalars (losses, learning rate, held-out metrics) to TensorBoard "
                        "or Trackio (optional: pip install \"babybert[tensorboard]\" or \"babybert[trackio]\")")
    t.add_argument("--logging-dir", type=Path, metavar="DIR",
                   help="TensorBoard's folder for this run (default: PyTorch's, runs/DATE_HOST_NAME); Trackio logs to "
                        "$TRACKIO_DIR (default ~/.cache/huggingface/trackio), project babybert")

    f = sub.add_parser("fill-mask", help="guess the [MASK]ed words of a sentence")
    f.add_argument("checkpoint", type=Path, help="checkpoint directory")
    f.add_argument("text", help="a sentence with one or more [MASK]")
    f.add_argument("--top-k", type=positive_int, default=5, help="guesses per mask (default 5)")
    f.add_argument("--json", action="store_true", help="print JSON: one list per mask of {token, score}")

    n = sub.add_parser("nsp", help="probability that sentence B follows sentence A")
    n.add_argument("checkpoint", type=Path, help="checkpoint directory")
    n.add_argument("text_a", help="sentence A")
    n.add_argument("text_b", help="sentence B")
    n.add_argument("--json", action="store_true", help='print JSON: {"is_next": probability}')

    k = sub.add_parser("tokenize", help="the pieces (and ids) a checkpoint's tokenizer makes of a text; its vocabulary",
                       description="Show the WordPiece pieces of a text, with ## continuations marked, and with --stats "
                                   "the vocabulary's size, most frequent pieces and share of words split into several.")
    k.add_argument("checkpoint", type=Path, help="checkpoint directory")
    k.add_argument("text", help="the text to tokenize")
    k.add_argument("--stats", action="store_true",
                   help="also the vocabulary summary: from the counts training recorded; for a checkpoint that "
                        "recorded none (a BERT made elsewhere), counted in --corpus, else in the text")
    k.add_argument("--corpus", type=Path, help="count the pieces in this text file instead (implies --stats)")
    k.add_argument("--top", type=positive_int, default=20, help="most frequent pieces shown with --stats (default 20)")
    k.add_argument("--json", action="store_true", help='print JSON: {"pieces": [...], "stats": {...} or null}')

    m = sub.add_parser("embeddings", help="a word's nearest neighbours by cosine similarity; a PCA plot of the embeddings",
                       description="The word-embedding matrix of a checkpoint: the nearest neighbours of --word over the "
                                   "whole vocabulary, and with --out a 2-D PCA plot of the most frequent words.")
    m.add_argument("checkpoint", type=Path, help="checkpoint directory")
    m.add_argument("--word", help="the word whose neighbours to find (a word of several pieces: their mean vector)")
    m.add_argument("--words", type=positive_int, default=100, help="most frequent words to draw (default 100)")
    m.add_argument("--neighbours", type=positive_int, default=10, help="neighbours to find (default 10)")
    m.add_argument("--out", type=Path, metavar="PNG", help="write the plot to this file")
    m.add_argument("--json", action="store_true", help="print JSON: the words drawn, their points, the neighbours")

    e = sub.add_parser("eval", help="held-out MLM accuracy, perplexity, whole-word and NSP accuracy")
    e.add_argument("checkpoint", type=Path, help="checkpoint directory")
    source = e.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", type=Path, help="UTF-8 text file in the training format")
    dataset_options(e, source, "--dataset-split")
    e.add_argument("--endpoint", help="Hub endpoint for --dataset (default: $HF_ENDPOINT or huggingface.co)")
    e.add_argument("--token", help="Hugging Face token for a private --dataset (default: HF_TOKEN, else the saved login)")
    e.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="where corpora made from datasets are kept (default $BABYBERT_CACHE or ~/.cache/babybert)")
    e.add_argument("--split", choices=["held-out", "all"], default="held-out",
                   help="held-out: its last 10%% of documents, as training held out (default); all: every document")
    e.add_argument("--seed", type=int, default=0, help="masking seed (default 0)")
    e.add_argument("--max-sentences", type=positive_int, default=2000,
                   help="score the first N sentences of the split (default 2000, as training does)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    def hub_options(p, write: bool):
        p.add_argument("--endpoint", help="Hub URL (default: HF_ENDPOINT, else https://huggingface.co)")
        p.add_argument("--token", help="Hugging Face token" + (" with write access" if write else "")
                       + " (default: HF_TOKEN, else the saved `hf auth login`)")

    p = sub.add_parser("push", help="upload a checkpoint to the Hugging Face Hub (creates the model repo if needed)")
    p.add_argument("checkpoint", type=Path, help="checkpoint directory")
    p.add_argument("repo_id", help="owner/name (or just name: your own namespace)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", help="commit message")
    hub_options(p, write=True)

    q = sub.add_parser("pull", help="download a checkpoint from the Hub (BabyBERT or a transformers BERT) and check it loads")
    q.add_argument("repo_id", help="owner/name, e.g. google/bert_uncased_L-2_H-128_A-2")
    q.add_argument("--out", required=True, type=Path, help="directory to put the checkpoint in")
    q.add_argument("--revision", help="branch, tag or commit id (default: main)")
    hub_options(q, write=False)

    r = sub.add_parser("runs", help="compare trained checkpoints: the settings that differ and the final held-out metrics",
                       description="Compare runs: a table of the settings that differ between the checkpoints and "
                                   "their final held-out metrics; --csv writes every setting and metric.")
    r.add_argument("checkpoints", nargs="+", type=Path, metavar="CHECKPOINT", help="checkpoint directories")
    r.add_argument("--csv", type=Path, metavar="FILE", help="also write every setting and metric to this CSV file")

    d = sub.add_parser("deploy-space", help="create a Gradio Space running this app and upload exactly the files it needs")
    d.add_argument("space_id", help="owner/name of the Space")
    d.add_argument("--private", action="store_true", help="create the Space as private")
    hub_options(d, write=True)

    b = sub.add_parser("bench", help="speed targets: BabyBERT vs the transformers recipe; the app's live training vs the CLI")
    b.add_argument("--only", choices=["throughput", "app", "quality", "load", "scaling", "corpus"],
                   help="run one part: throughput (vs transformers, ~1 min), app (live streaming vs the CLI, ~3 min), "
                        "load (fill-mask latency while two others train, ~1 min), "
                        "scaling (tokens/s on 1 and 2 processes with torchrun, ~2 min), "
                        "corpus (a 1 MB and a 50 MB corpus made of copies of --corpus: time to ready, memory, "
                        "training speed, ~2 min), "
                        "or quality (held-out accuracy after the same training time as the transformers recipe, "
                        "2 x the budgets; only when asked for)")
    b.add_argument("--quick", action="store_true",
                   help="the headline numbers in about a minute: training speed-up (default shape and vocabulary "
                        "30,522), model FLOP utilisation, fill-mask and next-sentence latency")
    b.add_argument("--budgets", type=budgets_arg, default=(60, 180), metavar="SECONDS,...",
                   help="quality: training budgets in seconds (default 60,180)")
    b.add_argument("--steps", type=positive_int, default=30, help="throughput: timed steps per round (default 30)")
    b.add_argument("--rounds", type=positive_int, default=3, help="throughput: alternating rounds (default 3)")
    b.add_argument("--app-budget", type=positive_float, default=20,
                   help="app, load, scaling and corpus: seconds of training per round (default 20)")
    b.add_argument("--app-rounds", type=positive_int, default=2, help="app: alternating rounds (default 2)")
    b.add_argument("--corpus", type=Path, help="corpus (default: examples/world_facts.txt)")
    b.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


# ----------------------------------------------------------------------------- commands

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


def dataset_corpus(args, tell: bool = True):
    """The corpus file made from --dataset (hub_dataset.py), said on stderr; None without --dataset."""
    if not args.dataset:
        given = [flag for flag, value in ((args.split_flag, args.dataset_split), ("--text-column", args.text_column),
                                          ("--max-rows", args.max_rows)) if value is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} {'goes' if len(given) == 1 else 'go'} with --dataset: "
                             "it chooses what to take from a dataset")
        return None
    from babybert.hub.dataset import corpus_from_dataset

    corpus = corpus_from_dataset(args.dataset, split=args.dataset_split or "train", text_column=args.text_column or "text",
                                 max_rows=args.max_rows, endpoint=args.endpoint, token=args.token,
                                 cache_dir=args.cache_dir)
    if tell:
        print(f"dataset: {corpus.description}\ncorpus file: {corpus.path}", file=sys.stderr, flush=True)
    return corpus


def train_configs(args) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings of `babybert train`: the library's defaults, the options
    given, or with --resume the run's own settings (its limits and saving may change)."""
    model_config = ModelConfig(hidden_size=args.hidden_size, num_hidden_layers=args.num_layers,
                               num_attention_heads=args.num_heads, intermediate_size=args.intermediate_size,
                               max_position_embeddings=args.max_seq_len, hidden_dropout_prob=args.dropout,
                               attention_probs_dropout_prob=args.dropout, initializer_range=args.init_range)
    every = {}
    if args.save_every:
        unit, amount = args.save_every
        every = {"save_every": amount if unit == "steps" else None, "save_every_seconds": amount if unit == "seconds" else None}
    if args.resume:
        from babybert.training.state import load_training_state

        if args.init:
            raise ValueError("--resume and --init exclude each other: --resume goes on with a run, --init starts one")
        saved = TrainConfig.from_dict(load_training_state(args.resume)["train_config"])
        limits = {k: v for k, v in (("epochs", args.epochs), ("max_steps", args.max_steps),
                                    ("time_budget", args.time_budget)) if v is not None}
        config = replace(saved, **limits, **every)
    else:
        config = TrainConfig(tasks=args.tasks, epochs=TrainConfig().epochs if args.epochs is None else args.epochs,
                             max_steps=args.max_steps, time_budget=args.time_budget, batch_size=args.batch_size,
                             lr=args.lr, mask_prob=args.mask_prob, vocab_size=args.vocab_size,
                             eval_every=max(0, args.eval_every), eval_sentences=args.eval_sentences, seed=args.seed,
                             device=args.device, **every)
    return model_config, config


def cmd_train(args) -> int:
    from babybert.training import distributed

    world = distributed.setup(args.device)  # under torchrun: join the other ranks
    try:
        return run_training(args, world)
    finally:
        distributed.teardown()


def run_training(args, world) -> int:
    from tqdm.auto import tqdm

    from babybert.analysis.predict import parse_probes
    from babybert.training.events import Done, Eval, Probes, Progress, Sample, Start
    from babybert.training.loop import train

    if world.distributed and world.main:
        print(f"distributed: {world.size} processes, backend {world.backend}", file=sys.stderr, flush=True)
    probes = parse_probes("\n".join(args.probe))
    model_config, config = train_configs(args)
    out = args.out or args.resume
    if out is None:
        raise ValueError("--out is required: the checkpoint directory to write")
    config.validate()
    model_config.validate()
    tokenizer = None
    if args.tokenizer and not args.resume:  # (a resumed run has its tokenizer in its checkpoint)
        from babybert.hub.repos import get_tokenizer
        tokenizer = get_tokenizer(args.tokenizer, endpoint=args.endpoint, token=args.token)
    dataset = dataset_corpus(args, tell=world.main)
    corpus = dataset.path if dataset else args.corpus
    stop = threading.Event()
    command = "python -m babybert " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    def on_ctrl_c(*_):  # first Ctrl-C: stop gracefully, evaluate and save; a second one aborts
        print("\nstopping: finishing evaluation and saving (Ctrl-C again to abort)", file=sys.stderr)
        stop.set()
        signal.signal(signal.SIGINT, previous)

    report, close_report = lambda event: None, lambda: None
    if args.report_to and world.main:
        from babybert.training.report import open_reporter
        settings = {"command": command, **config.to_dict(), **vars(model_config)}
        report, close_report = open_reporter(args.report_to, name=Path(out).name, settings=settings,
                                             logging_dir=args.logging_dir)
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    bar = None
    preparing = PrepareBars(sys.stderr)
    try:
        for event in train(corpus, model_config, config, out_dir=out, init=args.init, stop=stop,
                           corpus_name=dataset.name if dataset else corpus.name, command=command, probes=probes,
                           resume=args.resume, cache_dir=args.cache_dir, progress=None if args.json else preparing,
                           tokenizer=tokenizer, corpus_source=dataset and dataset.description):
            if not world.main:  # rank 0 speaks for the run
                continue
            preparing.close()
            report(event)
            if args.json:
                print(json.dumps(event_to_json(event)), flush=True)
            elif isinstance(event, Start):
                print(describe_start(event), file=sys.stderr)
                bar = (tqdm(total=event.total_steps, initial=event.step, unit="step", dynamic_ncols=True, mininterval=0.5,
                            file=sys.stderr) if sys.stderr.isatty() else PlainProgress(event.total_steps, sys.stderr,
                                                                                      initial=event.step))
            elif isinstance(event, Progress):
                bar.update(event.step - bar.n)
                bar.set_postfix_str(f"loss {event.loss:.3f} lr {event.lr:.1e} {event.tokens_per_sec:,.0f} tok/s")
            elif isinstance(event, Eval):
                bar.write(f"step {event.step:>6} | held-out {describe_metrics(event.metrics)}", file=sys.stderr)
            elif isinstance(event, Sample):
                bar.write("             " + describe_example(event.example), file=sys.stderr)
            elif isinstance(event, Probes):
                for probe, answer in event.rows:
                    bar.write(f"             probe: {probe} -> {answer}", file=sys.stderr)
            elif isinstance(event, Done):
                bar.close()
                print(describe_done(event, out), file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        preparing.close(finished=False)
        if bar is not None:
            bar.close()
        close_report()
    return 0


def cmd_fill_mask(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.predict import fill_mask

    ckpt = load_checkpoint(args.checkpoint)
    results = fill_mask(ckpt.model, ckpt.tokenizer, args.text, args.top_k)
    if args.json:
        print(json.dumps([[asdict(c) for c in mask] for mask in results]))
        return 0
    for i, mask in enumerate(results, start=1):
        print(f"[MASK] {i}:" if len(results) > 1 else "[MASK]:")
        for c in mask:
            print(f"  {c.token:<16} {c.score:6.1%}  {'█' * round(c.score * 30)}")
    return 0


def cmd_nsp(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.predict import next_sentence

    ckpt = load_checkpoint(args.checkpoint)
    p = next_sentence(ckpt.model, ckpt.tokenizer, args.text_a, args.text_b)
    if args.json:
        print(json.dumps({"is_next": p}))
    else:
        verdict = "B follows A" if p >= 0.5 else "B does not follow A"
        print(f"IsNext probability: {p:.1%}  ->  {verdict}")
    return 0


def cmd_tokenize(args) -> int:
    from babybert.data import stream
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.vocabulary import pieces, recorded_stats, split_words, text_stats

    ckpt = load_checkpoint(args.checkpoint)
    found = pieces(ckpt.tokenizer, args.text)
    stats = None
    if args.corpus is not None:
        lines = (sentence for _, sentence in stream.sentences(stream.check_file(args.corpus)))
        stats = text_stats(ckpt.tokenizer, lines, source=args.corpus.name)
    elif args.stats:
        stats = recorded_stats(ckpt.info) or text_stats(ckpt.tokenizer, args.text, source="the text (no counts recorded)")
    if args.json:
        print(json.dumps({"pieces": [asdict(p) for p in found], "stats": stats and stats.to_dict()}))
        return 0
    print(f"{'#':>3}  {'piece':<16} {'id':>6}  word")
    for i, p in enumerate(found):
        word = "" if p.word is None else f"{p.word + 1}" + ("  (continues it)" if p.continuation else "")
        print(f"{i:>3}  {p.piece:<16} {p.id:>6}  {word}".rstrip())
    split = split_words(found)
    print(f"{sum(p.word is not None for p in found)} pieces for {len({p.word for p in found} - {None})} words; "
          + (f"split: {', '.join(' '.join(w) for w in split)}" if split else "none split"))
    if stats is not None:
        share = f"{stats.split_share:.1%}" if stats.split_share is not None else "-"
        print(f"\nvocabulary: {stats.size:,} pieces\ncounted in {stats.source}: {stats.pieces:,} pieces, {stats.words:,} "
              f"words, {share} of words split into several pieces\nmost frequent pieces:")
        for rank, (piece, count) in enumerate(stats.top[:args.top], start=1):
            print(f"{rank:>5}  {piece:<16} {count:>10,}  {count / stats.pieces:6.1%}")
    return 0


def cmd_embeddings(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.embeddings import embedding_view

    ckpt = load_checkpoint(args.checkpoint)
    view = embedding_view(ckpt, args.word or "", args.words, args.neighbours)
    if args.out is not None:
        view.figure.savefig(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    found = view.neighbours
    if args.json:
        print(json.dumps({"words": view.words, "points": view.points.tolist(), "explained": view.explained,
                          "word": found and {"word": found.word, "pieces": found.pieces,
                                             "neighbours": [{"piece": p, "similarity": s} for p, s in found.rows]}}))
        return 0
    print(view.note)
    if found is not None:
        for rank, (piece, similarity) in enumerate(found.rows, start=1):
            print(f"{rank:>4}  {piece:<16} {similarity:6.3f}  {'█' * max(0, round(similarity * 30))}")
    elif args.out is None:
        print(", ".join(view.words))
    return 0


def cmd_eval(args) -> int:
    from babybert.bert.checkpoint import load_checkpoint
    from babybert.analysis.evaluate import evaluate
    from babybert.data.store import read_documents

    ckpt = load_checkpoint(args.checkpoint)
    dataset = dataset_corpus(args, tell=not args.json)
    corpus, name = (dataset.path, dataset.name) if dataset else (args.corpus, args.corpus.name)
    train_config = ckpt.info.get("train_config") or {}
    holdout = train_config.get("holdout", 0.1) if args.split == "held-out" else None
    docs = read_documents(corpus, holdout, args.max_sentences)  # as a stream: the corpus may be large
    if not docs:
        raise ValueError(f"{name} has no sentences to evaluate on")
    tasks = tuple(train_config.get("tasks", ("mlm", "nsp")))
    metrics = evaluate(ckpt.model, ckpt.tokenizer, docs, seed=args.seed, tasks=tasks, max_sentences=args.max_sentences)
    if args.json:
        print(json.dumps(metrics.to_dict()))
    else:
        print(f"{args.split} split of {name}: {describe_metrics(metrics)}")
    return 0


def cmd_runs(args) -> int:
    from babybert.bert.checkpoint import INFO
    from babybert.analysis.runs import Run, table, write_csv

    runs = []
    for path in args.checkpoints:
        if not (path / INFO).is_file():
            raise ValueError(f"{path} is not a checkpoint trained by BabyBERT (no {INFO} in it): runs compares the "
                             "folders that `babybert train --out` wrote")
        runs.append(Run.from_info(json.loads((path / INFO).read_text(encoding="utf-8")), name=path.name))
    headers, rows = table(runs)
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    for line in (headers, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    if args.csv:
        write_csv(runs, args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    from babybert.bench.throughput import DEFAULT_CORPUS, print_report, run_bench
    from babybert.bench.app import APP, print_app_report, run_app_bench

    if args.quick:
        from babybert.bench.throughput import run_quick
        report = run_quick(args.corpus)
        if args.json:
            print(json.dumps(report))  # one line, the last of stdout
        else:
            print("\n".join(f"{k:<26} {v}" for k, v in report.items()))
        return 0
    reports = {}
    if args.only == "quality":
        from babybert.bench.quality import print_quality_report, run_quality_bench
        corpus = args.corpus or DEFAULT_CORPUS
        reports["quality"] = report = run_quality_bench(corpus, args.budgets, log=lambda line: print(line, file=sys.stderr, flush=True))
        if not args.json:
            print(print_quality_report(report), flush=True)
    if args.only in (None, "throughput"):
        reports["throughput"] = report = run_bench(corpus=args.corpus, steps=args.steps, rounds=args.rounds)
        if not args.json:
            print(print_report(report), flush=True)
    if args.only == "app" or (args.only is None and APP.is_file()):  # the app ships with the source, not the package
        if not APP.is_file():
            raise ValueError(f"the app benchmark needs the source checkout: {APP} is missing")
        reports["app"] = report = run_app_bench(args.app_budget, args.app_rounds, args.corpus)
        if not args.json:
            print(print_app_report(report))
    if args.only == "load":
        from babybert.bench.app import print_load_report, run_load_bench
        if not APP.is_file():
            raise ValueError(f"the load benchmark needs the source checkout: {APP} is missing")
        reports["load"] = report = run_load_bench(args.app_budget, args.corpus)
        if not args.json:
            print(print_load_report(report))
    if args.only == "scaling":
        from babybert.bench.scaling import print_scaling_report, run_scaling_bench
        reports["scaling"] = report = run_scaling_bench(args.corpus, budget=args.app_budget)
        if not args.json:
            print(print_scaling_report(report))
    if args.only == "corpus":
        from babybert.bench.corpus import print_corpus_report, run_corpus_bench
        reports["corpus"] = report = run_corpus_bench(args.corpus, budget=args.app_budget,
                                                      log=lambda line: print(line, file=sys.stderr, flush=True))
        if not args.json:
            print(print_corpus_report(report))
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def cmd_push(args) -> int:
    from babybert.hub.repos import push

    result = push(args.checkpoint, args.repo_id, token=args.token, private=args.private, endpoint=args.endpoint,
                  commit_message=args.message)
    print(f"pushed {args.checkpoint} to {result.url} (commit {result.commit_id[:7]})", file=sys.stderr)
    print(result.url)
    return 0


def cmd_pull(args) -> int:
    from babybert.hub.repos import pull

    ckpt = pull(args.repo_id, revision=args.revision, endpoint=args.endpoint, token=args.token, out=args.out)
    cfg = ckpt.model.config
    print(f"pulled {args.repo_id}{'@' + args.revision if args.revision else ''} into {args.out}: "
          f"{ckpt.model.num_parameters():,} parameters, {cfg.num_hidden_layers} layers x {cfg.hidden_size} hidden, "
          f"vocabulary {len(ckpt.tokenizer):,}\n"
          f"try it:  python -m babybert fill-mask {shlex.quote(str(args.out))} \"your sentence with a [MASK] .\"",
          file=sys.stderr)
    return 0


def cmd_deploy_space(args) -> int:
    from babybert.hub.space import deploy_space, space_files

    result = deploy_space(args.space_id, token=args.token, private=args.private, endpoint=args.endpoint)
    print(f"uploaded {len(space_files())} files to {result.url} (commit {result.commit_id[:7]}); "
          "the Space builds and starts in a few minutes", file=sys.stderr)
    print(result.url)
    return 0


# ----------------------------------------------------------------------------- output

def event_to_json(event) -> dict:
    from dataclasses import fields

    from babybert.training.events import Done
    if isinstance(event, Done):
        d = {"step": event.step, "metrics": event.metrics.to_dict(), "reason": event.reason,
             "elapsed": event.elapsed, "checkpoint": str(event.checkpoint) if event.checkpoint else None}
    else:  # every field but the live model and tokenizer
        d = {f.name: _jsonable(getattr(event, f.name)) for f in fields(event) if f.name not in ("model", "tokenizer")}
    return {"event": type(event).__name__.lower(), **d}


def _jsonable(value):
    from dataclasses import is_dataclass
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


# ----------------------------------------------------------------------------- entry point

COMMANDS = {"train": cmd_train, "fill-mask": cmd_fill_mask, "nsp": cmd_nsp, "tokenize": cmd_tokenize,
            "embeddings": cmd_embeddings, "eval": cmd_eval, "push": cmd_push, "pull": cmd_pull, "runs": cmd_runs,
            "deploy-space": cmd_deploy_space, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import transformers
    transformers.logging.set_verbosity_error()
    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as e:
        from babybert.training.memory import MEMORY_ADVICE, out_of_memory
        if not out_of_memory(e):
            raise
        print(f"error: out of memory; {MEMORY_ADVICE}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
