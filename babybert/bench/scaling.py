"""How training scales with processes: the same `babybert train` on 1 process and, through
torchrun, on N (gloo on CPU, nccl on GPUs), with the same time budget, alternating rounds. Speed is
real tokens per second of wall-clock training (the run's own tokens over its train_seconds);
efficiency is N-process speed over N times the 1-process speed.

On one machine the processes share its cores: each gets cores / N threads, so the efficiency
measured here is that of splitting the same cores, not of adding machines.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from babybert.paths import EXAMPLES_DIR


def train_speed(corpus: Path, processes: int, budget: float, out: Path) -> dict:
    """One run of the default recipe for `budget` seconds on `processes` processes."""
    command = ["-m", "babybert", "train", "--corpus", str(corpus), "--out", str(out), "--time-budget", str(budget),
               "--eval-every", "0", "--device", "cpu"]
    if processes > 1:
        command = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *command]
    threads = max(1, (os.cpu_count() or 1) // processes)
    proc = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if proc.returncode != 0:
        raise RuntimeError(f"training on {processes} process(es) failed:\n{proc.stderr[-2000:]}")
    info = json.loads((out / "babybert.json").read_text())
    return {"steps": info["steps"], "tokens": info["tokens"], "seconds": info["train_seconds"],
            "tokens_per_sec": info["tokens"] / info["train_seconds"]}


def run_scaling_bench(corpus: str | Path | None = None, budget: float = 20, rounds: int = 2,
                      processes: tuple[int, ...] = (1, 2)) -> dict:
    path = Path(corpus) if corpus else EXAMPLES_DIR / "world_facts.txt"
    speeds: dict[int, list[float]] = {n: [] for n in processes}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for n in processes if r % 2 == 0 else reversed(processes):  # alternate, against drift
                speeds[n].append(train_speed(path, n, budget, Path(tmp) / f"n{n}-r{r}")["tokens_per_sec"])
    base = statistics.median(speeds[processes[0]])
    rows = {n: {"tokens_per_sec": round(statistics.median(v)), "speedup": round(statistics.median(v) / base, 3),
                "efficiency": round(statistics.median(v) / (base * n / processes[0]), 3), "rounds": [round(x) for x in v]}
            for n, v in speeds.items()}
    return {"corpus": path.name, "budget_s": budget, "cpu_cores": os.cpu_count(), "processes": rows}


def print_scaling_report(r: dict) -> str:
    lines = [f"scaling ({r['corpus']}, {r['budget_s']:.0f} s runs, {r['cpu_cores']} CPU cores shared by the processes)"]
    for n, row in r["processes"].items():
        lines.append(f"  {n} process{'es' if int(n) > 1 else '  '}  {row['tokens_per_sec']:>9,} tokens/s   "
                     f"speed-up {row['speedup']:.2f}x   efficiency {row['efficiency']:.0%}   rounds {row['rounds']}")
    return "\n".join(lines)
