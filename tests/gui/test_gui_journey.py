"""The real journey on the MiniLM sample: open, analyse, inspect, plan, evaluate, QAT, export.

One test walks the whole path because each step needs the state the previous one left
(the analysis takes most of the time, and the later steps change the model).
"""

import importlib.util

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from quantviz.analysis.pipeline import AnalysisSettings
from quantviz.gui import precision
from quantviz.gui.layer_table import COLUMN_INDEX

LAYER = "encoder.layer.0.intermediate.dense"
# Small settings that keep the MiniLM analysis within a minute on two cores.
FAST_SETTINGS = AnalysisSettings(samples=4, seq_len=64, batch_size=4, sensitivity_samples=1)


def curve_data(curve):
    return np.asarray(curve.xData), np.asarray(curve.yData)


def check_histogram_views(window, report):
    weight = window.detail.weight_histogram
    x, y = curve_data(weight.float_curve)
    assert np.allclose(x, report.weight.histogram.edges)
    assert np.allclose(y, report.weight.histogram.counts)
    fp8 = report.weight.results["fp8_e4m3_tensor"]
    x, y = curve_data(weight.overlays[0].curve)
    assert np.allclose(y, fp8.histogram.counts)
    ticks_x, _ = curve_data(weight.overlays[0].ticks)
    assert np.allclose(ticks_x[::2], fp8.grid)
    int8 = report.weight.results["int8_sym_channel"]
    assert int8.grid is None
    assert [line.value() for line in weight.overlays[1].clip_lines] == pytest.approx(
        list(int8.clip_range)
    )

    inputs = window.detail.input_histogram
    x, y = curve_data(inputs.float_curve)
    assert np.allclose(y, report.input.histogram.counts)
    int8_input = report.input.results["int8_sym_tensor"]
    ticks_x, _ = curve_data(inputs.overlays[1].ticks)
    assert np.allclose(ticks_x[::2], int8_input.grid)

    channels = window.detail.channel_plot
    assert np.allclose(channels.values, report.input.outliers.channel_absmax)
    outliers = np.flatnonzero(channels.values >= report.input.outliers.threshold)
    assert np.array_equal(channels.outliers.data["x"], outliers.astype(float))

    activation = window.detail.activation_heatmap.plot
    assert np.allclose(activation.values, report.input.heatmap.values)
    assert window.detail.metrics_table.rowCount() == len(report.weight.results) + len(
        report.input.results
    )


def check_full_heatmaps(window, qtbot):
    from quantviz.analysis.candidates import CANDIDATES
    from quantviz.analysis.heatmap import error_heatmap
    from quantviz.model.layers import get_module
    from quantviz.quant import fake_quantize, qparams_for_tensor

    qtbot.waitUntil(lambda: window.detail.full_heatmaps(LAYER) is not None, timeout=60_000)
    qtbot.waitUntil(lambda: window.detail.error_heatmaps.fp8.values.shape == (256, 256))
    weight = get_module(window.project.loaded.module, LAYER).weight.detach()
    qparams = qparams_for_tensor(weight, CANDIDATES["fp8_e4m3_tensor"].spec(0))
    expected = error_heatmap(weight, fake_quantize(weight, qparams), 0, 256)
    assert np.allclose(window.detail.error_heatmaps.fp8.values, expected.values)
    difference = window.detail.error_heatmaps.difference.values
    int8 = window.detail.error_heatmaps.int8.values
    assert np.allclose(difference, np.asarray(expected.values) - int8)


def edit_cell(window, row_name, column, key):
    window.table.select_name(row_name)
    index = window.table.currentIndex().siblingAtColumn(COLUMN_INDEX[column])
    window.table.edit(index)
    editor = window.table.findChild(QComboBox, "precisionEditor")
    assert editor is not None
    position = editor.findData(key)
    editor.setCurrentIndex(position)
    editor.activated.emit(position)


def check_plan_edits(window, qtbot):
    project = window.project
    names = project.layer_names()

    edit_cell(window, LAYER, "weight_precision", "int8_sym")
    assert project.config(LAYER).weight.label == "int8_sym"
    proxy_index = window.table.currentIndex().siblingAtColumn(COLUMN_INDEX["weight_precision"])
    assert proxy_index.data() == "INT8 per tensor"

    window.table.clearSelection()
    for name in names[:3]:
        row = window.proxy.mapFromSource(
            window.table_model.index(window.table_model.row_of(name), 0)
        )
        window.table.selectionModel().select(
            row,
            window.table.selectionModel().SelectionFlag.Select
            | window.table.selectionModel().SelectionFlag.Rows,
        )
    window.choice_action(precision.INPUT, "fp8_e4m3").trigger()
    assert [project.config(n).input.label for n in names[:4]] == ["fp8_e4m3"] * 3 + ["float"]

    window.window_actions.show_rule_dialog()
    dialog = window.dialogs["rule"]
    dialog.set_choices("*.output.dense", "int8_sym/ch", "int8_sym")
    assert "Matches 12 layer(s)" in dialog.preview.text()
    dialog.accept()
    matched = [n for n in names if n.endswith(".output.dense")]
    assert len(matched) == 12
    assert {project.config(n).weight.label for n in matched} == {"int8_sym/ch"}

    steps = project.undo_stack.count()
    window.window_actions.undo.trigger()
    assert {project.config(n).weight.label for n in matched} == {"float"}
    window.window_actions.redo.trigger()
    assert {project.config(n).weight.label for n in matched} == {"int8_sym/ch"}
    assert project.undo_stack.count() == steps

    window.window_actions.recommend.trigger()
    labels = {"float": "float", "fp8_e4m3": "fp8_e4m3", "int8_channel": "int8_sym/ch"}
    for report in project.analysis.layers:
        key = labels[report.recommendation.choice]
        assert project.config(report.name).weight.label == key

    qtbot.waitUntil(lambda: window.summary.size is not None, timeout=5_000)
    window.summary.refresh()
    assert window.summary.size.plan_bytes < window.summary.size.float_bytes
    assert window.summary.estimated_cost is not None
    assert window.summary.estimated_cost > 0


