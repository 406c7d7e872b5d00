"""Plan edits through the project: every change is one undoable step."""

import pytest

from quantviz.errors import QuantvizError
from quantviz.gui.plan_commands import PlanSnapshot
from quantviz.gui.project import Project
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan


@pytest.fixture
def project(bert_model, bert_analysis):
    project = Project()
    project.set_model(bert_model)
    project.set_analysis(bert_analysis)
    return project


def formats(project, role="weight"):
    return [getattr(project.config(name), role).label for name in project.layer_names()]


def test_set_precision_undo_redo(project, qtbot):
    names = project.layer_names()[:3]
    with qtbot.waitSignal(project.planChanged) as blocker:
        assert project.set_precision(names, "weight", "fp8_e4m3")
    assert blocker.args == [names]
    assert formats(project)[:4] == ["fp8_e4m3"] * 3 + ["float"]
    project.undo_stack.undo()
    assert set(formats(project)) == {"float"}
    project.undo_stack.redo()
    assert formats(project)[:3] == ["fp8_e4m3"] * 3


def test_repeat_edit_not_recorded(project):
    name = project.layer_names()[0]
    assert project.set_precision([name], "input", "int8_sym")
    assert not project.set_precision([name], "input", "int8_sym")
    assert project.undo_stack.count() == 1


def test_command_text_names_change(project):
    project.set_precision(project.layer_names()[:2], "input", "fp8_e4m3")
    assert project.undo_stack.undoText() == "Set inputs of 2 layers to FP8 E4M3"


def test_rule_applies_and_undoes(project):
    pattern = "*.attention.self.*"
    matching = [n for n in project.layer_names() if ".attention.self." in n]
    project.set_precision([matching[0]], "weight", "int8_sym")
    assert project.add_rule(pattern, "fp8_e5m2", None)
    assert project.plan.rules[-1].pattern == pattern
    for name in project.layer_names():
        expected = "fp8_e5m2" if name in matching else "float"
        assert project.config(name).weight.label == expected
    project.undo_stack.undo()
    assert project.plan.rules == []
    assert project.config(matching[0]).weight.label == "int8_sym"


def test_rule_invalid_choice(project):
    with pytest.raises(ValueError, match="unknown weight precision"):
        project.add_rule("*", "int3", None)
    assert project.undo_stack.count() == 0


def test_recommendations_follow_analysis(project, bert_analysis):
    assert project.apply_recommendations()
    for report in bert_analysis.layers:
        choice = report.recommendation.choice
        config = project.config(report.name)
        expected = {"int8_channel": "int8_sym/ch", "fp8_e4m3": "fp8_e4m3", "float": "float"}
        assert config.weight.label == expected[choice]
    project.undo_stack.undo()
    assert set(formats(project)) == {"float"}


def test_recommended_settings_are_menu_choices():
    from quantviz.analysis.recommend import CHOICE_FIELDS
    from quantviz.gui import precision

    for weight, inputs in CHOICE_FIELDS.values():
        weight_label = TensorConfig(**weight).label
        input_label = TensorConfig(**inputs).label
        assert precision.choice(precision.WEIGHT, weight_label).fields == weight
        assert precision.choice(precision.INPUT, input_label).fields == inputs


def test_recommendations_for_selection(project, bert_analysis):
    names = project.layer_names()[2:4]
    assert project.apply_recommendations(names)
    assert sorted(project.plan.overrides) == sorted(names)
    assert project.undo_stack.count() == 1
    assert not project.apply_recommendations(names)


def test_unknown_recommendation_leaves_plan(project, bert_analysis):
    from quantviz.analysis.pipeline import ModelAnalysis
    from quantviz.analysis.results import Recommendation

    analysis = ModelAnalysis.from_dict(bert_analysis.to_dict())
    analysis.layers[1].recommendation = Recommendation("int4_group", "from a newer version")
    project.set_analysis(analysis)
    with pytest.raises(QuantvizError, match="int4_group"):
        project.apply_recommendations()
    assert project.plan.overrides == {}
    assert project.undo_stack.count() == 0


def test_replace_plan_round_trip(project):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("fp8_e4m3"))
    assert project.replace_plan(plan, "all INT8")
    assert set(formats(project)) == {"int8_sym/ch"}
    assert set(formats(project, "input")) == {"fp8_e4m3"}
    project.undo_stack.undo()
    assert set(formats(project)) == {"float"}
    assert project.plan.defaults == PrecisionPlan().defaults


def test_failed_edit_leaves_plan(project):
    before = PlanSnapshot.take(project.plan)

    def broken(plan):
        plan.set_layer(project.layer_names()[0], weight={"format": "fp8_e4m3"})
        raise QuantvizError("stop")

    with pytest.raises(QuantvizError):
        project.edit_plan("broken", broken)
    assert PlanSnapshot.take(project.plan).same_settings(before)
    assert project.undo_stack.count() == 0


def test_adopt_scales_undo(project, bert_model):
    from quantviz.apply import apply_plan

    name = project.layer_names()[0]
    project.set_precision([name], "weight", "int8_sym/ch")
    trained = project.plan_copy()
    with apply_plan(bert_model, trained):
        pass
    assert name in trained.scales
    assert project.adopt_scales(trained, "scales")
    assert project.plan.scales[name]["weight"] is trained.scales[name]["weight"]
    project.undo_stack.undo()
    assert name not in project.plan.scales


def test_scales_dropped_on_format_change(project, bert_model):
    from quantviz.apply import apply_plan

    name = project.layer_names()[0]
    project.set_precision([name], "weight", "int8_sym/ch")
    with apply_plan(bert_model, project.plan):
        pass
    assert name in project.plan.scales
    project.set_precision([name], "weight", "fp8_e4m3")
    assert name not in project.plan.scales
    project.undo_stack.undo()
    assert name in project.plan.scales
