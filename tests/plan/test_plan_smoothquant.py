import pytest
import torch

from quantviz.analysis.evaluation import model_output
from quantviz.apply import apply_plan
from quantviz.errors import QuantvizError
from quantviz.evaluate import PlanEvaluator
from quantviz.model import load_texts, make_batches, random_model
from quantviz.plan import LayerConfig, LayerOverride, PrecisionPlan, Rule, TensorConfig
from quantviz.smoothquant import (
    FACTOR_MAX,
    FACTOR_MIN,
    find_norm_groups,
    fold_smoothing_into_norms,
    smoothing_factors,
    update_smoothing,
)

SMOOTH_ONLY = PrecisionPlan(defaults=LayerConfig(smoothquant_alpha=0.5))


def batches_for(loaded, count=4):
    return make_batches(loaded.tokenizer, load_texts(), seq_len=16, num_samples=count, batch_size=2)


def relative_error(reference, output):
    return float((output - reference).abs().max() / reference.abs().max())


def test_llama_groups_traced(tiny_llama):
    groups = {group.norm: group.layers for group in find_norm_groups(tiny_llama)}
    assert groups["model.layers.0.input_layernorm"] == [
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.k_proj",
        "model.layers.0.self_attn.v_proj",
    ]
    assert groups["model.layers.1.post_attention_layernorm"] == [
        "model.layers.1.mlp.gate_proj",
        "model.layers.1.mlp.up_proj",
    ]
    assert len(groups) == 4
    fed = {name for layers in groups.values() for name in layers}
    assert "model.layers.0.self_attn.o_proj" not in fed
    assert "model.layers.0.mlp.down_proj" not in fed


def test_bert_groups_follow_previous_block(tiny_bert):
    groups = {group.norm: group.layers for group in find_norm_groups(tiny_bert)}
    assert groups["embeddings.LayerNorm"] == [
        "encoder.layer.0.attention.self.query",
        "encoder.layer.0.attention.self.key",
        "encoder.layer.0.attention.self.value",
    ]
    assert groups["encoder.layer.0.output.LayerNorm"][0] == "encoder.layer.1.attention.self.query"
    assert groups["encoder.layer.0.attention.output.LayerNorm"] == [
        "encoder.layer.0.intermediate.dense"
    ]


def test_gpt2_groups_traced(tiny_gpt2):
    groups = {group.norm: group.layers for group in find_norm_groups(tiny_gpt2)}
    assert groups["transformer.h.0.ln_1"] == ["transformer.h.0.attn.c_attn"]
    assert groups["transformer.h.1.ln_2"] == ["transformer.h.1.mlp.c_fc"]


def test_factor_formula_and_guards():
    activation = torch.tensor([4.0, 0.0, 1.0, 1e12, 1.0])
    weight = torch.tensor([1.0, 2.0, 0.0, 1.0, 1e-12])
    factors = smoothing_factors(activation, weight, alpha=0.5)
    assert factors[0] == pytest.approx(2.0)
    assert factors[1] == 1.0  # dead activation channel
    assert factors[2] == 1.0  # dead weight channel
    assert factors[3] == FACTOR_MAX
    assert factors[4] == FACTOR_MAX
    assert smoothing_factors(torch.tensor([1e-12]), torch.tensor([1e12]), 0.5)[0] == FACTOR_MIN
    assert smoothing_factors(torch.tensor([9.0]), torch.tensor([3.0]), 1.0)[0] == pytest.approx(9.0)
    with pytest.raises(QuantvizError, match="differ"):
        smoothing_factors(torch.ones(3), torch.ones(4), 0.5)


@pytest.mark.parametrize("arch", ["llama", "bert", "gpt2"])
def test_smoothing_alone_keeps_function(arch):
    model = random_model(arch)
    batches = batches_for(model)
    reference = model_output(model, batches[0])
    plan = SMOOTH_ONLY.copy()
    with apply_plan(model, plan, batches) as applied:
        output = model_output(model, batches[0])
        wrapped = set(applied.wrappers)
    assert wrapped == set(plan.smoothing)
    assert len(plan.smoothing) > 0
    assert relative_error(reference, output) < 1e-5
    factors = torch.tensor(next(iter(plan.smoothing.values())))
    assert float(factors.max() / factors.min()) > 1.01


def test_one_factor_vector_per_norm(tiny_llama):
    plan = SMOOTH_ONLY.copy()
    update_smoothing(tiny_llama, plan, batches_for(tiny_llama))
    q = plan.smoothing["model.layers.0.self_attn.q_proj"]
    assert plan.smoothing["model.layers.0.self_attn.k_proj"] == q
    assert plan.smoothing["model.layers.0.self_attn.v_proj"] == q
    assert plan.smoothing["model.layers.0.mlp.gate_proj"] != q
    assert "model.layers.0.mlp.down_proj" not in plan.smoothing


def test_factors_match_formula(tiny_llama):
    batches = batches_for(tiny_llama)
    attention = tiny_llama.module.model.layers[0].self_attn
    norm = tiny_llama.module.model.layers[0].input_layernorm
    seen = []
    handle = norm.register_forward_hook(lambda module, args, output: seen.append(output))
    with torch.inference_mode():
        for batch in batches:
            tiny_llama.module(**batch)
    handle.remove()
    activation = torch.stack([x.abs().amax(dim=(0, 1)) for x in seen]).amax(dim=0)
    weights = [attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight]
    weight = torch.stack([w.detach().abs().amax(dim=0) for w in weights]).amax(dim=0)
    expected = activation.pow(0.3) / weight.pow(0.7)
    plan = PrecisionPlan(defaults=LayerConfig(smoothquant_alpha=0.3))
    update_smoothing(tiny_llama, plan, batches)
    factors = torch.tensor(plan.smoothing["model.layers.0.self_attn.k_proj"])
    assert torch.allclose(factors, expected, rtol=1e-5)


