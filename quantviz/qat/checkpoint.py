"""QAT checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is a folder ``OUT/checkpoints/step-NNNNNN`` with

- ``trainable.safetensors``: the trained parameters (weights and biases of the wrapped
  layers, by their names in the unwrapped model) and the quantizers' scales and zero
  points (``LAYER.weight_quantizer.scale`` and so on);
- ``optimizer.pt``: the AdamW state, and ``rng.pt``: torch's global random state;
- ``state.json``: the step, the config, the loss and evaluation curves so far and the
  metrics of the PTQ start;
- ``plan.json``: the plan with the scales of that step.

The folder is written under a temporary name and renamed, then ``OUT/checkpoints/latest.json``
is replaced atomically to point at it, so a crash leaves the previous checkpoint usable.
Older checkpoint folders are deleted after that. ``OUT/checkpoints/teacher.safetensors``
contains the trained parameters' values before training. It is written once per run, so
that a resumed run distils from the same float teacher even when the model in memory
already has fine-tuned weights.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write, atomic_write_json, make_folder, read_json
from quantviz.plan import PrecisionPlan

logger = logging.getLogger(__name__)

CHECKPOINT_FOLDER = "checkpoints"
LATEST_FILE = "latest.json"
TEACHER_FILE = "teacher.safetensors"
TRAINABLE_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.pt"
STATE_FILE = "state.json"
PLAN_FILE = "plan.json"


@dataclass
class Checkpoint:
    """A checkpoint read back from disk."""

    folder: Path
    step: int
    state: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    plan: PrecisionPlan


def checkpoint_root(out_dir: str | Path) -> Path:
    return Path(out_dir) / CHECKPOINT_FOLDER


def clear_checkpoints(out_dir: str | Path) -> None:
    """Delete the checkpoints of an earlier run in ``out_dir``, if any."""
    root = checkpoint_root(out_dir)
    if root.is_dir():
        logger.info("removing the checkpoints of an earlier run in %s", root)
        shutil.rmtree(root)


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    # safetensors rejects tensors that share memory and non-contiguous views.
    plain = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in tensors.items()}

    def write(temp: Path) -> None:
        try:
            save_file(plain, str(temp), metadata={"format": "pt"})
        except SafetensorError as error:
            # safetensors reports a failed write (a full disk) as its own error type;
            # atomic_write turns an OSError into a message and removes the partial file.
            raise OSError(str(error)) from None

    atomic_write(path, write)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise QuantvizError(f"checkpoint file {path} is missing; start a new run without resume")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise QuantvizError(
            f"checkpoint file {path} could not be read ({error}); start a new run without resume"
        ) from None


def save_teacher(out_dir: str | Path, originals: dict[str, torch.Tensor]) -> Path:
    root = checkpoint_root(out_dir)
    make_folder(root, "checkpoint folder")
    path = root / TEACHER_FILE
    _save_tensors(path, originals)
    return path


def load_teacher(out_dir: str | Path) -> dict[str, torch.Tensor]:
    return _load_tensors(checkpoint_root(out_dir) / TEACHER_FILE)


def save_checkpoint(
    out_dir: str | Path,
    step: int,
    tensors: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    state: dict[str, Any],
    plan: PrecisionPlan,
) -> Path:
    """Write the checkpoint of ``step`` and make it the latest; return its folder."""
    root = checkpoint_root(out_dir)
    make_folder(root, "checkpoint folder")
    name = f"step-{step:06d}"
    final = root / name
    temporary = root / f".{name}.{uuid.uuid4().hex}.tmp"
    temporary.mkdir()
    try:
        _save_tensors(temporary / TRAINABLE_FILE, tensors)
        atomic_write(temporary / OPTIMIZER_FILE, lambda temp: torch.save(optimizer_state, temp))
        rng = {"torch": torch.get_rng_state()}
        atomic_write(temporary / RNG_FILE, lambda temp: torch.save(rng, temp))
        atomic_write_json(temporary / STATE_FILE, {**state, "step": step})
        plan.save(temporary / PLAN_FILE)
        if final.exists():
            # A resumed run that stops at the step it resumed from writes the same step again.
            replaced = root / f".{name}.{uuid.uuid4().hex}.old"
            os.replace(final, replaced)
            os.replace(temporary, final)
            shutil.rmtree(replaced, ignore_errors=True)
        else:
            os.replace(temporary, final)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    atomic_write_json(root / LATEST_FILE, {"step": step, "folder": name})
    for old in root.glob("step-*"):
        if old.name != name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    logger.info("wrote QAT checkpoint %s", final)
    return final


def latest_checkpoint_step(out_dir: str | Path) -> int | None:
    """Return the step of the latest checkpoint in ``out_dir``, or None when there is none."""
    path = checkpoint_root(out_dir) / LATEST_FILE
    if not path.is_file():
        return None
    data = read_json(path, "checkpoint index")
    return int(data["step"]) if isinstance(data, dict) and "step" in data else None


def load_latest_checkpoint(out_dir: str | Path) -> Checkpoint:
    """Read the latest checkpoint in ``out_dir``; raise QuantvizError when there is none."""
    root = checkpoint_root(out_dir)
    index_path = root / LATEST_FILE
    if not index_path.is_file():
        raise QuantvizError(
            f"no QAT checkpoint to resume from in {root}; run without resume to start training"
        )
    index = read_json(index_path, "checkpoint index")
    if not isinstance(index, dict) or not isinstance(index.get("folder"), str):
        raise QuantvizError(f"checkpoint index {index_path} is invalid; run without resume")
    folder = root / index["folder"]
    state = read_json(folder / STATE_FILE, "checkpoint state")
    tensors = _load_tensors(folder / TRAINABLE_FILE)
    try:
        optimizer = torch.load(folder / OPTIMIZER_FILE, weights_only=True)
        rng = torch.load(folder / RNG_FILE, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise QuantvizError(
            f"checkpoint {folder} could not be read ({error}); start a new run without resume"
        ) from None
    plan = PrecisionPlan.load(folder / PLAN_FILE)
    return Checkpoint(folder, int(state["step"]), state, tensors, optimizer, rng, plan)
