"""Progress reporting and cooperative cancellation for long engine operations.

Every long operation takes ``progress`` (a callable receiving :class:`ProgressEvent`)
and ``cancel`` (a :class:`CancelToken`). It checks the token between steps and raises
:class:`~quantviz.errors.Cancelled` at the next step after the token is set, so the
caller's objects are left as they were after the last finished step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from quantviz.errors import Cancelled


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation: ``step`` of ``total`` done, working on ``item``."""

    step: int
    total: int
    item: str = ""
    stage: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total > 0 else 0.0


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """Ignore progress events; the default callback."""


class CancelToken:
    """A thread-safe flag that a GUI or signal handler sets to stop a running job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("the operation was cancelled")


class _NeverCancelled(CancelToken):
    def cancel(self) -> None:
        raise RuntimeError("NEVER_CANCELLED is shared; create a CancelToken() to cancel a job")


NEVER_CANCELLED: CancelToken = _NeverCancelled()
