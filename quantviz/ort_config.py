"""Export a precision plan as settings for ONNX Runtime's static quantization.

:func:`ort_static_config` maps the plan's layers onto the MatMul/Gemm nodes of an ONNX
graph and writes the arguments of ``onnxruntime.quantization.quantize_static``. These
are the nodes to quantize and to exclude, the default activation and weight types, and
``extra_options["TensorQuantOverrides"]``. The overrides carry each layer's
quantization type, channel axis and the plan's own scales and zero points, so ONNX
Runtime uses the engine's numbers instead of calibrating its own. The JSON file stores
enum names and plain lists, and :func:`quantize_static_kwargs` turns it back into the
objects that ``quantize_static`` takes.

A node belongs to a layer when the module path recorded for the node (the legacy
exporter's node name such as ``/encoder/layer.0/attention/self/query/MatMul``, or the
dynamo exporter's ``pkg.torch.onnx.name_scopes`` metadata) ends with the layer name.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write_bytes, atomic_write_json, read_json
from quantviz.plan import PrecisionPlan, TensorConfig
from quantviz.quant.qparams import QParams

logger = logging.getLogger(__name__)

CONFIG_FORMAT = "quantviz-ort-static-config"
CONFIG_VERSION = 1
WEIGHT_OPS = ("MatMul", "Gemm")
# Plan formats that quantize_static supports, and their QuantType names.
ORT_QUANT_TYPES = {"int8_sym": "QInt8", "int8_asym": "QUInt8", "fp8_e4m3": "QFLOAT8E4M3FN"}
# The engine writes no QDQ pair on a layer's output, so ONNX Runtime must not either.
_BASE_EXTRA_OPTIONS: dict[str, Any] = {
    "OpTypesToExcludeOutputQuantization": list(WEIGHT_OPS),
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "DedicatedQDQPair": True,
}


@dataclass
class OnnxLayerNode:
    """The MatMul or Gemm node that computes one layer in an ONNX graph.

    ``weight`` is the initializer that contains the weight, or None when the weight is
    computed. ``weight_axis`` is the weight's output-channel axis in the ONNX layout (1 for a
    MatMul ``B`` of shape ``[in, out]``, 0 for a Gemm with ``transB=1``).
    """

    layer: str
    node: str
    op_type: str
    activation: str
    weight: str | None
    weight_axis: int

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def _node_scopes(node: Any) -> list[str]:
    """Module paths recorded for a node, deepest last."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                break
            return [str(scope) for scope in scopes if scope]
    parts = [part for part in node.name.split("/") if part]
    # The legacy exporter names nodes /module/path/OpName; the last part is the op.
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _matching_layer(scopes: list[str], layers: Iterable[str]) -> str | None:
    for scope in reversed(scopes):
        for layer in layers:
            if scope == layer or scope.endswith("." + layer):
                return layer
    return None


def map_layers_to_onnx(model: Any, layer_names: Iterable[str]) -> dict[str, OnnxLayerNode]:
    """Find the MatMul/Gemm node of each layer in ``model`` (an ``onnx.ModelProto``).

    Layers without a node are missing from the result. A layer name matches the
    deepest module path of a node that equals it or ends with ``"." + name``, so a
    wrapper module around the exported model does not matter.
    """
    layers = sorted(set(layer_names), key=len, reverse=True)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    constants = {
        output: node for node in graph.node if node.op_type == "Constant" for output in node.output
    }
    found: dict[str, OnnxLayerNode] = {}
    for node in graph.node:
        if node.op_type not in WEIGHT_OPS or len(node.input) < 2:
            continue
        layer = _matching_layer(_node_scopes(node), layers)
        if layer is None:
            continue
        if layer in found:
            logger.info("layer %s maps to several nodes; keeping %s", layer, found[layer].node)
            continue
        weight = node.input[1]
        is_constant = weight in initializers or weight in constants
        axis = 1
        if node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        found[layer] = OnnxLayerNode(
            layer=layer,
            node=node.name,
            op_type=node.op_type,
            activation=node.input[0],
            weight=weight if is_constant else None,
            weight_axis=axis,
        )
    return found


