"""Structure of exported QDQ graphs: nodes, axes, dtypes, opset, codes and scales."""

import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_support import calibration_batches, evaluation_batches, int8_plan
from onnx import TensorProto, helper, numpy_helper

from quantviz.apply import apply_plan
from quantviz.errors import Cancelled, QuantvizError
from quantviz.export.float_graph import ExportWrapper, trace_float_graph
from quantviz.export.mapping import LayerNode, map_layers, scope_of
from quantviz.export.onnx_export import export_onnx, sidecar_paths
from quantviz.export.qdq import GraphEditor, InputRewriter, codes_to_numpy
from quantviz.model.layers import get_module
from quantviz.model.loading import random_model
from quantviz.plan import LayerOverride, Rule, TensorConfig, uniform_plan
from quantviz.progress import CancelToken
from quantviz.quant import QParams, QuantSpec, fake_quantize, quantize


def _graph(path):
    model = onnx.load(str(path))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    return model, initializers, producers


def _layer_node(model, name):
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm") and scope_of(node.name) == name:
            return node
    raise AssertionError(f"no node for {name}")


def _attribute(node, key):
    for attribute in node.attribute:
        if attribute.name == key:
            return helper.get_attribute_value(attribute)
    return None


def _export(loaded, plan, path, **kwargs):
    return export_onnx(loaded, plan, path, calib_batches=calibration_batches(loaded), **kwargs)


@pytest.fixture(scope="module")
def int8_exports(bert, gpt2, llama, tmp_path_factory):
    """The INT8 plan (per-channel weights, per-tensor inputs) exported once per model."""
    folder = tmp_path_factory.mktemp("int8")
    exports = {}
    for arch, loaded in (("bert", bert), ("gpt2", gpt2), ("llama", llama)):
        plan = int8_plan()
        path = folder / f"{arch}.onnx"
        exports[arch] = (_export(loaded, plan, path), plan, path)
    return exports


def test_bert_qdq_counts_and_placement(int8_exports):
    result, _, path = int8_exports["bert"]
    model, _, producers = _graph(path)
    ops = Counter(node.op_type for node in model.graph.node)
    # Per layer: one input pair shared by query/key/value, three more for the other inputs.
    assert ops["QuantizeLinear"] == 8
    assert ops["DequantizeLinear"] == 12 + 8
    # INT8 inputs use the full range, as QuantizeLinear does, so no clamp node is needed.
    assert ops["Max"] == 0
    assert result.missing_layers == ["pooler.dense"]
    assert result.opset == 17
    assert model.opset_import[0].version == 17
    for record in result.layers:
        node = _layer_node(model, record.name)
        weight_dq = producers[node.input[1]]
        input_dq = producers[node.input[0]]
        assert weight_dq.op_type == "DequantizeLinear"
        assert weight_dq.name == f"{record.name}.weight.DequantizeLinear"
        assert input_dq.op_type == "DequantizeLinear"
        assert producers[input_dq.input[0]].op_type == "QuantizeLinear"


def test_shared_input_pair_for_query_key_value(int8_exports):
    result = int8_exports["bert"][0]
    records = {record.name: record for record in result.layers}
    query = records["encoder.layer.0.attention.self.query"].input
    key = records["encoder.layer.0.attention.self.key"].input
    assert key.shared_from == "encoder.layer.0.attention.self.query"
    assert key.tensor == query.tensor
    assert query.shared_from is None


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_weight_codes_and_scales_are_engine_values(arch, int8_exports, request):
    loaded = request.getfixturevalue(arch)
    result, plan, path = int8_exports[arch]
    _, initializers, producers = _graph(path)
    for record in result.layers:
        info = loaded.layer(record.name)
        qparams = plan.scales[record.name]["weight"]
        weight = get_module(loaded.module, record.name).weight.detach()
        expected = quantize(weight, qparams).numpy()
        codes_name, scale_name, zero_name = record.weight.initializers
        codes = initializers[codes_name]
        # nn.Linear [out, in] is stored transposed for MatMul; GPT-2 Conv1D [in, out] as is.
        transposed = info.kind != "conv1d_gpt2"
        assert record.weight.transposed == transposed
        assert np.array_equal(codes, expected.T if transposed else expected)
        assert codes.dtype == np.int8
        assert np.array_equal(initializers[scale_name], qparams.scale.numpy())
        assert initializers[scale_name].dtype == np.float32
        assert np.array_equal(initializers[zero_name], np.zeros(codes.shape[1], np.int8))
        # The output channel is axis 1 of the [in, out] matrix in every case.
        dq = producers[record.weight.tensor]
        assert _attribute(dq, "axis") == 1


