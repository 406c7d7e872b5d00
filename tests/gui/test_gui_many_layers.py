"""The layer table with more than 1,000 layers: every row shown, sorting, filtering,
selecting and setting the precision of all layers, with undo.

The model is a random Llama with 150 decoder blocks of hidden size 32 (7 linear layers
each, 1,050 layers). The first test analyses it; the others read the analysis from the
shared cache.
"""

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSlider, QDialogButtonBox

from quantviz.analysis.pipeline import AnalysisSettings
from quantviz.gui.layer_table import COLUMN_INDEX, MISSING, NAME_ROLE, SORT_ROLE

BLOCKS = 150
LAYERS_PER_BLOCK = 7  # q, k, v, o, gate, up and down projections
# Two short sequences and no sensitivity keep the analysis of 1,050 layers near 15 s.
SETTINGS = AnalysisSettings(samples=2, seq_len=16, batch_size=2, sensitivity_samples=0)
CONTROL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def many_layers_folder(tmp_path_factory):
    from quantviz.model.loading import save_random_model

    folder = tmp_path_factory.mktemp("llama-many-layers") / "model"
    return str(save_random_model("llama", folder, seed=11, num_hidden_layers=BLOCKS))


@pytest.fixture
def window(open_window, many_layers_folder):
    return open_window(many_layers_folder, SETTINGS, timeout=300_000)


def shown_names(window):
    proxy = window.proxy
    return [proxy.index(row, 0).data(NAME_ROLE) for row in range(proxy.rowCount())]


def column_values(window, key):
    proxy, column = window.proxy, COLUMN_INDEX[key]
    return [proxy.index(row, column).data(SORT_ROLE) for row in range(proxy.rowCount())]


def weight_labels(window, names):
    return [window.project.config(name).weight.label for name in names]


def select_rows(window, ranges, flag=QItemSelectionModel.SelectionFlag.ClearAndSelect):
    selection = QItemSelection()
    last_column = window.proxy.columnCount() - 1
    for top, bottom in ranges:
        selection.select(window.proxy.index(top, 0), window.proxy.index(bottom, last_column))
    window.table.selectionModel().select(selection, flag)


def test_table_lists_every_layer(window, qtbot):
    names = window.project.layer_names()
    assert len(names) == BLOCKS * LAYERS_PER_BLOCK
    assert len(names) > 1000
    assert window.table_model.rowCount() == len(names)
    assert window.proxy.rowCount() == len(names)
    assert shown_names(window) == names
    assert len(window.project.analysis.layers) == len(names)
    assert MISSING not in column_values(window, "w_fp8")

    scroll = window.table.verticalScrollBar()
    scroll.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
    qtbot.waitUntil(lambda: window.table.rowAt(window.table.viewport().height() - 1) != -1)
    bottom_row = window.table.rowAt(window.table.viewport().height() - 1)
    assert bottom_row == len(names) - 1
    assert window.proxy.index(bottom_row, 0).data() == names[-1]

    # The model charts draw from the update queue, one step per event-loop turn.
    qtbot.waitUntil(lambda: window.project.updates.pending == 0, timeout=10_000)
    assert window.overview.sqnr_chart.names == names
    assert window.overview.metric_heatmap.names == names


