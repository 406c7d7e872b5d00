"""The frozen float teacher for distillation, without a second copy of the model.

The student is the plan-applied model. Every :class:`~quantviz.quant.modules.QuantizedLayer`
keeps the original layer as ``inner``, so putting the inner layers back for one forward
pass gives the float architecture. QAT changes the weights of those layers, so the teacher
keeps a copy of the original values of the trained parameters only (the weights and biases
of the wrapped layers) and runs with them through ``torch.func.functional_call``.
Embeddings, norms and every other parameter are shared with the student, because QAT
does not train them. When no weight trains (``learning_rate=0``) the teacher copies nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from quantviz.model.layers import get_module
from quantviz.qat.losses import forward_features


def set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule ``name`` of ``root`` with ``module``."""
    parent_name, _, child = name.rpartition(".")
    parent = get_module(root, parent_name) if parent_name else root
    setattr(parent, child, module)


@contextmanager
def wrappers_bypassed(applied: Any) -> Iterator[nn.Module]:
    """Put the original layers in place of the applied plan's wrappers for a while.

    Yields the model's root module, which then computes the float function of its
    current parameters. The wrappers are back in place when the block exits, also on
    error.
    """
    root = applied.loaded.module
    for name, wrapper in applied.wrappers.items():
        set_module(root, name, wrapper.inner)
    try:
        yield root
    finally:
        for name, wrapper in applied.wrappers.items():
            set_module(root, name, wrapper)


class FloatTeacher:
    """Computes the float model's outputs while the student trains.

    ``originals`` maps parameter names of the unwrapped model (``layer.weight``) to the
    values those parameters had before training; parameters not named are read from the
    model as they are.
    """

    def __init__(self, applied: Any, task: str, originals: dict[str, torch.Tensor]) -> None:
        self.applied = applied
        self.task = task
        self.originals = originals

    @classmethod
    def snapshot(cls, applied: Any, task: str, trained: dict[str, nn.Parameter]) -> FloatTeacher:
        """A teacher holding a copy of the current values of the ``trained`` parameters."""
        originals = {name: parameter.detach().clone() for name, parameter in trained.items()}
        return cls(applied, task, originals)

    @property
    def copied_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.originals.values())

    def outputs(self, batch: dict[str, torch.Tensor], features: str) -> torch.Tensor:
        """The float model's logits or pooled embeddings for ``batch`` (no gradient)."""
        with torch.inference_mode(), wrappers_bypassed(self.applied) as root:
            if not self.originals:
                return forward_features(root, self.task, batch, features)
            # functional_call swaps the original values in for this call only; tied
            # parameters (a tied LM head) follow the tensor given for either name.
            return functional_call(
                _FeatureModule(root, self.task, features),
                {f"model.{name}": value for name, value in self.originals.items()},
                (batch,),
                strict=False,
                tie_weights=True,
            )


class _FeatureModule(nn.Module):
    """Adapts :func:`forward_features` to ``functional_call``, which calls ``forward``."""

    def __init__(self, model: nn.Module, task: str, features: str) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.features = features

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return forward_features(self.model, self.task, batch, self.features)
