"""Workers that run one engine call off the GUI thread, and the runner that tracks them.

An :class:`EngineWorker` is a superqt ``WorkerBase`` (a ``QRunnable`` in the global
thread pool) with the signals ``started``, ``progress``, ``returned``, ``errored``,
``aborted`` and ``finished``. It passes the engine call a ``progress`` callback, which
emits :class:`~quantviz.progress.ProgressEvent` objects to the GUI thread, and a
:class:`~quantviz.progress.CancelToken` that :meth:`EngineWorker.quit` sets; the engine
stops at its next step and the worker then emits ``aborted`` in place of ``returned``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils._qthreading import WorkerBase, WorkerBaseSignals

from quantviz.errors import Cancelled
from quantviz.progress import CancelToken, ProgressEvent

logger = logging.getLogger(__name__)


class EngineWorkerSignals(WorkerBaseSignals):
    progress = Signal(object)  # a ProgressEvent
    aborted = Signal()


class EngineWorker(WorkerBase):
    """Run ``func(*args, **kwargs, progress=..., cancel=...)`` in the global thread pool.

    ``progress_arg`` and ``cancel_arg`` name the keyword arguments that receive the
    callback and the token; ``None`` leaves that argument out (for quick calls that
    take neither). ``result_on_cancel`` is for calls that return a partial result when
    cancelled (QAT returns its curves so far): the worker then emits ``returned`` with
    it, followed by ``aborted``. Progress events are forwarded at most every ``progress_interval_s``
    seconds, except the last event of each stage, so a fast loop cannot flood the GUI
    thread with queued signals.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *args: Any,
        title: str = "",
        progress_arg: str | None = "progress",
        cancel_arg: str | None = "cancel",
        progress_interval_s: float = 0.05,
        result_on_cancel: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(SignalsClass=EngineWorkerSignals)
        self.title = title
        self.token = CancelToken()
        self._func = func
        self._args = args
        self._kwargs = dict(kwargs)
        if progress_arg:
            self._kwargs[progress_arg] = self._report
        if cancel_arg:
            self._kwargs[cancel_arg] = self.token
        self._interval = progress_interval_s
        self._result_on_cancel = result_on_cancel
        self._last_emit = 0.0
        self.setAutoDelete(False)

    def quit(self) -> None:
        """Ask the engine call to stop at its next step."""
        super().quit()
        self.token.cancel()

    def _report(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.step < event.total and now - self._last_emit < self._interval:
            return
        self._last_emit = now
        self.signals.progress.emit(event)

    def work(self) -> Any:
        logger.debug("job %r started", self.title)
        try:
            result = self._func(*self._args, **self._kwargs)
        except Cancelled:
            logger.debug("job %r cancelled", self.title)
            self.signals.aborted.emit()
            return None
        if self.abort_requested:
            # WorkerBase.run emits "returned" only when no abort was requested.
            if self._result_on_cancel:
                self.signals.returned.emit(result)
            self.signals.aborted.emit()
            return None
        logger.debug("job %r done", self.title)
        return result


class JobRunner(QObject):
    """Starts workers, keeps them referenced until they finish and cancels them on close.

    Jobs that use the model (loading, analysis, evaluation, QAT, export) are
    ``exclusive``: one at a time, because they run forward passes or change weights.
    Light jobs (an on-demand heatmap) may run beside them.
    """

    busyChanged = Signal(bool)  # an exclusive job started (True) or ended (False)
    jobStarted = Signal(str)
    jobProgress = Signal(str, object)  # job title, ProgressEvent
    jobFinished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers: list[EngineWorker] = []
        self._exclusive: EngineWorker | None = None

    @property
    def busy(self) -> bool:
        return self._exclusive is not None

    @property
    def current_title(self) -> str:
        return self._exclusive.title if self._exclusive else ""

    @property
    def running(self) -> int:
        return len(self._workers)

    def start(
        self,
        worker: EngineWorker,
        *,
        exclusive: bool = True,
        returned: Callable[[Any], None] | None = None,
        errored: Callable[[Exception], None] | None = None,
        aborted: Callable[[], None] | None = None,
        connect: Callable[[EngineWorker], None] | None = None,
    ) -> EngineWorker:
        """Connect the handlers and start ``worker``; raise RuntimeError when busy.

        ``connect`` attaches more slots after these handlers (so they run after them) and
        before the worker starts, because a queued signal reaches only the slots
        connected when it was emitted.
        """
        if exclusive and self._exclusive is not None:
            raise RuntimeError(f"job {self._exclusive.title!r} is still running")
        # The worker's thread emits "finished" a moment after "returned", "errored" or
        # "aborted". The job is released before the handler runs, so a handler can
        # start the next job at once.
        worker.returned.connect(lambda result: self._done(worker, returned, result))
        worker.errored.connect(lambda error: self._done(worker, errored, error))
        worker.signals.aborted.connect(lambda: self._done(worker, aborted))
        worker.signals.progress.connect(lambda event: self._progress(worker, event))
        worker.finished.connect(lambda: self._finish(worker))
        if connect is not None:
            connect(worker)
        self._workers.append(worker)
        if exclusive:
            self._exclusive = worker
            self.busyChanged.emit(True)
        self.jobStarted.emit(worker.title)
        worker.start()
        return worker

    def _progress(self, worker: EngineWorker, event: ProgressEvent) -> None:
        if shiboken6.isValid(self):
            self.jobProgress.emit(worker.title, event)

    def _done(self, worker: EngineWorker, handler: Callable[..., None] | None, *args: Any) -> None:
        # The handlers are closures, which Qt does not disconnect when the window and this
        # runner are deleted, so a light job that ends after the window closed stops here.
        if not shiboken6.isValid(self):
            return
        self._release(worker)
        if handler is not None:
            handler(*args)

    def _release(self, worker: EngineWorker) -> None:
        if worker is self._exclusive:
            self._exclusive = None
            self.busyChanged.emit(False)

    def _finish(self, worker: EngineWorker) -> None:
        if not shiboken6.isValid(self):
            return
        self._release(worker)
        if worker in self._workers:
            self._workers.remove(worker)
            self.jobFinished.emit(worker.title)

    def cancel_all(self) -> None:
        for worker in list(self._workers):
            worker.quit()

    def cancel_exclusive(self) -> None:
        if self._exclusive is not None:
            self._exclusive.quit()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every pool thread is idle; True when they all finished in time."""
        return QThreadPool.globalInstance().waitForDone(msecs)
