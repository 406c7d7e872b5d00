"""Weight error maps for FP8 and INT8 side by side, and their difference."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from quantviz.gui.plots.heatmap_plot import HeatmapPlot

if TYPE_CHECKING:
    from quantviz.analysis.heatmap import Heatmap


class ErrorHeatmapsView(pg.GraphicsLayoutWidget):
    """|W - Q(W)| under FP8 and INT8 on one colour bar, and FP8 minus INT8.

    The two error maps share one :class:`pyqtgraph.ColorBarItem`, so equal colours are
    equal errors. The difference map has its own diverging bar centred on zero (red:
    FP8 has the larger error there, blue: INT8 does). All three views pan and zoom
    together. Maps are max-pooled blocks of the weight (output x input channels).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fp8 = HeatmapPlot()
        self.int8 = HeatmapPlot()
        self.difference = HeatmapPlot()
        self.addItem(self.fp8, row=0, col=0)
        self.addItem(self.int8, row=0, col=1)
        self.error_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=pg.colormap.get("inferno"), width=12, interactive=True
        )
        self.error_bar.setImageItem([self.fp8.image, self.int8.image])
        self.addItem(self.error_bar, row=0, col=2)
        self.addItem(self.difference, row=0, col=3)
        self.difference_bar = pg.ColorBarItem(
            values=(-1.0, 1.0), colorMap=pg.colormap.get("CET-D1"), width=12, interactive=True
        )
        self.difference_bar.setImageItem(self.difference.image)
        self.addItem(self.difference_bar, row=0, col=4)
        for plot in (self.int8, self.difference):
            plot.setXLink(self.fp8)
            plot.setYLink(self.fp8)
        self.heatmaps: tuple[Heatmap | None, Heatmap | None] = (None, None)

    def set_heatmaps(
        self,
        fp8: Heatmap | None,
        int8: Heatmap | None,
        fp8_label: str,
        int8_label: str,
        arrays: tuple[np.ndarray | None, np.ndarray | None] | None = None,
    ) -> None:
        """Draw both error maps; the difference needs both with the same cell grid.

        ``arrays`` are the maps' values as float arrays, converted in a worker. Without
        them the values are converted here.
        """
        self.heatmaps = (fp8, int8)
        if arrays is None:
            arrays = tuple(np.asarray(h.values, dtype=float) if h else None for h in (fp8, int8))
        peak = max((float(a.max()) for a in arrays if a is not None and a.size), default=1.0)
        levels = (0.0, peak if peak > 0 else 1.0)
        for plot, heatmap, array, label in (
            (self.fp8, fp8, arrays[0], fp8_label),
            (self.int8, int8, arrays[1], int8_label),
        ):
            plot.set_title_once(label)
            if heatmap is None or array is None:
                plot.clear_matrix()
                continue
            plot.set_matrix(array, heatmap.shape, levels=levels)
            plot.set_axis_labels(heatmap.row_label, heatmap.col_label)
        self.error_bar.setLevels(levels)
        self._set_difference(fp8, arrays[0], arrays[1])

    def _set_difference(
        self, fp8: Heatmap | None, fp8_array: np.ndarray | None, int8_array: np.ndarray | None
    ) -> None:
        self.difference.set_title_once(
            QCoreApplication.translate("ErrorHeatmapsView", "FP8 − INT8 error")
        )
        if fp8 is None or fp8_array is None or int8_array is None:
            self.difference.clear_matrix()
            return
        if fp8_array.shape != int8_array.shape:
            self.difference.clear_matrix()
            return
        difference = fp8_array - int8_array
        bound = float(np.abs(difference).max()) or 1.0
        self.difference.set_matrix(difference, fp8.shape, levels=(-bound, bound))
        self.difference.set_axis_labels("", fp8.col_label)
        self.difference_bar.setLevels((-bound, bound))
