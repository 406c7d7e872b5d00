"""Straight-through (STE) and learned-step-size (LSQ) fake quantization: values and
gradients.

Inside the range neither gradient is the derivative of the quantized function, which
is 0 for ``x`` and ``round(v)`` for the scale almost everywhere. So
``torch.autograd.gradcheck`` applies only where values clip. There the output is
``bound * scale``, and both estimators give the true derivative. Inside the range the
gradients are checked against the LSQ formulas, evaluated independently in float64
numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quantviz.formats import FORMATS, FloatFormat
from quantviz.quant import (
    QParams,
    QuantSpec,
    fake_quantize,
    fake_quantize_lsq,
    fake_quantize_ste,
    lsq_grad_scale,
    qparams_for_tensor,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def specs_for(granularity: str, axis=None, group_size=None) -> list[QuantSpec]:
    specs = []
    for fmt in FORMATS.values():
        options = [True] if isinstance(fmt, FloatFormat) else [True, False]
        for symmetric in options:
            specs.append(
                QuantSpec(
                    fmt,
                    granularity=granularity,
                    axis=axis,
                    group_size=group_size,
                    symmetric=symmetric,
                )
            )
    return specs


ALL_SPECS = specs_for("tensor") + specs_for("channel", 1) + specs_for("group", 1, 8)
INT_SPECS = [
    QuantSpec("int8"),
    QuantSpec("uint8", symmetric=False),
    QuantSpec("int8", granularity="channel", axis=0),
]
LSQ_SPECS = [*INT_SPECS, QuantSpec("e4m3"), QuantSpec("e5m2", granularity="channel", axis=0)]


def spec_id(spec: QuantSpec) -> str:
    return spec.label.replace(" ", "-")


def sample(shape=(16, 64), seed: int = 0, spread: float = 3.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator) * spread


def shrunk_qparams(x: torch.Tensor, spec: QuantSpec) -> QParams:
    """Min-max qparams of ``x / 3``, so that part of ``x`` clips."""
    return qparams_for_tensor(x / 3, spec)


def bounds(spec: QuantSpec, zero_point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip bounds of ``x / scale`` (inclusive)."""
    if spec.is_float:
        limit = torch.full(zero_point.shape, spec.format.max_value)
        return -limit, limit
    return spec.qmin - zero_point.double(), spec.qmax - zero_point.double()


def inside_mask(x: torch.Tensor, qparams: QParams) -> torch.Tensor:
    scale, zero_point = qparams.broadcast_to(x)
    low, high = bounds(qparams.spec, zero_point.expand(x.shape))
    scaled = (x / scale).double()
    return (scaled >= low) & (scaled <= high)


def assert_same_output(actual: torch.Tensor, expected: torch.Tensor, spec: QuantSpec) -> None:
    """Bit-identical for float formats, where -0.0 is a code of its own; equal values
    for integer formats, whose code 0 has no sign.

    Integer results may differ in the sign of zero. The STE path clamps before it
    rounds while fake_quantize rounds first, and torch.clamp returns either zero when
    a clip bound is exactly 0, which happens when the zero point is an end of the code
    range.
    """
    if spec.is_float:
        assert torch.equal(actual.view(torch.int32), expected.view(torch.int32))
    else:
        assert torch.equal(actual.isnan(), expected.isnan())
        assert torch.equal(actual.nan_to_num(), expected.nan_to_num())


def round_half_even_to_grid(v: np.ndarray, spec: QuantSpec) -> np.ndarray:
    """``v`` rounded as the engine's forward pass does, using the float8 cast for FP8."""
    if spec.is_float:
        clipped = torch.from_numpy(v.astype(np.float32)).clamp(
            -spec.format.max_value, spec.format.max_value
        )
        return clipped.to(spec.format.torch_dtype).double().numpy()
    return np.round(v)  # numpy rounds half to even


# STE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=spec_id)
def test_ste_forward_equals_fake_quantize(spec):
    x = sample()
    qparams = shrunk_qparams(x, spec)
    x[0, :5] = torch.tensor([float("inf"), float("-inf"), 1e30, 0.0, -0.0])
    assert_same_output(fake_quantize_ste(x, qparams), fake_quantize(x, qparams), spec)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=spec_id)
