"""Token x channel magnitude of a layer's input, from the stored calibration sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from quantviz.gui.plots.heatmap_plot import HeatmapPlot

if TYPE_CHECKING:
    from quantviz.analysis.heatmap import Heatmap


class ActivationHeatmapView(pg.GraphicsLayoutWidget):
    """|x| per token (rows) and channel (columns), max-pooled, with its colour bar.

    Outlier channels show as bright vertical stripes, outlier tokens as bright rows.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = HeatmapPlot()
        self.addItem(self.plot, row=0, col=0)
        self.bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), width=12, interactive=True
        )
        self.bar.setImageItem(self.plot.image)
        self.addItem(self.bar, row=0, col=1)
        self.heatmap: Heatmap | None = None

    def set_heatmap(self, heatmap: Heatmap | None, title: str = "") -> None:
        self.heatmap = heatmap
        self.plot.set_title_once(
            title or QCoreApplication.translate("ActivationHeatmapView", "input |x|")
        )
        if heatmap is None:
            self.plot.clear_matrix()
            return
        array = np.asarray(heatmap.values, dtype=float)
        peak = float(array.max()) if array.size else 1.0
        levels = (0.0, peak if peak > 0 else 1.0)
        self.plot.set_matrix(array, heatmap.shape, levels=levels)
        self.plot.set_axis_labels(heatmap.row_label, heatmap.col_label)
        self.bar.setLevels(levels)
