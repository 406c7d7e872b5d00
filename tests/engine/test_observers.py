"""Calibration observers: ranges, bounded memory, NaN/inf counts and clipping choices."""

from __future__ import annotations

import itertools

import pytest
import torch

from quantviz.errors import QuantvizError
from quantviz.quant import (
    OBSERVERS,
    EntropyObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MSEObserver,
    PercentileObserver,
    QuantSpec,
    fake_quantize,
    make_observer,
    qparams_from_range,
)

NAN = float("nan")
INF = float("inf")
PER_TENSOR = QuantSpec("int8")
PER_CHANNEL = QuantSpec("int8", granularity="channel", axis=1)
# Entropy supports symmetric per-tensor specs only.
CHANNEL_OBSERVERS = [name for name in OBSERVERS if name != "entropy"]
SPECS = {
    "int8": QuantSpec("int8"),
    "uint8_asym": QuantSpec("uint8", symmetric=False),
    "e4m3": QuantSpec("e4m3"),
    "e5m2": QuantSpec("e5m2"),
    "int8_channel": PER_CHANNEL,
}


def batches(count: int, shape=(64, 8), seed: int = 0, scale: float = 1.0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator) * scale for _ in range(count)]


def observe(name: str, spec: QuantSpec, data, **settings):
    observer = make_observer(name, spec, **settings)
    for batch in data:
        observer.update(batch)
    return observer


def state_sizes(observer) -> dict[str, int]:
    """numel of every tensor attribute of the observer."""
    return {
        key: value.numel()
        for key, value in vars(observer).items()
        if isinstance(value, torch.Tensor)
    }


def spec_supported(name: str, spec: QuantSpec) -> bool:
    return name != "entropy" or (spec.granularity == "tensor" and spec.symmetric)


OBSERVER_SPECS = [
    pytest.param(name, spec, id=f"{name}-{label}")
    for name in OBSERVERS
    for label, spec in SPECS.items()
    if spec_supported(name, spec)
]


# Common contract ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_qparams_finite_and_shaped(name, spec):
    observer = observe(name, spec, batches(5))
    qparams = observer.compute_qparams()
    expected_shape = (8,) if spec.granularity == "channel" else ()
    assert qparams.scale.shape == expected_shape
    assert qparams.scale.dtype == torch.float32
    assert torch.isfinite(qparams.scale).all()
    assert (qparams.scale > 0).all()


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_no_data_raises(name, spec):
    observer = make_observer(name, spec)
    with pytest.raises(QuantvizError, match="has seen no finite values"):
        observer.compute_qparams()
    with pytest.raises(QuantvizError, match="has seen no finite values"):
        observer.compute_range()


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_only_nan_raises(name, spec):
    observer = observe(name, spec, [torch.full((4, 8), NAN), torch.full((4, 8), INF)])
    with pytest.raises(QuantvizError, match=r"2 batches, 32 NaN, 32 inf"):
        observer.compute_qparams()


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_nonfinite_counted_and_ignored(name, spec):
    clean = batches(3)
    dirty = [batch.clone() for batch in clean]
    dirty[0][0, 0] = NAN
    dirty[1][5, 3] = INF
    dirty[1][6, 4] = -INF
    dirty[2][:2, 1] = NAN
    # A padding batch brings the replaced values back in both runs, so the runs have
    # the same range and differ only in element counts.
    extra = torch.stack([clean[0][0, 0], clean[1][5, 3], clean[1][6, 4], *clean[2][:2, 1]])
    padding = extra[:, None].expand(5, 8)
    observer = observe(name, spec, [*dirty, padding])
    reference = observe(name, spec, [*clean, padding])
    assert observer.nan_count == 3
    assert observer.inf_count == 2
    assert observer.num_values == reference.num_values - 5
    summary = observer.summary()
    assert (summary["nan"], summary["inf"], summary["batches"]) == (3, 2, 4)
    low, high = observer.compute_range()
    assert torch.isfinite(low).all()
    assert torch.isfinite(high).all()
    if name == "minmax":
        reference_low, reference_high = reference.compute_range()
        assert torch.equal(low, reference_low)
        assert torch.equal(high, reference_high)


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_memory_bounded(name, spec):
    data = batches(200, shape=(16, 8), seed=1)
    observer = make_observer(name, spec)
    for batch in data[:10]:
        observer.update(batch)
    after_ten = state_sizes(observer)
    for batch in data[10:]:
        observer.update(batch * 3)  # larger values force histogram growth
    assert state_sizes(observer) == after_ten
    assert sum(after_ten.values()) > 0


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_update_keeps_input(name, spec):
    batch = batches(1)[0]
    batch[0, 0] = NAN
    original = batch.clone()
    make_observer(name, spec).update(batch)
    assert torch.equal(batch.isnan(), original.isnan())
    assert torch.equal(batch.nan_to_num(), original.nan_to_num())


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_all_zero_data(name, spec):
    observer = observe(name, spec, [torch.zeros(16, 8)])
    qparams = observer.compute_qparams()
    zeros = torch.zeros(16, 8)
    assert torch.isfinite(qparams.scale).all()
    assert (qparams.scale > 0).all()
    assert torch.equal(fake_quantize(zeros, qparams), zeros)


