import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnxruntime.quantization import CalibrationDataReader, quantize_static

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.apply import apply_plan
from quantviz.cli import main
from quantviz.errors import QuantvizError
from quantviz.model import load_model, load_texts, make_batches, random_model, save_random_model
from quantviz.ort_config import (
    export_ort_config,
    load_ort_config,
    map_layers_to_onnx,
    ort_static_config,
    quantize_static_kwargs,
)
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan
from quantviz.smoothquant import fold_smoothing_into_norms


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return save_random_model("llama", tmp_path_factory.mktemp("models") / "llama")


class OutputOnly(torch.nn.Module):
    """Calls the transformers model with keyword arguments and returns one tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return output.logits if hasattr(output, "logits") else output.last_hidden_state


def export_onnx(loaded, path, dynamo=False):
    ids = torch.tensor([[5, 17, 33, 2, 9, 71, 44, 8]])
    # The wrapper must be in eval mode: export restores the training flag of the module
    # it is given, recursively, which would leave the wrapped model in training mode.
    wrapper = OutputOnly(loaded.module).eval()
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    options = {"dynamo": True} if dynamo else {"dynamo": False, "opset_version": 21}
    torch.onnx.export(
        wrapper,
        (ids, torch.ones_like(ids)),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["output"],
        dynamic_axes=None if dynamo else dynamic,
        **options,
    )
    return path


class Reader(CalibrationDataReader):
    def __init__(self, batches):
        self.items = iter(
            [{key: value.numpy() for key, value in batch.items()} for batch in batches]
        )

    def get_next(self):
        return next(self.items, None)


def run_onnx(path, batch):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {key: value.numpy() for key, value in batch.items()})[0]


# ---------------------------------------------------------------------------------------
# CLI


def test_uniform_then_show(tmp_path, capsys):
    path = tmp_path / "plan.json"
    code = main(
        [
            "plan",
            "uniform",
            "--weight",
            "int8_sym:channel",
            "--input",
            "fp8_e4m3",
            "--input-observer",
            "percentile",
            "--observer-setting",
            "percentile=99.9",
            "--smoothquant-alpha",
            "0.5",
            "--float",
            "*.down_proj",
            "--out",
            str(path),
        ]
    )
    assert code == 0
    plan = PrecisionPlan.load(path)
    assert plan.defaults.weight == TensorConfig("int8_sym", "channel")
    assert plan.defaults.input.observer_settings == {"percentile": 99.9}
    assert plan.defaults.smoothquant_alpha == 0.5
    assert not plan.resolve("model.layers.0.mlp.down_proj").quantized
    capsys.readouterr()
    assert main(["plan", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "W int8_sym/ch / A fp8_e4m3 / SQ 0.5" in shown
    assert "*.down_proj: W float, A float" in shown


def test_uniform_rejects_bad_format(tmp_path, capsys):
    code = main(["plan", "uniform", "--weight", "int4", "--input", "int8_sym", "--out", "x"])
    assert code == 2
    error = capsys.readouterr().err
    assert "--weight 'int4'" in error
    assert "int8_sym" in error
    assert "Traceback" not in error


def test_show_with_model_lists_unknown(tmp_path, llama_folder, capsys):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    plan.set_layer("model.layers.9.mlp.up_proj", weight={"format": "float"})
    path = plan.save(tmp_path / "plan.json")
    assert main(["plan", "show", str(path), "--model", str(llama_folder)]) == 1
    out = capsys.readouterr().out
    assert "model.layers.1.mlp.down_proj" in out
    assert "int8_sym/ch" in out
    assert "override 'model.layers.9.mlp.up_proj'" in out
    assert "14/14 layers W8A8" in out


def test_bad_plan_file_is_error(tmp_path, capsys):
    path = tmp_path / "plan.json"
    path.write_text('{"format": "quantviz-plan", "version": 1, "defaults": {"weight": ')
    assert main(["plan", "show", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: plan file")
    assert "not valid JSON" in error
    assert "Traceback" not in error


def test_evaluate_command(tmp_path, llama_folder, capsys):
    plan_path = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("fp8_e4m3")).save(
        tmp_path / "plan.json"
    )
    code = main(
        [
            "evaluate",
            str(llama_folder),
            "--plan",
            str(plan_path),
            "--samples",
            "2",
            "--seq-len",
            "32",
            "--json",
            str(tmp_path / "result.json"),
            "--save-plan",
            str(tmp_path / "scaled.json"),
            "-q",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "perplexity   float" in out
    assert "14/14 layers W8A8" in out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["sequences"] == 2
    assert result["size"]["share_8bit"] == 1.0
    scaled = PrecisionPlan.load(tmp_path / "scaled.json")
    assert len(scaled.scales) == 14
    assert scaled.model["spec"] == str(llama_folder)


def test_plan_auto_command(tmp_path, llama_folder, capsys):
    settings = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)
    analysis = analyze_model(load_model(str(llama_folder)), settings)
    analysis_path = analysis.save(tmp_path / "analysis.json")
    out_path = tmp_path / "auto.json"
    frontier = tmp_path / "frontier.json"
    code = main(
        [
            "plan",
            "auto",
            str(llama_folder),
            "--analysis",
            str(analysis_path),
            "--target-8bit-share",
            "0.9",
            "--out",
            str(out_path),
            "--frontier-json",
            str(frontier),
            "--samples",
            "2",
            "--seq-len",
            "32",
            "--max-evaluations",
            "2",
            "-q",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "* " in printed
    plan = PrecisionPlan.load(out_path)
    names = [f"model.layers.{i}.{part}" for i in range(2) for part in ("mlp.up_proj",)]
    assert all(name in plan.scales for name in names)
    data = json.loads(frontier.read_text())
    assert len(data["frontier"]) == 2
    assert data["frontier"][data["chosen"]]["share_8bit"] >= 0.9

    # Per-group weights, MSE input scales and one SmoothQuant alpha.
    code = main(
        [
            "plan",
            "auto",
            str(llama_folder),
            "--analysis",
            str(analysis_path),
            "--target-8bit-share",
            "1.0",
            "--out",
            str(out_path),
            "--frontier-json",
            str(frontier),
            "--weight-group-size",
            "16",
            "--input-observer",
            "mse",
            "--alpha",
            "0.8",
            "--samples",
            "2",
            "--seq-len",
            "32",
            "--max-evaluations",
            "2",
            "-q",
        ]
    )
    assert code == 0
    data = json.loads(frontier.read_text())
    assert [point["smoothquant_alpha"] for point in data["frontier"]] == [None, 0.8]
    plan = PrecisionPlan.load(out_path)
    configs = [plan.resolve(name) for name in plan.scales]
    assert all(c.weight.granularity == "group" and c.weight.group_size == 16 for c in configs)
    int8_inputs = [c.input for c in configs if c.input.format == "int8_sym"]
    assert int8_inputs
    assert all(config.observer == "mse" for config in int8_inputs)
    assert data["settings"]["base_input"]["observer"] == "mse"
    assert data["settings"]["base_weight"]["group_size"] == 16

    bad = ["plan", "auto", str(llama_folder), "--target-8bit-share", "1", "--alpha", "1.5"]
    code = main([*bad, "--out", str(tmp_path / "bad.json"), "-q"])
    assert code == 2
    assert "--alpha must be between 0 and 1; got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()


# ---------------------------------------------------------------------------------------
# ONNX Runtime static quantization settings


def test_ort_config_matches_engine(tmp_path):
    model = random_model("bert")
    path = export_onnx(model, tmp_path / "bert.onnx")
    batches = make_batches(model.tokenizer, load_texts(), seq_len=16, num_samples=4, batch_size=2)
    names = [info.name for info in model.layers]
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("fp8_e4m3"))
    plan.set_layer(names[5], input={"format": "int8_sym"})  # W INT8/ch, A INT8
    plan.set_layer(names[3], weight={"format": "float"}, input={"format": "float"})
    with apply_plan(model, plan, batches):
        engine = OutputOnly(model.module)(**batches[0]).detach().numpy()
    float_output = OutputOnly(model.module)(**batches[0]).detach().numpy()

    prepared = tmp_path / "prepared.onnx"
    config = export_ort_config(plan, path, tmp_path / "ort.json", names, onnx_out=prepared)
    assert config.unmatched == ["pooler.dense"]  # the exported output skips the pooler
    assert config.warnings == []
    assert len(config.nodes_to_quantize) == 11
    excluded_layer = config.layers[names[3]].node
    assert excluded_layer in config.nodes_to_exclude
    assert config.activation_type == "QFLOAT8E4M3FN"
    assert config.calibrate_method == "Distribution"

    stored = load_ort_config(tmp_path / "ort.json")
    quantized = tmp_path / "quantized.onnx"
    quantize_static(
        str(prepared), str(quantized), Reader(batches), **quantize_static_kwargs(stored)
    )
    graph = onnx.load(str(quantized)).graph
    initializers = {init.name: init for init in graph.initializer}
    dequantize = {node.output[0]: node for node in graph.node if node.op_type == "DequantizeLinear"}
    nodes = {node.name: node for node in graph.node}
    # The excluded layer reads float inputs; a quantized one reads the plan's scales.
    assert not any(name in dequantize for name in nodes[excluded_layer].input)
    query = nodes[config.layers[names[0]].node]
    weight_dq = dequantize[query.input[1]]
    scales = onnx.numpy_helper.to_array(initializers[weight_dq.input[1]])
    assert np.allclose(scales, plan.scales[names[0]]["weight"].scale.numpy(), rtol=1e-6)
    input_dq = dequantize[query.input[0]]
    zero_point = initializers[input_dq.input[2]]
    assert zero_point.data_type == onnx.TensorProto.FLOAT8E4M3FN

    onnx_output = run_onnx(quantized, batches[0])
    effect = np.abs(engine - float_output).max()
    assert effect > 1e-4
    assert np.abs(onnx_output - engine).max() < 0.05 * effect


def test_shared_input_warns_without_isolation(tmp_path):
    model = random_model("bert")
    path = export_onnx(model, tmp_path / "bert.onnx")
    batches = make_batches(model.tokenizer, load_texts(), seq_len=16, num_samples=2, batch_size=2)
    plan = PrecisionPlan()
    plan.set_layer(
        "encoder.layer.0.intermediate.dense",
        weight={"format": "int8_sym", "granularity": "channel"},
        input={"format": "int8_sym"},
    )
    with apply_plan(model, plan, batches):
        pass
    config = ort_static_config(plan, onnx.load(str(path)))
    assert config.nodes_to_quantize == [config.layers["encoder.layer.0.intermediate.dense"].node]
    assert len(config.warnings) == 1
    assert "also feeds" in config.warnings[0]
    assert "Add" in config.warnings[0]


def test_ort_config_llama_folded_smoothquant(tmp_path):
    model = random_model("llama")
    batches = make_batches(model.tokenizer, load_texts(), seq_len=16, num_samples=4, batch_size=2)
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    plan.defaults = type(plan.defaults)(plan.defaults.weight, plan.defaults.input, 0.5)
    with apply_plan(model, plan, batches):
        engine = OutputOnly(model.module)(**batches[0]).detach().numpy()
    with pytest.raises(QuantvizError, match="fold them into the model"):
        ort_static_config(plan, onnx.ModelProto())
    folded = fold_smoothing_into_norms(model, plan)
    path = export_onnx(model, tmp_path / "llama.onnx")
    config = export_ort_config(folded, path, tmp_path / "ort.json")
    assert config.unmatched == []
    assert len(config.nodes_to_quantize) == len(model.layers)
    assert config.warnings == []
    quantized = tmp_path / "quantized.onnx"
    quantize_static(str(path), str(quantized), Reader(batches), **quantize_static_kwargs(config))
    assert np.abs(run_onnx(quantized, batches[0]) - engine).max() < 1e-3


def test_missing_scales_named(tmp_path, tiny_llama):
    path = export_onnx(tiny_llama, tmp_path / "llama.onnx")
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    names = [info.name for info in tiny_llama.layers]
    with pytest.raises(
        QuantvizError, match=r"no weight or input scales for layer model\.layers\.0"
    ):
        ort_static_config(plan, onnx.load(str(path)), names)


@pytest.mark.slow
def test_dynamo_export_mapped(tmp_path):
    minilm = load_model("sample:minilm")
    path = export_onnx(minilm, tmp_path / "minilm.onnx", dynamo=True)
    names = [info.name for info in minilm.layers]
    mapping = map_layers_to_onnx(onnx.load(str(path), load_external_data=False), names)
    assert len(mapping) == 36  # every layer but the pooler, which the output skips
    query = mapping["encoder.layer.5.attention.self.query"]
    assert query.op_type == "MatMul"
    assert query.weight is not None