def test_ste_forward_keeps_nan(spec):
    x = sample()
    x[3, 5] = float("nan")
    qparams = shrunk_qparams(x.nan_to_num(), spec)
    assert torch.isnan(fake_quantize_ste(x, qparams)[3, 5])
    assert torch.isnan(fake_quantize(x, qparams)[3, 5])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_ste_low_precision(dtype):
    x = sample().to(dtype)
    qparams = shrunk_qparams(x, QuantSpec("int8", granularity="channel", axis=0))
    out = fake_quantize_ste(x, qparams)
    assert out.dtype == dtype
    assert torch.equal(out, fake_quantize(x, qparams))


@pytest.mark.parametrize("spec", ALL_SPECS, ids=spec_id)
def test_ste_gradient_mask(spec):
    """d out / dx is exactly 1 where x / scale is inside the clip bounds, else 0."""
    x = sample(seed=1)
    qparams = shrunk_qparams(x, spec)
    x.requires_grad_(True)
    fake_quantize_ste(x, qparams).sum().backward()
    expected = inside_mask(x.detach(), qparams).float()
    assert torch.equal(x.grad, expected)
    assert 0 < expected.mean().item() < 1  # both cases occur


def test_ste_gradient_at_bounds():
    """The bounds themselves count as inside, and a value beyond them is clipped."""
    spec = QuantSpec("int8")
    qparams = QParams(torch.tensor(0.5), torch.tensor(0, dtype=torch.int32), spec)
    x = torch.tensor([-63.5, 63.5, -63.75, 63.75, 63.25], requires_grad=True)
    fake_quantize_ste(x, qparams).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_ste_gradient_vs_torch_mask():
    """torch's fake_quantize gradient is 1 wherever x / s rounds onto a code, while
    ours is 1 up to the last code itself, as in LSQ. They differ where x / s lies beyond the last
    code but rounds onto it: qmax < x / s < qmax + 0.5, and the mirror image below
    qmin (the tie itself follows round half to even)."""
    scale = 0.5
    x = torch.tensor([63.4, 63.6, 63.75, 63.9, -63.6, -63.9, 10.0], requires_grad=True)
    qparams = QParams(torch.tensor(scale), torch.tensor(0, dtype=torch.int32), QuantSpec("int8"))
    fake_quantize_ste(x, qparams).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    torch.fake_quantize_per_tensor_affine(x, scale, 0, -127, 127).sum().backward()
    assert ours.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]


# LSQ ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=spec_id)
def test_lsq_forward_equals_fake_quantize(spec):
    x = sample(seed=2)
    qparams = shrunk_qparams(x, spec)
    scale = qparams.scale.clone().requires_grad_(True)
    zero_point = qparams.zero_point.float().requires_grad_(True)
    if spec.is_float:
        out = fake_quantize_lsq(x, scale, spec)
    else:
        out = fake_quantize_lsq(x, scale, spec, zero_point=zero_point)
    assert_same_output(out.detach(), fake_quantize(x, qparams), spec)


def test_lsq_zero_point_rounded_in_forward():
    spec = QuantSpec("uint8", symmetric=False)
    x = sample(seed=3)
    scale = torch.tensor(0.05)
    out = fake_quantize_lsq(x, scale, spec, zero_point=torch.tensor(127.6))
    expected = fake_quantize(x, QParams(scale, torch.tensor(128, dtype=torch.int32), spec))
    assert torch.equal(out, expected)


