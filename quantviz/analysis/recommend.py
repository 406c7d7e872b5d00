"""A format recommendation per layer, with a one-line reason drawn from the numbers."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from quantviz.analysis.results import Recommendation, Sensitivity, TensorAnalysis

FP8 = "fp8_e4m3"
INT8 = "int8_channel"
FLOAT = "float"

# A layer whose "both" sensitivity is this many times the median over layers, and in
# the top 5%, is kept in float: it costs more than the rest of the model together on
# typical 100-200 layer models.
KEEP_FLOAT_FACTOR = 20.0
KEEP_FLOAT_QUANTILE = 0.95
# INT8 must be at least this close to FP8 (in dB of the worse of weight and input
# SQNR) to be preferred; INT8 kernels are more widely available.
INT8_MARGIN_DB = 1.0


def keep_float_threshold(sensitivities: Mapping[str, Sensitivity]) -> float:
    """The "both" sensitivity above which a layer is kept in float."""
    values = sorted(s.both for s in sensitivities.values())
    if len(values) < 4:
        return float("inf")
    median = statistics.median(values)
    quantile = values[min(int(KEEP_FLOAT_QUANTILE * len(values)), len(values) - 1)]
    return max(KEEP_FLOAT_FACTOR * median, quantile) if median > 0 else quantile


def recommend(
    weight: TensorAnalysis,
    inputs: TensorAnalysis | None,
    sensitivity: Sensitivity | None = None,
    keep_threshold: float = float("inf"),
) -> Recommendation:
    """Choose FP8 E4M3, INT8 per channel (weights) or float for one layer.

    Each format is scored by the worse of its weight and input SQNR (weights INT8
    per channel, inputs INT8 per tensor; FP8 E4M3 per tensor for both).
    """
    w_int8 = weight.sqnr("int8_sym_channel")
    w_fp8 = weight.sqnr("fp8_e4m3_tensor")
    a_int8 = inputs.sqnr("int8_sym_tensor") if inputs else float("inf")
    a_fp8 = inputs.sqnr("fp8_e4m3_tensor") if inputs else float("inf")
    int8_score = min(w_int8, a_int8)
    fp8_score = min(w_fp8, a_fp8)

    if sensitivity is not None and sensitivity.both > keep_threshold:
        return Recommendation(
            FLOAT,
            f"quantizing this layer alone costs {_metric_label(sensitivity.metric)} "
            f"{sensitivity.both:.3g}, over the keep-float threshold {keep_threshold:.3g}",
        )
    if int8_score >= fp8_score - INT8_MARGIN_DB:
        return Recommendation(
            INT8,
            f"W {w_int8:.1f} dB per channel, A {_db(a_int8)} per tensor, "
            f"vs FP8 E4M3 {fp8_score:.1f} dB",
        )
    reason = f"{fp8_score:.1f} dB vs INT8 {int8_score:.1f} dB"
    if inputs is not None and a_int8 < w_int8:
        outliers = inputs.outliers
        reason += (
            f"; input outliers (channel max/median {outliers.channel_ratio:.1f}x, "
            f"kurtosis {outliers.kurtosis:.0f}) need FP8's range"
        )
    return Recommendation(FP8, reason)


def _metric_label(metric: str) -> str:
    return {"kl": "logits KL", "cosine_loss": "1 - embedding cosine"}.get(metric, metric)


def _db(value: float) -> str:
    return "n/a" if value == float("inf") else f"{value:.1f} dB"
