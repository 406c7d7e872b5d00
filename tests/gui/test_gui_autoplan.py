"""The automatic plan: run from its dialog, draw the frontier, apply a point by clicking it."""

import importlib.util

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from quantviz.plan import PrecisionPlan

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("quantviz.autoplan") is None, reason="quantviz.autoplan is absent"
)


def resolved(plan, names):
    return [plan.resolve(name) for name in names]


def test_autoplan_frontier_click(open_window, bert_folder, qtbot):
    window = open_window(bert_folder)
    project = window.project
    names = project.layer_names()
    window.window_actions.run_auto_plan()
    dialog = window.dialogs["autoplan"]
    dialog.share_mode.setChecked(True)
    dialog.share.setValue(50)
    dialog.allow_smoothquant.setChecked(False)
    dialog.max_evaluations.setValue(3)
    dialog.samples.setValue(4)
    with qtbot.waitSignal(
        project.resultsChanged, timeout=300_000, check_params_cb=lambda kind: kind == "autoplan"
    ):
        dialog.accept()
    result = project.results["autoplan"]
    assert project.undo_stack.undoText() == "Automatic plan"
    assert resolved(project.plan, names) == resolved(result.plan, names)

    frontier = window.overview.frontier
    assert len(frontier.points) == len(result.frontier)
    assert window.overview.tabs.currentIndex() == 2
    window.overview_dock.show()
    qtbot.waitExposed(frontier)
    qtbot.wait(100)
    spots = frontier.scatter.points()
    target = next((spot for spot in spots if int(spot.data()) != result.chosen), spots[0])
    position = frontier.mapFromScene(frontier.scatter.mapToScene(target.pos()))
    QTest.mouseClick(frontier.viewport(), Qt.MouseButton.LeftButton, pos=position)
    qtbot.waitUntil(lambda: "frontier_choice" in project.results, timeout=5_000)
    # Candidates of a tiny random model can coincide; the click applies the one on top.
    index = project.results["frontier_choice"]
    assert frontier.points[index].size_mb == pytest.approx(target.pos().x())
    expected = PrecisionPlan.from_dict(result.frontier[index].plan)
    assert resolved(project.plan, names) == resolved(expected, names)
    assert project.undo_stack.undoText().startswith("Frontier plan")

    project.undo_stack.undo()
    assert resolved(project.plan, names) == resolved(result.plan, names)
