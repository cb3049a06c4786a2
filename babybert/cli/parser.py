"""The command line's parser: one small function per command, the options several commands share
defined once, and every training setting's flag made from its declaration in babybert/config.py.

    python -m babybert train --corpus my.txt --out ckpt --time-budget 60
    python -m babybert fill-mask ckpt "the capital of france is [MASK]."
"""

from __future__ import annotations

import argparse
from pathlib import Path

from babybert.config import (ModelConfig, Setting, TrainConfig, as_number, cli_flag, field_type, parse_tasks,
                             settings)
from babybert.analysis.pll import PLL_METRICS
from babybert.errors import UserError

EXIT_USAGE = 2
COMMANDS = ("train", "fill-mask", "nsp", "tokenize", "embeddings", "eval", "minimal-pairs", "runs", "push", "pull",
            "deploy-space", "bench")


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line instead of argparse's usage block, and the exit status of every user error."""
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


# ----------------------------------------------------------------------------- text -> values

def whole_number(text: str) -> int:
    try:
        return as_number(text, "value", whole=True)  # (config.py: the one place a value becomes a number)
    except UserError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def number(text: str) -> float:
    try:
        return as_number(text, "value")
    except UserError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def save_interval(text: str) -> tuple[str, float]:
    """'500' -> every 500 steps; '90s', '10m', '1h' -> every so many seconds of training."""
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:].lower() in units:
        return "save_every_seconds", positive_float(text[:-1]) * units[text[-1].lower()]
    try:
        return "save_every", positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected steps (500) or a time (90s, 10m, 1h), got {text!r}") from None


def budgets(text: str) -> tuple[float, ...]:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected seconds separated by commas, e.g. 60,180")
    return tuple(positive_float(t) for t in parts)


