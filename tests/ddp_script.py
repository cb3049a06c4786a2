"""Run by tests/test_distributed.py under torchrun: train() on every rank, then each rank writes
a digest of its own weights, so the test can see that the ranks stayed identical."""

import hashlib
import json
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


if __name__ == "__main__":  # run by torchrun; pytest only imports it
    main(Path(sys.argv[1]))
