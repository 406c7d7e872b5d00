"""A plan's estimated cost: per-layer sensitivities summed over the quantized layers."""

import pytest

from quantviz.analysis.pipeline import AnalysisSettings, ModelAnalysis, analyze_model
from quantviz.evaluate import EstimatedCost, estimated_cost
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan

SMALL = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)
INT8 = {"format": "int8_sym"}


@pytest.fixture(scope="module")
def analysis(tiny_llama):
    return analyze_model(tiny_llama, SMALL)


def test_sums_the_quantized_roles(analysis):
    first, second, third = (report.name for report in analysis.layers[:3])
    plan = PrecisionPlan()
    plan.set_layer(first, weight=INT8, input=INT8)
    plan.set_layer(second, weight=INT8)
    plan.set_layer(third, input={"format": "fp8_e4m3"})
    cost = estimated_cost(analysis, plan)
    expected = (
        analysis.layer(first).sensitivity.both
        + analysis.layer(second).sensitivity.weights
        + analysis.layer(third).sensitivity.inputs
    )
    assert isinstance(cost, EstimatedCost)
    assert cost.value == pytest.approx(expected)
    assert cost.metric == "kl"
    assert cost.layers == 3
    assert cost.value > 0


def test_configs_give_the_plan_result(analysis):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    plan.set_layer(analysis.layers[0].name, weight={"format": "float"})
    configs = {report.name: plan.resolve(report.name) for report in analysis.layers}
    assert estimated_cost(analysis, configs) == estimated_cost(analysis, plan)
    total = sum(report.sensitivity.both for report in analysis.layers[1:])
    total += analysis.layers[0].sensitivity.inputs
    assert estimated_cost(analysis, plan).value == pytest.approx(total)


def test_missing_configs_count_as_float(analysis):
    name = analysis.layers[1].name
    configs = {name: uniform_plan(TensorConfig("fp8_e4m3"), TensorConfig()).resolve(name)}
    cost = estimated_cost(analysis, configs)
    assert cost.layers == 1
    assert cost.value == pytest.approx(analysis.layer(name).sensitivity.weights)


def test_float_plan_costs_nothing(analysis):
    cost = estimated_cost(analysis, PrecisionPlan())
    assert cost == EstimatedCost(0.0, "kl", 0)


def test_none_without_sensitivity(analysis):
    copy = ModelAnalysis.from_dict(analysis.to_dict())
    for report in copy.layers:
        report.sensitivity = None
    plan = uniform_plan(TensorConfig("int8_sym"), TensorConfig("int8_sym"))
    assert estimated_cost(copy, plan) is None
