"""Trace the float model into an ONNX graph with named, dynamic inputs and outputs.

The legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) is used because
it names every node after the module scope that produced it (for example
``/model/encoder/layer.0/attention/self/query/MatMul``), which lets
:mod:`quantviz.export.mapping` find each layer's node. It supports opsets up to 20 in
torch 2.13; a graph for opset 21 is traced at 20 and converted with
``onnx.version_converter``.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from onnx import version_converter
from torch import nn

from quantviz.analysis.evaluation import mean_pool
from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
# The highest opset that torch 2.13's TorchScript exporter writes.
MAX_TRACE_OPSET = 20
MIN_OPSET = 13
# Shape of the example batch that is traced. One row is padded, so that code paths that
# transformers skips for an all-ones mask are traced too.
_EXAMPLE_BATCH = 2
_EXAMPLE_TOKENS = 8
_EXAMPLE_PADDED = 3


class ExportWrapper(nn.Module):
    """Calls a transformers model with keyword arguments and returns plain tensors.

    transformers 5 changed the positional order of ``forward`` arguments, so the traced
    function takes ``input_ids`` and ``attention_mask`` and passes them by keyword. Causal
    LMs return ``logits``; encoders return ``last_hidden_state`` and the mean-pooled
    ``sentence_embedding`` (the pooling sentence-transformers uses for MiniLM).
    """

    def __init__(self, model: nn.Module, task: str) -> None:
        super().__init__()
        self.model = model
        self.task = task

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.task == "causal_lm":
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            return output.logits
        output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        hidden = output.last_hidden_state
        return hidden, mean_pool(hidden, attention_mask)


def output_names(task: str) -> tuple[str, ...]:
    """Graph output names for a task: ``logits``, or the hidden states and pooled embedding."""
    if task == "causal_lm":
        return ("logits",)
    return ("last_hidden_state", "sentence_embedding")


def _example_inputs(loaded: Any) -> tuple[torch.Tensor, torch.Tensor]:
    vocab_size = int(getattr(loaded.config, "vocab_size", 0) or 0)
    if vocab_size < 2:
        raise QuantvizError(
            f"the model config has no usable vocab_size ({vocab_size}); export needs a "
            "token model with a vocabulary"
        )
    count = _EXAMPLE_BATCH * _EXAMPLE_TOKENS
    input_ids = ((torch.arange(count) * 37 + 5) % vocab_size).reshape(
        _EXAMPLE_BATCH, _EXAMPLE_TOKENS
    )
    attention_mask = torch.ones_like(input_ids)
    attention_mask[-1, _EXAMPLE_TOKENS - _EXAMPLE_PADDED :] = 0
    return input_ids, attention_mask


def _dynamic_axes(task: str) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    for name in output_names(task):
        axes[name] = {0: "batch"} if name == "sentence_embedding" else {0: "batch", 1: "sequence"}
    return axes


def check_float32(loaded: Any) -> None:
    """Raise QuantvizError unless every floating parameter of the model is float32."""
    for name, parameter in loaded.module.named_parameters():
        if parameter.is_floating_point() and parameter.dtype != torch.float32:
            raise QuantvizError(
                f"parameter {name} has dtype {parameter.dtype}; ONNX export needs a float32 "
                "model, so load it with load_model(..., dtype=torch.float32)"
            )


def convert_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """Convert ``model`` to ``opset`` with ``onnx.version_converter``, weights untouched.

    The converter serializes the model, which fails above protobuf's 2 GB limit, so the
    initializers' data is swapped for external-data placeholders during the conversion
    and put back afterwards; the converter reads only their types and shapes. ``model``
    keeps the placeholders, so only the returned model is usable.
    """
    saved: dict[str, onnx.TensorProto] = {}
    for tensor in model.graph.initializer:
        original = onnx.TensorProto()
        original.CopyFrom(tensor)
        saved[tensor.name] = original
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "placeholder.bin"
    converted = version_converter.convert_version(model, opset)
    for tensor in converted.graph.initializer:
        tensor.CopyFrom(saved[tensor.name])
    return converted


def trace_float_graph(loaded: Any, opset: int) -> onnx.ModelProto:
    """Export the model's float graph at ``opset`` and return it with its weights in memory.

    ``loaded.module`` must be the unwrapped float model (no applied plan). Tracing happens
    in a temporary folder, because models over 2 GB need external data files.
    """
    if not MIN_OPSET <= opset <= 21:
        raise QuantvizError(f"opset {opset} is not supported; use an opset from 13 to 21")
    check_float32(loaded)
    trace_opset = min(opset, MAX_TRACE_OPSET)
    wrapper = ExportWrapper(loaded.module, loaded.task).eval()
    # NOTE: torch's exporter switches to external data files above 2 GB; the largest model
    # traced in the tests is SmolLM2-135M (about 0.6 GB), so that path is untested.
    with tempfile.TemporaryDirectory(prefix="quantviz-trace-") as folder:
        path = Path(folder) / "float.onnx"
        with warnings.catch_warnings():
            # The legacy exporter announces its deprecation, and tracing transformers code
            # warns about Python branches on tensor values. The traced batch contains a
            # padded row, so both mask branches that matter are recorded.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*aten::index.*", category=UserWarning)
            with torch.inference_mode(False), torch.no_grad():
                torch.onnx.export(
                    wrapper,
                    _example_inputs(loaded),
                    str(path),
                    input_names=list(INPUT_NAMES),
                    output_names=list(output_names(loaded.task)),
                    dynamic_axes=_dynamic_axes(loaded.task),
                    opset_version=trace_opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        model = onnx.load(str(path), load_external_data=True)
    if opset > trace_opset:
        model = convert_opset(model, opset)
    logger.info(
        "traced the float graph of %s at opset %d: %d nodes, %d initializers",
        loaded.source.spec,
        opset,
        len(model.graph.node),
        len(model.graph.initializer),
    )
    return model
