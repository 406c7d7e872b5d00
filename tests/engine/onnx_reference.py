"""Run ONNX ``QuantizeLinear -> DequantizeLinear`` in ONNX Runtime as a reference.

The graph is built fresh for each call (opset 21, ``saturate=1`` for float8 outputs)
with scale and zero point stored as initializers, as an exported model stores them,
and runs on ``CPUExecutionProvider``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

OPSET = 21

# numpy dtype used to store a zero point of each supported ONNX element type.
_ZERO_POINT_DTYPES = {
    TensorProto.INT8: np.int8,
    TensorProto.UINT8: np.uint8,
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
}
_CODE_DTYPES = {
    TensorProto.INT8: torch.int8,
    TensorProto.UINT8: torch.uint8,
    TensorProto.FLOAT8E4M3FN: torch.float8_e4m3fn,
    TensorProto.FLOAT8E5M2: torch.float8_e5m2,
}
_FLOAT8_TYPES = (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2)


@dataclass
class OrtResult:
    """Output of the reference graph for one input tensor."""

    codes: torch.Tensor
    """``QuantizeLinear``'s output in the matching torch dtype (int8, uint8, float8)."""
    dequantized: torch.Tensor
    """``DequantizeLinear``'s float32 output."""


def build_qdq_model(
    shape: tuple[int, ...],
    element_type: int,
    scale: np.ndarray,
    zero_point: np.ndarray,
    axis: int | None = None,
    block_size: int | None = None,
) -> onnx.ModelProto:
    """Build a checked opset-21 model ``x -> QuantizeLinear -> DequantizeLinear``.

    Outputs: ``dequantized`` (float32) and ``codes_as_float``, the codes read back by a
    second ``DequantizeLinear`` with scale 1 and no zero point. That second output
    exists because onnxruntime 1.32's Python binding cannot return a FLOAT8E5M2 tensor
    ("No corresponding Numpy type"), and widening float8 to float32 is exact.
    """
    attributes: dict[str, int] = {}
    if axis is not None:
        attributes["axis"] = axis
    if block_size is not None:
        attributes["block_size"] = block_size
    quantize_attributes = dict(attributes)
    if element_type in _FLOAT8_TYPES:
        quantize_attributes["saturate"] = 1

    initializers = [
        numpy_helper.from_array(np.asarray(scale, dtype=np.float32), "scale"),
        numpy_helper.from_array(
            np.asarray(zero_point, dtype=_ZERO_POINT_DTYPES[element_type]), "zero_point"
        ),
        numpy_helper.from_array(np.ones((), dtype=np.float32), "unit_scale"),
    ]
    nodes = [
        helper.make_node(
            "QuantizeLinear", ["x", "scale", "zero_point"], ["codes"], **quantize_attributes
        ),
        helper.make_node(
            "DequantizeLinear", ["codes", "scale", "zero_point"], ["dequantized"], **attributes
        ),
        helper.make_node("DequantizeLinear", ["codes", "unit_scale"], ["codes_as_float"]),
    ]
    outputs = [
        helper.make_tensor_value_info("dequantized", TensorProto.FLOAT, shape),
        helper.make_tensor_value_info("codes_as_float", TensorProto.FLOAT, shape),
    ]
    if element_type != TensorProto.FLOAT8E5M2:
        outputs.append(helper.make_tensor_value_info("codes", element_type, shape))
    graph = helper.make_graph(
        nodes,
        "qdq_reference",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        outputs,
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def run_qdq(
    x: torch.Tensor,
    element_type: int,
    scale: torch.Tensor | float,
    zero_point: torch.Tensor | int = 0,
    axis: int | None = None,
    block_size: int | None = None,
) -> OrtResult:
    """Quantize and dequantize float32 ``x`` with ONNX Runtime's CPU provider.

    ``scale`` and ``zero_point`` have ONNX's shapes: scalar per tensor, 1-D along
    ``axis`` per channel, or ``x``'s shape with ``axis`` divided by ``block_size``.
    FLOAT8E5M2 codes come from the exactly widened values, so a NaN code there is the
    one that torch's float8 cast produces, not necessarily ONNX Runtime's NaN pattern.
    """
    x_np = x.detach().cpu().float().numpy()
    scale_np = torch.as_tensor(scale, dtype=torch.float32).cpu().numpy()
    zero_np = torch.as_tensor(zero_point).cpu().numpy()
    if element_type in _FLOAT8_TYPES:
        zero_np = np.zeros(scale_np.shape, dtype=np.float32)
    model = build_qdq_model(
        tuple(x_np.shape), element_type, scale_np, zero_np, axis=axis, block_size=block_size
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    fetched = dict(
        zip(
            (output.name for output in session.get_outputs()),
            session.run(None, {"x": x_np}),
            strict=True,
        )
    )
    code_dtype = _CODE_DTYPES[element_type]
    if "codes" in fetched:
        raw = torch.from_numpy(np.ascontiguousarray(fetched["codes"]))
        # Float8 codes arrive as their uint8 bit patterns.
        codes = raw.view(code_dtype) if element_type in _FLOAT8_TYPES else raw
    else:
        codes = torch.from_numpy(fetched["codes_as_float"]).to(code_dtype)
    return OrtResult(codes=codes, dequantized=torch.from_numpy(fetched["dequantized"]))