@dataclass
class OrtStaticConfig:
    """Arguments for ``onnxruntime.quantization.quantize_static``, JSON-serializable.

    ``activation_type`` and ``weight_type`` are ``QuantType`` member names; scales and
    zero points in ``extra_options["TensorQuantOverrides"]`` are plain numbers.
    ``layers`` maps each matched layer to its node; ``unmatched`` lists plan layers
    without a node; ``warnings`` lists settings that could not be expressed.
    """

    nodes_to_quantize: list[str]
    nodes_to_exclude: list[str]
    op_types_to_quantize: list[str]
    activation_type: str
    weight_type: str
    per_channel: bool
    calibrate_method: str
    extra_options: dict[str, Any]
    layers: dict[str, OnnxLayerNode] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "quantize_static": {
                "quant_format": "QDQ",
                "nodes_to_quantize": self.nodes_to_quantize,
                "nodes_to_exclude": self.nodes_to_exclude,
                "op_types_to_quantize": self.op_types_to_quantize,
                "activation_type": self.activation_type,
                "weight_type": self.weight_type,
                "per_channel": self.per_channel,
                "calibrate_method": self.calibrate_method,
                "extra_options": self.extra_options,
            },
            "layers": {name: node.to_dict() for name, node in self.layers.items()},
            "unmatched": self.unmatched,
            "warnings": self.warnings,
        }

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())


def _quant_type(config: TensorConfig) -> str | None:
    name = ORT_QUANT_TYPES.get(config.format)
    if name is None:
        return None
    if config.granularity == "group":
        return None
    return name


def _tensor_override(qparams: QParams, quant_type: str, axis: int | None) -> list[dict[str, Any]]:
    scales = qparams.scale.flatten().tolist()
    zero_points = [int(z) for z in qparams.zero_point.flatten().tolist()]
    if axis is None:
        return [{"quant_type": quant_type, "scale": scales[0], "zero_point": zero_points[0]}]
    channels = [
        {"scale": scale, "zero_point": zero}
        for scale, zero in zip(scales, zero_points, strict=True)
    ]
    channels[0] = {"quant_type": quant_type, "axis": axis, **channels[0]}
    return channels


def ort_static_config(
    plan: PrecisionPlan,
    model: Any,
    layer_names: Iterable[str] | None = None,
    *,
    isolate_inputs: bool = False,
) -> OrtStaticConfig:
    """Build quantize_static settings for ``plan`` on the ONNX graph ``model``.

    ``layer_names`` are the model's layer names; by default the layers with stored
    scales and the plan's overrides are used. Every quantized layer needs its scales
    in ``plan.scales`` (apply or evaluate the plan first), because ONNX Runtime cannot
    calibrate FP8 activations with min-max and the engine's scales are meant to reach
    the exported model unchanged. Plans with SmoothQuant factors must be folded into
    the model first (:func:`quantviz.smoothquant.fold_smoothing_into_norms`), and the
    ONNX graph exported from the folded model.

    quantize_static puts one QDQ pair on a tensor that only one quantized node reads,
    and every other reader (a residual Add, a float layer) then reads the quantized
    values too, which the engine does not do. ``isolate_inputs=True`` inserts an
    ``Identity`` node in front of each such layer, in ``model`` itself, so that only
    the layer reads the quantized copy. Quantize the modified model then. Without it,
    each such layer gets a warning.
    """
    if plan.smoothing:
        raise QuantvizError(
            f"the plan has SmoothQuant factors for {len(plan.smoothing)} layers (first: "
            f"{next(iter(plan.smoothing))}); fold them into the model with "
            "fold_smoothing_into_norms, export the folded model, and use the returned plan"
        )
    names = list(layer_names) if layer_names is not None else [*plan.scales, *plan.overrides]
    mapping = map_layers_to_onnx(model, names)
    warnings: list[str] = []
    selected = []
    for name, node in mapping.items():
        config = plan.resolve(name)
        if not config.quantized:
            continue
        problem = _unsupported(config, node, plan, name)
        if problem:
            warnings.append(f"{name}: {problem}; left in float")
            continue
        selected.append(name)
    warnings += _shared_inputs(model, mapping, selected, isolate_inputs)

    overrides: dict[str, list[dict[str, Any]]] = {}
    activation_types: Counter[str] = Counter()
    weight_types: Counter[str] = Counter()
    per_channel = False
    for name in selected:
        node, config = mapping[name], plan.resolve(name)
        weight_type = _quant_type(config.weight)
        input_type = _quant_type(config.input)
        assert weight_type is not None
        assert input_type is not None
        assert node.weight is not None
        roles = plan.scales[name]
        axis = node.weight_axis if config.weight.granularity == "channel" else None
        per_channel = per_channel or axis is not None
        overrides[node.weight] = _tensor_override(roles["weight"], weight_type, axis)
        activation = _tensor_override(roles["input"], input_type, None)
        previous = overrides.get(node.activation)
        if previous is not None and previous != activation:
            warnings.append(
                f"{name}: its input {node.activation} is shared with another layer that "
                "uses other input settings; the first layer's settings are kept"
            )
        else:
            overrides[node.activation] = activation
        activation_types[input_type] += 1
        weight_types[weight_type] += 1
    quantize = [mapping[name].node for name in selected]
    exclude = [
        node.name
        for node in model.graph.node
        if node.op_type in WEIGHT_OPS and node.name not in set(quantize)
    ]
    used = set(activation_types) | set(weight_types)
    unmatched = sorted(set(names) - set(mapping))
    if unmatched:
        logger.info("%d plan layers have no node in the ONNX graph", len(unmatched))
    return OrtStaticConfig(
        nodes_to_quantize=quantize,
        nodes_to_exclude=exclude,
        op_types_to_quantize=list(WEIGHT_OPS),
        **_default_types(activation_types, weight_types),
        per_channel=per_channel,
        # quantize_static rejects FP8 types unless calibration collects distributions;
        # the overridden tensors use the plan's scales either way.
        calibrate_method="Distribution" if "QFLOAT8E4M3FN" in used else "MinMax",
        extra_options={**_BASE_EXTRA_OPTIONS, "TensorQuantOverrides": overrides},
        layers=mapping,
        unmatched=unmatched,
        warnings=warnings,
    )


