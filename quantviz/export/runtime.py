"""ONNX Runtime sessions and inputs shared by the parity check and the benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from google.protobuf.message import DecodeError

from quantviz.errors import QuantvizError
from quantviz.export.onnx_export import METADATA_PREFIX

PROVIDER = "CPUExecutionProvider"


def create_session(
    path: str | Path | bytes,
    *,
    threads: int | None = None,
    optimization: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    config: dict[str, str] | None = None,
) -> ort.InferenceSession:
    """Create a CPU session.

    ``threads`` sets ``intra_op_num_threads`` (None keeps ONNX Runtime's default), and
    ``config`` adds session configuration entries (``add_session_config_entry``).
    """
    options = ort.SessionOptions()
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    options.graph_optimization_level = optimization
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = path if isinstance(path, bytes) else str(path)
    try:
        return ort.InferenceSession(source, options, providers=[PROVIDER])
    except (ort.capi.onnxruntime_pybind11_state.Fail, RuntimeError) as error:
        where = "the model" if isinstance(path, bytes) else str(path)
        raise QuantvizError(f"ONNX Runtime cannot load {where}: {error}") from None


def feeds(session: ort.InferenceSession, batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """Take the session's inputs from a batch of torch tensors or numpy arrays, as int64."""
    result = {}
    for item in session.get_inputs():
        if item.name not in batch:
            raise QuantvizError(
                f"the ONNX model needs input {item.name!r}, which the batch does not have"
            )
        value = batch[item.name]
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        result[item.name] = np.asarray(value, dtype=np.int64)
    return result


def read_metadata(path: str | Path) -> dict[str, str]:
    """Read the ``quantviz.*`` metadata of an ONNX file, keyed without the prefix."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise QuantvizError(f"ONNX file {path} not found") from None
    except (DecodeError, OSError, ValueError) as error:
        raise QuantvizError(f"{path} is not a readable ONNX file: {error}") from None
    return {
        entry.key[len(METADATA_PREFIX) :]: entry.value
        for entry in model.metadata_props
        if entry.key.startswith(METADATA_PREFIX)
    }