@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_low_precision_input(name, spec):
    data = [(batch * 4).to(torch.bfloat16) for batch in batches(3)]
    low_precision = observe(name, spec, data).compute_qparams()
    widened = observe(name, spec, [batch.float() for batch in data]).compute_qparams()
    assert torch.equal(low_precision.scale, widened.scale)
    assert torch.equal(low_precision.zero_point, widened.zero_point)


@pytest.mark.parametrize("name", list(OBSERVERS))
def test_batch_range_shortcut(name):
    """Passing the batch's own (min, max) gives the same result as computing it."""
    data = batches(4, seed=2)
    shortcut = make_observer(name, PER_TENSOR)
    for batch in data:
        shortcut.update(batch, batch_range=(batch.min().item(), batch.max().item()))
    reference = observe(name, PER_TENSOR, data).compute_qparams()
    assert torch.equal(shortcut.compute_qparams().scale, reference.scale)


@pytest.mark.parametrize("name", list(OBSERVERS))
def test_group_spec_rejected(name):
    spec = QuantSpec("int8", granularity="group", axis=1, group_size=4)
    with pytest.raises(QuantvizError, match="per-tensor"):
        make_observer(name, spec)


@pytest.mark.parametrize(
    "spec",
    [PER_CHANNEL, QuantSpec("uint8", symmetric=False)],
    ids=["channel", "asymmetric"],
)
def test_entropy_rejects_spec(spec):
    with pytest.raises(QuantvizError, match="symmetric per-tensor specs only"):
        EntropyObserver(spec)


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("median", {}, "unknown observer 'median'"),
        ("minmax", {"bins": 10}, "invalid settings for observer 'minmax'"),
        ("percentile", {"percentile": 40.0}, r"percentile must be in \(50, 100\]"),
        ("percentile", {"bins": 10}, "bins must be a multiple of 4"),
        ("moving_average", {"averaging_constant": 0.0}, "averaging_constant"),
        ("mse", {"min_fraction": 1.0}, "min_fraction"),
    ],
    ids=["name", "setting", "percentile", "bins", "constant", "fraction"],
)
def test_make_observer_rejects(name, settings, message):
    with pytest.raises(QuantvizError, match=message):
        make_observer(name, PER_TENSOR, **settings)


# Min-max and moving average -------------------------------------------------------------


def test_minmax_exact_range():
    data = batches(7, seed=3)
    low, high = observe("minmax", PER_TENSOR, data).compute_range()
    joined = torch.cat([batch.flatten() for batch in data])
    assert low.item() == joined.min().item()
    assert high.item() == joined.max().item()


def test_minmax_per_channel():
    data = batches(7, seed=4)
    low, high = observe("minmax", PER_CHANNEL, data).compute_range()
    joined = torch.cat(data)
    assert torch.equal(low, joined.amin(dim=0))
    assert torch.equal(high, joined.amax(dim=0))


def test_minmax_channel_seen_only_later():
    """A channel that is all NaN in the first batch takes its range from later batches."""
    first = torch.randn(16, 8)
    first[:, 2] = NAN
    second = torch.randn(16, 8)
    low, high = observe("minmax", PER_CHANNEL, [first, second]).compute_range()
    assert low[2].item() == second[:, 2].min().item()
    assert high[2].item() == second[:, 2].max().item()


def test_moving_average_formula():
    data = batches(4, seed=5)
    observer = observe("moving_average", PER_TENSOR, data, averaging_constant=0.25)
    low = data[0].min()
    high = data[0].max()
    for batch in data[1:]:
        low = low + 0.25 * (batch.min() - low)
        high = high + 0.25 * (batch.max() - high)
    observed_low, observed_high = observer.compute_range()
    assert observed_low.item() == low.item()
    assert observed_high.item() == high.item()


def test_moving_average_damps_outlier_batch():
    data = batches(20, seed=6)
    data[10] = data[10] * 100
    moving = observe("moving_average", PER_TENSOR, data).compute_range()[1].item()
    plain = observe("minmax", PER_TENSOR, data).compute_range()[1].item()
    assert moving < plain / 10


# Histogram observers --------------------------------------------------------------------


