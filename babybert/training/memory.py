"""Running out of memory while training: how to tell (CUDA, the CPU allocator and oneDNN each say
it their own way), and the error a user can act on."""

from __future__ import annotations

import torch


MEMORY_ADVICE = "try a smaller batch size, max length or model"


class OutOfMemory(ValueError):
    """Training ran out of memory: the user can fix it (a smaller batch or model). A process that hit
    it may not recover on its own: after oneDNN once fails to create a kernel for want of memory, it
    fails every later one too, with memory back (PyTorch 2.13, oneDNN 3.12). A server that trains
    in a process of its own replaces that process (babybert/worker.py)."""


def out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator a plain RuntimeError that says so, and
    oneDNN (CPU matrix kernels) "could not create a primitive" when its workspace cannot be allocated."""
    message = str(error)
    return (isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in message
            or "could not create a primitive" in message)
