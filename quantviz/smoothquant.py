"""SmoothQuant: move activation outliers into the weights of norm-fed linear layers.

For a layer computing ``X W^T``, per-input-channel factors ``s`` give the same result as
``(X / s) (W * s)^T``. With ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)`` (Xiao et al.,
"SmoothQuant", ICML 2023) the large activation channels shrink and the weight's matching
input channels grow, so both quantize with less error.

Smoothing is applied to the layers whose input is the output of a normalization module
(LayerNorm, RMSNorm). All layers fed by one norm share one factor vector, computed from
that norm's output and the weights of all those layers, so that ``1 / s`` can be folded
into the norm's weight and bias for deployment (:func:`fold_smoothing_into_norms`).
Which layers a norm feeds is found by tracing one forward pass, never from layer names.

In a plan, ``smoothquant_alpha`` (defaults, rules or overrides) switches smoothing on;
:func:`update_smoothing`, which :func:`quantviz.apply.apply_plan` calls, computes the
factors on calibration batches and stores them in ``plan.smoothing``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from quantviz.errors import QuantvizError
from quantviz.model.layers import LayerInfo, get_module
from quantviz.plan import LayerOverride, PrecisionPlan, Rule
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.modules import QuantizedLayer

logger = logging.getLogger(__name__)

# Factors are clamped to this range, so a nearly dead channel cannot make the weight
# or the input overflow.
FACTOR_MIN = 1e-5
FACTOR_MAX = 1e5
# Tokens in the synthetic input that traces which layers each norm feeds.
_TRACE_TOKENS = 8
# Folding one norm group is kept when the model output moves by at most this fraction
# of its largest magnitude. A norm whose output also feeds a residual connection moves
# it by far more.
FOLD_TOLERANCE = 1e-4

# Traced groups per model module, with the layer names they were traced for.
_GROUP_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[str, ...], list[NormGroup]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class NormGroup:
    """A normalization module and the quantizable layers that read its output."""

    norm: str
    layers: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"norm": self.norm, "layers": list(self.layers)}


@dataclass
class SmoothingReport:
    """What :func:`update_smoothing` did.

    ``computed`` maps each layer whose factors were (re)computed to its alpha.
    ``not_norm_fed`` lists layers with an alpha whose input is not a norm's output, which
    stay unsmoothed. ``removed`` lists layers whose computed factors were dropped because
    their alpha was switched off.
    """

    groups: list[NormGroup] = field(default_factory=list)
    computed: dict[str, float] = field(default_factory=dict)
    not_norm_fed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [group.to_dict() for group in self.groups],
            "computed": dict(self.computed),
            "not_norm_fed": list(self.not_norm_fed),
            "removed": list(self.removed),
        }


def _is_normalization(module: nn.Module) -> bool:
    # Model code defines its own norm classes (LlamaRMSNorm, T5LayerNorm), which only the
    # class name identifies; the layer discovery uses the same test.
    is_norm = isinstance(module, nn.LayerNorm | nn.RMSNorm | nn.GroupNorm)
    is_norm = is_norm or "norm" in type(module).__name__.lower()
    return is_norm and isinstance(getattr(module, "weight", None), nn.Parameter)


def _check_unwrapped(loaded: Any) -> None:
    for info in loaded.layers:
        if isinstance(get_module(loaded.module, info.name), QuantizedLayer):
            raise QuantvizError(
                f"layer {info.name} is wrapped by an applied plan; remove the applied plan "
                "before computing or folding SmoothQuant factors"
            )


def _trace_batch(loaded: Any) -> dict[str, torch.Tensor]:
    vocab_size = int(getattr(loaded.config, "vocab_size", 0) or 0)
    if vocab_size < 2:
        raise QuantvizError(
            f"the model config has no usable vocab_size ({vocab_size}), so the norm-to-layer "
            "trace cannot build an input"
        )
    ids = (torch.arange(_TRACE_TOKENS) * 7 + 1) % vocab_size
    ids = ids.unsqueeze(0)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def find_norm_groups(loaded: Any) -> list[NormGroup]:
    """Trace one short forward pass and return which layers each norm's output feeds.

    A layer belongs to a norm's group when the tensor it receives is the very tensor
    object the norm returned (eval-mode dropout passes its input through unchanged).
    The result is cached per model module and layer list. Groups are in model order.
    """
    names = tuple(info.name for info in loaded.layers)
    cached = _GROUP_CACHE.get(loaded.module)
    if cached is not None and cached[0] == names:
        return cached[1]
    _check_unwrapped(loaded)
    norms = {name: m for name, m in loaded.module.named_modules() if _is_normalization(m)}
    produced: dict[int, tuple[str, torch.Tensor]] = {}
    consumers: dict[str, list[str]] = {}
    handles = []

    def record_norm(name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                # The tensor is kept alive until the trace ends, so its id is not reused.
                produced[id(output)] = (name, output)

        return hook

    def record_layer(name: str):
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            inputs = [*args, *kwargs.values()]
            x = next((value for value in inputs if isinstance(value, torch.Tensor)), None)
            if x is not None and id(x) in produced:
                consumers.setdefault(produced[id(x)][0], []).append(name)

        return hook

    for name, module in norms.items():
        handles.append(module.register_forward_hook(record_norm(name)))
    for info in loaded.layers:
        module = get_module(loaded.module, info.name)
        handles.append(module.register_forward_pre_hook(record_layer(info.name), with_kwargs=True))
    try:
        with torch.inference_mode():
            loaded.module(**_trace_batch(loaded))
    finally:
        for handle in handles:
            handle.remove()
        produced.clear()
    order = {info.name: index for index, info in enumerate(loaded.layers)}
    groups = [
        NormGroup(norm, sorted(set(layers), key=order.__getitem__))
        for norm, layers in consumers.items()
    ]
    groups.sort(key=lambda group: order[group.layers[0]])
    _GROUP_CACHE[loaded.module] = (names, groups)
    logger.debug("SmoothQuant trace: %d norms feed %d layers", len(groups), len(order))
    return groups


def collect_norm_absmax(
    loaded: Any,
    norms: Sequence[str],
    batches: Sequence[dict[str, torch.Tensor]],
    *,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, torch.Tensor]:
    """Per-channel ``max|x|`` of each norm's output (last axis) over ``batches``.

    Non-finite values are left out. Padding positions (``attention_mask == 0``) count,
    so pass unpadded calibration windows.
    """
    absmax: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            x = output.detach().float()
            x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).abs()
            current = x.reshape(-1, x.shape[-1]).amax(dim=0)
            previous = absmax.get(name)
            absmax[name] = current if previous is None else torch.maximum(previous, current)

        return hook

    handles = [
        get_module(loaded.module, name).register_forward_hook(record(name)) for name in norms
    ]
    try:
        for step, batch in enumerate(batches):
            cancel.raise_if_cancelled()
            progress(ProgressEvent(step, len(batches), f"batch {step + 1}", "smoothquant"))
            with torch.inference_mode():
                loaded.module(**batch)
    finally:
        for handle in handles:
            handle.remove()
    progress(ProgressEvent(len(batches), len(batches), "", "smoothquant"))
    return absmax


def weight_input_absmax(module: nn.Module, info: LayerInfo) -> torch.Tensor:
    """``max|W|`` per input channel of a layer's weight (any layout)."""
    weight = module.weight.detach().float()
    rows = weight.movedim(info.in_axis, -1).reshape(-1, weight.shape[info.in_axis])
    return torch.nan_to_num(rows.abs(), nan=0.0, posinf=0.0).amax(dim=0)


