"""Quantize, dequantize and fake-quantize with ONNX ``QuantizeLinear`` semantics.

Integer: ``q = clamp(round_half_to_even(x / scale) + zero_point, qmin, qmax)``.
Float: ``q = saturate(round_to_nearest_even(x / scale))`` in the target format, so
finite values beyond the format's max become the max, +-inf becomes +-max and NaN
stays NaN (``saturate=1`` in ONNX). ``x / scale`` is a float32 division, as in ONNX
Runtime; multiplying by ``1 / scale`` instead would round some ties differently.
Integer NaN has no code: :func:`quantize` maps it to the zero point, while
:func:`fake_quantize` lets it through as NaN so it stays visible.
"""

from __future__ import annotations

import torch

from quantviz.formats import FloatFormat
from quantviz.quant.qparams import QParams


def round_to_float_format(v: torch.Tensor, fmt: FloatFormat) -> torch.Tensor:
    """Round float32 ``v`` to the nearest value of ``fmt`` (ties to even), saturating.

    Uses torch's native float8 cast when the format has one and an exact float32
    emulation otherwise. ``v`` is not modified.
    """
    clipped = v.clamp(-fmt.max_value, fmt.max_value)
    if fmt.torch_dtype is not None:
        return clipped.to(fmt.torch_dtype).float()
    return emulate_float_rounding(clipped, fmt)


def emulate_float_rounding(v: torch.Tensor, fmt: FloatFormat) -> torch.Tensor:
    """Round in-range float32 ``v`` onto ``fmt``'s grid without a native dtype.

    The spacing of the grid near ``v`` is ``2**(e - mantissa_bits)`` where ``e`` is
    ``v``'s binary exponent, floored at the format's smallest normal exponent so that
    subnormals share one spacing. Every step is exact in float32.
    """
    _, exponent = torch.frexp(v)
    # frexp gives v = m * 2**exponent with 0.5 <= |m| < 1, so floor(log2|v|) = exponent - 1.
    exponent = (exponent - 1).clamp_min(1 - fmt.bias)
    spacing = torch.ldexp(torch.ones_like(v), exponent - fmt.mantissa_bits)
    return torch.round(v / spacing) * spacing


def quantize(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Quantize ``x`` to codes: int8/uint8 for integer formats, float8 for FP8.

    Formats without a torch dtype (FP4) return their values as float32.
    """
    spec = qparams.spec
    scale, zero_point = qparams.broadcast_to(x)
    scaled = x.float() / scale
    if spec.is_float:
        return _quantize_float(scaled, spec.format)
    codes = torch.round(scaled).add_(zero_point).clamp_(spec.qmin, spec.qmax)
    codes = torch.where(scaled.isnan(), zero_point.float(), codes)
    return codes.to(spec.format.storage_dtype)


def _quantize_float(scaled: torch.Tensor, fmt: FloatFormat) -> torch.Tensor:
    clipped = scaled.clamp(-fmt.max_value, fmt.max_value)
    if fmt.torch_dtype is not None:
        return clipped.to(fmt.torch_dtype)
    return emulate_float_rounding(clipped, fmt)


def dequantize(codes: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Map codes back to float32: ``(q - zero_point) * scale``."""
    scale, zero_point = qparams.broadcast_to(codes)
    values = codes.float()
    if not qparams.spec.is_float:
        values = values - zero_point
    return values * scale


def fake_quantize(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Quantize then dequantize in float32; return a tensor of ``x``'s dtype.

    Equivalent to ``dequantize(quantize(x))`` for finite input, but in one pass of
    in-place float32 operations. No gradient: use
    :func:`quantviz.quant.autograd.fake_quantize_ste` for training.
    """
    spec = qparams.spec
    scale, zero_point = qparams.broadcast_to(x)
    out = torch.div(x.detach().float(), scale)
    if spec.is_float:
        fmt = spec.format
        out.clamp_(-fmt.max_value, fmt.max_value)
        if fmt.torch_dtype is not None:
            out = out.to(fmt.torch_dtype).float()
        else:
            out = emulate_float_rounding(out, fmt)
    else:
        out.round_()
        if spec.granularity == "tensor":
            zp = int(zero_point.item())
            out.clamp_(spec.qmin - zp, spec.qmax - zp)
        else:
            # round(v) + zp clamped to [qmin, qmax], minus zp, is round(v) clamped to
            # [qmin - zp, qmax - zp] because zp is an integer.
            out = torch.clamp(out, spec.qmin - zero_point, spec.qmax - zero_point)
    out.mul_(scale)
    return out.to(x.dtype)


def clipped_mask(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    """Boolean mask of finite elements of ``x`` that fall outside the representable range."""
    spec = qparams.spec
    scale, zero_point = qparams.broadcast_to(x)
    scaled = x.detach().float() / scale
    if spec.is_float:
        limit = spec.format.max_value
        return torch.isfinite(x) & (scaled.abs() > limit)
    low = spec.qmin - zero_point - 0.5
    high = spec.qmax - zero_point + 0.5
    return torch.isfinite(x) & ((scaled < low) | (scaled > high))
