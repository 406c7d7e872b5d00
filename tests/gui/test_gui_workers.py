"""Workers: signal order, progress, cancellation, errors, one model job at a time."""

import threading
import time

import pytest

from quantviz.errors import QuantvizError
from quantviz.gui.workers import EngineWorker, JobRunner
from quantviz.progress import ProgressEvent


def counting_job(steps, delay, *, progress, cancel):
    for step in range(steps):
        cancel.raise_if_cancelled()
        progress(ProgressEvent(step, steps, f"item {step}", "counting"))
        time.sleep(delay)
    progress(ProgressEvent(steps, steps, "", "counting"))
    return steps * 10


def failing_job(*, progress, cancel):
    raise QuantvizError("model folder x has no config.json")


def test_worker_signal_order(qtbot):
    worker = EngineWorker(counting_job, 3, 0.01, title="count")
    signals = [worker.started, worker.returned, worker.finished]
    with qtbot.waitSignals(signals, order="strict", timeout=10_000):
        worker.start()


def test_worker_returns_value_on_gui_thread(qtbot):
    worker = EngineWorker(counting_job, 3, 0.0, title="count")
    seen = {}
    worker.returned.connect(
        lambda value: seen.update(
            value=value, main=threading.current_thread() is threading.main_thread()
        )
    )
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert seen == {"value": 30, "main": True}


def test_worker_progress_last_event(qtbot):
    worker = EngineWorker(counting_job, 50, 0.0, title="count", progress_interval_s=10.0)
    events = []
    worker.signals.progress.connect(events.append)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert events[0].step == 0
    assert events[-1].step == 50
    assert len(events) == 2


def test_worker_cancel_emits_aborted(qtbot):
    worker = EngineWorker(counting_job, 1000, 0.01, title="count")
    returned = []
    worker.returned.connect(returned.append)
    with qtbot.waitSignal(worker.signals.progress, timeout=10_000):
        worker.start()
    with qtbot.waitSignals(
        [worker.signals.aborted, worker.finished], order="strict", timeout=10_000
    ):
        worker.quit()
    assert worker.token.cancelled
    assert returned == []


def test_worker_error_signal(qtbot):
    worker = EngineWorker(failing_job, title="fail")
    with qtbot.waitSignal(worker.errored, timeout=10_000) as blocker:
        worker.start()
    assert isinstance(blocker.args[0], QuantvizError)
    qtbot.waitSignal(worker.finished, timeout=10_000, raising=False)


def test_runner_one_model_job(qtbot):
    runner = JobRunner()
    first = EngineWorker(counting_job, 1000, 0.01, title="first")
    with qtbot.waitSignal(runner.busyChanged, timeout=5_000) as blocker:
        runner.start(first)
    assert blocker.args == [True]
    assert runner.busy
    assert runner.current_title == "first"
    with pytest.raises(RuntimeError, match="first"):
        runner.start(EngineWorker(counting_job, 1, 0.0, title="second"))
    light = EngineWorker(counting_job, 2, 0.0, title="light")
    with qtbot.waitSignal(light.finished, timeout=10_000):
        runner.start(light, exclusive=False)
    with qtbot.waitSignal(runner.busyChanged, timeout=10_000) as blocker:
        runner.cancel_exclusive()
    assert blocker.args == [False]
    qtbot.waitUntil(lambda: runner.running == 0, timeout=10_000)


def test_runner_handler_starts_next(qtbot):
    runner = JobRunner()
    results = []

    def chain(value):
        results.append(value)
        runner.start(EngineWorker(counting_job, 1, 0.0, title="second"), returned=results.append)

    with qtbot.waitSignal(runner.jobFinished, timeout=10_000):
        runner.start(EngineWorker(counting_job, 2, 0.0, title="first"), returned=chain)
    qtbot.waitUntil(lambda: len(results) == 2 and runner.running == 0, timeout=10_000)
    assert results == [20, 10]


def test_result_on_cancel(qtbot):
    def partial(*, cancel):
        while not cancel.cancelled:
            time.sleep(0.01)
        return "partial"

    worker = EngineWorker(partial, title="partial", progress_arg=None, result_on_cancel=True)
    returned = []
    worker.returned.connect(returned.append)
    worker.start()
    with qtbot.waitSignals(
        [worker.returned, worker.signals.aborted, worker.finished], order="strict", timeout=10_000
    ):
        worker.quit()
    assert returned == ["partial"]


def test_runner_deleted_before_job_ends(qtbot):
    """A light job that returns after its runner was deleted calls no handler."""
    import shiboken6

    runner = JobRunner()
    worker = EngineWorker(counting_job, 3, 0.05, title="heatmap")
    called = []
    runner.start(worker, exclusive=False, returned=called.append)
    shiboken6.delete(runner)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        pass
    qtbot.wait(50)
    assert called == []
