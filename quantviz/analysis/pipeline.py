"""The whole analysis of a model: weights, calibration, activations, sensitivity."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quantviz.analysis.activations import analyze_activation
from quantviz.analysis.candidates import ACTIVATION_CANDIDATES, WEIGHT_CANDIDATES
from quantviz.analysis.recommend import keep_float_threshold, recommend
from quantviz.analysis.results import Recommendation, Sensitivity, TensorAnalysis
from quantviz.analysis.sensitivity import measure_sensitivity
from quantviz.analysis.weights import analyze_weights, model_weights, safetensors_weights
from quantviz.errors import QuantvizError, QuantvizWarning
from quantviz.io import atomic_write_json, read_json
from quantviz.model.calibration import CalibrationResult, CalibrationSettings, calibrate
from quantviz.model.data import load_texts, make_batches
from quantviz.model.layers import LayerInfo
from quantviz.model.offload import require_resident
from quantviz.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

logger = logging.getLogger(__name__)

ANALYSIS_VERSION = 1
# Layer names listed in a warning before the rest are only counted.
MAX_LISTED_LAYERS = 10


@dataclass
class AnalysisSettings:
    """What to analyse and with how much data.

    ``samples`` sequences of ``seq_len`` tokens from ``calib`` (the bundled text when
    ``None``) calibrate activations; the first ``sensitivity_samples`` of them measure
    sensitivity (0 skips it).
    """

    calib: str | None = None
    samples: int = 16
    seq_len: int = 128
    batch_size: int = 8
    observer: str = "minmax"
    sensitivity_samples: int = 2
    heatmap_size: int = 32
    activations: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSettings:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)


@dataclass
class LayerReport:
    """Everything the analysis found about one layer."""

    info: LayerInfo
    weight: TensorAnalysis
    input: TensorAnalysis | None = None
    sensitivity: Sensitivity | None = None
    recommendation: Recommendation | None = None

    @property
    def name(self) -> str:
        return self.info.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info.to_dict(),
            "weight": self.weight.to_dict(),
            "input": self.input.to_dict() if self.input else None,
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity else None,
            "recommendation": self.recommendation.to_dict() if self.recommendation else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerReport:
        recommendation = data.get("recommendation")
        return cls(
            info=LayerInfo.from_dict(data["info"]),
            weight=TensorAnalysis.from_dict(data["weight"]),
            input=TensorAnalysis.from_dict(data["input"]) if data.get("input") else None,
            sensitivity=(
                Sensitivity.from_dict(data["sensitivity"]) if data.get("sensitivity") else None
            ),
            recommendation=Recommendation(**recommendation) if recommendation else None,
        )


@dataclass
class ModelAnalysis:
    """Per-layer analysis of one model, in model order, with the settings used."""

    source: dict[str, Any]
    task: str
    settings: AnalysisSettings
    layers: list[LayerReport]
    timings: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    version: int = ANALYSIS_VERSION

    def __iter__(self) -> Iterator[LayerReport]:
        return iter(self.layers)

    def layer(self, name: str) -> LayerReport:
        for report in self.layers:
            if report.name == name:
                return report
        raise QuantvizError(f"the analysis has no layer named {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "quantviz-analysis",
            "version": self.version,
            "source": self.source,
            "task": self.task,
            "settings": self.settings.to_dict(),
            "timings": self.timings,
            "calibration": self.calibration,
            "layers": [report.to_dict() for report in self.layers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelAnalysis:
        if data.get("format") != "quantviz-analysis":
            raise QuantvizError("not a quantviz analysis file (missing format: quantviz-analysis)")
        version = data.get("version")
        if not isinstance(version, int) or version > ANALYSIS_VERSION:
            raise QuantvizError(
                f"analysis file version {version!r} is newer than this quantviz supports "
                f"({ANALYSIS_VERSION}); upgrade quantviz or re-run the analysis"
            )
        try:
            return cls(
                source=data["source"],
                task=data["task"],
                settings=AnalysisSettings.from_dict(data.get("settings", {})),
                layers=[LayerReport.from_dict(item) for item in data["layers"]],
                timings=dict(data.get("timings", {})),
                calibration=dict(data.get("calibration", {})),
                version=version,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise QuantvizError(f"analysis file is incomplete or invalid: {error!r}") from None

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ModelAnalysis:
        return cls.from_dict(read_json(path, "analysis"))


def analyze_model(
    loaded: Any,
    settings: AnalysisSettings | None = None,
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ModelAnalysis:
    """Analyse every layer of ``loaded`` and recommend a format per layer.

    Stages, each reported through ``progress`` with its own ``stage`` name:
    ``weights``, ``calibration``, ``sensitivity``. ``cancel`` is checked between
    layers and batches. A layer whose weight or input contains NaN or inf is
    recommended to stay in float, and one QuantvizWarning names all such layers. NaN
    or inf in any recorded activation also skips sensitivity, whose losses would
    compare against float outputs computed from those activations. A model with
    offloaded weights (``load_model(..., device_map=...)``) raises QuantvizError unless
    ``sensitivity_samples`` is 0, because sensitivity replaces weights in place.
    """
    settings = settings or AnalysisSettings()
    if settings.activations and settings.sensitivity_samples > 0:
        # Checked before the weight pass, which takes long on an offloaded model.
        require_resident(
            loaded,
            "Sensitivity measurement",
            "Pass sensitivity_samples=0 (CLI: --sensitivity-samples 0) to analyse the "
            "weights and activations of an offloaded model without it.",
        )
    timings: dict[str, float] = {}

    started = time.perf_counter()
    weights = analyze_weights(
        model_weights(loaded),
        len(loaded.layers),
        WEIGHT_CANDIDATES,
        heatmap_size=settings.heatmap_size,
        progress=progress,
        cancel=cancel,
    )
    timings["weights_s"] = time.perf_counter() - started

    calibration: CalibrationResult | None = None
    inputs: dict[str, TensorAnalysis] = {}
    sensitivities: dict[str, Sensitivity] = {}
    calibration_info: dict[str, Any] = {}
    if settings.activations:
        batches = make_batches(
            loaded.tokenizer,
            load_texts(settings.calib, split="calibration"),
            seq_len=settings.seq_len,
            num_samples=settings.samples,
            batch_size=settings.batch_size,
        )
        started = time.perf_counter()
        calibration = calibrate(
            loaded,
            batches,
            CalibrationSettings(observer=settings.observer),
            progress=progress,
            cancel=cancel,
        )
        timings["calibration_s"] = time.perf_counter() - started
        calibration_info = {
            "batches": calibration.batches,
            "tokens": calibration.tokens,
            "state_bytes": calibration.state_bytes(),
        }
        for name, record in calibration.layers.items():
            cancel.raise_if_cancelled()
            inputs[name] = analyze_activation(
                name, record.input, ACTIVATION_CANDIDATES, tokenizer=loaded.tokenizer
            )
        nonfinite_layers = _nonfinite_activations(calibration)
        if settings.sensitivity_samples > 0 and nonfinite_layers:
            # The float outputs that sensitivity compares against are computed from
            # these activations, so the losses would be NaN.
            warnings.warn(
                QuantvizWarning(
                    f"sensitivity not measured: the activations of {len(nonfinite_layers)} "
                    f"layers contain NaN or inf (first: {nonfinite_layers[0]}), so every "
                    "sensitivity loss would be NaN"
                ),
                stacklevel=2,
            )
        elif settings.sensitivity_samples > 0:
            started = time.perf_counter()
            sensitivity_batches = _first_sequences(batches, settings.sensitivity_samples)
            sensitivities = measure_sensitivity(
                loaded, calibration, sensitivity_batches, progress=progress, cancel=cancel
            )
            timings["sensitivity_s"] = time.perf_counter() - started

    threshold = keep_float_threshold(sensitivities) if sensitivities else float("inf")
    reports = []
    for info in loaded.layers:
        weight = weights[info.name]
        layer_input = inputs.get(info.name)
        sensitivity = sensitivities.get(info.name)
        reports.append(
            LayerReport(
                info=info,
                weight=weight,
                input=layer_input,
                sensitivity=sensitivity,
                recommendation=recommend(weight, layer_input, sensitivity, threshold),
            )
        )
    warn_nonfinite(reports)
    return ModelAnalysis(
        source=loaded.source.to_dict(),
        task=loaded.task,
        settings=settings,
        layers=reports,
        timings=timings,
        calibration=calibration_info,
    )


def _nonfinite_activations(calibration: CalibrationResult) -> list[str]:
    """Names of the layers whose recorded input or output contains NaN or inf."""
    names = []
    for name, record in calibration.layers.items():
        recorders = [record.input] + ([record.output] if record.output is not None else [])
        if any(recorder.nan + recorder.inf for recorder in recorders):
            names.append(name)
    return names


def warn_nonfinite(reports: list[LayerReport]) -> None:
    """Warn with QuantvizWarning naming the layers whose weight or input has NaN or inf.

    One warning lists both kinds, up to :data:`MAX_LISTED_LAYERS` names each, and
    states that those layers are recommended to stay in float.
    """
    affected = [report for report in reports if _has_nonfinite(report)]
    if not affected:
        return
    weights = [
        f"{report.name}.weight ({report.weight.nonfinite:,} values)"
        for report in affected
        if report.weight.nonfinite
    ]
    inputs = [
        f"{report.name} ({report.input.nonfinite:,} values)"
        for report in affected
        if report.input is not None and report.input.nonfinite
    ]
    parts = []
    if weights:
        parts.append(f"the weights of {_layers(weights)} contain NaN or inf: {_listed(weights)}")
    if inputs:
        parts.append(
            f"the input activations of {_layers(inputs)} contain NaN or inf, produced by "
            f"earlier layers: {_listed(inputs)}"
        )
    advice = (
        "Fix or replace the non-finite weights and analyse the model again."
        if weights
        else "The float model produces them on the calibration text; check its weights, "
        "its dtype and the layers before the first one listed."
    )
    consequence = (
        "This layer is recommended to stay in float, and its quantization errors cover"
        if len(affected) == 1
        else "These layers are recommended to stay in float, and their quantization errors cover"
    )
    warnings.warn(
        QuantvizWarning(f"{'; '.join(parts)}. {consequence} the finite values only. {advice}"),
        stacklevel=3,
    )


def _has_nonfinite(report: LayerReport) -> bool:
    return bool(report.weight.nonfinite or (report.input is not None and report.input.nonfinite))


def _layers(names: list[str]) -> str:
    return "1 layer" if len(names) == 1 else f"{len(names)} layers"


def _listed(names: list[str]) -> str:
    listed = ", ".join(names[:MAX_LISTED_LAYERS])
    hidden = len(names) - MAX_LISTED_LAYERS
    return listed + (f" and {hidden} more" if hidden > 0 else "")


def _first_sequences(batches: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first ``count`` sequences of ``batches`` as one batch."""
    first = batches[0]
    return [{key: value[:count] for key, value in first.items()}]


