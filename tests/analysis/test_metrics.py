import math

import pytest
import torch

from quantviz.analysis.metrics import (
    ErrorMetrics,
    compare,
    cosine_from_error,
    cosine_rows,
    kl_divergence_logits,
    sqnr_db,
)


def test_compare_matches_float64_reference():
    torch.manual_seed(0)
    x = torch.randn(100_000)
    q = x + 0.01 * torch.randn(100_000)
    q[:10] = 0.0
    x[10:20] = 0.0
    clipped = torch.zeros_like(x, dtype=torch.bool)
    clipped[:5] = True
    metrics = compare(x, q, clipped=clipped)
    xd, qd = x.double(), q.double()
    noise = ((xd - qd) ** 2).sum().item()
    assert metrics.mse == pytest.approx(noise / x.numel(), rel=1e-5)
    assert metrics.sqnr_db == pytest.approx(10 * math.log10((xd**2).sum().item() / noise), abs=1e-4)
    expected_cosine = (xd @ qd / (xd.norm() * qd.norm())).item()
    assert metrics.cosine == pytest.approx(expected_cosine, abs=1e-9)
    assert metrics.max_abs_error == pytest.approx((xd - qd).abs().max().item(), rel=1e-6)
    assert metrics.clipped_fraction == pytest.approx(5 / x.numel())
    assert metrics.underflow_fraction == pytest.approx(10 / x.numel())


def test_cosine_from_error_keeps_small_distances():
    torch.manual_seed(1)
    a = torch.randn(1000, dtype=torch.float64)
    b = a + 1e-5 * torch.randn(1000, dtype=torch.float64)
    exact = (a @ b / (a.norm() * b.norm())).item()
    value = cosine_from_error((a @ a).item(), (b @ b).item(), ((a - b) ** 2).sum().item())
    assert 1.0 - value == pytest.approx(1.0 - exact, rel=1e-4)


def test_compare_identical_gives_infinite_sqnr():
    x = torch.randn(64)
    metrics = compare(x, x.clone())
    assert metrics.sqnr_db == math.inf
    assert metrics.mse == 0.0


def test_compare_ignores_nonfinite_reference():
    x = torch.tensor([1.0, float("nan"), float("inf"), 2.0])
    q = torch.tensor([1.0, 0.0, 0.0, 2.5])
    metrics = compare(x, q)
    assert metrics.numel == 2
    assert metrics.mse == pytest.approx(0.125)


def test_error_metrics_json_round_trip():
    metrics = compare(torch.ones(4), torch.ones(4))
    restored = ErrorMetrics.from_dict(metrics.to_dict())
    assert metrics.to_dict()["sqnr_db"] is None
    assert restored == metrics


def test_sqnr_edge_cases():
    assert sqnr_db(1.0, 0.0) == math.inf
    assert sqnr_db(0.0, 1.0) == -math.inf
    assert sqnr_db(100.0, 1.0) == pytest.approx(20.0)


def test_cosine_rows_and_kl():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    assert cosine_rows(a, b).tolist() == pytest.approx([0.0, 1.0])
    logits = torch.randn(3, 10)
    assert kl_divergence_logits(logits, logits).abs().max().item() < 1e-12
    assert (kl_divergence_logits(logits, logits.flip(-1)) > 0).all()
