"""What a run needs besides its weights to go on exactly where it stopped: the optimizer, the step
and the time spent, every random generator, and the position in the data, as one `RunState`.

It is written as `training_state.pt` inside the checkpoint folder, in the same atomic move as the
weights (save_checkpoint assembles a temporary folder, then renames it), so the two always match.
It is never pushed to the Hub. Loading uses `torch.load(weights_only=True)`: tensors and plain
Python values only.

    saved = load_training_state("ckpt")       # the file's dict: step, optimizer, generators, ...
    state = RunState.from_dict(saved, optimizer, Generators.seeded(seed, rank), world, device)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from babybert.bert.checkpoint import STATE_FILE
from babybert.errors import UserError
from babybert.training import distributed

FORMAT = 1


@dataclass
class Position:
    """Where the run is in its data: epochs begun, the next batch of the current epoch, and the
    planning generator's state from before the current epoch was drawn (to draw it again)."""
    epoch: int
    batch: int
    plan_state: torch.Tensor


@dataclass
class Generators:
    """The run's own random generators, one per purpose."""
    plan: torch.Generator  # each epoch's sentence pairs and batch order (data.batches.plan_epoch)
    mask: torch.Generator  # which tokens each training batch hides: each rank masks its own rows
    sample: torch.Generator  # the masked sentence each evaluation shows

    @classmethod
    def seeded(cls, seed: int, rank: int = 0) -> Generators:
        # Exact resume rests on one rule: every random draw of training comes from one of these three
        # generators or from torch's global one (initial weights, dropout), each seeded from `seed`
        # (and the rank) only, and all of their states are saved with the run and restored before its
        # next draw. The plan generator is saved as of the start of the current epoch, which is drawn
        # again on resume; the others go on from where they were.
        torch.manual_seed(seed)
        return cls(plan=torch.Generator().manual_seed(seed), mask=torch.Generator().manual_seed(seed + 3 + 7919 * rank),
                   sample=torch.Generator().manual_seed(seed + 2))


@dataclass
class RunState:
    """Everything besides the weights that decides what a run does next; what changes as it trains."""
    optimizer: torch.optim.Optimizer
    generators: Generators
    position: Position
    step: int = 0  # optimizer steps taken
    tokens: int = 0  # tokens trained on (all ranks)
    train_time: float = 0.0  # seconds spent in steps (for tokens per second)
    elapsed: float = 0.0  # seconds since the run began, when it was saved: a resumed run's time budget counts them
    history: list[dict] = field(default_factory=list)  # per step: step, loss, mlm_loss, nsp_loss, lr
    eval_history: list[dict] = field(default_factory=list)  # per evaluation: step and the metrics

    @classmethod
    def new(cls, optimizer: torch.optim.Optimizer, generators: Generators) -> RunState:
        return cls(optimizer, generators, Position(epoch=0, batch=0, plan_state=generators.plan.get_state()))

    def to_dict(self, world: distributed.World, device: torch.device, train_config: dict, corpus: str,
                elapsed: float) -> dict:
        """`training_state.pt`'s contents. Every rank takes part (each has its own mask generator);
        rank 0 saves it."""
        masks = distributed.gather(self.generators.mask.get_state(), world)
        saved = {"format": FORMAT, "step": self.step, "tokens": self.tokens, "train_time": self.train_time,
                 "elapsed": elapsed, "epoch": self.position.epoch, "batch": self.position.batch,
                 "world_size": world.size, "plan_generator": self.position.plan_state, "mask_generators": masks,
                 "sample_generator": self.generators.sample.get_state(), "torch_rng": torch.get_rng_state(),
                 "optimizer": self.optimizer.state_dict(), "train_config": train_config, "corpus": corpus,
                 "history": self.history, "eval_history": self.eval_history}
        if device.type == "cuda":
            saved["cuda_rng"] = torch.cuda.get_rng_state(device)
        return saved

    @classmethod
    def from_dict(cls, saved: dict, optimizer: torch.optim.Optimizer, generators: Generators,
                  world: distributed.World, device: torch.device, source: str | Path = "the checkpoint") -> RunState:
        """The state `saved` (see to_dict) describes, with the optimizer and generators set to it,
        torch's global generators too."""
        if saved["world_size"] != world.size:
            raise UserError(f"the run in {source} trained on {saved['world_size']} process(es); resume it with as "
                            f"many (this is {world.size})")
        optimizer.load_state_dict(saved["optimizer"])
        generators.plan.set_state(saved["plan_generator"])
        generators.mask.set_state(saved["mask_generators"][world.rank])
        generators.sample.set_state(saved["sample_generator"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        return cls(optimizer, generators, Position(saved["epoch"], saved["batch"], saved["plan_generator"]),
                   saved["step"], saved["tokens"], saved["train_time"], saved["elapsed"], saved["history"],
                   saved["eval_history"])


def corpus_fingerprint(documents: list[list[str]]) -> str:
    """A hash of the text trained on: a run resumes only on the corpus it started with."""
    h = hashlib.sha256()
    for doc in documents:
        for sentence in doc:
            h.update(sentence.encode("utf-8"))
            h.update(b"\n")
        h.update(b"\n")
    return h.hexdigest()


def load_training_state(directory: str | Path) -> dict:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise UserError(f"{directory} has no {STATE_FILE}, so it cannot be resumed: it was not saved with "
                        "--save-every. Use --init to start a new run from its weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise UserError(f"{path} cannot be read ({type(e).__name__}); it is not a BabyBERT training state") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a BabyBERT training state of format {FORMAT}")
    return state


__all__ = ["FORMAT", "STATE_FILE", "Generators", "Position", "RunState", "corpus_fingerprint", "load_training_state"]
