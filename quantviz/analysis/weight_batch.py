"""Weight analysis of a finite weight with the candidates stacked into one batch.

:func:`analyze_finite_weight` returns what quantizing the weight once per candidate
with :func:`quantviz.quant.fake_quantize` and measuring with
:func:`quantviz.analysis.metrics.compare` returns, in far fewer passes over the data:

* one minimum and one maximum per output channel give the per-channel scales, the
  per-tensor range, the histogram limit and the channel maxima of the outlier statistics;
* the candidates are stacked along a new leading axis, so one division, one rounding,
  one subtraction and one absolute value serve all of them;
* a per-tensor candidate has at most 256 codes, so its dequantized histogram, power and
  zero count come from a count of the codes, and FP8 values are looked up from a
  256-entry table instead of converted element by element;
* a clamp is skipped when the range of the weight shows it cannot change a value.

The dequantized values are bit for bit those of ``fake_quantize``. The sums are the
same float32 dot products as ``compare``, except that the dequantized power and zero
count of per-tensor candidates are summed exactly from the code counts.
Histogram counts can differ from :func:`quantviz.analysis.histograms.histogram` only
for a value within float32 rounding of a bin edge.

Scratch buffers live in a :class:`~quantviz.quant.scratch.Workspace` that is reused
from one weight to the next, so that analysing hundreds of layers allocates no large
temporaries per layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from quantviz.analysis.candidates import Candidate
from quantviz.analysis.heatmap import Heatmap, as_out_in, error_heatmap_from_abs
from quantviz.analysis.histograms import Histogram, grid_and_clip, histogram_edges
from quantviz.analysis.metrics import ErrorMetrics, cosine_from_error, sqnr_db
from quantviz.analysis.outliers import (
    DEFAULT_K_SIGMA,
    LLM_INT8_THRESHOLD,
    OutlierStats,
)
from quantviz.analysis.results import FormatResult, TensorAnalysis
from quantviz.quant.qparams import QParams, qparams_from_range
from quantviz.quant.scratch import Workspace, count_values
from quantviz.quant.spec import QuantSpec

# Candidates are stacked only while the stack contains at most this many elements, so
# a larger weight is analysed a few candidates at a time to bound memory.
MAX_STACK_ELEMENTS = 1 << 24
# Integer conversions and histogram binning run over at most this many elements at a
# time, so that their scratch buffers stay small for very large weights.
CHUNK_ELEMENTS = 1 << 22
# A value above an FP8 format's max by at most this factor rounds to the max when cast,
# as it would after a clamp. The next step above the max is 1.07 x max for E4M3FN (the
# NaN pattern) and for E5M2 (inf), so half a step is far above 2**-8 of the max.
FP8_CAST_SLACK = 1 + 2**-8
_CODES = torch.arange(256, dtype=torch.uint8)


def batchable(spec: QuantSpec, out_axis: int, ndim: int) -> bool:
    """Return whether :func:`analyze_finite_weight` supports ``spec``.

    Other specs take the general path of :func:`quantviz.analysis.weights.analyze_weight`.
    Supported: per-tensor FP8 formats with a torch dtype, symmetric per-tensor integer
    formats whose codes fit int8, and symmetric per-channel integer formats whose
    channels are the output channels.
    """
    if not spec.symmetric:
        return False
    if spec.is_float:
        return spec.granularity == "tensor" and spec.format.torch_dtype is not None
    if spec.qmin < -128 or spec.qmax > 127:
        return False
    if spec.granularity == "tensor":
        return True
    return (
        spec.granularity == "channel"
        and spec.axis is not None
        and spec.axis % ndim == out_axis % ndim
    )


@dataclass
class _Row:
    """One candidate in the stack."""

    candidate: Candidate
    spec: QuantSpec
    qparams: QParams
    # Scale shaped to broadcast against the weight (per-tensor scales are expanded
    # over the output channels so that all rows stack).
    scale: torch.Tensor
    # The weight's minimum and maximum (per channel for per-channel rows) divided by
    # the scale: the extremes of the scaled values, which show whether a clamp can
    # change anything.
    extremes: torch.Tensor

    @property
    def is_float(self) -> bool:
        return self.spec.is_float

    @property
    def per_tensor(self) -> bool:
        return self.spec.granularity == "tensor"


@dataclass
class _RowResult:
    """Measurements of one candidate; ``noise`` is the sum of squared errors."""

    noise: float
    max_abs: float
    q_power: float
    q_nonzero: int
    counts: list[float]
    heatmap: Heatmap | None


def analyze_finite_weight(
    name: str,
    weight: torch.Tensor,
    out_axis: int,
    candidates: Sequence[Candidate],
    *,
    bins: int,
    heatmap_size: int,
    heatmap_candidates: Iterable[str],
    workspace: Workspace,
    total: float,
) -> TensorAnalysis:
    """Analyse a finite float32 weight of two or more dimensions under ``candidates``.

    Every candidate must pass :func:`batchable`. ``total`` is ``weight.reshape(-1).sum()``,
    which the caller computes to test that the weight is finite.
    """
    x = weight
    axis = out_axis % x.dim()
    flat = x.reshape(-1)
    numel = flat.numel()
    reduce_dims = tuple(d for d in range(x.dim()) if d != axis)
    channel_low = x.amin(dim=reduce_dims)
    channel_high = x.amax(dim=reduce_dims)
    low = channel_low.min()
    high = channel_high.max()
    channel_absmax = torch.maximum(channel_low.abs(), channel_high.abs())
    amax = float(channel_absmax.max())
    limit = amax if amax > 0 else 1.0
    power = float(torch.dot(flat, flat))

    edges = histogram_edges(limit, bins)
    analysis = TensorAnalysis(
        layer=name,
        role="weight",
        shape=list(x.shape),
        histogram=Histogram(edges, _histogram_counts(flat, limit, bins, workspace, low=low)),
        outliers=_outliers(flat, total, float(low), float(high), amax, channel_absmax, workspace),
    )

    rows = [
        _make_row(c, out_axis, x.dim(), low, high, channel_low, channel_high) for c in candidates
    ]
    # FP8 rows first, then per-tensor and per-channel integer rows, so that each kind
    # is one slice of the stack.
    ordered = sorted(rows, key=lambda row: (not row.is_float, not row.per_tensor))
    per_group = max(1, min(len(ordered), MAX_STACK_ELEMENTS // max(numel, 1)))
    heatmap_keys = set(heatmap_candidates) if heatmap_size > 0 else set()
    measured: dict[str, _RowResult] = {}
    for start in range(0, len(ordered), per_group):
        group = ordered[start : start + per_group]
        measured.update(
            _quantize_group(x, axis, group, limit, bins, heatmap_size, heatmap_keys, workspace)
        )

    # Every candidate maps 0 to 0, so a candidate without zeros proves that the weight
    # has none and the count can be skipped.
    fewest_zeros = min(numel - result.q_nonzero for result in measured.values())
    nonzero = numel if fewest_zeros == 0 else int(torch.count_nonzero(flat))
    for row in rows:
        result = measured[row.candidate.key]
        grid, clip = grid_and_clip(row.qparams)
        metrics = ErrorMetrics(
            mse=result.noise / numel,
            sqnr_db=sqnr_db(power, result.noise),
            cosine=cosine_from_error(power, result.q_power, result.noise),
            max_abs_error=result.max_abs,
            # Symmetric min-max scales map the largest magnitude onto the largest code,
            # so nothing clips.
            clipped_fraction=0.0,
            underflow_fraction=max(nonzero - result.q_nonzero, 0) / numel,
            numel=numel,
        )
        analysis.results[row.candidate.key] = FormatResult(
            candidate=row.candidate.key,
            spec=row.spec.to_dict(),
            metrics=metrics,
            histogram=Histogram(list(edges), result.counts),
            clip_range=clip,
            grid=grid,
            scale_min=float(row.qparams.scale.min()),
            scale_max=float(row.qparams.scale.max()),
            heatmap=result.heatmap,
        )
    return analysis


def _make_row(
    candidate: Candidate,
    out_axis: int,
    ndim: int,
    low: torch.Tensor,
    high: torch.Tensor,
    channel_low: torch.Tensor,
    channel_high: torch.Tensor,
) -> _Row:
    spec = candidate.spec(out_axis)
    if spec.granularity == "tensor":
        qparams = qparams_from_range(low, high, spec)
        ends = torch.stack([low, high])
    else:
        qparams = qparams_from_range(channel_low, channel_high, spec)
        ends = torch.stack([channel_low, channel_high])
    channels = channel_low.numel()
    shape = [1] * ndim
    shape[out_axis % ndim] = channels
    scale = qparams.scale.reshape(-1).expand(channels).reshape(shape)
    # The same float32 division as the quantizer's, so the extremes are exact.
    extremes = torch.div(ends, qparams.scale)
    return _Row(candidate, spec, qparams, scale, extremes)


def _quantize_group(
    x: torch.Tensor,
    out_axis: int,
    rows: list[_Row],
    limit: float,
    bins: int,
    heatmap_size: int,
    heatmap_keys: set[str],
    workspace: Workspace,
) -> dict[str, _RowResult]:
    """Quantize ``x`` with every row at once and measure each row's error."""
    numel = x.numel()
    count = len(rows)
    stack = workspace.get("stack", count * numel, torch.float32).view(count, *x.shape)
    torch.div(x.unsqueeze(0), torch.stack([row.scale for row in rows]), out=stack)

    floats = sum(row.is_float for row in rows)
    for index, row in enumerate(rows[:floats]):
        fmt_max = row.spec.format.max_value
        if bool((row.extremes.abs() > fmt_max * FP8_CAST_SLACK).any()):
            stack[index].clamp_(-fmt_max, fmt_max)
    if floats < count:
        stack[floats:].round_()
    for index in range(floats, count):
        row = rows[index]
        rounded = torch.round(row.extremes)
        if bool((rounded < row.spec.qmin).any() or (rounded > row.spec.qmax).any()):
            stack[index].clamp_(row.spec.qmin, row.spec.qmax)

    tables = _count_codes(x, rows, stack, floats, workspace)
    # Integer rows: dequantize in place, as fake_quantize does.
    if floats < count:
        stack[floats:].mul_(torch.stack([row.scale for row in rows[floats:]]))

    q_stats: dict[int, tuple[float, int, list[float]]] = {}
    for index in range(count):
        if index in tables:
            values, counts = tables[index]
            q_stats[index] = _table_stats(values, counts, limit, bins)
        else:
            flat_q = stack[index].reshape(-1)
            q_stats[index] = (
                float(torch.dot(flat_q, flat_q)),
                int(torch.count_nonzero(flat_q)),
                _histogram_counts(flat_q, limit, bins, workspace),
            )

    errors = torch.sub(x.unsqueeze(0), stack, out=stack).view(count, numel)
    noises = [float(torch.dot(errors[index], errors[index])) for index in range(count)]
    errors.abs_()
    max_errors = errors.amax(dim=1).tolist()

    results = {}
    for index, row in enumerate(rows):
        heatmap = None
        if row.candidate.key in heatmap_keys:
            heatmap = error_heatmap_from_abs(
                as_out_in(errors[index].view(x.shape), out_axis), heatmap_size
            )
        q_power, q_nonzero, counts = q_stats[index]
        results[row.candidate.key] = _RowResult(
            noise=noises[index],
            max_abs=max_errors[index],
            q_power=q_power,
            q_nonzero=q_nonzero,
            counts=counts,
            heatmap=heatmap,
        )
    return results