def analyze_weights_file(
    path: str | Path,
    *,
    heatmap_size: int = 32,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ModelAnalysis:
    """Weight-only analysis of a safetensors file or folder, streamed tensor by tensor.

    The model is never built, so peak memory stays near the largest tensor plus the
    per-layer results; activations and sensitivity need the model and are skipped.
    Every 2-D ``*.weight`` tensor counts as a linear layer with output axis 0.
    """
    from quantviz.model.loading import safetensors_layer_shapes, sha256_file

    path = Path(path)
    shapes = dict(safetensors_layer_shapes(path))
    started = time.perf_counter()
    weights = analyze_weights(
        safetensors_weights(path),
        len(shapes),
        WEIGHT_CANDIDATES,
        heatmap_size=heatmap_size,
        progress=progress,
        cancel=cancel,
    )
    elapsed = time.perf_counter() - started
    reports = []
    for name, analysis in weights.items():
        shape = tuple(analysis.shape)
        info = LayerInfo(
            name=name,
            kind="linear",
            weight_shape=shape,
            out_axis=0,
            in_axis=1,
            num_params=shape[0] * shape[1],
            has_bias=False,
        )
        reports.append(LayerReport(info, analysis, recommendation=recommend(analysis, None)))
    warn_nonfinite(reports)
    source = {
        "spec": str(path),
        "kind": "safetensors_file" if path.is_file() else "hf_folder",
        "path": str(path.resolve()),
        "sha256": sha256_file(path) if path.is_file() else None,
    }
    settings = AnalysisSettings(activations=False, sensitivity_samples=0, heatmap_size=heatmap_size)
    return ModelAnalysis(source, "unknown", settings, reports, {"weights_s": elapsed})
