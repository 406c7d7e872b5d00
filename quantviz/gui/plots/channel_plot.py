"""Per-channel absolute maximum of a layer's input, with the outlier threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import FLOAT_COLOR, OUTLIER_COLOR
from quantviz.gui.plots import apply_view_range, fix_left_axis

if TYPE_CHECKING:
    from quantviz.analysis.outliers import OutlierStats


class ChannelAbsmaxPlot(pg.PlotWidget):
    """One bar per input channel: the largest |x| seen in calibration.

    Channels at or above the outlier threshold (LLM.int8()'s 6.0, stored in the
    statistics) are red dots over the bars, so the few channels that set a per-tensor
    INT8 scale stand out. The threshold is a dashed horizontal line.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setLabel("left", QCoreApplication.translate("ChannelAbsmaxPlot", "max |x|"))
        fix_left_axis(plot)
        plot.setLabel("bottom", QCoreApplication.translate("ChannelAbsmaxPlot", "input channel"))
        self.bars = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pg.mkPen(FLOAT_COLOR, width=1),
            brush=pg.mkBrush(120, 120, 120, 120),
        )
        self.outliers = pg.ScatterPlotItem(
            size=6, pen=pg.mkPen(None), brush=pg.mkBrush(OUTLIER_COLOR), hoverable=True
        )
        self.threshold = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen(OUTLIER_COLOR, width=1.2, style=Qt.PenStyle.DashLine),
            label="",
            labelOpts={"position": 0.95, "color": OUTLIER_COLOR, "anchors": [(1, 1), (1, 1)]},
        )
        plot.addItem(self.bars)
        plot.addItem(self.outliers)
        plot.addItem(self.threshold)
        self.values = np.zeros(0)
        self._title = ""

    def set_outliers(self, stats: OutlierStats | None, title: str = "") -> None:
        plot = self.getPlotItem()
        if title != self._title:
            plot.setTitle(title, size="9pt")
            self._title = title
        if stats is None or not stats.channel_absmax:
            self.values = np.zeros(0)
            self.bars.setData([], [])
            self.outliers.setData([], [])
            self.threshold.hide()
            return
        self.values = np.asarray(stats.channel_absmax, dtype=float)
        channels = np.arange(self.values.size + 1, dtype=float) - 0.5
        self.bars.setData(channels, self.values)
        above = np.flatnonzero(self.values >= stats.threshold)
        self.outliers.setData(
            x=above.astype(float),
            y=self.values[above],
            data=above,
            tip=_channel_tip,
        )
        self.threshold.setValue(stats.threshold)
        text = QCoreApplication.translate("ChannelAbsmaxPlot", "outlier threshold %1").replace(
            "%1", f"{stats.threshold:g}"
        )
        # The label skips updates while hidden, so its own text is compared, not a cache.
        if self.threshold.label.toPlainText() != text:
            self.threshold.label.setFormat(text)
        self.threshold.show()
        top = max(float(self.values.max()), stats.threshold) * 1.08
        plot.setYRange(0, top, padding=0)
        plot.setXRange(-0.5, self.values.size - 0.5, padding=0.01)
        apply_view_range(plot)


def _channel_tip(x: float, y: float, data: int) -> str:
    text = QCoreApplication.translate("ChannelAbsmaxPlot", "channel %1: %2")
    return text.replace("%1", str(int(data))).replace("%2", f"{y:.3g}")
