"""Export a model with a precision plan to ONNX in QDQ form, for ONNX Runtime.

:func:`export_onnx` applies the plan with the one engine (:func:`quantviz.apply.apply_plan`),
traces the float model (:mod:`quantviz.export.float_graph`), finds each quantized layer's
node (:mod:`quantviz.export.mapping`) and rewrites it with the engine's codes, scales and
zero points (:mod:`quantviz.export.qdq`). Beside ``model.onnx`` it writes
``model.plan.json`` (the plan with its scales) and ``model.scales.json`` (every scale, zero
point, initializer and node per layer). All files appear together or not at all.

Opset: 17 for INT8 plans (13 or newer when requested), 21 when a layer uses FP8 (which
needs 19) or per-group scales (``block_size``, which needs 21).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch

from quantviz import __version__
from quantviz.apply import apply_plan
from quantviz.errors import QuantvizError
from quantviz.export.float_graph import (
    INPUT_NAMES,
    MIN_OPSET,
    output_names,
    trace_float_graph,
)
from quantviz.export.mapping import LayerNode, map_layers
from quantviz.export.qdq import (
    ACTIVATION_STORAGES,
    GraphEditor,
    InputRewriter,
    LayerExport,
    LayerRecord,
    rewrite_layer,
)
from quantviz.plan import LayerConfig, PrecisionPlan
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.functional import quantize

logger = logging.getLogger(__name__)

SCALES_FORMAT = "quantviz-onnx-scales"
SCALES_VERSION = 1
DEFAULT_INT8_OPSET = 17
FP8_MIN_OPSET = 19
GROUP_MIN_OPSET = 21
# Weights above this many bytes go to an external data file: protobuf cannot serialize a
# message of 2 GiB or more, and the graph itself needs some room.
EXTERNAL_DATA_THRESHOLD = 2_000_000_000
# Metadata keys written into the ONNX model.
METADATA_PREFIX = "quantviz."
EXPORTABLE_KINDS = ("linear", "conv1d_gpt2", "lm_head", "embedding")


@dataclass
class ExportResult:
    """Summary of the files :func:`export_onnx` wrote and of the rewrite.

    ``layers`` has one record per exported quantized layer in model order. ``float_layers``
    are the layers the plan keeps in float, whose nodes are untouched. ``missing_layers``
    are quantized by the plan but not part of the exported graph, such as BERT's pooler
    when only hidden states are exported. ``folded_smoothing`` lists layers whose
    SmoothQuant factors were folded into the preceding norm, and ``divided_smoothing``
    lists layers whose input gets a ``Div`` by the factors instead.
    """

    path: str
    external_data: str | None
    size_bytes: int
    opset: int
    task: str
    inputs: list[str]
    outputs: list[str]
    activation_storage: str
    plan_path: str
    scales_path: str
    layers: list[LayerRecord] = field(default_factory=list)
    float_layers: list[str] = field(default_factory=list)
    missing_layers: list[str] = field(default_factory=list)
    folded_smoothing: list[str] = field(default_factory=list)
    divided_smoothing: list[str] = field(default_factory=list)
    mapping_methods: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "external_data": self.external_data,
            "size_bytes": self.size_bytes,
            "opset": self.opset,
            "task": self.task,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "activation_storage": self.activation_storage,
            "plan_path": self.plan_path,
            "scales_path": self.scales_path,
            "layers": [record.to_dict() for record in self.layers],
            "float_layers": list(self.float_layers),
            "missing_layers": list(self.missing_layers),
            "folded_smoothing": list(self.folded_smoothing),
            "divided_smoothing": list(self.divided_smoothing),
            "mapping_methods": dict(self.mapping_methods),
        }

    def scales_document(self) -> dict[str, Any]:
        """Build the content of the ``.scales.json`` file written beside the model."""
        return {
            "format": SCALES_FORMAT,
            "version": SCALES_VERSION,
            "model": Path(self.path).name,
            "opset": self.opset,
            "task": self.task,
            "activation_storage": self.activation_storage,
            "layers": {record.name: record.to_dict() for record in self.layers},
        }


def sidecar_paths(path: str | Path) -> tuple[Path, Path]:
    """Return the plan and scales files written beside the ONNX file at ``path``."""
    path = Path(path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    return path.with_name(f"{stem}.plan.json"), path.with_name(f"{stem}.scales.json")


def required_opset(configs: dict[str, LayerConfig]) -> tuple[int, str | None]:
    """Return the lowest opset the plan needs and the reason, naming the first layer."""
    needed, reason = MIN_OPSET, None
    for name, config in configs.items():
        for tensor in (config.weight, config.input):
            if tensor.granularity == "group" and tensor.quantized and needed < GROUP_MIN_OPSET:
                needed, reason = GROUP_MIN_OPSET, f"{name} uses per-group scales"
            if tensor.format.startswith("fp8") and needed < FP8_MIN_OPSET:
                needed, reason = FP8_MIN_OPSET, f"{name} uses {tensor.format}"
    return needed, reason


def choose_opset(configs: dict[str, LayerConfig], opset: int | None) -> int:
    needed, reason = required_opset(configs)
    if opset is None:
        return DEFAULT_INT8_OPSET if needed == MIN_OPSET else GROUP_MIN_OPSET
    if opset < needed:
        raise QuantvizError(
            f"opset {opset} is too old for this plan: layer {reason}, which needs opset "
            f"{needed} or newer; pass opset={max(needed, GROUP_MIN_OPSET)} or leave it unset"
        )
    return opset


def check_exportable(loaded: Any, configs: dict[str, LayerConfig]) -> None:
    """Raise QuantvizError naming the first layer whose settings cannot be exported."""
    for name, config in configs.items():
        if not config.quantized:
            continue
        info = loaded.layer(name)
        if info.kind not in EXPORTABLE_KINDS:
            raise QuantvizError(
                f"layer {name} is a {info.kind} layer, which the ONNX export does not "
                "support; set its weight and input formats to float in the plan"
            )
        if info.kind == "embedding" and config.input.quantized:
            raise QuantvizError(
                f"layer {name} is an embedding, whose input is token ids; set its input "
                "format to float in the plan"
            )
        integer_input = config.input.quantized and not config.input.format.startswith("fp8")
        if integer_input and config.input.granularity == "channel":
            # ONNX Runtime 1.32 fuses DequantizeLinear -> MatMul into MatMulIntegerToFloat,
            # whose CPU kernel fails at run time on a per-channel input zero point.
            raise QuantvizError(
                f"layer {name} quantizes its input to {config.input.format} per channel, "
                "which ONNX Runtime's CPU kernels reject at run time; use granularity "
                "tensor for integer inputs (or an FP8 format)"
            )
        if config.input.quantized and config.input.granularity == "group":
            raise QuantvizError(
                f"layer {name} quantizes its input per group; static per-group input scales "
                "depend on the batch shape and cannot be exported. Use granularity tensor "
                "or channel for the layer's input."
            )


def _default_calibration(loaded: Any) -> list[dict[str, torch.Tensor]] | None:
    """16 windows of 128 tokens of the bundled calibration text, or None without tokenizer."""
    if loaded.tokenizer is None:
        return None
    from quantviz.model.data import load_texts, make_batches

    return make_batches(
        loaded.tokenizer, load_texts(split="calibration"), seq_len=128, num_samples=16
    )


def _collect_layers(
    loaded: Any,
    plan: PrecisionPlan,
    batches: Sequence[dict[str, torch.Tensor]] | None,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> dict[str, LayerExport]:
    """Apply the plan and take each wrapped layer's weight codes and qparams from it.

    The qparams written are ``plan.scales`` after :func:`apply_plan` (the values its
    quantizers use), and the codes are :func:`quantize` of the layer's effective weight
    (the weight times its SmoothQuant factors) with those qparams. Smoothing factors are
    kept only for layers that quantize their input, because dividing a float input and
    multiplying the float weight changes nothing.
    """
    exports: dict[str, LayerExport] = {}
    with apply_plan(loaded, plan, batches, progress=progress, cancel=cancel) as applied:
        for step, (name, wrapper) in enumerate(applied.wrappers.items()):
            cancel.raise_if_cancelled()
            progress(ProgressEvent(step, len(applied.wrappers), name, "quantizing weights"))
            roles = plan.scales.get(name, {})
            layer = LayerExport(name)
            if wrapper.weight_quantizer is not None:
                qparams = roles["weight"]
                with torch.no_grad():
                    layer.weight_codes = quantize(wrapper.effective_weight(), qparams)
                layer.weight_qparams = qparams
            if wrapper.input_quantizer is not None:
                layer.input_qparams = roles["input"]
            if wrapper.smoothing is not None and wrapper.input_quantizer is not None:
                layer.smoothing = wrapper.smoothing.detach().clone()
                if wrapper.weight_quantizer is None:
                    # The graph's float weight must carry the factors the input loses.
                    with torch.no_grad():
                        layer.float_weight = wrapper.effective_weight().detach().clone()
            # Smoothing alone leaves the layer's function unchanged, so a layer whose
            # input stays float keeps its graph input as it is.
            exports[name] = layer
    return exports


def _fold_smoothing(loaded: Any, plan: PrecisionPlan) -> tuple[set[str], list[tuple[Any, Any]]]:
    """Fold SmoothQuant factors into the float model's norms where possible.

    Returns the layers whose factors were folded and the changed parameters with copies
    of their old values, which the caller puts back after tracing.
    """
    from quantviz.smoothquant import fold_smoothing_into_norms

    saved = [
        (parameter, parameter.detach().clone())
        for parameter in loaded.module.parameters()
        if parameter.is_floating_point()
    ]
    folded_plan = fold_smoothing_into_norms(loaded, plan)
    folded = set(plan.smoothing) - set(folded_plan.smoothing)
    return folded, saved


def _restore(saved: list[tuple[Any, Any]]) -> None:
    with torch.no_grad():
        for parameter, original in saved:
            parameter.copy_(original)


def _add_metadata(model: onnx.ModelProto, loaded: Any, plan: PrecisionPlan) -> None:
    plan_text = json.dumps(plan.to_dict(), sort_keys=True, allow_nan=False)
    values = {
        "version": __version__,
        "model_spec": loaded.source.spec,
        "model_sha256": loaded.source.sha256 or "",
        "task": loaded.task,
        "plan_sha256": hashlib.sha256(plan_text.encode()).hexdigest(),
    }
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"{METADATA_PREFIX}{key}", str(value)
    model.producer_name = "quantviz"
    model.producer_version = __version__


def initializer_bytes(model: onnx.ModelProto) -> int:
    """Bytes of weight data held in the model's initializers."""
    total = 0
    for tensor in model.graph.initializer:
        total += len(tensor.raw_data) if tensor.HasField("raw_data") else tensor.ByteSize()
    return total


