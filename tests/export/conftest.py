"""Fixtures for the ONNX export tests: tiny models of each architecture."""

import pytest

from quantviz.model.loading import random_model


@pytest.fixture(scope="module")
def bert():
    """A random 2-layer BertModel owned by this test module (export tests wrap it in place)."""
    return random_model("bert", seed=1)


@pytest.fixture(scope="module")
def gpt2():
    """A random 2-layer GPT-2 with Conv1D weights, owned by this test module."""
    return random_model("gpt2", seed=1)


@pytest.fixture(scope="module")
def llama():
    """A random 2-layer Llama with a tied LM head, owned by this test module."""
    return random_model("llama", seed=1)
