"""QuantSpec validation, ranges, scales, zero points and degenerate input."""

from __future__ import annotations

import json

import pytest
import torch

from quantviz.errors import QuantvizError
from quantviz.formats import FORMATS, FloatFormat
from quantviz.quant import (
    QParams,
    QuantSpec,
    clipped_mask,
    fake_quantize,
    qparams_for_tensor,
    qparams_from_range,
    quantize,
    reduction_view,
    tensor_range,
)
from quantviz.quant.qparams import DEGENERATE_SCALE, MIN_SCALE

NAN = float("nan")
INF = float("inf")


def all_specs(granularity: str = "tensor", axis: int | None = None, group_size=None):
    """Every format with every symmetry and range option it supports."""
    specs = []
    for fmt in FORMATS.values():
        options = [(True, True)]
        if not isinstance(fmt, FloatFormat):
            options += [(True, False), (False, True)]
        for symmetric, narrow_range in options:
            specs.append(
                QuantSpec(
                    fmt,
                    granularity=granularity,
                    axis=axis,
                    group_size=group_size,
                    symmetric=symmetric,
                    narrow_range=narrow_range,
                )
            )
    return specs


def spec_id(spec: QuantSpec) -> str:
    narrow = "-narrow" if spec.narrow_range and not spec.is_float else ""
    return spec.label.replace(" ", "-") + narrow


# QuantSpec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"granularity": "row"}, "granularity must be one of"),
        ({"granularity": "channel"}, "needs an axis"),
        ({"granularity": "group", "axis": 1}, "positive group_size"),
        ({"granularity": "group", "axis": 1, "group_size": 0}, "positive group_size"),
        ({"format": "fp8_e4m3fn", "symmetric": False}, "symmetric scales only"),
        ({"format": "int3"}, "unknown numeric format"),
    ],
    ids=["granularity", "channel_axis", "group_size", "group_zero", "float_asym", "format"],
)
def test_spec_rejects_invalid(settings, message):
    settings = {"format": "int8", **settings}
    with pytest.raises(QuantvizError, match=message):
        QuantSpec(**settings)


@pytest.mark.parametrize(
    ("spec", "qmin", "qmax"),
    [
        (QuantSpec("int8"), -127, 127),
        (QuantSpec("int8", narrow_range=False), -128, 127),
        (QuantSpec("int8", symmetric=False), -128, 127),
        (QuantSpec("uint8", symmetric=False), 0, 255),
        (QuantSpec("uint8"), 0, 255),
        (QuantSpec("int4"), -7, 7),
    ],
    ids=["int8_narrow", "int8_full", "int8_asym", "uint8_asym", "uint8_sym", "int4_narrow"],
)
def test_spec_code_range(spec, qmin, qmax):
    assert spec.qmin == qmin
    assert spec.qmax == qmax


def test_spec_float_has_no_code_range():
    with pytest.raises(TypeError, match="no integer code range"):
        _ = QuantSpec("e4m3").qmin


@pytest.mark.parametrize(
    ("spec", "label"),
    [
        (QuantSpec("int8", granularity="channel", axis=0), "int8 sym per-channel(0)"),
        (QuantSpec("uint8", symmetric=False), "uint8 asym per-tensor"),
        (QuantSpec("e5m2", granularity="group", axis=1, group_size=32), "fp8_e5m2 group32(1)"),
    ],
)
def test_spec_label(spec, label):
    assert spec.label == label


@pytest.mark.parametrize(
    "spec",
    all_specs() + all_specs("channel", 1) + all_specs("group", -1, 16),
    ids=spec_id,
)
def test_spec_dict_round_trip(spec):
    restored = QuantSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec


# Scale and zero point from a range ------------------------------------------------------


@pytest.mark.parametrize(
    ("format_name", "qmax"), [("int8", 127.0), ("e4m3", 448.0), ("e5m2", 57344.0)]
)
def test_symmetric_scale(format_name, qmax):
    qparams = qparams_from_range(torch.tensor(-0.5), torch.tensor(3.7), QuantSpec(format_name))
    assert qparams.scale.dtype == torch.float32
    assert qparams.scale.item() == (torch.tensor(3.7) / qmax).item()
    assert qparams.zero_point.item() == 0


