"""Independent float-format reference for the engine tests.

Values are decoded from bit patterns with the textbook formula and rounding picks the
nearest value with ties to the even code, in float64 numpy. Nothing here calls
quantviz, so a shared mistake cannot hide in both sides of a comparison.
"""

from __future__ import annotations

import numpy as np
import torch

from quantviz.formats import FloatFormat

POSITIVE_INFINITY = torch.tensor(float("inf"))
NEGATIVE_INFINITY = torch.tensor(float("-inf"))


def decode_positive_codes(fmt: FloatFormat) -> np.ndarray:
    """Values of the codes ``0 .. 2**(bits - 1) - 1`` (sign bit clear), float64.

    A code that encodes infinity or NaN gets NaN. The finite values ascend with the
    code, so an index into the finite prefix is the code.
    """
    mantissa_mask = 2**fmt.mantissa_bits - 1
    top_exponent = 2**fmt.exponent_bits - 1
    values = []
    for code in range(2 ** (fmt.bits - 1)):
        exponent_field = code >> fmt.mantissa_bits
        mantissa_field = code & mantissa_mask
        special = (fmt.specials == "ieee" and exponent_field == top_exponent) or (
            fmt.specials == "fn"
            and exponent_field == top_exponent
            and mantissa_field == mantissa_mask
        )
        if special:
            values.append(np.nan)
        elif exponent_field == 0:
            values.append(mantissa_field * 2.0 ** (1 - fmt.bias - fmt.mantissa_bits))
        else:
            fraction = 1 + mantissa_field / 2**fmt.mantissa_bits
            values.append(2.0 ** (exponent_field - fmt.bias) * fraction)
    return np.array(values, dtype=np.float64)


def finite_positive_values(fmt: FloatFormat) -> np.ndarray:
    """Finite non-negative values of ``fmt`` in code order (ascending), zero first."""
    values = decode_positive_codes(fmt)
    return values[np.isfinite(values)]


def round_to_grid(x: torch.Tensor, fmt: FloatFormat) -> torch.Tensor:
    """Round finite float32 ``x`` with ``|x| <= max`` to ``fmt``, ties to the even code.

    The result is float32 and keeps the sign of ``x``, so a negative value that rounds
    to zero gives -0.0 as a float8 cast does.
    """
    magnitudes = np.abs(x.double().numpy())
    grid = finite_positive_values(fmt)
    if not np.all(magnitudes <= grid[-1]):
        raise ValueError("round_to_grid expects values inside the format's range")
    lower = np.searchsorted(grid, magnitudes, side="right") - 1
    upper = np.minimum(lower + 1, grid.size - 1)
    # Both differences are exact in float64: the operands are float32 values within
    # a factor of two of each other, or one of them is zero.
    below = magnitudes - grid[lower]
    above = grid[upper] - magnitudes
    take_upper = (above < below) | ((above == below) & (upper % 2 == 0) & (upper != lower))
    rounded = np.where(take_upper, grid[upper], grid[lower])
    signed = np.copysign(rounded, x.double().numpy())
    return torch.from_numpy(signed).float()


def hard_cases(fmt: FloatFormat) -> torch.Tensor:
    """Float32 values that stress rounding onto ``fmt`` after division by scale 1.

    Every finite grid value with both signs, every midpoint between neighbours (a tie)
    and the float32 values one ulp either side, half the smallest subnormal and the
    value just above it, +-max, values beyond max, +-0.0, NaN and +-inf.
    """
    positive = torch.from_numpy(finite_positive_values(fmt)).float()
    midpoints = (positive[1:] + positive[:-1]) / 2
    min_subnormal = torch.tensor([fmt.min_subnormal / 2], dtype=torch.float32)
    ties = torch.cat([midpoints, min_subnormal])
    near_ties = torch.cat(
        [torch.nextafter(ties, POSITIVE_INFINITY), torch.nextafter(ties, NEGATIVE_INFINITY)]
    )
    max_value = torch.tensor([fmt.max_value], dtype=torch.float32)
    beyond = torch.cat(
        [
            torch.nextafter(max_value, POSITIVE_INFINITY),
            max_value * 1.03125,
            max_value * 1.0625,
            max_value * 2,
            torch.tensor([1e30, torch.finfo(torch.float32).max]),
        ]
    )
    magnitudes = torch.cat([positive, ties, near_ties, beyond])
    specials = torch.tensor([0.0, -0.0, float("nan"), float("inf"), float("-inf")])
    return torch.cat([magnitudes, -magnitudes, specials])


def random_sweep(fmt: FloatFormat, count: int, seed: int) -> torch.Tensor:
    """``count`` float32 values with random mantissas spread over every binade of ``fmt``
    and a few binades below its smallest subnormal and above its max."""
    generator = torch.Generator().manual_seed(seed)
    low = int(np.log2(fmt.min_subnormal)) - 3
    high = int(np.log2(fmt.max_value)) + 3
    exponents = torch.randint(low, high, (count,), generator=generator).float()
    mantissas = 1 + torch.rand(count, generator=generator)
    signs = torch.randint(0, 2, (count,), generator=generator).float() * 2 - 1
    return signs * mantissas * torch.exp2(exponents)


def ulp(values: torch.Tensor) -> torch.Tensor:
    """Distance from each float32 ``|value|`` to the next float32 away from zero."""
    magnitude = values.abs()
    return torch.nextafter(magnitude, POSITIVE_INFINITY) - magnitude
