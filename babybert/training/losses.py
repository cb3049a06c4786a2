"""Reading training losses back from the device, a few steps at a time.

A GPU runs ahead of Python until a number is read back, so the losses stay on the device and are
read every `loss_read_interval(device)` steps in one go (on CPU: every step). On several ranks each
reading is one small collective (the ranks' mean losses, their tokens together), and a loss that is
not finite ends the run.

    reader = LossReader(("mlm", "nsp"), world, device)
    reader.add(step, lr, tokens, (loss, mlm_loss, nsp_loss))   # before loss.backward()
    reader.finish(elapsed, fraction)                            # after optimizer.step()
    for s in reader.finished(): print(s.step, s.values)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from babybert.errors import UserError
from babybert.training import distributed

LOSS_READ_EVERY_CUDA = 16  # steps between reading losses back from a GPU (on CPU: every step)


def loss_read_interval(device: torch.device) -> int:
    return LOSS_READ_EVERY_CUDA if device.type == "cuda" else 1


def read_back(values: torch.Tensor) -> list:
    """The one place training copies numbers from the device to the host (and so waits for it)."""
    return values.tolist()


@dataclass
class StepLosses:
    """One step's losses: on the device until read back, then numbers."""
    step: int
    lr: float
    tokens: int  # this rank's batch; once read, the whole batch's (all ranks)
    losses: torch.Tensor  # (3,): total, MLM, NSP (0 for a task not trained), on the device
    values: tuple[float, float | None, float | None] | None = None  # read back: total, MLM, NSP (None: not trained)
    elapsed: float | None = None  # once the step is done: seconds since training began
    fraction: float | None = None  # and how far training is then (0..1)

    @property
    def ready(self) -> bool:
        return self.values is not None and self.elapsed is not None


class LossReader:
    """The steps whose losses are not logged yet, oldest first, read back every few steps."""

    def __init__(self, tasks: tuple[str, ...], world: distributed.World, device: torch.device):
        self.tasks, self.world, self.device = tasks, world, device
        self.every = loss_read_interval(device)
        self.pending: list[StepLosses] = []

    def add(self, step: int, lr: float, tokens: int, losses: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]) -> None:
        """A step's losses, just computed; every few steps they are all read (call it before the
        update, so that on CPU a loss that is not finite never reaches the weights)."""
        zero = torch.zeros((), device=losses[0].device)
        self.pending.append(StepLosses(step, lr, tokens, torch.stack([x.detach().float() if x is not None else zero
                                                                       for x in losses])))
        if len(self.pending) >= self.every:
            self.read()

    def finish(self, elapsed: float, fraction: float) -> None:
        """The newest step is done."""
        self.pending[-1].elapsed, self.pending[-1].fraction = elapsed, fraction

    def read(self) -> None:
        """Read the pending steps' losses (all ranks' means) and tokens; refuse a loss that is not finite."""
        unread = [p for p in self.pending if p.values is None]
        if not unread:
            return
        numbers = read_back(torch.stack([p.losses for p in unread]))
        counts = [p.tokens for p in unread]
        if self.world.distributed:  # the whole batch's numbers: the ranks' mean losses, their tokens together
            summed = distributed.all_sum([x for row in numbers for x in row] + counts, self.world, self.device)
            numbers = [[x / self.world.size for x in summed[3 * i:3 * i + 3]] for i in range(len(unread))]
            counts = [int(x) for x in summed[3 * len(unread):]]
        for p, (total, mlm, nsp), n in zip(unread, numbers, counts):
            p.values = (total, mlm if "mlm" in self.tasks else None, nsp if "nsp" in self.tasks else None)
            p.tokens = n
            bad = [x for x in p.values if x is not None and not math.isfinite(x)]
            if bad:  # on CPU before this step's update: the weights are still the last good ones
                raise UserError(f"training diverged: the loss became {bad[0]} at step {p.step} (learning rate "
                                f"{p.lr:.2g}); try a lower learning rate. Nothing was saved: an earlier checkpoint "
                                "in the output folder is unchanged")

    def finished(self, read: bool = False) -> list[StepLosses]:
        """The done steps whose losses were read, oldest first, each once; with `read`, every pending
        loss is read first (on several ranks a collective: every rank must ask alike)."""
        if read:
            self.read()
        done = []
        while self.pending and self.pending[0].ready:
            done.append(self.pending.pop(0))
        return done


__all__ = ["LOSS_READ_EVERY_CUDA", "LossReader", "StepLosses", "loss_read_interval", "read_back"]