def test_symmetric_max_is_exact_int8():
    x = torch.tensor([-0.5, 3.7, 1.0])
    out = fake_quantize(x, qparams_for_tensor(x, QuantSpec("int8")))
    assert out[1].item() == pytest.approx(3.7, rel=1e-6)
    assert quantize(x, qparams_for_tensor(x, QuantSpec("int8")))[1].item() == 127


def test_asymmetric_uint8():
    qparams = qparams_from_range(-1.0, 3.0, QuantSpec("uint8", symmetric=False))
    scale = torch.tensor(4.0) / 255
    assert qparams.scale.item() == scale.item()
    assert qparams.zero_point.item() == int(torch.round(1.0 / scale).item())  # 64
    assert qparams.zero_point.dtype == torch.int32


def test_asymmetric_int8_zero_point():
    qparams = qparams_from_range(-1.0, 3.0, QuantSpec("int8", symmetric=False))
    scale = torch.tensor(4.0) / 255
    assert qparams.zero_point.item() == -128 + int(torch.round(1.0 / scale).item())


@pytest.mark.parametrize(
    ("low", "high", "zero_point"), [(1.0, 3.0, 0), (-3.0, -1.0, 255)], ids=["positive", "negative"]
)
def test_range_widened_to_zero(low, high, zero_point):
    qparams = qparams_from_range(low, high, QuantSpec("uint8", symmetric=False))
    assert qparams.scale.item() == (torch.tensor(3.0) / 255).item()
    assert qparams.zero_point.item() == zero_point


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
def test_zero_exact_for_random_ranges(spec):
    generator = torch.Generator().manual_seed(0)
    low = -torch.rand(200, generator=generator) * torch.exp2(torch.randint(-20, 20, (200,)))
    high = torch.rand(200, generator=generator) * torch.exp2(torch.randint(-20, 20, (200,)))
    row_spec = QuantSpec(
        spec.format,
        granularity="channel",
        axis=0,
        symmetric=spec.symmetric,
        narrow_range=spec.narrow_range,
    )
    qparams = qparams_from_range(low, high, row_spec)
    zeros = torch.zeros(200, 3)
    assert torch.equal(fake_quantize(zeros, qparams), zeros)


@pytest.mark.parametrize(
    "spec",
    [
        QuantSpec("uint8", symmetric=False),
        QuantSpec("int8", symmetric=False),
        QuantSpec("uint4", symmetric=False),
    ],
    ids=spec_id,
)
def test_asymmetric_range_ends(spec):
    """The lowest and highest codes dequantize to within half a step of the range ends."""
    generator = torch.Generator().manual_seed(1)
    low = -torch.rand(500, generator=generator) * 10
    high = torch.rand(500, generator=generator) * 10
    row_spec = QuantSpec(spec.format, granularity="channel", axis=0, symmetric=False)
    qparams = qparams_from_range(low, high, row_spec)
    zero_point = qparams.zero_point.double()
    scale = qparams.scale.double()
    lowest = (spec.qmin - zero_point) * scale
    highest = (spec.qmax - zero_point) * scale
    slack = scale * (0.5 + 1e-5)
    assert bool(((lowest - low.double()).abs() <= slack).all())
    assert bool(((highest - high.double()).abs() <= slack).all())


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_range_rejects_nonfinite(bad):
    with pytest.raises(QuantvizError, match="NaN or inf"):
        qparams_from_range(torch.tensor([0.0, bad]), torch.tensor([1.0, 1.0]), QuantSpec("int8"))


def test_tiny_range_scale_floor():
    qparams = qparams_from_range(0.0, 1e-42, QuantSpec("int8"))
    assert qparams.scale.item() == MIN_SCALE
    assert torch.isfinite(1 / qparams.scale)


