"""The same training on two processes with torchrun (gloo, this machine's CPU cores): the ranks stay
identical, the same seed gives the same run, it learns what one process learns from the same
samples, and a rank that dies ends the run at once instead of hanging it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


import pytest

from babybert import evaluate
from babybert import load_checkpoint, parse_corpus, split_corpus
from babybert import train

from .conftest import animal_corpus

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]  # a free port
TINY = ["--hidden-size", "32", "--num-layers", "2", "--num-heads", "2", "--intermediate-size", "64",
        "--max-seq-len", "32", "--vocab-size", "200", "--batch-size", "16", "--lr", "3e-3", "--mask-prob", "0.15"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, *args], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300, **options)


def ranks(out: Path) -> list[dict]:
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_ranks_stay_identical_and_the_same_seed_gives_the_same_run(tmp_path):
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        out.mkdir()
        proc = torchrun("tests/ddp_script.py", str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(ranks(out))
    first, second = runs
    assert [r["world"] for r in first] == [2, 2] and first[0]["backend"] == "gloo"
    assert first[0]["weights"] == first[1]["weights"]  # gradients were all-reduced: one model on both ranks
    assert [r["weights"] for r in first] == [r["weights"] for r in second]  # same seed, same world size: same run
    assert first[0]["steps"] == first[1]["steps"] == 120
    assert "Eval" in first[0]["events"] and "Eval" not in first[1]["events"]  # rank 0 alone evaluates
    ckpt = load_checkpoint(tmp_path / "run0" / "ckpt")  # saved once, by rank 0, in the usual format
    assert ckpt.info["steps"] == 120 and (tmp_path / "run0" / "ckpt" / "training_state.pt").is_file()
    with pytest.raises(ValueError, match="trained on 2 process\\(es\\); resume it with as many \\(this is 1\\)"):
        list(train(parse_corpus(animal_corpus()), resume=tmp_path / "run0" / "ckpt", out_dir=tmp_path / "resumed"))


def held_out_loss(path: Path, docs) -> float:
    ckpt = load_checkpoint(path)
    held_out = split_corpus(docs)[1]
    return sum(evaluate(ckpt.model, ckpt.tokenizer, held_out, seed=s).mlm_loss for s in range(5)) / 5


def test_two_processes_learn_what_one_learns_from_the_same_samples(tmp_path):
    """--batch-size is the global batch: each of the 2 ranks takes half of every batch, so both runs
    see the same samples at every step."""
    corpus = tmp_path / "animals.txt"
    corpus.write_text(animal_corpus())
    common = ["-m", "babybert", "train", "--corpus", str(corpus), "--max-steps", "300", "--eval-every", "0",
              "--cache-dir", str(tmp_path / "cache"), *TINY]
    two = torchrun(*common, "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stderr.splitlines()[0] == "distributed: 2 processes, backend gloo"  # the run's first line
    one = subprocess.run([sys.executable, *common, "--out", str(tmp_path / "one")], capture_output=True, text=True,
                         env=ENV, cwd=ROOT)
    assert one.returncode == 0, one.stderr[-3000:]
    # rank 0 built the token store, rank 1 waited for it, the 1-process run found it again
    assert [len(list((tmp_path / "cache" / kind).iterdir())) for kind in ("tokenizers", "tokens")] == [1, 1]
    docs = parse_corpus(animal_corpus())
    loss_one, loss_two = held_out_loss(tmp_path / "one", docs), held_out_loss(tmp_path / "two", docs)
    assert abs(loss_two - loss_one) <= 0.1 * loss_one, (loss_one, loss_two)  # training seeds differ by ~0.15


def test_a_rank_that_dies_ends_the_run_at_once(tmp_path):
    corpus = tmp_path / "animals.txt"
    corpus.write_text(animal_corpus())
    proc = subprocess.Popen([*TORCHRUN, "-m", "babybert", "train", "--corpus", str(corpus), "--max-steps", "1000000",
                             "--out", str(tmp_path / "out"), *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline:  # the two ranks, once training
            workers = subprocess.run(["pgrep", "-f", f"babybert train --corpus {corpus}"], capture_output=True,
                                     text=True).stdout.split()
            workers = [w for w in workers if int(w) != proc.pid]
            time.sleep(0.5)
        time.sleep(8)  # well into training
        os.kill(int(workers[-1]), signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - killed < 30, "the run hung after a rank died"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "SIGKILL" in err and "Root Cause" in err  # torchrun names the rank that failed, and how
    assert not (tmp_path / "out" / "config.json").exists() or load_checkpoint(tmp_path / "out")  # never half-written
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
