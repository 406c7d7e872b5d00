"""Upper bounds on the observer settings that size memory and time.

A histogram of ``bins`` float64 counts per scale group and a search over
``num_candidates`` clipping ranges are allocated or run when calibration data arrives,
so an unbounded value in a plan file would make calibration try to allocate terabytes.
The bounds are checked when an observer is built and when a plan is loaded.
"""

from __future__ import annotations

import json

import pytest
import torch

from quantviz.cli import main
from quantviz.errors import QuantvizError
from quantviz.model.calibration import ActivationRecorder, CalibrationSettings
from quantviz.plan import PrecisionPlan
from quantviz.quant.observers import (
    MAX_BINS,
    MAX_CANDIDATES,
    MIN_BINS,
    MIN_CANDIDATES,
    EntropyObserver,
    MSEObserver,
    PercentileObserver,
    make_observer,
)
from quantviz.quant.spec import QuantSpec

PER_TENSOR = QuantSpec("int8")
HISTOGRAM_OBSERVERS = ["percentile", "mse", "entropy"]
SEARCH_OBSERVERS = ["mse", "entropy"]
BAD_BINS = [0, 4, 10, MAX_BINS + 4, 10**12, -(2**40), 256.0, True, "256", None]
BAD_CANDIDATES = [0, 1, MAX_CANDIDATES + 1, 10**12, -5, 64.0, True, "64"]


@pytest.mark.parametrize("name", HISTOGRAM_OBSERVERS)
@pytest.mark.parametrize("bins", BAD_BINS, ids=repr)
def test_observer_rejects_bins(name, bins):
    with pytest.raises(QuantvizError) as error:
        make_observer(name, PER_TENSOR, bins=bins)
    message = str(error.value)
    assert f"bins must be a multiple of 4 between {MIN_BINS} and {MAX_BINS}" in message
    assert f"got {bins!r}" in message


@pytest.mark.parametrize("name", SEARCH_OBSERVERS)
@pytest.mark.parametrize("count", BAD_CANDIDATES, ids=repr)
def test_observer_rejects_candidates(name, count):
    with pytest.raises(QuantvizError) as error:
        make_observer(name, PER_TENSOR, num_candidates=count)
    message = str(error.value)
    assert f"between {MIN_CANDIDATES} and {MAX_CANDIDATES}" in message
    assert message.startswith("num_candidates must be an integer")
    assert f"got {count!r}" in message


def test_huge_integer_shortened():
    with pytest.raises(QuantvizError) as error:
        PercentileObserver(PER_TENSOR, bins=10**400)
    message = str(error.value)
    assert "(401 characters)" in message
    assert len(message) < 200


@pytest.mark.parametrize("observer_class", [PercentileObserver, MSEObserver, EntropyObserver])
def test_limits_themselves_work(observer_class):
    """The bounds are usable: a histogram at MAX_BINS and MIN_BINS calibrates."""
    data = torch.randn(4, 1000, generator=torch.Generator().manual_seed(0))
    for bins in (MIN_BINS, MAX_BINS):
        observer = observer_class(PER_TENSOR, bins=bins)
        observer.update(data)
        qparams = observer.compute_qparams()
        assert observer.hist.shape == (1, bins)
        assert 0 < float(qparams.scale) <= float(data.abs().max()) / 127 * 1.0001


@pytest.mark.parametrize("observer_class", [MSEObserver, EntropyObserver])
def test_max_search_finishes(observer_class):
    """The largest search: MAX_CANDIDATES ranges over a MAX_BINS histogram, per tensor.

    It takes about 0.8 s (MSE) and 2.3 s (entropy) on one thread of the 2-core test
    machine.
    """
    data = torch.randn(10_000, generator=torch.Generator().manual_seed(1))
    data[0] = 40.0
    observer = observer_class(PER_TENSOR, bins=MAX_BINS, num_candidates=MAX_CANDIDATES)
    observer.update(data)
    low, high = observer.compute_range()
    # Both searches clip the single outlier at 40 and keep the Gaussian bulk.
    assert 3.0 < float(high) < 40.0
    assert float(low) == -float(high)


def test_calibration_bins_rejected():
    """CalibrationSettings.bins sizes every recorder's histogram."""
    settings = CalibrationSettings.from_dict({"bins": 10**12})
    with pytest.raises(QuantvizError, match=r"bins must be a multiple of 4 between 8 and 65536"):
        ActivationRecorder(16, bins=settings.bins)


def plan_document(tensor: dict) -> dict:
    return {"format": "quantviz-plan", "version": 1, "defaults": {"input": tensor}}


# (observer_settings in defaults.input, expected message)
BAD_PLAN_SETTINGS = {
    "bins_huge": (
        {"bins": 10**12},
        "defaults.input.observer_settings.bins must be a multiple of 4 between 8 and 65536; "
        "got 1000000000000",
    ),
    "bins_float": (
        {"bins": 2048.0},
        "defaults.input.observer_settings.bins must be a multiple of 4 between 8 and 65536; "
        "got 2048.0",
    ),
    "candidates_huge": (
        {"num_candidates": 10**9},
        "defaults.input.observer_settings.num_candidates must be an integer between 2 and "
        "4096; got 1000000000",
    ),
    "candidates_zero": (
        {"num_candidates": 0},
        "defaults.input.observer_settings.num_candidates must be an integer between 2 and "
        "4096; got 0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PLAN_SETTINGS))
@pytest.mark.parametrize("fmt", ["int8_sym", "float"])
def test_plan_rejects_observer_size(case, fmt):
    """Float tensors build no observer, but a later rule could quantize them."""
    settings, expected = BAD_PLAN_SETTINGS[case]
    document = plan_document({"format": fmt, "observer": "mse", "observer_settings": settings})
    with pytest.raises(QuantvizError) as error:
        PrecisionPlan.from_dict(document)
    assert str(error.value) == expected


def test_plan_accepts_limits():
    settings = {"bins": MAX_BINS, "num_candidates": MAX_CANDIDATES}
    document = plan_document(
        {"format": "int8_sym", "observer": "mse", "observer_settings": settings}
    )
    plan = PrecisionPlan.from_dict(document)
    assert plan.defaults.input.observer_settings == settings


def test_plan_file_huge_bins_cli(tmp_path, capsys):
    path = tmp_path / "plan.json"
    settings = {"bins": 10**12}
    tensor = {"format": "fp8_e4m3", "observer": "percentile", "observer_settings": settings}
    rule = {"pattern": "*.mlp.*", "input": tensor}
    path.write_text(json.dumps({"format": "quantviz-plan", "version": 1, "rules": [rule]}))
    code = main(["plan", "show", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert str(path) in captured.err
    assert "rules[0].input.observer_settings.bins" in captured.err
    assert "between 8 and 65536; got 1000000000000" in captured.err
    assert "Traceback" not in captured.err