# Degenerate input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granularity", "axis", "group_size"),
    [("tensor", None, None), ("channel", 1, None), ("group", 1, 4)],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_all_zero_tensor(granularity, axis, group_size, dtype):
    x = torch.zeros(6, 8, dtype=dtype)
    for spec in all_specs(granularity, axis, group_size):
        qparams = qparams_for_tensor(x, spec)
        assert torch.isfinite(qparams.scale).all(), spec.label
        assert (qparams.scale > 0).all(), spec.label
        assert (qparams.scale == DEGENERATE_SCALE).all(), spec.label
        assert torch.equal(fake_quantize(x, qparams), x), spec.label


@pytest.mark.parametrize("spec", all_specs("channel", 0), ids=spec_id)
def test_zero_channel_among_others(spec):
    x = torch.randn(4, 16)
    x[2] = 0.0
    qparams = qparams_for_tensor(x, spec)
    assert qparams.scale[2].item() == DEGENERATE_SCALE
    assert torch.equal(fake_quantize(x, qparams)[2], x[2])
    assert (qparams.scale[[0, 1, 3]] != DEGENERATE_SCALE).all()


@pytest.mark.parametrize("spec", all_specs("group", 1, 8), ids=spec_id)
def test_zero_group_among_others(spec):
    x = torch.randn(3, 32)
    x[1, 8:16] = 0.0
    qparams = qparams_for_tensor(x, spec)
    assert qparams.scale.shape == (3, 4)
    assert qparams.scale[1, 1].item() == DEGENERATE_SCALE
    assert torch.equal(fake_quantize(x, qparams)[1, 8:16], x[1, 8:16])


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
@pytest.mark.parametrize("value", [3.7, -3.7, 1e-30, 6e4])
def test_constant_tensor(spec, value):
    x = torch.full((5, 7), value)
    qparams = qparams_for_tensor(x, spec)
    out = fake_quantize(x, qparams)
    assert torch.isfinite(qparams.scale)
    assert qparams.scale.item() > 0
    unsigned_symmetric = not spec.is_float and spec.symmetric and spec.qmin == 0
    if unsigned_symmetric and value < 0:
        # Zero point 0 on an unsigned grid: negative values clip to zero.
        assert torch.equal(out, torch.zeros_like(x))
    else:
        # The constant is an end of the range, so it lands on the top or bottom code,
        # up to float32 rounding of scale * code.
        assert torch.allclose(out, x, rtol=2e-7, atol=0)


def test_nonfinite_excluded_from_range():
    x = torch.tensor([NAN, -2.0, INF, 1.0, -INF, NAN])
    low, high, nonfinite = tensor_range(x, QuantSpec("int8"))
    assert low.item() == -2.0
    assert high.item() == 1.0
    assert nonfinite == 4


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
def test_nonfinite_never_reach_scale(spec):
    clean = torch.randn(1000)
    dirty = clean.clone()
    dirty[::7] = NAN
    dirty[1::11] = INF
    dirty[2::13] = -INF
    finite = dirty[torch.isfinite(dirty)]
    from_dirty = qparams_for_tensor(dirty, spec)
    assert torch.equal(from_dirty.scale, qparams_for_tensor(finite, spec).scale)
    assert torch.equal(from_dirty.zero_point, qparams_for_tensor(finite, spec).zero_point)


def test_nonfinite_per_channel():
    x = torch.tensor([[NAN, INF, -INF], [1.0, NAN, -3.0]])
    low, high, nonfinite = tensor_range(x, QuantSpec("int8", granularity="channel", axis=0))
    assert low.tolist() == [0.0, -3.0]
    assert high.tolist() == [0.0, 1.0]
    assert nonfinite == 4


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
def test_only_nan_tensor(spec):
    x = torch.full((4, 4), NAN)
    low, high, nonfinite = tensor_range(x, spec)
    qparams = qparams_for_tensor(x, spec)
    assert (low.item(), high.item(), nonfinite) == (0.0, 0.0, 16)
    assert qparams.scale.item() == DEGENERATE_SCALE
    assert spec.is_float or spec.qmin <= qparams.zero_point.item() <= spec.qmax


