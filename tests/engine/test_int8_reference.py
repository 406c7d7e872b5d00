"""INT8/UINT8 quantization against ONNX Runtime and torch's fake-quant kernels.

ONNX Runtime (``QuantizeLinear``/``DequantizeLinear``, opset 21, CPU provider) divides
``x / scale`` in float32 and rounds half to even, as the engine does. The engine must
match it exactly on every non-NaN element, ties, +-inf and huge values included.

torch's ``fake_quantize_per_tensor_affine`` and ``fake_quantize_per_channel_affine``
(torch 2.13 CPU) multiply by ``1 / scale`` instead, so they differ from ONNX Runtime
on elements where ``x / scale`` and ``x * (1 / scale)`` round to different integers.
These tests model that exactly: torch equals the multiply-by-inverse formula, and
every element where it differs from the engine has ``x / scale`` within one float32
ulp of a .5 tie.

Two more differences, both outside the engine's contract:

* NaN has no integer code. The engine's ``quantize`` writes the zero point and
  ``fake_quantize`` returns NaN; onnxruntime 1.32 writes the lowest code (-128 for
  INT8, 0 for UINT8) and torch returns ``(qmin - zero_point) * scale``.
* torch's per-channel kernel converts the rounded value to int64 before clamping.
  On x86 that turns +-inf and ``|x / scale| >= 2**63`` into the lowest code (+inf
  gives -128), so those elements are left out of the per-channel torch comparison.

ONNX has no narrow range, so a narrow-range spec ([-127, 127]) is compared with
onnxruntime's codes clamped to -127 at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from grid_reference import ulp
from onnx_reference import run_qdq

from quantviz.quant import QParams, QuantSpec, dequantize, fake_quantize, quantize

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
# Beyond this magnitude torch's per-channel kernel overflows its int64 conversion.
TORCH_INT64_LIMIT = 2.0**62


@dataclass(frozen=True)
class Case:
    name: str
    spec: QuantSpec
    zero_point: int


CASES = [
    Case("int8_narrow", QuantSpec("int8"), 0),
    Case("int8_full", QuantSpec("int8", narrow_range=False), 0),
    Case("uint8_asym", QuantSpec("uint8", symmetric=False), 131),
    Case("int8_asym", QuantSpec("int8", symmetric=False), -21),
]
CASE_IDS = [case.name for case in CASES]
# A power-of-two scale makes every (k + 0.5) * s an exact tie. The others give near-ties.
SCALES = [2.0**-6, 0.0173, 3.0 / 127, 0.1, 1 / 3, 250.0]


def per_tensor(case: Case, scale: float) -> QParams:
    return QParams(
        torch.tensor(scale, dtype=torch.float32),
        torch.tensor(case.zero_point, dtype=torch.int32),
        case.spec,
    )


def edge_values(scale: float) -> torch.Tensor:
    """Ties, grid points, values at and beyond the code range, +-inf, huge and tiny."""
    steps = torch.arange(-300, 301, dtype=torch.float32)
    finfo = torch.finfo(torch.float32)
    special = torch.tensor(
        [0.0, -0.0, 1e-40, -1e-40, 1e30, -1e30, finfo.max, -finfo.max, float("inf"), -float("inf")]
    )
    return torch.cat([(steps + 0.5) * scale, steps * scale, special])


def sample_tensor(scale: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(50_000, generator=generator) * (60 * scale)
    return torch.cat([gaussian, edge_values(scale)])


def ort_reference(case: Case, x: torch.Tensor, qparams: QParams, **attributes):
    """onnxruntime's codes and values, with codes below a narrow range moved up to it.

    Only a narrow-range spec changes anything: ONNX's INT8 range ends at -128, the
    spec's at -127, and those elements get ``(-127 - zero_point) * scale``.
    """
    reference = run_qdq(
        x, case.spec.format.onnx_dtype, qparams.scale, qparams.zero_point, **attributes
    )
    codes = reference.codes.clamp(case.spec.qmin, case.spec.qmax)
    moved = codes != reference.codes
    scale, zero_point = qparams.broadcast_to(x)
    lowest_value = (case.spec.qmin - zero_point) * scale
    values = torch.where(moved, lowest_value, reference.dequantized)
    return codes, values


def multiply_model(x, scale, zero_point, qmin, qmax) -> torch.Tensor:
    """What torch's fake-quant kernels compute: ``round(x * (1 / s))``, in float32."""
    inverse = torch.ones_like(scale) / scale
    rounded = torch.round(x * inverse)
    return torch.clamp(rounded, qmin - zero_point, qmax - zero_point) * scale


