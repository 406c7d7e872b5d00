"""Faults while writing: a killed process, a read-only folder and a full disk.

tests/test_io.py and tests/plan/test_plan_file.py cover an exception raised inside the
write and a simulated ENOSPC, and tests/export/test_export_graph.py covers a cancelled
export. These tests use real faults: SIGKILL during a write, a read-only file system,
a 64 KiB tmpfs and RLIMIT_FSIZE.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from quantviz.cli import main
from quantviz.errors import QuantvizError
from quantviz.export import export_onnx
from quantviz.gui.session import SessionState
from quantviz.io import STALE_TEMPORARY_S
from quantviz.model import load_texts, make_batches, random_model
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan
from quantviz.qat import QATConfig, run_qat
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import QuantSpec

KILLS = 20


def large_plan(layers: int = 200, channels: int = 256) -> PrecisionPlan:
    """A plan with per-channel scales for ``layers`` layers: about 1.3 MB of JSON."""
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    spec = QuantSpec("int8", granularity="channel", axis=0)
    generator = torch.Generator().manual_seed(0)
    for index in range(layers):
        scale = torch.rand(channels, generator=generator) + 0.01
        zero_point = torch.zeros(channels, dtype=torch.int32)
        plan.scales[f"model.layers.{index}.mlp.down_proj"] = {
            "weight": QParams(scale, zero_point, spec)
        }
    return plan


# Writes the plan, then the session, again and again with a growing generation number
# (starting at the one given) until the test kills it.
WRITER_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    from quantviz.io import atomic_write_json

    plan_path, session_path, data_path, first = sys.argv[1:]
    with open(data_path, encoding="utf-8") as stream:
        plan, session = json.load(stream)
    print("ready", flush=True)
    generation = int(first)
    while True:
        plan["model"]["generation"] = generation
        atomic_write_json(plan_path, plan)
        session["current_layer"] = f"generation {generation}"
        atomic_write_json(session_path, session)
        generation += 1
    """
)


def generation(text: str) -> int:
    match = re.fullmatch(r"generation (\d+)", text)
    assert match, text
    return int(match.group(1))


def padded_plan() -> PrecisionPlan:
    """An 8 MB plan whose JSON encoding is quick, so that much of a save is the write.

    With per-channel scales alone, json.dumps takes 98% of the save of a 1.7 MB plan
    and a kill would almost never land while the file is written.
    """
    plan = large_plan(layers=20)
    plan.notes = "padding " * 1_000_000
    plan.model = {"generation": 0}
    return plan


def kill_after(writer: subprocess.Popen, seconds: float) -> None:
    try:
        writer.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        writer.kill()


