"""Property tests over every format, granularity, symmetry and a wide range of scales."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from quantviz.formats import FORMATS, FloatFormat, IntFormat
from quantviz.quant import QParams, QuantSpec, dequantize, fake_quantize, quantize

# Fixed seed and no example database, so a run is repeatable and writes no files.
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)
UNIT_ROUNDOFF = 2.0**-24  # float32


@st.composite
def specs(draw, granularities=("tensor", "channel", "group")) -> QuantSpec:
    fmt = draw(st.sampled_from(list(FORMATS.values())))
    granularity = draw(st.sampled_from(granularities))
    symmetric = True if isinstance(fmt, FloatFormat) else draw(st.booleans())
    return QuantSpec(
        fmt,
        granularity=granularity,
        axis=None if granularity == "tensor" else draw(st.sampled_from([0, 1])),
        group_size=4 if granularity == "group" else None,
        symmetric=symmetric,
        narrow_range=draw(st.booleans()),
    )


@st.composite
def scales(draw, count: int) -> torch.Tensor:
    """Float32 scales from 2**-20 to 2**20 with random mantissas, often exactly 1.

    A power-of-two scale keeps ``x / scale`` exact, so drawn ties stay ties.
    """
    exponents = draw(st.lists(st.integers(-20, 19), min_size=count, max_size=count))
    mantissa = st.one_of(st.just(1.0), st.floats(1.0, 2.0, exclude_max=True))
    mantissas = draw(st.lists(mantissa, min_size=count, max_size=count))
    values = [m * 2.0**e for m, e in zip(mantissas, exponents, strict=True)]
    return torch.tensor(values, dtype=torch.float32)


def qparams_shape(spec: QuantSpec, shape: tuple[int, int]) -> tuple[int, ...]:
    if spec.granularity == "tensor":
        return ()
    if spec.granularity == "channel":
        return (shape[spec.axis],)
    grouped = list(shape)
    grouped[spec.axis] //= spec.group_size
    return tuple(grouped)


@st.composite
def cases(draw, granularities=("tensor", "channel", "group")):
    """``(x, qparams)``: a [4, 8] float32 tensor whose ``x / scale`` spans the format's
    range and twice beyond it, with qparams of a random spec."""
    spec = draw(specs(granularities))
    shape = (4, 8)
    qshape = qparams_shape(spec, shape)
    count = int(np.prod(qshape)) if qshape else 1
    scale = draw(scales(count)).reshape(qshape)
    if spec.is_float:
        zero_point = torch.zeros(qshape, dtype=torch.int32)
        limit = spec.format.max_value
    else:
        zero_points = [0] * count
        if not spec.symmetric:
            zero_points = draw(
                st.lists(st.integers(spec.qmin, spec.qmax), min_size=count, max_size=count)
            )
        zero_point = torch.tensor(zero_points, dtype=torch.int32).reshape(qshape)
        limit = float(spec.qmax - spec.qmin)
    scaled_value = st.one_of(
        st.floats(-2 * limit, 2 * limit, width=32),
        st.sampled_from(tie_values(spec.format)),
    )
    scaled = draw(st.lists(scaled_value, min_size=32, max_size=32))
    qparams = QParams(scale, zero_point, spec)
    broadcast_scale, _ = qparams.broadcast_to(torch.empty(shape))
    x = torch.tensor(scaled, dtype=torch.float32).reshape(shape) * broadcast_scale
    return x, qparams


def tie_values(fmt) -> list[float]:
    """Midpoints between neighbouring values of ``fmt``'s grid, both signs."""
    grid = fmt.grid().double()
    if isinstance(fmt, IntFormat):
        grid = torch.arange(-2 * fmt.qmax - 2, 2 * fmt.qmax + 2, dtype=torch.float64)
    return ((grid[1:] + grid[:-1]) / 2).tolist()


def local_half_spacing(scaled: torch.Tensor, fmt) -> torch.Tensor:
    """Half the grid spacing of ``fmt`` at ``scaled`` (1/2 for integer formats)."""
    if isinstance(fmt, IntFormat):
        return torch.full_like(scaled, 0.5)
    _, exponent = torch.frexp(scaled)
    binade = (exponent - 1).clamp_min(1 - fmt.bias)
    return torch.exp2((binade - fmt.mantissa_bits).float()) / 2