def run_evaluation(window, qtbot):
    window.workflow.evaluation_options = {"samples": 8, "batch_size": 8, "seq_len": 64}
    with qtbot.waitSignal(window.workflow.evaluationFinished, timeout=240_000):
        window.window_actions.evaluate.trigger()
    result = window.project.results["evaluation"]
    assert 0.5 < result.mean_cosine < 1.0
    assert "cosine" in window.summary.evaluation_label.text()


def run_qat(window, qtbot):
    window.window_actions.qat.trigger()
    dialog = window.dialogs["qat"]
    dialog.steps.setValue(2)
    dialog.batch_size.setValue(2)
    dialog.seq_len.setValue(32)
    dialog.eval_every.setValue(0)
    dialog.eval_samples.setValue(2)
    dialog.calibration_samples.setValue(2)
    with qtbot.waitSignal(dialog.finished_run, timeout=300_000) as blocker:
        assert dialog.start()
    result = blocker.args[0]
    assert result.steps_done == 2
    assert len(result.losses) == 2
    _, y = curve_data(dialog.curves.loss_curve)
    assert np.allclose(y[np.isfinite(y)], result.losses)
    assert dialog.comparison.rowCount() == len(result.weight_sqnr)
    assert window.project.results["qat"] is result
    assert window.project.weights_version == 1
    assert LAYER in window.project.plan.scales
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=10_000)

    window.project.set_current_layer(LAYER)
    qtbot.waitUntil(lambda: bool(window.detail.trained_views(LAYER)), timeout=60_000)
    trained = window.detail.trained_views(LAYER)["weight"]
    _, counts = curve_data(window.detail.weight_histogram.overlays[2].curve)
    assert np.allclose(counts, trained.histogram.counts)
    assert sum(trained.histogram.counts) == pytest.approx(1536 * 384)
    dialog.close()


def run_export(window, qtbot, tmp_path):
    import onnxruntime as ort

    window.window_actions.export.trigger()
    dialog = window.dialogs["export"]
    dialog.path_edit.setText(str(tmp_path / "minilm.onnx"))
    dialog.check_box.setChecked(True)
    dialog.bench_box.setChecked(False)
    with qtbot.waitSignal(dialog.finished_export, timeout=300_000) as blocker:
        assert dialog.start()
    report = blocker.args[0]
    assert (tmp_path / "minilm.onnx").is_file()
    assert report.parity is not None
    session = ort.InferenceSession(
        str(tmp_path / "minilm.onnx"), providers=["CPUExecutionProvider"]
    )
    tokens = window.project.loaded.tokenizer(["quantized models run here"], return_tensors="np")
    feeds = {
        i.name: tokens[i.name].astype(np.int64) for i in session.get_inputs() if i.name in tokens
    }
    outputs = session.run(None, feeds)
    assert np.isfinite(outputs[0]).all()
    assert report.report_path is not None
    dialog.close()


@pytest.mark.slow
def test_minilm_journey(open_window, qtbot, tmp_path):
    window = open_window("sample:minilm", FAST_SETTINGS)
    assert len(window.project.layer_names()) == 37
    assert window.table_model.rowCount() == 37

    with qtbot.waitSignal(window.detail.redrawn, timeout=5_000):
        window.table.select_name(LAYER)
    assert window.project.current_layer == LAYER
    report = window.project.report(LAYER)
    check_histogram_views(window, report)
    check_full_heatmaps(window, qtbot)

    check_plan_edits(window, qtbot)
    run_evaluation(window, qtbot)
    if importlib.util.find_spec("quantviz.qat") is not None:
        run_qat(window, qtbot)
    if importlib.util.find_spec("quantviz.export.onnx_export") is not None:
        run_export(window, qtbot, tmp_path)
    assert window.table.horizontalHeader().count() == len(COLUMN_INDEX)
    assert window.proxy.sortRole() == Qt.ItemDataRole.UserRole + 1
