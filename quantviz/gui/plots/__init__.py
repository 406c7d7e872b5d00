"""pyqtgraph views of the analysis, one view or graphics item per module."""

from __future__ import annotations

import pyqtgraph as pg


def configure_pyqtgraph() -> None:
    """Set the global pyqtgraph options the views assume.

    Images are row-major (``image[row, col]``, as numpy prints them), plots are dark on
    white like the rest of the window, and lines are antialiased.
    """
    pg.setConfigOptions(
        imageAxisOrder="row-major", background="w", foreground="#333", antialias=True
    )
