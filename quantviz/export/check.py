"""Check that an exported QDQ model computes what the engine's fake-quantized model computes.

:func:`check_parity` runs ``onnx.checker``, loads the model in ONNX Runtime (CPU) and runs
real batches through it and through the PyTorch model with the same plan applied
(:func:`quantviz.apply.apply_plan`). It compares:

- every quantized weight: ONNX Runtime's ``DequantizeLinear`` of the stored codes against
  the wrapper's fake-quantized weight, which must be identical;
- every quantized layer input, in model order, teacher-forced: PyTorch records its own
  quantized input and then continues with ONNX Runtime's ``DequantizeLinear`` output
  (added as an extra graph output), so each layer is compared on identical inputs. Held
  as SQNR and as the fraction of codes that differ ("flipped");
- every graph output, teacher-forced and free-running (the deployed graph with all of
  ONNX Runtime's optimizations and fused integer kernels).

Tolerances and why. ONNX Runtime and PyTorch accumulate MatMul sums in different orders
(the fused integer kernels accumulate exactly in int32 and scale once), so a layer's float
output differs in the last bits; when such a difference straddles a rounding boundary
before the next ``QuantizeLinear``, one code moves by one step. Teacher forcing stops
these flips from cascading, so each layer may flip at most ``MAX_FLIPPED_FRACTION`` of its
codes and must keep ``DIVERGENCE_SQNR_DB``, and the forced outputs, where only float
rounding after the last quantized layer remains, must agree to ``MAX_FORCED_OUTPUT_ERROR``
relative RMS. Those conditions decide ``passed``. Free-running outputs are reported
against ``MAX_OUTPUT_ERROR`` but do not decide ``passed``: one flipped code moves the next
layer's input by a full quantization step, and with coarse per-tensor scales that
cascades. On MiniLM with static per-tensor INT8 inputs, PyTorch's own SDPA and eager
attention (which differ only in float rounding) give outputs 5% apart under one plan.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from quantviz.analysis.metrics import json_float, sqnr_db
from quantviz.apply import apply_plan
from quantviz.errors import QuantvizError
from quantviz.export.float_graph import ExportWrapper
from quantviz.export.onnx_export import SCALES_FORMAT, sidecar_paths
from quantviz.export.runtime import PROVIDER, create_session, feeds
from quantviz.plan import PrecisionPlan
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.qparams import all_finite

logger = logging.getLogger(__name__)

# At most this share of a layer's input codes may differ between ONNX Runtime and PyTorch.
MAX_FLIPPED_FRACTION = 1e-3
# Graph outputs may differ from PyTorch's by at most this RMS, relative to their RMS.
MAX_OUTPUT_ERROR = 2e-2
# With every quantized input forced to ONNX Runtime's, only float rounding after the last
# quantized layer remains, so the outputs must agree far more closely.
MAX_FORCED_OUTPUT_ERROR = 1e-4
# A layer input whose SQNR (PyTorch as reference) falls below this has diverged: one
# flipped code in 10**4 gives about 70 dB for INT8, so 40 dB means far more than flips.
DIVERGENCE_SQNR_DB = 40.0
# ONNX Runtime (1.32) rewrites a weight-only DequantizeLinear -> MatMul into MatMulNBits,
# which by default (accuracy level 4) quantizes the float activations to int8 on the fly;
# level 1 computes in float32, as the graph specifies. The teacher-forced session uses it.
FAITHFUL_SESSION_CONFIG = {"session.qdq_matmulnbits_accuracy_level": "1"}
# Weight DequantizeLinear outputs are computed in chunks of at most this many elements.
_WEIGHT_CHUNK_ELEMENTS = 50_000_000


@dataclass
class _Accumulator:
    """Sums over batches for one compared tensor, PyTorch's values as the reference.

    ``noise`` and ``signal`` are summed squares (for :func:`sqnr_db`); ``flipped`` counts
    elements that differ at all, which for values on a quantization grid are flipped codes.
    Non-finite reference elements are left out.
    """

    signal: float = 0.0
    noise: float = 0.0
    max_abs: float = 0.0
    flipped: int = 0
    numel: int = 0

    def add(self, reference: torch.Tensor, other: torch.Tensor) -> None:
        reference = reference.detach().float().reshape(-1)
        other = other.detach().float().reshape(-1)
        if reference.numel() != other.numel():
            raise QuantvizError(
                f"PyTorch gives {reference.numel()} values but ONNX Runtime "
                f"{other.numel()}; the exported graph does not match the model"
            )
        self.numel += reference.numel()
        if not all_finite(reference):
            finite = torch.isfinite(reference)
            reference, other = reference[finite], other[finite]
        if reference.numel() == 0:
            return
        difference = other - reference
        self.signal += float(torch.dot(reference, reference))
        self.noise += float(torch.dot(difference, difference))
        self.max_abs = max(self.max_abs, float(difference.abs().max()))
        self.flipped += int(torch.count_nonzero(difference))

    @property
    def sqnr(self) -> float:
        return sqnr_db(self.signal, self.noise)

    @property
    def relative_rms(self) -> float:
        return math.sqrt(self.noise / self.signal) if self.signal > 0 else 0.0

    @property
    def flipped_fraction(self) -> float:
        return self.flipped / self.numel if self.numel else 0.0


@dataclass
class TensorParity:
    """PyTorch against ONNX Runtime for one quantized tensor (a layer's weight or input)."""

    layer: str
    role: str
    tensor: str
    sqnr_db: float
    flipped_fraction: float
    flipped: int
    numel: int
    max_abs_diff: float
    shared_from: str | None
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "role": self.role,
            "tensor": self.tensor,
            "sqnr_db": json_float(self.sqnr_db),
            "flipped_fraction": self.flipped_fraction,
            "flipped": self.flipped,
            "numel": self.numel,
            "max_abs_diff": self.max_abs_diff,
            "shared_from": self.shared_from,
            "passed": self.passed,
        }