def _shared_inputs(
    model: Any, mapping: dict[str, OnnxLayerNode], selected: list[str], isolate: bool
) -> list[str]:
    """Warn about, or isolate, quantized inputs that other nodes read too."""
    graph = model.graph
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    quantized_nodes = {mapping[name].node for name in selected}
    warnings = []
    for name in selected:
        entry = mapping[name]
        tensor_readers = readers.get(entry.activation, [])
        quantized = [n for n in tensor_readers if n.name in quantized_nodes]
        # Shape nodes read only the shape, which quantization does not change.
        others = [
            n for n in tensor_readers if n.name not in quantized_nodes and n.op_type != "Shape"
        ]
        if len(quantized) != 1 or not others:
            continue
        if not isolate:
            warnings.append(
                f"{name}: its input {entry.activation} also feeds {others[0].name} "
                f"({others[0].op_type}), which quantize_static would make read the "
                "quantized values; use isolate_inputs (--onnx-out) to keep them float"
            )
            continue
        isolated = f"{entry.activation}_quantviz_{name}"
        identity = _make_identity(entry.activation, isolated, f"{entry.node}_quantviz_input")
        position = next(i for i, n in enumerate(graph.node) if n.name == entry.node)
        graph.node.insert(position, identity)
        matmul = graph.node[position + 1]
        matmul.input[0] = isolated
        entry.activation = isolated
    return warnings


def _make_identity(source: str, target: str, node_name: str) -> Any:
    import onnx

    return onnx.helper.make_node("Identity", [source], [target], name=node_name)


def _unsupported(config: Any, node: OnnxLayerNode, plan: PrecisionPlan, name: str) -> str | None:
    if not (config.weight.quantized and config.input.quantized):
        return (
            f"quantize_static quantizes a MatMul's weight and input together, but the plan "
            f"gives {config.label}"
        )
    for role, tensor in (("weight", config.weight), ("input", config.input)):
        if _quant_type(tensor) is None:
            return f"{role} format {tensor.label} has no quantize_static equivalent"
    if config.input.granularity != "tensor":
        return "per-channel input scales have no quantize_static equivalent"
    if node.weight is None:
        return f"the weight of node {node.node} is not an initializer"
    roles = plan.scales.get(name, {})
    missing = [role for role in ("weight", "input") if role not in roles]
    if missing:
        raise QuantvizError(
            f"the plan has no {' or '.join(missing)} scales for layer {name}; apply or "
            "evaluate the plan first (quantviz evaluate --plan P --save-plan P) so the "
            "scales are stored"
        )
    return None