@pytest.mark.parametrize(
    "spec",
    [
        QuantSpec("int8"),
        QuantSpec("int8", granularity="channel", axis=0),
        QuantSpec("e4m3", granularity="group", axis=1, group_size=2),
    ],
    ids=["tensor", "channel", "group"],
)
@pytest.mark.parametrize("shape", [(0,), (0, 4), (4, 0)], ids=str)
def test_empty_tensor(spec, shape):
    if spec.granularity != "tensor" and len(shape) == 1:
        shape = (0, 4)
    with pytest.raises(QuantvizError, match="empty tensor"):
        tensor_range(torch.empty(shape), spec)
    with pytest.raises(QuantvizError, match="empty tensor"):
        qparams_for_tensor(torch.empty(shape), spec)


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
def test_widest_range_scale_finite(spec):
    finfo = torch.finfo(torch.float32)
    qparams = qparams_from_range(-finfo.max, finfo.max, spec)
    assert torch.isfinite(qparams.scale)
    assert qparams.scale.item() > 0


def test_float32_max_stays_finite():
    """The largest float32 gets a finite scale and fake-quantizes to a finite value."""
    x = torch.tensor([torch.finfo(torch.float32).max, -1.0])
    for spec in all_specs():
        qparams = qparams_for_tensor(x, spec)
        assert torch.isfinite(qparams.scale), spec.label
        assert torch.isfinite(fake_quantize(x, qparams)).all(), spec.label


# Dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("spec", all_specs("channel", 0), ids=spec_id)
def test_low_precision_input(dtype, spec):
    """Scales are float32 and computed from the exactly widened values."""
    x = (torch.randn(8, 64) * 3).to(dtype)
    qparams = qparams_for_tensor(x, spec)
    reference = qparams_for_tensor(x.float(), spec)
    assert qparams.scale.dtype == torch.float32
    assert torch.equal(qparams.scale, reference.scale)
    assert torch.equal(qparams.zero_point, reference.zero_point)
    out = fake_quantize(x, qparams)
    assert out.dtype == dtype
    assert torch.equal(out, fake_quantize(x.float(), qparams).to(dtype))


def test_fake_quantize_keeps_input():
    x = torch.randn(100) * 5
    original = x.clone()
    for spec in all_specs():
        fake_quantize(x, qparams_for_tensor(x, spec))
        assert torch.equal(x, original), spec.label


# Granularity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "axis", "group_size", "qshape"),
    [
        ((6, 32), 1, 8, (6, 4)),
        ((32, 6), 0, 8, (4, 6)),
        ((2, 3, 32), -1, 16, (2, 3, 2)),
        ((2, 32, 3), 1, 4, (2, 8, 3)),
    ],
)
def test_group_qparams_shape(shape, axis, group_size, qshape):
    spec = QuantSpec("int8", granularity="group", axis=axis, group_size=group_size)
    x = torch.randn(shape)
    qparams = qparams_for_tensor(x, spec)
    scale, _ = qparams.broadcast_to(x)
    assert qparams.scale.shape == qshape
    assert scale.shape == x.shape


@pytest.mark.parametrize(
    ("shape", "axis", "group_size"),
    [((6, 32), 1, 8), ((32, 6), 0, 8), ((2, 3, 32), 2, 16), ((2, 32, 3), 1, 4)],
)
def test_group_rows_share_scale(shape, axis, group_size):
    """Row i of the reduction view contains exactly the elements that use scale i."""
    spec = QuantSpec("int8", granularity="group", axis=axis, group_size=group_size)
    index = torch.arange(torch.Size(shape).numel()).reshape(shape)
    group_of = torch.div(
        torch.arange(shape[axis]).reshape([-1 if d == axis else 1 for d in range(len(shape))]),
        group_size,
        rounding_mode="floor",
    ).expand(shape)
    rows, qshape = reduction_view(index.float(), spec)
    for row_number, row in enumerate(rows.long()):
        position = torch.unravel_index(row, shape)
        groups = group_of[position]
        assert groups.unique().numel() == 1
        scale_index = torch.unravel_index(torch.tensor(row_number), qshape)
        assert groups[0].item() == scale_index[axis % len(shape)].item()


