"""Rewrite a float ONNX graph into QDQ form with the engine's codes, scales and zero points.

For each quantized layer node:

- the weight initializer is replaced by the engine's codes
  (:func:`quantviz.quant.quantize`) in the graph's layout, followed by
  ``DequantizeLinear`` with the engine's scale and zero point (per tensor; per channel
  with an explicit ``axis``; per group with ``axis`` and ``block_size``, opset 21);
- the activation input passes ``QuantizeLinear -> DequantizeLinear`` with the engine's
  static input scale. Layers that read the same tensor with identical parameters (query,
  key and value) share one pair.

Symmetric INT8 activations can be stored as UINT8 with zero point 128 (``uint8``
storage): ``clamp(round(x / s) + 128, 0, 255) - 128`` equals the INT8 code, so every
dequantized value is bit-identical. ONNX Runtime 1.32's x86 CPU provider fuses every
``DQ(uint8) -> MatMul <- DQ(int8)`` into ``MatMulIntegerToFloat``, while with INT8
activations it leaves the MatMuls that share one input pair (query, key, value) in float
(measured on the tiny BERT: 12 of 12 fused against 6 of 12). ``int8`` storage writes the
engine's INT8 codes and zero point as they are.

Restricted range: the engine clamps symmetric INT8 to ``[-127, 127]`` but ONNX
``QuantizeLinear`` clamps to ``[-128, 127]``. Weights are stored as codes, so they are in
range already. Activations get a ``Max(x, f32(-127 * s))`` node before the
``QuantizeLinear``: values above that bound are unchanged, and the bound divides back to
``-127`` within float32 rounding, so ONNX Runtime produces the engine's code for every
input. ``Max`` is used instead of ``Clip`` because ONNX Runtime's ClipQuantFusion removes
a ``Clip`` in front of a ``QuantizeLinear`` whenever the two lower bounds differ by less
than float32's epsilon in absolute terms, which happens for scales below about 1e-7.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from quantviz.errors import QuantvizError
from quantviz.export.mapping import LayerNode
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import QuantSpec

logger = logging.getLogger(__name__)

ACTIVATION_STORAGES = ("uint8", "int8")

# numpy dtype that stores each ONNX element type of codes and zero points.
_NUMPY_DTYPES: dict[int, Any] = {
    TensorProto.INT8: np.int8,
    TensorProto.UINT8: np.uint8,
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
}
_FLOAT8 = (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2)
_UINT8_SHIFT = 128


@dataclass
class TensorRecord:
    """Record of the values, initializers and nodes written for one quantized tensor.

    ``zero_point`` is the engine's; ``onnx_zero_point`` is the value stored in the graph
    (they differ only for symmetric INT8 activations stored as UINT8). ``axis`` and
    ``block_size`` are the ``DequantizeLinear`` attributes in the graph's layout.
    ``shared_from`` names the layer whose ``QuantizeLinear`` pair this input reuses.
    """

    role: str
    spec: dict[str, Any]
    onnx_dtype: str
    scale_shape: list[int]
    scale: list[float]
    zero_point: list[int]
    onnx_zero_point: list[float]
    axis: int | None
    block_size: int | None
    tensor: str
    nodes: list[str]
    initializers: list[str]
    transposed: bool = False
    shared_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "spec": dict(self.spec),
            "onnx_dtype": self.onnx_dtype,
            "scale_shape": list(self.scale_shape),
            "scale": list(self.scale),
            "zero_point": list(self.zero_point),
            "onnx_zero_point": list(self.onnx_zero_point),
            "axis": self.axis,
            "block_size": self.block_size,
            "tensor": self.tensor,
            "nodes": list(self.nodes),
            "initializers": list(self.initializers),
            "transposed": self.transposed,
            "shared_from": self.shared_from,
        }


@dataclass
class LayerExport:
    """Inputs to the rewrite for one layer, computed by the engine."""

    name: str
    weight_codes: torch.Tensor | None = None
    weight_qparams: QParams | None = None
    input_qparams: QParams | None = None
    smoothing: torch.Tensor | None = None
    """Per-input-channel divisor for the layer's input; None when not needed in the graph."""
    float_weight: torch.Tensor | None = None
    """Float weight with the smoothing factors applied, for a layer that smooths and
    quantizes its input but keeps its weight in float."""


