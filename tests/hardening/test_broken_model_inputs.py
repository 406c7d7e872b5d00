"""Broken model, calibration and plan files: each gives a QuantvizError naming the file.

tests/model/test_loading.py already covers a missing config.json, config.json that is
not JSON or has an unknown or missing model_type, truncated safetensors files, a header
that is not JSON, truncated pickles and the SmolLM2 GGUF cut short. These tests add
config values of the wrong type and structurally broken safetensors headers. They cut a
small GGUF file at every offset and change random bytes in it, run a full analysis on
non-finite and all-zero weights, and check the same failures through the CLI.
"""

from __future__ import annotations

import json
import math
import struct
import warnings
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from quantviz.analysis.pipeline import AnalysisSettings, ModelAnalysis, analyze_model
from quantviz.cli import main
from quantviz.errors import QuantvizError, QuantvizWarning
from quantviz.model import (
    iter_safetensors_weights,
    load_model,
    random_model,
    safetensors_layer_shapes,
)

SMALL_ANALYSIS = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)


def edit_config(folder: Path, **changes) -> Path:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "config.json"


# --- config.json ----------------------------------------------------------------------------

# (changes to config.json, text the message must contain)
BAD_CONFIGS = {
    "model_type_list": ({"model_type": ["bert"]}, "model_type=['bert']; it must be a string"),
    "model_type_number": ({"model_type": 5}, "model_type=5; it must be a string"),
    "architectures_string": ({"architectures": "BertModel"}, "architectures='BertModel'"),
    "architectures_numbers": ({"architectures": [5]}, "architectures=[5]"),
    "hidden_size_string": ({"hidden_size": "32"}, "hidden_size"),
    "layers_string": ({"num_hidden_layers": "2"}, "num_hidden_layers"),
    "zero_heads": ({"num_attention_heads": 0}, "ZeroDivisionError"),
    "negative_hidden_size": ({"hidden_size": -32}, "negative dimension"),
    "heads_not_dividing": ({"num_attention_heads": 3}, "not a multiple"),
    "hidden_size_mismatch": ({"hidden_size": 64, "num_attention_heads": 2}, "mismatched"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_value_named(bert_copy, case):
    changes, expected = BAD_CONFIGS[case]
    edit_config(bert_copy, **changes)
    with pytest.raises(QuantvizError) as error:
        load_model(str(bert_copy))
    assert expected in str(error.value)
    assert str(bert_copy) in str(error.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is not valid JSON"),
        (b"\x00\xff\xfe binary", "is not a UTF-8 text file"),
        (b"[1, 2]", "must contain a JSON object, not list"),
        (b'"bert"', "must contain a JSON object, not str"),
    ],
    ids=["empty", "binary", "list", "string"],
)
def test_config_file_not_object(bert_copy, content, expected):
    (bert_copy / "config.json").write_bytes(content)
    with pytest.raises(QuantvizError, match=expected) as error:
        load_model(str(bert_copy))
    assert str(bert_copy / "config.json") in str(error.value)


def test_bad_config_cli_no_traceback(bert_copy, tmp_path, capsys):
    edit_config(bert_copy, num_attention_heads=0)
    code = main(["analyze", str(bert_copy), "--out", str(tmp_path / "out"), "-q"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: the model in")
    assert "Traceback" not in captured.err


# --- safetensors headers --------------------------------------------------------------------


def write_with_header(path: Path, header: dict, body: bytes) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory) -> tuple[dict, bytes]:
    """The header and data of a file with one 4x8 float32 weight."""
    path = tmp_path_factory.mktemp("weights") / "w.safetensors"
    save_file({"a.weight": torch.randn(4, 8)}, path)
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


ENTRY = {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}
# (header, text the message must contain)
BAD_HEADERS = {
    "shape_strings": ({"a.weight": ENTRY | {"shape": ["x", 8]}}, "has the shape ['x', 8]"),
    "shape_negative": ({"a.weight": ENTRY | {"shape": [-4, -8]}}, "has the shape [-4, -8]"),
    "shape_number": ({"a.weight": ENTRY | {"shape": 5}}, "has the shape 5"),
    "shape_missing": ({"a.weight": {"dtype": "F32", "data_offsets": [0, 128]}}, "shape None"),
    "entry_list": ({"a.weight": [1, 2]}, "has no valid data_offsets"),
    "offsets_missing": ({"a.weight": {"dtype": "F32", "shape": [4, 8]}}, "data_offsets"),
    "offsets_past_end": ({"a.weight": ENTRY | {"data_offsets": [0, 4096]}}, "is truncated"),
    "dtype_unknown": ({"a.weight": ENTRY | {"dtype": "F99"}}, "could not be read"),
    "offsets_reversed": ({"a.weight": ENTRY | {"data_offsets": [128, 0]}}, "could not be read"),
    "size_mismatch": ({"a.weight": ENTRY | {"data_offsets": [0, 64]}}, "could not be read"),
    "overlapping": ({"a.weight": ENTRY, "b.weight": ENTRY}, "could not be read"),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_safetensors_header_named(small_weights, tmp_path, case):
    header, expected = BAD_HEADERS[case]
    path = write_with_header(tmp_path / "w.safetensors", header, small_weights[1])
    with pytest.raises(QuantvizError, match="safetensors file") as error:
        list(iter_safetensors_weights(path))
    assert expected in str(error.value)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("case", ["shape_strings", "shape_number", "offsets_past_end"])
def test_bad_header_weights_only_cli(small_weights, tmp_path, capsys, case):
    header, expected = BAD_HEADERS[case]
    path = write_with_header(tmp_path / "w.safetensors", header, small_weights[1])
    out = tmp_path / "out"
    code = main(["analyze", str(path), "--weights-only", "-q", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert expected in captured.err
    assert "Traceback" not in captured.err
    assert not (out / "analysis.json").exists()


def test_header_only_shapes_checked(small_weights, tmp_path):
    header, _ = BAD_HEADERS["shape_strings"]
    path = write_with_header(tmp_path / "w.safetensors", header, small_weights[1])
    with pytest.raises(QuantvizError, match=r"tensor 'a\.weight' has the shape"):
        safetensors_layer_shapes(path)


def test_bad_header_in_model_folder(bert_copy):
    weights = bert_copy / "model.safetensors"
    data = weights.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    name = "encoder.layer.0.output.dense.weight"
    header[name]["shape"] = [32, "64"]
    write_with_header(weights, header, data[8 + length :])
    with pytest.raises(QuantvizError, match=f"tensor '{name}' has the shape") as error:
        load_model(str(bert_copy))
    assert str(weights) in str(error.value)


# --- GGUF -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    """A valid 1.7 KB GGUF file: Llama metadata and two float32 tensors, no tokenizer."""
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_feed_forward_length(16)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tensor("token_embd.weight", rng.random((32, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", rng.random((8, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_tiny_gguf_without_tokenizer(tiny_gguf, tmp_path):
    with pytest.raises(QuantvizError, match="could not be loaded by transformers") as error:
        load_model(str(tiny_gguf), gguf_cache_dir=tmp_path / "cache")
    assert str(tiny_gguf) in str(error.value)
    assert "tokenizer" in str(error.value)
    assert not (tmp_path / "cache" / "gguf").exists()


def test_gguf_cut_at_every_offset(tiny_gguf, tmp_path):
    data = tiny_gguf.read_bytes()
    cut_file = tmp_path / "cut.gguf"
    for length in range(0, len(data), 5):
        cut_file.write_bytes(data[:length])
        with pytest.raises(QuantvizError) as error:
            load_model(str(cut_file), gguf_cache_dir=tmp_path / "cache")
        message = str(error.value)
        assert str(cut_file) in message, length
        assert "truncated or corrupt" in message or "not a GGUF file" in message, length
    assert not (tmp_path / "cache" / "gguf").exists()


@settings(
    max_examples=300,
    # The same byte changes on every run, so CI results do not depend on the draw.
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=st.lists(st.tuples(st.integers(4, 600), st.integers(0, 255)), min_size=1))
def test_gguf_byte_changes_load_or_raise(tiny_gguf, tmp_path, changes):
    """Random bytes in the metadata and tensor table: a clear error, never a crash."""
    data = bytearray(tiny_gguf.read_bytes())
    for position, value in changes:
        data[position] = value
    changed = tmp_path / "changed.gguf"
    changed.write_bytes(bytes(data))
    with pytest.raises(QuantvizError) as error:
        load_model(str(changed), gguf_cache_dir=tmp_path / "cache")
    assert str(changed) in str(error.value)


# --- Non-finite and all-zero weights in a full analysis -------------------------------------


def poison(value: float):
    def change(module):
        module.model.layers[0].self_attn.q_proj.weight[0, :3] = value

    return change


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_nonfinite_weight_full_analysis(value, tmp_path):
    loaded = random_model("llama")
    with torch.no_grad():
        poison(value)(loaded.module)
    name = "model.layers.0.self_attn.q_proj"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analysis = analyze_model(loaded, SMALL_ANALYSIS)
    messages = [str(w.message) for w in caught if issubclass(w.category, QuantvizWarning)]
    assert any(f"{name}.weight (3 values)" in message for message in messages), messages

    poisoned = analysis.layer(name)
    assert poisoned.weight.nonfinite == 3
    assert poisoned.recommendation.choice == "float"
    assert "the weight contains 3 NaN or inf values" in poisoned.recommendation.reason

    # The query projection's input comes before the poisoned weight, and key and value
    # projections read the same input, so they are analysed as usual.
    clean = analysis.layer("model.layers.0.self_attn.k_proj")
    assert clean.input.nonfinite == 0
    assert clean.recommendation.choice != "float"

    # Attention turns the three poisoned query channels into NaN for every later layer.
    downstream = analysis.layer("model.layers.1.mlp.down_proj")
    assert downstream.input.nonfinite == downstream.input.shape[0] * downstream.input.shape[1]
    assert downstream.input.results == {}
    assert math.isnan(downstream.input.sqnr("int8_sym_tensor"))
    assert downstream.recommendation.choice == "float"
    assert "the input contains" in downstream.recommendation.reason
    # Eleven layers have non-finite inputs; the warning names ten and counts the rest.
    assert any("model.layers.0.mlp.down_proj (4,096 values)" in m for m in messages), messages
    assert any("and 1 more" in message for message in messages)

    # Sensitivity losses against NaN float outputs would all be NaN.
    assert all(report.sensitivity is None for report in analysis.layers)

    path = analysis.save(tmp_path / "analysis.json")
    json.loads(path.read_text(), parse_constant=reject_constant)
    reloaded = ModelAnalysis.load(path)
    assert reloaded.layer("model.layers.1.mlp.down_proj").input.nonfinite > 0
    assert reloaded.layer(name).recommendation.choice == "float"


def reject_constant(constant: str):
    """``parse_constant`` hook: NaN and Infinity are not valid JSON."""
    raise AssertionError(f"analysis.json contains {constant}")


def test_all_zero_layer_full_analysis(tmp_path):
    loaded = random_model("llama")
    name = "model.layers.1.mlp.down_proj"
    with torch.no_grad():
        loaded.module.get_submodule(name).weight.zero_()
    analysis = analyze_model(loaded, SMALL_ANALYSIS)
    report = analysis.layer(name)
    for candidate in ("int8_sym_channel", "fp8_e4m3_tensor"):
        # Quantizing zeros is exact, so the signal-to-noise ratio is infinite, not NaN.
        assert report.weight.sqnr(candidate) == math.inf
    assert report.recommendation is not None
    path = analysis.save(tmp_path / "analysis.json")
    assert ModelAnalysis.load(path).layer(name).weight.sqnr("int8_sym_channel") == math.inf


def test_nan_weights_cli_names_tensor(tmp_path, capsys):
    """Loading warns and names the tensor, and the analysis completes with a report."""
    loaded = random_model("bert")
    with torch.no_grad():
        loaded.module.encoder.layer[1].output.dense.weight[0, 0] = math.nan
    loaded.module.save_pretrained(tmp_path / "model")
    loaded.tokenizer.save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    arguments = ["analyze", str(tmp_path / "model"), "--out", str(out), "-q"]
    arguments += ["--samples", "4", "--seq-len", "16", "--sensitivity-samples", "1"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(arguments)
    captured = capsys.readouterr()
    messages = [str(w.message) for w in caught if issubclass(w.category, QuantvizWarning)]

    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    assert any("encoder.layer.1.output.dense.weight: 1 NaN" in m for m in messages), messages
    assert any("encoder.layer.1.output.dense.weight (1 values)" in m for m in messages)
    assert "encoder.layer.1.output.dense" in captured.out
    assert (out / "report.html").is_file()
    data = json.loads((out / "analysis.json").read_text(), parse_constant=reject_constant)
    layers = {layer["info"]["name"]: layer for layer in data["layers"]}
    poisoned = layers["encoder.layer.1.output.dense"]
    assert poisoned["weight"]["nonfinite"] == 1
    assert poisoned["recommendation"]["choice"] == "float"


# --- Calibration text and plan files through the CLI ----------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "is empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8")],
    ids=["empty", "binary"],
)
def test_bad_calibration_file_cli(saved_bert, tmp_path, capsys, content, expected):
    text_file = tmp_path / "calib.txt"
    text_file.write_bytes(content)
    out = tmp_path / "out"
    code = main(["analyze", str(saved_bert), "--calib", str(text_file), "-q", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert str(text_file) in captured.err
    assert expected in captured.err
    assert "Traceback" not in captured.err
    assert not (out / "analysis.json").exists()


def plan_text(**fields) -> bytes:
    return json.dumps({"format": "quantviz-plan", "version": 1} | fields).encode()


# (file content, text the message must contain)
BAD_PLAN_FILES = {
    "newer_version": (plan_text(version=99), "plan version 99 is newer"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff", "is not UTF-8 text"),
    "nan_literal": (
        plan_text(model={"loss": "X"}).replace(b'"X"', b"NaN"),
        "model must contain only JSON values without NaN",
    ),
    "deep_nesting": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "format_list": (
        plan_text(defaults={"weight": {"format": [8]}}),
        "defaults.weight.format must be one of",
    ),
    "huge_alpha": (
        plan_text(defaults={"smoothquant_alpha": 10**400}),
        "smoothquant_alpha must be a number between 0 and 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PLAN_FILES))
def test_bad_plan_file_cli(tmp_path, capsys, case):
    content, expected = BAD_PLAN_FILES[case]
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    code = main(["plan", "show", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert expected in captured.err
    assert str(path) in captured.err
    assert "Traceback" not in captured.err
