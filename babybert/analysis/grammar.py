"""Does the model know grammar? Minimal pairs (BLiMP: "Paula references Robert." / "Paula reference
Robert."), each judged by which sentence has the higher pseudo-log-likelihood. Chance is 50%.

Pairs come from a JSON, JSONL (optionally gzipped) or parquet file with BLiMP's fields:
`sentence_good`, `sentence_bad`, and optionally `UID` (the phenomenon) and `field` (morphology,
syntax, ...). A Hub dataset such as `nyu-mll/blimp` is read by `babybert.hub.dataset.pairs_from_dataset`.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from babybert.analysis.pll import SentenceScore, check_metric, score_sentences
from babybert.errors import UserError
from babybert.paths import EXAMPLE_PAIRS

GOOD, BAD = "sentence_good", "sentence_bad"
PAIR_FORMATS = ".jsonl, .jsonl.gz, .json or .parquet"


@dataclass(frozen=True)
class MinimalPair:
    good: str
    bad: str
    phenomenon: str = "pairs"  # BLiMP's UID, e.g. "regular_plural_subject_verb_agreement_1"
    field: str = "all"  # BLiMP's field, e.g. "morphology"


@dataclass
class Accuracy:
    """k right out of n, with a 95% Wilson interval (honest at small n and near 0% or 100%)."""
    right: int
    pairs: int

    @property
    def value(self) -> float:
        return self.right / self.pairs if self.pairs else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        n, z = self.pairs, 1.96
        if not n:
            return (float("nan"), float("nan"))
        p = self.right / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))

    def to_dict(self) -> dict:
        low, high = self.interval
        return {"accuracy": self.value, "right": self.right, "pairs": self.pairs, "low": low, "high": high}


@dataclass
class PairResults:
    metric: str
    overall: Accuracy
    by_field: dict[str, Accuracy] = field(default_factory=dict)
    by_phenomenon: dict[str, Accuracy] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The CLI's --json: {"accuracy", "pairs", "by_field", "by_phenomenon"} and the rest."""
        low, high = self.overall.interval
        return {"accuracy": self.overall.value, "pairs": self.overall.pairs, "low": low, "high": high,
                "metric": self.metric, "chance": 0.5,
                "by_field": {k: v.to_dict() for k, v in self.by_field.items()},
                "by_phenomenon": {k: v.to_dict() for k, v in self.by_phenomenon.items()}}


def score_pairs(model, tokenizer, pairs: list[MinimalPair], metric: str = "original", progress: bool = False,
                bf16: bool = False) -> PairResults:
    """A pair counts as known when the good sentence's PLL is strictly higher (a tie is not)."""
    check_metric(metric)
    if not pairs:
        raise UserError("there are no minimal pairs to score")
    scores = score_sentences(model, tokenizer, [s for p in pairs for s in (p.good, p.bad)], metric, progress, bf16)
    right = [scores[2 * i].pll > scores[2 * i + 1].pll for i in range(len(pairs))]
    groups = {"field": defaultdict(lambda: [0, 0]), "phenomenon": defaultdict(lambda: [0, 0])}
    for pair, ok in zip(pairs, right):
        for key, bucket in (("field", pair.field), ("phenomenon", pair.phenomenon)):
            groups[key][bucket][0] += ok
            groups[key][bucket][1] += 1
    tally = lambda g: {k: Accuracy(*v) for k, v in sorted(g.items())}
    return PairResults(metric, Accuracy(sum(right), len(pairs)), tally(groups["field"]), tally(groups["phenomenon"]))


@dataclass
class Verdict:
    """Which of two sentences the model finds more natural, and each piece's part in that."""
    a: SentenceScore
    b: SentenceScore

    @property
    def preferred(self) -> str:
        return "A" if self.a.pll > self.b.pll else "B" if self.b.pll > self.a.pll else "neither"

    def objection(self, which: str) -> int:
        """The index of the piece of sentence `which` ("A" or "B") the model finds least likely."""
        return (self.a if which == "A" else self.b).least_likely


def compare(model, tokenizer, a: str, b: str, metric: str = "original") -> Verdict:
    if not all(isinstance(s, str) and s.strip() for s in (a, b)):
        raise UserError("two sentences are needed: write one in each box")
    first, second = score_sentences(model, tokenizer, [a.strip(), b.strip()], metric)
    return Verdict(first, second)


# ----------------------------------------------------------------------------- reading pairs