@dataclass
class LayerRecord:
    """Record of the rewrite of one layer."""

    name: str
    nodes: list[LayerNode]
    weight: TensorRecord | None = None
    input: TensorRecord | None = None
    smoothing_node: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": [node.to_dict() for node in self.nodes],
            "weight": self.weight.to_dict() if self.weight else None,
            "input": self.input.to_dict() if self.input else None,
            "smoothing_node": self.smoothing_node,
        }


def codes_to_numpy(codes: torch.Tensor) -> np.ndarray:
    """Codes from :func:`quantviz.quant.quantize` as a numpy array of the ONNX element type."""
    codes = codes.detach().cpu().contiguous()
    if codes.dtype == torch.float8_e4m3fn:
        return codes.view(torch.uint8).numpy().view(ml_dtypes.float8_e4m3fn)
    if codes.dtype == torch.float8_e5m2:
        return codes.view(torch.uint8).numpy().view(ml_dtypes.float8_e5m2)
    if codes.dtype in (torch.int8, torch.uint8):
        return codes.numpy()
    raise QuantvizError(f"codes of dtype {codes.dtype} have no ONNX element type")


def onnx_dtype_of(spec: QuantSpec) -> int:
    dtype = spec.format.onnx_dtype
    if dtype not in _NUMPY_DTYPES:
        raise QuantvizError(
            f"format {spec.format.name} is not exportable to ONNX QuantizeLinear here; "
            "use int8, uint8, fp8_e4m3fn or fp8_e5m2"
        )
    return int(dtype)


class GraphEditor:
    """Adds initializers and nodes with unique names and rewires node inputs."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.initializers = {tensor.name: tensor for tensor in self.graph.initializer}
        self.nodes = {node.name: node for node in self.graph.node if node.name}
        self.producers = {node.output[0]: node for node in self.graph.node if node.output}
        self._names = set(self.initializers) | set(self.nodes)
        for node in self.graph.node:
            self._names.update(node.output)
        self._names.update(value.name for value in self.graph.input)
        self._released: set[str] = set()

    def unique(self, name: str) -> str:
        if name not in self._names:
            self._names.add(name)
            return name
        index = 1
        while f"{name}_{index}" in self._names:
            index += 1
        chosen = f"{name}_{index}"
        self._names.add(chosen)
        return chosen

    def add_initializer(self, name: str, array: np.ndarray) -> str:
        name = self.unique(name)
        tensor = numpy_helper.from_array(np.asarray(array), name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def add_node(
        self, op_type: str, inputs: list[str], output: str, name: str, **attributes: Any
    ) -> tuple[str, str]:
        """Append a node; return its unique name and its output's unique name."""
        name = self.unique(name)
        output = self.unique(output)
        node = helper.make_node(op_type, inputs, [output], name=name, **attributes)
        self.graph.node.append(node)
        self.nodes[name] = node
        return name, output

    def release_initializer(self, name: str) -> None:
        """Mark an initializer for removal at :meth:`finish` if no node reads it then."""
        self._released.add(name)

    def finish(self) -> None:
        """Remove released initializers that nothing reads and sort the nodes."""
        used = {name for node in self.graph.node for name in node.input}
        used.update(output.name for output in self.graph.output)
        unused = self._released - used
        # Deleting in place, from the back, avoids copying every other (large) tensor.
        for index in reversed(range(len(self.graph.initializer))):
            if self.graph.initializer[index].name in unused:
                del self.graph.initializer[index]
        for name in unused:
            self.initializers.pop(name, None)
        self._released.clear()
        self.sort_topologically()

    def sort_topologically(self) -> None:
        """Order nodes so that each follows its producers, keeping the original order
        where it is free (Kahn's algorithm with a queue in node order)."""
        nodes = list(self.graph.node)
        producer = {output: i for i, node in enumerate(nodes) for output in node.output if output}
        waiting = [0] * len(nodes)
        followers: list[list[int]] = [[] for _ in nodes]
        for i, node in enumerate(nodes):
            sources = {producer[name] for name in node.input if name in producer}
            for source in sources:
                followers[source].append(i)
            waiting[i] = len(sources)
        ready = deque(i for i, count in enumerate(waiting) if count == 0)
        order: list[int] = []
        while ready:
            i = ready.popleft()
            order.append(i)
            for follower in sorted(followers[i]):
                waiting[follower] -= 1
                if waiting[follower] == 0:
                    ready.append(follower)
        if len(order) != len(nodes):
            raise QuantvizError("the rewritten ONNX graph has a cycle; this is a quantviz bug")
        del self.graph.node[:]
        self.graph.node.extend(nodes[i] for i in order)


