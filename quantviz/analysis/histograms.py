"""Fixed-bin histograms of a tensor before and after quantization, for log-scale plots."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from quantviz.formats import FloatFormat
from quantviz.quant.qparams import QParams, all_finite

DEFAULT_BINS = 256
# Values drawn from a format's grid are capped so a per-tensor grid stays cheap to plot.
MAX_GRID_POINTS = 512


@dataclass
class Histogram:
    """Counts of values in ``len(edges) - 1`` equal bins between ``edges[0]`` and ``edges[-1]``."""

    edges: list[float]
    counts: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        return cls(list(data["edges"]), list(data["counts"]))

    @property
    def total(self) -> float:
        return float(sum(self.counts))


def symmetric_limit(x: torch.Tensor) -> float:
    """Largest finite magnitude in ``x``, or 1.0 for a tensor with none."""
    finite = x if all_finite(x) else x[torch.isfinite(x)]
    if finite.numel() == 0:
        return 1.0
    amax = float(finite.abs().max())
    return amax if amax > 0 else 1.0


def histogram(x: torch.Tensor, limit: float, bins: int = DEFAULT_BINS) -> Histogram:
    """Histogram of the finite values of ``x`` over ``[-limit, limit]``.

    Values beyond the limit are counted in the outermost bins, so the counts always
    add up to the number of finite elements.
    """
    flat = x.detach().reshape(-1).float()
    if not all_finite(flat):
        flat = flat[torch.isfinite(flat)]
    # Bin index = (x + limit) * bins / (2 limit), computed in one fused op; values
    # left of -limit give negative indices and truncate or clamp to bin 0.
    index = torch.addcmul(torch.tensor(bins / 2), flat, torch.tensor(bins / (2 * limit))).clamp_(
        0, bins - 1
    )
    counts = torch.bincount(index.to(torch.int32), minlength=bins)
    return Histogram(histogram_edges(limit, bins), counts.float().tolist())


def histogram_edges(limit: float, bins: int = DEFAULT_BINS) -> list[float]:
    """Return the ``bins + 1`` edges of :func:`histogram` over ``[-limit, limit]``."""
    return _rounded(torch.linspace(-limit, limit, bins + 1))


def rebin(centers: torch.Tensor, weights: torch.Tensor, limit: float, bins: int) -> Histogram:
    """Histogram of ``centers`` weighted by ``weights`` (for values known as a histogram)."""
    index = ((centers + limit) / (2 * limit) * bins).floor().clamp(0, bins - 1).to(torch.int64)
    counts = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, weights.double())
    return Histogram(_rounded(torch.linspace(-limit, limit, bins + 1)), counts.tolist())


def grid_and_clip(qparams: QParams) -> tuple[list[float] | None, tuple[float, float]]:
    """The representable values and the clipping range in the tensor's units.

    Per-tensor specs get the full grid (up to :data:`MAX_GRID_POINTS` points); for
    per-channel and per-group specs the grid differs per channel, so only the widest
    clipping range is returned and the grid is ``None``.
    """
    spec = qparams.spec
    scale = qparams.scale.float()
    zero_point = qparams.zero_point.float()
    if spec.is_float:
        low_code = -spec.format.max_value
        high_code = spec.format.max_value
    else:
        low_code, high_code = float(spec.qmin), float(spec.qmax)
    lows = (low_code - zero_point) * scale
    highs = (high_code - zero_point) * scale
    clip = (float(lows.min()), float(highs.max()))
    if scale.numel() != 1:
        return None, clip
    if spec.is_float:
        grid = _format_grid(spec.format) * scale.reshape(())
    else:
        grid = (torch.arange(spec.qmin, spec.qmax + 1).float() - zero_point) * scale
    if grid.numel() > MAX_GRID_POINTS:
        grid = grid[:: grid.numel() // MAX_GRID_POINTS + 1]
    return _rounded(grid), clip


@functools.cache
def _format_grid(fmt: FloatFormat) -> torch.Tensor:
    """Return the format's grid, built once per format; callers must not modify it."""
    return fmt.grid()


def _rounded(values: torch.Tensor) -> list[float]:
    """Plain floats with 7 significant digits, which keeps the JSON compact."""
    return [float(f"{v:.7g}") for v in values.tolist()]