@dataclass
class OutputParity:
    """PyTorch against ONNX Runtime for one graph output."""

    name: str
    sqnr_db: float
    relative_rms_error: float
    max_abs_diff: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sqnr_db": json_float(self.sqnr_db),
            "relative_rms_error": self.relative_rms_error,
            "max_abs_diff": self.max_abs_diff,
            "passed": self.passed,
        }


@dataclass
class ParityReport:
    """Result of :func:`check_parity`.

    ``outputs`` are free-running, ``forced_outputs`` teacher-forced. ``tensors`` are in
    model order, weight before input per layer; ``first_divergent`` names the first layer
    whose weight or input failed.
    """

    onnx_path: str
    checker_passed: bool
    checker_message: str
    provider: str
    batches: int
    max_flipped_fraction: float
    max_output_error: float
    divergence_sqnr_db: float
    max_forced_output_error: float
    outputs: list[OutputParity] = field(default_factory=list)
    forced_outputs: list[OutputParity] = field(default_factory=list)
    tensors: list[TensorParity] = field(default_factory=list)
    first_divergent: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """onnx.checker passed, every weight is identical, every layer input is within the
        flip and SQNR limits, and the teacher-forced outputs agree."""
        return (
            self.checker_passed
            and bool(self.forced_outputs)
            and all(output.passed for output in self.forced_outputs)
            and all(tensor.passed for tensor in self.tensors)
        )

    @property
    def free_running_passed(self) -> bool:
        return all(output.passed for output in self.outputs)

    @property
    def flipped_fraction(self) -> float:
        """Flipped codes over all compared layer inputs."""
        inputs = [t for t in self.tensors if t.role == "input" and t.shared_from is None]
        total = sum(t.numel for t in inputs)
        return sum(t.flipped for t in inputs) / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "onnx_path": self.onnx_path,
            "passed": self.passed,
            "free_running_passed": self.free_running_passed,
            "checker_passed": self.checker_passed,
            "checker_message": self.checker_message,
            "provider": self.provider,
            "batches": self.batches,
            "max_flipped_fraction": self.max_flipped_fraction,
            "max_output_error": self.max_output_error,
            "divergence_sqnr_db": self.divergence_sqnr_db,
            "max_forced_output_error": self.max_forced_output_error,
            "flipped_fraction": self.flipped_fraction,
            "first_divergent": self.first_divergent,
            "notes": list(self.notes),
            "outputs": [output.to_dict() for output in self.outputs],
            "forced_outputs": [output.to_dict() for output in self.forced_outputs],
            "tensors": [tensor.to_dict() for tensor in self.tensors],
        }