def smoothing_factors(
    activation_absmax: torch.Tensor, weight_absmax: torch.Tensor, alpha: float
) -> torch.Tensor:
    """``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)``, float32.

    A channel whose activation or weight maximum is zero (a dead channel) gets factor 1,
    and every factor is clamped to ``[FACTOR_MIN, FACTOR_MAX]``.
    """
    if activation_absmax.shape != weight_absmax.shape:
        raise QuantvizError(
            f"activation channels ({activation_absmax.numel()}) and weight input channels "
            f"({weight_absmax.numel()}) differ; SmoothQuant needs one factor per channel"
        )
    act = activation_absmax.double()
    weight = weight_absmax.double()
    factors = act.pow(alpha) / weight.pow(1.0 - alpha)
    dead = (act <= 0) | (weight <= 0) | ~torch.isfinite(factors)
    factors = torch.where(dead, 1.0, factors).clamp(FACTOR_MIN, FACTOR_MAX)
    return factors.float()


def update_smoothing(
    loaded: Any,
    plan: PrecisionPlan,
    batches: Sequence[dict[str, torch.Tensor]] | None,
    *,
    recalibrate: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> SmoothingReport:
    """Bring ``plan.smoothing`` in line with the plan's ``smoothquant_alpha`` settings.

    Factors are (re)computed for every norm group in which a layer has an alpha but no
    factors computed with that alpha, or for all groups with ``recalibrate``. This needs
    ``batches``. Computed factors of layers whose alpha was switched off are removed, and
    the stored scales of every changed layer are dropped, because they were computed
    for the old factors. Factors set by hand (without an entry in
    ``plan.smoothing_alpha``) stay unless the layer has an alpha.
    """
    report = SmoothingReport()
    alphas = {info.name: plan.resolve(info.name).smoothquant_alpha for info in loaded.layers}
    for name in list(plan.smoothing_alpha):
        if alphas.get(name) is None:
            plan.smoothing.pop(name, None)
            plan.smoothing_alpha.pop(name, None)
            plan.scales.pop(name, None)
            report.removed.append(name)
    if all(alpha is None for alpha in alphas.values()):
        return report

    report.groups = find_norm_groups(loaded)
    fed = {name for group in report.groups for name in group.layers}
    report.not_norm_fed = [n for n, a in alphas.items() if a is not None and n not in fed]
    if report.not_norm_fed:
        logger.info(
            "SmoothQuant skips %d layers whose input is not a norm output (first: %s)",
            len(report.not_norm_fed),
            report.not_norm_fed[0],
        )
    stale = [
        group
        for group in report.groups
        if any(
            alphas[name] is not None
            and (recalibrate or plan.smoothing_alpha.get(name) != alphas[name])
            for name in group.layers
        )
    ]
    if not stale:
        return report
    if not batches:
        raise QuantvizError(
            f"{sum(len(g.layers) for g in stale)} layers have a smoothquant_alpha but no "
            f"SmoothQuant factors (first: {stale[0].layers[0]}); pass calibration batches"
        )
    _check_unwrapped(loaded)
    absmax = collect_norm_absmax(
        loaded, [group.norm for group in stale], batches, progress=progress, cancel=cancel
    )
    for group in stale:
        weight_max = torch.stack(
            [
                weight_input_absmax(get_module(loaded.module, name), loaded.layer(name))
                for name in group.layers
            ]
        ).amax(dim=0)
        for name in group.layers:
            alpha = alphas[name]
            if alpha is None:
                continue
            factors = smoothing_factors(absmax[group.norm], weight_max, alpha)
            plan.smoothing[name] = factors.tolist()
            plan.smoothing_alpha[name] = float(alpha)
            plan.scales.pop(name, None)
            report.computed[name] = float(alpha)
    logger.info("computed SmoothQuant factors for %d layers", len(report.computed))
    return report


def fold_smoothing_into_norms(
    loaded: Any,
    plan: PrecisionPlan,
    batches: Sequence[dict[str, torch.Tensor]] | None = None,
    *,
    tolerance: float = FOLD_TOLERANCE,
) -> PrecisionPlan:
    """Fold the plan's SmoothQuant factors into the float model, in place.

    For each norm group whose layers all carry the same factors ``s``, the norm's weight
    and bias are divided by ``s`` and each layer's weight is multiplied by ``s`` along its
    input axis, which leaves the model's function unchanged. A group is folded only when
    a forward pass confirms that (a norm whose output also feeds a residual connection,
    as in BERT, changes the function and is left as it was). Factors not yet computed are
    computed first from ``batches``.

    Returns a copy of ``plan`` without SmoothQuant settings. Its ``smoothing`` keeps only
    the layers that could not be folded, whose inputs applying it still divides. The
    stored scales stay valid for the folded model.
    """
    from quantviz.analysis.evaluation import model_output

    _check_unwrapped(loaded)
    plan = plan.copy()
    update_smoothing(loaded, plan, batches)
    check_batch = _trace_batch(loaded)
    reference = model_output(loaded, check_batch)
    folded: list[str] = []
    for group in find_norm_groups(loaded):
        factors = [plan.smoothing.get(name) for name in group.layers]
        if factors[0] is None or any(f != factors[0] for f in factors):
            if any(f is not None for f in factors):
                logger.info("not folding %s: its layers do not share one factor vector", group.norm)
            continue
        if any(loaded.layer(name).tied_to is not None for name in group.layers):
            logger.info("not folding %s: a layer it feeds shares its weight", group.norm)
            continue
        scale = torch.tensor(factors[0], dtype=torch.float32)
        saved = _scale_group(loaded, group, scale)
        if _relative_change(reference, model_output(loaded, check_batch)) > tolerance:
            with torch.no_grad():
                for parameter, original in saved:
                    parameter.copy_(original)
            logger.info(
                "not folding %s: its output feeds more than the smoothed layers", group.norm
            )
            continue
        folded.extend(group.layers)
    for name in folded:
        plan.smoothing.pop(name, None)
    plan.smoothing_alpha.clear()
    _clear_alpha_settings(plan)
    logger.info(
        "folded SmoothQuant factors of %d layers into their norms; %d layers keep factors",
        len(folded),
        len(plan.smoothing),
    )
    return plan


def _scale_group(
    loaded: Any, group: NormGroup, scale: torch.Tensor
) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """Divide the norm's weight and bias by ``scale`` and multiply the layers' weights
    along their input axis. Return each changed parameter with a copy of its old value."""
    norm = get_module(loaded.module, group.norm)
    saved = []
    with torch.no_grad():
        for parameter in (norm.weight, getattr(norm, "bias", None)):
            if isinstance(parameter, nn.Parameter):
                saved.append((parameter, parameter.detach().clone()))
                parameter.div_(scale.to(parameter.dtype))
        for name in group.layers:
            info = loaded.layer(name)
            weight = get_module(loaded.module, name).weight
            saved.append((weight, weight.detach().clone()))
            shape = [1] * weight.dim()
            shape[info.in_axis] = -1
            weight.mul_(scale.reshape(shape).to(weight.dtype))
    return saved


def _relative_change(reference: torch.Tensor, output: torch.Tensor) -> float:
    scale = float(reference.abs().max()) or 1.0
    return float((output - reference).abs().max()) / scale


def _clear_alpha_settings(plan: PrecisionPlan) -> None:
    """Remove every smoothquant_alpha from the plan's defaults, rules and overrides."""
    from dataclasses import replace

    plan.defaults = replace(plan.defaults, smoothquant_alpha=None)
    plan.rules = [
        Rule(rule.pattern, replace(rule.override, smoothquant_alpha=None, smoothquant_off=False))
        for rule in plan.rules
    ]
    plan.overrides = {
        name: replace(override, smoothquant_alpha=None, smoothquant_off=False)
        for name, override in plan.overrides.items()
    }
    plan.rules = [rule for rule in plan.rules if rule.override != LayerOverride()]
    plan.overrides = {n: o for n, o in plan.overrides.items() if o != LayerOverride()}
