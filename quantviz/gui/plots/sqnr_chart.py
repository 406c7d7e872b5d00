"""Per-layer SQNR of FP8 against INT8 over the whole model; a click selects a layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import AMBER, GOOD_FROM_DB, GREEN, POOR_BELOW_DB, RED
from quantviz.gui.plots import apply_view_range, fix_left_axis


@dataclass
class SqnrSeries:
    """One line of the chart: SQNR in dB per layer (NaN where a layer has none)."""

    label: str
    values: Sequence[float]
    color: QColor
    symbol: str = "o"
    dashed: bool = False


class SqnrChart(pg.PlotWidget):
    """SQNR (dB) per layer in model order, one marker series per format.

    Background bands mark the red (< 20 dB), amber and green (>= 30 dB) ranges that the
    table uses. Clicking a marker emits :attr:`layerClicked` with the layer's name; a
    vertical line follows the current layer.
    """

    layerClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setLabel("left", QCoreApplication.translate("SqnrChart", "SQNR (dB)"))
        fix_left_axis(plot)
        plot.setLabel("bottom", QCoreApplication.translate("SqnrChart", "layer index"))
        self.legend = plot.addLegend(offset=(8, 4), labelTextSize="8pt")
        self.legend.setColumnCount(4)
        for low, high, color in (
            (-100.0, POOR_BELOW_DB, RED),
            (POOR_BELOW_DB, GOOD_FROM_DB, AMBER),
            (GOOD_FROM_DB, 200.0, GREEN),
        ):
            band = pg.LinearRegionItem(
                (low, high),
                orientation="horizontal",
                movable=False,
                brush=pg.mkBrush(color.red(), color.green(), color.blue(), 28),
                pen=pg.mkPen(None),
            )
            band.setZValue(-10)
            plot.addItem(band, ignoreBounds=True)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#555", width=1))
        self.cursor.hide()
        plot.addItem(self.cursor, ignoreBounds=True)
        self.names: list[str] = []
        self.scatters: list[pg.ScatterPlotItem] = []
        self.lines: list[pg.PlotDataItem] = []

    def set_series(self, names: Sequence[str], series: Sequence[SqnrSeries]) -> None:
        plot = self.getPlotItem()
        for item in (*self.scatters, *self.lines):
            plot.removeItem(item)
        self.legend.clear()
        self.scatters, self.lines = [], []
        self.names = list(names)
        x = np.arange(len(self.names), dtype=float)
        finite_values = []
        for entry in series:
            y = np.asarray(entry.values, dtype=float)
            style = Qt.PenStyle.DashLine if entry.dashed else Qt.PenStyle.SolidLine
            line = pg.PlotDataItem(x, y, pen=pg.mkPen(entry.color, width=1, style=style))
            line.setOpacity(0.5)
            scatter = pg.ScatterPlotItem(
                x=x,
                y=y,
                data=self.names,
                symbol=entry.symbol,
                size=7,
                pen=pg.mkPen(entry.color),
                brush=pg.mkBrush(entry.color),
                hoverable=True,
                tip=lambda x, y, data, label=entry.label: f"{data}\n{label}: {y:.1f} dB",
            )
            scatter.sigClicked.connect(self._clicked)
            plot.addItem(line)
            plot.addItem(scatter)
            self.legend.addItem(scatter, entry.label)
            self.lines.append(line)
            self.scatters.append(scatter)
            finite_values.extend(v for v in y if np.isfinite(v))
        if finite_values:
            # The headroom above the highest point keeps the one-row legend off the data.
            plot.setYRange(min(0.0, min(finite_values) - 3), max(finite_values) + 12, padding=0)
        if self.names:
            plot.setXRange(-1, len(self.names), padding=0)
        apply_view_range(plot)

    def _clicked(
        self, scatter: pg.ScatterPlotItem, points: Sequence[object], *args: object
    ) -> None:
        if len(points):
            self.layerClicked.emit(str(points[0].data()))

    def set_current(self, name: str) -> None:
        if name in self.names:
            self.cursor.setValue(self.names.index(name))
            self.cursor.show()
        else:
            self.cursor.hide()
