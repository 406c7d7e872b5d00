import math

import pytest
import torch

from quantviz.analysis.candidates import WEIGHT_CANDIDATES
from quantviz.analysis.heatmap import error_heatmap
from quantviz.analysis.results import TensorAnalysis
from quantviz.analysis.weights import analyze_weight
from quantviz.quant import QuantSpec, fake_quantize, qparams_for_tensor


@pytest.fixture(scope="module")
def weight():
    torch.manual_seed(0)
    w = torch.randn(96, 64) * 0.02
    w[7] *= 20  # one output channel with a much larger range
    return w


def test_all_candidates_present(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    assert set(analysis.results) == {c.key for c in WEIGHT_CANDIDATES}


def test_per_channel_beats_per_tensor_with_outlier_channel(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    assert analysis.sqnr("int8_sym_channel") > analysis.sqnr("int8_sym_tensor") + 3


def test_fp8_e4m3_beats_e5m2(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    assert analysis.sqnr("fp8_e4m3_tensor") > analysis.sqnr("fp8_e5m2_tensor")


def test_metrics_match_engine_fake_quant(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    qparams = qparams_for_tensor(weight, QuantSpec("int8", "channel", axis=0))
    expected = ((weight - fake_quantize(weight, qparams)) ** 2).mean().item()
    assert analysis.results["int8_sym_channel"].metrics.mse == pytest.approx(expected, rel=1e-5)


def test_transposed_weight_uses_axis_one(weight):
    direct = analyze_weight("a", weight, out_axis=0)
    transposed = analyze_weight("b", weight.T.contiguous(), out_axis=1)
    assert transposed.sqnr("int8_sym_channel") == pytest.approx(
        direct.sqnr("int8_sym_channel"), abs=1e-4
    )
    assert transposed.outliers.top_channels[0][0] == 7


def test_histograms_count_every_element(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    assert analysis.histogram.total == weight.numel()
    for result in analysis.results.values():
        assert result.histogram.total == weight.numel()


def test_grid_for_per_tensor_only(weight):
    analysis = analyze_weight("layer", weight, out_axis=0)
    assert analysis.results["fp8_e4m3_tensor"].grid is not None
    assert analysis.results["int8_sym_channel"].grid is None
    low, high = analysis.results["int8_sym_tensor"].clip_range
    assert high == pytest.approx(weight.abs().max().item(), rel=1e-6)
    assert low == pytest.approx(-high)


def test_all_zero_weight_is_defined():
    analysis = analyze_weight("zeros", torch.zeros(8, 8), out_axis=0)
    for result in analysis.results.values():
        assert result.metrics.mse == 0.0
        assert result.metrics.sqnr_db == math.inf
        assert result.scale_min > 0


def test_nonfinite_weight_is_counted():
    w = torch.randn(8, 8)
    w[0, 0] = float("nan")
    w[1, 1] = float("inf")
    analysis = analyze_weight("bad", w, out_axis=0)
    assert analysis.nonfinite == 2
    assert math.isfinite(analysis.sqnr("int8_sym_tensor"))


def test_analysis_json_round_trip(weight):
    analysis = analyze_weight("layer", weight, out_axis=0, heatmap_size=8)
    restored = TensorAnalysis.from_dict(analysis.to_dict())
    assert (
        restored.results["int8_sym_channel"].metrics == analysis.results["int8_sym_channel"].metrics
    )
    assert restored.results["fp8_e4m3_tensor"].heatmap.to_tensor().shape == (8, 8)


def test_error_heatmap_pools_max(weight):
    qparams = qparams_for_tensor(weight, QuantSpec("int8"))
    quantized = fake_quantize(weight, qparams)
    heatmap = error_heatmap(weight, quantized, out_axis=0, max_size=16)
    values = heatmap.to_tensor()
    assert values.shape == (16, 16)
    assert values.max().item() == pytest.approx((weight - quantized).abs().max().item(), rel=1e-3)
    assert heatmap.row_label == "output channel"
