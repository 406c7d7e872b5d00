"""Weight analysis: every quantizable weight under every candidate configuration."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from quantviz.analysis.candidates import WEIGHT_CANDIDATES, Candidate
from quantviz.analysis.heatmap import error_heatmap
from quantviz.analysis.histograms import DEFAULT_BINS, grid_and_clip, histogram, symmetric_limit
from quantviz.analysis.metrics import ReferenceStats, compare
from quantviz.analysis.outliers import tensor_outliers
from quantviz.analysis.results import FormatResult, TensorAnalysis
from quantviz.analysis.weight_batch import analyze_finite_weight, batchable
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.functional import clipped_mask, fake_quantize
from quantviz.quant.qparams import qparams_from_range, tensor_range
from quantviz.quant.scratch import Workspace

logger = logging.getLogger(__name__)

# Bulk analysis keeps small heatmaps for these two candidates, which the GUI shows
# side by side; a full-size heatmap of one layer is computed on demand.
HEATMAP_CANDIDATES = ("fp8_e4m3_tensor", "int8_sym_channel")
BULK_HEATMAP_SIZE = 32


def analyze_weight(
    name: str,
    weight: torch.Tensor,
    out_axis: int,
    candidates: Sequence[Candidate] = WEIGHT_CANDIDATES,
    *,
    bins: int = DEFAULT_BINS,
    heatmap_size: int = BULK_HEATMAP_SIZE,
    heatmap_candidates: Iterable[str] = HEATMAP_CANDIDATES,
    workspace: Workspace | None = None,
) -> TensorAnalysis:
    """Quantize one weight with each candidate (min-max scales) and measure the error.

    ``out_axis`` is the weight's output-channel axis, used for per-channel scales,
    channel outliers and the heatmap's rows. ``heatmap_size=0`` skips heatmaps.
    A finite weight of two or more dimensions goes through
    :func:`quantviz.analysis.weight_batch.analyze_finite_weight`, which stacks the
    candidates it supports; other weights and candidates are quantized one at a time.
    Pass one ``workspace`` for many weights to reuse its scratch buffers.
    """
    weight = weight.detach().float()
    batched = []
    if weight.dim() >= 2 and weight.numel() > 0:
        batched = [c for c in candidates if batchable(c.spec(out_axis), out_axis, weight.dim())]
    # A finite sum means finite elements; an overflowing sum takes the general path.
    total = float(weight.reshape(-1).sum()) if batched else math.nan
    if not math.isfinite(total):
        return _analyze_one_by_one(
            name, weight, out_axis, candidates, bins, heatmap_size, heatmap_candidates
        )
    analysis = analyze_finite_weight(
        name,
        weight,
        out_axis,
        batched,
        bins=bins,
        heatmap_size=heatmap_size,
        heatmap_candidates=heatmap_candidates,
        workspace=workspace or Workspace(),
        total=total,
    )
    if len(batched) == len(candidates):
        return analysis
    # Quantize the remaining candidates one at a time and keep the candidates' order.
    rest = [c for c in candidates if c not in batched]
    others = _analyze_one_by_one(
        name, weight, out_axis, rest, bins, heatmap_size, heatmap_candidates
    )
    results = {**analysis.results, **others.results}
    analysis.results = {c.key: results[c.key] for c in candidates}
    return analysis


def _analyze_one_by_one(
    name: str,
    weight: torch.Tensor,
    out_axis: int,
    candidates: Sequence[Candidate],
    bins: int,
    heatmap_size: int,
    heatmap_candidates: Iterable[str],
) -> TensorAnalysis:
    """Analyse any weight with any candidates, one fake-quantized copy at a time."""
    reference = ReferenceStats.of(weight)
    limit = symmetric_limit(weight)
    analysis = TensorAnalysis(
        layer=name,
        role="weight",
        shape=list(weight.shape),
        histogram=histogram(weight, limit, bins),
        outliers=tensor_outliers(weight, out_axis),
        nonfinite=weight.numel() - reference_count(weight, reference),
    )
    ranges: dict[tuple[str, int | None, int | None], tuple[torch.Tensor, torch.Tensor]] = {}
    wanted_heatmaps = set(heatmap_candidates) if heatmap_size > 0 else set()
    for candidate in candidates:
        spec = candidate.spec(out_axis)
        key = (spec.granularity, spec.axis, spec.group_size)
        if key not in ranges:
            low, high, _ = tensor_range(weight, spec)
            ranges[key] = (low, high)
        qparams = qparams_from_range(*ranges[key], spec)
        quantized = fake_quantize(weight, qparams)
        grid, clip = grid_and_clip(qparams)
        # Symmetric min-max scales map the largest magnitude onto the largest code, so
        # nothing clips; asymmetric zero points are rounded and may clip half a step.
        clipped = None if spec.symmetric else clipped_mask(weight, qparams)
        heatmap = None
        if candidate.key in wanted_heatmaps:
            heatmap = error_heatmap(weight, quantized, out_axis, heatmap_size)
        analysis.results[candidate.key] = FormatResult(
            candidate=candidate.key,
            spec=spec.to_dict(),
            metrics=compare(weight, quantized, clipped, reference=reference, zero_preserving=True),
            histogram=histogram(quantized, limit, bins),
            clip_range=clip,
            grid=grid,
            scale_min=float(qparams.scale.min()),
            scale_max=float(qparams.scale.max()),
            heatmap=heatmap,
        )
    return analysis


def reference_count(weight: torch.Tensor, reference: ReferenceStats) -> int:
    """Number of finite elements of ``weight``."""
    if reference.all_finite:
        return weight.numel()
    return int(torch.isfinite(weight).sum())


def analyze_weights(
    named_weights: Iterable[tuple[str, torch.Tensor, int]],
    total: int,
    candidates: Sequence[Candidate] = WEIGHT_CANDIDATES,
    *,
    heatmap_size: int = BULK_HEATMAP_SIZE,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, TensorAnalysis]:
    """Analyse ``(name, weight, out_axis)`` triples one at a time.

    Only one weight is held beyond the iterator's own storage, so streaming from a
    memory-mapped file keeps memory near the largest tensor.
    """
    results: dict[str, TensorAnalysis] = {}
    workspace = Workspace()
    for step, (name, weight, out_axis) in enumerate(named_weights):
        cancel.raise_if_cancelled()
        progress(ProgressEvent(step, total, name, "weights"))
        results[name] = analyze_weight(
            name, weight, out_axis, candidates, heatmap_size=heatmap_size, workspace=workspace
        )
    progress(ProgressEvent(total, total, "", "weights"))
    return results


def model_weights(loaded) -> Iterable[tuple[str, torch.Tensor, int]]:
    """Yield ``(layer name, weight, out_axis)`` for each layer of a loaded model.

    Tied weights are listed once by layer discovery, so they are analysed once. A weight
    that accelerate offloaded (``load_model(..., device_map=...)``) is read from its
    offload when it is yielded, so only one such weight is in memory at a time.
    """
    from quantviz.model.layers import get_module
    from quantviz.model.offload import read_parameter

    for info in loaded.layers:
        module = get_module(loaded.module, info.name)
        yield info.name, read_parameter(module, "weight"), info.out_axis


def safetensors_weights(path: str | Path) -> Iterable[tuple[str, torch.Tensor, int]]:
    """Yield the 2-D weights of a safetensors file or folder without building the model.

    The output axis is taken as 0, as for ``nn.Linear``; a GPT-2 ``Conv1D`` checkpoint
    stores ``[in, out]``, which this function cannot tell from the header.
    """
    from quantviz.model.loading import iter_safetensors_weights

    # NOTE: GPT-2 Conv1D weights streamed from a file are analysed with axis 0 as the
    # output axis; analyse the loaded model instead to get axis 1 for those.
    for name, tensor in iter_safetensors_weights(path):
        if tensor.dim() == 2 and name.endswith(".weight"):
            yield name.removesuffix(".weight"), tensor, 0
