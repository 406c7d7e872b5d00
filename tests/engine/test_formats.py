"""Numeric formats: constants, grids, lookup and the float32 rounding emulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from grid_reference import finite_positive_values, hard_cases, random_sweep, round_to_grid
from onnx import TensorProto

from quantviz.errors import QuantvizError
from quantviz.formats import (
    FORMATS,
    FP4_E2M1,
    FP8_E4M3FN,
    FP8_E5M2,
    INT4,
    INT8,
    UINT4,
    UINT8,
    FloatFormat,
    IntFormat,
    get_format,
)
from quantviz.quant import (
    QParams,
    QuantSpec,
    emulate_float_rounding,
    fake_quantize,
    quantize,
    round_to_float_format,
)

FLOAT_FORMATS = [f for f in FORMATS.values() if isinstance(f, FloatFormat)]
NATIVE_FLOAT_FORMATS = [f for f in FLOAT_FORMATS if f.torch_dtype is not None]


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.float().view(torch.int32)


@pytest.mark.parametrize(
    ("fmt", "bias", "max_value", "min_normal", "min_subnormal", "has_inf"),
    [
        (FP8_E4M3FN, 7, 448.0, 2.0**-6, 2.0**-9, False),
        (FP8_E5M2, 15, 57344.0, 2.0**-14, 2.0**-16, True),
        (FP4_E2M1, 1, 6.0, 1.0, 0.5, False),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_float_constants(fmt, bias, max_value, min_normal, min_subnormal, has_inf):
    assert fmt.bias == bias
    assert fmt.max_value == max_value
    assert fmt.min_normal == min_normal
    assert fmt.min_subnormal == min_subnormal
    assert fmt.has_inf is has_inf


@pytest.mark.parametrize(
    ("fmt", "qmin", "qmax", "storage"),
    [
        (INT8, -128, 127, torch.int8),
        (UINT8, 0, 255, torch.uint8),
        (INT4, -8, 7, torch.int8),
        (UINT4, 0, 15, torch.uint8),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_int_constants(fmt, qmin, qmax, storage):
    assert fmt.qmin == qmin
    assert fmt.qmax == qmax
    assert fmt.max_value == float(qmax)
    assert fmt.storage_dtype == storage
    assert torch.equal(fmt.grid(), torch.arange(qmin, qmax + 1, dtype=torch.float32))


def test_onnx_element_types():
    assert INT8.onnx_dtype == TensorProto.INT8
    assert UINT8.onnx_dtype == TensorProto.UINT8
    assert FP8_E4M3FN.onnx_dtype == TensorProto.FLOAT8E4M3FN
    assert FP8_E5M2.onnx_dtype == TensorProto.FLOAT8E5M2
    assert FP4_E2M1.onnx_dtype == TensorProto.FLOAT4E2M1


@pytest.mark.parametrize("fmt", NATIVE_FLOAT_FORMATS, ids=lambda f: f.name)
def test_grid_matches_bit_patterns(fmt):
    """``grid()`` lists exactly the finite values that torch decodes from all 256 codes."""
    decoded = torch.arange(256, dtype=torch.uint8).view(fmt.torch_dtype).float()
    finite = decoded[torch.isfinite(decoded)]
    expected = torch.unique(finite)  # sorted, and +0.0 and -0.0 collapse into one zero
    assert torch.equal(fmt.grid(), expected)


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_grid_matches_formula(fmt):
    positive = torch.from_numpy(finite_positive_values(fmt)).float()
    expected = torch.cat([-positive[1:].flip(0), positive])
    assert torch.equal(fmt.grid(), expected)


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_max_value_matches_formula(fmt):
    assert fmt.max_value == finite_positive_values(fmt)[-1]


def test_fp4_grid():
    positive = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    expected = torch.tensor([-v for v in reversed(positive[1:])] + positive)
    assert torch.equal(FP4_E2M1.grid(), expected)


def test_get_format_aliases():
    assert get_format("e4m3") is FP8_E4M3FN
    assert get_format("FP8_E4M3") is FP8_E4M3FN
    assert get_format("e5m2") is FP8_E5M2
    assert get_format("INT8") is INT8
    assert get_format(UINT8) is UINT8


def test_get_format_unknown():
    with pytest.raises(QuantvizError, match=r"unknown numeric format 'int7'.*int8"):
        get_format("int7")


def test_formats_registry_complete():
    assert set(FORMATS) == {
        "int8",
        "uint8",
        "int4",
        "uint4",
        "fp8_e4m3fn",
        "fp8_e5m2",
        "fp4_e2m1",
    }
    assert all(isinstance(f, IntFormat | FloatFormat) for f in FORMATS.values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.25, 0.0),  # tie between 0 (code 0) and 0.5 (code 1)
        (0.75, 1.0),  # tie between 0.5 (code 1) and 1.0 (code 2)
        (1.25, 1.0),
        (1.75, 2.0),
        (2.5, 2.0),
        (3.5, 4.0),
        (5.0, 4.0),
        (-2.5, -2.0),
        (-5.0, -4.0),
        (0.2499999, 0.0),
        (0.2500001, 0.5),
        (4.9999995, 4.0),
        (5.0000005, 6.0),
        (6.0, 6.0),
        (7.0, 6.0),  # beyond max: saturates
        (1e30, 6.0),
        (float("inf"), 6.0),
        (float("-inf"), -6.0),
    ],
)
def test_fp4_rounding_table(value, expected):
    rounded = round_to_float_format(torch.tensor([value]), FP4_E2M1)
    assert rounded.item() == expected


def test_fp4_rounding_keeps_nan_and_signed_zero():
    rounded = round_to_float_format(torch.tensor([float("nan"), -0.0, -0.1]), FP4_E2M1)
    assert torch.isnan(rounded[0])
    assert bits(rounded[1:]).tolist() == bits(torch.tensor([-0.0, -0.0])).tolist()


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_emulation_matches_grid_reference(fmt):
    """The float32 emulation agrees bit for bit with nearest-value, ties-to-even code."""
    x = torch.cat([hard_cases(fmt), random_sweep(fmt, 100_000, seed=1)])
    x = x[torch.isfinite(x)].clamp(-fmt.max_value, fmt.max_value)
    emulated = emulate_float_rounding(x, fmt)
    expected = round_to_grid(x, fmt)
    mismatches = (bits(emulated) != bits(expected)).sum().item()
    assert mismatches == 0


@pytest.mark.parametrize("fmt", NATIVE_FLOAT_FORMATS, ids=lambda f: f.name)
def test_emulation_matches_native_cast(fmt):
    """The generic emulation reproduces torch's own float8 casts: a format is data."""
    x = torch.cat([hard_cases(fmt), random_sweep(fmt, 200_000, seed=2)])
    x = x[torch.isfinite(x)].clamp(-fmt.max_value, fmt.max_value)
    emulated = emulate_float_rounding(x, fmt)
    native = x.to(fmt.torch_dtype).float()
    mismatches = (bits(emulated) != bits(native)).sum().item()
    assert mismatches == 0


