"""Scratch buffers and a counting kernel for passes that run once per layer or batch.

Analysing hundreds of layers, or recording activations in hooks between a model's own
operations, allocates many temporaries of a few megabytes. glibc serves those from its
heap once the first of them is freed, and the heap fragments: resident memory can grow
to several times what is live. A :class:`Workspace` keeps one buffer per name instead.
"""

from __future__ import annotations

import ctypes
import sys

import torch


class Workspace:
    """Scratch buffers reused across calls; each grows to the largest size requested.

    Not thread-safe: give each thread its own workspace.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, torch.dtype], torch.Tensor] = {}

    def get(self, name: str, numel: int, dtype: torch.dtype) -> torch.Tensor:
        """Return a 1-D tensor of ``numel`` elements with unspecified contents.

        The tensor shares memory with every other tensor returned for the same ``name``
        and ``dtype``, so a caller uses one name per value that must stay alive.
        """
        buffer = self._buffers.get((name, dtype))
        if buffer is None or buffer.numel() < numel:
            # Drop the old buffer first so that both never exist at once.
            self._buffers.pop((name, dtype), None)
            buffer = torch.empty(numel, dtype=dtype)
            self._buffers[(name, dtype)] = buffer
        return buffer[:numel]


def count_values(index: torch.Tensor, size: int) -> torch.Tensor:
    """Occurrences of each value in ``[0, size)`` among the integer ``index``, as int64.

    Equal to ``torch.bincount(index, minlength=size)`` when every value is below
    ``size`` (an index out of range raises). This runs one serial pass. ``bincount``
    (torch 2.x on CPU) also runs two reductions over the input to find its range, and
    on a busy machine each of those waits for every thread.
    """
    ones = torch.ones(1, dtype=torch.int64).expand(index.numel())
    return torch.zeros(size, dtype=torch.int64).index_add_(0, index.reshape(-1), ones)


def _load_malloc_trim():
    """glibc's ``malloc_trim``, or ``None`` on other C libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def release_free_memory() -> None:
    """Return the C heap's free pages to the operating system (glibc only, else a no-op).

    Resident memory then drops to what is allocated. A forward pass frees megabytes of
    activations at a time, and glibc keeps such freed blocks in its heap, fragmented
    between longer-lived ones. Without a trim, resident memory grows from batch to batch.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
