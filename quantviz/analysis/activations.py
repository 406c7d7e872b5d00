"""Activation analysis from calibration statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from quantviz.analysis.candidates import ACTIVATION_CANDIDATES, Candidate
from quantviz.analysis.heatmap import activation_heatmap
from quantviz.analysis.histograms import (
    DEFAULT_BINS,
    Histogram,
    grid_and_clip,
    histogram_edges,
    rebin,
)
from quantviz.analysis.metrics import compare
from quantviz.analysis.outliers import (
    DEFAULT_K_SIGMA,
    LLM_INT8_THRESHOLD,
    OutlierStats,
    channel_ratio,
    top_channels,
)
from quantviz.analysis.results import FormatResult, TensorAnalysis
from quantviz.model.calibration import ActivationRecorder
from quantviz.quant.functional import fake_quantize
from quantviz.quant.qparams import QParams


def recorded_histogram(recorder: ActivationRecorder, bins: int = DEFAULT_BINS) -> Histogram:
    """The recorder's streaming histogram merged down to ``bins`` bins.

    A recorder that saw no finite value gets ``bins`` empty bins over ``[-1, 1]``.
    """
    observer = recorder.histogram
    if observer.hist is None or observer.limit is None:
        return Histogram(histogram_edges(1.0, bins), [0.0] * bins)
    counts = observer.hist[0]
    merge = max(counts.numel() // bins, 1)
    merged = counts.reshape(-1, merge).sum(dim=1)
    limit = float(observer.limit[0])
    edges = torch.linspace(-limit, limit, merged.numel() + 1)
    return Histogram([float(f"{v:.7g}") for v in edges.tolist()], merged.tolist())


def _histogram_tensors(recorder: ActivationRecorder) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Bin centers, counts and limit of the recorder's histogram.

    A recorder that saw no finite value (every input NaN or inf) has no histogram, so
    it gets zero counts on bins over ``[-1, 1]``.
    """
    observer = recorder.histogram
    if observer.hist is None or observer.limit is None:
        offsets = (torch.arange(observer.bins, dtype=torch.float32) + 0.5) / observer.bins
        return offsets * 2 - 1, torch.zeros(observer.bins, dtype=torch.float64), 1.0
    return observer.bin_centers()[0], observer.hist[0], float(observer.limit[0])


def _clipped_fraction(centers: torch.Tensor, counts: torch.Tensor, qparams: QParams) -> float:
    """Share of all recorded values beyond the clip range, at histogram resolution.

    A bin counts as clipped only when it lies wholly outside the range, so min-max
    scales report 0 and a clip inside a bin is missed by at most that bin.
    """
    _, (low, high) = grid_and_clip(qparams)
    half_bin = float(centers[1] - centers[0]) / 2 if centers.numel() > 1 else 0.0
    if not qparams.spec.is_float:
        half_step = float(qparams.scale.max()) / 2
        low, high = low - half_step, high + half_step
    total = float(counts.sum())
    outside = float(counts[(centers + half_bin < low) | (centers - half_bin > high)].sum())
    return outside / total if total > 0 else 0.0


def activation_outliers(
    recorder: ActivationRecorder, *, k_sigma: float = DEFAULT_K_SIGMA, tokenizer: Any = None
) -> OutlierStats:
    """Outlier statistics over every recorded value of one activation."""
    moments = recorder.moments
    std = moments.variance**0.5
    centers, counts, _ = _histogram_tensors(recorder)
    far = (centers - moments.mean).abs() > k_sigma * std if std > 0 else centers != centers
    return OutlierStats(
        kurtosis=moments.kurtosis,
        mean=moments.mean,
        std=std,
        channel_ratio=channel_ratio(recorder.channel_absmax),
        k_sigma=k_sigma,
        beyond_k_sigma=int(counts[far].sum()),
        threshold=LLM_INT8_THRESHOLD,
        beyond_threshold=recorder.beyond_threshold,
        top_channels=top_channels(recorder.channel_absmax),
        channel_absmax=[float(f"{v:.6g}") for v in recorder.channel_absmax.tolist()],
        top_tokens=recorder.top_token_records(tokenizer),
    )


def analyze_activation(
    layer: str,
    recorder: ActivationRecorder,
    candidates: Sequence[Candidate] = ACTIVATION_CANDIDATES,
    *,
    bins: int = DEFAULT_BINS,
    heatmap_size: int = 64,
    tokenizer: Any = None,
) -> TensorAnalysis:
    """Analyse one layer's input activation under each calibrated candidate.

    Scales come from the recorder's observers over all batches. MSE, SQNR, cosine,
    max error and underflow are measured on the stored sample (the first
    calibration sequence); the clipped fraction and the histograms cover all values.
    """
    histogram = recorded_histogram(recorder, bins)
    centers, counts, limit = _histogram_tensors(recorder)
    sample = recorder.sample if recorder.sample is not None else torch.zeros(1, recorder.channels)
    analysis = TensorAnalysis(
        layer=layer,
        role="input",
        shape=[recorder.tokens, recorder.channels],
        histogram=histogram,
        outliers=activation_outliers(recorder, tokenizer=tokenizer),
        nonfinite=recorder.nan + recorder.inf,
        heatmap=activation_heatmap(sample, heatmap_size) if heatmap_size > 0 else None,
    )
    for candidate in candidates:
        observer = recorder.observers.get(candidate.key)
        # An observer that saw only NaN and inf has no scale, so the candidate is left
        # out; ``nonfinite`` records why.
        if observer is None or observer.num_values == 0:
            continue
        qparams = recorder.qparams(candidate.key)
        grid, clip = grid_and_clip(qparams)
        quantized_sample = fake_quantize(sample, qparams)
        metrics = compare(sample, quantized_sample)
        metrics = type(metrics)(
            **{**metrics.__dict__, "clipped_fraction": _clipped_fraction(centers, counts, qparams)}
        )
        quantized_histogram = rebin(
            fake_quantize(centers, qparams), counts, limit, len(histogram.counts)
        )
        analysis.results[candidate.key] = FormatResult(
            candidate=candidate.key,
            spec=qparams.spec.to_dict(),
            metrics=metrics,
            histogram=quantized_histogram,
            clip_range=clip,
            grid=grid,
            scale_min=float(qparams.scale.min()),
            scale_max=float(qparams.scale.max()),
        )
    return analysis
