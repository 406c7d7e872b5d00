"""Keyboard use: shortcuts assign precisions, arrows move the current layer, tab order."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def test_shortcuts_assign_selection(open_window, bert_folder, qtbot):
    window = open_window(bert_folder)
    names = window.project.layer_names()
    window.table.setFocus()
    window.table.select_name(names[0])
    QTest.keyClick(window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.table.selected_names() == names[:3]

    QTest.keyClick(window.table, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert [window.project.config(n).weight.label for n in names[:4]] == ["fp8_e4m3"] * 3 + [
        "float"
    ]
    QTest.keyClick(window.table, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert {window.project.config(n).weight.label for n in names[:3]} == {"int8_sym/ch"}
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window.table, Qt.Key.Key_1, shift_ctrl)
    assert {window.project.config(n).input.label for n in names[:3]} == {"fp8_e4m3"}
    QTest.keyClick(window.table, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert {window.project.config(n).weight.label for n in names[:3]} == {"float"}
    assert window.project.undo_stack.count() == 4

    QTest.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {window.project.config(n).weight.label for n in names[:3]} == {"int8_sym/ch"}


def test_arrow_keys_move_current_layer(open_window, bert_folder, qtbot):
    window = open_window(bert_folder)
    names = window.project.layer_names()
    window.table.setFocus()
    window.table.select_name(names[0])
    with qtbot.waitSignal(window.detail.redrawn, timeout=5_000) as blocker:
        QTest.keyClick(window.table, Qt.Key.Key_Down)
    assert window.project.current_layer == names[1]
    assert blocker.args == [names[1]]


def activate(qtbot, window):
    with qtbot.waitActive(window):
        window.activateWindow()


def test_tab_order_filter_to_table(make_window, qtbot):
    window = make_window()
    activate(qtbot, window)
    window.filter_edit.setFocus()
    QTest.keyClick(window.filter_edit, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is window.kind_combo
    QTest.keyClick(window.kind_combo, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is window.table


def test_ctrl_f_focuses_filter(make_window, qtbot):
    window = make_window()
    activate(qtbot, window)
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.filter_edit