def gaussian_with_outlier(count: int = 200_000, outlier: float = 1000.0, seed: int = 7):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, generator=generator)
    x[count // 2] = outlier
    return x


def test_percentile_clips_outlier():
    x = gaussian_with_outlier()
    observer = observe("percentile", PER_TENSOR, [x[:100_000], x[100_000:]], percentile=99.9)
    _, high = observer.compute_range()
    expected = torch.quantile(x.abs().double(), 0.999).item()
    width = observer.limit.item() / (observer.bins // 2)
    assert high.item() < 10
    assert expected - width <= high.item() <= expected + width


def test_percentile_asymmetric():
    x = gaussian_with_outlier(outlier=-500.0) + 3
    spec = QuantSpec("uint8", symmetric=False)
    observer = observe("percentile", spec, [x], percentile=99.0)
    low, high = observer.compute_range()
    width = 2 * observer.limit.item() / observer.bins
    expected_low = torch.quantile(x.double(), 0.01).item()
    expected_high = torch.quantile(x.double(), 0.99).item()
    assert expected_low - width <= low.item() <= expected_low + width
    assert expected_high - width <= high.item() <= expected_high + width


def test_percentile_hundred_is_max():
    x = gaussian_with_outlier(outlier=37.0)
    _, high = observe("percentile", PER_TENSOR, [x], percentile=100.0).compute_range()
    assert high.item() == 37.0


def test_percentile_per_channel():
    generator = torch.Generator().manual_seed(8)
    x = torch.randn(50_000, 4, generator=generator) * torch.tensor([1.0, 2.0, 4.0, 8.0])
    x[0, 3] = 1000.0
    _, high = observe("percentile", PER_CHANNEL, [x], percentile=99.9).compute_range()
    expected = torch.quantile(x.abs().double(), 0.999, dim=0).float()
    assert torch.allclose(high, expected, rtol=0.05)


def test_mse_clips_below_max():
    x = gaussian_with_outlier(outlier=60.0)
    observer = observe("mse", PER_TENSOR, [x])
    low, high = observer.compute_range()
    minmax = qparams_from_range(x.min(), x.max(), PER_TENSOR)
    mse_error = (fake_quantize(x, observer.compute_qparams()) - x).pow(2).mean()
    minmax_error = (fake_quantize(x, minmax) - x).pow(2).mean()
    assert high.item() < 60.0
    assert low.item() == -high.item()
    assert mse_error < minmax_error


def best_clip_error(x: torch.Tensor, spec: QuantSpec) -> float:
    """Lowest MSE of ``x`` over 100 symmetric clips, searched on the data itself."""
    amax = x.abs().max()
    errors = [
        (fake_quantize(x, qparams_from_range(-clip, clip, spec)) - x).pow(2).mean().item()
        for clip in torch.linspace(0.01, 1.0, 100) * amax
    ]
    return min(errors)


@pytest.mark.parametrize("spec", [PER_TENSOR, QuantSpec("e4m3")], ids=["int8", "e4m3"])
def test_mse_near_best_clip(spec):
    """The histogram search lands within 5% of the best MSE found on the raw data."""
    x = gaussian_with_outlier(count=50_000, outlier=60.0)
    observer = observe("mse", spec, [x])
    error = (fake_quantize(x, observer.compute_qparams()) - x).pow(2).mean().item()
    assert error <= 1.05 * best_clip_error(x, spec)


def test_mse_per_channel_clips_outlier_channel_only():
    generator = torch.Generator().manual_seed(9)
    x = torch.randn(50_000, 2, generator=generator)
    x[0, 1] = 80.0
    observer = observe("mse", PER_CHANNEL, [x])
    _, high = observer.compute_range()
    out = fake_quantize(x, observer.compute_qparams())
    # One outlier among N = 5e4 values: the rounding noise N * (c / 127)**2 / 12
    # balances the clipping error (80 - c)**2 near c = 64, so the clip drops below
    # 80 but stays far above a few sigma.
    assert 55.0 < high[1].item() < 72.0
    for channel in range(2):
        column = x[:, channel].contiguous()
        error = (out[:, channel] - column).pow(2).mean().item()
        assert error <= 1.05 * best_clip_error(column, PER_TENSOR)


def test_entropy_gaussian_threshold():
    x = torch.randn(400_000, generator=torch.Generator().manual_seed(10))
    _, high = observe("entropy", PER_TENSOR, [x[:200_000], x[200_000:]]).compute_range()
    assert 2.5 <= high.item() <= 6.0


def test_entropy_clips_outlier():
    x = gaussian_with_outlier(outlier=200.0)
    observer = observe("entropy", PER_TENSOR, [x])
    _, high = observer.compute_range()
    # The smallest candidate threshold is 128 bins of the |x| histogram, which is
    # 128 * limit / (bins / 2) = 32 here (limit 256): the outlier sets the resolution.
    smallest_candidate = 128 * observer.limit.item() / (observer.bins // 2)
    assert high.item() == smallest_candidate


# Histogram growth -----------------------------------------------------------------------


def histogram_of(batch_list, spec=PER_TENSOR):
    observer = observe("percentile", spec, batch_list)
    return observer.hist, observer.limit


def test_histogram_order_with_max_first():
    data = batches(4, seed=11)
    data[0][0, 0] = 50.0
    reference_hist, reference_limit = histogram_of(data)
    for order in itertools.permutations(data[1:]):
        hist, limit = histogram_of([data[0], *order])
        assert torch.equal(limit, reference_limit)
        assert torch.equal(hist, reference_hist)


def test_histogram_growth_matches_direct():
    """Doubling the limit merges bins exactly: small-then-large equals large-then-small."""
    data = batches(3, seed=12, scale=0.1)
    data.append(torch.randn(64, 8, generator=torch.Generator().manual_seed(13)) * 40)
    growing, growing_limit = histogram_of(data)
    direct, direct_limit = histogram_of(data[::-1])
    assert torch.equal(growing_limit, direct_limit)
    assert torch.equal(growing, direct)


def test_histogram_growth_power_of_two_max():
    """A first batch whose max is exactly a power of two must not shift a bin on growth."""
    small = torch.tensor([1.0, 0.5, -0.25, 0.75])
    large = torch.tensor([1.5, -0.1])
    growing, _ = histogram_of([small, large])
    direct, _ = histogram_of([large, small])
    assert torch.equal(growing, direct)


@pytest.mark.parametrize("spec", [PER_TENSOR, PER_CHANNEL], ids=["tensor", "channel"])
def test_histogram_growth_bin_edges(spec):
    """Values one ulp either side of every bin edge keep their bins when the limit
    doubles, in both the one-group and the multi-group binning code."""
    inf = torch.tensor(float("inf"))
    edges = -1 + torch.arange(1, 2048, dtype=torch.float32) * (2 / 2048)
    near = torch.cat([torch.nextafter(edges, -inf), edges, torch.nextafter(edges, inf)])
    near = near[near.abs() < 1][:, None].repeat(1, 8)
    large = torch.tensor([[5.0], [-3.0]]).repeat(1, 8)
    growing, _ = histogram_of([near, large], spec)
    direct, _ = histogram_of([large, near], spec)
    assert torch.equal(growing, direct)


def test_histogram_growth_per_channel():
    generator = torch.Generator().manual_seed(14)
    first = torch.randn(256, 4, generator=generator) * torch.tensor([0.01, 1.0, 1.0, 3.0])
    second = torch.randn(256, 4, generator=generator) * torch.tensor([5.0, 0.1, 20.0, 3.0])
    growing, growing_limit = histogram_of([first, second], PER_CHANNEL)
    direct, direct_limit = histogram_of([second, first], PER_CHANNEL)
    assert torch.equal(growing_limit, direct_limit)
    assert torch.equal(growing, direct)


def test_histogram_nan_batch_same_bins():
    """A NaN in a batch changes the counts of nothing else."""
    data = batches(3, seed=15)
    with_nan = [batch.clone() for batch in data]
    with_nan[1] = torch.cat([with_nan[1], torch.full((1, 8), NAN)])
    clean, _ = histogram_of(data)
    dirty, _ = histogram_of(with_nan)
    assert torch.equal(clean, dirty)


def test_histogram_counts_every_value():
    data = batches(5, seed=16)
    hist, _ = histogram_of(data)
    assert hist.sum().item() == sum(batch.numel() for batch in data)


@pytest.mark.parametrize(
    "observer_type",
    [MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver, MSEObserver],
)
def test_per_channel_supported(observer_type):
    observer = observer_type(PER_CHANNEL)
    for batch in batches(3, seed=17):
        observer.update(batch)
    assert observer.compute_qparams().scale.shape == (8,)


# CUDA -----------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("name", "spec"), OBSERVER_SPECS)
def test_cuda_matches_cpu(name, spec):
    """Calibrating on CUDA activations gives the qparams of calibrating on the CPU."""
    # NOTE: not run on a GPU yet. HistogramObserver allocates its histogram on the CPU
    # and adds CUDA counts to it, so the histogram observers are expected to fail here.
    data = batches(4, seed=18)
    on_cpu = observe(name, spec, data).compute_qparams()
    on_device = observe(name, spec, [batch.cuda() for batch in data]).compute_qparams()
    assert torch.equal(on_device.scale.cpu(), on_cpu.scale)
    assert torch.equal(on_device.zero_point.cpu(), on_cpu.zero_point)
