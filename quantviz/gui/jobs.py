"""The engine calls the app runs in workers, each taking ``progress`` and ``cancel``.

These functions only call engine functions in sequence. They import the engine, and so
torch, inside the worker thread when first run, which keeps the window's start fast.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantviz.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

if TYPE_CHECKING:
    from quantviz.analysis.heatmap import Heatmap
    from quantviz.analysis.pipeline import AnalysisSettings, ModelAnalysis
    from quantviz.model.loading import LoadedModel

logger = logging.getLogger(__name__)

# The two weight candidates the layer view compares: FP8 E4M3 per tensor, INT8 per channel.
HEATMAP_CANDIDATES = ("fp8_e4m3_tensor", "int8_sym_channel")
FULL_HEATMAP_SIZE = 256


def load_model_job(
    spec: str, *, progress: ProgressCallback = no_progress, cancel: CancelToken = NEVER_CANCELLED
) -> LoadedModel:
    from quantviz.model.loading import load_model

    loaded = load_model(spec, progress=progress, cancel=cancel)
    # The views import these engine modules when the model arrives (the plan, its size
    # and estimated cost). Importing them here keeps that import off the GUI thread.
    importlib.import_module("quantviz.plan")
    importlib.import_module("quantviz.evaluate")
    return loaded


def analysis_cache_path(cache_dir: str | Path, loaded: LoadedModel, settings: Any) -> Path | None:
    """Return the cache file of the analysis of ``loaded`` with ``settings``, or None.

    The key covers the weights' SHA-256, the settings and the analysis format version,
    plus the size and modification time of a calibration file, so any change
    re-runs the analysis. Models without a hash (random models) are not cached.
    """
    from quantviz.analysis.pipeline import ANALYSIS_VERSION

    sha256 = loaded.source.sha256
    if not sha256:
        return None
    key: dict[str, Any] = {
        "sha256": sha256,
        "settings": settings.to_dict(),
        "version": ANALYSIS_VERSION,
        "layers": [info.name for info in loaded.layers],
    }
    calib = settings.calib
    if calib and Path(calib).exists():
        stat = Path(calib).stat()
        key["calib_file"] = [stat.st_size, stat.st_mtime_ns]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"analysis-{digest}.json"


def analyze_job(
    loaded: LoadedModel,
    settings: AnalysisSettings,
    cache_path: str | None,
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> tuple[ModelAnalysis, str | None]:
    """Read the cached analysis when present, else analyse and write the cache.

    Returns the analysis and the cache file it is stored in (None when not cached).
    A cache file that cannot be read is logged and replaced.
    """
    from quantviz.analysis.pipeline import ModelAnalysis, analyze_model
    from quantviz.errors import QuantvizError

    if cache_path and Path(cache_path).is_file():
        try:
            analysis = ModelAnalysis.load(cache_path)
        except QuantvizError as error:
            logger.warning("ignoring analysis cache %s: %s", cache_path, error)
        else:
            logger.info("analysis read from cache %s", cache_path)
            return analysis, cache_path
    analysis = analyze_model(loaded, settings, progress=progress, cancel=cancel)
    if cache_path:
        try:
            Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
            analysis.save(cache_path)
        except (QuantvizError, OSError) as error:
            logger.warning("could not cache the analysis in %s: %s", cache_path, error)
            cache_path = None
    return analysis, cache_path


def read_analysis_job(
    path: str, *, progress: ProgressCallback = no_progress, cancel: CancelToken = NEVER_CANCELLED
) -> ModelAnalysis:
    from quantviz.analysis.pipeline import ModelAnalysis

    cancel.raise_if_cancelled()
    return ModelAnalysis.load(path)


@dataclass
class TrainedView:
    """A tensor's histogram under learned (QAT) scales, drawn like a FormatResult."""

    histogram: Any
    grid: list[float] | None
    clip_range: tuple[float, float]


