"""Shared fixtures. The environment variables are set before anything imports transformers.

HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE make any hub access fail at once instead of reaching
the network, so a test that names a hub id gets the offline error.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from quantviz.model import LoadedModel, load_model, random_model


# The session-scoped models are shared by every test: a test that changes weights or
# layers must build its own model with random_model() instead.
@pytest.fixture(scope="session")
def minilm() -> LoadedModel:
    """The all-MiniLM-L6-v2 sample (6-layer BERT encoder), loaded as a user would load it."""
    return load_model("sample:minilm")


@pytest.fixture(scope="session")
def tiny_bert() -> LoadedModel:
    """A random 2-layer BertModel, hidden size 32."""
    return random_model("bert")


@pytest.fixture(scope="session")
def tiny_gpt2() -> LoadedModel:
    """A random 2-layer GPT2LMHeadModel with Conv1D weights and a tied LM head."""
    return random_model("gpt2")


@pytest.fixture(scope="session")
def tiny_llama() -> LoadedModel:
    """A random 2-layer LlamaForCausalLM with a tied LM head."""
    return random_model("llama")