def tasks(text: str) -> tuple[str, ...]:
    try:
        return parse_tasks(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def or_none(read):
    """A value, or 'none' for no value (--epochs none: no limit on epochs)."""
    def parse(text: str):
        return None if text.strip().lower() == "none" else read(text)
    parse.__name__ = read.__name__
    return parse


# ----------------------------------------------------------------------------- settings -> flags

SPECIAL_TYPES = {"tasks": tasks, "save_every": save_interval}  # what a flag's text means, where not a plain number


flag = cli_flag  # num_hidden_layers -> --num-hidden-layers


def setting_flags() -> dict[str, str]:
    """Every training setting's name -> its flag (the names in babybert.json -> what `train` takes)."""
    return {f.name: flag(f.name) for cls in (ModelConfig, TrainConfig) for f, _ in settings(cls)}


def _help(s: Setting, default, optional: bool) -> str:
    shown = default if not isinstance(default, tuple) else ",".join(default)
    none = "; none: no limit" if optional and default is not None else ""
    return f"{s.help} (default {'none' if default is None else shown}{none})".replace("%", "%%")


def add_settings(parser: argparse.ArgumentParser) -> None:
    """A flag for every setting of both configs, in groups, with the older spellings as aliases.
    Only the flags given are set on the namespace (argparse.SUPPRESS), so --resume can tell them."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for cls in (ModelConfig, TrainConfig):
        for f, s in settings(cls):
            group = groups.get(s.group) or groups.setdefault(s.group, parser.add_argument_group(s.group))
            kind, optional = field_type(cls, f.name)
            options = dict(dest=f.name, default=argparse.SUPPRESS, help=_help(s, f.default, optional),
                           metavar=s.metavar or ("N" if kind is int else "X"))
            if kind is bool:
                options.update(action=argparse.BooleanOptionalAction, metavar=None)
            elif s.choices and kind is str:
                options.update(choices=s.choices, metavar=None)
            else:
                read = SPECIAL_TYPES.get(f.name, whole_number if kind is int else str if kind is str else number)
                options.update(type=or_none(read) if optional and f.default is not None else read)
            group.add_argument(flag(f.name), *s.aliases, **options)
    groups["model shape"].add_argument("--dropout", type=number, default=argparse.SUPPRESS, metavar="P",
                                       help="sets both --hidden-dropout-prob and --attention-probs-dropout-prob")
    groups["model shape"].description = "ignored with --init: the checkpoint brings its shape"


# ----------------------------------------------------------------------------- options several commands share

def checkpoint_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path, help="checkpoint directory")


def json_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def hub_options(p: argparse.ArgumentParser, what: str, write: bool = False) -> None:
    """--endpoint and --token: which Hub, and whose account (never printed or stored)."""
    g = p.add_argument_group("Hugging Face Hub")
    g.add_argument("--endpoint", help=f"Hub endpoint for {what} (default: $HF_ENDPOINT, else https://huggingface.co)")
    g.add_argument("--token", help=f"Hugging Face token{' with write access' if write else ''} for {what} (default: "
                                   "HF_TOKEN, else the saved `hf auth login`)")


def cache_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help=f"where {what} are kept to be reused (default $BABYBERT_CACHE or ~/.cache/babybert)")


def corpus_options(p: argparse.ArgumentParser, corpus_help: str, split_aliases: tuple[str, ...] = ()) -> None:
    """--corpus or --dataset (with its split, text column and rows): the same for train and eval."""
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", type=Path, help=corpus_help)
    source.add_argument("--dataset", metavar="OWNER/NAME[:CONFIG]|FILE",
                        help="a corpus from a Hub dataset (through the datasets library: pip install "
                             "\"babybert[datasets]\"), or a local .txt, .jsonl, .json, .parquet or .csv file: a row is "
                             "a document, split into sentences by BabyBERT's splitter (rows with line breaks are kept "
                             "at them)")
    g = p.add_argument_group("with --dataset")
    g.add_argument("--dataset-split", *split_aliases, dest="dataset_split", metavar="SPLIT",
                   help="the dataset's split (default train)")
    g.add_argument("--text-column", metavar="NAME", help="the column that holds the text (default text)")
    g.add_argument("--max-rows", type=positive_int, metavar="N", help="take only the first N rows")


# ----------------------------------------------------------------------------- one function per command

def train_parser(p: argparse.ArgumentParser) -> None:
    corpus_options(p, "UTF-8 text file of any size: read as a stream and tokenized once into a token store",
                   split_aliases=("--split",))
    cache_option(p, "token stores and trained tokenizers")
    p.add_argument("--out", type=Path, help="checkpoint directory to write (required, except with --resume: its folder)")
    add_settings(p)
    start = p.add_argument_group("where to start")
    start.add_argument("--init", type=Path, help="continue pretraining from this checkpoint (its tokenizer and shape "
                                                 "are kept)")
    start.add_argument("--tokenizer", metavar="REPO_OR_DIR",
                       help="train a new model from scratch with this published tokenizer (a Hub repository such as "
                            "google-bert/bert-base-uncased, or a folder such as a checkpoint) instead of a WordPiece "
                            "learned from the corpus; --vocab-size is then its own")
    start.add_argument("--resume", type=Path, metavar="DIR",
                       help="go on exactly where the run saved in DIR stopped (its settings, model, optimizer and "
                            "place in the data; --corpus must be the same); only --epochs, --max-steps, --time-budget "
                            "and --save-every may change")
    hub_options(p, "--tokenizer and --dataset")
    out = p.add_argument_group("output")
    out.add_argument("--probe", action="append", default=[], metavar="TEXT",
                     help="a sentence with [MASK], or 'A ||| B', answered at every evaluation (repeatable)")
    out.add_argument("--json", action="store_true", help="print events as JSON lines instead of a progress bar")
    out.add_argument("--report-to", choices=["tensorboard", "trackio"],
                     help="also log the live plot's scalars (losses, learning rate, held-out metrics) to TensorBoard "
                          "or Trackio (optional: pip install \"babybert[tensorboard]\" or \"babybert[trackio]\")")
    out.add_argument("--logging-dir", type=Path, metavar="DIR",
                     help="TensorBoard's folder for this run (default: PyTorch's, runs/DATE_HOST_NAME); Trackio logs "
                          "to $TRACKIO_DIR (default ~/.cache/huggingface/trackio), project babybert")


def fill_mask_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("text", help="a sentence with one or more [MASK]")
    p.add_argument("--top-k", type=positive_int, default=5, help="guesses per mask (default 5)")
    json_option(p, "one list per mask of {token, score}")


def nsp_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("text_a", help="sentence A")
    p.add_argument("text_b", help="sentence B")
    json_option(p, '{"is_next": probability}')


def tokenize_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("text", help="the text to tokenize")
    p.add_argument("--stats", action="store_true",
                   help="also the vocabulary summary: from the counts training recorded; for a checkpoint that "
                        "recorded none (a BERT made elsewhere), counted in --corpus, else in the text")
    p.add_argument("--corpus", type=Path, help="count the pieces in this text file instead (implies --stats)")
    p.add_argument("--top", type=positive_int, default=20, help="most frequent pieces shown with --stats (default 20)")
    json_option(p, '{"pieces": [...], "stats": {...} or null}')


def embeddings_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("--word", help="the word whose neighbours to find (a word of several pieces: their mean vector)")
    p.add_argument("--words", type=positive_int, default=100, help="most frequent words to draw (default 100)")
    p.add_argument("--neighbours", type=positive_int, default=10, help="neighbours to find (default 10)")
    p.add_argument("--out", type=Path, metavar="PNG", help="write the plot to this file")
    json_option(p, "the words drawn, their points, the neighbours")


def eval_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    corpus_options(p, "UTF-8 text file in the training format")
    hub_options(p, "--dataset")
    cache_option(p, "corpora made from datasets")
    p.add_argument("--documents", "--split", choices=["held-out", "all"], default="held-out",
                   help="which documents to score: held-out, the share training held out of this corpus (default); "
                        "all: every document (--split is its older name)")
    p.add_argument("--seed", type=int, default=0, help="masking seed (default 0)")
    p.add_argument("--max-sentences", type=positive_int, default=2000,
                   help="score the first N sentences of those documents (default 2000, as training does)")
    json_option(p, "the metrics")


def minimal_pairs_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("--pairs", required=True, metavar="FILE_OR_DATASET",
                   help="a .jsonl, .jsonl.gz, .json or .parquet file with the fields sentence_good and sentence_bad "
                        "(and UID, field), or a Hub dataset: nyu-mll/blimp (all 67 phenomena) or nyu-mll/blimp:CONFIG "
                        "(one)")
    p.add_argument("--max-pairs", type=positive_int, metavar="N", help="score the first N pairs of each phenomenon")
    p.add_argument("--metric", choices=PLL_METRICS, default="original",
                   help="original: mask one piece at a time (Salazar et al., 2020); within_word_l2r: also mask the "
                        "later pieces of its word (Kauf and Ivanova, 2023), fairer to words split into many pieces")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="score with a bfloat16 copy of the model (bf16: faster, log-probabilities within ~0.3) or "
                        "in float32 (fp32); auto: bf16 where the CPU or GPU multiplies it fast (default auto)")
    hub_options(p, "a Hub dataset")
    json_option(p, '{"accuracy", "pairs", "by_field", "by_phenomenon"} on the last line')


def push_parser(p: argparse.ArgumentParser) -> None:
    checkpoint_argument(p)
    p.add_argument("repo_id", help="owner/name (or just name: your own namespace)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", help="commit message")
    hub_options(p, "the upload", write=True)


def pull_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo_id", help="owner/name, e.g. google/bert_uncased_L-2_H-128_A-2")
    p.add_argument("--out", required=True, type=Path, help="directory to put the checkpoint in")
    p.add_argument("--revision", help="branch, tag or commit id (default: main)")
    hub_options(p, "the download")


def runs_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", type=Path, metavar="CHECKPOINT", help="checkpoint directories")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write every setting and metric to this CSV file")


def deploy_space_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("space_id", help="owner/name of the Space")
    p.add_argument("--private", action="store_true", help="create the Space as private")
    hub_options(p, "the Space", write=True)


def bench_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", choices=["throughput", "app", "quality", "load", "scaling", "corpus"],
                   help="run one part: throughput (vs the transformers recipe and the tuned peer, ~2 min), app (live streaming vs the CLI, ~3 min), "
                        "load (fill-mask latency while two others train, ~1 min), "
                        "scaling (tokens/s on 1 and 2 processes with torchrun, ~2 min), "
                        "corpus (a 1 MB and a 50 MB corpus made of copies of --corpus: time to ready, memory, "
                        "training speed, ~2 min), "
                        "or quality (held-out accuracy after the same training time as the tuned peer and the "
                        "transformers recipe, ~3 x the budgets; only when asked for)")
    p.add_argument("--quick", action="store_true",
                   help="the headline numbers in about two minutes: training speed-up over the recipe (default "
                        "shape and vocabulary 30,522) and the tuned peer, model FLOP utilisation, fill-mask and "
                        "next-sentence latency")
    p.add_argument("--budgets", type=budgets, default=(60, 180), metavar="SECONDS,...",
                   help="quality: training budgets in seconds (default 60,180)")
    p.add_argument("--pairs", metavar="FILE_OR_DATASET",
                   help="quality: also judge these minimal pairs for every contender, by pseudo-log-likelihood (a "
                        "file or a Hub dataset, as minimal-pairs takes them)")
    p.add_argument("--max-pairs", type=positive_int, metavar="N", help="quality: the first N pairs of each phenomenon")
    p.add_argument("--steps", type=positive_int, default=30, help="throughput: timed steps per round (default 30)")
    p.add_argument("--rounds", type=positive_int, default=3, help="throughput: alternating rounds (default 3)")
    p.add_argument("--app-budget", type=positive_float, default=20,
                   help="app, load, scaling and corpus: seconds of training per round (default 20)")
    p.add_argument("--app-rounds", type=positive_int, default=2, help="app: alternating rounds (default 2)")
    p.add_argument("--corpus", type=Path, help="corpus (default: examples/world_facts.txt)")
    json_option(p, "the results")


PARSERS = {  # command -> (its parser, one line of help, a longer description or None)
    "train": (train_parser, "pretrain a BERT (MLM + NSP) on a text corpus",
              "Pretrain a BERT from scratch on a corpus: one sentence per line, a blank line between documents. "
              "Every setting's default, range and meaning: docs/settings.md."),
    "fill-mask": (fill_mask_parser, "guess the [MASK]ed words of a sentence", None),
    "nsp": (nsp_parser, "probability that sentence B follows sentence A", None),
    "tokenize": (tokenize_parser, "the pieces (and ids) a checkpoint's tokenizer makes of a text; its vocabulary",
                 "Show the WordPiece pieces of a text, with ## continuations marked, and with --stats the vocabulary's "
                 "size, most frequent pieces and share of words split into several."),
    "embeddings": (embeddings_parser, "a word's nearest neighbours by cosine similarity; a PCA plot of the embeddings",
                   "The word-embedding matrix of a checkpoint: the nearest neighbours of --word over the whole "
                   "vocabulary, and with --out a 2-D PCA plot of the most frequent words."),
    "eval": (eval_parser, "held-out MLM accuracy, perplexity, whole-word and NSP accuracy", None),
    "minimal-pairs": (minimal_pairs_parser, "grammar: accuracy on minimal pairs (BLiMP), by pseudo-log-likelihood",
                      "Does the model know grammar? For each minimal pair (a good and a bad sentence that differ in "
                      "one point), the model should find the good one more natural: a higher pseudo-log-likelihood. "
                      "Prints the accuracy by field and overall, with 95% intervals; chance is 50%."),
    "runs": (runs_parser, "compare trained checkpoints: the settings that differ and the final held-out metrics",
             "Compare runs: a table of the settings that differ between the checkpoints and their final held-out "
             "metrics; --csv writes every setting and metric."),
    "push": (push_parser, "upload a checkpoint to the Hugging Face Hub (creates the model repo if needed)", None),
    "pull": (pull_parser, "download a checkpoint from the Hub (BabyBERT or a transformers BERT) and check it loads",
             None),
    "deploy-space": (deploy_space_parser, "create a Gradio Space running this app and upload exactly the files it "
                                          "needs", None),
    "bench": (bench_parser, "speed targets: BabyBERT vs the transformers recipe; the app's live training vs the CLI",
              None),
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="babybert", description="Pretrain a tiny BERT from scratch on your own text, then play with it.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        make, summary, description = PARSERS[command]
        make(sub.add_parser(command, help=summary, description=description or summary[:1].upper() + summary[1:] + "."))
    return parser