def _graph_axis(axis: int | None, transposed: bool) -> int | None:
    if axis is None:
        return None
    return 1 - axis if transposed else axis


def _graph_layout(values: np.ndarray, qparams: QParams, transposed: bool) -> np.ndarray:
    """Per-tensor values as a scalar (observers may return shape ``[1]``, and ONNX expects a
    scalar for per-tensor scales), per-group values transposed with their weight."""
    if qparams.spec.granularity == "tensor":
        return values.reshape(())
    if transposed and values.ndim == 2:
        return np.ascontiguousarray(values.T)
    return np.ascontiguousarray(values)


def _scale_array(qparams: QParams, transposed: bool) -> np.ndarray:
    return _graph_layout(qparams.scale.detach().cpu().float().numpy(), qparams, transposed)


def _zero_point_array(qparams: QParams, dtype: int, transposed: bool, shift: int = 0) -> np.ndarray:
    zero_point = qparams.zero_point.detach().cpu().numpy().astype(np.int64) + shift
    zero_point = _graph_layout(zero_point, qparams, transposed)
    if dtype in _FLOAT8:
        return np.zeros(zero_point.shape, dtype=_NUMPY_DTYPES[dtype])
    # astype copies into C order; np.ascontiguousarray would turn a scalar into shape [1].
    return zero_point.astype(_NUMPY_DTYPES[dtype])


def _qdq_attributes(axis: int | None, block_size: int | None) -> dict[str, int]:
    attributes: dict[str, int] = {}
    if axis is not None:
        attributes["axis"] = axis
    if block_size is not None:
        attributes["block_size"] = block_size
    return attributes


def rewrite_weight(
    editor: GraphEditor,
    item: LayerNode,
    codes: torch.Tensor,
    qparams: QParams,
    suffix: str,
    integer_input: bool = False,
) -> TensorRecord:
    """Replace the node's float weight by codes and a ``DequantizeLinear``.

    Per-group codes of a layer with an ``integer_input`` are dequantized by explicit
    Cast, Reshape and Mul nodes instead. ONNX Runtime 1.32's CPU optimizer fuses a
    blocked ``DequantizeLinear`` weight and an INT8 QDQ input into
    ``MatMulIntegerToFloat``, which fails at run time because it expects one scale per
    column. The explicit nodes compute the same values.
    """
    spec = qparams.spec
    dtype = onnx_dtype_of(spec)
    array = codes_to_numpy(codes)
    if item.transposed:
        array = np.ascontiguousarray(array.T)
    axis = _graph_axis(spec.axis, item.transposed) if spec.granularity != "tensor" else None
    block_size = int(spec.group_size) if spec.granularity == "group" else None
    base = f"{item.layer}{suffix}"
    codes_name = editor.add_initializer(f"{base}.weight_quantized", array)
    scale_name = editor.add_initializer(
        f"{base}.weight_scale", _scale_array(qparams, item.transposed)
    )
    zero_name = editor.add_initializer(
        f"{base}.weight_zero_point", _zero_point_array(qparams, dtype, item.transposed)
    )
    initializers = [codes_name, scale_name, zero_name]
    node = editor.producers[item.output]
    gather_axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    if item.op_type == "Gather" and gather_axis == 0 and spec.granularity != "group" and axis != 1:
        nodes, output = _dequantize_rows(editor, node, base, initializers, axis is not None)
    elif block_size is not None and integer_input:
        assert axis is not None
        nodes, output = _dequantize_blocks(
            editor, base, initializers, list(array.shape), axis, block_size, qparams
        )
        node.input[item.weight_input] = output
    else:
        node_name, output = editor.add_node(
            "DequantizeLinear",
            initializers,
            f"{base}.weight_dequantized",
            f"{base}.weight.DequantizeLinear",
            **_qdq_attributes(axis, block_size),
        )
        node.input[item.weight_input] = output
        nodes = [node_name]
    editor.release_initializer(item.initializer)
    return TensorRecord(
        role="weight",
        spec=spec.to_dict(),
        onnx_dtype=TensorProto.DataType.Name(dtype),
        scale_shape=list(qparams.scale.shape),
        scale=[float(v) for v in qparams.scale.flatten().tolist()],
        zero_point=[int(v) for v in qparams.zero_point.flatten().tolist()],
        onnx_zero_point=[float(v) for v in qparams.zero_point.flatten().tolist()],
        axis=axis,
        block_size=block_size,
        tensor=output,
        nodes=nodes,
        initializers=initializers,
        transposed=item.transposed,
    )