def _count_codes(
    x: torch.Tensor,
    rows: list[_Row],
    stack: torch.Tensor,
    floats: int,
    workspace: Workspace,
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Count the codes of the per-tensor rows and dequantize the FP8 rows.

    ``stack`` contains the scaled values, rounded in the integer rows. The per-tensor rows are
    ``rows[:coded]``, FP8 rows first. Returns ``{row: (dequantized value of each code,
    count of each code)}``, 256 codes per row; FP8 rows of ``stack`` then hold their
    dequantized values.
    """
    numel = x.numel()
    coded = sum(row.per_tensor for row in rows)
    if not coded:
        return {}
    # Row i's codes become indices 256 * i + code into the joined 256-entry tables:
    # FP8 codes are their bit patterns, integer codes are offset by 128.
    index = workspace.get("index", coded * numel, torch.int32).view(coded, numel)
    if floats:
        patterns = workspace.get("patterns", floats * numel, torch.uint8).view(floats, numel)
        for slot in range(floats):
            fp8 = patterns[slot].view(rows[slot].spec.format.torch_dtype).view(x.shape)
            fp8.copy_(stack[slot])
        index[:floats].copy_(patterns)
    if coded > floats:
        index[floats:].copy_(stack[floats:coded].view(coded - floats, numel))
    offsets = [256 * slot + (0 if rows[slot].is_float else 128) for slot in range(coded)]
    index.add_(torch.tensor(offsets, dtype=torch.int32)[:, None])
    counts = count_values(index.view(-1), 256 * coded).view(coded, 256)

    tables = {}
    for slot in range(coded):
        row = rows[slot]
        if row.is_float:
            codes = _CODES.view(row.spec.format.torch_dtype).float()
        else:
            codes = torch.arange(-128, 128, dtype=torch.float32)
        # The quantizer's own multiply, so each entry equals the value it stands for.
        tables[slot] = (torch.mul(codes, row.qparams.scale), counts[slot])
    if floats:
        lookup = torch.cat([tables[slot][0] for slot in range(floats)])
        out = stack[:floats].view(-1)
        torch.index_select(lookup, 0, index[:floats].view(-1), out=out)
    return tables


def _table_stats(
    values: torch.Tensor, counts: torch.Tensor, limit: float, bins: int
) -> tuple[float, int, list[float]]:
    """Power, non-zero count and histogram of the values that ``counts`` counts."""
    used = counts > 0
    values, counts = values[used], counts[used]
    q_power = float((counts.double() * values.double().square()).sum())
    q_nonzero = int(counts[values != 0].sum())
    index = _bin_positions(values, limit, bins).clamp_(0, bins - 1).to(torch.int32)
    histogram = torch.zeros(bins, dtype=torch.int64).index_add_(0, index, counts)
    return q_power, q_nonzero, histogram.float().tolist()


def _bin_positions(values: torch.Tensor, limit: float, bins: int) -> torch.Tensor:
    """``bins / 2 + values * bins / (2 limit)``, the operation of :func:`histogram`."""
    return torch.addcmul(torch.tensor(bins / 2), values, torch.tensor(bins / (2 * limit)))


def _histogram_counts(
    flat: torch.Tensor,
    limit: float,
    bins: int,
    workspace: Workspace,
    *,
    low: torch.Tensor | None = None,
) -> list[float]:
    """Counts of :func:`quantviz.analysis.histograms.histogram` for finite ``flat``.

    With ``low`` (the minimum of ``flat``), the clamp to bin 0 is skipped when the
    minimum shows that it changes nothing. Values on or past the top edge then land in
    one extra bin, which is folded into the last. Values more than a bin beyond
    ``limit`` need the clamp.
    """
    lowest = None if low is None else float(_bin_positions(low.reshape(1), limit, bins))
    skip_clamp = lowest is not None and lowest > -1.0
    total = torch.zeros(bins + 1, dtype=torch.int64)
    for start in range(0, flat.numel(), CHUNK_ELEMENTS):
        chunk = flat[start : start + CHUNK_ELEMENTS]
        positions = workspace.get("positions", chunk.numel(), torch.float32)
        torch.addcmul(
            torch.tensor(bins / 2), chunk, torch.tensor(bins / (2 * limit)), out=positions
        )
        if not skip_clamp:
            positions.clamp_(0, bins - 1)
        index = workspace.get("index", chunk.numel(), torch.int32)
        index.copy_(positions)
        total += count_values(index, bins + 1)
    total[bins - 1] += total[bins]
    return total[:bins].float().tolist()


def _outliers(
    flat: torch.Tensor,
    total: float,
    low: float,
    high: float,
    amax: float,
    channel_absmax: torch.Tensor,
    workspace: Workspace,
    *,
    k_sigma: float = DEFAULT_K_SIGMA,
    threshold: float = LLM_INT8_THRESHOLD,
) -> OutlierStats:
    """:func:`quantviz.analysis.outliers.tensor_outliers` of a finite tensor.

    The counts beyond ``k_sigma`` and beyond ``threshold`` are 0 without a pass when
    the tensor's extremes show that no element can qualify.
    """
    numel = max(flat.numel(), 1)
    mean = total / numel
    # The candidates' stack is free until the candidates are quantized.
    squares = workspace.get("stack", flat.numel(), torch.float32)
    torch.sub(flat, mean, out=squares)
    squares.square_()
    variance = float(squares.sum()) / numel
    fourth = float(torch.dot(squares, squares)) / numel
    std = math.sqrt(variance)
    kurtosis = fourth / variance**2 if variance > 0 else math.nan

    beyond_sigma = 0
    if std > 0:
        sigma_limit = (k_sigma * std) ** 2
        # The largest square comes from the minimum or the maximum, computed with the
        # same float32 operations as the full pass.
        extremes = torch.sub(torch.tensor([low, high]), mean).square_()
        if bool((extremes > sigma_limit).any()):
            beyond_sigma = int(torch.count_nonzero(squares > sigma_limit))
    beyond_threshold = 0
    if amax >= threshold:
        magnitude = torch.abs(flat, out=squares)
        beyond_threshold = int(torch.count_nonzero(magnitude >= threshold))
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
