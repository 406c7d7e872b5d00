"""Error metrics between a float tensor and its quantized version, in one place.

Sums run in float64 so that SQNR stays accurate for tensors with millions of
elements. SQNR is ``10 * log10(sum(x**2) / sum((x - q)**2))`` in dB and is ``inf``
when the error is exactly zero; JSON stores ``inf`` as ``null``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from quantviz.quant.qparams import all_finite


@dataclass(frozen=True)
class ErrorMetrics:
    """How far ``q`` is from ``x``, over the finite elements of ``x``.

    ``clipped_fraction``: share of elements outside the representable range.
    ``underflow_fraction``: share of non-zero elements that quantize to exactly zero.
    """

    mse: float
    sqnr_db: float
    cosine: float
    max_abs_error: float
    clipped_fraction: float
    underflow_fraction: float
    numel: int

    def to_dict(self) -> dict[str, Any]:
        return {key: json_float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorMetrics:
        return cls(**{key: from_json_float(value) for key, value in data.items()})


def json_float(value: float | int) -> float | int | None:
    """Map ``inf`` and NaN to ``None`` so the value is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def from_json_float(value: float | int | None) -> float | int:
    return math.inf if value is None else value


def sqnr_db(signal_power: float, noise_power: float) -> float:
    """SQNR in dB from summed squares; ``inf`` for zero noise, ``-inf`` for zero signal."""
    if noise_power <= 0.0:
        return math.inf
    if signal_power <= 0.0:
        return -math.inf
    return 10.0 * math.log10(signal_power / noise_power)


def compare(
    x: torch.Tensor,
    q: torch.Tensor,
    clipped: torch.Tensor | int | None = None,
    *,
    reference: ReferenceStats | None = None,
    zero_preserving: bool = False,
) -> ErrorMetrics:
    """Compute :class:`ErrorMetrics` of ``q`` against the reference ``x``.

    ``clipped`` is a boolean mask or a count of clipped elements (see
    :func:`quantviz.quant.clipped_mask`); without it the clipped fraction is 0.
    Non-finite elements of ``x`` are left out of every metric. Pass ``reference``
    (from :meth:`ReferenceStats.of`) when comparing several ``q`` with one ``x``.
    ``zero_preserving=True`` states that ``q`` is zero wherever ``x`` is, as for
    every quantizer here, and lets underflow be counted without a mask.
    """
    x = x.detach().reshape(-1).float()
    q = q.detach().reshape(-1).float()
    if reference is None:
        reference = ReferenceStats.of(x)
    if not reference.all_finite:
        finite = torch.isfinite(x)
        x, q = x[finite], q[finite]
    numel = x.numel()
    if numel == 0:
        return ErrorMetrics(0.0, math.inf, 1.0, 0.0, 0.0, 0.0, 0)

    # float32 dot products accumulate in SIMD lanes; their relative error (~1e-6 for
    # 10**7 elements here) is far below the differences between formats.
    error = x - q
    noise = float(torch.dot(error, error))
    q_power = float(torch.dot(q, q))
    max_abs = float(torch.linalg.vector_norm(error, ord=math.inf))
    if zero_preserving:
        underflow = reference.nonzero - int(torch.count_nonzero(q))
    else:
        underflow = int(torch.count_nonzero((q == 0) & (x != 0)))
    if isinstance(clipped, torch.Tensor):
        clipped_count = int(clipped.sum())
    else:
        clipped_count = int(clipped or 0)

    return ErrorMetrics(
        mse=noise / numel,
        sqnr_db=sqnr_db(reference.power, noise),
        cosine=cosine_from_error(reference.power, q_power, noise),
        max_abs_error=max_abs,
        clipped_fraction=clipped_count / numel,
        underflow_fraction=max(underflow, 0) / numel,
        numel=numel,
    )


@dataclass(frozen=True)
class ReferenceStats:
    """Sums of the reference tensor that :func:`compare` reuses across candidates."""

    power: float
    nonzero: int
    all_finite: bool

    @classmethod
    def of(cls, x: torch.Tensor) -> ReferenceStats:
        x = x.detach().reshape(-1).float()
        finite = all_finite(x)
        if not finite:
            x = x[torch.isfinite(x)]
        return cls(float(torch.dot(x, x)), int(torch.count_nonzero(x)), finite)


def cosine_from_error(power_a: float, power_b: float, noise: float) -> float:
    """Cosine similarity of ``a`` and ``b`` from ``|a|**2``, ``|b|**2`` and ``|a - b|**2``.

    Computed as ``1 - (noise - (|a| - |b|)**2) / (2 |a| |b|)``, which keeps the small
    distance of a good quantization from 1.0 accurate where ``a . b / (|a| |b|)`` in
    float32 would round it away.
    """
    if power_a <= 0.0 and power_b <= 0.0:
        return 1.0
    if power_a <= 0.0 or power_b <= 0.0:
        return 0.0
    norm_a, norm_b = math.sqrt(power_a), math.sqrt(power_b)
    distance = (noise - (norm_a - norm_b) ** 2) / (2 * norm_a * norm_b)
    return max(-1.0, min(1.0, 1.0 - distance))


def cosine_from_sums(cross: float, power_a: float, power_b: float) -> float:
    """Cosine similarity from ``sum(a*b)``, ``sum(a*a)``, ``sum(b*b)``; 1.0 for two zeros."""
    if power_a <= 0.0 and power_b <= 0.0:
        return 1.0
    if power_a <= 0.0 or power_b <= 0.0:
        return 0.0
    return max(-1.0, min(1.0, cross / math.sqrt(power_a * power_b)))


def cosine_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of matching rows of ``[n, d]`` tensors, float64 ``[n]``."""
    a = a.double()
    b = b.double()
    cross = (a * b).sum(dim=-1)
    norms = a.norm(dim=-1) * b.norm(dim=-1)
    return torch.where(norms > 0, cross / norms.clamp_min(1e-300), 1.0)


def kl_divergence_logits(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """KL(softmax(reference) || softmax(other)) per position, in nats, float64."""
    log_p = torch.log_softmax(reference.double(), dim=-1)
    log_q = torch.log_softmax(other.double(), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)
