"""ONNX QDQ export of a quantized model, its parity check in ONNX Runtime, and benchmarks.

- :func:`export_onnx` writes the model with ``QuantizeLinear``/``DequantizeLinear`` nodes
  that carry the engine's codes, scales and zero points (:mod:`.onnx_export`);
- :func:`check_parity` compares it in ONNX Runtime with the fake-quantized PyTorch model,
  layer by layer (:mod:`.check`);
- :func:`bench_onnx` measures size, latency and accuracy against the float32 export and
  ONNX Runtime's ``quantize_dynamic`` (:mod:`.bench`).
"""

from quantviz.export.bench import BenchResult, ModelBench, bench_onnx, split_sentences
from quantviz.export.check import OutputParity, ParityReport, TensorParity, check_parity
from quantviz.export.onnx_export import (
    ExportResult,
    export_float_onnx,
    export_onnx,
    sidecar_paths,
)

__all__ = [
    "BenchResult",
    "ExportResult",
    "ModelBench",
    "OutputParity",
    "ParityReport",
    "TensorParity",
    "bench_onnx",
    "check_parity",
    "export_float_onnx",
    "export_onnx",
    "sidecar_paths",
    "split_sentences",
]
