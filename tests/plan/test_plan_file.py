import copy
import json
import math

import pytest
import torch

from quantviz.apply import apply_plan
from quantviz.errors import QuantvizError
from quantviz.model import load_texts, make_batches
from quantviz.plan import (
    LayerConfig,
    LayerOverride,
    PrecisionPlan,
    Rule,
    TensorConfig,
    uniform_plan,
)
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import QuantSpec


def full_plan() -> PrecisionPlan:
    plan = uniform_plan(
        TensorConfig("int8_sym", "channel"),
        TensorConfig("fp8_e4m3", observer="percentile", observer_settings={"percentile": 99.9}),
        notes="round trip",
        model={"spec": "sample:minilm"},
    )
    plan.defaults = LayerConfig(plan.defaults.weight, plan.defaults.input, 0.5)
    plan.rules.append(Rule("*.mlp.*", LayerOverride(smoothquant_alpha=0.8)))
    plan.rules.append(Rule("*.down_proj", LayerOverride(input={"format": "float"})))
    plan.overrides["a.b"] = LayerOverride(
        weight={"format": "int8_sym", "granularity": "group", "group_size": 32},
        smoothquant_off=True,
    )
    spec = QuantSpec("int8", granularity="channel", axis=0)
    plan.scales["a.b"] = {
        "weight": QParams(torch.tensor([0.5, 0.25]), torch.zeros(2, dtype=torch.int32), spec)
    }
    plan.smoothing["a.b"] = [1.0, 2.0]
    plan.smoothing_alpha["a.b"] = 0.5
    return plan


def test_plan_round_trip(tmp_path):
    plan = full_plan()
    path = plan.save(tmp_path / "plan.json")
    loaded = PrecisionPlan.load(path)
    assert loaded.to_dict() == plan.to_dict()
    assert loaded.resolve("x.mlp.up").smoothquant_alpha == 0.8
    assert loaded.resolve("a.b").smoothquant_alpha is None
    assert loaded.resolve("a.b").weight.group_size == 32
    assert loaded.resolve("x.down_proj").input.format == "float"
    assert torch.equal(loaded.scales["a.b"]["weight"].scale, torch.tensor([0.5, 0.25]))


def test_override_null_alpha_written_as_null():
    data = full_plan().to_dict()
    assert data["overrides"]["a.b"]["smoothquant_alpha"] is None
    assert "smoothquant_alpha" not in data["rules"][1]


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


BAD_SCALE = {
    "spec": {"format": "int8", "granularity": "tensor"},
    "shape": [],
    "scale": [0.0],
    "zero_point": [0],
}
NAN_SCALE = {**BAD_SCALE, "scale": [math.nan]}