def kill_while_writing(
    writer: subprocess.Popen, folder: Path, leftovers: set[str], seconds: float
) -> None:
    """Kill ``writer`` ``seconds`` after a new temporary file appears in ``folder``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in set(os.listdir(folder)) - leftovers):
            break
        time.sleep(0.0005)
    kill_after(writer, seconds)


def test_kill_during_save_keeps_file(tmp_path):
    plan = padded_plan()
    plan_path = plan.save(tmp_path / "plan.json")
    session = SessionState(model="sample:minilm", plan=plan.to_dict(), current_layer="generation 0")
    session_path = session.save(tmp_path / "work.qvsession")
    data_path = tmp_path.parent / f"{tmp_path.name}-writer-data.json"
    data_path.write_text(json.dumps([plan.to_dict(), session.to_dict()]))
    temporary = re.compile(r"\.(plan\.json|work\.qvsession)\..+\.tmp")

    rng = random.Random(0)
    plan_generation = session_generation = 0
    interrupted_writes: set[str] = set()
    for trial in range(KILLS):
        leftovers = {p.name for p in tmp_path.iterdir()}
        command = [sys.executable, "-c", WRITER_SCRIPT, str(plan_path), str(session_path)]
        command += [str(data_path), str(plan_generation + 1)]
        writer = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        if trial % 2:
            # Anywhere: while encoding, writing, renaming or between the two files.
            kill_after(writer, rng.uniform(0.0, 0.25))
        else:
            kill_while_writing(writer, tmp_path, leftovers, rng.uniform(0.0, 0.005))
        assert writer.wait() == -9, "the writer stopped before it was killed"
        writer.stdout.close()

        # Each file contains one complete generation, never older than the last one seen.
        loaded_plan = PrecisionPlan.load(plan_path)
        assert loaded_plan.model["generation"] >= plan_generation
        plan_generation = loaded_plan.model["generation"]
        plan.model["generation"] = plan_generation
        assert loaded_plan.to_dict() == plan.to_dict()
        loaded_session = SessionState.load(session_path)
        assert generation(loaded_session.current_layer) >= session_generation
        session_generation = generation(loaded_session.current_layer)
        assert session_generation <= plan_generation
        assert loaded_session.plan == session.plan

        others = sorted(p.name for p in tmp_path.iterdir() if p not in (plan_path, session_path))
        assert all(temporary.fullmatch(name) for name in others), others
        # SIGKILL leaves the temporary file of the interrupted write. A later save removes
        # it once it is a minute old (test_next_save_removes_killed_temporary), so the
        # names are collected to count how many kills landed during a write.
        interrupted_writes.update(others)
    assert len(interrupted_writes) >= KILLS // 4, "too few kills landed during a write"
    assert plan_generation > 0, "no write finished in any run; the kills came too early"


def age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` ``seconds`` into the past."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_next_save_removes_killed_temporary(tmp_path):
    """A save removes the temporary file of a killed writer of the same target only.

    The temporary file comes from a real SIGKILL during a save. The files that must stay
    are made by hand: files of this and of another running process, of other targets,
    in the older name form and without the leading dot, and a folder. The killed
    writer's own file must also stay while it is recent.
    """
    plan = padded_plan()
    plan_path = plan.save(tmp_path / "plan.json")
    session_path = SessionState(model="sample:minilm").save(tmp_path / "work.qvsession")
    data_path = tmp_path.parent / f"{tmp_path.name}-writer-data.json"
    data_path.write_text(json.dumps([plan.to_dict(), {"current_layer": ""}]))

    killed: list[Path] = []
    for _ in range(10):
        leftovers = {p.name for p in tmp_path.iterdir()}
        command = [sys.executable, "-c", WRITER_SCRIPT, str(plan_path), str(session_path)]
        writer = subprocess.Popen([*command, str(data_path), "1"], stdout=subprocess.PIPE)
        assert writer.stdout.readline().strip() == b"ready"
        kill_while_writing(writer, tmp_path, leftovers, 0.0)
        assert writer.wait() == -9, "the writer stopped before it was killed"
        writer.stdout.close()
        killed = list(tmp_path.glob(f".plan.json.{writer.pid}.*.tmp"))
        if killed:
            break
    assert len(killed) == 1, "no kill landed while the plan was written"
    stale = killed[0]
    dead_pid = writer.pid

    # Right after the kill the file is recent, as a live writer's file would be.
    plan.save(plan_path)
    assert stale.exists()

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        protected = [
            tmp_path / f".plan.json.{os.getpid()}.abcd_123.tmp",
            tmp_path / f".plan.json.{sleeper.pid}.abcd_123.tmp",
            tmp_path / f".plan.json.5.{dead_pid}.abcd_123.tmp",
            tmp_path / f".work.qvsession.{dead_pid}.abcd_123.tmp",
            tmp_path / ".plan.json.abcd_123.tmp",
            tmp_path / f"plan.json.{dead_pid}.abcd_123.tmp",
        ]
        for path in protected:
            path.write_text("left by someone else")
        folder = tmp_path / f".plan.json.{dead_pid}.folder_1.tmp"
        folder.mkdir()
        for path in [stale, *protected, folder]:
            age(path, 2 * STALE_TEMPORARY_S)

        plan.save(plan_path)
        assert not stale.exists()
        for path in protected:
            assert path.exists(), path.name
        assert folder.is_dir()
        assert PrecisionPlan.load(plan_path).to_dict() == plan.to_dict()
    finally:
        sleeper.kill()
        sleeper.wait()

    # Once the process is gone, its old temporary file is stale as well.
    plan.save(plan_path)
    assert not protected[1].exists()
    assert protected[0].exists()


SIZE_LIMITED_SAVE = textwrap.dedent(
    """
    import resource
    import signal
    import sys

    from quantviz.errors import QuantvizError
    from quantviz.io import atomic_write_text

    # Without SIG_IGN the kernel kills the process with SIGXFSZ instead of failing write().
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    try:
        atomic_write_text(sys.argv[1], "x" * 1_000_000)
    except QuantvizError as error:
        print(error)
        sys.exit(3)
    """
)


def test_file_size_limit_on_save(tmp_path):
    """RLIMIT_FSIZE makes the write fail with EFBIG, as a quota would. The old file stays."""
    path = tmp_path / "plan.json"
    uniform_plan(TensorConfig("int8_sym"), TensorConfig()).save(path)
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", SIZE_LIMITED_SAVE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert f"writing {path} failed: File too large" in result.stdout
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


# --- Full disk ------------------------------------------------------------------------------


def test_full_disk_plan_save(full_disk):
    path = full_disk / "plan.json"
    small = uniform_plan(TensorConfig("int8_sym"), TensorConfig())
    small.save(path)
    before = path.read_bytes()
    with pytest.raises(QuantvizError, match="No space left on device") as error:
        large_plan().save(path)
    assert str(path) in str(error.value)
    assert "the previous file, if any, is unchanged" in str(error.value)
    assert path.read_bytes() == before
    assert [p.name for p in full_disk.iterdir()] == ["plan.json"]


def test_full_disk_session_save(full_disk):
    path = full_disk / "work.qvsession"
    with pytest.raises(QuantvizError, match="No space left on device"):
        SessionState(model="sample:minilm", plan=large_plan().to_dict()).save(path)
    assert list(full_disk.iterdir()) == []


@pytest.fixture(scope="module")
def tiny_bert_batches():
    loaded = random_model("bert")
    batches = make_batches(
        loaded.tokenizer, load_texts(split="calibration"), seq_len=16, num_samples=4
    )
    return loaded, batches


def int8_plan() -> PrecisionPlan:
    return uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))


def test_full_disk_export(full_disk, tiny_bert_batches):
    loaded, batches = tiny_bert_batches
    path = full_disk / "model.onnx"
    with pytest.raises(QuantvizError, match="No space left on device") as error:
        export_onnx(loaded, int8_plan(), path, calib_batches=batches)
    assert f"writing {path} failed" in str(error.value)
    assert "nothing was written" in str(error.value)
    assert list(full_disk.iterdir()) == []


def test_full_disk_analyze_cli(full_disk, tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    save_file({"a.weight": torch.randn(256, 256)}, weights)
    code = main(["analyze", str(weights), "--weights-only", "-q", "--out", str(full_disk)])
    captured = capsys.readouterr()
    assert code == 2
    assert "No space left on device" in captured.err
    assert "Traceback" not in captured.err
    assert list(full_disk.iterdir()) == []


QAT_CONFIG = QATConfig(
    steps=2,
    batch_size=2,
    seq_len=32,
    eval_every=0,
    checkpoint_every=0,
    calibration_samples=2,
    eval_samples=2,
)


def test_full_disk_qat_output(full_disk):
    loaded = random_model("llama")
    texts = load_texts(split="calibration")[:2]
    with pytest.raises(QuantvizError, match="No space left on device"):
        run_qat(loaded, int8_plan(), QAT_CONFIG, train_texts=texts, out_dir=full_disk / "qat")


# --- Read-only folder -----------------------------------------------------------------------


def test_read_only_plan_and_session_save(read_only_folder):
    for save, name in (
        (uniform_plan(TensorConfig("int8_sym"), TensorConfig()).save, "plan.json"),
        (SessionState(model="sample:minilm").save, "work.qvsession"),
    ):
        path = read_only_folder / name
        with pytest.raises(QuantvizError, match="choose a writable folder") as error:
            save(path)
        assert f"cannot write {path}" in str(error.value)
    assert list(read_only_folder.iterdir()) == []


def test_read_only_export(read_only_folder, tiny_bert_batches):
    loaded, batches = tiny_bert_batches
    path = read_only_folder / "model.onnx"
    with pytest.raises(QuantvizError, match="choose a writable folder"):
        export_onnx(loaded, int8_plan(), path, calib_batches=batches)
    assert list(read_only_folder.iterdir()) == []


def test_read_only_analyze_out_folder(read_only_folder, tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    save_file({"a.weight": torch.randn(16, 16)}, weights)
    code = main(["analyze", str(weights), "--weights-only", "-q", "--out", str(read_only_folder)])
    captured = capsys.readouterr()
    assert code == 2
    assert "choose a writable folder" in captured.err
    assert "Traceback" not in captured.err


def test_read_only_analyze_new_out_folder(read_only_folder, tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    save_file({"a.weight": torch.randn(16, 16)}, weights)
    out = read_only_folder / "new"
    code = main(["analyze", str(weights), "--weights-only", "-q", "--out", str(out)])
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_read_only_qat_output(read_only_folder):
    loaded = random_model("llama")
    texts = load_texts(split="calibration")[:2]
    with pytest.raises(QuantvizError, match="writable"):
        run_qat(loaded, int8_plan(), QAT_CONFIG, train_texts=texts, out_dir=read_only_folder / "q")