def lsq_reference(x, grad_out, qparams: QParams, grad_scale: float, absolute: bool = False):
    """Scale and zero-point gradients from the LSQ formulas, float64 numpy.

    Inside the bounds d out / d s = round(v) - v and d out / d z = 0. Beyond them
    d out / d s is the bound and d out / d z = -s. Both are summed over the elements
    that share a scale and multiplied by ``grad_scale``. With ``absolute`` the sums
    are of absolute values, a scale for rounding error.
    """
    scale, zero_point = qparams.broadcast_to(x)
    scale = scale.expand(x.shape)
    zero_point = zero_point.expand(x.shape)
    v = (x / scale).double().numpy()  # the float32 division the forward pass does
    low, high = (bound.numpy() for bound in bounds(qparams.spec, zero_point))
    inside = (v >= low) & (v <= high)
    scale_term = np.where(inside, round_half_even_to_grid(v, qparams.spec) - v, 0.0)
    scale_term = scale_term + np.where(v > high, high, 0.0) + np.where(v < low, low, 0.0)
    zero_term = np.where(inside, 0.0, -scale.double().numpy())
    grad = grad_out.double().numpy()
    if absolute:
        grad, scale_term, zero_term = np.abs(grad), np.abs(scale_term), np.abs(zero_term)
    spec = qparams.spec
    if spec.granularity == "tensor":
        return (
            np.sum(grad * scale_term) * grad_scale,
            np.sum(grad * zero_term) * grad_scale,
        )
    axis = spec.axis % x.dim()
    other = tuple(d for d in range(x.dim()) if d != axis)
    return (
        np.sum(grad * scale_term, axis=other) * grad_scale,
        np.sum(grad * zero_term, axis=other) * grad_scale,
    )


@pytest.mark.parametrize("spec", LSQ_SPECS, ids=spec_id)
@pytest.mark.parametrize("grad_scale", [None, 1.0], ids=["default", "unit"])
def test_lsq_scale_gradient(spec, grad_scale):
    x = sample(seed=4)
    qparams = shrunk_qparams(x, spec)
    grad_out = sample(seed=5, spread=1.0)
    scale = qparams.scale.clone().requires_grad_(True)
    zero_point = None if spec.symmetric else qparams.zero_point.float()
    fake_quantize_lsq(x, scale, spec, zero_point=zero_point, grad_scale=grad_scale).backward(
        grad_out
    )
    per_scale = x.numel() // max(qparams.scale.numel(), 1)
    factor = grad_scale if grad_scale is not None else lsq_grad_scale(per_scale, spec)
    expected, _ = lsq_reference(x, grad_out, qparams, factor)
    # The engine sums float32 products, so the tolerance is float32 accumulation error
    # relative to the sum of magnitudes, not to the possibly cancelling total.
    magnitude, _ = lsq_reference(x, grad_out, qparams, factor, absolute=True)
    tolerance = 1e-5 * magnitude
    assert np.all(np.abs(scale.grad.double().numpy() - expected) <= tolerance)


