"""``quantviz qat`` started by ``accelerate launch`` in two CPU processes (data parallel).

accelerate 1.16 starts one process for ``accelerate launch --cpu --num_processes 2``
unless it is given an MPI host file. So the test launches with ``--multi_gpu``, which
runs torchrun, and on a machine without GPUs quantviz then forms a gloo process group.

Each process trains on 2 of the 4 sequences of a step. DistributedDataParallel averages
the gradients, so the learned scales must equal those of one process that trains on all
4 sequences (``--batch-size 4``) up to float rounding. The loss is next-token
cross-entropy (``--distill none``): on a random model the KL distillation loss is about
1e-7, at the level of float32 rounding, so its gradients would differ between any two
summation orders.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed

from quantviz.apply import weight_qparams
from quantviz.cli import main
from quantviz.model import load_model, load_texts, save_random_model
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no torch.distributed with the gloo backend",
)

TRAINING_ARGS = [
    "--steps",
    "2",
    "--seq-len",
    "32",
    "--eval-samples",
    "2",
    "--distill",
    "none",
    "-q",
]


def accelerate_command() -> list[str]:
    """The accelerate CLI of the Python running the tests."""
    executable = Path(sys.executable).with_name("accelerate")
    if executable.is_file():
        return [str(executable)]
    return [sys.executable, "-m", "accelerate.commands.accelerate_cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("launch")
    model = save_random_model("llama", folder / "llama")
    plan = folder / "w8a8.json"
    uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym")).save(plan)
    text = folder / "train.txt"
    text.write_text("\n\n".join(load_texts()[5:12]), encoding="utf-8")
    return {"folder": folder, "model": model, "plan": plan, "text": text}


@pytest.fixture(scope="module")
def launched(run_files):
    """Run QAT in two processes under accelerate launch; return (process, out_dir)."""
    out_dir = run_files["folder"] / "launched"
    command = [
        *accelerate_command(),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        "-m",
        "quantviz",
        "-v",
        "qat",
        str(run_files["model"]),
        "--plan",
        str(run_files["plan"]),
        "--data",
        str(run_files["text"]),
        "--out",
        str(out_dir),
        "--batch-size",
        "2",
        *TRAINING_ARGS,
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    process = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=240, check=False
    )
    return process, out_dir


def test_launch_runs_two_processes(launched):
    process, _ = launched
    assert process.returncode == 0, process.stderr[-3000:]
    assert "QAT process 0 of 2" in process.stderr
    assert "QAT process 1 of 2" in process.stderr
    assert "trained tensors are equal in all 2 processes" in process.stderr


def test_launch_prints_and_writes_once(launched):
    process, out_dir = launched
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.count("data parallel: 2 processes, 2 sequences each, 4 per step") == 1
    assert process.stdout.count(f"wrote {out_dir / 'plan.json'}") == 1
    assert process.stdout.count("held-out perplexity") == 1
    result = json.loads((out_dir / "qat_result.json").read_text())
    assert result["processes"] == 2
    assert result["steps_done"] == 2
    assert not (out_dir / "checkpoints").exists()


def test_launch_plan_holds_learned_scales(launched, run_files):
    process, out_dir = launched
    assert process.returncode == 0, process.stderr[-3000:]
    plan = PrecisionPlan.load(out_dir / "plan.json")
    loaded = load_model(str(run_files["model"]))
    assert set(plan.scales) == {info.name for info in loaded.layers}
    for info in loaded.layers:
        weight = loaded.module.get_submodule(info.name).weight
        start = weight_qparams(weight, TensorConfig("int8_sym", "channel"), info)
        learned = plan.scales[info.name]["weight"].scale
        change = ((learned - start.scale).abs() / start.scale).max()
        assert 1e-4 < float(change) < 0.1, info.name


def test_launch_matches_one_process_with_whole_batch(launched, run_files, tmp_path):
    process, out_dir = launched
    assert process.returncode == 0, process.stderr[-3000:]
    single_dir = tmp_path / "single"
    code = main(
        [
            "qat",
            str(run_files["model"]),
            "--plan",
            str(run_files["plan"]),
            "--data",
            str(run_files["text"]),
            "--out",
            str(single_dir),
            "--batch-size",
            "4",
            *TRAINING_ARGS,
        ]
    )
    assert code == 0
    launched_result = json.loads((out_dir / "qat_result.json").read_text())
    single_result = json.loads((single_dir / "qat_result.json").read_text())
    assert launched_result["losses"] == pytest.approx(single_result["losses"], rel=1e-5)
    launched_plan = PrecisionPlan.load(out_dir / "plan.json")
    single_plan = PrecisionPlan.load(single_dir / "plan.json")
    for name, roles in single_plan.scales.items():
        for role, qparams in roles.items():
            torch.testing.assert_close(
                launched_plan.scales[name][role].scale, qparams.scale, rtol=1e-4, atol=0
            )