def save_model_files(
    model: onnx.ModelProto,
    path: Path,
    sidecars: dict[Path, str],
    *,
    external_data_threshold: int,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Path | None:
    """Write the model (with external data above the threshold) and its sidecar files.

    Every file is written into a staging folder beside ``path`` and then renamed into
    place, the model last, so a reader never sees a model without its data. On any
    failure, cancellation included, the staging folder and the files already moved are
    removed. Returns the external data file, or None.
    """
    folder = path.parent
    if not folder.is_dir():
        raise QuantvizError(f"cannot write {path}: folder {folder} does not exist; create it first")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder))
    except OSError as error:
        raise QuantvizError(
            f"cannot write {path}: {error.strerror or error}; choose a writable folder"
        ) from None
    moved: list[Path] = []
    data_name = f"{path.name}.data"
    external = initializer_bytes(model) > external_data_threshold
    try:
        progress(ProgressEvent(0, 2, path.name, "writing"))
        staged_model = staging / path.name
        if external:
            onnx.save_model(
                model,
                str(staged_model),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data_name,
                size_threshold=1024,
            )
        else:
            onnx.save_model(model, str(staged_model))
        for target, text in sidecars.items():
            (staging / target.name).write_text(text, encoding="utf-8")
        for staged in staging.iterdir():
            with open(staged, "rb+") as stream:
                os.fsync(stream.fileno())
        progress(ProgressEvent(1, 2, path.name, "writing"))
        cancel.raise_if_cancelled()
        order = [name for name in (data_name,) if (staging / name).exists()]
        order += [target.name for target in sidecars]
        order.append(path.name)
        for name in order:
            os.replace(staging / name, folder / name)
            moved.append(folder / name)
    except OSError as error:
        _discard(moved)
        raise QuantvizError(
            f"writing {path} failed: {error.strerror or error}; nothing was written. Free "
            "disk space or choose another folder."
        ) from None
    except BaseException:
        _discard(moved)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(ProgressEvent(2, 2, path.name, "writing"))
    return folder / data_name if external else None


