"""Per-layer sensitivity: quantize one layer alone and measure the whole model.

Quantizing a layer inside block ``b`` of the model's stack of blocks (decoder or encoder
layers) leaves the outputs of blocks ``0 .. b-1`` unchanged. Those outputs are recorded
once, in the float pass, and replayed while the layer is quantized, so each pass runs
only the blocks from ``b`` on, the embeddings and the head.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from quantviz.analysis.candidates import CANDIDATES
from quantviz.analysis.evaluation import OutputComparison, ReferenceTerms, model_output
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
    if loaded.task == "causal_lm":
        # A replayed block writes nothing to a KV cache, so no pass uses one.
        batches = [{**batch, "use_cache": False} for batch in batches]
    replay = BlockReplay.find(loaded.module)
    with replay.recording() if replay else contextlib.nullcontext():
        references = []
        for index, batch in enumerate(batches):
            if replay:
                replay.batch = index
            references.append(model_output(loaded, batch))
    terms: list[ReferenceTerms | None] = [None] * len(batches)
    if loaded.task == "causal_lm":
        terms = [ReferenceTerms.of(r, b) for r, b in zip(references, batches, strict=True)]
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
        skipped = replay.replaying(name) if replay else contextlib.nullcontext()
        with skipped:
            for label, (weight, inputs) in runs.items():
                comparison = OutputComparison(loaded.task)
                with fake_quantized_layer(module, weight, inputs):
                    for index, batch in enumerate(batches):
                        if replay:
                            replay.batch = index
                        output = model_output(loaded, batch)
                        comparison.add(references[index], output, batch, terms[index])
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


class BlockReplay:
    """Recorder and replayer of a model's block outputs, for the blocks before a layer.

    ``blocks`` is the model's largest ``nn.ModuleList`` (for example
    ``model.layers`` of a Llama or ``encoder.layer`` of a BERT) and ``prefix`` its
    qualified name. ``batch`` selects which recorded batch the replayed blocks return.
    """

    def __init__(self, prefix: str, blocks: nn.ModuleList) -> None:
        self.prefix = prefix
        self.blocks = blocks
        self.batch = 0
        self.outputs: list[list[Any]] = []

    @classmethod
    def find(cls, model: nn.Module) -> BlockReplay | None:
        """Return a replay over ``model``'s largest ModuleList of at least two blocks."""
        best: tuple[str, nn.ModuleList] | None = None
        for name, module in model.named_modules():
            if not isinstance(module, nn.ModuleList) or len(module) < 2:
                continue
            if best is None or len(module) > len(best[1]):
                best = (name, module)
        return cls(*best) if best is not None else None

    def first_block(self, layer: str) -> int:
        """Return the index of the block that contains ``layer``, or 0 (replay nothing)
        for a layer outside the stack."""
        start = f"{self.prefix}." if self.prefix else ""
        if not layer.startswith(start):
            return 0
        head = layer[len(start) :].split(".", 1)[0]
        return int(head) if head.isdigit() and int(head) < len(self.blocks) else 0

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record every block's output of each forward, under index ``batch``."""

        def keep(index: int):
            def hook(module: nn.Module, args: Any, output: Any) -> None:
                while len(self.outputs) <= self.batch:
                    self.outputs.append([None] * len(self.blocks))
                self.outputs[self.batch][index] = output

            return hook

        handles = [block.register_forward_hook(keep(i)) for i, block in enumerate(self.blocks)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @contextlib.contextmanager
    def replaying(self, layer: str) -> Iterator[None]:
        """Make the blocks before ``layer``'s block return their recorded outputs."""
        count = self.first_block(layer)
        for index in range(count):
            block = self.blocks[index]
            block.forward = self._recorded(index)  # type: ignore[method-assign]
        try:
            yield
        finally:
            for index in range(count):
                del self.blocks[index].forward

    def _recorded(self, index: int):
        def forward(*args: Any, **kwargs: Any) -> Any:
            return self.outputs[self.batch][index]

        return forward
