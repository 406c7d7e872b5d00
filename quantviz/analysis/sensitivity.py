"""Per-layer sensitivity: quantize one layer alone and measure the whole model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from quantviz.analysis.candidates import CANDIDATES
from quantviz.analysis.evaluation import OutputComparison, model_output
from quantviz.analysis.results import Sensitivity
from quantviz.model.calibration import CalibrationResult
from quantviz.model.layers import get_module
from quantviz.model.offload import require_resident
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.layer_quant import fake_quantized_layer
from quantviz.quant.qparams import qparams_for_tensor

logger = logging.getLogger(__name__)


def measure_sensitivity(
    loaded: Any,
    calibration: CalibrationResult,
    batches: Sequence[dict[str, torch.Tensor]],
    *,
    weight_candidate: str = "int8_sym_channel",
    input_candidate: str = "int8_sym_tensor",
    layers: Sequence[str] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, Sensitivity]:
    """For each layer, quantize its weights, its input, then both, with all other
    layers in float, and compare the model's outputs on ``batches`` with float.

    Costs three forward passes over ``batches`` per layer, so ``batches`` is usually
    a small slice of the calibration data. A model with offloaded weights raises
    QuantvizError.
    """
    require_resident(
        loaded,
        "Sensitivity measurement",
        "Pass sensitivity_samples=0 (CLI: --sensitivity-samples 0) or load the model "
        "without a device_map.",
    )
    references = [model_output(loaded, batch) for batch in batches]
    names = list(layers) if layers is not None else list(calibration.layers)
    results: dict[str, Sensitivity] = {}
    for step, name in enumerate(names):
        cancel.raise_if_cancelled()
        progress(ProgressEvent(step, len(names), name, "sensitivity"))
        info = loaded.layer(name)
        module = get_module(loaded.module, name)
        weight_qparams = qparams_for_tensor(
            module.weight, CANDIDATES[weight_candidate].spec(info.out_axis)
        )
        input_qparams = calibration.input_qparams(name, input_candidate)
        runs = {
            "weights": (weight_qparams, None),
            "inputs": (None, input_qparams),
            "both": (weight_qparams, input_qparams),
        }
        comparisons = {}
        for label, (weight, inputs) in runs.items():
            comparison = OutputComparison(loaded.task)
            with fake_quantized_layer(module, weight, inputs):
                for batch, reference in zip(batches, references, strict=True):
                    comparison.add(reference, model_output(loaded, batch), batch)
            comparisons[label] = comparison
        results[name] = Sensitivity(
            metric="kl" if loaded.task == "causal_lm" else "cosine_loss",
            weights=comparisons["weights"].loss,
            inputs=comparisons["inputs"].loss,
            both=comparisons["both"].loss,
            perplexity_change=comparisons["both"].perplexity_change,
        )
    progress(ProgressEvent(len(names), len(names), "", "sensitivity"))
    return results
