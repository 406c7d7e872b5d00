"""FP8 quantization against torch's float8 casts and ONNX Runtime, bit for bit.

References: ``(x / s).clamp(-max, max).to(float8)`` in torch, and ONNX
``QuantizeLinear``/``DequantizeLinear`` (opset 21, ``saturate=1``) in onnxruntime's CPU
provider. Codes are compared as uint8 bit patterns and values as int32 bit patterns,
so -0.0 must come back as -0.0. NaN is compared by position: the NaN float32 bit
patterns that the two libraries write after dequantization differ.
"""

from __future__ import annotations

import pytest
import torch
from grid_reference import hard_cases, random_sweep, round_to_grid
from onnx_reference import run_qdq

from quantviz.formats import FP8_E4M3FN, FP8_E5M2, FloatFormat
from quantviz.quant import QParams, QuantSpec, dequantize, fake_quantize, quantize

FP8_FORMATS = [FP8_E4M3FN, FP8_E5M2]
# 1 and powers of two keep x / s exact; the others round inside the division.
SCALES = [1.0, 2.0**-10, 3.0, 0.0173, 1e-3, 1000.0]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def code_bits(codes: torch.Tensor) -> torch.Tensor:
    return codes.view(torch.uint8)


def value_bits(values: torch.Tensor) -> torch.Tensor:
    return values.view(torch.int32)


def torch_reference_codes(x: torch.Tensor, scale: torch.Tensor, fmt: FloatFormat) -> torch.Tensor:
    return (x / scale).clamp(-fmt.max_value, fmt.max_value).to(fmt.torch_dtype)


def per_tensor(fmt: FloatFormat, scale: float) -> QParams:
    return QParams(
        torch.tensor(scale, dtype=torch.float32), torch.tensor(0, dtype=torch.int32), QuantSpec(fmt)
    )


def per_channel(fmt: FloatFormat, scale: torch.Tensor, axis: int) -> QParams:
    spec = QuantSpec(fmt, granularity="channel", axis=axis)
    return QParams(scale.float(), torch.zeros(scale.shape, dtype=torch.int32), spec)


def sweep(fmt: FloatFormat, scale: float, seed: int = 0) -> torch.Tensor:
    """Hard cases and random values, multiplied by ``scale`` (exact for powers of two)."""
    return torch.cat([hard_cases(fmt), random_sweep(fmt, 20_000, seed=seed)]) * scale


