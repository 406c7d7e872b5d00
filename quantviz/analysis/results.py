"""Result records of the analysis: plain dataclasses that round-trip through JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from quantviz.analysis.heatmap import Heatmap
from quantviz.analysis.histograms import Histogram
from quantviz.analysis.metrics import ErrorMetrics, json_float
from quantviz.analysis.outliers import OutlierStats


@dataclass
class FormatResult:
    """One tensor quantized with one candidate configuration.

    ``histogram`` counts the dequantized values on the same bins as the float
    histogram of the owning :class:`TensorAnalysis`. ``grid`` holds the representable
    values in the tensor's units (per-tensor specs only) and ``clip_range`` the
    widest representable range. ``scale_min``/``scale_max`` summarise per-channel scales.
    """

    candidate: str
    spec: dict[str, Any]
    metrics: ErrorMetrics
    histogram: Histogram
    clip_range: tuple[float, float]
    grid: list[float] | None
    scale_min: float
    scale_max: float
    heatmap: Heatmap | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "spec": self.spec,
            "metrics": self.metrics.to_dict(),
            "histogram": self.histogram.counts,
            "clip_range": list(self.clip_range),
            "grid": self.grid,
            "scale_min": self.scale_min,
            "scale_max": self.scale_max,
            "heatmap": self.heatmap.to_dict() if self.heatmap else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], edges: list[float]) -> FormatResult:
        return cls(
            candidate=data["candidate"],
            spec=data["spec"],
            metrics=ErrorMetrics.from_dict(data["metrics"]),
            histogram=Histogram(edges, data["histogram"]),
            clip_range=(float(data["clip_range"][0]), float(data["clip_range"][1])),
            grid=data["grid"],
            scale_min=float(data["scale_min"]),
            scale_max=float(data["scale_max"]),
            heatmap=Heatmap.from_dict(data["heatmap"]) if data.get("heatmap") else None,
        )


@dataclass
class TensorAnalysis:
    """A layer's weight (``role="weight"``) or input activation (``role="input"``)
    under every candidate configuration.

    For inputs, ``histogram``, the clipped and underflow fractions and the outlier
    counts cover every calibration value; MSE, SQNR, cosine and max error are measured
    on the stored calibration sample with scales from all batches.
    """

    layer: str
    role: str
    shape: list[int]
    histogram: Histogram
    outliers: OutlierStats
    results: dict[str, FormatResult] = field(default_factory=dict)
    nonfinite: int = 0
    heatmap: Heatmap | None = None

    def best(self) -> str:
        """Key of the candidate with the highest SQNR."""
        return max(self.results, key=lambda key: self.results[key].metrics.sqnr_db)

    def sqnr(self, candidate: str) -> float:
        """SQNR of ``candidate`` in dB, NaN for a tensor with no finite values.

        Such a tensor (an input whose every value was NaN or inf) has no scales, so
        it has no results at all. Raises KeyError for a candidate that was not analysed.
        """
        if not self.results and self.nonfinite:
            return math.nan
        return self.results[candidate].metrics.sqnr_db

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "role": self.role,
            "shape": self.shape,
            "histogram": self.histogram.to_dict(),
            "outliers": self.outliers.to_dict(),
            "results": {key: result.to_dict() for key, result in self.results.items()},
            "nonfinite": self.nonfinite,
            "heatmap": self.heatmap.to_dict() if self.heatmap else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorAnalysis:
        histogram = Histogram.from_dict(data["histogram"])
        return cls(
            layer=data["layer"],
            role=data["role"],
            shape=list(data["shape"]),
            histogram=histogram,
            outliers=OutlierStats.from_dict(data["outliers"]),
            results={
                key: FormatResult.from_dict(value, histogram.edges)
                for key, value in data["results"].items()
            },
            nonfinite=int(data.get("nonfinite", 0)),
            heatmap=Heatmap.from_dict(data["heatmap"]) if data.get("heatmap") else None,
        )


@dataclass
class Sensitivity:
    """End-to-end change when only this layer is quantized.

    ``metric`` is ``"kl"`` (mean logits KL in nats, causal LMs) or ``"cosine_loss"``
    (1 - mean pooled-embedding cosine, encoders); larger is worse.
    ``perplexity_change`` is relative (0.01 = +1%) and ``None`` for encoders.
    """

    metric: str
    weights: float
    inputs: float
    both: float
    perplexity_change: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "weights": json_float(self.weights),
            "inputs": json_float(self.inputs),
            "both": json_float(self.both),
            "perplexity_change": self.perplexity_change,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sensitivity:
        return cls(
            metric=data["metric"],
            weights=_inf_if_none(data["weights"]),
            inputs=_inf_if_none(data["inputs"]),
            both=_inf_if_none(data["both"]),
            perplexity_change=data.get("perplexity_change"),
        )


def _inf_if_none(value: float | None) -> float:
    return float("inf") if value is None else float(value)


@dataclass
class Recommendation:
    """The suggested weight format for a layer and the numbers behind it."""

    choice: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"choice": self.choice, "reason": self.reason}