def near_tie(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Elements whose float32 ``x / scale`` lies within one ulp of a .5 tie.

    Only magnitudes below 2**22 count. From 2**22 on, float32 values are at least 0.5
    apart, so every value would be within one ulp of a tie.
    """
    scaled = x / scale
    distance = (scaled - (torch.floor(scaled) + 0.5)).abs()
    return (distance <= ulp(scaled)) & (scaled.abs() < 2.0**22)


def assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Assert equal values and equal NaN positions.

    -0.0 equals 0.0 here because an integer code 0 has no sign.
    """
    keep = ~torch.isnan(expected)
    assert torch.equal(torch.isnan(actual), ~keep)
    assert torch.equal(actual[keep], expected[keep])


# ONNX Runtime ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("scale", SCALES)
def test_per_tensor_matches_ort(case, scale):
    x = sample_tensor(scale, seed=0)
    qparams = per_tensor(case, scale)
    codes, values = ort_reference(case, x, qparams)
    assert torch.equal(quantize(x, qparams), codes)
    assert_same(fake_quantize(x, qparams), values)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    ("shape", "axis"),
    [((16, 300), 0), ((300, 16), 1), ((4, 5, 60), 2), ((4, 6, 30), 1)],
    ids=["rows", "transposed", "last_of_3d", "middle_of_3d"],
)
def test_per_channel_matches_ort(case, shape, axis):
    generator = torch.Generator().manual_seed(1)
    channels = shape[axis]
    scale = torch.rand(channels, generator=generator) * 0.1 + 1e-3
    scale[0] = 2.0**-6
    zero_point = torch.randint(case.spec.qmin, case.spec.qmax + 1, (channels,), generator=generator)
    if case.spec.symmetric:
        zero_point.zero_()
    zero_point = zero_point.to(torch.int32)
    spec = QuantSpec(
        case.spec.format,
        granularity="channel",
        axis=axis,
        symmetric=case.spec.symmetric,
        narrow_range=case.spec.narrow_range,
    )
    x = torch.randn(shape, generator=generator) * 8
    x.view(-1)[::53] = float("inf")
    x.view(-1)[7::53] = -float("inf")
    x.view(-1)[11::53] = 1e30
    qparams = QParams(scale, zero_point, spec)
    codes, values = ort_reference(case, x, qparams, axis=axis)
    assert torch.equal(quantize(x, qparams), codes)
    assert_same(fake_quantize(x, qparams), values)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("shape", "axis"), [((8, 64), 1), ((64, 8), 0)], ids=["axis1", "axis0"])
def test_per_group_matches_ort(case, shape, axis):
    generator = torch.Generator().manual_seed(2)
    group_size = 16
    scale_shape = list(shape)
    scale_shape[axis] //= group_size
    scale = torch.rand(scale_shape, generator=generator) * 0.1 + 1e-3
    zero_point = torch.randint(case.spec.qmin, case.spec.qmax + 1, scale_shape, generator=generator)
    if case.spec.symmetric:
        zero_point.zero_()
    zero_point = zero_point.to(torch.int32)
    spec = QuantSpec(
        case.spec.format,
        granularity="group",
        axis=axis,
        group_size=group_size,
        symmetric=case.spec.symmetric,
        narrow_range=case.spec.narrow_range,
    )
    x = torch.randn(shape, generator=generator) * 8
    x.view(-1)[::29] = float("-inf")
    qparams = QParams(scale, zero_point, spec)
    codes, values = ort_reference(case, x, qparams, axis=axis, block_size=group_size)
    assert torch.equal(quantize(x, qparams), codes)
    assert_same(fake_quantize(x, qparams), values)


def test_narrow_range_vs_ort():
    """ONNX has no narrow range: onnxruntime writes -128 where the engine writes -127."""
    x = torch.tensor([-200.0, -127.6, -127.5, -127.4, 127.6, 200.0])
    qparams = per_tensor(CASES[0], 1.0)
    raw = run_qdq(x, qparams.spec.format.onnx_dtype, 1.0, 0).codes
    assert raw.tolist() == [-128, -128, -128, -127, 127, 127]
    assert quantize(x, qparams).tolist() == [-127, -127, -127, -127, 127, 127]


