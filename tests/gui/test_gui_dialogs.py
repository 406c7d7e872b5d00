"""Dialogs and window plumbing: settings, open model, drag and drop, saved layout."""

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from quantviz.analysis.pipeline import AnalysisSettings
from quantviz.gui.dialogs.open_model_dialog import OpenModelDialog
from quantviz.gui.dialogs.settings_dialog import AnalysisSettingsDialog
from quantviz.gui.main_window import GEOMETRY_KEY, STATE_KEY


def test_settings_dialog_defaults(qtbot):
    dialog = AnalysisSettingsDialog(AnalysisSettings(samples=3, observer="mse"))
    qtbot.addWidget(dialog)
    assert dialog.settings() == AnalysisSettings(samples=3, observer="mse")
    dialog.restore_defaults()
    assert dialog.settings() == AnalysisSettings()


def test_settings_dialog_edits(qtbot, tmp_path):
    dialog = AnalysisSettingsDialog(AnalysisSettings(heatmap_size=16))
    qtbot.addWidget(dialog)
    dialog.calib_edit.setText(str(tmp_path / "text.txt"))
    dialog.samples.setValue(7)
    dialog.seq_len.setValue(64)
    dialog.sensitivity.setValue(0)
    dialog.observer.setCurrentIndex(dialog.observer.findData("percentile"))
    settings = dialog.settings()
    assert settings.calib == str(tmp_path / "text.txt")
    assert settings.samples == 7
    assert settings.seq_len == 64
    assert settings.sensitivity_samples == 0
    assert settings.observer == "percentile"
    assert settings.heatmap_size == 16


def test_settings_action_updates_workflow(make_window, qtbot):
    window = make_window()
    window.window_actions.settings.trigger()
    dialog = window.dialogs["settings"]
    dialog.samples.setValue(5)
    dialog.accept()
    assert window.workflow.settings.samples == 5
    assert not window.runner.busy


def test_open_dialog_lists_recent(qtbot):
    dialog = OpenModelDialog(["/models/a", "sample:minilm"], ["sample:minilm", "sample:smollm2"])
    qtbot.addWidget(dialog)
    specs = [dialog.choices.item(row).data(Qt.ItemDataRole.UserRole) for row in range(3)]
    assert specs == ["sample:minilm", "sample:smollm2", "/models/a"]
    assert dialog.spec() == "/models/a"
    dialog.choices.setCurrentRow(1)
    assert dialog.spec() == "sample:smollm2"


def test_recent_models_kept(make_window):
    window = make_window()
    window.add_recent("/models/a")
    window.add_recent("/models/b")
    window.add_recent("/models/a")
    assert window.recent_models() == ["/models/a", "/models/b"]
    assert [a.text() for a in window.window_actions.recent_menu.actions()] == [
        "/models/a",
        "/models/b",
    ]


def test_drop_plan_file(open_window, bert_folder, tmp_path):
    window = open_window(bert_folder)
    name = window.project.layer_names()[0]
    window.project.set_precision([name], "weight", "fp8_e5m2")
    path = tmp_path / "plan.json"
    assert window.save_plan_file(str(path))
    window.project.undo_stack.undo()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.project.config(name).weight.label == "fp8_e5m2"


def test_layout_saved_on_close(make_window):
    window = make_window()
    window.detail_dock.hide()
    window.close()
    settings = QSettings()
    assert settings.value(GEOMETRY_KEY) is not None
    state = settings.value(STATE_KEY)
    restored = make_window()
    assert restored.restoreState(state, 1)
    assert not restored.detail_dock.isVisible()
