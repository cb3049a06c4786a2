"""What a run needs besides its weights to go on exactly where it stopped: the optimizer, the step
and the time spent, every random generator, and the position in the data.

It is written as `training_state.pt` inside the checkpoint folder, in the same atomic move as the
weights (save_checkpoint assembles a temporary folder, then renames it), so the two always match.
It is never pushed to the Hub. Loading uses `torch.load(weights_only=True)`: tensors and plain
Python values only.

    state = load_training_state("ckpt")       # a dict: step, optimizer, generators, position, ...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from babybert.bert.checkpoint import STATE_FILE

FORMAT = 1


@dataclass
class Position:
    """Where the run is in its data: epochs begun, the next batch of the current epoch, and the
    planning generator's state from before the current epoch was drawn (to draw it again)."""
    epoch: int
    batch: int
    plan_state: torch.Tensor


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
        raise ValueError(f"{directory} has no {STATE_FILE}, so it cannot be resumed: it was not saved with "
                         "--save-every. Use --init to start a new run from its weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"{path} cannot be read ({type(e).__name__}); it is not a BabyBERT training state") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a BabyBERT training state of format {FORMAT}")
    return state


__all__ = ["STATE_FILE", "Position", "corpus_fingerprint", "load_training_state"]
