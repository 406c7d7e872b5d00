"""Calibration observers: record statistics batch by batch, then compute qparams.

``update(x)`` records and never changes ``x``; ``compute_qparams()`` turns what was
recorded into :class:`~quantviz.quant.qparams.QParams` and raises
:class:`~quantviz.errors.QuantvizError` when nothing was seen. Memory per observer
is fixed by its settings (one min/max pair or one histogram per scale group) and does
not grow with the number of batches. NaN and +-inf are counted and left out.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from quantviz.errors import QuantvizError
from quantviz.quant.functional import fake_quantize
from quantviz.quant.qparams import QParams, all_finite, qparams_from_range, reduction_view
from quantviz.quant.scratch import Workspace, count_values
from quantviz.quant.spec import QuantSpec

logger = logging.getLogger(__name__)

# Histogram bins per scale group. The counts are float64, so MAX_BINS costs 512 KiB per
# group: one group per tensor, or one per channel for a per-channel spec.
# NOTE: the bound is per group, so a per-channel histogram of a weight with 50,000 rows
# at MAX_BINS still needs 25 GiB; nothing checks the groups times bins product.
MIN_BINS = 8
MAX_BINS = 65536
# Clipping ranges that the MSE and entropy observers score. At MAX_CANDIDATES and
# MAX_BINS, one per-tensor compute_qparams() takes about 1 s (MSE) and 2.5 s (entropy)
# on one CPU thread of the 2-core test machine (test_observer_limits.py). MSE time
# grows with the number of scale groups.
MIN_CANDIDATES = 2
MAX_CANDIDATES = 4096


def check_bins(bins: Any, field_name: str = "bins") -> None:
    """Raise QuantvizError unless ``bins`` is a multiple of 4 in [MIN_BINS, MAX_BINS]."""
    if (
        isinstance(bins, bool)
        or not isinstance(bins, int)
        or not MIN_BINS <= bins <= MAX_BINS
        or bins % 4
    ):
        raise QuantvizError(
            f"{field_name} must be a multiple of 4 between {MIN_BINS} and {MAX_BINS}; "
            f"got {_short(bins)}"
        )


def check_candidates(num_candidates: Any, field_name: str = "num_candidates") -> None:
    """Raise QuantvizError unless ``num_candidates`` is an integer in
    [MIN_CANDIDATES, MAX_CANDIDATES]."""
    if (
        isinstance(num_candidates, bool)
        or not isinstance(num_candidates, int)
        or not MIN_CANDIDATES <= num_candidates <= MAX_CANDIDATES
    ):
        raise QuantvizError(
            f"{field_name} must be an integer between {MIN_CANDIDATES} and {MAX_CANDIDATES}; "
            f"got {_short(num_candidates)}"
        )


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a 400-digit integer stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


class Observer(ABC):
    """Base class: counts values and non-finite values, delegates the statistics."""

    name: str = "observer"

    def __init__(self, spec: QuantSpec) -> None:
        if spec.granularity == "group":
            raise QuantvizError(
                f"observer {self.name!r} supports per-tensor and per-channel specs; "
                "compute per-group weight qparams with qparams_for_tensor instead"
            )
        self.spec = spec
        self.num_batches = 0
        self.num_values = 0
        self.nan_count = 0
        self.inf_count = 0

    def update(self, x: torch.Tensor, *, batch_range: tuple[float, float] | None = None) -> None:
        """Record the finite values of ``x`` (any shape, any float dtype).

        ``batch_range`` is the caller's ``(min, max)`` of ``x`` for a per-tensor spec;
        passing it asserts that ``x`` is all finite and saves a pass over the data.
        """
        rows, _ = reduction_view(x.detach().float(), self.spec)
        mask: torch.Tensor | None = None
        finite_count = rows.numel()
        known: tuple[torch.Tensor, torch.Tensor] | None = None
        if batch_range is not None and self.spec.granularity == "tensor":
            known = (torch.tensor([batch_range[0]]), torch.tensor([batch_range[1]]))
        elif not all_finite(rows):
            mask = torch.isfinite(rows)
            finite_count = int(mask.sum().item())
            self.nan_count += int(torch.isnan(rows).sum().item())
            self.inf_count += int(torch.isinf(rows).sum().item())
        self.num_batches += 1
        if finite_count == 0:
            return
        self.num_values += finite_count
        self._observe(rows, mask, known)

    def compute_qparams(self) -> QParams:
        """Compute qparams from everything recorded so far."""
        if self.num_values == 0:
            raise QuantvizError(
                f"{type(self).__name__} has seen no finite values "
                f"({self.num_batches} batches, {self.nan_count} NaN, {self.inf_count} inf); "
                "run calibration data through the model before computing qparams"
            )
        low, high = self._compute_range()
        return qparams_from_range(low, high, self.spec)

    def compute_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the clipping range ``(low, high)`` per scale group, float32."""
        if self.num_values == 0:
            self.compute_qparams()  # raises the no-data error
        return self._compute_range()

    def summary(self) -> dict[str, Any]:
        return {
            "observer": self.name,
            "batches": self.num_batches,
            "values": self.num_values,
            "nan": self.nan_count,
            "inf": self.inf_count,
        }

    @abstractmethod
    def _observe(
        self,
        rows: torch.Tensor,
        finite: torch.Tensor | None,
        known: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        """Record ``rows`` of shape ``[groups, n]``; ``finite`` masks NaN/inf if any;
        ``known`` is the rows' ``(min, max)`` when the caller already has it."""

    @abstractmethod
    def _compute_range(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def _qshape(self) -> tuple[int, ...]:
        return () if self.spec.granularity == "tensor" else (-1,)


def _masked_minmax(
    rows: torch.Tensor,
    finite: torch.Tensor | None,
    known: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    if known is not None:
        return known
    if finite is None:
        return torch.aminmax(rows, dim=1)
    low = torch.where(finite, rows, torch.inf).amin(dim=1)
    high = torch.where(finite, rows, -torch.inf).amax(dim=1)
    # A group with no finite value in this batch contributes nothing.
    return torch.where(torch.isinf(low), torch.inf, low), torch.where(
        torch.isinf(high), -torch.inf, high
    )


class MinMaxObserver(Observer):
    """Running minimum and maximum per scale group."""

    name = "minmax"

    def __init__(self, spec: QuantSpec) -> None:
        super().__init__(spec)
        self.low: torch.Tensor | None = None
        self.high: torch.Tensor | None = None

    def _observe(self, rows, finite, known=None) -> None:
        low, high = _masked_minmax(rows, finite, known)
        if self.low is None or self.high is None:
            self.low, self.high = low, high
        else:
            self.low = torch.minimum(self.low, low)
            self.high = torch.maximum(self.high, high)

    def _compute_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.low is not None and self.high is not None
        low = torch.where(torch.isfinite(self.low), self.low, 0.0)
        high = torch.where(torch.isfinite(self.high), self.high, 0.0)
        return low.reshape(self._qshape()), high.reshape(self._qshape())


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Exponential moving average of each batch's min and max.

    ``low = low + averaging_constant * (batch_low - low)``; the first batch sets the
    range. Less sensitive than min-max to a single extreme batch.
    """

    name = "moving_average"

    def __init__(self, spec: QuantSpec, averaging_constant: float = 0.01) -> None:
        if not 0.0 < averaging_constant <= 1.0:
            raise QuantvizError(f"averaging_constant must be in (0, 1]; got {averaging_constant!r}")
        super().__init__(spec)
        self.averaging_constant = averaging_constant

    def _observe(self, rows, finite, known=None) -> None:
        low, high = _masked_minmax(rows, finite, known)
        if self.low is None or self.high is None:
            self.low, self.high = low, high
            return
        c = self.averaging_constant
        seen_low = torch.isfinite(low)
        seen_high = torch.isfinite(high)
        fresh_low = ~torch.isfinite(self.low)
        fresh_high = ~torch.isfinite(self.high)
        averaged_low = torch.where(fresh_low, low, self.low + c * (low - self.low))
        averaged_high = torch.where(fresh_high, high, self.high + c * (high - self.high))
        self.low = torch.where(seen_low, averaged_low, self.low)
        self.high = torch.where(seen_high, averaged_high, self.high)


class HistogramObserver(Observer):
    """Base for observers that work on a streaming histogram per scale group.

    Each group's histogram covers ``[-limit, limit)`` with ``bins`` equal bins, where
    ``limit`` is the smallest power of two above every ``|x|`` seen. When a batch
    reaches it, the limit doubles and pairs of bins merge. A value's bin is
    ``floor(x * bins / (2 * limit)) + bins / 2``: scaling by a power of two is exact in
    float32, so merging gives the same counts as binning at the larger limit directly,
    and the histogram does not depend on batch order. Exact minima and maxima are kept
    beside the histogram.
    """

    def __init__(self, spec: QuantSpec, bins: int = 2048) -> None:
        check_bins(bins)
        super().__init__(spec)
        self.bins = bins
        # Buffers for the per-batch index math; ``None`` allocates them per batch.
        self.scratch: Workspace | None = None
        self.hist: torch.Tensor | None = None
        self.limit: torch.Tensor | None = None
        self.low: torch.Tensor | None = None
        self.high: torch.Tensor | None = None

    def _observe(self, rows, finite, known=None) -> None:
        low, high = _masked_minmax(rows, finite, known)
        amax = torch.maximum(low.abs(), high.abs())
        amax = torch.where(torch.isfinite(amax), amax, 0.0)
        if self.hist is None:
            groups = rows.shape[0]
            self.hist = torch.zeros(groups, self.bins, dtype=torch.float64)
            self.limit = _next_power_of_two(amax)
            self.low, self.high = low, high
        else:
            assert self.low is not None and self.high is not None
            self.low = torch.minimum(self.low, low)
            self.high = torch.maximum(self.high, high)
            self._grow(amax)
        self._accumulate(rows, finite)

    def _grow(self, amax: torch.Tensor) -> None:
        assert self.hist is not None and self.limit is not None
        # amax / limit = m * 2**e with 0.5 <= m < 1, so doubling e times puts amax
        # strictly below the limit. float64 keeps the ratio finite for huge amax.
        _, exponent = torch.frexp(amax.double() / self.limit.double())
        doublings = exponent.clamp_min(0).to(torch.int64)
        quarter = self.bins // 4
        for step in range(int(doublings.max().item()) if doublings.numel() else 0):
            rows = doublings > step
            merged = self.hist[rows].reshape(-1, self.bins // 2, 2).sum(dim=2)
            grown = torch.zeros_like(self.hist[rows])
            grown[:, quarter : quarter + self.bins // 2] = merged
            self.hist[rows] = grown
            self.limit = torch.where(rows, self.limit * 2, self.limit)

    def _accumulate(self, rows: torch.Tensor, finite: torch.Tensor | None) -> None:
        assert self.hist is not None and self.limit is not None
        if finite is None and rows.shape[0] == 1:
            self._accumulate_one(rows[0], float(self.limit[0]))
            return
        limit = self.limit[:, None]
        index = (rows * (self.bins / (2 * limit))).floor_().add_(self.bins // 2)
        index = torch.nan_to_num(index, nan=0.0, posinf=0.0, neginf=0.0)
        index = index.clamp_(0, self.bins - 1).to(torch.int64)
        index += torch.arange(rows.shape[0])[:, None] * self.bins
        weights = None if finite is None else finite.flatten().to(torch.float64)
        counts = torch.bincount(index.flatten(), weights=weights, minlength=self.hist.numel())
        self.hist += counts.reshape(self.hist.shape).to(torch.float64)

    def _accumulate_one(self, values: torch.Tensor, limit: float) -> None:
        """Fast path for one group of finite values: float32 index math, no weights."""
        assert self.hist is not None
        # Values are within [-limit, limit), so floor(...) + bins / 2 is in [0, bins).
        # Adding bins / 2 before the floor would round values just below a bin edge
        # up onto it, so the histogram would change when the limit doubles.
        count = values.numel()
        if self.scratch is None:
            positions = torch.mul(values, self.bins / (2 * limit))
            index = positions.floor_().to(torch.int32)
        else:
            positions = self.scratch.get("positions", count, torch.float32).view_as(values)
            torch.mul(values, self.bins / (2 * limit), out=positions).floor_()
            index = self.scratch.get("index", count, torch.int32).view_as(values)
            index.copy_(positions)
        index = index.add_(self.bins // 2).clamp_(0, self.bins - 1)
        self.hist[0] += count_values(index, self.bins)

    def bin_centers(self) -> torch.Tensor:
        """Centers of the bins, ``[groups, bins]`` float32."""
        assert self.limit is not None
        offsets = (torch.arange(self.bins, dtype=torch.float32) + 0.5) / self.bins
        return (offsets[None, :] * 2 - 1) * self.limit[:, None]

    def folded(self) -> torch.Tensor:
        """Histogram of ``|x|``: ``[groups, bins // 2]``, bin ``j`` covers
        ``[j, j + 1) * limit / (bins // 2)``."""
        assert self.hist is not None
        half = self.bins // 2
        return self.hist[:, half:] + self.hist[:, :half].flip(1)

    def _exact_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.low is not None and self.high is not None
        low = torch.where(torch.isfinite(self.low), self.low, 0.0)
        high = torch.where(torch.isfinite(self.high), self.high, 0.0)
        return low, high


def _next_power_of_two(amax: torch.Tensor) -> torch.Tensor:
    """Smallest power of two strictly above ``amax`` (and above 2**-24).

    Strictly above, so that ``+amax`` has a bin of its own: a top bin that also held
    ``+limit`` would send that value one bin too low once the limit doubles.
    """
    # frexp: amax = m * 2**e with 0.5 <= m < 1, so 2**e > amax.
    _, exponent = torch.frexp(torch.clamp_min(amax, 2.0**-24))
    return torch.ldexp(torch.ones_like(amax), exponent)


class PercentileObserver(HistogramObserver):
    """Clip at a percentile of the observed values.

    Symmetric specs clip at the ``percentile`` of ``|x|``; asymmetric specs at the
    ``100 - percentile`` and ``percentile`` points of ``x``. The clip point is the upper
    edge of the bin where the cumulative count crosses, never beyond the exact extreme.
    """

    name = "percentile"

    def __init__(self, spec: QuantSpec, percentile: float = 99.99, bins: int = 2048) -> None:
        if not 50.0 < percentile <= 100.0:
            raise QuantvizError(f"percentile must be in (50, 100]; got {percentile!r}")
        super().__init__(spec, bins)
        self.percentile = percentile

    def _compute_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.hist is not None and self.limit is not None
        low, high = self._exact_range()
        fraction = self.percentile / 100.0
        if self.spec.symmetric:
            folded = self.folded()
            width = self.limit / (self.bins // 2)
            edge = _quantile_edge(folded, fraction) * width
            amax = torch.minimum(edge, torch.maximum(-low, high))
            low, high = -amax, amax
        else:
            width = 2 * self.limit / self.bins
            upper = _quantile_edge(self.hist, fraction) * width - self.limit
            lower = _quantile_edge(self.hist, 1.0 - fraction, lower_edge=True) * width
            low = torch.maximum(lower - self.limit, low)
            high = torch.minimum(upper, high)
        return low.reshape(self._qshape()), high.reshape(self._qshape())


def _quantile_edge(hist: torch.Tensor, fraction: float, lower_edge: bool = False) -> torch.Tensor:
    """Bin index (as float) whose upper edge (or lower edge) the quantile falls in."""
    cumulative = hist.cumsum(dim=1)
    target = cumulative[:, -1:] * fraction
    index = torch.searchsorted(cumulative, target).squeeze(1).clamp_max(hist.shape[1] - 1)
    return index.float() if lower_edge else index.float() + 1


class MSEObserver(HistogramObserver):
    """Choose the clipping range that minimises the expected quantization MSE.

    Candidate ranges shrink the observed range by factors from ``min_fraction`` to 1;
    each is scored by fake-quantizing the histogram's bin centers weighted by their
    counts, with the observer's own format, so the search sees the real grid.
    """

    name = "mse"

    def __init__(
        self,
        spec: QuantSpec,
        bins: int = 2048,
        num_candidates: int = 100,
        min_fraction: float = 0.05,
    ) -> None:
        if not 0.0 < min_fraction < 1.0:
            raise QuantvizError(f"min_fraction must be in (0, 1); got {min_fraction!r}")
        check_candidates(num_candidates)
        super().__init__(spec, bins)
        self.num_candidates = num_candidates
        self.min_fraction = min_fraction

    def _compute_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.hist is not None
        low, high = self._exact_range()
        centers = self.bin_centers()
        weights = self.hist.float()
        row_spec = QuantSpec(
            self.spec.format,
            granularity="channel",
            axis=0,
            symmetric=self.spec.symmetric,
            narrow_range=self.spec.narrow_range,
        )
        if self.spec.symmetric:
            amax = torch.maximum(-low, high)
            low, high = -amax, amax
        best_error = torch.full((centers.shape[0],), math.inf)
        best_fraction = torch.ones(centers.shape[0])
        for fraction in torch.linspace(self.min_fraction, 1.0, self.num_candidates):
            qparams = qparams_from_range(low * fraction, high * fraction, row_spec)
            error = ((fake_quantize(centers, qparams) - centers) ** 2 * weights).sum(dim=1)
            better = error < best_error
            best_error = torch.where(better, error, best_error)
            best_fraction = torch.where(better, fraction, best_fraction)
        low, high = low * best_fraction, high * best_fraction
        return low.reshape(self._qshape()), high.reshape(self._qshape())


class EntropyObserver(HistogramObserver):
    """Choose the symmetric clip that minimises KL(P || Q) between histograms.

    P is the ``|x|`` histogram up to the candidate threshold with the mass beyond it
    added to the last bin. Q spreads the mass of each quantization cell of the
    observer's format evenly over the cell's non-empty bins (the TensorRT entropy
    calibration, generalised from uniform INT8 cells to any grid). Per tensor only.
    """

    name = "entropy"

    def __init__(self, spec: QuantSpec, bins: int = 2048, num_candidates: int = 128) -> None:
        if spec.granularity != "tensor" or not spec.symmetric:
            raise QuantvizError(
                "the entropy observer supports symmetric per-tensor specs only; "
                f"got {spec.label}; use 'percentile' or 'mse' for other specs"
            )
        check_candidates(num_candidates)
        super().__init__(spec, bins)
        self.num_candidates = num_candidates

    def _compute_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.limit is not None
        folded = self.folded()[0]
        half = folded.numel()
        width = float(self.limit[0]) / half
        low, high = self._exact_range()
        amax = float(torch.maximum(-low, high)[0])
        last_used = int(torch.nonzero(folded).max().item()) + 1 if folded.any() else 1
        start = max(min(128, last_used), 1)
        candidates = torch.unique(
            torch.linspace(start, last_used, self.num_candidates).round().to(torch.int64)
        )
        best = (math.inf, amax)
        for stop in candidates.tolist():
            divergence = self._divergence(folded, stop, width)
            if divergence < best[0]:
                best = (divergence, min(stop * width, amax))
        threshold = torch.tensor(best[1], dtype=torch.float32)
        return -threshold, threshold

    def _divergence(self, folded: torch.Tensor, stop: int, width: float) -> float:
        sliced = folded[:stop]
        reference = sliced.clone()
        reference[-1] += folded[stop:].sum()
        if reference.sum() <= 0:
            return math.inf
        centers = (torch.arange(stop, dtype=torch.float32) + 0.5) * width
        qparams = qparams_from_range(-stop * width, stop * width, self.spec)
        cells = torch.unique(fake_quantize(centers, qparams), return_inverse=True)[1]
        # Q is built from the clipped histogram without the outlier mass, so clipping
        # many values costs divergence in the last bin of P.
        nonempty = (sliced > 0).to(torch.float64)
        cell_mass = torch.zeros(int(cells.max()) + 1, dtype=torch.float64)
        cell_mass.index_add_(0, cells, sliced)
        cell_bins = torch.zeros_like(cell_mass).index_add_(0, cells, nonempty)
        expanded = torch.where(nonempty > 0, cell_mass[cells] / cell_bins[cells].clamp_min(1), 0.0)
        if expanded.sum() <= 0:
            return math.inf
        p = reference / reference.sum()
        q = (expanded / expanded.sum()).clamp_min(1e-12)
        used = p > 0
        return float((p[used] * torch.log(p[used] / q[used])).sum())


OBSERVERS: dict[str, type[Observer]] = {
    cls.name: cls
    for cls in (
        MinMaxObserver,
        MovingAverageMinMaxObserver,
        PercentileObserver,
        MSEObserver,
        EntropyObserver,
    )
}


def make_observer(name: str, spec: QuantSpec, **settings: Any) -> Observer:
    """Create an observer by name: minmax, moving_average, percentile, mse, entropy."""
    if name not in OBSERVERS:
        raise QuantvizError(f"unknown observer {name!r}; choose one of: {', '.join(OBSERVERS)}")
    try:
        return OBSERVERS[name](spec, **settings)
    except TypeError as error:
        raise QuantvizError(f"invalid settings for observer {name!r}: {error}") from None
