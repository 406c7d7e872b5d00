"""The export and bench commands, run as a user runs them."""

import json

import pytest
from export_support import int8_plan

from quantviz.cli import main
from quantviz.export.bench import split_sentences
from quantviz.model.data import load_texts
from quantviz.model.loading import save_random_model


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    """A tiny BERT saved as a Hugging Face folder, so the CLI loads it by path."""
    return save_random_model("bert", tmp_path_factory.mktemp("bert") / "model", seed=2)


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "plan.json"
    int8_plan().save(path)
    return path


@pytest.mark.slow
def test_export_and_check_minilm(tmp_path, plan_file, capsys):
    output = tmp_path / "minilm.onnx"
    code = main(
        [
            "export",
            "sample:minilm",
            "--plan",
            str(plan_file),
            "-o",
            str(output),
            "--check",
            "--check-samples",
            "2",
            "--seq-len",
            "64",
            "--calib-samples",
            "4",
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert output.is_file()
    assert "parity check passed" in out
    assert "36 quantized layers" in out
    parity = json.loads((tmp_path / "minilm.parity.json").read_text())
    assert parity["passed"] is True
    assert parity["checker_passed"] is True
    scales = json.loads((tmp_path / "minilm.scales.json").read_text())
    assert "encoder.layer.0.attention.self.query" in scales["layers"]


def test_export_unsupported_layer_is_clear_error(tmp_path, bert_folder, plan_file, capsys):
    output = tmp_path / "m.onnx"
    code = main(
        [
            "export",
            str(bert_folder),
            "--plan",
            str(plan_file),
            "-o",
            str(output),
            "--include-embeddings",
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "error: layer embeddings.word_embeddings is an embedding" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_export_then_bench_tiny_model(tmp_path, bert_folder, plan_file, capsys):
    output = tmp_path / "m.onnx"
    code = main(["export", str(bert_folder), "--plan", str(plan_file), "-o", str(output), "-q"])
    assert code == 0
    capsys.readouterr()
    results = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            str(output),
            "--items",
            "1000",
            "--threads",
            "1",
            "--repeats",
            "1",
            "--out",
            str(results),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "m.float.onnx").is_file()
    assert "| float32 |" in out
    assert "| ort dynamic per channel |" in out
    sentences = len(split_sentences(load_texts(split="evaluation")))
    assert f"fewer than the 1000 requested; all {sentences} are used once" in out
    data = json.loads(results.read_text())
    assert data["items"] == sentences
    assert [model["name"] for model in data["models"]] == [
        "float32",
        "quantviz",
        "ort dynamic per channel",
        "ort dynamic per tensor",
    ]
    quantized = data["models"][1]
    assert quantized["size_ratio"] > 1.0
    assert quantized["accuracy"]["mean_cosine"] > 0.9
    assert quantized["kernels"]["MatMulIntegerToFloat"] == 12


def test_bench_rejects_bad_threads(tmp_path, capsys):
    code = main(["bench", str(tmp_path / "absent.onnx"), "--threads", "0", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--threads '0' is invalid" in err