def _discard(paths: list[Path]) -> None:
    for item in paths:
        with contextlib.suppress(OSError):
            item.unlink()


def file_size(path: str | Path) -> int:
    """Bytes of an ONNX file plus the external data files it references."""
    path = Path(path)
    total = path.stat().st_size
    model = onnx.load(str(path), load_external_data=False)
    locations = set()
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                locations.add(entry.value)
    for location in locations:
        data = path.parent / location
        if data.is_file():
            total += data.stat().st_size
    return total


def export_onnx(
    loaded: Any,
    plan: PrecisionPlan,
    path: str | Path,
    *,
    opset: int | None = None,
    calib_batches: Sequence[dict[str, torch.Tensor]] | None = None,
    activation_storage: str = "uint8",
    fold_smoothing: bool = True,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ExportResult:
    """Export ``loaded`` with ``plan`` to ``path`` as an ONNX QDQ model.

    ``plan.scales`` is filled by :func:`apply_plan` when it lacks scales; calibration
    uses ``calib_batches`` (default: 16 windows of 128 tokens of the bundled calibration
    text). ``activation_storage`` is ``"uint8"`` (symmetric INT8 inputs stored as UINT8
    with zero point 128, which ONNX Runtime's x86 CPU kernels fuse) or ``"int8"``, and the
    dequantized values are identical either way. With ``fold_smoothing`` SmoothQuant
    factors are folded into the preceding norms (the model is restored afterwards), and
    the remaining ones become a ``Div`` before the input's ``QuantizeLinear``.
    ``external_data_threshold`` is the weight size in bytes above which weights go to
    ``<path>.data``.

    Raises QuantvizError naming the layer when a layer or format cannot be exported,
    and leaves no file behind on any error or cancellation.
    """
    path = Path(path)
    if activation_storage not in ACTIVATION_STORAGES:
        raise QuantvizError(
            f"activation_storage {activation_storage!r} is invalid; use one of "
            f"{', '.join(ACTIVATION_STORAGES)}"
        )
    if not path.parent.is_dir():
        raise QuantvizError(
            f"cannot write {path}: folder {path.parent} does not exist; create it first"
        )
    configs = {info.name: plan.resolve(info.name) for info in loaded.layers}
    check_exportable(loaded, configs)
    opset = choose_opset(configs, opset)
    if calib_batches is None:
        calib_batches = _default_calibration(loaded)

    # apply_plan fills plan.scales and SmoothQuant fills plan.smoothing; a failed or
    # cancelled export puts them back, so the caller's plan changes only with a file.
    plan_state = (
        copy.deepcopy(plan.scales),
        copy.deepcopy(plan.smoothing),
        copy.deepcopy(plan.smoothing_alpha),
    )
    try:
        exports = _collect_layers(loaded, plan, calib_batches, progress, cancel)
        cancel.raise_if_cancelled()
        smoothed = [name for name, layer in exports.items() if layer.smoothing is not None]
        folded: set[str] = set()
        saved: list[tuple[Any, Any]] = []
        try:
            if smoothed and fold_smoothing:
                folded, saved = _fold_smoothing(loaded, plan)
            progress(ProgressEvent(0, 1, loaded.source.spec, "tracing"))
            model = trace_float_graph(loaded, opset)
            cancel.raise_if_cancelled()
            progress(ProgressEvent(0, 1, loaded.source.spec, "mapping"))
            mapping, missing = map_layers(model, loaded, list(exports))
        finally:
            _restore(saved)
        for name in folded:
            if name in exports:
                # The traced graph already contains the folded norm and the scaled weight.
                exports[name].smoothing = None
                exports[name].float_weight = None

        records = _rewrite(model, mapping, exports, activation_storage, progress, cancel)
        _add_metadata(model, loaded, plan)
        plan_path, scales_path = sidecar_paths(path)
        result = ExportResult(
            path=str(path),
            external_data=None,
            size_bytes=0,
            opset=opset,
            task=loaded.task,
            inputs=list(INPUT_NAMES),
            outputs=list(output_names(loaded.task)),
            activation_storage=activation_storage,
            plan_path=str(plan_path),
            scales_path=str(scales_path),
            layers=records,
            float_layers=[name for name, config in configs.items() if not config.quantized],
            missing_layers=missing,
            folded_smoothing=sorted(folded),
            divided_smoothing=[name for name in smoothed if name not in folded and name in mapping],
            mapping_methods=_count_methods(mapping),
        )
        sidecars = {
            plan_path: json.dumps(plan.to_dict(), indent=1, allow_nan=False) + "\n",
            scales_path: json.dumps(result.scales_document(), indent=1, allow_nan=False) + "\n",
        }
        external = save_model_files(
            model,
            path,
            sidecars,
            external_data_threshold=external_data_threshold,
            progress=progress,
            cancel=cancel,
        )
        result.external_data = str(external) if external else None
        result.size_bytes = file_size(path)
        logger.info(
            "exported %d quantized layers of %s to %s (opset %d, %d bytes)",
            len(records),
            loaded.source.spec,
            path,
            opset,
            result.size_bytes,
        )
        return result
    except BaseException:
        plan.scales, plan.smoothing, plan.smoothing_alpha = plan_state
        raise


def _rewrite(
    model: onnx.ModelProto,
    mapping: dict[str, list[LayerNode]],
    exports: dict[str, LayerExport],
    activation_storage: str,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> list[LayerRecord]:
    editor = GraphEditor(model)
    inputs = InputRewriter(editor, activation_storage)
    records = []
    for step, (name, nodes) in enumerate(mapping.items()):
        cancel.raise_if_cancelled()
        progress(ProgressEvent(step, len(mapping), name, "rewriting"))
        records.append(rewrite_layer(editor, inputs, nodes, exports[name]))
    editor.finish()
    progress(ProgressEvent(len(mapping), len(mapping), "", "rewriting"))
    return records


def _count_methods(mapping: dict[str, list[LayerNode]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for nodes in mapping.values():
        for node in nodes:
            counts[node.method] = counts.get(node.method, 0) + 1
    return counts


def export_float_onnx(
    loaded: Any,
    path: str | Path,
    *,
    opset: int = DEFAULT_INT8_OPSET,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Path:
    """Export the float32 model unchanged (the baseline a QDQ model is measured against)."""
    path = Path(path)
    progress(ProgressEvent(0, 1, loaded.source.spec, "tracing"))
    model = trace_float_graph(loaded, opset)
    entry = model.metadata_props.add()
    entry.key, entry.value = f"{METADATA_PREFIX}model_spec", loaded.source.spec
    entry = model.metadata_props.add()
    entry.key, entry.value = f"{METADATA_PREFIX}task", loaded.task
    save_model_files(
        model,
        path,
        {},
        external_data_threshold=external_data_threshold,
        progress=progress,
        cancel=cancel,
    )
    return path