def _dequantize_blocks(
    editor: GraphEditor,
    base: str,
    initializers: list[str],
    shape: list[int],
    axis: int,
    block_size: int,
    qparams: QParams,
) -> tuple[list[str], str]:
    """Dequantize per-group codes with Cast, Reshape, (Sub,) Mul and Reshape nodes.

    The codes' ``axis`` is split into ``[groups, block_size]`` and the scale (and zero
    point) of shape ``[..., groups, ...]`` gets a 1 after ``axis``, so that one Mul
    broadcasts each group's scale over its ``block_size`` values.
    """
    codes_name, scale_name, zero_name = initializers
    groups = shape[axis] // block_size
    blocked = [*shape[:axis], groups, block_size, *shape[axis + 1 :]]
    scale_shape = [*shape[:axis], groups, 1, *shape[axis + 1 :]]
    blocked_name = editor.add_initializer(f"{base}.weight_blocked_shape", np.array(blocked))
    scale_shape_name = editor.add_initializer(
        f"{base}.weight_scale_blocked_shape", np.array(scale_shape)
    )
    shape_name = editor.add_initializer(f"{base}.weight_shape", np.array(shape))
    nodes = []

    def add(op_type: str, inputs: list[str], output: str, **attributes: Any) -> str:
        name, value = editor.add_node(
            op_type, inputs, f"{base}.{output}", f"{base}.weight.{op_type}_{output}", **attributes
        )
        nodes.append(name)
        return value

    values = add("Cast", [codes_name], "weight_codes_float", to=TensorProto.FLOAT)
    values = add("Reshape", [values, blocked_name], "weight_codes_blocked")
    if bool(torch.any(qparams.zero_point != 0)):
        zero = add("Cast", [zero_name], "weight_zero_point_float", to=TensorProto.FLOAT)
        zero = add("Reshape", [zero, scale_shape_name], "weight_zero_point_blocked")
        values = add("Sub", [values, zero], "weight_codes_centred")
    scale = add("Reshape", [scale_name, scale_shape_name], "weight_scale_blocked")
    values = add("Mul", [values, scale], "weight_dequantized_blocked")
    values = add("Reshape", [values, shape_name], "weight_dequantized")
    return nodes, values


