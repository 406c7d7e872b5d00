"""Temporarily fake-quantize one layer in place, for inference-only measurements."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from quantviz.quant.functional import fake_quantize
from quantviz.quant.qparams import QParams


@contextlib.contextmanager
def fake_quantized_layer(
    module: nn.Module,
    weight: QParams | None = None,
    inputs: QParams | None = None,
) -> Iterator[nn.Module]:
    """Within the block, ``module`` uses a fake-quantized weight and/or input.

    The weight is replaced in place and restored on exit (also on error), so no copy
    of the model is made; the input is quantized by a forward pre-hook. Not for
    training: the replaced weight carries no gradient path.
    """
    saved = None
    handle = None
    try:
        if weight is not None:
            saved = module.weight.detach().clone()
            with torch.no_grad():
                module.weight.copy_(fake_quantize(module.weight, weight))
        if inputs is not None:

            def quantize_input(_module: nn.Module, args: tuple) -> tuple:
                if not args or not isinstance(args[0], torch.Tensor):
                    return args
                return (fake_quantize(args[0], inputs), *args[1:])

            handle = module.register_forward_pre_hook(quantize_input)
        yield module
    finally:
        if handle is not None:
            handle.remove()
        if saved is not None:
            with torch.no_grad():
                module.weight.copy_(saved)