def test_input_scales_are_plan_scales(int8_exports):
    result, plan, path = int8_exports["llama"]
    _, initializers, _ = _graph(path)
    for record in result.layers:
        qparams = plan.scales[record.name]["input"]
        scale_name, zero_name = record.input.initializers
        assert initializers[scale_name].shape == ()
        assert initializers[scale_name] == qparams.scale.numpy()
        # Symmetric INT8 codes are stored as UINT8 with zero point 128 by default.
        assert initializers[zero_name].dtype == np.uint8
        assert int(initializers[zero_name]) == 128
        assert record.input.zero_point == [0]
        assert record.input.onnx_zero_point == [128.0]


def test_int8_storage_keeps_engine_zero_point(gpt2, tmp_path):
    result = _export(gpt2, int8_plan(), tmp_path / "m.onnx", activation_storage="int8")
    _, initializers, _ = _graph(tmp_path / "m.onnx")
    record = result.layers[0].input
    zero_point = initializers[record.initializers[-1]]
    assert zero_point.dtype == np.int8
    assert int(zero_point) == 0
    assert record.onnx_dtype == "INT8"


def test_scales_json_lists_every_layer(int8_exports):
    result, plan, path = int8_exports["bert"]
    plan_path, scales_path = sidecar_paths(path)
    assert plan_path.name == "bert.plan.json"
    data = json.loads(scales_path.read_text())
    assert set(data["layers"]) == {record.name for record in result.layers}
    query = data["layers"]["encoder.layer.0.attention.self.query"]
    assert (
        query["weight"]["scale"]
        == plan.scales["encoder.layer.0.attention.self.query"]["weight"].scale.tolist()
    )
    assert json.loads(plan_path.read_text())["scales"]


