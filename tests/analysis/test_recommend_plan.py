"""Recommendations turned into plan settings: the engine mapping the app and CLI use."""

import pytest
import torch
from safetensors.torch import save_file

from quantviz.analysis.pipeline import (
    AnalysisSettings,
    ModelAnalysis,
    analyze_model,
    analyze_weights_file,
)
from quantviz.analysis.recommend import (
    CHOICE_FIELDS,
    FLOAT,
    FP8,
    INT8,
    apply_recommendations,
    recommended_layer_settings,
)
from quantviz.analysis.results import Recommendation
from quantviz.errors import QuantvizError
from quantviz.plan import LayerConfig, PrecisionPlan, TensorConfig

SMALL = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=0)
# The (weight, input) labels a layer resolves to under each recommendation.
EXPECTED_LABELS = {
    FLOAT: ("float", "float"),
    FP8: ("fp8_e4m3", "fp8_e4m3"),
    INT8: ("int8_sym/ch", "int8_sym"),
}


@pytest.fixture(scope="module")
def llama_analysis(tiny_llama):
    return analyze_model(tiny_llama, SMALL)


def with_choices(analysis, choices):
    """A copy of ``analysis`` whose layers recommend ``choices`` in turn."""
    copy = ModelAnalysis.from_dict(analysis.to_dict())
    for index, report in enumerate(copy.layers):
        choice = choices[index % len(choices)]
        report.recommendation = Recommendation(choice, "set by the test") if choice else None
    return copy


def test_every_choice_maps_to_plan(llama_analysis):
    analysis = with_choices(llama_analysis, [FLOAT, FP8, INT8])
    plan = PrecisionPlan()
    names = apply_recommendations(plan, analysis)
    assert names == [report.name for report in analysis.layers]
    for report in analysis.layers:
        config = plan.resolve(report.name)
        expected = EXPECTED_LABELS[report.recommendation.choice]
        assert (config.weight.label, config.input.label) == expected, report.name


def test_settings_match_the_analysis_choices(llama_analysis):
    settings = recommended_layer_settings(llama_analysis)
    assert list(settings) == [report.name for report in llama_analysis.layers]
    for report in llama_analysis.layers:
        item = settings[report.name]
        assert item.choice == report.recommendation.choice
        assert item.weight == CHOICE_FIELDS[item.choice][0]
        assert item.input == CHOICE_FIELDS[item.choice][1]


def test_settings_are_copies(llama_analysis):
    settings = recommended_layer_settings(with_choices(llama_analysis, [INT8]))
    first = next(iter(settings.values()))
    first.weight["format"] = "fp8_e5m2"
    assert CHOICE_FIELDS[INT8][0]["format"] == "int8_sym"


def test_names_limit_the_layers(llama_analysis):
    analysis = with_choices(llama_analysis, [INT8])
    every = [report.name for report in analysis.layers]
    requested = [every[3], every[1], "no.such.layer"]
    plan = PrecisionPlan()
    names = apply_recommendations(plan, analysis, requested)
    assert names == [every[1], every[3]]
    assert sorted(plan.overrides) == sorted(names)
    assert plan.resolve(every[0]).weight.label == "float"


def test_layers_without_recommendation_skipped(llama_analysis):
    analysis = with_choices(llama_analysis, [None, FP8])
    settings = recommended_layer_settings(analysis)
    skipped = [r.name for r in analysis.layers if r.recommendation is None]
    assert skipped
    assert not set(skipped) & set(settings)
    assert len(settings) == len(analysis.layers) - len(skipped)


def test_replaces_group_setting_keeps_observer(llama_analysis):
    analysis = with_choices(llama_analysis, [INT8])
    name = analysis.layers[0].name
    inputs = TensorConfig("fp8_e4m3", observer="percentile", observer_settings={"percentile": 99.9})
    plan = PrecisionPlan(defaults=LayerConfig(TensorConfig("int8_sym", "group", 16), inputs))
    plan.set_layer(name, weight={"format": "int8_sym", "granularity": "group", "group_size": 8})
    plan.scales[name] = {}
    apply_recommendations(plan, analysis, [name])
    config = plan.resolve(name)
    assert config.weight.granularity == "channel"
    assert config.weight.group_size is None
    assert config.input.label == "int8_sym"
    assert config.input.observer == "percentile"
    assert config.input.observer_settings == {"percentile": 99.9}
    assert name not in plan.scales


def test_weights_only_analysis_keeps_inputs(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    save_file({"a.weight": torch.randn(16, 8), "b.weight": torch.randn(4, 16)}, str(path))
    analysis = analyze_weights_file(path)
    settings = recommended_layer_settings(analysis)
    assert sorted(settings) == ["a", "b"]
    assert all(item.input is None for item in settings.values())
    plan = PrecisionPlan(defaults=LayerConfig(TensorConfig(), TensorConfig("fp8_e5m2")))
    apply_recommendations(plan, analysis)
    for name, item in settings.items():
        config = plan.resolve(name)
        assert config.input.label == "fp8_e5m2"
        assert config.weight.label == EXPECTED_LABELS[item.choice][0]


def test_unknown_choice_rejected(llama_analysis):
    analysis = with_choices(llama_analysis, [INT8])
    analysis.layers[2].recommendation = Recommendation("int4_group", "from a newer version")
    plan = PrecisionPlan()
    with pytest.raises(QuantvizError, match="int4_group") as error:
        apply_recommendations(plan, analysis)
    assert analysis.layers[2].name in str(error.value)
    assert plan.overrides == {}