@pytest.mark.parametrize("fmt", NATIVE_FLOAT_FORMATS, ids=lambda f: f.name)
def test_native_cast_matches_grid_reference(fmt):
    """torch's float8 cast itself rounds to nearest, ties to even, inside the range."""
    x = torch.cat([hard_cases(fmt), random_sweep(fmt, 100_000, seed=3)])
    x = x[torch.isfinite(x)].clamp(-fmt.max_value, fmt.max_value)
    native = x.to(fmt.torch_dtype).float()
    assert torch.equal(bits(native), bits(round_to_grid(x, fmt)))


@pytest.mark.parametrize("scale", [1.0, 2.0**-5, 64.0])
def test_fp4_fake_quantize_matches_grid_reference(scale):
    """The emulated path of fake_quantize and quantize rounds like the reference."""
    x = torch.cat([hard_cases(FP4_E2M1), random_sweep(FP4_E2M1, 100_000, seed=4)])
    x = x[torch.isfinite(x)]
    spec = QuantSpec(FP4_E2M1)
    qparams = QParams(torch.tensor(scale), torch.tensor(0, dtype=torch.int32), spec)
    expected = round_to_grid(x.clamp(-6.0, 6.0), FP4_E2M1)
    assert torch.equal(bits(quantize(x * scale, qparams)), bits(expected))
    assert torch.equal(bits(fake_quantize(x * scale, qparams)), bits(expected * scale))


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_round_to_float_format_saturates(fmt):
    x = torch.tensor([fmt.max_value * 1.5, -fmt.max_value * 1.5, float("inf"), float("-inf")])
    expected = torch.tensor([fmt.max_value, -fmt.max_value, fmt.max_value, -fmt.max_value])
    assert torch.equal(round_to_float_format(x, fmt), expected)


@pytest.mark.parametrize("fmt", FLOAT_FORMATS, ids=lambda f: f.name)
def test_round_to_float_format_keeps_input(fmt):
    x = torch.linspace(-2 * fmt.max_value, 2 * fmt.max_value, 1001)
    original = x.clone()
    round_to_float_format(x, fmt)
    assert torch.equal(x, original)


def test_round_to_grid_rejects_out_of_range():
    """The test reference itself rejects values that it cannot round."""
    with pytest.raises(ValueError, match="inside the format's range"):
        round_to_grid(torch.tensor([7.0]), FP4_E2M1)


def test_grid_reference_ties_to_even():
    """A sanity check of the reference against hand-computed E4M3FN ties."""
    # 1.0 and 1.125 are codes 0x38 and 0x39, so 1.0625 lies halfway and goes to 0x38.
    # 1.125 and 1.25 are codes 0x39 and 0x3A, so 1.1875 goes to 0x3A, which is 1.25.
    x = torch.tensor([1.0625, 1.1875, 448.0, 2.0**-10, 3 * 2.0**-10])
    expected = np.array([1.0, 1.25, 448.0, 0.0, 2.0**-8])
    assert np.array_equal(round_to_grid(x, FP8_E4M3FN).numpy(), expected)
