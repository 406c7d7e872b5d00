"""Atomic file writes: a file is either its old content or its complete new content."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantviz.errors import QuantvizError


def make_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` and its parents; an OSError becomes a QuantvizError naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QuantvizError(
            f"cannot create the {what} {path}: {error.strerror or error}; choose a writable folder"
        ) from None
    return path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp_path)``, then rename the temporary file over ``path``.

    The temporary file sits in the destination folder so the rename is atomic on
    POSIX and Windows. On any failure (a full disk, a cancelled job, a crash of
    ``write``) the temporary file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise QuantvizError(f"cannot write {path}: folder {folder} does not exist; create it first")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise QuantvizError(
            f"cannot write {path}: {error.strerror or error}; choose a writable folder"
        ) from None
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        # mkstemp creates the file private (0600); give it the mode a plain open()
        # would, so replacing a file does not change who can read it.
        os.chmod(temp, 0o666 & ~_current_umask())
        with open(temp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise QuantvizError(
            f"writing {path} failed: {error.strerror or error}; the previous file, if any, "
            "is unchanged. Free disk space or choose another folder."
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda temp: temp.write_bytes(data))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON; ``inf`` and NaN must already be replaced."""
    return atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file, raising :class:`QuantvizError` that names ``what`` and the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuantvizError(f"{what} file {path} not found") from None
    except UnicodeDecodeError:
        raise QuantvizError(f"{what} file {path} is not UTF-8 text; it must contain JSON") from None
    except OSError as error:
        raise QuantvizError(f"cannot read {what} file {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise QuantvizError(
            f"{what} file {path} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}"
        ) from None
    except RecursionError:
        raise QuantvizError(
            f"{what} file {path} is nested too deeply to parse; quantviz files are a few "
            "levels deep"
        ) from None
