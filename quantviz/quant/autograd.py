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


def _bounds(spec: QuantSpec, zero_point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.is_float:
        limit = torch.full_like(zero_point, float(spec.format.max_value), dtype=torch.float32)
        return -limit, limit
    zero_point = zero_point.float()
    return spec.qmin - zero_point, spec.qmax - zero_point


def _sum_to_qparams(
    per_element: torch.Tensor, broadcast_shape: torch.Size, qparams_shape: torch.Size, spec
) -> torch.Tensor:
    """Sum a per-element gradient over the elements that share each scale."""
    if spec.granularity == "group":
        axis = spec.axis % per_element.dim()
        grouped = per_element.unflatten(axis, (-1, int(spec.group_size or 1)))
        return grouped.sum(dim=axis + 1)
    return per_element.sum_to_size(broadcast_shape).reshape(qparams_shape)


class _FakeQuantize(torch.autograd.Function):
    """``round(clamp(x / s, lo, hi)) * s`` with STE and LSQ gradients, as one autograd node.

    The forward pass is the float32 division ``x.float() / scale``, clamp, rounding and
    multiplication, so its values are those of :func:`fake_quantize` (see the module
    docstring). The backward pass applies the closed-form gradients instead of
    differentiating a graph of a dozen element-wise operations:

    * ``d out / d x`` is 1 where ``lo <= x / s <= hi`` and 0 elsewhere (STE);
    * ``d out / d s`` is ``round(x / s) - x / s`` inside the range and the clip bound
      outside it (LSQ);
    * ``d out / d z`` is ``-s`` outside the range and 0 inside it (LSQ+);

    the last two summed over the elements sharing a scale and multiplied by
    ``grad_scale``. ``zero_point`` must already hold integer values (a learnable zero
    point is rounded with a straight-through gradient by the caller).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        x: torch.Tensor,
        scale: torch.Tensor,
        zero_point: torch.Tensor,
        spec: QuantSpec,
        grad_scale: float,
    ) -> torch.Tensor:
        scale_b, zero_b = QParams(scale, zero_point, spec).broadcast_to(x)
        low, high = _bounds(spec, zero_b)
        scaled = x.float() / scale_b
        clamped = torch.clamp(scaled, low, high)
        needs_x, needs_scale, needs_zero = ctx.needs_input_grad[:3]
        inside = None
        if needs_x or needs_scale or needs_zero:
            # Equal exactly where low <= x / s <= high (bounds included, as in torch.clamp's
            # gradient); NaN compares unequal, so it counts as outside.
            inside = clamped == scaled
        if spec.is_float:
            rounded = round_to_float_format(clamped, spec.format)
        else:
            rounded = clamped.round_()
        out = (rounded * scale_b).to(x.dtype)

        scale_term = None
        if needs_scale:
            # Outside the range ``rounded`` is the clip bound itself.
            scale_term = torch.where(inside, rounded - scaled, rounded)
        ctx.spec = spec
        ctx.grad_scale = grad_scale
        ctx.compute_dtype = rounded.dtype
        ctx.shapes = (scale_b.shape, scale.shape, zero_b.shape, zero_point.shape)
        ctx.save_for_backward(inside, scale_term, scale_b if needs_zero else None)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        inside, scale_term, scale_b = ctx.saved_tensors
        needs_x, needs_scale, needs_zero = ctx.needs_input_grad[:3]
        scale_shape_b, scale_shape, zero_shape_b, zero_shape = ctx.shapes
        grad_x = grad_scale = grad_zero = None
        if needs_x:
            grad_x = torch.where(inside, grad, 0)
        # The scale and zero point gradients use the forward pass's dtype (float32, or
        # float64 for a float64 scale). A 0-dim scale does not promote a bfloat16 gradient.
        grad = grad.to(ctx.compute_dtype)
        if needs_scale:
            per_element = grad * scale_term
            summed = _sum_to_qparams(per_element, scale_shape_b, scale_shape, ctx.spec)
            grad_scale = summed * ctx.grad_scale
        if needs_zero:
            per_element = torch.where(inside, 0, -grad * scale_b)
            summed = _sum_to_qparams(per_element, zero_shape_b, zero_shape, ctx.spec)
            grad_zero = summed * ctx.grad_scale
        return grad_x, grad_scale, grad_zero, None, None


def fake_quantize_ste(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Fake-quantize with fixed qparams and a straight-through gradient for ``x``."""
    return _FakeQuantize.apply(x, qparams.scale, qparams.zero_point, qparams.spec, 1.0)


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
    if grad_scale is None:
        grad_scale = lsq_grad_scale(x.numel() // max(scale.numel(), 1), spec)
    if zero_point is None:
        zero_point = torch.zeros_like(scale)
    else:
        # Integer values forward, identity gradient; the product stays exactly round(z).
        zero_point = zero_point + (torch.round(zero_point) - zero_point).detach()
    return _FakeQuantize.apply(x, scale, zero_point, spec, grad_scale)