def assert_same_values(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal float32 bit patterns; NaN only needs to be NaN in both."""
    nan = torch.isnan(expected)
    assert torch.equal(torch.isnan(actual), nan)
    assert torch.equal(value_bits(actual[~nan]), value_bits(expected[~nan]))


def channel_sweep(fmt: FloatFormat, scales: torch.Tensor) -> torch.Tensor:
    """``[channels, n]``: every row is a sweep multiplied by that row's scale."""
    rows = [sweep(fmt, float(s), seed=index) for index, s in enumerate(scales)]
    return torch.stack(rows)


# All 256 codes -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("scale", [1.0, 2.0**-7, 32.0])
def test_codes_round_trip(fmt, scale):
    """Every finite code, times a power-of-two scale, quantizes back to itself."""
    codes = torch.arange(256, dtype=torch.uint8).view(fmt.torch_dtype)
    values = codes.float()
    finite = torch.isfinite(values)
    x = values[finite] * scale
    qparams = per_tensor(fmt, scale)
    assert torch.equal(code_bits(quantize(x, qparams)), code_bits(codes[finite]))
    assert torch.equal(value_bits(fake_quantize(x, qparams)), value_bits(x))


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_nan_codes_stay_nan(fmt):
    values = torch.arange(256, dtype=torch.uint8).view(fmt.torch_dtype).float()
    nan_values = values[torch.isnan(values)]
    qparams = per_tensor(fmt, 1.0)
    assert nan_values.numel() > 0
    assert torch.isnan(quantize(nan_values, qparams).float()).all()
    assert torch.isnan(fake_quantize(nan_values, qparams)).all()


# Named edge values ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_infinity_saturates(fmt):
    x = torch.tensor([float("inf"), float("-inf")])
    out = fake_quantize(x, per_tensor(fmt, 1.0))
    assert out.tolist() == [fmt.max_value, -fmt.max_value]


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_beyond_max_saturates(fmt):
    big = torch.tensor([fmt.max_value * 1.0625, -fmt.max_value * 1.0625, 1e30, -1e30])
    out = fake_quantize(big, per_tensor(fmt, 1.0))
    assert out.tolist() == [fmt.max_value, -fmt.max_value, fmt.max_value, -fmt.max_value]


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_signed_zero_codes(fmt):
    codes = quantize(torch.tensor([0.0, -0.0]), per_tensor(fmt, 0.5))
    assert code_bits(codes).tolist() == [0x00, 0x80]


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_half_min_subnormal(fmt):
    """Half the smallest subnormal is a tie and goes to zero, keeping its sign. The
    next float32 above it rounds up to the smallest subnormal."""
    half = torch.tensor([fmt.min_subnormal / 2], dtype=torch.float32)
    above = torch.nextafter(half, torch.tensor(1.0))
    x = torch.cat([half, -half, above, -above])
    out = fake_quantize(x, per_tensor(fmt, 1.0))
    expected = torch.tensor([0.0, -0.0, fmt.min_subnormal, -fmt.min_subnormal])
    assert torch.equal(value_bits(out), value_bits(expected))


# Dense sweeps against torch's cast ------------------------------------------------------


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_scale_one_matches_grid_reference(fmt):
    """With scale 1 the codes are nearest-value, ties-to-even, from the bit formula."""
    x = sweep(fmt, 1.0)
    x = x[torch.isfinite(x)]
    out = fake_quantize(x, per_tensor(fmt, 1.0))
    expected = round_to_grid(x.clamp(-fmt.max_value, fmt.max_value), fmt)
    assert torch.equal(value_bits(out), value_bits(expected))


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("scale", SCALES)
def test_per_tensor_matches_torch_cast(fmt, scale):
    x = sweep(fmt, scale)
    qparams = per_tensor(fmt, scale)
    expected = torch_reference_codes(x, qparams.scale, fmt)
    assert torch.equal(code_bits(quantize(x, qparams)), code_bits(expected))


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_matches_torch_cast(fmt, axis):
    scales = torch.tensor(SCALES, dtype=torch.float32)
    x = channel_sweep(fmt, scales)
    if axis == 1:
        x = x.T.contiguous()
    qparams = per_channel(fmt, scales, axis)
    shape = [1, 1]
    shape[axis] = -1
    expected = torch_reference_codes(x, scales.reshape(shape), fmt)
    assert torch.equal(code_bits(quantize(x, qparams)), code_bits(expected))


# Dense sweeps against ONNX Runtime ------------------------------------------------------


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("scale", SCALES)
def test_per_tensor_matches_ort(fmt, scale):
    x = sweep(fmt, scale)
    qparams = per_tensor(fmt, scale)
    reference = run_qdq(x, fmt.onnx_dtype, qparams.scale)
    codes = quantize(x, qparams)
    if fmt is FP8_E4M3FN:
        # onnxruntime returns E4M3FN codes as raw bytes, so NaN codes compare too.
        assert torch.equal(code_bits(codes), code_bits(reference.codes))
    else:
        assert_same_values(codes.float(), reference.codes.float())
    assert_same_values(fake_quantize(x, qparams), reference.dequantized)


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_matches_ort(fmt, axis):
    scales = torch.tensor(SCALES, dtype=torch.float32)
    x = channel_sweep(fmt, scales)
    if axis == 1:
        x = x.T.contiguous()
    qparams = per_channel(fmt, scales, axis)
    reference = run_qdq(x, fmt.onnx_dtype, scales, axis=axis)
    assert_same_values(quantize(x, qparams).float(), reference.codes.float())
    assert_same_values(fake_quantize(x, qparams), reference.dequantized)


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize(("axis", "shape"), [(1, (6, 64)), (0, (64, 6))])
def test_per_group_matches_ort(fmt, axis, shape):
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(shape, generator=generator) * 50
    x.view(-1)[::97] = torch.tensor(float("inf"))
    spec = QuantSpec(fmt, granularity="group", axis=axis, group_size=16)
    scale_shape = list(shape)
    scale_shape[axis] //= 16
    scale = torch.rand(scale_shape, generator=generator) * 0.1 + 1e-3
    qparams = QParams(scale, torch.zeros(scale_shape, dtype=torch.int32), spec)
    reference = run_qdq(x, fmt.onnx_dtype, scale, axis=axis, block_size=16)
    assert_same_values(quantize(x, qparams).float(), reference.codes.float())
    assert_same_values(fake_quantize(x, qparams), reference.dequantized)


# Internal consistency -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("scale", SCALES)
def test_dequantize_of_quantize(fmt, scale):
    x = sweep(fmt, scale)
    qparams = per_tensor(fmt, scale)
    assert_same_values(dequantize(quantize(x, qparams), qparams), fake_quantize(x, qparams))


@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_codes_dtype(fmt):
    codes = quantize(torch.randn(10), per_tensor(fmt, 0.01))
    assert codes.dtype == fmt.torch_dtype


# CUDA -----------------------------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("scale", [1.0, 0.0173])
def test_cuda_matches_cpu(fmt, scale):
    x = sweep(fmt, scale)
    qparams = per_tensor(fmt, scale)
    on_device = qparams.to("cuda")
    assert torch.equal(
        code_bits(quantize(x.cuda(), on_device).cpu()), code_bits(quantize(x, qparams))
    )
    assert_same_values(fake_quantize(x.cuda(), on_device).cpu(), fake_quantize(x, qparams))


@CUDA
@pytest.mark.parametrize("fmt", FP8_FORMATS, ids=lambda f: f.name)
def test_cuda_per_channel_matches_cpu(fmt):
    scales = torch.tensor(SCALES, dtype=torch.float32)
    x = channel_sweep(fmt, scales).T.contiguous()
    qparams = per_channel(fmt, scales, 1)
    on_device = fake_quantize(x.cuda(), qparams.to("cuda")).cpu()
    assert_same_values(on_device, fake_quantize(x, qparams))
