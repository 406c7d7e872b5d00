"""Layer discovery on tiny random BERT, GPT-2 and Llama models and on plain torch modules."""

import json
import logging

import pytest
import torch
from torch import nn

from quantviz.errors import QuantvizError
from quantviz.model import LayerInfo, discover_layers, get_module, random_model

BERT_BLOCK = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
LLAMA_BLOCK = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)
GPT2_BLOCK = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def test_bert_layer_names(tiny_bert):
    expected = [f"encoder.layer.{i}.{suffix}" for i in range(2) for suffix in BERT_BLOCK]
    expected.append("pooler.dense")
    assert [layer.name for layer in tiny_bert.layers] == expected


def test_bert_linear_axes_and_params(tiny_bert):
    intermediate = tiny_bert.layer("encoder.layer.0.intermediate.dense")
    assert intermediate.kind == "linear"
    assert intermediate.weight_shape == (64, 32)
    assert intermediate.out_axis == 0
    assert intermediate.in_axis == 1
    assert intermediate.has_bias
    assert intermediate.num_params == 64 * 32 + 64
    assert intermediate.tied_to is None
    assert not intermediate.opt_in


def test_bert_embeddings_opt_in(tiny_bert):
    layers = discover_layers(tiny_bert.module, include_embeddings=True)
    embeddings = [layer for layer in layers if layer.kind == "embedding"]
    assert [layer.name for layer in embeddings] == [
        "embeddings.word_embeddings",
        "embeddings.position_embeddings",
        "embeddings.token_type_embeddings",
    ]
    assert all(layer.opt_in for layer in embeddings)
    assert embeddings[0].weight_shape == (tiny_bert.config.vocab_size, 32)
    assert len(layers) == len(tiny_bert.layers) + 3


def test_bert_has_no_lm_head(tiny_bert):
    layers = discover_layers(tiny_bert.module, include_lm_head=True)
    assert [layer.name for layer in layers] == [layer.name for layer in tiny_bert.layers]


def test_gpt2_conv1d_transposed(tiny_gpt2):
    names = [layer.name for layer in tiny_gpt2.layers]
    assert names == [f"transformer.h.{i}.{suffix}" for i in range(2) for suffix in GPT2_BLOCK]
    c_attn = tiny_gpt2.layer("transformer.h.0.attn.c_attn")
    assert c_attn.kind == "conv1d_gpt2"
    # Conv1D stores [in, out]: 32 inputs, 3 * 32 outputs for query, key and value.
    assert c_attn.weight_shape == (32, 96)
    assert c_attn.out_axis == 1
    assert c_attn.in_axis == 0
    assert c_attn.num_params == 32 * 96 + 96


def test_gpt2_out_axis_matches_output(tiny_gpt2):
    for layer in tiny_gpt2.layers:
        module = get_module(tiny_gpt2.module, layer.name)
        assert layer.weight_shape[layer.out_axis] == module.nf, layer.name


def test_gpt2_lm_head_tied(tiny_gpt2):
    layers = discover_layers(tiny_gpt2.module, include_lm_head=True)
    head = layers[-1]
    assert head.name == "lm_head"
    assert head.kind == "lm_head"
    assert head.tied_to == "transformer.wte"
    assert head.opt_in
    assert not head.has_bias


def test_llama_layer_names(tiny_llama):
    expected = [f"model.layers.{i}.{suffix}" for i in range(2) for suffix in LLAMA_BLOCK]
    assert [layer.name for layer in tiny_llama.layers] == expected
    assert {layer.kind for layer in tiny_llama.layers} == {"linear"}


def test_llama_grouped_kv_shapes(tiny_llama):
    # 4 query heads and 2 key/value heads of size 8.
    assert tiny_llama.layer("model.layers.0.self_attn.q_proj").weight_shape == (32, 32)
    assert tiny_llama.layer("model.layers.0.self_attn.k_proj").weight_shape == (16, 32)
    assert tiny_llama.layer("model.layers.0.mlp.down_proj").weight_shape == (32, 64)


def test_llama_tied_head_reported(tiny_llama, caplog):
    with caplog.at_level(logging.INFO, logger="quantviz.model.layers"):
        layers = discover_layers(tiny_llama.module, include_lm_head=True)
    head = [layer for layer in layers if layer.kind == "lm_head"]
    assert len(head) == 1
    assert head[0].tied_to == "model.embed_tokens"
    assert "lm_head shares its weight Parameter with model.embed_tokens" in caplog.text