def test_alpha_per_layer_and_off(tiny_llama):
    plan = PrecisionPlan(
        defaults=LayerConfig(smoothquant_alpha=0.5),
        rules=[Rule("*.mlp.*", LayerOverride(smoothquant_alpha=0.9))],
        overrides={"model.layers.1.self_attn.q_proj": LayerOverride(smoothquant_off=True)},
    )
    report = update_smoothing(tiny_llama, plan, batches_for(tiny_llama))
    assert report.computed["model.layers.0.mlp.up_proj"] == 0.9
    assert report.computed["model.layers.0.self_attn.q_proj"] == 0.5
    assert "model.layers.1.self_attn.q_proj" not in plan.smoothing
    assert "model.layers.0.mlp.down_proj" in report.not_norm_fed
    up = torch.tensor(plan.smoothing["model.layers.0.mlp.up_proj"])
    q = torch.tensor(plan.smoothing["model.layers.0.self_attn.q_proj"])
    assert float(up.max() / up.min()) > float(q.max() / q.min())


def test_alpha_change_recomputes(tiny_llama):
    batches = batches_for(tiny_llama)
    plan = SMOOTH_ONLY.copy()
    with apply_plan(tiny_llama, plan, batches):
        pass
    name = "model.layers.0.self_attn.q_proj"
    before = list(plan.smoothing[name])
    plan.defaults = LayerConfig(smoothquant_alpha=0.8)
    with pytest.raises(QuantvizError, match="pass calibration batches"):
        apply_plan(tiny_llama, plan, None)
    update_smoothing(tiny_llama, plan, batches)
    assert plan.smoothing[name] != before
    assert plan.smoothing_alpha[name] == 0.8
    plan.defaults = LayerConfig()
    report = update_smoothing(tiny_llama, plan, None)
    assert name in report.removed
    assert plan.smoothing == {}


def test_stored_factors_reused(tiny_llama):
    plan = SMOOTH_ONLY.copy()
    update_smoothing(tiny_llama, plan, batches_for(tiny_llama))
    stored = dict(plan.smoothing)
    report = update_smoothing(tiny_llama, plan, None)
    assert report.computed == {}
    assert plan.smoothing == stored


def test_fold_llama_into_norms():
    model = random_model("llama")
    batches = batches_for(model)
    reference = model_output(model, batches[0])
    norm_before = model.module.model.layers[0].input_layernorm.weight.detach().clone()
    plan = PrecisionPlan(
        defaults=LayerConfig(TensorConfig("int8_sym", "channel"), TensorConfig(), 0.5)
    )
    with apply_plan(model, plan, batches):
        quantized = model_output(model, batches[0])
    folded = fold_smoothing_into_norms(model, plan)
    assert folded.smoothing == {}
    assert folded.defaults.smoothquant_alpha is None
    assert folded.scales.keys() == plan.scales.keys()
    assert relative_error(reference, model_output(model, batches[0])) < 1e-5
    factors = torch.tensor(plan.smoothing["model.layers.0.self_attn.q_proj"])
    norm_after = model.module.model.layers[0].input_layernorm.weight.detach()
    assert torch.allclose(norm_after * factors, norm_before, rtol=1e-5)
    # The folded model with the folded plan computes what the smoothed plan computed.
    with apply_plan(model, folded, batches):
        again = model_output(model, batches[0])
    assert relative_error(quantized, again) < 1e-4


def test_fold_bert_keeps_residual_norms():
    model = random_model("bert")
    batches = batches_for(model)
    reference = model_output(model, batches[0])
    state = {k: v.clone() for k, v in model.module.state_dict().items()}
    plan = SMOOTH_ONLY.copy()
    folded = fold_smoothing_into_norms(model, plan, batches)
    # Every BERT norm output also feeds a residual connection, so nothing can be folded.
    fed = {name for group in find_norm_groups(model) for name in group.layers}
    assert set(folded.smoothing) == fed
    assert len(fed) == 8
    assert plan.smoothing == {}  # the plan passed in is left as it was
    assert folded.smoothing_alpha == {}
    assert all(torch.equal(state[k], v) for k, v in model.module.state_dict().items())
    with apply_plan(model, folded, batches):
        assert relative_error(reference, model_output(model, batches[0])) < 1e-5


@pytest.mark.slow
def test_smoothquant_raises_minilm_w8a8(minilm):
    calib = make_batches(minilm.tokenizer, load_texts(), seq_len=128, num_samples=4, batch_size=4)
    evaluator = PlanEvaluator(minilm, calib_batches=calib, samples=24, batch_size=12)
    weight, inputs = TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym")
    plain = evaluator.evaluate(PrecisionPlan(defaults=LayerConfig(weight, inputs)))
    smoothed = evaluator.evaluate(PrecisionPlan(defaults=LayerConfig(weight, inputs, 0.5)))
    assert smoothed.mean_cosine > plain.mean_cosine
    assert smoothed.loss < 0.85 * plain.loss
