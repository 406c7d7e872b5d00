"""The ``quantviz qat`` command, run as a user runs it."""

from __future__ import annotations

import json

import pytest
import torch

from quantviz.cli import main
from quantviz.model import load_texts, save_random_model
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The tiny models' matrix products are too small to gain from several threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "w8a8.json"
    uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym")).save(path)
    return path


@pytest.fixture
def text_file(tmp_path):
    """Training text of the user's own: a few paragraphs in a .txt file."""
    path = tmp_path / "train.txt"
    path.write_text("\n\n".join(load_texts()[5:12]), encoding="utf-8")
    return path


TINY_ARGS = ["--batch-size", "2", "--seq-len", "32", "--eval-samples", "2", "-q"]


@pytest.mark.slow
def test_qat_minilm_writes_files(tmp_path, plan_file, text_file, capsys):
    out_dir = tmp_path / "qat"
    code = main(
        [
            "qat",
            "sample:minilm",
            "--plan",
            str(plan_file),
            "--data",
            str(text_file),
            "--steps",
            "2",
            "--out",
            str(out_dir),
            *TINY_ARGS,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out_dir / "model.safetensors").is_file()
    assert (out_dir / "config.json").is_file()
    plan = PrecisionPlan.load(out_dir / "plan.json")
    assert len(plan.scales) == 37
    assert all(set(roles) == {"weight", "input"} for roles in plan.scales.values())
    result = json.loads((out_dir / "qat_result.json").read_text())
    assert result["steps_done"] == 2
    assert result["loss_name"] == "cosine"
    assert len(result["losses"]) == 2
    assert "held-out mean cosine vs float" in captured.out
    assert "PTQ start" in captured.out
    assert f"wrote {out_dir / 'plan.json'}" in captured.out
    assert not (out_dir / "checkpoints").exists()


def test_qat_tiny_llama_fixed_scales(tmp_path, plan_file, capsys):
    model_dir = save_random_model("llama", tmp_path / "llama")
    out_dir = tmp_path / "qat"
    code = main(
        [
            "qat",
            str(model_dir),
            "--plan",
            str(plan_file),
            "--steps",
            "2",
            "--out",
            str(out_dir),
            "--no-learnable-scales",
            "--distill",
            "none",
            *TINY_ARGS,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads((out_dir / "qat_result.json").read_text())
    assert result["loss_name"] == "cross_entropy"
    assert result["config"]["learnable_scales"] is False
    assert "held-out perplexity" in captured.out


def test_qat_encoder_without_distillation_fails(tmp_path, plan_file, capsys):
    model_dir = save_random_model("bert", tmp_path / "bert")
    code = main(
        [
            "qat",
            str(model_dir),
            "--plan",
            str(plan_file),
            "--out",
            str(tmp_path / "qat"),
            "--distill",
            "none",
            *TINY_ARGS,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "error: distillation='none'" in err
    assert "Traceback" not in err


def test_qat_resume_without_checkpoint_fails(tmp_path, plan_file, capsys):
    model_dir = save_random_model("llama", tmp_path / "llama")
    code = main(
        [
            "qat",
            str(model_dir),
            "--plan",
            str(plan_file),
            "--out",
            str(tmp_path / "empty"),
            "--resume",
            *TINY_ARGS,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "no QAT checkpoint" in err


def test_qat_missing_plan_fails(tmp_path, capsys):
    code = main(
        ["qat", "sample:minilm", "--plan", str(tmp_path / "absent.json"), "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "not found" in err


def test_qat_invalid_steps_fails(tmp_path, plan_file, capsys):
    code = main(
        ["qat", "sample:minilm", "--plan", str(plan_file), "--out", str(tmp_path), "--steps", "0"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "steps=0 is invalid" in err