def read_scales(onnx_path: str | Path) -> dict[str, Any]:
    """Read the ``.scales.json`` file that :func:`export_onnx` wrote beside the model."""
    scales_path = sidecar_paths(onnx_path)[1]
    try:
        data = json.loads(scales_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuantvizError(
            f"{scales_path} not found; the parity check needs the scales file that "
            "quantviz export writes beside the model"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise QuantvizError(f"cannot read {scales_path}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != SCALES_FORMAT:
        raise QuantvizError(f"{scales_path} is not a quantviz scales file")
    return data


def _run_checker(path: Path) -> tuple[bool, str]:
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        return False, str(error).splitlines()[0]
    return True, ""


def _debug_model(path: Path, tensors: list[str], folder: Path) -> Path:
    """Save a copy of the model with ``tensors`` added as graph outputs."""
    model = onnx.load(str(path), load_external_data=True)
    existing = {output.name for output in model.graph.output}
    for name in tensors:
        if name not in existing:
            model.graph.output.append(helper.make_empty_tensor_value_info(name))
            existing.add(name)
    target = folder / "debug.onnx"
    onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="debug.onnx.data",
    )
    return target


def _ort_weights(path: Path, records: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    """Dequantize every stored weight in ONNX Runtime, in chunks; keyed by layer name.

    Each weight's codes, scale and zero point initializers go through a
    ``DequantizeLinear`` with the recorded ``axis`` and ``block_size``, which is the node
    the graph runs (embeddings look rows up first, which gives the same values).
    """
    model = onnx.load(str(path), load_external_data=True)
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    chunks: list[list[str]] = [[]]
    size = 0
    for layer, record in records.items():
        numel = int(np.prod(initializers[record["initializers"][0]].dims))
        if chunks[-1] and size + numel > _WEIGHT_CHUNK_ELEMENTS:
            chunks.append([])
            size = 0
        chunks[-1].append(layer)
        size += numel
    values: dict[str, np.ndarray] = {}
    for chunk in chunks:
        nodes = []
        needed = []
        for layer in chunk:
            record = records[layer]
            attributes = {}
            if record["axis"] is not None:
                attributes["axis"] = record["axis"]
            if record["block_size"] is not None:
                attributes["block_size"] = record["block_size"]
            nodes.append(
                helper.make_node("DequantizeLinear", record["initializers"], [layer], **attributes)
            )
            needed += [initializers[name] for name in record["initializers"]]
        graph = helper.make_graph(
            nodes,
            "weights",
            [],
            [helper.make_tensor_value_info(layer, TensorProto.FLOAT, None) for layer in chunk],
            needed,
        )
        weights_model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=model.ir_version
        )
        session = create_session(weights_model.SerializeToString())
        values.update(zip(chunk, session.run(chunk, {}), strict=True))
    return values


def check_parity(
    loaded: Any,
    plan: PrecisionPlan,
    onnx_path: str | Path,
    batches: Sequence[dict[str, torch.Tensor]],
    *,
    max_flipped_fraction: float = MAX_FLIPPED_FRACTION,
    max_output_error: float = MAX_OUTPUT_ERROR,
    session_config: dict[str, str] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ParityReport:
    """Compare the exported model in ONNX Runtime with the fake-quantized PyTorch model.

    ``plan`` must carry the scales the export used (the plan object passed to
    :func:`~quantviz.export.onnx_export.export_onnx`, or the ``.plan.json`` written beside
    the model). ``batches`` are real token batches, for example held-out text from
    :func:`quantviz.model.data.make_batches`. The model is restored afterwards.

    Each batch runs twice in PyTorch. The free-running pass is compared with the model as
    deployed (all ONNX Runtime optimizations, fused integer kernels). The teacher-forced
    pass replaces every quantized layer input by ONNX Runtime's ``DequantizeLinear``
    output after recording PyTorch's own, so each layer is compared on identical inputs:
    a flipped code upstream cannot cascade, and a layer whose codes differ points at an
    export error in that layer rather than at an earlier rounding difference.
    """
    path = Path(onnx_path)
    if not path.is_file():
        raise QuantvizError(f"ONNX file {path} not found")
    if not batches:
        raise QuantvizError("check_parity needs at least one batch of inputs")
    scales = read_scales(path)
    if scales.get("task") != loaded.task:
        raise QuantvizError(
            f"{path} was exported for a {scales.get('task')} model but {loaded.source.spec} "
            f"is a {loaded.task} model; check it against the model it was exported from"
        )
    layers: dict[str, dict[str, Any]] = scales["layers"]
    checker_passed, checker_message = _run_checker(path)
    report = ParityReport(
        onnx_path=str(path),
        checker_passed=checker_passed,
        checker_message=checker_message,
        provider=PROVIDER,
        batches=len(batches),
        max_flipped_fraction=max_flipped_fraction,
        max_output_error=max_output_error,
        divergence_sqnr_db=DIVERGENCE_SQNR_DB,
        max_forced_output_error=MAX_FORCED_OUTPUT_ERROR,
    )
    progress(ProgressEvent(0, len(batches) + 1, "weights", "parity"))
    weight_records = {name: data["weight"] for name, data in layers.items() if data["weight"]}
    input_records = {name: data["input"] for name, data in layers.items() if data["input"]}
    ort_weights = _ort_weights(path, weight_records)
    deploy = create_session(path, config=session_config)
    output_names = [output.name for output in deploy.get_outputs()]
    input_tensors = sorted({record["tensor"] for record in input_records.values()})

    output_sums = {name: _Accumulator() for name in output_names}
    forced_sums = {name: _Accumulator() for name in output_names}
    input_sums = {name: _Accumulator() for name in input_records}
    weight_sums = {name: _Accumulator() for name in weight_records}
    with tempfile.TemporaryDirectory(prefix="quantviz-parity-") as folder:
        debug = create_session(
            _debug_model(path, input_tensors, Path(folder)),
            config={**FAITHFUL_SESSION_CONFIG, **(session_config or {})},
        )
        with apply_plan(loaded, plan) as applied:
            missing = [name for name in layers if name not in applied.wrappers]
            if missing:
                raise QuantvizError(
                    f"the plan does not quantize layer {missing[0]}, which {path} quantizes; "
                    "pass the plan the model was exported with"
                )
            for name, record in weight_records.items():
                reference = applied.wrappers[name].quantized_weight().detach()
                value = torch.from_numpy(ort_weights[name])
                if record["transposed"]:
                    value = value.T
                weight_sums[name].add(reference, value)
            forcing = _Forcing()
            handles = [
                applied.wrappers[name].input_quantizer.register_forward_hook(
                    forcing.hook(name, record["tensor"])
                )
                for name, record in input_records.items()
            ]
            wrapper = ExportWrapper(loaded.module, loaded.task)
            try:
                for step, batch in enumerate(batches):
                    cancel.raise_if_cancelled()
                    progress(
                        ProgressEvent(step + 1, len(batches) + 1, f"batch {step + 1}", "parity")
                    )
                    names = output_names + input_tensors
                    values = debug.run(names, feeds(debug, batch))
                    forcing.start(dict(zip(names, values, strict=True)))
                    forced = _torch_outputs(wrapper, batch)
                    for name, reference in zip(output_names, forced, strict=True):
                        forced_sums[name].add(reference, torch.from_numpy(forcing.ort[name]))
                    for name in input_records:
                        input_sums[name].add(forcing.own[name], forcing.forced[name])
                    forcing.stop()
                    free = _torch_outputs(wrapper, batch)
                    ort_outputs = deploy.run(output_names, feeds(deploy, batch))
                    for name, reference, value in zip(output_names, free, ort_outputs, strict=True):
                        output_sums[name].add(reference, torch.from_numpy(value))
            finally:
                for handle in handles:
                    handle.remove()
    progress(ProgressEvent(len(batches) + 1, len(batches) + 1, "", "parity"))

    for name in output_names:
        report.outputs.append(_output_parity(name, output_sums[name], max_output_error))
        report.forced_outputs.append(
            _output_parity(name, forced_sums[name], MAX_FORCED_OUTPUT_ERROR)
        )
    for name in layers:
        if name in weight_sums:
            sums = weight_sums[name]
            report.tensors.append(
                _tensor_parity(name, "weight", weight_records[name], sums, exact=True)
            )
        if name in input_sums:
            sums = input_sums[name]
            parity = _tensor_parity(name, "input", input_records[name], sums, exact=False)
            parity.passed = parity.passed and sums.flipped_fraction <= max_flipped_fraction
            report.tensors.append(parity)
    report.first_divergent = next((t.layer for t in report.tensors if not t.passed), None)
    weight_only = [
        name
        for name, data in layers.items()
        if data["weight"] and not data["input"] and data["nodes"][0]["op_type"] != "Gather"
    ]
    if weight_only:
        report.notes.append(
            f"{len(weight_only)} weight-only layers (first: {weight_only[0]}) run in ONNX "
            "Runtime as MatMulNBits, which by default quantizes their float input to int8 "
            "on the fly (session.qdq_matmulnbits_accuracy_level=4); the teacher-forced "
            "comparison sets the level to 1 (float32), as the graph specifies"
        )
    logger.info(
        "parity of %s: %s, %.2e of input codes flipped, first divergent layer %s",
        path,
        "passed" if report.passed else "FAILED",
        report.flipped_fraction,
        report.first_divergent,
    )
    return report


def _torch_outputs(wrapper: ExportWrapper, batch: dict[str, torch.Tensor]) -> tuple:
    with torch.inference_mode():
        outputs = wrapper(**batch)
    return (outputs,) if isinstance(outputs, torch.Tensor) else tuple(outputs)


def _output_parity(name: str, sums: _Accumulator, limit: float) -> OutputParity:
    return OutputParity(
        name=name,
        sqnr_db=sums.sqnr,
        relative_rms_error=sums.relative_rms,
        max_abs_diff=sums.max_abs,
        passed=sums.relative_rms <= limit,
    )


class _Forcing:
    """Forward hooks on input quantizers that record PyTorch's quantized input and, while
    active, return ONNX Runtime's instead (teacher forcing)."""

    def __init__(self) -> None:
        self.ort: dict[str, np.ndarray] = {}
        self.own: dict[str, torch.Tensor] = {}
        self.forced: dict[str, torch.Tensor] = {}
        self.active = False

    def start(self, ort_values: dict[str, np.ndarray]) -> None:
        self.ort = ort_values
        self.own.clear()
        self.forced.clear()
        self.active = True

    def stop(self) -> None:
        self.active = False
        self.ort = {}

    def hook(self, layer: str, tensor: str) -> Any:
        def forward_hook(
            module: torch.nn.Module, args: tuple, output: torch.Tensor
        ) -> torch.Tensor | None:
            # A module called twice per forward is compared on its first call, the one
            # the exported graph's first node computes.
            if not self.active or layer in self.own:
                return None
            self.own[layer] = output.detach().float().cpu()
            value = torch.from_numpy(self.ort[tensor]).reshape(output.shape)
            self.forced[layer] = value
            return value.to(output.dtype)

        return forward_hook


def _tensor_parity(
    layer: str, role: str, record: dict[str, Any], sums: _Accumulator, *, exact: bool
) -> TensorParity:
    if exact:
        passed = sums.flipped == 0
    else:
        passed = sums.sqnr >= DIVERGENCE_SQNR_DB
    return TensorParity(
        layer=layer,
        role=role,
        tensor=record["tensor"],
        sqnr_db=sums.sqnr,
        flipped_fraction=sums.flipped_fraction,
        flipped=sums.flipped,
        numel=sums.numel,
        max_abs_diff=sums.max_abs,
        shared_from=record.get("shared_from"),
        passed=passed,
    )