def test_group_size_must_divide():
    spec = QuantSpec("int8", granularity="group", axis=1, group_size=5)
    with pytest.raises(QuantvizError, match="group_size 5 does not divide axis 1 of size 32"):
        qparams_for_tensor(torch.randn(4, 32), spec)


@pytest.mark.parametrize("granularity", ["channel", "group"])
def test_axis_out_of_range(granularity):
    spec = QuantSpec("int8", granularity=granularity, axis=2, group_size=2)
    with pytest.raises(QuantvizError, match="axis 2 is out of range"):
        qparams_for_tensor(torch.randn(4, 8), spec)


def test_negative_axis():
    x = torch.randn(4, 5, 6)
    negative = qparams_for_tensor(x, QuantSpec("int8", granularity="channel", axis=-1))
    positive = qparams_for_tensor(x, QuantSpec("int8", granularity="channel", axis=2))
    assert torch.equal(negative.scale, positive.scale)
    assert torch.equal(fake_quantize(x, negative), fake_quantize(x, positive))


@pytest.mark.parametrize("spec", all_specs(), ids=spec_id)
def test_per_channel_equals_per_tensor_slices(spec):
    """Per-channel qparams along axis 1 equal per-tensor qparams of each column."""
    x = torch.randn(64, 5) * torch.tensor([0.01, 1.0, 30.0, 1e-4, 5.0])
    channel_spec = QuantSpec(
        spec.format,
        granularity="channel",
        axis=1,
        symmetric=spec.symmetric,
        narrow_range=spec.narrow_range,
    )
    per_channel = qparams_for_tensor(x, channel_spec)
    out = fake_quantize(x, per_channel)
    for column in range(5):
        single = qparams_for_tensor(x[:, column], spec)
        assert per_channel.scale[column].item() == single.scale.item()
        assert per_channel.zero_point[column].item() == single.zero_point.item()
        assert torch.equal(out[:, column], fake_quantize(x[:, column], single))


@pytest.mark.parametrize(
    "spec",
    [
        QuantSpec("uint8", symmetric=False),
        QuantSpec("int8", granularity="channel", axis=1),
        QuantSpec("e4m3", granularity="group", axis=0, group_size=4),
    ],
    ids=["tensor", "channel", "group"],
)
def test_qparams_dict_round_trip(spec):
    x = torch.randn(8, 3)
    qparams = qparams_for_tensor(x, spec)
    restored = QParams.from_dict(json.loads(json.dumps(qparams.to_dict())))
    assert torch.equal(restored.scale, qparams.scale)
    assert torch.equal(restored.zero_point, qparams.zero_point)
    assert restored.spec == qparams.spec


# Clipped elements -----------------------------------------------------------------------


def test_clipped_mask_int():
    """Clipped means more than half a step beyond the last code, and finite."""
    qparams = QParams(torch.tensor(0.5), torch.tensor(0, dtype=torch.int32), QuantSpec("int8"))
    scaled = torch.tensor([126.4, 127.4, 127.6, -127.4, -127.6, 200.0, INF, NAN])
    mask = clipped_mask(scaled * 0.5, qparams)
    assert mask.tolist() == [False, False, True, False, True, True, False, False]


def test_clipped_mask_asymmetric():
    spec = QuantSpec("uint8", symmetric=False)
    qparams = QParams(torch.tensor(1.0), torch.tensor(10, dtype=torch.int32), spec)
    x = torch.tensor([-10.4, -10.6, 245.4, 245.6])
    assert clipped_mask(x, qparams).tolist() == [False, True, False, True]


def test_clipped_mask_float():
    qparams = QParams(torch.tensor(2.0), torch.tensor(0, dtype=torch.int32), QuantSpec("e4m3"))
    x = torch.tensor([894.0, 896.0, 898.0, -898.0, INF])
    assert clipped_mask(x, qparams).tolist() == [False, False, True, True, False]
