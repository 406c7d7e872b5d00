"""The stacked weight analysis against quantizing one candidate at a time."""

import math

import pytest
import torch

import quantviz.analysis.weight_batch as weight_batch
from quantviz.analysis.candidates import CANDIDATES, WEIGHT_CANDIDATES
from quantviz.analysis.weights import (
    HEATMAP_CANDIDATES,
    _analyze_one_by_one,
    analyze_weight,
    analyze_weights,
    model_weights,
)
from quantviz.quant import QuantSpec, fake_quantize, qparams_for_tensor
from quantviz.quant.scratch import Workspace, count_values

ALL_CANDIDATES = tuple(CANDIDATES.values())
EXACT_METRICS = ("mse", "sqnr_db", "max_abs_error", "clipped_fraction", "underflow_fraction")


def _one_by_one(weight, out_axis, candidates=ALL_CANDIDATES, heatmap_size=32):
    return _analyze_one_by_one(
        "layer", weight.float(), out_axis, candidates, 256, heatmap_size, HEATMAP_CANDIDATES
    )


def assert_same_analysis(batched, reference, *, compare_edges=True):
    """The batched path gives the general path's numbers, cosine to float rounding."""
    if compare_edges:
        assert batched.histogram.edges == reference.histogram.edges
    assert batched.histogram.counts == reference.histogram.counts
    # to_dict maps NaN (kurtosis of an overflowing variance) to None, which compares equal.
    assert batched.outliers.to_dict() == reference.outliers.to_dict()
    assert batched.nonfinite == reference.nonfinite
    assert list(batched.results) == list(reference.results)
    for key, result in batched.results.items():
        expected = reference.results[key]
        for name in EXACT_METRICS:
            value, other = getattr(result.metrics, name), getattr(expected.metrics, name)
            assert value == other or (math.isnan(value) and math.isnan(other)), (key, name)
        # The batched path sums the dequantized power exactly from code counts.
        assert result.metrics.cosine == pytest.approx(
            expected.metrics.cosine, abs=1e-5, nan_ok=True
        ), key
        assert result.histogram.counts == expected.histogram.counts, key
        assert result.spec == expected.spec
        assert result.grid == expected.grid
        assert result.clip_range == expected.clip_range
        assert (result.scale_min, result.scale_max) == (expected.scale_min, expected.scale_max)
        if expected.heatmap is None:
            assert result.heatmap is None
        else:
            assert result.heatmap.to_dict() == expected.heatmap.to_dict()


def _outlier_channel_weight():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(96, 64, generator=generator) * 0.02
    weight[7] *= 20
    weight[3, 5] = 0.0
    return weight