def trained_scale_views(
    loaded: LoadedModel,
    name: str,
    scales: dict[str, Any],
    edges: list[float],
    input_edges: list[float] | None = None,
) -> dict[str, TrainedView]:
    """Views of layer ``name`` under the learned ``scales`` ({"weight"/"input": QParams}).

    The weight view histograms the layer's current (fine-tuned) weight, fake-quantized
    with the learned weight scale, on the bins ``edges`` of the analysis histogram. The
    input view has the learned grid and clip range only: the activations are not kept,
    so its histogram is empty.
    """
    from quantviz.analysis.histograms import Histogram, grid_and_clip, histogram
    from quantviz.model.layers import get_module
    from quantviz.quant import fake_quantize
    from quantviz.quant.modules import unwrap

    views: dict[str, TrainedView] = {}
    weight_qparams = scales.get("weight")
    if weight_qparams is not None:
        weight = unwrap(get_module(loaded.module, name)).weight.detach()
        limit = float(edges[-1])
        quantized = fake_quantize(weight, weight_qparams)
        grid, clip = grid_and_clip(weight_qparams)
        views["weight"] = TrainedView(histogram(quantized, limit, len(edges) - 1), grid, clip)
    input_qparams = scales.get("input")
    if input_qparams is not None and input_edges:
        grid, clip = grid_and_clip(input_qparams)
        empty = Histogram(list(input_edges), [0.0] * (len(input_edges) - 1))
        views["input"] = TrainedView(empty, grid, clip)
    return views


def layer_extras(
    loaded: LoadedModel,
    name: str,
    scales: dict[str, Any] | None,
    edges: list[float] | None,
    input_edges: list[float] | None,
    *,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, Any]:
    """Full-size error heatmaps of one layer, and its views under learned scales.

    ``"heatmap_arrays"`` contains the heatmaps' values as float arrays, converted here
    so that the GUI thread does not convert nested lists of up to 256 x 256 values.
    """
    import numpy as np

    heatmaps = weight_error_heatmaps(loaded, name, cancel=cancel)
    extras: dict[str, Any] = {
        "heatmaps": heatmaps,
        "heatmap_arrays": {
            key: np.asarray(heatmap.values, dtype=float) for key, heatmap in heatmaps.items()
        },
    }
    if scales and edges:
        cancel.raise_if_cancelled()
        extras["trained"] = trained_scale_views(loaded, name, scales, edges, input_edges)
    return extras


def weight_error_heatmaps(
    loaded: LoadedModel,
    name: str,
    candidates: tuple[str, ...] = HEATMAP_CANDIDATES,
    max_size: int = FULL_HEATMAP_SIZE,
    *,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, Heatmap]:
    """|W - Q(W)| of layer ``name`` for each candidate, pooled to ``max_size`` cells.

    Scales are min-max, as in the bulk analysis; the layer's current weight is read,
    so after QAT the maps show the trained weight.
    """
    from quantviz.analysis.candidates import CANDIDATES
    from quantviz.analysis.heatmap import error_heatmap
    from quantviz.model.layers import get_module
    from quantviz.quant import fake_quantize, qparams_for_tensor
    from quantviz.quant.modules import unwrap

    info = loaded.layer(name)
    weight = unwrap(get_module(loaded.module, name)).weight.detach()
    heatmaps = {}
    for key in candidates:
        cancel.raise_if_cancelled()
        qparams = qparams_for_tensor(weight, CANDIDATES[key].spec(info.out_axis))
        quantized = fake_quantize(weight, qparams)
        heatmaps[key] = error_heatmap(weight, quantized, info.out_axis, max_size)
    return heatmaps


def calibration_batches(loaded: LoadedModel, settings: AnalysisSettings) -> list[Any]:
    """Build the analysis' calibration batches: its text, sample count and sequence length."""
    from quantviz.model.data import load_texts, make_batches

    return make_batches(
        loaded.tokenizer,
        load_texts(settings.calib, split="calibration"),
        seq_len=settings.seq_len,
        num_samples=settings.samples,
        batch_size=settings.batch_size,
    )


