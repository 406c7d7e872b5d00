"""Start the desktop app: ``quantviz`` or ``quantviz gui [MODEL] [--lang zh_CN] [--smoke-test]``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QThreadPool, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from quantviz import RESOURCES_DIR
from quantviz.errors import QuantvizError
from quantviz.gui.i18n import install_translators
from quantviz.gui.plots import configure_pyqtgraph

if TYPE_CHECKING:
    from quantviz.gui.main_window import MainWindow

logger = logging.getLogger(__name__)

ORGANIZATION = "quantviz"
APPLICATION = "quantviz"
# Light jobs (full-size heatmaps) run beside a model job. On a 2-core machine the pool's
# default of one thread per core would queue them behind it.
MIN_POOL_THREADS = 4
INTERRUPT_POLL_MS = 250
# A smoke test that has not finished loading and analysing by then fails.
SMOKE_TEST_TIMEOUT_MS = 600_000
ICON_PATH = RESOURCES_DIR / "icons" / "quantviz.svg"


def check_display() -> None:
    """Raise a QuantvizError when Linux offers Qt no display to draw on.

    Without one, Qt aborts the whole process with a message about platform plugins.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise QuantvizError(
        "no display found (DISPLAY and WAYLAND_DISPLAY are unset); run quantviz on a "
        "desktop, use the command line (quantviz analyze MODEL), or set "
        "QT_QPA_PLATFORM=offscreen"
    )


def create_application(argv: list[str] | None = None) -> QApplication:
    """Create (or reuse) the QApplication with the names QSettings and QStandardPaths use."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    configure_pyqtgraph()
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_POOL_THREADS))
    return app


def _close_on_interrupt(window: QWidget) -> QTimer:
    """Close the window (cancelling its jobs) on Ctrl+C in the terminal.

    Python runs signal handlers only between bytecodes, so a timer wakes the
    interpreter every 250 ms while Qt's event loop waits.
    """
    signal.signal(signal.SIGINT, lambda signum, frame: window.close())
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(INTERRUPT_POLL_MS)
    return timer


def _exit_after_analysis(window: MainWindow, result: dict[str, int]) -> QTimer:
    """Close ``window`` once the first analysis ends, storing the exit code in ``result``.

    The code is 0 when the analysis finished, 1 when a job failed or was cancelled, or
    when nothing ended within ``SMOKE_TEST_TIMEOUT_MS``. The first outcome wins.
    """
    started = time.perf_counter()

    def finish(code: int, message: str) -> None:
        if "code" in result:
            return
        result["code"] = code
        elapsed = time.perf_counter() - started
        if code == 0:
            logger.info("smoke test passed after %.1f s: %s", elapsed, message)
        else:
            logger.error("smoke test failed after %.1f s: %s", elapsed, message)
        window.close()

    workflow = window.workflow
    workflow.analysisFinished.connect(lambda: finish(0, "analysis finished"))
    workflow.failed.connect(lambda message: finish(1, message))
    workflow.cancelled.connect(lambda title: finish(1, f"{title} was cancelled"))
    timer = QTimer(window)
    timer.setSingleShot(True)
    timer.timeout.connect(
        lambda: finish(1, f"timed out: no analysis within {SMOKE_TEST_TIMEOUT_MS / 1000:.0f} s")
    )
    timer.start(SMOKE_TEST_TIMEOUT_MS)
    return timer


def main(args: argparse.Namespace | None = None) -> int:
    """Show the window, open ``args.model`` (else the MiniLM sample), run the event loop.

    Returns the exit code. Worker threads are cancelled and joined when the window
    closes, so none outlives the event loop. With ``args.smoke_test`` the window skips
    the crash-recovery question, closes once the analysis ends and the code is 0 only
    when the model loaded and its analysis finished.
    """
    started = time.perf_counter()
    if QApplication.instance() is None:
        check_display()
    app = create_application()
    translators = install_translators(app, getattr(args, "lang", None))

    from quantviz.gui.main_window import MainWindow
    from quantviz.gui.workflow import DEFAULT_MODEL

    window = MainWindow()
    window.show()
    smoke_test = bool(getattr(args, "smoke_test", False))
    smoke_result: dict[str, int] = {}
    if smoke_test:
        smoke_timer = _exit_after_analysis(window, smoke_result)

    def ready() -> None:
        logger.info("window ready %.2f s after the app started", time.perf_counter() - started)
        model = getattr(args, "model", None)
        if smoke_test:
            # The recovery question would wait for an answer that never comes.
            window.open_model(model or DEFAULT_MODEL)
        else:
            window.start(model)

    QTimer.singleShot(0, ready)
    interrupt_timer = _close_on_interrupt(window)
    code = app.exec()
    interrupt_timer.stop()
    # The loop also ends without closing the window (app.quit(), a session logout), so
    # the running jobs are cancelled here before their threads are joined.
    window.runner.cancel_all()
    QThreadPool.globalInstance().waitForDone()
    del translators
    if smoke_test:
        smoke_timer.stop()
        # Closing the window ends the loop with code 0 whatever the outcome was.
        return smoke_result.get("code", 1)
    return int(code)