# torch's fake-quant kernels -------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("scale", SCALES)
def test_per_tensor_vs_torch(case, scale):
    x = sample_tensor(scale, seed=3)  # includes +-inf and +-float32 max
    qparams = per_tensor(case, scale)
    spec = case.spec
    expected_torch = torch.fake_quantize_per_tensor_affine(
        x, float(qparams.scale), case.zero_point, spec.qmin, spec.qmax
    )
    modeled = multiply_model(x, qparams.scale, case.zero_point, spec.qmin, spec.qmax)
    assert torch.equal(expected_torch, modeled)

    ours = fake_quantize(x, qparams)
    differs = ours != expected_torch
    assert torch.equal(differs & near_tie(x, qparams.scale), differs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    ("shape", "axis"), [((16, 300), 0), ((300, 16), 1), ((4, 5, 60), 2)], ids=str
)
def test_per_channel_vs_torch(case, shape, axis):
    generator = torch.Generator().manual_seed(5)
    channels = shape[axis]
    scale = torch.rand(channels, generator=generator) * 0.1 + 1e-3
    zero_point = torch.randint(case.spec.qmin, case.spec.qmax + 1, (channels,), generator=generator)
    if case.spec.symmetric:
        zero_point.zero_()
    zero_point = zero_point.to(torch.int32)
    spec = QuantSpec(
        case.spec.format,
        granularity="channel",
        axis=axis,
        symmetric=case.spec.symmetric,
        narrow_range=case.spec.narrow_range,
    )
    x = torch.randn(shape, generator=generator) * 4
    # Exact .5 ties for channel 0: its scale is a power of two.
    scale[0] = 2.0**-5
    x.select(axis, 0).copy_((torch.randint(-300, 300, x.select(axis, 0).shape) + 0.5) * 2.0**-5)
    x.view(-1)[::31] = 1e6
    qparams = QParams(scale, zero_point, spec)
    broadcast_scale, broadcast_zero = qparams.broadcast_to(x)
    expected_torch = torch.fake_quantize_per_channel_affine(
        x, scale, zero_point, axis, spec.qmin, spec.qmax
    )
    representable = (x / broadcast_scale).abs() < TORCH_INT64_LIMIT
    assert representable.all()  # this input stays inside torch's int64 conversion
    modeled = multiply_model(x, broadcast_scale, broadcast_zero, spec.qmin, spec.qmax)
    assert torch.equal(expected_torch, modeled)

    ours = fake_quantize(x, qparams)
    differs = ours != expected_torch
    assert torch.equal(differs & near_tie(x, broadcast_scale), differs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_per_group_vs_torch_per_channel(case):
    """A group is a channel of the ``[groups, group_size]`` view."""
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(8, 64, generator=generator) * 3
    scale = torch.rand(8, 4, generator=generator) * 0.05 + 1e-3
    zero_point = torch.randint(case.spec.qmin, case.spec.qmax + 1, (8, 4), generator=generator)
    if case.spec.symmetric:
        zero_point.zero_()
    zero_point = zero_point.to(torch.int32)
    spec = QuantSpec(
        case.spec.format,
        granularity="group",
        axis=1,
        group_size=16,
        symmetric=case.spec.symmetric,
        narrow_range=case.spec.narrow_range,
    )
    ours = fake_quantize(x, QParams(scale, zero_point, spec))
    rows = x.reshape(32, 16)
    expected_torch = torch.fake_quantize_per_channel_affine(
        rows, scale.reshape(32), zero_point.reshape(32), 0, spec.qmin, spec.qmax
    ).reshape(8, 64)
    differs = ours != expected_torch
    row_scale = scale.repeat_interleave(16, dim=1)
    assert torch.equal(differs & near_tie(x, row_scale), differs)


def test_torch_disagreement_example():
    """One measured element where torch's multiply and ONNX's divide disagree.

    With s = float32(3 / 127) and x = -1.807086706161499 (float32 bits 0xBFE74E9E),
    x / s is -76.50000762939453 and rounds to -77, while x * (1 / s) is exactly -76.5
    and rounds half to even, to -76.
    """
    scale = torch.tensor(3.0 / 127, dtype=torch.float32)
    x = torch.tensor([-1075360098], dtype=torch.int32).view(torch.float32)
    qparams = QParams(scale, torch.tensor(0, dtype=torch.int32), QuantSpec("int8"))
    reference = run_qdq(x, qparams.spec.format.onnx_dtype, scale, 0)
    torch_values = torch.fake_quantize_per_tensor_affine(x, float(scale), 0, -127, 127)
    assert quantize(x, qparams).item() == -77
    assert reference.codes.item() == -77
    assert torch.equal(torch_values, torch.tensor([-76.0]) * scale)


# NaN, dtypes and consistency ------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_nan_handling(case):
    x = torch.tensor([float("nan"), 1.0])
    qparams = per_tensor(case, 0.1)
    codes = quantize(x, qparams)
    assert codes[0].item() == case.zero_point
    assert torch.isnan(fake_quantize(x, qparams)[0])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_codes_dtype(case):
    codes = quantize(torch.randn(10), per_tensor(case, 0.01))
    assert codes.dtype == case.spec.format.storage_dtype


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("scale", SCALES)
def test_dequantize_of_quantize(case, scale):
    x = sample_tensor(scale, seed=7)
    qparams = per_tensor(case, scale)
    assert torch.equal(dequantize(quantize(x, qparams), qparams), fake_quantize(x, qparams))


# CUDA -----------------------------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cuda_matches_cpu(case):
    x = sample_tensor(0.0173, seed=8)
    qparams = per_tensor(case, 0.0173)
    on_device = qparams.to("cuda")
    assert torch.equal(quantize(x.cuda(), on_device).cpu(), quantize(x, qparams))
    assert_same(fake_quantize(x.cuda(), on_device).cpu(), fake_quantize(x, qparams))


@CUDA
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cuda_per_channel_matches_cpu(case):
    generator = torch.Generator().manual_seed(9)
    x = torch.randn(300, 16, generator=generator) * 4
    scale = torch.rand(16, generator=generator) * 0.1 + 1e-3
    zero_point = torch.full((16,), case.zero_point, dtype=torch.int32)
    spec = QuantSpec(
        case.spec.format,
        granularity="channel",
        axis=1,
        symmetric=case.spec.symmetric,
        narrow_range=case.spec.narrow_range,
    )
    qparams = QParams(scale, zero_point, spec)
    on_device = fake_quantize(x.cuda(), qparams.to("cuda")).cpu()
    assert_same(on_device, fake_quantize(x, qparams))