CASES = {
    "outlier channel": (_outlier_channel_weight(), 0),
    "conv1d layout": (_outlier_channel_weight().T.contiguous(), 1),
    "negative axis": (_outlier_channel_weight(), -2),
    "non-contiguous": (_outlier_channel_weight().T, 0),
    "four dimensions": (torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(1)), 0),
    "all zeros": (torch.zeros(8, 8), 0),
    "half zeros": (
        torch.randn(40, 30, generator=torch.Generator().manual_seed(2)).clamp_min(0.0),
        0,
    ),
    "beyond int8 threshold": (
        torch.randn(64, 32, generator=torch.Generator().manual_seed(3)) * 3,
        0,
    ),
    "bfloat16": (
        (torch.randn(64, 48, generator=torch.Generator().manual_seed(4)) * 0.05).bfloat16(),
        0,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_batched_matches_one_by_one(case):
    weight, out_axis = CASES[case]
    batched = analyze_weight("layer", weight, out_axis, ALL_CANDIDATES, heatmap_size=32)
    assert_same_analysis(batched, _one_by_one(weight, out_axis))


def test_batched_matches_minilm_weights(minilm):
    checked = 0
    for index, (name, weight, out_axis) in enumerate(model_weights(minilm)):
        if index % 6:
            continue
        batched = analyze_weight(name, weight, out_axis, WEIGHT_CANDIDATES)
        reference = _one_by_one(weight.detach(), out_axis, WEIGHT_CANDIDATES)
        assert_same_analysis(batched, reference)
        checked += 1
    assert checked >= 6


def test_dequantized_values_match_fake_quantize():
    """The stacked errors leave |w - fake_quantize(w)| for each candidate in the stack."""
    weight, _ = CASES["outlier channel"]
    workspace = Workspace()
    analysis = analyze_weight("layer", weight, 0, WEIGHT_CANDIDATES, workspace=workspace)
    # Stack order: FP8 rows, per-tensor integer rows, per-channel integer rows.
    order = ["fp8_e4m3_tensor", "fp8_e5m2_tensor", "int8_sym_tensor", "int8_sym_channel"]
    stack = workspace.get("stack", 4 * weight.numel(), torch.float32).view(4, *weight.shape)
    for row, key in enumerate(order):
        spec = QuantSpec.from_dict(analysis.results[key].spec)
        expected = (weight - fake_quantize(weight, qparams_for_tensor(weight, spec))).abs()
        assert torch.equal(stack[row], expected), key


def test_huge_values_take_the_clamp():
    """A range capped at half the float32 max makes scaled values exceed the grid."""
    weight = torch.randn(32, 16, generator=torch.Generator().manual_seed(5))
    weight[4, 2] = 3.0e38
    batched = analyze_weight("huge", weight, 0, ALL_CANDIDATES, heatmap_size=8)
    # Both paths' edges overflow float32 (linspace over +-3e38), so they are not compared.
    reference = _one_by_one(weight, 0, heatmap_size=8)
    assert_same_analysis(batched, reference, compare_edges=False)


def test_small_stack_and_chunks_give_same_result(monkeypatch):
    weight, _ = CASES["outlier channel"]
    expected = analyze_weight("layer", weight, 0, ALL_CANDIDATES)
    monkeypatch.setattr(weight_batch, "MAX_STACK_ELEMENTS", weight.numel())
    monkeypatch.setattr(weight_batch, "CHUNK_ELEMENTS", 1000)
    split = analyze_weight("layer", weight, 0, ALL_CANDIDATES)
    assert split.to_dict() == expected.to_dict()


def test_nonfinite_weight_takes_general_path():
    weight = torch.randn(8, 8)
    weight[2, 3] = float("nan")
    analysis = analyze_weight("bad", weight, 0)
    assert analysis.nonfinite == 1
    assert math.isfinite(analysis.sqnr("fp8_e4m3_tensor"))


def test_shared_workspace_gives_same_results():
    weights = [
        ("a", _outlier_channel_weight(), 0),
        ("b", torch.randn(200, 300, generator=torch.Generator().manual_seed(6)), 0),
        ("c", torch.randn(12, 9, generator=torch.Generator().manual_seed(7)), 1),
    ]
    shared = analyze_weights(iter(weights), len(weights))
    for name, weight, out_axis in weights:
        alone = analyze_weight(name, weight, out_axis)
        assert shared[name].to_dict() == alone.to_dict()


def test_count_values_matches_bincount():
    index = torch.randint(0, 300, (5000,), generator=torch.Generator().manual_seed(8))
    counts = count_values(index.to(torch.int32), 320)
    assert torch.equal(counts, torch.bincount(index, minlength=320))
    with pytest.raises(IndexError):
        count_values(torch.tensor([0, 320], dtype=torch.int32), 320)


def test_workspace_reuses_and_grows():
    workspace = Workspace()
    small = workspace.get("buffer", 10, torch.float32)
    again = workspace.get("buffer", 6, torch.float32)
    assert again.data_ptr() == small.data_ptr()
    larger = workspace.get("buffer", 100, torch.float32)
    assert larger.numel() == 100
    assert workspace.get("buffer", 10, torch.int32).dtype == torch.int32
