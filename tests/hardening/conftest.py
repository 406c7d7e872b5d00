"""Fixtures for the hardening tests: saved model folders and size-limited file systems."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from quantviz.model import save_random_model


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The tiny models' matrix products are too small to gain from several threads, and
    on a shared 2-core machine a second thread makes each step several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def saved_bert(tmp_path_factory) -> Path:
    """A random 2-layer BERT saved as a Hugging Face folder; tests copy it before editing."""
    return save_random_model("bert", tmp_path_factory.mktemp("saved_bert"))


@pytest.fixture
def bert_copy(saved_bert, tmp_path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(saved_bert, target)
    return target


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, options: str) -> Iterator[Path | None]:
    """Mount a tmpfs with ``options`` on ``folder``; yield None when mounting is not allowed.

    Mounting needs root (CAP_SYS_ADMIN), which CI containers often have and desktops do not.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    if subprocess.run(command, capture_output=True).returncode != 0:
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A folder on a 64 KiB tmpfs, so writes of more than 64 KiB fail with ENOSPC."""
    with mounted_tmpfs(tmp_path / "full", "size=64k") as folder:
        if folder is None:
            pytest.skip("mounting a 64 KiB tmpfs needs root; run as root to test a full disk")
        yield folder


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[Path]:
    """A folder that nothing can be created in, for root (a read-only tmpfs) or a user."""
    folder = tmp_path / "read_only"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with mounted_tmpfs(folder, "ro,size=64k") as mounted:
        if mounted is None:
            pytest.skip("root ignores folder permissions and mounting a read-only tmpfs failed")
        yield mounted