def _dequantize_rows(
    editor: GraphEditor,
    gather: onnx.NodeProto,
    base: str,
    initializers: list[str],
    per_row: bool,
) -> tuple[list[str], str]:
    """Look up rows of the codes first and dequantize only those rows.

    ``DequantizeLinear`` before an embedding ``Gather`` would convert the whole table on
    every run (ONNX Runtime does not fold it), so the ``Gather`` reads the codes and its
    output is dequantized: per tensor with ``DequantizeLinear``, per row with the looked-up
    scales and zero points as ``(float(q) - float(zp)) * scale``. Both give the values
    ``DequantizeLinear`` gives, because 8-bit integers and their differences are exact in
    float32.
    """
    codes_name, scale_name, zero_name = initializers
    output = gather.output[0]
    indices = gather.input[1]
    gathered = editor.unique(f"{base}.weight_rows_quantized")
    gather.input[0] = codes_name
    gather.output[0] = gathered
    if not per_row:
        node_name = editor.unique(f"{base}.weight.DequantizeLinear")
        editor.graph.node.append(
            helper.make_node(
                "DequantizeLinear", [gathered, scale_name, zero_name], [output], name=node_name
            )
        )
        return [node_name], output
    nodes = []
    cast_name, values = editor.add_node(
        "Cast", [gathered], f"{base}.weight_rows", f"{base}.weight.Cast", to=TensorProto.FLOAT
    )
    nodes.append(cast_name)
    zero_points = numpy_helper.to_array(editor.initializers[zero_name])
    if np.any(zero_points.astype(np.float32) != 0):
        gather_zero, row_zero = editor.add_node(
            "Gather",
            [zero_name, indices],
            f"{base}.weight_row_zero_point",
            f"{base}.weight.Gather_zero_point",
        )
        cast_zero, row_zero = editor.add_node(
            "Cast",
            [row_zero],
            f"{base}.weight_row_zero_point_float",
            f"{base}.weight.Cast_zero_point",
            to=TensorProto.FLOAT,
        )
        axes = editor.add_initializer(f"{base}.weight_unsqueeze_axes", np.array([-1], np.int64))
        unsqueeze_zero, row_zero = editor.add_node(
            "Unsqueeze",
            [row_zero, axes],
            f"{base}.weight_row_zero_point_column",
            f"{base}.weight.Unsqueeze_zero_point",
        )
        sub_name, values = editor.add_node(
            "Sub",
            [values, row_zero],
            f"{base}.weight_rows_centered",
            f"{base}.weight.Sub_zero_point",
        )
        nodes += [gather_zero, cast_zero, unsqueeze_zero, sub_name]
    gather_scale, row_scale = editor.add_node(
        "Gather", [scale_name, indices], f"{base}.weight_row_scale", f"{base}.weight.Gather_scale"
    )
    axes = editor.add_initializer(f"{base}.weight_scale_axes", np.array([-1], np.int64))
    unsqueeze_scale, row_scale = editor.add_node(
        "Unsqueeze",
        [row_scale, axes],
        f"{base}.weight_row_scale_column",
        f"{base}.weight.Unsqueeze_scale",
    )
    mul_name = editor.unique(f"{base}.weight.Mul_scale")
    editor.graph.node.append(helper.make_node("Mul", [values, row_scale], [output], name=mul_name))
    nodes += [gather_scale, unsqueeze_scale, mul_name]
    return nodes, output


def replace_float_weight(
    editor: GraphEditor, item: LayerNode, weight: torch.Tensor, suffix: str
) -> str:
    """Replace the node's float weight by ``weight`` (in the torch layout); return its name."""
    array = weight.detach().cpu().float().numpy()
    if item.transposed:
        array = np.ascontiguousarray(array.T)
    name = editor.add_initializer(f"{item.layer}{suffix}.weight_smoothed", array)
    editor.producers[item.output].input[item.weight_input] = name
    editor.release_initializer(item.initializer)
    return name


@dataclass
class _SharedInput:
    layer: str
    record: TensorRecord