def evaluate_job(
    loaded: LoadedModel,
    plan: Any,
    settings: AnalysisSettings,
    options: dict[str, int],
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Any:
    """Evaluate ``plan`` with input scales calibrated as the analysis calibrated them."""
    from quantviz.evaluate import evaluate_plan

    batches = calibration_batches(loaded, settings)
    return evaluate_plan(
        loaded, plan, calib_batches=batches, progress=progress, cancel=cancel, **options
    )


def auto_plan_job(
    loaded: LoadedModel,
    analysis: ModelAnalysis,
    settings: AnalysisSettings,
    options: dict[str, Any],
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Any:
    """Run the automatic plan search with the analysis' calibration batches."""
    from quantviz.autoplan import auto_plan

    batches = calibration_batches(loaded, settings)
    return auto_plan(
        loaded, analysis, calib_batches=batches, progress=progress, cancel=cancel, **options
    )


def qat_job(
    loaded: LoadedModel,
    plan: Any,
    config: Any,
    out_dir: str | None,
    pause: Any,
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Any:
    """Run :func:`quantviz.qat.run_qat`; its module is imported here, in the worker."""
    from quantviz.qat import run_qat

    return run_qat(
        loaded, plan, config, out_dir=out_dir, pause=pause, progress=progress, cancel=cancel
    )


@dataclass
class ExportReport:
    """The results of one export: the export, and the parity check and benchmark if requested.

    ``notes`` lists requested steps that are not available in this installation.
    ``report_path`` is the JSON copy of this report written beside the ONNX file.
    """

    export: Any
    parity: Any = None
    bench: Any = None
    notes: list[str] | None = None
    report_path: str | None = None
    float_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "quantviz-export-report",
            "export": self.export.to_dict(),
            "parity": self.parity.to_dict() if self.parity is not None else None,
            "bench": _as_dict(self.bench),
            "notes": list(self.notes or []),
            "float_path": self.float_path,
        }


def _as_dict(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def report_path_for(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.report.json``, beside the model's other sidecar files."""
    path = Path(onnx_path)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    return path.with_name(f"{stem}.report.json")


def held_out_batches(loaded: LoadedModel, settings: AnalysisSettings, samples: int) -> list[Any]:
    """``samples`` windows of the bundled evaluation text (never the calibration text)."""
    from quantviz.model.data import load_texts, make_batches

    return make_batches(
        loaded.tokenizer,
        load_texts(split="evaluation"),
        seq_len=settings.seq_len,
        num_samples=samples,
        batch_size=samples,
    )


def export_job(
    loaded: LoadedModel,
    plan: Any,
    path: str,
    settings: AnalysisSettings,
    options: dict[str, Any],
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ExportReport:
    """Export ``plan`` to ONNX at ``path``; check parity and benchmark when ``options`` ask.

    ``options``: ``opset`` (None chooses the lowest that fits the formats), ``check``
    and ``bench`` (bools), ``check_samples`` (held-out sequences for the parity check).
    Input scales are calibrated on the analysis' calibration batches. The report is
    written as JSON beside the model.
    """
    from quantviz.export.onnx_export import export_onnx
    from quantviz.io import atomic_write_json

    calibration = calibration_batches(loaded, settings)
    exported = export_onnx(
        loaded,
        plan,
        path,
        opset=options.get("opset"),
        calib_batches=calibration,
        progress=progress,
        cancel=cancel,
    )
    report = ExportReport(exported, notes=[])
    if options.get("check"):
        from quantviz.export.check import check_parity

        batches = held_out_batches(loaded, settings, int(options.get("check_samples", 2)))
        report.parity = check_parity(loaded, plan, path, batches, progress=progress, cancel=cancel)
    if options.get("bench"):
        report.bench = _run_bench(loaded, plan, path, settings, options, report, progress, cancel)
    target = report_path_for(path)
    atomic_write_json(target, report.to_dict())
    report.report_path = str(target)
    return report


def _run_bench(
    loaded: LoadedModel,
    plan: Any,
    path: str,
    settings: AnalysisSettings,
    options: dict[str, Any],
    report: ExportReport,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> Any:
    """Export the float32 model beside ``path`` and benchmark both on held-out text.

    The float32 model is the baseline for size, latency and accuracy. After QAT it has
    the fine-tuned weights, so the accuracy columns then compare with those.
    """
    from quantviz.export.bench import bench_onnx
    from quantviz.export.onnx_export import export_float_onnx
    from quantviz.model.data import load_texts

    target = Path(path)
    stem = target.name[: -len(".onnx")] if target.name.endswith(".onnx") else target.name
    float_path = target.with_name(f"{stem}.float32.onnx")
    export_float_onnx(loaded, float_path, progress=progress, cancel=cancel)
    report.float_path = str(float_path)
    return bench_onnx(
        target,
        float_path,
        load_texts(split="evaluation"),
        tokenizer=loaded.tokenizer,
        task=loaded.task,
        items=int(options.get("bench_items", 64)),
        repeats=int(options.get("bench_repeats", 3)),
        dynamic_baselines=bool(options.get("bench_baselines", False)),
        progress=progress,
        cancel=cancel,
    )