def test_fp8_dtypes_and_opset(llama, tmp_path):
    plan = uniform_plan(TensorConfig("fp8_e4m3", "channel"), TensorConfig("fp8_e5m2", "tensor"))
    result = _export(llama, plan, tmp_path / "m.onnx")
    model, initializers, _ = _graph(tmp_path / "m.onnx")
    assert result.opset == 21
    assert model.opset_import[0].version == 21
    types = {t.name: t.data_type for t in model.graph.initializer}
    for record in result.layers:
        codes_name = record.weight.initializers[0]
        assert types[codes_name] == TensorProto.FLOAT8E4M3FN
        expected = quantize(
            get_module(llama.module, record.name).weight.detach(),
            plan.scales[record.name]["weight"],
        )
        assert np.array_equal(
            initializers[codes_name].view(np.uint8), codes_to_numpy(expected).T.view(np.uint8)
        )
        assert types[record.input.initializers[-1]] == TensorProto.FLOAT8E5M2
        quantize_node = next(
            node for node in model.graph.node if node.name == record.input.nodes[0]
        )
        assert quantize_node.op_type == "QuantizeLinear"
        assert _attribute(quantize_node, "saturate") == 1
    assert not any(node.op_type == "Max" for node in model.graph.node)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_group_weights_use_block_size(arch, tmp_path, request):
    loaded = request.getfixturevalue(arch)
    plan = uniform_plan(TensorConfig("int8_sym", "group", group_size=16), TensorConfig("float"))
    result = _export(loaded, plan, tmp_path / "m.onnx")
    _, initializers, producers = _graph(tmp_path / "m.onnx")
    assert result.opset == 21
    for record in result.layers:
        dq = producers[record.weight.tensor]
        assert _attribute(dq, "block_size") == 16
        # The input axis of the [in, out] matrix is split into blocks.
        assert _attribute(dq, "axis") == 0
        scale = initializers[record.weight.initializers[1]]
        codes = initializers[record.weight.initializers[0]]
        assert scale.shape == (codes.shape[0] // 16, codes.shape[1])


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_group_weights_with_int8_inputs_run_optimized(arch, tmp_path, request):
    """Per-group weights of INT8-input layers run with every ONNX Runtime optimization.

    That optimization fuses a blocked DequantizeLinear weight and an INT8 input into a
    kernel that rejects per-group scales, so these weights use explicit nodes instead.
    """
    loaded = request.getfixturevalue(arch)
    plan = uniform_plan(
        TensorConfig("int8_sym", "group", group_size=16), TensorConfig("int8_sym", "tensor")
    )
    result = _export(loaded, plan, tmp_path / "m.onnx")
    _, _, producers = _graph(tmp_path / "m.onnx")
    for record in result.layers:
        assert producers[record.weight.tensor].op_type == "Reshape"
        assert not any(producers.get(name) for name in record.weight.initializers)
    batch = evaluation_batches(loaded, 1)[0]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), options)
    feeds = {i.name: batch[i.name].numpy() for i in session.get_inputs()}
    logits = session.run(None, feeds)[0]
    with apply_plan(loaded, plan), torch.no_grad():
        expected = loaded.module(**batch).logits.numpy()
    error = np.sqrt(np.mean((logits - expected) ** 2) / np.mean(expected**2))
    assert error < 1e-3


def test_float_layers_untouched(bert, tmp_path):
    plan = int8_plan()
    plan.rules = [
        Rule(
            "*.output.dense",
            LayerOverride(weight={"format": "float"}, input={"format": "float"}),
        )
    ]
    result = _export(bert, plan, tmp_path / "m.onnx")
    float_names = [name for name in result.float_layers if name.endswith("output.dense")]
    assert "encoder.layer.1.output.dense" in float_names
    model, initializers, producers = _graph(tmp_path / "m.onnx")
    for name in float_names:
        node = _layer_node(model, name)
        assert node.input[0] not in producers or producers[node.input[0]].op_type != (
            "DequantizeLinear"
        )
        weight = get_module(bert.module, name).weight.detach().numpy()
        assert np.array_equal(initializers[node.input[1]], weight.T)


