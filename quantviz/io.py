"""Atomic file writes: a file is either its old content or its complete new content."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)

# A temporary file of a killed writer is removed once it has not been modified for this
# many seconds. A live writer writes to its file, so its modification time stays
# recent. The first save a minute or more after a kill removes that kill's file.
STALE_TEMPORARY_S = 60.0


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

    The temporary file is named ``.<name>.<pid>.<random>.tmp``. A writer killed with
    SIGKILL, or by a power cut, cannot remove it, so each successful write removes the
    temporary files that earlier writers of the same ``path`` left behind. It removes
    one only when its name has that exact form for ``path``, the process with its pid
    is not running (checked on POSIX only), and the file has not been modified for
    :data:`STALE_TEMPORARY_S` seconds. A reused pid keeps a stale file until a later
    save. A concurrent writer in another pid namespace or on another host that shares
    the folder is protected by the age rule alone.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise QuantvizError(f"cannot write {path}: folder {folder} does not exist; create it first")
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder
        )
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
    remove_stale_temporaries(path)
    return path


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left; return them.

    The rules are those of :func:`atomic_write`. Errors are logged and skipped, since
    the write itself has already succeeded.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    # mkstemp's random part is letters, digits and underscores, so a temporary file of
    # another target whose name starts with this one ("plan.json.1") cannot match.
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.\w+\.tmp")
    removed = []
    try:
        names = os.listdir(folder)
    except OSError as error:
        logger.warning("cannot list %s to remove stale temporary files: %s", folder, error)
        return removed
    now = time.time()
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _process_running(int(match.group(1))):
            continue
        candidate = folder / name
        try:
            info = candidate.lstat()
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_TEMPORARY_S:
                continue
            candidate.unlink()
        except OSError as error:
            logger.warning("cannot remove the stale temporary file %s: %s", candidate, error)
            continue
        logger.info("removed %s, left by a writer of %s that was killed", candidate, path)
        removed.append(candidate)
    return removed


def _process_running(pid: int) -> bool:
    """Return whether a process with ``pid`` runs on this host.

    This process counts as running, so a concurrent write from another thread keeps its
    file. On Windows, ``os.kill(pid, 0)`` would stop the process, so this returns False
    there and only the age rule of :func:`atomic_write` applies.
    """
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The process exists but belongs to another user.
        return True
    except OSError:
        return True
    return True


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
