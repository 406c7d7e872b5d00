import json
import math

import pytest
import torch

from quantviz.apply import apply_plan
from quantviz.errors import Cancelled, QuantvizError
from quantviz.evaluate import (
    EvaluationResult,
    PlanEvaluator,
    evaluate_plan,
    plan_size,
    plan_size_bytes,
    sentence_batches,
    sentence_units,
    split_sentences,
)
from quantviz.model import load_texts, make_batches
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan
from quantviz.progress import CancelToken
from quantviz.quant.modules import QuantizedLayer

W8A8 = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))


def small_calibration(loaded):
    return make_batches(loaded.tokenizer, load_texts(), seq_len=16, num_samples=4, batch_size=4)


def assert_restored(loaded, before):
    assert not any(isinstance(m, QuantizedLayer) for m in loaded.module.modules())
    after = loaded.module.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_evaluate_causal_lm_metrics(tiny_llama):
    before = {k: v.clone() for k, v in tiny_llama.module.state_dict().items()}
    plan = W8A8.copy()
    result = evaluate_plan(
        tiny_llama, plan, calib_batches=small_calibration(tiny_llama), samples=4, seq_len=32
    )
    assert result.task == "causal_lm"
    assert result.sequences == 4
    assert result.tokens == 4 * 32
    assert result.kl > 0
    assert math.isfinite(result.perplexity_float)
    expected = result.perplexity_quant / result.perplexity_float - 1
    assert result.perplexity_change == pytest.approx(expected, rel=1e-9)
    assert result.mean_cosine is None
    assert result.size.share_8bit == 1.0
    assert set(plan.scales) == {info.name for info in tiny_llama.layers}
    assert_restored(tiny_llama, before)


def test_float_plan_changes_nothing(tiny_gpt2):
    result = evaluate_plan(
        tiny_gpt2, PrecisionPlan(), calib_batches=small_calibration(tiny_gpt2), samples=2
    )
    assert result.kl == pytest.approx(0.0, abs=1e-12)
    assert result.perplexity_change == pytest.approx(0.0, abs=1e-12)
    assert result.size.plan_bytes == result.size.float_bytes
    assert result.size.share_8bit == 0.0


def test_result_json_round_trip(tiny_llama):
    result = evaluate_plan(
        tiny_llama, W8A8.copy(), calib_batches=small_calibration(tiny_llama), samples=2
    )
    data = json.loads(json.dumps(result.to_dict()))
    restored = EvaluationResult.from_dict(data)
    assert restored.to_dict() == result.to_dict()
    assert restored.size.share_8bit == 1.0
    with pytest.raises(QuantvizError, match="incomplete"):
        EvaluationResult.from_dict({"task": "causal_lm"})


def test_cancel_restores_model(tiny_llama):
    before = {k: v.clone() for k, v in tiny_llama.module.state_dict().items()}
    token = CancelToken()
    stages = []

    def progress(event):
        stages.append(event.stage)
        if event.stage == "evaluation":
            token.cancel()

    with pytest.raises(Cancelled):
        evaluate_plan(
            tiny_llama,
            W8A8.copy(),
            calib_batches=small_calibration(tiny_llama),
            samples=4,
            progress=progress,
            cancel=token,
        )
    assert "calibration" in stages
    assert_restored(tiny_llama, before)


def test_error_restores_model(tiny_llama):
    before = {k: v.clone() for k, v in tiny_llama.module.state_dict().items()}
    with pytest.raises(QuantvizError, match="pass calibration batches"):
        evaluate_plan(tiny_llama, W8A8.copy(), calib_batches=[], samples=2)
    assert_restored(tiny_llama, before)


def test_uncached_references_match_cached(tiny_llama):
    evaluator = PlanEvaluator(
        tiny_llama, calib_batches=small_calibration(tiny_llama), samples=2, seq_len=16
    )
    cached = evaluator.evaluate(W8A8.copy())
    evaluator._cache_references = lambda: False
    recomputed = evaluator.evaluate(W8A8.copy())
    assert recomputed.kl == pytest.approx(cached.kl, rel=1e-9)
    assert recomputed.perplexity_change == pytest.approx(cached.perplexity_change, rel=1e-9)


