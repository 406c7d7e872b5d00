"""A matrix drawn as an image, each cell centred on its row and column index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QPointF, QRectF

from quantviz.gui.plots import apply_view_range

# The axis names that quantviz.analysis.heatmap gives its maps, listed so that lupdate
# extracts them. An axis name missing here is shown untranslated.
AXIS_LABELS = (
    QT_TRANSLATE_NOOP("HeatmapPlot", "output channel"),
    QT_TRANSLATE_NOOP("HeatmapPlot", "input channel"),
    QT_TRANSLATE_NOOP("HeatmapPlot", "token"),
    QT_TRANSLATE_NOOP("HeatmapPlot", "channel"),
)


class HeatmapPlot(pg.PlotItem):
    """A plot item that shows one matrix, row 0 at the top.

    A pooled map (a :class:`quantviz.analysis.heatmap.Heatmap`) is drawn over the index
    range of the original matrix: the image rectangle starts half a cell before index 0,
    so element ``(r, c)`` of the original sits at ``x = c, y = r`` and the axes read
    original channel and token numbers. Text ticks replace the numbers when a matrix
    has named rows or columns.
    """

    def __init__(self, title: str = "", **kwargs: object) -> None:
        super().__init__(title=title, **kwargs)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.invertY(True)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.values = np.zeros((0, 0))
        self.matrix_shape = (0, 0)
        self._title = ""
        self._labels = ("", "")

    def set_matrix(
        self,
        values: Sequence[Sequence[float]] | np.ndarray,
        shape: tuple[int, int] | None = None,
        *,
        levels: tuple[float, float] | None = None,
    ) -> None:
        """Draw ``values`` (rows x cols) over an original matrix of ``shape``."""
        array = np.asarray(values, dtype=float)
        if array.ndim != 2 or array.size == 0:
            self.clear_matrix()
            return
        rows, cols = shape if shape is not None else array.shape
        self.values = array
        self.matrix_shape = (int(rows), int(cols))

        self.image.setImage(array, autoLevels=levels is None, levels=levels)

        self.image.setRect(QRectF(-0.5, -0.5, cols, rows))
        self.setRange(xRange=(-0.5, cols - 0.5), yRange=(-0.5, rows - 0.5), padding=0)
        apply_view_range(self)

    def set_title_once(self, title: str) -> None:
        """Set the title unless it is already shown (a title change re-lays out the plot)."""
        if title != self._title:
            self.setTitle(title, size="9pt")
            self._title = title

    def set_axis_labels(self, left: str, bottom: str) -> None:
        """Label the axes with the engine's axis names, translated."""
        left = QCoreApplication.translate("HeatmapPlot", left) if left else left
        bottom = QCoreApplication.translate("HeatmapPlot", bottom) if bottom else bottom
        if (left, bottom) != self._labels:
            self.setLabel("left", left)
            self.setLabel("bottom", bottom)
            self._labels = (left, bottom)

    def clear_matrix(self) -> None:
        self.values = np.zeros((0, 0))
        self.matrix_shape = (0, 0)
        self.image.clear()

    def set_text_ticks(self, axis: str, labels: Sequence[str], max_labels: int = 40) -> None:
        """Label ``axis`` ("left" or "bottom") with one text per index, thinned to fit."""
        step = max(1, -(-len(labels) // max_labels))
        ticks = [(float(index), label) for index, label in enumerate(labels) if index % step == 0]
        self.getAxis(axis).setTicks([ticks, []])

    def cell_at(self, scene_position: QPointF) -> tuple[int, int] | None:
        """Return the (row, col) of the original matrix under a scene position, or None."""
        if not self.vb.sceneBoundingRect().contains(scene_position) or self.values.size == 0:
            return None
        point = self.vb.mapSceneToView(scene_position)
        row = round(point.y())
        col = round(point.x())
        if 0 <= row < self.matrix_shape[0] and 0 <= col < self.matrix_shape[1]:
            return row, col
        return None
