"""Large corpora: time and memory from a corpus file to training, and training speed, at 1 MB and
50 MB (copies of `--corpus` back to back, so the text and its sentence lengths stay the same).

Each size runs in a fresh process with an empty token-store cache: the library's own `train()`
on the file, with the default model and recipe, for a time budget. Measured there:
  - ready: seconds from the process's start to the first training step (reading, tokenizer,
    tokenizing into the store, model), and from train() being called;
  - peak RSS while preparing (when training starts: the corpus read and tokenized, the model
    built) and over the whole run (epoch plans and steps too), and the store's size;
  - training tokens/s over the budget.
Targets (issue 13): 50 MB ready in <= 60 s; preparation RSS grows no faster than the store;
training peak RSS <= 1 GB; tokens/s at 50 MB not below 1 MB's (within 10%).
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES_MB = (1, 50)


def make_corpus(source: Path, megabytes: float, dest: Path) -> Path:
    """Whole copies of `source` (a blank line between them) until the file holds `megabytes`."""
    text = source.read_text(encoding="utf-8").strip() + "\n\n"
    copies = max(1, math.ceil(megabytes * 1e6 / len(text.encode("utf-8"))))
    with open(dest, "w", encoding="utf-8") as f:
        for _ in range(copies):
            f.write(text)
    return dest


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(corpus: Path, cache: Path, budget: float, launched: float) -> dict:
    """Run in a fresh process (see main): prepare and train, noting times and memory. `launched`
    is the wall-clock time the process was started: "ready" counts the imports a user waits for."""
    from babybert.config import TrainConfig
    from babybert.training.events import Done, Progress, Start
    from babybert.training.loop import train

    imported = time.time()
    report = {"imports_s": round(imported - launched, 2)}
    for event in train(corpus, config=TrainConfig(epochs=None, time_budget=budget, eval_every=0), cache_dir=cache):
        if isinstance(event, Start):  # read, tokenized, model built: what preparing costs
            report["prepare_peak_rss_mb"] = round(peak_rss_mb())
        if isinstance(event, Progress) and event.step == 1:  # the epoch planned, the first step taken
            now = time.time()
            report.update(ready_s=round(now - launched, 2), prepare_s=round(now - imported, 2))
        elif isinstance(event, Done):
            report.update(steps=event.step, tokens_per_sec=event.info["tokens_per_sec"])
    report["peak_rss_mb"] = round(peak_rss_mb())
    report["store_mb"] = round(sum(f.stat().st_size for f in cache.rglob("*.int32")) / 1e6, 1)
    report["corpus_mb"] = round(corpus.stat().st_size / 1e6, 1)
    return report


def run_corpus_bench(source: str | Path | None = None, budget: float = 20, sizes=SIZES_MB,
                     log=lambda line: None) -> dict:
    from babybert.paths import DEFAULT_CORPUS

    source = Path(source) if source else DEFAULT_CORPUS
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mb in sizes:
            corpus = make_corpus(source, mb, Path(tmp) / f"corpus-{mb}mb.txt")
            cache = Path(tmp) / f"cache-{mb}"
            log(f"corpus bench: {mb} MB ({corpus.stat().st_size / 1e6:.1f} MB), preparing and training {budget:g} s")
            proc = subprocess.run([sys.executable, "-m", "babybert.bench.corpus", str(corpus), str(cache), str(budget),
                                   repr(time.time())], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"the {mb} MB run failed:\n{proc.stderr[-2000:]}")
            rows[mb] = json.loads(proc.stdout.strip().splitlines()[-1])
            corpus.unlink()
    small, large = rows[sizes[0]], rows[sizes[-1]]
    growth_rss = large["prepare_peak_rss_mb"] - small["prepare_peak_rss_mb"]
    growth_store = large["store_mb"] - small["store_mb"]
    speed = large["tokens_per_sec"] / small["tokens_per_sec"]
    targets = {
        "ready_50mb_s <= 60": [large["ready_s"], large["ready_s"] <= 60],
        "prepare RSS growth <= store growth (MB)": [[growth_rss, round(growth_store, 1)], growth_rss <= growth_store],
        "training peak RSS <= 1024 MB": [large["peak_rss_mb"], large["peak_rss_mb"] <= 1024],
        "tokens/s 50 MB vs 1 MB >= 0.9": [round(speed, 3), speed >= 0.9],
    }
    return {"source": source.name, "budget_s": budget, "sizes": rows, "targets": targets}


def print_corpus_report(r: dict) -> str:
    lines = [f"large corpora (copies of {r['source']}; default model, {r['budget_s']:g} s of training; fresh cache)",
             f"  {'corpus':>8} {'ready':>8} {'prepare':>8} {'prep RSS':>9} {'store':>8} {'peak RSS':>9} {'tokens/s':>9}"]
    for mb, row in r["sizes"].items():
        lines.append(f"  {row['corpus_mb']:>6.1f}MB {row['ready_s']:>7.1f}s {row['prepare_s']:>7.1f}s "
                     f"{row['prepare_peak_rss_mb']:>7}MB {row['store_mb']:>6.1f}MB {row['peak_rss_mb']:>7}MB "
                     f"{row['tokens_per_sec']:>9,}")
    for name, (value, ok) in r["targets"].items():
        lines.append(f"  {'ok  ' if ok else 'MISS'} {name}: {value}")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    corpus, cache, budget, launched = Path(argv[0]), Path(argv[1]), float(argv[2]), float(argv[3])
    print(json.dumps(measure(corpus, cache, budget, launched)))


if __name__ == "__main__":
    main(sys.argv[1:])