def test_embedding_input_quantization_rejected(tmp_path):
    loaded = random_model("bert", include_embeddings=True)
    with pytest.raises(QuantvizError, match=r"embeddings\.word_embeddings.*input format to float"):
        _export(loaded, int8_plan(), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_group_input_rejected(bert, tmp_path):
    plan = uniform_plan(
        TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym", "group", group_size=8)
    )
    with pytest.raises(QuantvizError, match="per group"):
        _export(bert, plan, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_integer_channel_input_rejected(bert, tmp_path):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym", "channel"))
    with pytest.raises(QuantvizError, match=r"encoder\.layer\.0\..* per channel"):
        _export(bert, plan, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_fp8_needs_new_opset(bert, tmp_path):
    plan = uniform_plan(TensorConfig("fp8_e4m3", "tensor"), TensorConfig("float"))
    with pytest.raises(QuantvizError, match=r"opset 17 is too old.*fp8_e4m3"):
        _export(bert, plan, tmp_path / "m.onnx", opset=17)


def test_cancel_while_writing_leaves_nothing(bert, tmp_path):
    token = CancelToken()

    def cancel_when_written(event):
        if event.stage == "writing" and event.step == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        _export(bert, int8_plan(), tmp_path / "m.onnx", progress=cancel_when_written, cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_external_data_when_over_threshold(gpt2, tmp_path):
    path = tmp_path / "m.onnx"
    result = _export(gpt2, int8_plan(), path, external_data_threshold=1)
    data = tmp_path / "m.onnx.data"
    assert result.external_data == str(data)
    assert data.stat().st_size > path.stat().st_size
    assert result.size_bytes == data.stat().st_size + path.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.onnx",
        "m.onnx.data",
        "m.plan.json",
        "m.scales.json",
    ]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = evaluation_batches(gpt2, samples=2)[0]
    (logits,) = session.run(None, {k: v.numpy() for k, v in batch.items()})
    assert logits.shape == (2, 24, gpt2.config.vocab_size)


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_mapping_by_scope_and_by_values_agree(arch, request):
    loaded = request.getfixturevalue(arch)
    names = [info.name for info in loaded.layers]
    model = trace_float_graph(loaded, 17)
    by_scope, missing = map_layers(model, loaded, names)
    assert all(item.method == "scope" for nodes in by_scope.values() for item in nodes)
    for node in model.graph.node:
        node.name = ""
    by_values, missing_again = map_layers(model, loaded, names)
    assert missing_again == missing
    assert set(by_values) == set(by_scope)
    for name in by_scope:
        assert [n.initializer for n in by_values[name]] == [n.initializer for n in by_scope[name]]
        assert by_values[name][0].method == "values"
        assert by_values[name][0].transposed == (loaded.layer(name).kind != "conv1d_gpt2")


def _single_input_graph(size):
    node = helper.make_node("Identity", ["x"], ["y"], name="layer/Identity")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("storage", ["uint8", "int8"])
def test_narrow_range_input_matches_engine(storage):
    """Values far below the calibrated range give -127 in the engine and in ONNX Runtime."""
    scale = torch.tensor(0.05)
    qparams = QParams(scale, torch.tensor(0, dtype=torch.int32), QuantSpec("int8"))
    x = torch.tensor([-1000.0, -6.4, -6.376, -6.35, -6.33, -0.025, 0.0, 0.025, 6.35, 6.4, 1000.0])
    model = _single_input_graph(x.numel())
    editor = GraphEditor(model)
    item = LayerNode("layer", "layer/Identity", "y", "Identity", 1, "", False, "scope")
    record = InputRewriter(editor, storage).quantize(item, "x", qparams, "")
    model.graph.node[0].input[0] = record.tensor
    editor.finish()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x.numpy()})
    assert np.array_equal(y, fake_quantize(x, qparams).numpy())
    assert y[0] == np.float32(-127) * np.float32(0.05)


def test_embedding_rows_dequantized_after_lookup(tmp_path):
    loaded = random_model("bert", include_embeddings=True)
    plan = int8_plan()
    plan.rules = [Rule("embeddings.*", LayerOverride(input={"format": "float"}))]
    result = _export(loaded, plan, tmp_path / "m.onnx")
    model, initializers, _ = _graph(tmp_path / "m.onnx")
    records = {record.name: record for record in result.layers}
    word = records["embeddings.word_embeddings"]
    gather = next(
        n
        for n in model.graph.node
        if n.op_type == "Gather" and n.input[0] in (word.weight.initializers[0],)
    )
    assert initializers[gather.input[0]].dtype == np.int8
    assert "embeddings.word_embeddings.weight.Mul_scale" in word.weight.nodes
    batch = evaluation_batches(loaded, samples=2)[0]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    hidden, _ = session.run(None, {k: v.numpy() for k, v in batch.items()})
    with apply_plan(loaded, plan), torch.inference_mode():
        expected, _ = ExportWrapper(loaded.module, loaded.task)(**batch)
    assert np.allclose(hidden, expected.numpy(), atol=1e-4)
