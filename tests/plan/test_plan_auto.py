import json

import pytest
import torch

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.autoplan import AutoPlanResult, auto_plan, base_formats, sensitivity_order
from quantviz.errors import QuantvizError
from quantviz.evaluate import evaluate_plan
from quantviz.model import load_texts, make_batches
from quantviz.plan import PrecisionPlan, TensorConfig
from quantviz.quant.modules import QuantizedLayer

SMALL = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)
SEARCH = {"samples": 4, "seq_len": 32}


@pytest.fixture(scope="module")
def llama_analysis(tiny_llama):
    return analyze_model(tiny_llama, SMALL)


@pytest.fixture(scope="module")
def calibration(tiny_llama):
    return make_batches(tiny_llama.tokenizer, load_texts(), seq_len=16, num_samples=4, batch_size=4)


@pytest.fixture(scope="module")
def share_search(tiny_llama, llama_analysis, calibration):
    before = {k: v.clone() for k, v in tiny_llama.module.state_dict().items()}
    result = auto_plan(
        tiny_llama,
        llama_analysis,
        target_8bit_share=0.8,
        max_evaluations=4,
        calib_batches=calibration,
        **SEARCH,
    )
    return before, result


def test_target_share_met(tiny_llama, llama_analysis, share_search):
    before, result = share_search
    assert result.met
    chosen = result.frontier[result.chosen]
    assert chosen.share_8bit >= 0.8
    assert chosen.float_layers == 2  # floor(14 * 0.2) most sensitive layers
    floats = [
        name
        for name in (i.name for i in tiny_llama.layers)
        if not result.plan.resolve(name).quantized
    ]
    assert floats == sorted(
        sensitivity_order(llama_analysis)[:2], key=[i.name for i in tiny_llama.layers].index
    )
    assert result.evaluation.loss == chosen.loss
    assert all(p.loss >= 0 for p in result.frontier)
    assert not any(isinstance(m, QuantizedLayer) for m in tiny_llama.module.modules())
    after = tiny_llama.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_max_loss_search_bounded(tiny_llama, llama_analysis, calibration):
    base = auto_plan(
        tiny_llama,
        llama_analysis,
        max_loss=1.0,
        allow_smoothquant=False,
        calib_batches=calibration,
        **SEARCH,
    )
    assert base.met
    assert len(base.frontier) == 1
    limit = base.frontier[0].loss / 4
    result = auto_plan(
        tiny_llama,
        llama_analysis,
        max_loss=limit,
        allow_smoothquant=False,
        allow_fp8=False,
        max_evaluations=6,
        calib_batches=calibration,
        **SEARCH,
    )
    assert len(result.frontier) <= 6
    assert result.met
    chosen = result.frontier[result.chosen]
    assert chosen.loss <= limit
    assert chosen.float_layers > 0
    assert all(p.fp8_layers == 0 for p in result.frontier)
    failing = [p for p in result.frontier if p.float_layers < chosen.float_layers]
    assert all(p.loss > limit for p in failing)
    assert len({p.label for p in result.frontier}) == len(result.frontier)


def test_frontier_points_apply(tiny_llama, share_search, calibration):
    result = share_search[1]
    assert 1 <= len(result.frontier) <= 4
    point = result.frontier[-1]
    plan = PrecisionPlan.from_dict(point.plan)
    assert plan.scales == {}
    evaluation = evaluate_plan(tiny_llama, plan, calib_batches=calibration, **SEARCH)
    assert evaluation.size.plan_bytes == point.size_bytes
    assert evaluation.loss == pytest.approx(point.loss, rel=0.05)
    sizes = [p.size_bytes for p in result.pareto()]
    assert sizes == sorted(sizes)


def test_result_json_round_trip(share_search):
    result = share_search[1]
    data = json.loads(json.dumps(result.to_dict()))
    restored = AutoPlanResult.from_dict(data)
    assert restored.to_dict() == result.to_dict()
    assert restored.plan.scales.keys() == result.plan.scales.keys() != set()
    with pytest.raises(QuantvizError, match="not a quantviz automatic-plan"):
        AutoPlanResult.from_dict({"format": "other"})


def test_fp8_where_int8_loses(llama_analysis):
    weight, inputs = TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym")
    formats = base_formats(llama_analysis, weight, inputs, allow_fp8=True)
    for report in llama_analysis.layers:
        chosen_input = formats[report.name][1]
        gain = report.input.sqnr("fp8_e4m3_tensor") - report.input.sqnr("int8_sym_tensor")
        assert (chosen_input.format == "fp8_e4m3") == (gain > 1.0)
    only_int8 = base_formats(llama_analysis, weight, inputs, allow_fp8=False)
    assert all(pair == (weight, inputs) for pair in only_int8.values())


def test_invalid_requests_rejected(tiny_llama, tiny_bert, llama_analysis):
    with pytest.raises(QuantvizError, match="exactly one"):
        auto_plan(tiny_llama, llama_analysis)
    with pytest.raises(QuantvizError, match="exactly one"):
        auto_plan(tiny_llama, llama_analysis, max_loss=0.1, target_8bit_share=0.9)
    with pytest.raises(QuantvizError, match=r"between 0 and 1; got 1\.5"):
        auto_plan(tiny_llama, llama_analysis, target_8bit_share=1.5)
    with pytest.raises(QuantvizError, match="needs a causal LM"):
        auto_plan(tiny_bert, llama_analysis, max_loss=0.1, metric="perplexity_change")
    with pytest.raises(QuantvizError, match="does not match"):
        auto_plan(tiny_bert, llama_analysis, max_loss=0.1)
    no_sensitivity = analyze_model(
        tiny_llama, AnalysisSettings(samples=2, seq_len=16, sensitivity_samples=0)
    )
    with pytest.raises(QuantvizError, match="sensitivity_samples"):
        auto_plan(tiny_llama, no_sensitivity, max_loss=0.1)


def test_keep_input_layers_stay_int8(llama_analysis):
    weight, inputs = TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym")
    names = frozenset(report.name for report in llama_analysis.layers)
    formats = base_formats(llama_analysis, weight, inputs, allow_fp8=True, keep_input=names)
    assert all(chosen_input == inputs for _, chosen_input in formats.values())


def test_each_alpha_tried_with_norm_fed_inputs_int8(tiny_llama, llama_analysis, calibration):
    from quantviz.smoothquant import find_norm_groups

    norm_fed = {name for group in find_norm_groups(tiny_llama) for name in group.layers}
    result = auto_plan(
        tiny_llama,
        llama_analysis,
        target_8bit_share=1.0,
        smoothquant_alpha=(0.7, 0.3),
        max_evaluations=3,
        calib_batches=calibration,
        **SEARCH,
    )
    assert [p.smoothquant_alpha for p in result.frontier] == [None, 0.3, 0.7]
    assert result.settings["smoothquant_alpha"] == [0.3, 0.7]
    best = min(result.frontier, key=lambda p: p.loss)
    assert result.frontier[result.chosen] is best
    for point in result.frontier[1:]:
        plan = PrecisionPlan.from_dict(point.plan)
        for name in norm_fed:
            assert plan.resolve(name).input == TensorConfig("int8_sym")
            assert plan.resolve(name).smoothquant_alpha == point.smoothquant_alpha
    with pytest.raises(QuantvizError, match=r"smoothquant_alpha must be between 0 and 1; got 2"):
        auto_plan(tiny_llama, llama_analysis, target_8bit_share=1.0, smoothquant_alpha=2)
