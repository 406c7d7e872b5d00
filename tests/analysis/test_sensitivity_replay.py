"""Sensitivity that replays the unchanged blocks equals the full recomputation."""

from unittest import mock

import pytest

from quantviz.analysis.evaluation import ReferenceTerms
from quantviz.analysis.sensitivity import BlockReplay, measure_sensitivity
from quantviz.model.calibration import calibrate
from quantviz.model.data import load_texts, make_batches
from quantviz.model.loading import random_model


@pytest.mark.parametrize(
    ("arch", "blocks"),
    [("llama", "model.layers"), ("gpt2", "transformer.h"), ("bert", "encoder.layer")],
)
def test_replay_matches_full_forward(arch, blocks):
    loaded = random_model(arch)
    batches = make_batches(loaded.tokenizer, load_texts(), seq_len=24, num_samples=2, batch_size=2)
    calibration = calibrate(loaded, batches)
    replay = BlockReplay.find(loaded.module)
    assert replay is not None
    assert replay.prefix == blocks
    later = [name for name in calibration.layers if replay.first_block(name) > 0]
    assert later, "no layer sits after the first block"

    fast = measure_sensitivity(loaded, calibration, batches)
    with (
        mock.patch.object(BlockReplay, "find", classmethod(lambda cls, model: None)),
        mock.patch.object(ReferenceTerms, "of", classmethod(lambda cls, ref, batch: None)),
    ):
        full = measure_sensitivity(loaded, calibration, batches)

    assert fast.keys() == full.keys()
    for name in full:
        assert fast[name] == full[name], name
    # The model's forwards are its own again afterwards.
    assert all("forward" not in vars(block) for block in replay.blocks)


def test_first_block_of_layers():
    loaded = random_model("llama")
    replay = BlockReplay.find(loaded.module)
    assert replay.first_block("model.layers.1.mlp.down_proj") == 1
    assert replay.first_block("model.layers.0.self_attn.q_proj") == 0
    assert replay.first_block("lm_head") == 0
