"""Run by tests/test_distributed.py, under torchrun or as one process.

    python tests/ddp_script.py OUT                    train() on every rank, then each rank writes a
                                                      digest of its own weights (OUT/rank{r}.json), so the
                                                      test can see that the ranks stayed identical
    python tests/ddp_script.py --rows OUT train ...   `python -m babybert train ...`, while each rank
                                                      records the examples of every batch it trains on
                                                      (OUT/rows{r}.json)
"""

import hashlib
import json
import os
import sys
from pathlib import Path

from babybert import TrainConfig, parse_corpus
from babybert import train
from babybert.training import distributed
from tests.conftest import TINY_MODEL, animal_corpus


def main(out: Path) -> None:
    world = distributed.setup("cpu")
    config = TrainConfig(epochs=None, max_steps=120, batch_size=16, lr=3e-3, eval_every=60, vocab_size=200, seed=0,
                         mask_prob=0.15, save_every=50)
    events = list(train(parse_corpus(animal_corpus()), TINY_MODEL, config, out_dir=out / "ckpt"))
    digest = hashlib.sha256()
    for name, tensor in sorted(events[-1].model.state_dict().items()):
        digest.update(name.encode() + tensor.numpy().tobytes())
    (out / f"rank{world.rank}.json").write_text(json.dumps({
        "world": world.size, "backend": world.backend, "weights": digest.hexdigest(), "steps": events[-1].step,
        "events": sorted({type(e).__name__ for e in events})}))
    distributed.teardown()


def record_rows() -> list[list[list[int]]]:
    """Every batch this process goes on to train on, in order: for each of its rows, the example of
    the epoch's plan it holds (first sentence, second sentence, NSP label; -1 for none), seen where
    the training loop builds the batch."""
    import babybert.training.loop as loop

    batches, make_batch = [], loop.make_batch

    def recording(corpus, plan, rows, *args):
        batches.append([[int(plan.a[r]), int(plan.b[r]) if plan.b is not None else -1,
                         int(plan.label[r]) if plan.label is not None else -1] for r in rows.tolist()])
        return make_batch(corpus, plan, rows, *args)

    loop.make_batch = recording
    return batches


def train_recording_rows(out: Path, args: list[str]) -> int:
    from babybert.cli import main as cli

    batches = record_rows()
    code = cli(args)
    (out / f"rows{os.environ.get('RANK', '0')}.json").write_text(json.dumps(batches))
    return code


if __name__ == "__main__":  # run by torchrun; pytest only imports it
    if sys.argv[1] == "--rows":
        sys.exit(train_recording_rows(Path(sys.argv[2]), sys.argv[3:]))
    main(Path(sys.argv[1]))
