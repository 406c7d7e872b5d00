"""Exported models in ONNX Runtime against the fake-quantized PyTorch model."""

import shutil
from dataclasses import replace

import numpy as np
import onnx
import pytest
from export_support import calibration_batches, evaluation_batches, int8_plan
from onnx import numpy_helper

from quantviz.errors import QuantvizError
from quantviz.export.check import MAX_FORCED_OUTPUT_ERROR, check_parity
from quantviz.export.onnx_export import export_onnx, sidecar_paths
from quantviz.model.loading import load_model, random_model
from quantviz.plan import LayerOverride, PrecisionPlan, Rule, TensorConfig, uniform_plan

PLANS = {
    "int8": lambda: int8_plan(),
    "int8_asym_inputs": lambda: uniform_plan(
        TensorConfig("int8_sym", "channel"), TensorConfig("int8_asym", "tensor")
    ),
    "fp8_e4m3": lambda: uniform_plan(
        TensorConfig("fp8_e4m3", "channel"), TensorConfig("fp8_e4m3", "tensor")
    ),
    "fp8_e5m2_weights_channel_inputs": lambda: uniform_plan(
        TensorConfig("fp8_e5m2", "tensor"), TensorConfig("fp8_e4m3", "channel")
    ),
}


def _export_and_check(loaded, plan, path, **kwargs):
    result = export_onnx(loaded, plan, path, calib_batches=calibration_batches(loaded), **kwargs)
    report = check_parity(loaded, plan, path, evaluation_batches(loaded, samples=2))
    return result, report


def _assert_faithful(report):
    assert report.checker_passed, report.checker_message
    assert report.passed, report.first_divergent
    weights = [t for t in report.tensors if t.role == "weight"]
    assert weights
    assert all(t.flipped == 0 for t in weights)
    assert report.flipped_fraction <= 1e-3
    for output in report.forced_outputs:
        assert output.relative_rms_error <= MAX_FORCED_OUTPUT_ERROR


@pytest.mark.parametrize(
    ("arch", "plan_name"),
    [
        ("bert", "int8"),
        ("gpt2", "int8"),
        ("bert", "int8_asym_inputs"),
        ("llama", "fp8_e4m3"),
        ("gpt2", "fp8_e5m2_weights_channel_inputs"),
    ],
)
def test_parity_tiny_models(arch, plan_name, tmp_path, request):
    loaded = request.getfixturevalue(arch)
    _, report = _export_and_check(loaded, PLANS[plan_name](), tmp_path / "m.onnx")
    _assert_faithful(report)
    # Tiny random models do not amplify rounding differences.
    assert report.free_running_passed
    inputs = [t for t in report.tensors if t.role == "input"]
    assert len(inputs) == len(report.tensors) // 2


def test_parity_smoothquant_folded_into_norms(llama, tmp_path):
    plan = int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=0.5)
    result, report = _export_and_check(llama, plan, tmp_path / "m.onnx")
    # Llama's RMSNorm outputs feed only the projections, so every factor folds.
    assert "model.layers.0.self_attn.q_proj" in result.folded_smoothing
    assert result.divided_smoothing == []
    _assert_faithful(report)


def test_parity_smoothquant_divided(llama, tmp_path):
    plan = int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=0.5)
    result, report = _export_and_check(llama, plan, tmp_path / "m.onnx", fold_smoothing=False)
    assert result.folded_smoothing == []
    assert "model.layers.1.mlp.up_proj" in result.divided_smoothing
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert any(node.name.endswith("input.Div_smoothing") for node in model.graph.node)
    _assert_faithful(report)


def test_parity_smoothing_with_float_weight(bert, tmp_path):
    """A layer that smooths and quantizes its input but keeps a float weight."""
    plan = int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=0.5)
    plan.rules = [Rule("*.intermediate.dense", LayerOverride(weight={"format": "float"}))]
    result, report = _export_and_check(bert, plan, tmp_path / "m.onnx")
    assert "encoder.layer.0.intermediate.dense" in result.divided_smoothing
    _assert_faithful(report)


@pytest.fixture(scope="module")
def bert_export(bert, tmp_path_factory):
    """The INT8 plan exported from the module's BERT once: (result, plan, path)."""
    plan = int8_plan()
    path = tmp_path_factory.mktemp("bert") / "m.onnx"
    result = export_onnx(bert, plan, path, calib_batches=calibration_batches(bert))
    return result, plan, path


def _copy_export(path, folder):
    for source in (path, *sidecar_paths(path)):
        shutil.copy(source, folder / source.name)
    return folder / path.name


def test_parity_points_at_corrupted_layer(bert, bert_export, tmp_path):
    result, plan, original = bert_export
    path = _copy_export(original, tmp_path)
    target = result.layers[3]
    model = onnx.load(str(path))
    scale_name = target.input.initializers[0]
    for tensor in model.graph.initializer:
        if tensor.name == scale_name:
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * 3, scale_name))
    onnx.save(model, str(path))
    report = check_parity(bert, plan, path, evaluation_batches(bert, samples=2))
    assert not report.passed
    assert report.first_divergent == target.name
    failed = next(t for t in report.tensors if not t.passed)
    assert failed.role == "input"
    assert failed.flipped_fraction > 0.1


def test_parity_rejects_other_plan(bert, bert_export):
    _, plan, path = bert_export
    other = plan.copy()
    other.rules = [
        Rule("*.output.dense", LayerOverride(weight={"format": "float"}, input={"format": "float"}))
    ]
    with pytest.raises(QuantvizError, match="does not quantize layer"):
        check_parity(bert, other, path, evaluation_batches(bert))


def test_parity_needs_scales_file(bert, bert_export, tmp_path):
    _, plan, original = bert_export
    path = _copy_export(original, tmp_path)
    sidecar_paths(path)[1].unlink()
    with pytest.raises(QuantvizError, match=r"m\.scales\.json not found"):
        check_parity(bert, plan, path, evaluation_batches(bert))


@pytest.mark.slow
def test_parity_minilm_fp8(tmp_path):
    """MiniLM with FP8 E4M3 weights and inputs (the CLI test covers INT8 on MiniLM)."""
    loaded = load_model("sample:minilm")
    plan = PLANS["fp8_e4m3"]()
    path = tmp_path / "minilm.onnx"
    result, report = _export_and_check(loaded, plan, path)
    assert len(result.layers) == 36
    assert result.missing_layers == ["pooler.dense"]
    assert result.opset == 21
    _assert_faithful(report)
    saved = PrecisionPlan.load(result.plan_path)
    weight = saved.scales["encoder.layer.3.output.dense"]["weight"]
    assert np.array_equal(
        weight.scale.numpy(), plan.scales["encoder.layer.3.output.dense"]["weight"].scale.numpy()
    )


def test_parity_tied_lm_head(tmp_path):
    loaded = random_model("llama", include_lm_head=True)
    assert loaded.layers[-1].tied_to == "model.embed_tokens"
    result, report = _export_and_check(loaded, int8_plan(), tmp_path / "m.onnx")
    assert result.layers[-1].name == "lm_head"
    assert result.layers[-1].weight.transposed
    _assert_faithful(report)
