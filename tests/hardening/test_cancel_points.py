"""Cancelling long operations at random progress events, 20 times each.

Each operation first runs once to count its progress events. Then it runs again with a
CancelToken that the progress callback sets at a randomly chosen event, and the test
checks what the caller is left with: the model's weights and modules, the plan and the
output folder. Existing tests cancel at one fixed point each: during analysis
(tests/analysis/test_pipeline.py), calibration (tests/model/test_calibration.py),
QAT (tests/qat/test_qat_loop.py) and the ONNX write (tests/export/test_export_graph.py).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.errors import Cancelled
from quantviz.export import export_onnx
from quantviz.model import LoadedModel, load_texts, make_batches, random_model
from quantviz.model.calibration import calibrate
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan
from quantviz.progress import CancelToken, ProgressCallback, ProgressEvent
from quantviz.qat import QATConfig, QATResult, run_qat
from quantviz.quant.modules import QuantizedLayer

CANCELS = 20
ANALYSIS = AnalysisSettings(samples=2, seq_len=16, batch_size=1, sensitivity_samples=1)
QAT = QATConfig(
    steps=3,
    batch_size=2,
    seq_len=32,
    eval_every=0,
    checkpoint_every=0,
    calibration_samples=2,
    eval_samples=2,
)


def one_layer_llama() -> LoadedModel:
    """A 1-layer random Llama (7 linear layers), which halves each run of the 2-layer one."""
    return random_model("llama", num_hidden_layers=1)


def cancel_at(index: int) -> tuple[CancelToken, ProgressCallback]:
    """A token and a progress callback that sets it at the event numbered ``index``."""
    token = CancelToken()
    counter = itertools.count()

    def progress(event: ProgressEvent) -> None:
        if next(counter) == index:
            token.cancel()

    return token, progress


def count_events(run: Callable[[ProgressCallback], Any]) -> int:
    events: list[ProgressEvent] = []
    run(events.append)
    return len(events)


def cancel_points(total: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(total) for _ in range(CANCELS)]


def weights(loaded: LoadedModel) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in loaded.module.state_dict().items()}


def assert_model_unchanged(loaded: LoadedModel, before: dict[str, torch.Tensor], where: str):
    after = loaded.module.state_dict()
    assert list(after) == list(before), where
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), f"{where}: {name} changed"
    for name, module in loaded.module.named_modules():
        assert not isinstance(module, QuantizedLayer), f"{where}: {name} is still wrapped"
        assert not module._forward_hooks, f"{where}: {name} keeps a forward hook"
        assert not module._forward_pre_hooks, f"{where}: {name} keeps a forward pre-hook"
    assert not loaded.module.training, where


def plan_json(plan: PrecisionPlan) -> str:
    return json.dumps(plan.to_dict(), sort_keys=True)


def w8a8_plan() -> PrecisionPlan:
    return uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))


# --- Analysis and calibration ---------------------------------------------------------------


def test_cancel_analysis_anywhere():
    # An encoder, because a decoder's sensitivity step compares 30522-token logits and
    # makes each analysis about 8 times slower.
    loaded = random_model("bert", num_hidden_layers=1)
    before = weights(loaded)
    total = count_events(lambda progress: analyze_model(loaded, ANALYSIS, progress=progress))
    cancelled = 0
    for index in cancel_points(total, seed=1):
        token, progress = cancel_at(index)
        try:
            analyze_model(loaded, ANALYSIS, progress=progress, cancel=token)
        except Cancelled:
            cancelled += 1
        assert_model_unchanged(loaded, before, f"analysis cancelled at event {index}/{total}")
    assert cancelled >= CANCELS - 3


def test_cancel_calibration_anywhere():
    loaded = one_layer_llama()
    batches = make_batches(
        loaded.tokenizer, load_texts(split="calibration"), seq_len=16, num_samples=16, batch_size=1
    )
    before = weights(loaded)
    total = count_events(lambda progress: calibrate(loaded, batches, progress=progress))
    cancelled = 0
    for index in cancel_points(total, seed=2):
        token, progress = cancel_at(index)
        try:
            calibrate(loaded, batches, progress=progress, cancel=token)
        except Cancelled:
            cancelled += 1
        assert_model_unchanged(loaded, before, f"calibration cancelled at event {index}/{total}")
    assert cancelled >= CANCELS - 3


# --- ONNX export ----------------------------------------------------------------------------


@dataclass
class CancelledExport:
    index: int
    total: int
    raised: bool
    plan_changed: bool
    files: list[str]


@pytest.fixture(scope="module")
def cancelled_exports(tmp_path_factory) -> tuple[LoadedModel, dict, list[CancelledExport]]:
    """Export a 1-layer Llama 20 times, each cancelled at a random event."""
    loaded = one_layer_llama()
    batches = make_batches(
        loaded.tokenizer, load_texts(split="calibration"), seq_len=16, num_samples=4, batch_size=2
    )
    before = weights(loaded)
    scratch = tmp_path_factory.mktemp("export_count")
    total = count_events(
        lambda progress: export_onnx(
            loaded, w8a8_plan(), scratch / "m.onnx", calib_batches=batches, progress=progress
        )
    )
    outcomes = []
    for index in cancel_points(total, seed=3):
        folder = tmp_path_factory.mktemp("export")
        plan = w8a8_plan()
        plan_before = plan_json(plan)
        token, progress = cancel_at(index)
        try:
            export_onnx(
                loaded,
                plan,
                folder / "m.onnx",
                calib_batches=batches,
                progress=progress,
                cancel=token,
            )
            raised = False
        except Cancelled:
            raised = True
        assert_model_unchanged(loaded, before, f"export cancelled at event {index}/{total}")
        outcomes.append(
            CancelledExport(
                index=index,
                total=total,
                raised=raised,
                plan_changed=plan_json(plan) != plan_before,
                files=sorted(path.name for path in folder.iterdir()),
            )
        )
    return loaded, before, outcomes


def test_cancel_export_leaves_no_file(cancelled_exports):
    _, _, outcomes = cancelled_exports
    for outcome in outcomes:
        if outcome.raised:
            assert outcome.files == [], outcome
        else:
            # The token was set after the last check: the export is complete.
            assert outcome.files == ["m.onnx", "m.plan.json", "m.scales.json"], outcome
    assert sum(outcome.raised for outcome in outcomes) >= CANCELS - 3


def test_cancel_export_keeps_plan(cancelled_exports):
    _, _, outcomes = cancelled_exports
    changed = [outcome.index for outcome in outcomes if outcome.raised and outcome.plan_changed]
    assert changed == []


# --- QAT ------------------------------------------------------------------------------------


def test_cancel_qat_anywhere(tmp_path):
    """Before the first step, cancelling raises and changes nothing. After it, run_qat
    returns a cancelled result and the model keeps the weights of the last finished
    step, as its documentation states. Only qat_result.json and a checkpoint are written.
    """
    texts = load_texts(split="calibration")[:2]
    total = count_events(
        lambda progress: run_qat(
            one_layer_llama(), w8a8_plan(), QAT, train_texts=texts, progress=progress
        )
    )
    outcomes = {"raised": 0, "stopped": 0, "finished": 0}
    for trial, index in enumerate(cancel_points(total, seed=4)):
        where = f"QAT cancelled at event {index}/{total}"
        loaded = one_layer_llama()
        before = weights(loaded)
        plan = w8a8_plan()
        plan_before = plan_json(plan)
        out_dir = tmp_path / f"run{trial}"
        token, progress = cancel_at(index)
        try:
            result = run_qat(
                loaded,
                plan,
                QAT,
                train_texts=texts,
                out_dir=out_dir,
                progress=progress,
                cancel=token,
            )
        except Cancelled:
            outcomes["raised"] += 1
            assert_model_unchanged(loaded, before, where)
            assert plan_json(plan) == plan_before, where
            assert [path for path in out_dir.rglob("*") if path.is_file()] == [], where
            continue

        files = {path.name for path in out_dir.iterdir()}
        for name, module in loaded.module.named_modules():
            assert not isinstance(module, QuantizedLayer), f"{where}: {name} is still wrapped"
        assert QATResult.load(out_dir / "qat_result.json").cancelled == result.cancelled
        if result.cancelled:
            outcomes["stopped"] += 1
            assert "model.safetensors" not in files, where
            assert "plan.json" not in files, where
            assert (out_dir / "checkpoints").is_dir(), where
        else:
            outcomes["finished"] += 1
            assert {"model.safetensors", "plan.json", "config.json"} <= files, where
    assert outcomes["raised"] > 0, outcomes
    assert outcomes["stopped"] > 0, outcomes