def pair_from_row(row, where: str, phenomenon: str = "pairs") -> MinimalPair:
    """One pair from a row with BLiMP's fields; `where` says which row, for the message, and
    `phenomenon` is the pair's when the row has no UID (a Hub dataset's config name)."""
    if not isinstance(row, dict):
        raise UserError(f"{where} is not an object with the fields {GOOD!r} and {BAD!r}")
    missing = [k for k in (GOOD, BAD) if k not in row]
    if missing:
        raise UserError(f"{where} has no field {' or '.join(map(repr, missing))}; a minimal pair needs {GOOD!r} and "
                        f"{BAD!r} (and may have 'UID' and 'field'); its fields are: {', '.join(map(str, row)) or 'none'}")
    good, bad = row[GOOD], row[BAD]
    for name, value in ((GOOD, good), (BAD, bad)):
        if not isinstance(value, str) or not value.strip():
            raise UserError(f"{where}: {name} is empty; every pair needs two sentences")
    return MinimalPair(good.strip(), bad.strip(), str(row.get("UID") or phenomenon), str(row.get("field") or "all"))


def first_of_each(pairs: list[MinimalPair], max_pairs: int | None) -> list[MinimalPair]:
    """The first `max_pairs` pairs of each phenomenon, in the order they come."""
    if max_pairs is None:
        return pairs
    if max_pairs < 1:
        raise UserError(f"--max-pairs must be at least 1, got {max_pairs}")
    seen: dict[str, int] = defaultdict(int)
    kept = []
    for p in pairs:
        if seen[p.phenomenon] < max_pairs:
            seen[p.phenomenon] += 1
            kept.append(p)
    return kept


def is_pairs_file(spec: str | Path) -> bool:
    """Does `spec` name a local file (rather than a Hub dataset OWNER/NAME[:CONFIG])?"""
    text = str(spec)
    return (Path(text).expanduser().exists() or text.lower().endswith((".jsonl", ".gz", ".json", ".parquet"))
            or text.startswith((".", "/", "~")) or text.count("/") != 1)


def read_pairs(path: str | Path, max_pairs: int | None = None) -> list[MinimalPair]:
    """Minimal pairs from a local file (JSONL, gzipped JSONL, JSON list, or parquet)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; give a {PAIR_FORMATS} file of minimal pairs, or a Hub dataset such as "
                        "nyu-mll/blimp")
    rows = list(file_rows(path))
    if not rows:
        raise UserError(f"{path} holds no minimal pairs; each row needs the fields {GOOD!r} and {BAD!r}")
    return first_of_each([pair_from_row(r, f"row {i + 1} of {path.name}") for i, r in enumerate(rows)], max_pairs)


def file_rows(path: Path):
    """The rows of a JSONL (optionally gzipped), JSON or parquet file, as dicts."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq
            yield from pq.read_table(path).to_pylist()
            return
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig") as f:
            if name.endswith((".jsonl", ".jsonl.gz")):
                for n, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as e:
                            raise UserError(f"line {n} of {path.name} is not JSON ({e.msg}); a .jsonl file holds one "
                                            "JSON object a line") from None
            elif name.endswith((".json", ".json.gz")):
                data = json.load(f)
                if isinstance(data, dict):  # {"data": [...]} or {"rows": [...]}, as some exports write it
                    data = next((v for v in data.values() if isinstance(v, list)), [data])
                yield from data
            else:
                raise UserError(f"{path.name}: unknown kind of file; minimal pairs are read from {PAIR_FORMATS}")
    except UserError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, EOFError) as e:
        raise UserError(f"{path.name} is not readable ({type(e).__name__}: {e}); check that it is a complete "
                        f"{PAIR_FORMATS} file") from e
    except Exception as e:
        if type(e).__module__.startswith("pyarrow"):
            raise UserError(f"{path.name} is not a readable parquet file ({e})") from e
        raise


def pairs_to_watch(spec: str | Path | None) -> list[MinimalPair] | None:
    """The pairs a training judges at every evaluation (TrainConfig.minimal_pairs): None, a file,
    or "examples" (examples/minimal_pairs.jsonl)."""
    if spec is None:
        return None
    return read_pairs(EXAMPLE_PAIRS if str(spec) == "examples" else spec)


def check_fits(pairs: list[MinimalPair], tokenizer, max_len: int) -> None:
    """Refuse, before a training starts, pairs with a sentence its model could not read."""
    for i, pair in enumerate(pairs):
        for name, sentence in ((GOOD, pair.good), (BAD, pair.bad)):
            n = len(tokenizer(sentence)["input_ids"])
            if n > max_len:
                raise UserError(f"minimal pair {i + 1}: its {name} is {n} tokens long ([CLS] and [SEP] included) but "
                                f"the model reads at most {max_len}; shorten it or leave the pair out: {sentence[:80]!r}")