class InputRewriter:
    """Inserts smoothing ``Div`` and activation ``QuantizeLinear``/``DequantizeLinear`` pairs,
    sharing one pair between layers that read the same tensor with the same parameters."""

    def __init__(self, editor: GraphEditor, storage: str) -> None:
        if storage not in ACTIVATION_STORAGES:
            raise QuantvizError(
                f"activation storage {storage!r} is invalid; use one of "
                f"{', '.join(ACTIVATION_STORAGES)}"
            )
        self.editor = editor
        self.storage = storage
        self._divided: dict[tuple[str, bytes], tuple[str, str]] = {}
        self._quantized: dict[tuple[Any, ...], _SharedInput] = {}

    def smooth(
        self, item: LayerNode, source: str, smoothing: torch.Tensor, suffix: str
    ) -> tuple[str, str]:
        """Divide ``source`` by the smoothing factors; return the ``Div`` node and its output."""
        factors = smoothing.detach().cpu().float().numpy()
        key = (source, factors.tobytes())
        if key not in self._divided:
            base = f"{item.layer}{suffix}"
            divisor = self.editor.add_initializer(f"{base}.input_smoothing", factors)
            self._divided[key] = self.editor.add_node(
                "Div", [source, divisor], f"{base}.input_smoothed", f"{base}.input.Div_smoothing"
            )
        return self._divided[key]

    def quantize(self, item: LayerNode, source: str, qparams: QParams, suffix: str) -> TensorRecord:
        """Insert (or reuse) the QDQ pair for ``source``; return the record of the input."""
        spec = qparams.spec
        if spec.granularity == "group":
            raise QuantvizError(
                f"layer {item.layer} quantizes its input per group; static per-group input "
                "scales depend on the batch shape and cannot be exported. Use granularity "
                "tensor or channel for the layer's input."
            )
        dtype = onnx_dtype_of(spec)
        signed_int = not spec.is_float and spec.format.signed
        shift = 0
        if signed_int and spec.symmetric and self.storage == "uint8":
            dtype = TensorProto.UINT8
            shift = _UINT8_SHIFT
        scale = _scale_array(qparams, False)
        zero_point = _zero_point_array(qparams, dtype, False, shift)
        narrow = signed_int and spec.qmin > spec.format.qmin
        key = (source, spec.to_dict().__repr__(), scale.tobytes(), zero_point.tobytes(), dtype)
        shared = self._quantized.get(key)
        if shared is not None:
            record = TensorRecord(**{**shared.record.__dict__, "shared_from": shared.layer})
            return record

        editor = self.editor
        base = f"{item.layer}{suffix}"
        axis = -1 if spec.granularity == "channel" else None
        nodes: list[str] = []
        names: list[str] = []
        current = source
        if narrow:
            floor = (np.float32(spec.qmin) - qparams.zero_point.numpy().astype(np.float32)) * scale
            floor_name = editor.add_initializer(
                f"{base}.input_narrow_floor", floor.astype(np.float32)
            )
            node_name, current = editor.add_node(
                "Max", [current, floor_name], f"{base}.input_clamped", f"{base}.input.Max_narrow"
            )
            nodes.append(node_name)
            names.append(floor_name)
        scale_name = editor.add_initializer(f"{base}.input_scale", scale)
        zero_name = editor.add_initializer(f"{base}.input_zero_point", zero_point)
        attributes = _qdq_attributes(axis, None)
        quantize_attributes = dict(attributes)
        if dtype in _FLOAT8:
            quantize_attributes["saturate"] = 1
        q_name, quantized = editor.add_node(
            "QuantizeLinear",
            [current, scale_name, zero_name],
            f"{base}.input_quantized",
            f"{base}.input.QuantizeLinear",
            **quantize_attributes,
        )
        dq_name, output = editor.add_node(
            "DequantizeLinear",
            [quantized, scale_name, zero_name],
            f"{base}.input_dequantized",
            f"{base}.input.DequantizeLinear",
            **attributes,
        )
        record = TensorRecord(
            role="input",
            spec=spec.to_dict(),
            onnx_dtype=TensorProto.DataType.Name(dtype),
            scale_shape=list(qparams.scale.shape),
            scale=[float(v) for v in qparams.scale.flatten().tolist()],
            zero_point=[int(v) for v in qparams.zero_point.flatten().tolist()],
            onnx_zero_point=[float(v) for v in zero_point.astype(np.float32).flatten().tolist()],
            axis=axis,
            block_size=None,
            tensor=output,
            nodes=[*nodes, q_name, dq_name],
            initializers=[*names, scale_name, zero_name],
        )
        self._quantized[key] = _SharedInput(item.layer, record)
        return record


def rewrite_layer(
    editor: GraphEditor,
    inputs: InputRewriter,
    nodes: list[LayerNode],
    layer: LayerExport,
) -> LayerRecord:
    """Quantize the weight and input of every node that computes ``layer``."""
    record = LayerRecord(layer.name, nodes)
    for position, item in enumerate(nodes):
        suffix = "" if position == 0 else f"#{position}"
        has_input = layer.input_qparams is not None or layer.smoothing is not None
        if item.op_type == "Gather" and has_input:
            raise QuantvizError(
                f"layer {layer.name} is an embedding, whose input is token ids; set its "
                "input format to float in the plan"
            )
        if layer.weight_codes is not None and layer.weight_qparams is not None:
            integer_input = (
                layer.input_qparams is not None and not layer.input_qparams.spec.is_float
            )
            weight = rewrite_weight(
                editor, item, layer.weight_codes, layer.weight_qparams, suffix, integer_input
            )
            if record.weight is None:
                record.weight = weight
        elif layer.float_weight is not None:
            replace_float_weight(editor, item, layer.float_weight, suffix)
        if item.op_type == "Gather":
            continue
        node = editor.producers[item.output]
        source = node.input[0]
        if layer.smoothing is not None:
            record.smoothing_node, source = inputs.smooth(item, source, layer.smoothing, suffix)
        if layer.input_qparams is not None:
            quantized = inputs.quantize(item, source, layer.input_qparams, suffix)
            source = quantized.tensor
            if record.input is None:
                record.input = quantized
        node.input[0] = source
    return record
