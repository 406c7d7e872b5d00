"""Differentiable fake quantization for training.

Both functions compute exactly the values of
:func:`quantviz.quant.functional.fake_quantize`; they differ in their gradients.

* Straight-through estimator (STE): ``d fq(x) / dx`` is 1 where ``x`` lies inside
  the representable range and 0 where it is clipped.
* Learned step size (LSQ, Esser et al. 2020, "Learned Step Size Quantization"):
  the scale is a parameter with ``d fq / d scale = round(x/s) - x/s`` inside the
  range and the clip bound outside it, multiplied by ``grad_scale``
  (``1 / sqrt(numel * qmax)`` by default) so that scale and weight updates have
  similar size. A learnable zero point (LSQ+) gets ``-scale`` where values clip and
  0 inside the range.
"""

from __future__ import annotations

import math

import torch

from quantviz.quant.functional import round_to_float_format
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import QuantSpec


def _round_ste(v: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """Round onto the grid in the forward pass, identity in the backward pass."""
    if spec.is_float:
        rounded = round_to_float_format(v.detach(), spec.format)
    else:
        rounded = torch.round(v.detach())
    # ``rounded - (v.detach() - v)`` rather than ``v + (rounded - v.detach())``: the
    # latter turns a -0.0 from rounding a small negative value into +0.0, so the
    # result would not be bit-identical to fake_quantize.
    return rounded - (v.detach() - v)


class _GradientScale(torch.autograd.Function):
    """Identity in the forward pass; multiplies the gradient by ``factor``.

    The detach trick ``t * f + (t - t * f).detach()`` would change ``t`` by an ulp
    through rounding, so the engine's scale would not reach the forward pass exactly.
    """

    @staticmethod
    def forward(ctx, t: torch.Tensor, factor: float) -> torch.Tensor:  # type: ignore[override]
        ctx.factor = factor
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad * ctx.factor, None


def _scale_gradient(t: torch.Tensor, factor: float) -> torch.Tensor:
    """Return ``t`` unchanged, with its gradient multiplied by ``factor``."""
    return _GradientScale.apply(t, factor)


def _bounds(spec: QuantSpec, zero_point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.is_float:
        limit = torch.full_like(zero_point, float(spec.format.max_value), dtype=torch.float32)
        return -limit, limit
    zero_point = zero_point.float()
    return spec.qmin - zero_point, spec.qmax - zero_point


def _fake_quantize_differentiable(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, spec: QuantSpec
) -> torch.Tensor:
    """``round(clamp(x / s, lo, hi)) * s`` with the rounding made straight-through.

    ``scale`` and ``zero_point`` are already shaped to broadcast with ``x``.
    """
    low, high = _bounds(spec, zero_point)
    scaled = torch.clamp(x.float() / scale, low, high)
    return (_round_ste(scaled, spec) * scale).to(x.dtype)


def fake_quantize_ste(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Fake-quantize with fixed qparams and a straight-through gradient for ``x``."""
    scale, zero_point = qparams.broadcast_to(x)
    return _fake_quantize_differentiable(x, scale, zero_point, qparams.spec)


def lsq_grad_scale(numel: int, spec: QuantSpec) -> float:
    """LSQ's gradient scale ``1 / sqrt(numel * qmax)`` for ``numel`` elements per scale."""
    qmax = spec.format.max_value if spec.is_float else spec.qmax
    return 1.0 / math.sqrt(max(numel, 1) * qmax)


def fake_quantize_lsq(
    x: torch.Tensor,
    scale: torch.Tensor,
    spec: QuantSpec,
    zero_point: torch.Tensor | None = None,
    grad_scale: float | None = None,
) -> torch.Tensor:
    """Fake-quantize with a learnable ``scale`` (and optionally ``zero_point``).

    ``scale`` (and ``zero_point``, a float tensor rounded in the forward pass) have
    the qparams shape of ``spec`` and usually are ``nn.Parameter``s. ``scale`` must
    stay positive; the caller clamps it after each optimizer step.
    """
    template = QParams(scale, torch.zeros_like(scale, dtype=torch.int32), spec)
    if grad_scale is None:
        grad_scale = lsq_grad_scale(x.numel() // max(scale.numel(), 1), spec)
    scale = _scale_gradient(scale, grad_scale)
    if zero_point is None:
        zero_point = torch.zeros_like(scale)
    else:
        zero_point = _scale_gradient(zero_point, grad_scale)
        zero_point = zero_point + (torch.round(zero_point) - zero_point).detach()
    scale_b, _ = QParams(scale, template.zero_point, spec).broadcast_to(x)
    zero_b, _ = QParams(zero_point, template.zero_point, spec).broadcast_to(x)
    return _fake_quantize_differentiable(x, scale_b, zero_b, spec)