@pytest.mark.parametrize("spec", INT_SPECS[1:], ids=spec_id)
def test_lsq_zero_point_gradient(spec):
    x = sample(seed=6)
    qparams = shrunk_qparams(x, spec)
    grad_out = sample(seed=7, spread=1.0)
    scale = qparams.scale.clone().requires_grad_(True)
    zero_point = qparams.zero_point.float().requires_grad_(True)
    fake_quantize_lsq(x, scale, spec, zero_point=zero_point, grad_scale=0.25).backward(grad_out)
    _, expected = lsq_reference(x, grad_out, qparams, 0.25)
    assert np.allclose(zero_point.grad.double().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_lsq_zero_point_gradient_signs():
    """-scale per clipped element (times grad_scale), nothing from inside the range."""
    spec = QuantSpec("uint8", symmetric=False)
    scale = torch.tensor(0.5, requires_grad=True)
    zero_point = torch.tensor(10.0, requires_grad=True)
    # v = x / 0.5: -30 and 300 clip (bounds -10 and 245), 4 is inside.
    x = torch.tensor([-15.0, 150.0, 2.0])
    fake_quantize_lsq(x, scale, spec, zero_point=zero_point, grad_scale=1.0).sum().backward()
    assert zero_point.grad.item() == -1.0  # two clipped elements times -0.5
    assert scale.grad.item() == -10.0 + 245.0 + 0.0


def test_lsq_default_grad_scale():
    spec = QuantSpec("int8", granularity="channel", axis=0)
    assert lsq_grad_scale(64, spec) == 1.0 / math.sqrt(64 * 127)
    assert lsq_grad_scale(64, QuantSpec("e4m3")) == 1.0 / math.sqrt(64 * 448)
    x = sample(seed=8)
    scale = shrunk_qparams(x, spec).scale.clone().requires_grad_(True)
    reference = scale.detach().clone().requires_grad_(True)
    fake_quantize_lsq(x, scale, spec).sum().backward()
    fake_quantize_lsq(x, reference, spec, grad_scale=lsq_grad_scale(64, spec)).sum().backward()
    assert torch.equal(scale.grad, reference.grad)


def test_lsq_input_gradient_is_ste():
    spec = QuantSpec("int8")
    x = sample(seed=9).requires_grad_(True)
    qparams = shrunk_qparams(x.detach(), spec)
    fake_quantize_lsq(x, qparams.scale.clone().requires_grad_(True), spec).sum().backward()
    assert torch.equal(x.grad, inside_mask(x.detach(), qparams).float())


@pytest.mark.parametrize(
    "spec",
    [QuantSpec("int8"), QuantSpec("e4m3"), QuantSpec("int8", granularity="channel", axis=0)],
    ids=spec_id,
)
def test_gradcheck_clipped_region(spec):
    """In float64, where every value clips (or is exactly 0), LSQ's scale gradient is
    the true derivative and gradcheck's finite differences must agree with it."""
    generator = torch.Generator().manual_seed(10)
    limit = spec.format.max_value
    magnitude = (torch.rand(4, 6, generator=generator) + 1.5) * limit
    sign = torch.randint(0, 2, (4, 6), generator=generator) * 2 - 1
    x = (magnitude * sign).float().double()  # float32-exact values: the engine casts x
    x[0, 0] = 0.0
    shape = (4,) if spec.granularity == "channel" else ()
    scale = torch.full(shape, 1.0, dtype=torch.float64, requires_grad=True)
    # A 0-dim float64 scale does not promote float32 x / scale, so the per-tensor path
    # runs in float32. A power-of-two step keeps 1 +- eps exact there, and the output
    # is linear in the scale across the step because every value stays clipped.
    assert torch.autograd.gradcheck(
        lambda s: fake_quantize_lsq(x, s, spec, grad_scale=1.0), (scale,), eps=2.0**-10
    )


def test_lsq_training_reduces_error():
    """A few SGD steps on the scale lower the fake-quantization MSE of a fixed tensor."""
    generator = torch.Generator().manual_seed(11)
    x = torch.randn(4096, generator=generator)
    x[:4] = torch.tensor([12.0, -10.0, 9.0, -11.0])  # min-max scale wastes the grid
    spec = QuantSpec("int4")
    scale = torch.nn.Parameter(qparams_for_tensor(x, spec).scale.clone())
    # The default LSQ gradient scale, 1 / sqrt(4096 * 7), calls for a large rate.
    optimizer = torch.optim.SGD([scale], lr=20.0)

    def error() -> torch.Tensor:
        return (fake_quantize_lsq(x, scale, spec) - x).pow(2).mean()

    initial = error().item()
    for _ in range(30):
        optimizer.zero_grad()
        error().backward()
        optimizer.step()
        with torch.no_grad():
            scale.clamp_(min=1e-6)
    assert error().item() < 0.5 * initial


# CUDA -----------------------------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("spec", LSQ_SPECS, ids=spec_id)
def test_cuda_matches_cpu(spec):
    x = sample(seed=12)
    qparams = shrunk_qparams(x, spec)
    grad_out = sample(seed=13, spread=1.0)

    def run(device: str):
        inputs = x.to(device).requires_grad_(True)
        scale = qparams.scale.to(device).clone().requires_grad_(True)
        out = fake_quantize_lsq(inputs, scale, spec)
        out.backward(grad_out.to(device))
        return out.detach().cpu(), inputs.grad.cpu(), scale.grad.cpu()

    cpu_out, cpu_input_grad, cpu_scale_grad = run("cpu")
    cuda_out, cuda_input_grad, cuda_scale_grad = run("cuda")
    assert torch.equal(cuda_out, cpu_out)
    assert torch.equal(cuda_input_grad, cpu_input_grad)
    # Reduction order differs between devices, so the summed scale gradient may too.
    assert torch.allclose(cuda_scale_grad, cpu_scale_grad, rtol=1e-5, atol=1e-7)
