"""Fake-quantization modules: a quantizer for one tensor and a wrapper for one layer."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from quantviz.quant.autograd import fake_quantize_lsq, fake_quantize_ste
from quantviz.quant.functional import fake_quantize
from quantviz.quant.qparams import MIN_SCALE, QParams
from quantviz.quant.spec import QuantSpec


class FakeQuantizer(nn.Module):
    """Fake-quantizes one tensor with stored qparams.

    With ``learnable=True`` the scale (and, for asymmetric integer specs, the zero
    point) become ``nn.Parameter``s trained with LSQ gradients; otherwise they are
    buffers and the input gets a straight-through gradient. In eval mode without
    gradients the fast in-place :func:`fake_quantize` is used; both paths give the
    same values.
    """

    def __init__(self, qparams: QParams, learnable: bool = False) -> None:
        super().__init__()
        self.spec: QuantSpec = qparams.spec
        scale = qparams.scale.detach().clone().float()
        zero_point = qparams.zero_point.detach().clone().float()
        self.learnable = learnable
        if learnable:
            self.scale = nn.Parameter(scale)
            learn_zero = not self.spec.symmetric and not self.spec.is_float
            if learn_zero:
                self.zero_point = nn.Parameter(zero_point)
            else:
                self.register_buffer("zero_point", zero_point)
        else:
            self.register_buffer("scale", scale)
            self.register_buffer("zero_point", zero_point)

    def qparams(self) -> QParams:
        """Current qparams (learned values rounded and clamped as the forward uses them)."""
        scale = self.scale.detach().clamp_min(MIN_SCALE).clone()
        zero_point = self.zero_point.detach().round()
        if not self.spec.is_float:
            zero_point = zero_point.clamp(self.spec.qmin, self.spec.qmax)
        return QParams(scale, zero_point.to(torch.int32), self.spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.learnable and torch.is_grad_enabled():
            zero_point = self.zero_point if isinstance(self.zero_point, nn.Parameter) else None
            return fake_quantize_lsq(x, self.scale, self.spec, zero_point)
        qparams = self.qparams()
        if torch.is_grad_enabled() and x.requires_grad:
            return fake_quantize_ste(x, qparams)
        return fake_quantize(x, qparams)

    def extra_repr(self) -> str:
        return f"{self.spec.label}, learnable={self.learnable}"


class QuantizedLayer(nn.Module):
    """Wraps a layer so that its weight and/or input are fake-quantized.

    The wrapped module is kept unchanged as ``inner`` (:func:`unwrap` restores it);
    its forward runs with the fake-quantized weight through ``torch.func.functional_call``,
    so ``nn.Linear``, GPT-2's ``Conv1D`` and convolutions work alike. ``smoothing``
    (per input channel, optional) divides the input and multiplies the weight's input
    channels, which leaves the float function unchanged.
    """

    def __init__(
        self,
        inner: nn.Module,
        weight_quantizer: FakeQuantizer | None,
        input_quantizer: FakeQuantizer | None,
        in_axis: int = 1,
        smoothing: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.weight_quantizer = weight_quantizer
        self.input_quantizer = input_quantizer
        self.in_axis = in_axis
        if smoothing is not None:
            self.register_buffer("smoothing", smoothing.detach().float().clone())
        else:
            self.smoothing = None

    def effective_weight(self) -> torch.Tensor:
        """The weight after smoothing, before quantization."""
        weight = self.inner.weight
        if self.smoothing is not None:
            shape = [1] * weight.dim()
            shape[self.in_axis] = -1
            weight = weight * self.smoothing.reshape(shape).to(weight.dtype)
        return weight

    def quantized_weight(self) -> torch.Tensor:
        weight = self.effective_weight()
        if self.weight_quantizer is not None:
            weight = self.weight_quantizer(weight)
        return weight

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.smoothing is not None:
            x = x / self.smoothing.to(x.dtype)
        if self.input_quantizer is not None:
            x = self.input_quantizer(x)
        if self.weight_quantizer is None and self.smoothing is None:
            return self.inner(x, *args, **kwargs)
        return functional_call(self.inner, {"weight": self.quantized_weight()}, (x, *args), kwargs)


def unwrap(module: nn.Module) -> nn.Module:
    """The original layer inside a :class:`QuantizedLayer`, or ``module`` itself."""
    return module.inner if isinstance(module, QuantizedLayer) else module
