"""Error dialogs: a QuantvizError's message as written, other errors with a traceback."""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)


def error_message(error: BaseException) -> str:
    """Return the text shown for ``error``: a QuantvizError's own message, as written."""
    if isinstance(error, QuantvizError):
        return str(error)
    return (
        QCoreApplication.translate("ErrorBox", "Unexpected error (%1): %2")
        .replace("%1", type(error).__name__)
        .replace("%2", str(error))
    )


def show_error(parent: QWidget | None, error: BaseException, title: str = "") -> QMessageBox:
    """Open a window-modal message box for ``error`` and return at once.

    The box is not run with ``exec()``, so the event loop (and any running worker's
    progress) continues; it deletes itself when closed. Errors other than QuantvizError
    are program bugs: they are logged with their traceback, which the box also offers
    under "Show Details".
    """
    box = QMessageBox(parent)
    box.setObjectName("errorBox")
    box.setWindowTitle(title or QCoreApplication.translate("ErrorBox", "quantviz error"))
    box.setText(error_message(error))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    if isinstance(error, QuantvizError):
        box.setIcon(QMessageBox.Icon.Warning)
        logger.info("reported to the user: %s", error)
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        details = "".join(traceback.format_exception(error))
        box.setDetailedText(details)
        logger.error("unexpected error: %s", details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box
