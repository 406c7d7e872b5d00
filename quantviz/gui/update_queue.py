"""Spread the redraws that one result causes over several event-loop turns."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

# Milliseconds between the end of one step and the start of the next.
STEP_DELAY_MS = 5


class UpdateQueue(QObject):
    """Runs queued view updates one per event-loop turn, in the order they were queued.

    A new analysis or a finished QAT run changes every view. Redrawing them all in the
    slot that receives the result keeps the event loop busy until the last one is
    done, so the window neither paints nor takes input for that time. Here each step
    runs from a timer :data:`STEP_DELAY_MS` after the previous one, and Qt handles
    pending paints, input and other timers between two steps.

    A step is keyed by the callable itself: queueing a bound method that is already
    queued keeps its place, so a burst of changes redraws a view once.
    """

    drained = Signal()  # the queue is empty again: its last step ran or was discarded

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._steps: OrderedDict[Callable[[], object], None] = OrderedDict()
        # A single-shot timer is started again after each step, because with a repeating
        # zero-interval timer Qt 6.11 ran the first two steps back to back, with no
        # other timer in between. The short delay lets Qt paint the changes of the slot
        # that queued the steps before the first step runs. Without it, the first step
        # and those paints ran in one event-loop iteration.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STEP_DELAY_MS)
        self._timer.timeout.connect(self._run_next)

    @property
    def pending(self) -> int:
        return len(self._steps)

    def is_queued(self, step: Callable[[], object]) -> bool:
        return step in self._steps

    def add(self, *steps: Callable[[], object]) -> None:
        """Queue ``steps`` to run one per event-loop turn after those already queued."""
        for step in steps:
            self._steps.setdefault(step, None)
        if self._steps and not self._timer.isActive():
            self._timer.start()

    def discard(self, *steps: Callable[[], object]) -> None:
        """Drop ``steps`` that have not run yet (a view that redrew itself meanwhile)."""
        had_steps = bool(self._steps)
        for step in steps:
            self._steps.pop(step, None)
        if had_steps and not self._steps:
            self._timer.stop()
            self.drained.emit()

    def flush(self) -> None:
        """Run every queued step now, including steps that those steps queue."""
        while self._steps:
            self._run_next()

    def _run_next(self) -> None:
        if not self._steps:
            return
        step, _ = self._steps.popitem(last=False)
        try:
            step()
        finally:
            if self._steps:
                self._timer.start()
            else:
                self._timer.stop()
                self.drained.emit()
