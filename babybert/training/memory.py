"""Running out of memory while training: how to tell (CUDA, the CPU allocator and oneDNN each say
it their own way), and the error a user can act on.

    with step_memory(step, model.num_parameters(), batch_size, max_len):
        loss.backward()                       # an allocation that fails raises OutOfMemory
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from babybert.errors import UserError

MEMORY_ADVICE = "try a smaller batch size, max length or model"


class OutOfMemory(UserError):
    """Training ran out of memory: the user can fix it (a smaller batch or model). A process that hit
    it may not recover on its own: after oneDNN once fails to create a kernel for want of memory, it
    fails every later one too, with memory back (PyTorch 2.13, oneDNN 3.12). A server that trains
    in a process of its own replaces that process (babybert/server/worker.py)."""


def out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator a plain RuntimeError that says so, and
    oneDNN (CPU matrix kernels) "could not create a primitive" when its workspace cannot be allocated."""
    message = str(error)
    return (isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in message
            or "could not create a primitive" in message)


@contextlib.contextmanager
def step_memory(step: int, num_parameters: int, batch_size: int, max_len: int) -> Iterator[None]:
    """Running out of memory inside the block (training step `step`) raises OutOfMemory, which says
    what to try; any other error goes through as it is."""
    try:
        yield
    except (MemoryError, RuntimeError) as e:
        if not out_of_memory(e):
            raise
        raise OutOfMemory(f"training ran out of memory at step {step} ({num_parameters:,} parameters, batch size "
                          f"{batch_size}, max length {max_len}); {MEMORY_ADVICE}. Nothing was saved: an earlier "
                          "checkpoint in the output folder is unchanged") from None


__all__ = ["MEMORY_ADVICE", "OutOfMemory", "out_of_memory", "step_memory"]
