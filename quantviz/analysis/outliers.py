"""Outlier statistics: heavy tails, dominant channels and extreme tokens."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from quantviz.analysis.metrics import from_json_float, json_float
from quantviz.quant.qparams import all_finite

# LLM.int8() (Dettmers et al. 2022) treats activation magnitudes of 6.0 and above
# as outlier features that break per-tensor INT8.
LLM_INT8_THRESHOLD = 6.0
DEFAULT_K_SIGMA = 6.0
TOP_K = 8


@dataclass
class OutlierStats:
    """Outliers of one tensor.

    ``kurtosis`` is Pearson's (3.0 for a Gaussian; larger means heavier tails).
    ``channel_ratio`` is the largest per-channel absolute max divided by the median
    one. ``beyond_k_sigma`` counts values farther than ``k_sigma`` standard deviations
    from the mean; ``beyond_threshold`` counts ``|x| >= threshold``.
    """

    kurtosis: float
    mean: float
    std: float
    channel_ratio: float
    k_sigma: float
    beyond_k_sigma: int
    threshold: float
    beyond_threshold: int
    top_channels: list[tuple[int, float]]
    channel_absmax: list[float] = field(default_factory=list)
    top_tokens: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kurtosis"] = json_float(self.kurtosis)
        data["channel_ratio"] = json_float(self.channel_ratio)
        data["top_channels"] = [list(pair) for pair in self.top_channels]
        return data

    @classmethod
    def from_channels(
        cls,
        channel_absmax: torch.Tensor,
        *,
        kurtosis: float,
        mean: float,
        std: float,
        k_sigma: float,
        beyond_k_sigma: int,
        threshold: float,
        beyond_threshold: int,
    ) -> OutlierStats:
        """Build the statistics, deriving the channel ratio, the top channels and the
        stored per-channel maxima (6 significant digits) from ``channel_absmax``."""
        return cls(
            kurtosis=kurtosis,
            mean=mean,
            std=std,
            channel_ratio=channel_ratio(channel_absmax),
            k_sigma=k_sigma,
            beyond_k_sigma=beyond_k_sigma,
            threshold=threshold,
            beyond_threshold=beyond_threshold,
            top_channels=top_channels(channel_absmax),
            channel_absmax=[float(f"{v:.6g}") for v in channel_absmax.tolist()],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutlierStats:
        data = dict(data)
        data["kurtosis"] = from_json_float(data["kurtosis"])
        data["channel_ratio"] = from_json_float(data["channel_ratio"])
        data["top_channels"] = [(int(i), float(v)) for i, v in data["top_channels"]]
        return cls(**data)


@dataclass
class Moments:
    """Streaming sums of powers in float64, enough for mean, std and kurtosis."""

    count: int = 0
    s1: float = 0.0
    s2: float = 0.0
    s3: float = 0.0
    s4: float = 0.0

    def update(
        self, x: torch.Tensor, count: int | None = None, *, squares: torch.Tensor | None = None
    ) -> None:
        """Add the elements of ``x``; ``count`` overrides the element count when
        ``x`` holds zeros in place of values to leave out. ``squares`` is ``x * x`` when
        the caller has it."""
        values = x.detach().reshape(-1).float()
        squares = values * values if squares is None else squares.reshape(-1)
        # Per-batch sums in float32 (a cascade sum and BLAS dot products) and the
        # running totals in float64: enough for kurtosis of activations, whose mean is
        # small next to their spread. A float64 sum would first copy the batch to float64.
        self.count += values.numel() if count is None else count
        self.s1 += float(values.sum())
        self.s2 += float(torch.dot(values, values))
        self.s3 += float(torch.dot(squares, values))
        self.s4 += float(torch.dot(squares, squares))

    @property
    def mean(self) -> float:
        return self.s1 / self.count if self.count else 0.0

    @property
    def variance(self) -> float:
        if not self.count:
            return 0.0
        return max(self.s2 / self.count - self.mean**2, 0.0)

    @property
    def kurtosis(self) -> float:
        """Pearson kurtosis from the raw moments; ``nan`` for constant data."""
        if not self.count or self.variance <= 0.0:
            return math.nan
        n, m = self.count, self.mean
        central4 = self.s4 / n - 4 * m * self.s3 / n + 6 * m * m * self.s2 / n - 3 * m**4
        return central4 / self.variance**2


def channel_ratio(channel_absmax: torch.Tensor) -> float:
    """Max over median of per-channel absolute maxima; ``inf`` when the median is 0."""
    if channel_absmax.numel() == 0:
        return 1.0
    median = float(channel_absmax.median())
    peak = float(channel_absmax.max())
    if median <= 0.0:
        return math.inf if peak > 0 else 1.0
    return peak / median


def top_channels(channel_absmax: torch.Tensor, k: int = TOP_K) -> list[tuple[int, float]]:
    values, indices = channel_absmax.topk(min(k, channel_absmax.numel()))
    return [(int(i), float(v)) for i, v in zip(indices, values, strict=True)]


def tensor_outliers(
    x: torch.Tensor,
    channel_axis: int,
    *,
    k_sigma: float = DEFAULT_K_SIGMA,
    threshold: float = LLM_INT8_THRESHOLD,
) -> OutlierStats:
    """Outlier statistics of a whole tensor, channels taken along ``channel_axis``.

    Non-finite values count as 0 here; they are reported separately.
    """
    values = x.detach().float()
    if not all_finite(values):
        values = torch.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    flat = values.reshape(-1)
    numel = max(flat.numel(), 1)
    mean = float(flat.sum()) / numel
    centered = flat - mean
    squares = centered * centered
    variance = float(squares.sum()) / numel
    fourth = float(torch.dot(squares, squares)) / numel
    std = math.sqrt(variance)
    kurtosis = fourth / variance**2 if variance > 0 else math.nan

    per_channel = values.movedim(channel_axis, 0).reshape(values.shape[channel_axis], -1)
    channel_absmax = torch.linalg.vector_norm(per_channel, ord=math.inf, dim=1)
    beyond_sigma = int((squares > (k_sigma * std) ** 2).sum()) if std > 0 else 0
    beyond_threshold = int((flat.abs() >= threshold).sum())
    return OutlierStats.from_channels(
        channel_absmax,
        kurtosis=kurtosis,
        mean=mean,
        std=std,
        k_sigma=k_sigma,
        beyond_k_sigma=beyond_sigma,
        threshold=threshold,
        beyond_threshold=beyond_threshold,
    )
