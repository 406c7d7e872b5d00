"""Start the desktop app: ``quantviz`` or ``quantviz gui [MODEL] [--lang zh_CN]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from PySide6.QtCore import QCoreApplication, QThreadPool, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from quantviz import RESOURCES_DIR
from quantviz.gui.i18n import install_translators
from quantviz.gui.plots import configure_pyqtgraph

logger = logging.getLogger(__name__)

ORGANIZATION = "quantviz"
APPLICATION = "quantviz"
# Light jobs (full-size heatmaps) run beside a model job. On a 2-core machine the pool's
# default of one thread per core would queue them behind it.
MIN_POOL_THREADS = 4
INTERRUPT_POLL_MS = 250
ICON_PATH = RESOURCES_DIR / "icons" / "quantviz.svg"


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


def main(args: argparse.Namespace | None = None) -> int:
    """Show the window, open ``args.model`` (else the MiniLM sample), run the event loop.

    Returns the exit code. Worker threads are cancelled and joined when the window
    closes, so none outlives the event loop.
    """
    started = time.perf_counter()
    app = create_application()
    translators = install_translators(app, getattr(args, "lang", None))

    from quantviz.gui.main_window import MainWindow

    window = MainWindow()
    window.show()

    def ready() -> None:
        logger.info("window ready %.2f s after the app started", time.perf_counter() - started)
        window.start(getattr(args, "model", None))

    QTimer.singleShot(0, ready)
    interrupt_timer = _close_on_interrupt(window)
    code = app.exec()
    interrupt_timer.stop()
    # The loop also ends without closing the window (app.quit(), a session logout), so
    # the running jobs are cancelled here before their threads are joined.
    window.runner.cancel_all()
    QThreadPool.globalInstance().waitForDone()
    del translators
    return int(code)