def test_sort_filter_and_select(window, qtbot):
    names = window.project.layer_names()
    header = window.table.horizontalHeader()
    chosen = names[500]
    # The command goes to the selection model directly, because a view derives it
    # from the keyboard modifiers of the last input event, which an earlier test may
    # have left at Ctrl.
    command = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    window.table.selectionModel().setCurrentIndex(window.proxy.index(500, 0), command)
    assert window.table.selected_names() == [chosen]

    header.setSortIndicator(COLUMN_INDEX["w_fp8"], Qt.SortOrder.AscendingOrder)
    values = column_values(window, "w_fp8")
    assert len(values) == len(names)
    assert values == sorted(values)
    assert sorted(shown_names(window)) == sorted(names)
    # The selection and the current row follow the layer to its sorted place.
    assert window.table.current_name() == chosen
    assert window.table.selected_names() == [chosen]

    header.setSortIndicator(COLUMN_INDEX["w_fp8"], Qt.SortOrder.DescendingOrder)
    assert column_values(window, "w_fp8") == sorted(values, reverse=True)
    # Every layer has the same kind, so a stable sort by kind restores model order.
    header.setSortIndicator(COLUMN_INDEX["kind"], Qt.SortOrder.DescendingOrder)
    assert shown_names(window) == names

    window.filter_edit.setText("*.mlp.down_proj")
    expected = [name for name in names if name.endswith(".mlp.down_proj")]
    assert len(expected) == BLOCKS
    assert shown_names(window) == expected
    window.filter_edit.setText("layers.149.")
    assert shown_names(window) == [name for name in names if "layers.149." in name]
    window.filter_edit.clear()
    assert window.proxy.rowCount() == len(names)

    row = window.table.rowAt(window.table.viewport().height() // 2)
    clicked = window.proxy.index(row, 0).data(NAME_ROLE)
    center = window.table.visualRect(window.proxy.index(row, COLUMN_INDEX["name"])).center()
    with qtbot.waitSignal(window.detail.redrawn, timeout=10_000) as blocker:
        QTest.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(center))
    assert blocker.args == [clicked]
    assert window.project.current_layer == clicked
    assert window.detail.layer == clicked
    assert window.overview.sqnr_chart.cursor.value() == names.index(clicked)

    select_rows(window, [(0, 2), (10, 12)])
    assert window.table.selected_names() == names[:3] + names[10:13]
    select_rows(window, [(11, 11)], QItemSelectionModel.SelectionFlag.Deselect)
    assert window.table.selected_names() == [*names[:3], names[10], names[12]]


def test_assign_all_layers_undo(window, qtbot):
    project = window.project
    names = project.layer_names()
    undo, redo = window.window_actions.undo, window.window_actions.redo
    window.table.setFocus()

    QTest.keyClick(window.table, Qt.Key.Key_A, CONTROL)
    assert window.table.selected_names() == names
    QTest.keyClick(window.table, Qt.Key.Key_1, CONTROL)
    assert set(weight_labels(window, names)) == {"fp8_e4m3"}
    assert set(project.plan.overrides) == set(names)
    assert {project.plan.resolve(name).weight.label for name in names} == {"fp8_e4m3"}
    assert project.undo_stack.count() == 1
    column = COLUMN_INDEX["weight_precision"]
    assert window.proxy.index(len(names) - 1, column).data() == "FP8 E4M3"

    undo.trigger()
    assert set(weight_labels(window, names)) == {"float"}
    assert project.plan.overrides == {}
    assert window.proxy.index(len(names) - 1, column).data() == "Float"
    redo.trigger()
    assert set(weight_labels(window, names)) == {"fp8_e4m3"}

    window.window_actions.apply_rule.trigger()
    dialog = window.dialogs["rule"]
    dialog.set_choices("*.mlp.*", "int8_sym/ch", None)
    assert f"Matches {3 * BLOCKS} layer(s)" in dialog.preview.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    mlp = [name for name in names if ".mlp." in name]
    attention = [name for name in names if ".self_attn." in name]
    assert len(mlp) + len(attention) == len(names)
    assert set(weight_labels(window, mlp)) == {"int8_sym/ch"}
    assert set(weight_labels(window, attention)) == {"fp8_e4m3"}
    undo.trigger()
    assert set(weight_labels(window, names)) == {"fp8_e4m3"}
    assert project.plan.rules == []

    # With a filter, select all covers the rows shown and nothing else.
    window.filter_edit.setText("*.mlp.down_proj")
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_A, CONTROL)
    QTest.keyClick(window.table, Qt.Key.Key_0, CONTROL)
    down = [name for name in names if name.endswith(".mlp.down_proj")]
    others = [name for name in names if not name.endswith(".mlp.down_proj")]
    assert set(weight_labels(window, down)) == {"float"}
    assert set(weight_labels(window, others)) == {"fp8_e4m3"}