def test_llama_tied_weight_listed_once(tiny_llama):
    layers = discover_layers(tiny_llama.module, include_embeddings=True, include_lm_head=True)
    names = [layer.name for layer in layers]
    assert "model.embed_tokens" in names
    assert "lm_head" not in names
    embedding = layers[names.index("model.embed_tokens")]
    assert embedding.tied_to == "lm_head"


def test_discovery_keeps_weights_tied(tiny_llama):
    discover_layers(tiny_llama.module, include_embeddings=True, include_lm_head=True)
    module = tiny_llama.module
    assert module.lm_head.weight is module.model.embed_tokens.weight


def test_untied_llama_head_not_tied():
    loaded = random_model("llama", tie_word_embeddings=False, include_lm_head=True)
    head = loaded.layer("lm_head")
    assert head.kind == "lm_head"
    assert head.tied_to is None


def test_skipped_head_logged(tiny_gpt2, caplog):
    with caplog.at_level(logging.INFO, logger="quantviz.model.layers"):
        discover_layers(tiny_gpt2.module)
    assert "skipping lm_head: the LM head is opt-in" in caplog.text
    assert "skipping transformer.wte: embeddings are opt-in" in caplog.text


def test_plain_convolutions_classified(caplog):
    model = nn.Sequential(
        nn.Conv1d(4, 8, kernel_size=3),
        nn.Conv2d(8, 16, kernel_size=3, bias=False),
        nn.ConvTranspose2d(16, 4, kernel_size=2),
        nn.LayerNorm(4),
        nn.Linear(4, 2),
    )
    with caplog.at_level(logging.INFO, logger="quantviz.model.layers"):
        layers = discover_layers(model)
    assert [(layer.name, layer.kind) for layer in layers] == [
        ("0", "conv1d"),
        ("1", "conv2d"),
        ("4", "linear"),
    ]
    assert layers[0].weight_shape == (8, 4, 3)
    assert layers[0].out_axis == 0
    assert layers[1].num_params == 16 * 8 * 3 * 3
    assert "skipping 2: module type ConvTranspose2d is not a supported layer type" in caplog.text
    assert "skipping 3" not in caplog.text


def test_discovery_names_stable(tiny_bert):
    first = discover_layers(tiny_bert.module)
    second = discover_layers(tiny_bert.module)
    assert first == second


def test_layer_names_resolve(tiny_bert):
    for layer in tiny_bert.layers:
        module = get_module(tiny_bert.module, layer.name)
        assert tuple(module.weight.shape) == layer.weight_shape, layer.name


def test_get_module_missing_name(tiny_bert):
    with pytest.raises(
        QuantvizError, match=r"no module named 'encoder\.layer\.0\.output\.dens'"
    ) as err:
        get_module(tiny_bert.module, "encoder.layer.0.output.dens")
    assert "encoder.layer.0.output.dense" in str(err.value)


def test_layer_lookup_unknown(tiny_bert):
    with pytest.raises(QuantvizError, match="no quantizable layer named 'pooler'"):
        tiny_bert.layer("pooler")


def test_layerinfo_json_roundtrip(tiny_gpt2):
    layers = discover_layers(tiny_gpt2.module, include_lm_head=True)
    restored = [LayerInfo.from_dict(json.loads(json.dumps(layer.to_dict()))) for layer in layers]
    assert restored == layers


def test_layerinfo_missing_key():
    with pytest.raises(QuantvizError, match="missing the keys weight_shape"):
        LayerInfo.from_dict(
            {"name": "fc", "kind": "linear", "out_axis": 0, "in_axis": 1, "num_params": 4}
        )


def test_layerinfo_unknown_kind():
    record = LayerInfo("fc", "linear", (2, 2), 0, 1, 4, False).to_dict()
    record["kind"] = "conv3d"
    with pytest.raises(QuantvizError, match="unknown kind 'conv3d'"):
        LayerInfo.from_dict(record)


def test_random_model_seeded():
    first = random_model("llama", seed=3)
    second = random_model("llama", seed=3)
    other = random_model("llama", seed=4)
    weight = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(first.module.state_dict()[weight], second.module.state_dict()[weight])
    assert not torch.equal(first.module.state_dict()[weight], other.module.state_dict()[weight])


def test_random_model_keeps_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    random_model("bert")
    assert torch.equal(torch.rand(3), expected)


def test_random_model_unknown_arch():
    with pytest.raises(QuantvizError, match="unknown random model architecture 'mamba'"):
        random_model("mamba")