def _default_types(activations: Counter[str], weights: Counter[str]) -> dict[str, str]:
    """Pick the most common types, adjusted to a pair that quantize_static accepts.

    quantize_static (onnxruntime 1.32) rejects FP8 activations with non-FP8 weights and
    the reverse, and INT8 activations with UINT8 weights. Every quantized tensor has its
    own override, so the defaults only need to be an accepted pair.
    """
    activation = activations.most_common(1)[0][0] if activations else "QInt8"
    weight = weights.most_common(1)[0][0] if weights else "QInt8"
    if activation == "QFLOAT8E4M3FN":
        weight = "QFLOAT8E4M3FN"
    elif weight == "QFLOAT8E4M3FN":
        weight = "QInt8"
    if activation == "QInt8" and weight == "QUInt8":
        activation = "QUInt8"
    return {"activation_type": activation, "weight_type": weight}


def export_ort_config(
    plan: PrecisionPlan,
    onnx_path: str | Path,
    out_path: str | Path,
    layer_names: Iterable[str] | None = None,
    *,
    onnx_out: str | Path | None = None,
) -> OrtStaticConfig:
    """Load the ONNX graph at ``onnx_path`` (without external weights) and write the
    quantize_static settings of ``plan`` to ``out_path`` as JSON.

    With ``onnx_out`` the inputs of layers that share them with unquantized nodes are
    isolated (see :func:`ort_static_config`) and the modified model is written there.
    The settings then refer to that model.
    """
    import onnx

    path = Path(onnx_path)
    if not path.is_file():
        raise QuantvizError(f"ONNX file {path} not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and others for a damaged file
        raise QuantvizError(f"{path} is not a readable ONNX model: {error}") from None
    if (
        onnx_out is not None
        and model.graph.initializer
        and any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer)
    ):
        raise QuantvizError(
            f"{path} keeps its weights in external data files; --onnx-out supports "
            "models whose weights are inside the .onnx file"
        )
    config = ort_static_config(plan, model, layer_names, isolate_inputs=onnx_out is not None)
    if onnx_out is not None:
        data = model.SerializeToString()
        atomic_write_bytes(onnx_out, data)
    config.save(out_path)
    return config


def load_ort_config(path: str | Path) -> dict[str, Any]:
    """Read a settings file written by :func:`export_ort_config`; return its dict."""
    data = read_json(path, "ONNX Runtime settings")
    if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
        raise QuantvizError(f"{path} is not a quantviz ONNX Runtime settings file")
    version = data.get("version")
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise QuantvizError(
            f"{path} has settings version {version!r}; this quantviz reads {CONFIG_VERSION}"
        )
    return data


def quantize_static_kwargs(config: dict[str, Any] | OrtStaticConfig) -> dict[str, Any]:
    """Keyword arguments for ``quantize_static(model_in, model_out, reader, **kwargs)``.

    QuantType names become ``QuantType`` members and scales and zero points numpy
    scalars of the dtypes ONNX Runtime expects.
    """
    import numpy as np
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    data = config.to_dict() if isinstance(config, OrtStaticConfig) else config
    settings = dict(data["quantize_static"])
    extra = dict(settings.pop("extra_options"))
    overrides = {}
    for tensor, channels in extra.get("TensorQuantOverrides", {}).items():
        converted = []
        for channel in channels:
            item = dict(channel)
            if "quant_type" in item:
                item["quant_type"] = QuantType[item["quant_type"]]
            if "scale" in item:
                item["scale"] = np.array(item["scale"], dtype=np.float32)
                item["zero_point"] = np.array(item["zero_point"])
            converted.append(item)
        overrides[tensor] = converted
    extra["TensorQuantOverrides"] = overrides
    settings["quant_format"] = QuantFormat[settings["quant_format"]]
    settings["calibrate_method"] = CalibrationMethod[settings["calibrate_method"]]
    settings["activation_type"] = QuantType[settings["activation_type"]]
    settings["weight_type"] = QuantType[settings["weight_type"]]
    settings["extra_options"] = extra
    return settings
