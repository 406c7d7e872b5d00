"""The export dialog on a small BERT: ONNX file, parity check, benchmark, saved report."""

import importlib.util
import json

import numpy as np
import onnxruntime as ort
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("quantviz.export.bench") is None, reason="export bench is absent"
)


def test_export_dialog_report(open_window, bert_folder, qtbot, tmp_path):
    window = open_window(bert_folder)
    window.project.set_precision(window.project.layer_names(), "weight", "int8_sym/ch")
    window.project.set_precision(window.project.layer_names(), "input", "int8_sym")
    window.window_actions.export.trigger()
    dialog = window.dialogs["export"]
    path = tmp_path / "bert.onnx"
    dialog.path_edit.setText(str(path))
    dialog.check_box.setChecked(True)
    dialog.bench_box.setChecked(True)
    dialog.bench_items.setValue(8)
    with qtbot.waitSignal(dialog.finished_export, timeout=300_000) as blocker:
        assert dialog.start()
    report = blocker.args[0]

    assert path.is_file()
    assert report.parity.checker_passed
    assert [model.name for model in report.bench.models] == ["float32", "quantviz"]
    assert report.bench.models[1].size_bytes < report.bench.models[0].size_bytes
    saved = json.loads((tmp_path / "bert.report.json").read_text())
    assert saved["export"]["path"] == str(path)
    assert saved["bench"]["models"][1]["name"] == "quantviz"
    assert "float32:" in dialog.result_text.toPlainText()
    assert "Report saved to" in dialog.result_text.toPlainText()
    assert window.project.results["export"] is report

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokens = window.project.loaded.tokenizer(["a short test"], return_tensors="np")
    feeds = {
        item.name: tokens[item.name].astype(np.int64)
        for item in session.get_inputs()
        if item.name in tokens
    }
    outputs = session.run(None, feeds)
    assert np.isfinite(outputs[0]).all()


def test_export_bad_folder(open_window, bert_folder, qtbot, tmp_path):
    window = open_window(bert_folder)
    window.project.set_precision(window.project.layer_names()[:1], "weight", "int8_sym/ch")
    window.window_actions.export.trigger()
    dialog = window.dialogs["export"]
    dialog.path_edit.setText(str(tmp_path / "missing" / "model.onnx"))
    with qtbot.waitSignal(window.workflow.failed, timeout=60_000) as blocker:
        assert dialog.start()
    assert "does not exist" in blocker.args[0]
    qtbot.waitUntil(lambda: "Export failed" in dialog.result_text.toPlainText(), timeout=5_000)
    window.workflow.last_error_box.close()
