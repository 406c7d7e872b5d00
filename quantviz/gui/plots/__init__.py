"""pyqtgraph views of the analysis, one view or graphics item per module."""

from __future__ import annotations

import pyqtgraph as pg

# Width in pixels of the value axis on the left of the line plots. By default an axis
# grows or shrinks to fit its tick labels, and each change resizes the view and paints
# the plot again. With that, each histogram was painted three times instead of once
# when the first analysis arrived (offscreen, MiniLM).
LEFT_AXIS_WIDTH = 54


def configure_pyqtgraph() -> None:
    """Set the global pyqtgraph options the views assume.

    Images are row-major (``image[row, col]``, as numpy prints them), plots are dark on
    white like the rest of the window, and lines are antialiased.
    """
    pg.setConfigOptions(
        imageAxisOrder="row-major", background="w", foreground="#333", antialias=True
    )


def apply_view_range(plot: pg.PlotItem) -> None:
    """Apply the pending range change of ``plot``'s view box now instead of in its next paint.

    pyqtgraph 0.14 computes the auto range and sets the view transform of the plotted
    items in ``ViewBox.prepareForPaint``. Changing the transform while painting makes
    Qt paint the whole view a second time. Calling this after new data keeps it to one
    paint: 20 layer changes painted the weight histogram 24 times instead of 38
    (offscreen, MiniLM).
    """
    plot.getViewBox().prepareForPaint()


def fix_left_axis(plot: pg.PlotItem, width: int = LEFT_AXIS_WIDTH) -> None:
    """Give ``plot``'s left axis a fixed width (see :data:`LEFT_AXIS_WIDTH`)."""
    plot.getAxis("left").setWidth(width)
