"""A format recommendation per layer, with a one-line reason drawn from the numbers, and
the plan settings that apply the recommendations."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quantviz.analysis.results import Recommendation, Sensitivity, TensorAnalysis
from quantviz.errors import QuantvizError

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import ModelAnalysis
    from quantviz.plan import PrecisionPlan

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
    per channel, inputs INT8 per tensor; FP8 E4M3 per tensor for both). A weight or
    input with NaN or inf values keeps the layer in float, because its scores cover
    only the finite values and its input may have no scores at all.
    """
    nonfinite = _nonfinite_reason(weight, inputs)
    if nonfinite:
        return Recommendation(FLOAT, nonfinite)
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


def _nonfinite_reason(weight: TensorAnalysis, inputs: TensorAnalysis | None) -> str:
    """Return the keep-float reason for NaN or inf in the weight or input, or "" if none."""
    problems = []
    if weight.nonfinite:
        problems.append(
            f"the weight contains {weight.nonfinite:,} NaN or inf values; fix or replace them "
            "in the checkpoint before quantizing"
        )
    if inputs is not None and inputs.nonfinite:
        problems.append(
            f"the input contains {inputs.nonfinite:,} NaN or inf values, which the float "
            "model produces before this layer"
        )
    return "; ".join(problems)


def _metric_label(metric: str) -> str:
    return {"kl": "logits KL", "cosine_loss": "1 - embedding cosine"}.get(metric, metric)


def _db(value: float) -> str:
    return "n/a" if value == float("inf") else f"{value:.1f} dB"


# ---------------------------------------------------------------------------------------
# Recommendations as plan settings


def _tensor_fields(fmt: str, granularity: str = "tensor") -> dict[str, Any]:
    # group_size is cleared so that the choice replaces an earlier per-group setting.
    return {"format": fmt, "granularity": granularity, "group_size": None}


# The plan fields (quantviz.plan.TensorConfig) of each choice for the weight and the
# input. They are the configurations that recommend() scored. The observer is left as
# the plan has it.
CHOICE_FIELDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    FLOAT: (_tensor_fields("float"), _tensor_fields("float")),
    FP8: (_tensor_fields("fp8_e4m3"), _tensor_fields("fp8_e4m3")),
    INT8: (_tensor_fields("int8_sym", "channel"), _tensor_fields("int8_sym")),
}


@dataclass(frozen=True)
class RecommendedSettings:
    """The plan fields that give one layer its recommended format.

    ``weight`` and ``input`` are :class:`quantviz.plan.TensorConfig` fields to merge into
    the layer's override. ``input`` is None for a layer whose input was not analysed (a
    weights-only analysis), so that the plan keeps its input setting.
    """

    choice: str
    weight: dict[str, Any]
    input: dict[str, Any] | None


def recommended_layer_settings(
    analysis: ModelAnalysis, names: Iterable[str] | None = None
) -> dict[str, RecommendedSettings]:
    """Map each layer with a recommendation (all, or those in ``names``) to its plan fields.

    The result is in model order. Layers without a recommendation are left out. Raises
    QuantvizError for a recommendation this version does not know (an analysis file
    from a newer quantviz).
    """
    targets = set(names) if names is not None else None
    settings: dict[str, RecommendedSettings] = {}
    for report in analysis.layers:
        if targets is not None and report.name not in targets:
            continue
        if report.recommendation is None:
            continue
        choice = report.recommendation.choice
        if choice not in CHOICE_FIELDS:
            raise QuantvizError(
                f"layer {report.name!r} has the unknown recommendation {choice!r} (expected "
                f"one of {', '.join(CHOICE_FIELDS)}). An analysis file from a newer quantviz "
                "needs that version, or analyse the model again with this one"
            )
        weight, inputs = CHOICE_FIELDS[choice]
        settings[report.name] = RecommendedSettings(
            choice, dict(weight), dict(inputs) if report.input is not None else None
        )
    return settings


def apply_recommendations(
    plan: PrecisionPlan, analysis: ModelAnalysis, names: Iterable[str] | None = None
) -> list[str]:
    """Give each layer (all, or those in ``names``) its recommended format in ``plan``.

    The fields are merged into the layers' overrides, which drops their stored scales.
    Returns the names of the layers set, in model order.
    """
    settings = recommended_layer_settings(analysis, names)
    for name, item in settings.items():
        plan.set_layer(name, weight=item.weight, input=item.input)
    return list(settings)
