"""Layer x metric map of SQNR: every layer, every candidate format, one colour scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import AMBER, GOOD_FROM_DB, GREEN, POOR_BELOW_DB, RED
from quantviz.gui.plots.heatmap_plot import HeatmapPlot

# The colour scale runs over 0-50 dB with the table's band edges at 20 and 30 dB.
LEVELS_DB = (0.0, 50.0)


def sqnr_colormap() -> pg.ColorMap:
    """Build the table's bands over :data:`LEVELS_DB`: red below 20 dB, amber to 30, green.

    Each band shades from dark to light, so differences inside a band still show.
    """
    span = LEVELS_DB[1] - LEVELS_DB[0]
    poor = (POOR_BELOW_DB - LEVELS_DB[0]) / span
    good = (GOOD_FROM_DB - LEVELS_DB[0]) / span
    edge = 1e-3
    positions = [0.0, poor - edge, poor, good - edge, good, 1.0]
    colors = [RED.darker(160), RED, AMBER.darker(120), AMBER, GREEN.lighter(140), GREEN]
    return pg.ColorMap(positions, [color.getRgb() for color in colors])


class MetricHeatmap(pg.GraphicsLayoutWidget):
    """Rows are layers in model order, columns are (tensor, format) SQNR values in dB.

    Missing values (no input analysis) are NaN and drawn transparent. Clicking a cell
    emits :attr:`layerClicked` with that row's layer name.
    """

    layerClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = HeatmapPlot()
        self.addItem(self.plot, row=0, col=0)
        self.bar = pg.ColorBarItem(
            values=LEVELS_DB, colorMap=sqnr_colormap(), width=12, interactive=False
        )
        self.bar.setImageItem(self.plot.image)
        self.addItem(self.bar, row=0, col=1)
        self.names: list[str] = []
        self.columns: list[str] = []
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_matrix(self, names: Sequence[str], columns: Sequence[str], values: np.ndarray) -> None:
        """``values[row, col]`` in dB for layer ``names[row]`` and metric ``columns[col]``."""
        self.names = list(names)
        self.columns = list(columns)
        array = np.clip(np.asarray(values, dtype=float), *LEVELS_DB)
        self.plot.set_matrix(array, levels=LEVELS_DB)
        self.plot.set_text_ticks("bottom", self.columns)
        self.plot.set_text_ticks("left", [_short(name) for name in self.names])
        self.plot.getAxis("left").setStyle(tickTextWidth=150, autoExpandTextSpace=True)

    def _clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self.plot.cell_at(QPointF(event.scenePos()))
        if cell is not None and cell[0] < len(self.names):
            self.layerClicked.emit(self.names[cell[0]])


def _short(name: str, width: int = 30) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
