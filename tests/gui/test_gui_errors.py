"""Errors reach the user as a message box with the engine's message, never a traceback."""

from PySide6.QtWidgets import QMessageBox

from quantviz.errors import QuantvizError
from quantviz.gui.error_box import error_message, show_error


def test_bad_model_path_shows_message(make_window, qtbot, tmp_path):
    window = make_window()
    missing = str(tmp_path / "no-such-model")
    with qtbot.waitSignal(window.workflow.failed, timeout=60_000) as blocker:
        assert window.open_model(missing)
    message = blocker.args[0]
    assert "not found" in message
    assert missing in message
    box = window.workflow.last_error_box
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert box.text() == message
    assert "Traceback" not in box.text()
    assert box.detailedText() == ""
    assert window.project.loaded is None
    assert not window.runner.busy
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not box.isVisible())


def test_unexpected_error_has_details(qtbot):
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as error:
        box = show_error(None, error)
    qtbot.addWidget(box)
    assert box.text() == "Unexpected error (ZeroDivisionError): division by zero"
    assert "Traceback" in box.detailedText()
    box.close()


def test_quantviz_error_message_verbatim():
    error = QuantvizError("plan file x.json not found")
    assert error_message(error) == "plan file x.json not found"


def test_invalid_session_file(make_window, qtbot, tmp_path):
    window = make_window()
    path = tmp_path / "bad.qvsession"
    path.write_text('{"format": "quantviz-session", "version": 7}')
    with qtbot.waitSignal(window.workflow.failed, timeout=5_000) as blocker:
        assert not window.open_session(str(path))
    assert "newer than this quantviz" in blocker.args[0]
    window.workflow.last_error_box.close()


def test_unknown_recommendation_shows_message(make_window, qtbot, bert_model, bert_analysis):
    from quantviz.analysis.pipeline import ModelAnalysis
    from quantviz.analysis.results import Recommendation

    window = make_window()
    window.project.set_model(bert_model)
    analysis = ModelAnalysis.from_dict(bert_analysis.to_dict())
    analysis.layers[0].recommendation = Recommendation("int4_group", "from a newer version")
    window.project.set_analysis(analysis)
    with qtbot.waitSignal(window.workflow.failed, timeout=5_000) as blocker:
        window.window_actions.recommend.trigger()
    assert "int4_group" in blocker.args[0]
    assert window.project.plan.overrides == {}
    window.workflow.last_error_box.close()
