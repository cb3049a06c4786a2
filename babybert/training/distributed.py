"""Data-parallel training on several processes, GPUs or nodes, with PyTorch's own engine.

`torchrun --nproc_per_node N -m babybert train ...` starts N copies of the same command and tells
each its rank through the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT). `setup()`
joins them into one process group (gloo on CPU, nccl on CUDA); train() then wraps the model in
DistributedDataParallel, gives each rank its share of every batch, and lets rank 0 alone evaluate,
log and save. Without torchrun nothing here does anything: World() is one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

TIMEOUT = timedelta(minutes=10)  # a collective waiting longer than this fails instead of hanging


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def main(self) -> bool:
        """Rank 0: the one process that evaluates, logs, draws and saves."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_by_torchrun(env=os.environ) -> bool:
    return int(env.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "auto") -> World:
    """Join the process group torchrun describes in the environment (once per process)."""
    if not launched_by_torchrun():
        return World()
    if not dist.is_initialized():
        cuda = device != "cpu" and torch.cuda.is_available()
        backend = "nccl" if cuda else "gloo"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=TIMEOUT)
    return current()


def current() -> World:
    """The world this process trains in: one process unless a process group is initialized."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_backend())


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """Sum a few numbers over the ranks (one small collective)."""
    if not world.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def gather(obj, world: World) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


__all__ = ["World", "all_sum", "barrier", "current", "gather", "launched_by_torchrun", "setup", "teardown"]
