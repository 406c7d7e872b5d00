"""Autosave to a recovery file, and the check for it after a crash.

The recovery file lives in ``QStandardPaths.AppDataLocation``. A clean exit deletes it
and stores the exit time in QSettings; a recovery file newer than the last clean exit
means the previous run ended without one (a crash or a killed process).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer

from quantviz.errors import QuantvizError
from quantviz.gui.session import SessionState

logger = logging.getLogger(__name__)

RECOVERY_FILE = "recovery.qvsession"
CLEAN_EXIT_KEY = "session/clean_exit_time"
AUTOSAVE_SECONDS_KEY = "session/autosave_seconds"
DEFAULT_AUTOSAVE_SECONDS = 60


def app_data_dir() -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def recovery_path() -> Path:
    return app_data_dir() / RECOVERY_FILE


def last_clean_exit() -> float:
    """Seconds since the epoch of the last clean exit, 0.0 when none was recorded."""
    value = QSettings().value(CLEAN_EXIT_KEY, 0.0)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def pending_recovery() -> Path | None:
    """The recovery file when the last run ended without a clean exit, else None."""
    path = recovery_path()
    if not path.is_file():
        return None
    if path.stat().st_mtime <= last_clean_exit():
        return None
    return path


def mark_clean_exit() -> None:
    """Delete the recovery file and record the time of this clean exit."""
    path = recovery_path()
    path.unlink(missing_ok=True)
    settings = QSettings()
    settings.setValue(CLEAN_EXIT_KEY, time.time())
    settings.sync()


def discard_recovery() -> None:
    recovery_path().unlink(missing_ok=True)


class Autosaver(QObject):
    """Writes ``snapshot()`` to the recovery file every ``interval_s`` seconds.

    ``snapshot`` returns the session to save, or None when there is nothing worth
    saving (no model open). A write is skipped while ``generation()`` returns the
    same value as at the last write, so an idle app does not touch the disk.
    """

    def __init__(
        self,
        snapshot: Callable[[], SessionState | None],
        generation: Callable[[], object],
        interval_s: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._snapshot = snapshot
        self._generation = generation
        self._saved_generation: object = None
        seconds = interval_s
        if seconds is None:
            seconds = float(QSettings().value(AUTOSAVE_SECONDS_KEY, DEFAULT_AUTOSAVE_SECONDS))
        self.timer = QTimer(self)
        self.timer.setInterval(int(seconds * 1000))
        self.timer.timeout.connect(self.save_now)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def save_now(self, force: bool = False) -> Path | None:
        """Write the recovery file now; returns its path, or None when nothing was written."""
        generation = self._generation()
        if not force and generation == self._saved_generation:
            return None
        state = self._snapshot()
        if state is None:
            return None
        path = recovery_path()
        try:
            state.save(path)
        except (QuantvizError, ValueError) as error:
            logger.warning("autosave to %s failed: %s", path, error)
            return None
        self._saved_generation = generation
        logger.debug("autosaved the session to %s", path)
        return path
