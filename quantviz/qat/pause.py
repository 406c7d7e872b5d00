"""Pausing a training run between steps, from another thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from quantviz.progress import CancelToken

# How often a paused run checks whether it may go on or was cancelled, in seconds.
POLL_SECONDS = 0.05


class PauseToken:
    """A thread-safe switch: while it is paused, a training run waits before its next step."""

    def __init__(self) -> None:
        self._paused = threading.Event()

    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def __call__(self) -> bool:
        return self._paused.is_set()


PauseSource = PauseToken | threading.Event | Callable[[], bool] | None


def pause_check(source: PauseSource) -> Callable[[], bool]:
    """Turn a :class:`PauseToken`, a ``threading.Event`` (set = paused), a callable that
    returns True while paused, or None (never paused) into one callable."""
    if source is None:
        return lambda: False
    if isinstance(source, threading.Event):
        return source.is_set
    if callable(source):
        return source
    raise TypeError(
        f"pause must be a PauseToken, a threading.Event or a callable; got {type(source)}"
    )


def wait_while_paused(is_paused: Callable[[], bool], cancel: CancelToken) -> float:
    """Block while ``is_paused()`` is true and ``cancel`` is not set; return seconds waited."""
    start = time.monotonic()
    while is_paused() and not cancel.cancelled:
        time.sleep(POLL_SECONDS)
    return time.monotonic() - start
