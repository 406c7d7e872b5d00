"""Session files: the dataclass round trip, and a window saving and reopening a session."""

import json

import pytest

from quantviz.errors import QuantvizError
from quantviz.gui.session import SessionState


def test_session_dict_round_trip():
    state = SessionState(
        model="sample:minilm",
        settings={"samples": 4},
        plan={"format": "quantviz-plan", "version": 1},
        analysis_path="/tmp/a.json",
        current_layer="encoder.layer.0.output.dense",
        results={"evaluation": {"loss": 0.1}},
    )
    assert SessionState.from_dict(state.to_dict()) == state


def test_session_file_round_trip(tmp_path):
    state = SessionState(model="org/name", settings={"seq_len": 64})
    path = state.save(tmp_path / "s.qvsession")
    assert json.loads(path.read_text())["format"] == "quantviz-session"
    assert SessionState.load(path) == state


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "other"}, "not a quantviz session"),
        ({"format": "quantviz-session", "version": 99}, "newer than this quantviz"),
        ({"format": "quantviz-session", "version": 1, "model": 3}, "model spec string"),
        ({"format": "quantviz-session", "version": 1, "plan": []}, "plan object"),
    ],
)
def test_session_invalid(data, message):
    with pytest.raises(QuantvizError, match=message):
        SessionState.from_dict(data)


def test_session_bad_file(tmp_path):
    path = tmp_path / "broken.qvsession"
    path.write_text("{not json")
    with pytest.raises(QuantvizError, match="not valid JSON"):
        SessionState.load(path)


def test_window_session_round_trip(open_window, make_window, qtbot, bert_folder, tmp_path):
    window = open_window(bert_folder)
    names = window.project.layer_names()
    window.project.set_precision(names[:2], "weight", "fp8_e4m3")
    window.project.add_rule("*.output.dense", "int8_sym/ch", "int8_sym")
    window.project.set_current_layer(names[3])
    path = str(tmp_path / "work.qvsession")
    assert window.save_session(path)
    assert window.project.undo_stack.isClean()
    saved_plan = window.project.plan.to_dict()
    analysis_path = window.project.analysis_path
    assert analysis_path

    reopened = make_window(cache_dir=tmp_path / "empty-cache")
    with qtbot.waitSignal(reopened.workflow.analysisFinished, timeout=120_000):
        assert reopened.open_session(path)
    assert reopened.project.plan.to_dict() == saved_plan
    assert reopened.project.analysis_path == analysis_path
    assert reopened.project.current_layer == names[3]
    assert reopened.workflow.settings == window.workflow.settings
    assert reopened.session_path == path
    assert [r.name for r in reopened.project.analysis.layers] == names


def test_window_open_plan_file(open_window, bert_folder, tmp_path):
    window = open_window(bert_folder)
    name = window.project.layer_names()[0]
    window.project.set_precision([name], "input", "fp8_e5m2")
    path = str(tmp_path / "plan.json")
    assert window.save_plan_file(path)
    window.project.undo_stack.undo()
    assert window.project.config(name).input.format == "float"
    assert window.open_plan_file(path)
    assert window.project.config(name).input.format == "fp8_e5m2"
    window.project.undo_stack.undo()
    assert window.project.config(name).input.format == "float"
