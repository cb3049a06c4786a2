"""The same training on two processes with torchrun (gloo, this machine's CPU cores): the ranks stay
identical, the same seed gives the same run, the ranks train on exactly the examples of one
process's batches, and a rank that dies ends the run at once instead of hanging it."""

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

from babybert import load_checkpoint, parse_corpus
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


def test_two_processes_train_on_the_rows_of_one_process_batches(tmp_path):
    """--batch-size is the global batch: at every step the 2 ranks train on exactly the examples of
    the batch one process trains on, each its half (rank r rows r, r + 2, ...), as the training
    loop records them. A batch of one example cannot be split in two: both ranks skip it (the animal
    corpus makes 129 NSP examples an epoch, in 8 batches of 16 and one of 1)."""
    corpus = tmp_path / "animals.txt"
    corpus.write_text(animal_corpus())
    common = ["train", "--corpus", str(corpus), "--max-steps", "40", "--eval-every", "0",
              "--cache-dir", str(tmp_path / "cache"), *TINY]
    (tmp_path / "two").mkdir()
    two = torchrun("tests/ddp_script.py", "--rows", str(tmp_path / "two"), *common, "--out", str(tmp_path / "two" / "ckpt"))
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stderr.splitlines()[0] == "distributed: 2 processes, backend gloo"  # the run's first line
    (tmp_path / "one").mkdir()
    one = subprocess.run([sys.executable, "tests/ddp_script.py", "--rows", str(tmp_path / "one"), *common,
                          "--out", str(tmp_path / "one" / "ckpt")], capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert one.returncode == 0, one.stderr[-3000:]
    # rank 0 built the token store, rank 1 waited for it, the 1-process run found it again
    assert [len(list((tmp_path / "cache" / kind).iterdir())) for kind in ("tokenizers", "tokens")] == [1, 1]
    rank0, rank1 = (json.loads((tmp_path / "two" / f"rows{r}.json").read_text()) for r in range(2))
    single = json.loads((tmp_path / "one" / "rows0.json").read_text())
    assert len(rank0) == len(rank1) == len(single) == 40  # one batch a step
    split = [batch for batch in single if len(batch) >= 2]
    assert len(split) < len(single), "the runs never met a batch of one example: the test lost a case"
    for step, (mine0, mine1, whole) in enumerate(zip(rank0, rank1, split), start=1):
        assert len(mine0) + len(mine1) == len(whole) and mine0 == whole[0::2] and mine1 == whole[1::2], step
    assert load_checkpoint(tmp_path / "two" / "ckpt").info["processes"] == 2


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
