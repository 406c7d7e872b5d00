"""Automatic mixed-precision plans from a sensitivity analysis and measured accuracy.

The search starts with every layer at 8 bits, in the format the analysis's SQNR
favours (FP8 E4M3 where INT8 loses by more than a margin), and tries it without and
with SmoothQuant at each given alpha. With SmoothQuant, layers fed by a normalization
keep INT8 inputs: the analysis measured their inputs before smoothing, which is what
smoothing changes.
It then moves the most sensitive layers up a ladder, first to FP8 E4M3 inputs (still
8-bit) and then to float, until the loss measured on held-out text meets ``max_loss``
or until the share of 8-bit layers reaches ``target_8bit_share``. Each candidate is
evaluated on the real model. Bisection over the sensitivity order bounds the number of
candidates, which assumes that the loss falls as more layers move up.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from quantviz.analysis.pipeline import ModelAnalysis
from quantviz.analysis.recommend import INT8_MARGIN_DB
from quantviz.errors import QuantvizError
from quantviz.evaluate import EvaluationResult, PlanEvaluator
from quantviz.plan import LayerConfig, LayerOverride, PrecisionPlan, TensorConfig
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.qparams import QParams

logger = logging.getLogger(__name__)

METRICS = ("loss", "perplexity_change")
FP8_INPUT = TensorConfig("fp8_e4m3")
FP8_WEIGHT = TensorConfig("fp8_e4m3")
FLOAT = TensorConfig()
# Analysis candidate keys for the plan configurations whose SQNR the analysis measured.
_CANDIDATE_KEYS = {
    ("int8_sym", "channel"): "int8_sym_channel",
    ("int8_sym", "tensor"): "int8_sym_tensor",
    ("fp8_e4m3", "tensor"): "fp8_e4m3_tensor",
    ("fp8_e5m2", "tensor"): "fp8_e5m2_tensor",
    ("int8_asym", "tensor"): "int8_asym_tensor",
}


@dataclass
class FrontierPoint:
    """One evaluated candidate: its size, 8-bit share, accuracy and plan settings.

    ``plan`` is the candidate's plan as a dict without scales and SmoothQuant factors,
    so applying it calibrates them again. ``loss`` is KL in nats (causal LM) or
    1 - mean cosine (encoder). ``fp8_layers`` counts layers with FP8 E4M3 inputs and
    ``float_layers`` layers with neither weight nor input quantized.
    """

    label: str
    size_bytes: int
    share_8bit: float
    loss: float
    perplexity_change: float | None
    mean_cosine: float | None
    fp8_layers: int
    float_layers: int
    smoothquant_alpha: float | None
    meets_target: bool
    plan: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontierPoint:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


@dataclass
class AutoPlanResult:
    """The chosen plan (with scales), every candidate tried, and the search settings."""

    plan: PrecisionPlan
    chosen: int
    frontier: list[FrontierPoint]
    met: bool
    settings: dict[str, Any] = field(default_factory=dict)
    evaluation: EvaluationResult | None = None

    def pareto(self) -> list[FrontierPoint]:
        """Points not beaten by another point in both size and loss, smallest first."""
        points = sorted(self.frontier, key=lambda p: (p.size_bytes, p.loss))
        front: list[FrontierPoint] = []
        for point in points:
            if not front or point.loss < front[-1].loss:
                front.append(point)
        return front

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "quantviz-autoplan",
            "plan": self.plan.to_dict(),
            "chosen": self.chosen,
            "met": self.met,
            "settings": dict(self.settings),
            "frontier": [point.to_dict() for point in self.frontier],
            "evaluation": self.evaluation.to_dict() if self.evaluation else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutoPlanResult:
        if not isinstance(data, dict) or data.get("format") != "quantviz-autoplan":
            raise QuantvizError("not a quantviz automatic-plan result (format quantviz-autoplan)")
        try:
            evaluation = data.get("evaluation")
            return cls(
                plan=PrecisionPlan.from_dict(data["plan"]),
                chosen=int(data["chosen"]),
                frontier=[FrontierPoint.from_dict(item) for item in data["frontier"]],
                met=bool(data["met"]),
                settings=dict(data.get("settings", {})),
                evaluation=EvaluationResult.from_dict(evaluation) if evaluation else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise QuantvizError(f"automatic-plan result is incomplete: {error!r}") from None


@dataclass(frozen=True)
class _Candidate:
    fp8: int
    floats: int
    alpha: float | None


def base_formats(
    analysis: ModelAnalysis,
    base_weight: TensorConfig,
    base_input: TensorConfig,
    allow_fp8: bool,
    keep_input: frozenset[str] = frozenset(),
) -> dict[str, tuple[TensorConfig, TensorConfig]]:
    """Choose the starting 8-bit weight and input configuration of every analysed layer.

    The base configurations are kept unless ``allow_fp8`` and the analysis measured FP8
    E4M3 per tensor more than ``INT8_MARGIN_DB`` above the base (INT8 kernels are more
    widely available, so a tie goes to the base). The layers in ``keep_input`` keep the
    base input configuration whatever the analysis measured.
    """
    formats = {}
    for report in analysis.layers:
        weight, inputs = base_weight, base_input
        if allow_fp8:
            if _fp8_wins(report.weight, base_weight):
                weight = FP8_WEIGHT
            if (
                report.name not in keep_input
                and report.input is not None
                and _fp8_wins(report.input, base_input)
            ):
                inputs = FP8_INPUT
        formats[report.name] = (weight, inputs)
    return formats


def _fp8_wins(tensor: Any, base: TensorConfig) -> bool:
    key = _CANDIDATE_KEYS.get((base.format, base.granularity))
    if key is None or key not in tensor.results or "fp8_e4m3_tensor" not in tensor.results:
        return False
    return tensor.sqnr("fp8_e4m3_tensor") > tensor.sqnr(key) + INT8_MARGIN_DB


def sensitivity_order(analysis: ModelAnalysis, key: str = "both") -> list[str]:
    """Layer names from most to least sensitive (``key``: both, inputs or weights)."""
    missing = [report.name for report in analysis.layers if report.sensitivity is None]
    if missing:
        raise QuantvizError(
            f"the analysis has no sensitivity for {len(missing)} layers (first: {missing[0]}); "
            "run the analysis with sensitivity_samples > 0"
        )
    values = {report.name: getattr(report.sensitivity, key) for report in analysis.layers}
    order = {report.name: index for index, report in enumerate(analysis.layers)}
    return sorted(values, key=lambda name: (-_finite(values[name]), order[name]))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 1e300


class _Search:
    """Builds and evaluates candidates, sharing scales and factors between them."""

    def __init__(
        self,
        loaded: Any,
        evaluator: PlanEvaluator,
        formats: dict[bool, dict[str, tuple[TensorConfig, TensorConfig]]],
        base: tuple[TensorConfig, TensorConfig],
        float_order: list[str],
        fp8_order: dict[bool, list[str]],
        metric: str,
        limit: float | None,
        target_share: float | None,
        max_evaluations: int,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> None:
        self.loaded = loaded
        self.evaluator = evaluator
        self.formats = formats
        self.base = base
        self.float_order = float_order
        self.fp8_order = fp8_order
        self.metric = metric
        self.limit = limit
        self.target_share = target_share
        self.max_evaluations = max_evaluations
        self.progress = progress
        self.cancel = cancel
        self.results: dict[_Candidate, tuple[PrecisionPlan, EvaluationResult]] = {}
        self.points: list[FrontierPoint] = []
        self.keys: list[_Candidate] = []
        self.scale_cache: dict[tuple[float | None, str, str, str], QParams] = {}
        self.smoothing_cache: dict[float, tuple[dict, dict]] = {}

    @property
    def exhausted(self) -> bool:
        return len(self.results) >= self.max_evaluations

    def formats_for(self, alpha: float | None) -> dict[str, tuple[TensorConfig, TensorConfig]]:
        """Return the base formats without SmoothQuant (``alpha`` None) or with it."""
        return self.formats[alpha is not None]

    def fp8_order_for(self, alpha: float | None) -> list[str]:
        """Return the layers whose inputs may move to FP8, most input-sensitive first."""
        return self.fp8_order[alpha is not None]

    def build(self, candidate: _Candidate) -> PrecisionPlan:
        weight_default, input_default = self.base
        plan = PrecisionPlan(
            defaults=LayerConfig(weight_default, input_default, candidate.alpha),
            notes=self.label(candidate),
        )
        floats = set(self.float_order[: candidate.floats])
        fp8 = set(self.fp8_order_for(candidate.alpha)[: candidate.fp8])
        for name, (weight, inputs) in self.formats_for(candidate.alpha).items():
            if name in floats:
                weight, inputs = FLOAT, FLOAT
            elif name in fp8 and inputs.format != "fp8_e4m3":
                inputs = FP8_INPUT
            override: dict[str, Any] = {}
            if weight != weight_default:
                override["weight"] = weight.to_dict()
            if inputs != input_default:
                override["input"] = inputs.to_dict()
            if override:
                plan.overrides[name] = LayerOverride.from_dict(override, f"overrides[{name!r}]")
        return plan

    def label(self, candidate: _Candidate) -> str:
        parts = []
        if candidate.alpha is not None:
            parts.append(f"SmoothQuant {candidate.alpha:g}")
        if candidate.fp8:
            parts.append(f"top {candidate.fp8} FP8 inputs")
        if candidate.floats:
            parts.append(f"top {candidate.floats} float")
        return ", ".join(parts) or "base 8-bit"

    def value(self, result: EvaluationResult) -> float:
        if self.metric == "perplexity_change":
            return float(result.perplexity_change or 0.0)
        return float(result.loss)

    def meets(self, result: EvaluationResult) -> bool:
        if self.target_share is not None and result.size.share_8bit < self.target_share - 1e-12:
            return False
        return self.limit is None or self.value(result) <= self.limit

    def evaluate(self, candidate: _Candidate) -> EvaluationResult:
        if candidate in self.results:
            return self.results[candidate][1]
        self.cancel.raise_if_cancelled()
        plan = self.build(candidate)
        self._prefill(plan, candidate.alpha)
        result = self.evaluator.evaluate(plan, progress=self.progress, cancel=self.cancel)
        self._remember(plan, candidate.alpha)
        self.results[candidate] = (plan, result)
        self.keys.append(candidate)
        settings = plan.to_dict()
        settings.update(scales={}, smoothing={}, smoothing_alpha={})
        configs = [plan.resolve(info.name) for info in self.loaded.layers]
        point = FrontierPoint(
            label=self.label(candidate),
            size_bytes=result.size.plan_bytes,
            share_8bit=result.size.share_8bit,
            loss=result.loss,
            perplexity_change=result.perplexity_change,
            mean_cosine=result.mean_cosine,
            fp8_layers=sum(1 for c in configs if c.input.format == "fp8_e4m3"),
            float_layers=sum(1 for c in configs if not c.quantized),
            smoothquant_alpha=candidate.alpha,
            meets_target=self.meets(result),
            plan=settings,
        )
        self.points.append(point)
        logger.info(
            "auto plan candidate %s: %s %.4g, 8-bit share %.3f",
            point.label,
            self.metric,
            self.value(result),
            point.share_8bit,
        )
        self.progress(
            ProgressEvent(
                len(self.results),
                self.max_evaluations,
                point.label,
                "auto plan",
                metrics={"loss": result.loss, "share_8bit": point.share_8bit},
            )
        )
        return result

    def _prefill(self, plan: PrecisionPlan, alpha: float | None) -> None:
        """Reuse factors and scales computed for earlier candidates with the same alpha.

        NOTE: input scales calibrated while other layers had other formats are reused.
        Calibration runs with the weights quantized and the inputs in float, so only the
        other layers' weight formats differ.
        """
        if alpha is not None and alpha in self.smoothing_cache:
            smoothing, smoothing_alpha = self.smoothing_cache[alpha]
            plan.smoothing = dict(smoothing)
            plan.smoothing_alpha = dict(smoothing_alpha)
        for info in self.loaded.layers:
            config = plan.resolve(info.name)
            roles = {}
            specs = {
                "weight": config.weight.spec(
                    info.in_axis if config.weight.granularity == "group" else info.out_axis
                ),
                "input": config.input.input_spec(),
            }
            for role, spec in specs.items():
                cached = self.scale_cache.get((alpha, info.name, role, repr(spec)))
                if spec is not None and cached is not None:
                    roles[role] = cached
            if roles:
                plan.scales[info.name] = roles

    def _remember(self, plan: PrecisionPlan, alpha: float | None) -> None:
        if alpha is not None and alpha not in self.smoothing_cache:
            self.smoothing_cache[alpha] = (dict(plan.smoothing), dict(plan.smoothing_alpha))
        for name, roles in plan.scales.items():
            for role, qparams in roles.items():
                self.scale_cache[(alpha, name, role, repr(qparams.spec))] = qparams

    def bisect(self, low: int, high: int, make: Callable[[int], _Candidate]) -> int:
        """Smallest k in (low, high] whose candidate meets the limit, given that ``low``
        fails and ``high`` meets it; stops early when the budget runs out."""
        while high - low > 1 and not self.exhausted:
            middle = (low + high) // 2
            if self.meets(self.evaluate(make(middle))):
                high = middle
            else:
                low = middle
        return high


def auto_plan(
    loaded: Any,
    analysis: ModelAnalysis,
    *,
    max_loss: float | None = None,
    target_8bit_share: float | None = None,
    metric: str = "loss",
    base_weight: TensorConfig | None = None,
    base_input: TensorConfig | None = None,
    allow_fp8: bool = True,
    allow_smoothquant: bool = True,
    smoothquant_alpha: float | Sequence[float] = (0.5, 0.8),
    eval_texts: Sequence[str] | None = None,
    calib_batches: Sequence[dict[str, torch.Tensor]] | None = None,
    samples: int = 32,
    seq_len: int = 128,
    batch_size: int = 8,
    max_evaluations: int = 12,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> AutoPlanResult:
    """Search for a plan that meets ``max_loss`` or ``target_8bit_share``; give exactly one.

    ``max_loss`` bounds ``metric``: ``"loss"`` (mean logits KL in nats for causal LMs,
    1 - mean pooled cosine for encoders) or ``"perplexity_change"`` (relative, causal
    LMs). With ``max_loss`` the result is the candidate with the most 8-bit layers that
    meets it, and the fewest FP8 layers on a tie. With ``target_8bit_share`` it is the
    candidate with the lowest loss among those with at least that share.
    ``smoothquant_alpha`` is one alpha or several; the base plan is evaluated without
    SmoothQuant and with each, and the rest of the search keeps the best of them.
    ``analysis`` must contain sensitivity (:func:`quantviz.analysis.pipeline.analyze_model`
    with ``sensitivity_samples > 0``). Evaluation settings are those of
    :func:`quantviz.evaluate.evaluate_plan`; at most ``max_evaluations`` candidates
    are evaluated. The model is unchanged afterwards.
    """
    if (max_loss is None) == (target_8bit_share is None):
        raise QuantvizError("give exactly one of max_loss and target_8bit_share")
    if metric not in METRICS:
        raise QuantvizError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    if metric == "perplexity_change" and loaded.task != "causal_lm":
        raise QuantvizError(
            f"metric 'perplexity_change' needs a causal LM; {loaded.source.spec} is an "
            f"{loaded.task}; use metric 'loss' (1 - mean cosine)"
        )
    if max_loss is not None and (not math.isfinite(max_loss) or max_loss < 0):
        raise QuantvizError(f"max_loss must be a non-negative number; got {max_loss!r}")
    if target_8bit_share is not None and not 0.0 <= target_8bit_share <= 1.0:
        raise QuantvizError(f"target_8bit_share must be between 0 and 1; got {target_8bit_share!r}")
    if max_evaluations < 1:
        raise QuantvizError(f"max_evaluations must be at least 1; got {max_evaluations!r}")
    names = [info.name for info in loaded.layers]
    analysed = [report.name for report in analysis.layers]
    if sorted(names) != sorted(analysed):
        extra = sorted(set(names) ^ set(analysed))
        raise QuantvizError(
            f"the analysis does not match the model's layers (first difference: {extra[0]}); "
            "analyse this model again"
        )
    base = (
        base_weight or TensorConfig("int8_sym", "channel"),
        base_input or TensorConfig("int8_sym"),
    )
    alphas = _alphas(smoothquant_alpha) if allow_smoothquant else []
    smoothable: frozenset[str] = frozenset()
    if alphas:
        from quantviz.smoothquant import find_norm_groups

        smoothable = frozenset(name for group in find_norm_groups(loaded) for name in group.layers)
    formats = {
        False: base_formats(analysis, base[0], base[1], allow_fp8),
        True: base_formats(analysis, base[0], base[1], allow_fp8, keep_input=smoothable),
    }
    float_order = sensitivity_order(analysis, "both")
    input_order = sensitivity_order(analysis, "inputs")
    fp8_order = {
        smoothed: [
            name
            for name in input_order
            if allow_fp8
            and layer_formats[name][1].format != "fp8_e4m3"
            and layer_formats[name][1].quantized
        ]
        for smoothed, layer_formats in formats.items()
    }
    evaluator = PlanEvaluator(
        loaded,
        eval_texts=eval_texts,
        calib_batches=calib_batches,
        samples=samples,
        seq_len=seq_len,
        batch_size=batch_size,
    )
    search = _Search(
        loaded,
        evaluator,
        formats,
        base,
        float_order,
        fp8_order,
        metric,
        max_loss,
        target_8bit_share,
        max_evaluations,
        progress,
        cancel,
    )
    n = len(names)
    floats = 0
    if target_8bit_share is not None:
        floats = min(n, math.floor(n * (1.0 - target_8bit_share) + 1e-9))
    alpha = _choose_alpha(search, floats, alphas)

    if max_loss is not None:
        _search_max_loss(search, alpha, n)
    else:
        _search_target(search, alpha, floats)

    chosen = _choose(search, max_loss is not None)
    plan, result = search.results[search.keys[chosen]]
    met = search.points[chosen].meets_target
    plan.model = loaded.source.to_dict()
    return AutoPlanResult(
        plan=plan,
        chosen=chosen,
        frontier=search.points,
        met=met,
        settings={
            "max_loss": max_loss,
            "target_8bit_share": target_8bit_share,
            "metric": metric,
            "allow_fp8": allow_fp8,
            "allow_smoothquant": allow_smoothquant,
            "smoothquant_alpha": alphas,
            "samples": evaluator.sequences,
            "seq_len": seq_len,
            "evaluations": len(search.results),
            "base_weight": base[0].to_dict(),
            "base_input": base[1].to_dict(),
            "float_order": float_order,
        },
        evaluation=result,
    )


def _alphas(value: float | Sequence[float]) -> list[float]:
    values = [value] if isinstance(value, int | float) else list(value)
    for alpha in values:
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
            raise QuantvizError(f"smoothquant_alpha must be between 0 and 1; got {alpha!r}")
    return sorted({float(alpha) for alpha in values})


def _choose_alpha(search: _Search, floats: int, alphas: list[float]) -> float | None:
    """Evaluate the base without SmoothQuant and with each alpha; return the best alpha
    (None for no SmoothQuant). Stops trying alphas when the budget runs out."""
    best, best_value = None, search.value(search.evaluate(_Candidate(0, floats, None)))
    for alpha in alphas:
        if search.exhausted:
            break
        value = search.value(search.evaluate(_Candidate(0, floats, alpha)))
        if value < best_value:
            best, best_value = alpha, value
    return best


def _search_max_loss(search: _Search, alpha: float | None, n: int) -> None:
    base = search.evaluate(_Candidate(0, 0, alpha))
    if search.meets(base):
        return
    fp8 = 0
    fp8_order = search.fp8_order_for(alpha)
    if fp8_order and not search.exhausted:
        all_fp8 = search.evaluate(_Candidate(len(fp8_order), 0, alpha))
        if search.meets(all_fp8):
            search.bisect(0, len(fp8_order), lambda k: _Candidate(k, 0, alpha))
            return
        # FP8 inputs everywhere are kept for the float search only when they helped.
        if search.value(all_fp8) < search.value(base):
            fp8 = len(fp8_order)
    # Moving every layer to float meets any limit, so n is the upper end.
    search.bisect(0, n, lambda k: _Candidate(fp8, k, alpha))


def _search_target(search: _Search, alpha: float | None, floats: int) -> None:
    count = len(search.fp8_order_for(alpha))
    if not count:
        return
    for fp8 in (count, count // 2):
        if fp8 and not search.exhausted:
            search.evaluate(_Candidate(fp8, floats, alpha))


def _choose(search: _Search, by_limit: bool) -> int:
    indices = range(len(search.points))
    if by_limit:
        meeting = [i for i in indices if search.points[i].meets_target]
        if meeting:
            return max(
                meeting,
                key=lambda i: (
                    search.points[i].share_8bit,
                    -search.points[i].fp8_layers,
                    -search.points[i].loss,
                ),
            )
        logger.warning("no candidate met the loss limit within the evaluation budget")
        return min(indices, key=lambda i: search.value(search.results[search.keys[i]][1]))
    eligible = [i for i in indices if search.points[i].meets_target]
    pool = eligible or list(indices)
    return min(pool, key=lambda i: search.value(search.results[search.keys[i]][1]))
