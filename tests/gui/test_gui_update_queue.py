"""The update queue: one step per event-loop turn, and the views that redraw through it."""

import time

from PySide6.QtCore import QTimer

from quantviz.gui.update_queue import UpdateQueue


def busy_step(log, name, seconds=0.015):
    def step():
        log.append(name)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    return step


def test_steps_run_in_order_between_ticks(qtbot):
    queue = UpdateQueue()
    log = []
    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: log.append("tick"))
    ticker.start()
    steps = [busy_step(log, f"step{index}") for index in range(5)]
    with qtbot.waitSignal(queue.drained, timeout=5_000):
        queue.add(*steps)
        assert queue.pending == 5
    ticker.stop()
    order = [entry for entry in log if entry != "tick"]
    assert order == ["step0", "step1", "step2", "step3", "step4"]
    # Each step takes 15 ms, so the 5 ms timer is due after each one. It can fire
    # between two steps only when they run in separate event-loop turns.
    for index in range(4):
        gap = log[log.index(f"step{index}") : log.index(f"step{index + 1}")]
        assert "tick" in gap, f"no timer tick between step{index} and step{index + 1}"
    assert queue.pending == 0


def test_queued_step_kept_once(qtbot):
    queue = UpdateQueue()
    log = []

    class View:
        def redraw(self):
            log.append("redraw")

    view = View()
    queue.add(view.redraw)
    queue.add(view.redraw)
    assert queue.pending == 1
    assert queue.is_queued(view.redraw)
    with qtbot.waitSignal(queue.drained, timeout=5_000):
        pass
    assert log == ["redraw"]


def test_discard_and_flush():
    queue = UpdateQueue()
    log = []
    first, second, third = (busy_step(log, name, 0.0) for name in ("a", "b", "c"))

    def queues_more():
        log.append("d")
        queue.add(third)

    queue.add(first, second, queues_more)
    queue.discard(second)
    queue.flush()
    assert log == ["a", "d", "c"]
    assert queue.pending == 0


def test_discarding_last_step_drains(qtbot):
    queue = UpdateQueue()
    log = []
    step = busy_step(log, "a", 0.0)
    queue.add(step)
    with qtbot.waitSignal(queue.drained, timeout=1_000):
        queue.discard(step)
    qtbot.wait(30)
    assert log == []
    assert queue.pending == 0


def test_analysis_redraws_views_in_steps(make_window, qtbot, bert_model, bert_analysis):
    window = make_window()
    project = window.project
    project.set_model(bert_model)
    qtbot.waitUntil(lambda: project.updates.pending == 0, timeout=5_000)
    assert window.detail.weight_histogram.tensor is None

    project.set_analysis(bert_analysis)
    assert project.updates.pending >= 4
    assert window.detail.weight_histogram.tensor is None
    with qtbot.waitSignal(project.updates.drained, timeout=5_000):
        pass
    report = project.report(project.current_layer)
    assert window.detail.layer == project.current_layer
    assert window.detail.weight_histogram.tensor is report.weight
    assert window.detail.activation_heatmap.heatmap is report.input.heatmap
    assert window.overview.sqnr_chart.names == project.layer_names()
    assert window.overview.metric_heatmap.names == project.layer_names()


def test_selection_redraws_at_once(make_window, qtbot, bert_model, bert_analysis):
    window = make_window()
    project = window.project
    project.set_model(bert_model)
    project.set_analysis(bert_analysis)
    name = project.layer_names()[3]
    with qtbot.waitSignal(window.detail.redrawn, timeout=5_000) as blocker:
        window.table.select_name(name)
    assert blocker.args == [name]
    assert window.detail.weight_histogram.tensor is project.report(name).weight
    # The synchronous redraw dropped the queued steps of the analysis' redraw.
    assert not project.updates.is_queued(window.detail._draw_weight)
