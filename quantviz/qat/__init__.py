"""Quantization-aware training (QAT) of a plan-applied model.

The names below are imported on first use, so that ``quantviz.qat.config`` (which the
CLI reads to build its parser) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DISTILLATION_MODES": "quantviz.qat.config",
    "QATConfig": "quantviz.qat.config",
    "PauseToken": "quantviz.qat.pause",
    "EvalPoint": "quantviz.qat.result",
    "LayerSQNR": "quantviz.qat.result",
    "QATResult": "quantviz.qat.result",
    "run_qat": "quantviz.qat.run",
    "QATTrainer": "quantviz.qat.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quantviz.qat' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