def inside_range(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    scale, zero_point = qparams.broadcast_to(x)
    scaled = x / scale
    spec = qparams.spec
    if spec.is_float:
        return scaled.abs() <= spec.format.max_value
    return (scaled >= spec.qmin - zero_point) & (scaled <= spec.qmax - zero_point)


@PROPERTY_SETTINGS
@given(cases(granularities=("tensor",)))
def test_monotonic(case):
    x, qparams = case
    ordered = x.flatten().sort().values
    out = fake_quantize(ordered, qparams)
    assert bool((out[1:] >= out[:-1]).all())


@PROPERTY_SETTINGS
@given(cases())
def test_error_bounded_inside_range(case):
    x, qparams = case
    out = fake_quantize(x, qparams)
    scale, _ = qparams.broadcast_to(x)
    scaled = x / scale
    inside = inside_range(x, qparams)
    error = (x.double() - out.double()).abs()
    # Half a grid step times the scale, plus float32 rounding of x / s and of q * s.
    bound = local_half_spacing(scaled, qparams.spec.format).double() * scale.double()
    bound = bound + UNIT_ROUNDOFF * (x.double().abs() + out.double().abs())
    assert bool((error <= bound)[inside].all())


@PROPERTY_SETTINGS
@given(cases())
def test_clipped_to_range_end(case):
    """Outside the range the result is the nearest end of the range."""
    x, qparams = case
    out = fake_quantize(x, qparams)
    scale, zero_point = qparams.broadcast_to(x)
    spec = qparams.spec
    if spec.is_float:
        high = torch.full_like(x, spec.format.max_value) * scale
        low = -high
    else:
        high = (spec.qmax - zero_point) * scale
        low = (spec.qmin - zero_point) * scale
    outside = ~inside_range(x, qparams)
    expected = torch.where(x > 0, high.expand_as(x), low.expand_as(x))
    assert torch.equal(out[outside], expected[outside])


@PROPERTY_SETTINGS
@given(cases())
def test_zero_exact(case):
    _, qparams = case
    zeros = torch.zeros(4, 8)
    negative_zeros = torch.full((4, 8), -0.0)
    assert bool((fake_quantize(zeros, qparams) == 0).all())
    assert bool((fake_quantize(negative_zeros, qparams) == 0).all())


@PROPERTY_SETTINGS
@given(cases())
def test_idempotent(case):
    x, qparams = case
    once = fake_quantize(x, qparams)
    assert torch.equal(fake_quantize(once, qparams), once)


@PROPERTY_SETTINGS
@given(cases())
def test_dequantize_of_quantize(case):
    x, qparams = case
    codes = quantize(x, qparams)
    assert torch.equal(dequantize(codes, qparams), fake_quantize(x, qparams))


@PROPERTY_SETTINGS
@given(cases())
def test_codes_in_range(case):
    x, qparams = case
    spec = qparams.spec
    codes = quantize(x, qparams)
    if spec.is_float:
        values = codes.float()
        assert bool((values.abs() <= spec.format.max_value).all())
    else:
        assert codes.dtype == spec.format.storage_dtype
        assert bool((codes.int() >= spec.qmin).all())
        assert bool((codes.int() <= spec.qmax).all())


@PROPERTY_SETTINGS
@given(cases(), st.integers(-8, 8))
def test_power_of_two_rescaling(case, shift):
    """Multiplying x and the scale by 2**k multiplies the result by 2**k exactly."""
    x, qparams = case
    factor = 2.0**shift
    rescaled = QParams(qparams.scale * factor, qparams.zero_point, qparams.spec)
    assert torch.equal(fake_quantize(x * factor, rescaled), fake_quantize(x, qparams) * factor)


@PROPERTY_SETTINGS
@given(cases(granularities=("channel", "group")))
def test_slices_match_per_tensor(case):
    """Every channel or group fake-quantizes like a tensor of its own."""
    x, qparams = case
    spec = qparams.spec
    out = fake_quantize(x, qparams)
    scale, zero_point = (t.expand(x.shape) for t in qparams.broadcast_to(x))
    tensor_spec = QuantSpec(spec.format, symmetric=spec.symmetric, narrow_range=spec.narrow_range)
    for index in np.ndindex(*x.shape):
        single = QParams(scale[index].reshape(()), zero_point[index].reshape(()), tensor_spec)
        expected = fake_quantize(x[index].reshape(1), single)
        assert torch.equal(out[index].reshape(1), expected)