# (change, text the message must contain, value the message must name)
INVALID = {
    "format": (_set(["defaults", "weight", "format"], "int4"), "defaults.weight.format", "int4"),
    "granularity": (
        _set(["defaults", "input", "granularity"], "row"),
        "defaults.input.granularity",
        "row",
    ),
    "observer": (
        _set(["defaults", "input", "observer"], "best"),
        "defaults.input.observer",
        "best",
    ),
    "group_size_zero": (
        _set(
            ["defaults", "weight"], {"format": "int8_sym", "granularity": "group", "group_size": 0}
        ),
        "defaults.weight.group_size",
        "0",
    ),
    "group_size_string": (
        _set(
            ["defaults", "weight"],
            {"format": "int8_sym", "granularity": "group", "group_size": "8"},
        ),
        "defaults.weight.group_size",
        "'8'",
    ),
    "alpha_negative": (
        _set(["defaults", "smoothquant_alpha"], -0.5),
        "defaults.smoothquant_alpha",
        "-0.5",
    ),
    "alpha_above_one": (
        _set(["rules"], [{"pattern": "*", "smoothquant_alpha": 1.5}]),
        "rules[0].smoothquant_alpha",
        "1.5",
    ),
    "alpha_bool": (_set(["defaults", "smoothquant_alpha"], True), "smoothquant_alpha", "True"),
    "unknown_top_key": (_set(["colour"], "red"), "unknown field", "colour"),
    "unknown_defaults_key": (_set(["defaults", "bits"], 8), "defaults", "bits"),
    "unknown_tensor_key": (_set(["defaults", "weight", "axis"], 0), "defaults.weight", "axis"),
    "rules_type": (_set(["rules"], {"pattern": "*"}), "rules", "{'pattern': '*'}"),
    "rule_item_type": (_set(["rules"], [7]), "rules[0]", "7"),
    "rule_pattern": (_set(["rules"], [{"pattern": ""}]), "rules[0].pattern", "''"),
    "overrides_type": (_set(["overrides"], ["a"]), "overrides", "['a']"),
    "override_pattern": (_set(["overrides"], {"a": {"pattern": "*"}}), "overrides['a']", "pattern"),
    "format_type": (_set(["defaults", "weight", "format"], 8), "defaults.weight.format", "8"),
    "notes_type": (_set(["notes"], 5), "notes", "5"),
    "model_type": (_set(["model"], "minilm"), "model", "'minilm'"),
    "scale_zero": (_set(["scales"], {"l": {"weight": BAD_SCALE}}), "scales['l']['weight']", "0.0"),
    "scale_nan": (_set(["scales"], {"l": {"input": NAN_SCALE}}), "scales['l']['input']", "nan"),
    "scale_missing_field": (
        _set(["scales"], {"l": {"weight": {"spec": {"format": "int8"}}}}),
        "scales['l']['weight']",
        "shape",
    ),
    "scale_role": (_set(["scales"], {"l": {"bias": BAD_SCALE}}), "scales['l']", "'bias'"),
    "smoothing_zero": (_set(["smoothing"], {"l": [1.0, 0.0]}), "smoothing['l'][1]", "0.0"),
    "newer_version": (_set(["version"], 2), "version 2", "newer"),
    "version_string": (_set(["version"], "1"), "version", "'1'"),
    "observer_settings": (
        _set(
            ["defaults", "input"],
            {"format": "int8_sym", "observer": "percentile", "observer_settings": {"pct": 9}},
        ),
        "defaults.input.observer",
        "pct",
    ),
    "observer_setting_value": (
        _set(
            ["defaults", "input"],
            {
                "format": "int8_sym",
                "observer": "percentile",
                "observer_settings": {"percentile": 10},
            },
        ),
        "defaults.input.observer",
        "10",
    ),
    "entropy_per_channel": (
        _set(
            ["defaults", "weight"],
            {"format": "int8_sym", "granularity": "channel", "observer": "entropy"},
        ),
        "defaults.weight.observer",
        "entropy",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_field_named(case, tmp_path):
    change, where, value = INVALID[case]
    data = copy.deepcopy(
        uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig()).to_dict()
    )
    change(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(QuantvizError) as error:
        PrecisionPlan.load(path)
    message = str(error.value)
    assert where in message
    assert value in message
    assert str(path) in message


def test_non_object_json_rejected(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("[1, 2]")
    with pytest.raises(QuantvizError, match="must be a JSON object; got list"):
        PrecisionPlan.load(path)


def test_truncated_json_rejected(tmp_path):
    text = json.dumps(full_plan().to_dict())
    path = tmp_path / "plan.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(QuantvizError, match="not valid JSON") as error:
        PrecisionPlan.load(path)
    assert str(path) in str(error.value)


def test_unknown_layers_reported():
    plan = PrecisionPlan()
    plan.set_layer("model.layers.0.mlp.up_proj", weight={"format": "int8_sym"})
    plan.set_layer("missing.layer", weight={"format": "int8_sym"})
    plan.rules.append(Rule("*.nothing", LayerOverride(weight={"format": "float"})))
    plan.rules.append(Rule("*.up_proj", LayerOverride(weight={"format": "float"})))
    problems = plan.unknown_layers(["model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"])
    assert problems == ["override 'missing.layer'", "rule '*.nothing' (matches no layer)"]


def test_failed_save_keeps_old_file(tmp_path):
    path = full_plan().save(tmp_path / "plan.json")
    before = path.read_bytes()
    broken = full_plan()
    broken.smoothing["x"] = [math.nan]  # JSON without NaN cannot hold it
    with pytest.raises(ValueError):
        broken.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_programmatic_alpha_checked():
    with pytest.raises(QuantvizError, match="between 0 and 1; got 2"):
        LayerConfig(smoothquant_alpha=2)
    with pytest.raises(QuantvizError, match="contradict"):
        LayerOverride(smoothquant_alpha=0.5, smoothquant_off=True)


def test_set_layer_drops_stale_scales():
    plan = full_plan()
    plan.set_layer("a.b", input={"format": "int8_sym"})
    assert "a.b" not in plan.scales
    assert plan.resolve("a.b").smoothquant_alpha is None


def test_weight_int8_input_fp8_mixed(tiny_llama):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("fp8_e4m3"))
    batches = make_batches(
        tiny_llama.tokenizer, load_texts(), seq_len=16, num_samples=2, batch_size=2
    )
    with apply_plan(tiny_llama, plan, batches) as applied:
        wrapper = applied.wrappers["model.layers.0.mlp.down_proj"]
        weight_spec = wrapper.weight_quantizer.spec
        input_spec = wrapper.input_quantizer.spec
    assert weight_spec.format.name == "int8"
    assert weight_spec.granularity == "channel"
    assert weight_spec.axis == 0
    assert input_spec.format.name == "fp8_e4m3fn"
    assert input_spec.granularity == "tensor"
    stored = PrecisionPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    roles = stored.scales["model.layers.0.mlp.down_proj"]
    assert roles["weight"].scale.shape == (
        tiny_llama.layer("model.layers.0.mlp.down_proj").weight_shape[0],
    )
    assert roles["input"].spec.format.name == "fp8_e4m3fn"


def test_int8_weights_narrow_inputs_full_range():
    config = TensorConfig("int8_sym")
    assert config.spec(0).qmin == -127
    assert config.input_spec().qmin == -128
    assert config.input_spec().qmax == 127
    assert config.input_spec().axis is None


def test_int8_input_spec_channel_axis_last():
    assert TensorConfig("int8_sym", "channel").input_spec().axis == -1
    assert TensorConfig("float").input_spec() is None