def test_size_counts_formats(tiny_llama):
    module = tiny_llama.module
    unique = list(module.parameters())
    float_bytes = 4 * sum(p.numel() for p in unique)
    # The tied LM head shares the embedding Parameter, so the state dict holds it twice.
    assert float_bytes < 4 * sum(t.numel() for t in module.state_dict().values())
    weights = {info.name: info for info in tiny_llama.layers}
    saved = sum(
        3 * math.prod(info.weight_shape) - 4 * info.weight_shape[info.out_axis]
        for info in weights.values()
    )
    size = plan_size(tiny_llama, W8A8)
    assert size.float_bytes == float_bytes
    assert size.plan_bytes == float_bytes - saved
    assert plan_size_bytes(tiny_llama, W8A8) == size.plan_bytes
    assert (
        size.params_8bit
        == size.params_total
        == sum(math.prod(i.weight_shape) for i in weights.values())
    )


def test_size_groups_and_zero_points(tiny_llama):
    name = "model.layers.0.mlp.down_proj"
    info = tiny_llama.layer(name)
    out_channels, in_channels = info.weight_shape
    plan = PrecisionPlan()
    plan.set_layer(name, weight={"format": "int8_sym", "granularity": "group", "group_size": 16})
    grouped = plan_size(tiny_llama, plan)
    elements = out_channels * in_channels
    groups = out_channels * in_channels // 16
    assert grouped.float_bytes - grouped.plan_bytes == 4 * elements - (elements + 4 * groups)
    assert grouped.layers_weight_8bit == 1
    assert grouped.layers_8bit == 0
    plan.set_layer(name, weight={"format": "int8_asym", "granularity": "tensor"})
    asym = plan_size(tiny_llama, plan)
    assert asym.float_bytes - asym.plan_bytes == 4 * elements - (elements + 8)


def test_size_ignores_learnable_scales(tiny_llama):
    batches = small_calibration(tiny_llama)
    plan = W8A8.copy()
    expected = plan_size(tiny_llama, plan)
    with apply_plan(tiny_llama, plan, batches, learnable=True):
        assert plan_size(tiny_llama, plan) == expected


def test_sentence_units_split_text():
    texts = ["One. Two is here! Three? Yes.", "Alone."]
    assert split_sentences(texts) == ["One.", "Two is here!", "Three?", "Yes.", "Alone."]
    units = sentence_units(texts)
    assert units[:5] == ["One.", "Two is here!", "Three?", "Yes.", "Alone."]
    assert "One. Two is here!" in units
    assert "One. Two is here! Three? Yes." in units
    assert len(units) == 5 + 3 + 1


def test_sentence_batches_pad_with_mask(tiny_bert):
    texts = ["Short one.", "A much longer sentence with quite a few more words in it."]
    batches = sentence_batches(tiny_bert.tokenizer, texts, seq_len=8, batch_size=2)
    mask = batches[0]["attention_mask"]
    assert batches[0]["input_ids"].shape == (2, 8)
    assert int(mask[0].sum()) < 8
    assert int(mask[1].sum()) == 8
    with pytest.raises(QuantvizError, match="no evaluation text"):
        sentence_batches(tiny_bert.tokenizer, ["  "], seq_len=8)


def test_evaluate_encoder_cosine(tiny_bert):
    result = evaluate_plan(
        tiny_bert, W8A8.copy(), calib_batches=small_calibration(tiny_bert), samples=10
    )
    assert result.task == "encoder"
    assert result.sequences == 10
    assert 0.9 < result.mean_cosine < 1.0
    assert result.min_cosine <= result.mean_cosine
    assert result.loss == pytest.approx(1 - result.mean_cosine)
    assert result.perplexity_change is None


@pytest.mark.slow
def test_minilm_w8_fp8_meets_cosine(minilm):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("fp8_e4m3"))
    result = evaluate_plan(minilm, plan, samples=32, batch_size=16)
    assert result.sequences == 32
    assert result.mean_cosine > 0.997
    assert result.min_cosine > 0.99
    assert result.size.plan_bytes < 0.7 * result.size.float_bytes


@pytest.mark.slow
def test_clipping_helps_outlier_layer(minilm):
    # MiniLM's FFN down projections (output.dense) read GELU outputs with a long tail.
    layer = "encoder.layer.1.output.dense"
    calib = make_batches(minilm.tokenizer, load_texts(), seq_len=128, num_samples=8, batch_size=8)
    evaluator = PlanEvaluator(minilm, calib_batches=calib, samples=32, batch_size=16)
    losses = {}
    scales = {}
    for observer in ("minmax", "mse", "percentile"):
        plan = PrecisionPlan()
        plan.set_layer(layer, input={"format": "int8_sym", "observer": observer})
        losses[observer] = evaluator.evaluate(plan).loss
        scales[observer] = float(plan.scales[layer]["input"].scale)
    assert scales["mse"] < scales["minmax"]
    assert scales["percentile"] < scales["minmax"]
    assert losses["mse"] < 0.7 * losses["minmax"]
    assert losses["percentile"] < 0.8 * losses["minmax"]
