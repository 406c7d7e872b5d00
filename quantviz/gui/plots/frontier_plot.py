"""Accuracy against model size for the automatic plans; a click applies a plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import FLOAT_COLOR, FP8_COLOR, RED


@dataclass
class FrontierMarker:
    """One plan on the frontier: its size in MB, its quality value and a tooltip."""

    size_mb: float
    quality: float
    label: str


class FrontierPlot(pg.PlotWidget):
    """Each automatic plan is a marker at (size, quality), joined in size order.

    Clicking a marker emits :attr:`pointClicked` with its index in the list given to
    :meth:`set_points`. The float model is a grey reference marker when known, and
    the plan now applied, once marked with :meth:`set_selected`, is ringed in red.
    """

    pointClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.line = pg.PlotDataItem(pen=pg.mkPen(FP8_COLOR, width=1))
        self.scatter = pg.ScatterPlotItem(
            size=10, pen=pg.mkPen("w"), brush=pg.mkBrush(FP8_COLOR), hoverable=True
        )
        self.scatter.sigClicked.connect(self._clicked)
        self.reference = pg.ScatterPlotItem(size=11, symbol="s", brush=pg.mkBrush(FLOAT_COLOR))
        self.selected = pg.ScatterPlotItem(
            size=16, pen=pg.mkPen(RED, width=2), brush=pg.mkBrush(None)
        )
        for item in (self.line, self.scatter, self.reference, self.selected):
            plot.addItem(item)
        self.points: list[FrontierMarker] = []

    def set_points(
        self,
        points: Sequence[FrontierMarker],
        x_label: str,
        y_label: str,
        reference: FrontierMarker | None = None,
    ) -> None:
        self.points = list(points)
        plot = self.getPlotItem()
        plot.setLabel("bottom", x_label)
        plot.setLabel("left", y_label)
        order = sorted(range(len(self.points)), key=lambda i: self.points[i].size_mb)
        x = np.array([self.points[i].size_mb for i in order], dtype=float)
        y = np.array([self.points[i].quality for i in order], dtype=float)
        self.line.setData(x, y)
        self.scatter.setData(
            x=x,
            y=y,
            data=order,
            tip=lambda x, y, data: self.points[int(data)].label,
        )
        if reference is not None:
            self.reference.setData(
                x=[reference.size_mb], y=[reference.quality], tip=lambda *a: reference.label
            )
        else:
            self.reference.setData([], [])
        self.selected.setData([], [])
        self.getPlotItem().vb.autoRange(padding=0.15)

    def set_selected(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.points):
            self.selected.setData([], [])
            return
        point = self.points[index]
        self.selected.setData([point.size_mb], [point.quality])

    def _clicked(
        self, scatter: pg.ScatterPlotItem, points: Sequence[object], *args: object
    ) -> None:
        if len(points):
            self.pointClicked.emit(int(points[0].data()))
