"""Histogram of one tensor on a log count axis with quantized versions overlaid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import FLOAT_COLOR
from quantviz.gui.plots import apply_view_range, fix_left_axis

if TYPE_CHECKING:
    from quantviz.analysis.results import TensorAnalysis

# Grid ticks are drawn in a strip below a count of 1 on the log axis, one strip per
# overlay, so they never hide a bin.
TICK_STRIPS = ((0.3, 0.5), (0.16, 0.26), (0.09, 0.14))
Y_FLOOR = 0.08


@dataclass
class OverlaySpec:
    """The candidate an overlay draws, with its legend label and colour."""

    candidate: str
    label: str
    color: QColor


def grid_ticks(grid: list[float], low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y arrays that draw one vertical tick per grid value (``connect="pairs"``)."""
    x = np.repeat(np.asarray(grid, dtype=float), 2)
    y = np.tile(np.array([low, high]), len(grid))
    return x, y


class _Overlay:
    """The curve, grid ticks and clip-range lines of one quantized version."""

    def __init__(self, plot: pg.PlotItem, color: QColor, strip: tuple[float, float]) -> None:
        self.strip = strip
        self.curve = pg.PlotDataItem(
            stepMode="center", pen=pg.mkPen(color, width=1.3, style=Qt.PenStyle.DashLine)
        )
        self.ticks = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(color, width=1))
        clip_pen = pg.mkPen(color, width=1.2, style=Qt.PenStyle.DotLine)
        self.clip_lines = [pg.InfiniteLine(angle=90, pen=clip_pen) for _ in range(2)]
        plot.addItem(self.curve)
        plot.addItem(self.ticks)
        for line in self.clip_lines:
            plot.addItem(line, ignoreBounds=True)
        self.label = ""

    def set_result(self, label: str, result: Any) -> None:
        """Draw a FormatResult (or anything with histogram, grid and clip_range)."""
        self.label = label
        self.curve.setData(
            np.asarray(result.histogram.edges, dtype=float),
            np.asarray(result.histogram.counts, dtype=float),
        )
        if result.grid:
            self.ticks.setData(*grid_ticks(result.grid, *self.strip))
        else:
            self.ticks.setData([], [])
        low, high = result.clip_range
        for line, position in zip(self.clip_lines, (low, high), strict=True):
            line.setValue(position)
            line.show()
        self.curve.show()
        self.ticks.show()

    def hide(self) -> None:
        self.label = ""
        self.curve.setData([], [])
        self.ticks.setData([], [])
        for line in self.clip_lines:
            line.hide()


class HistogramPlot(pg.PlotWidget):
    """Float histogram of a tensor with up to three quantized versions overlaid.

    The float histogram is a solid step curve. Each overlay draws its dequantized
    histogram (dashed, same bins), its clip range as dotted vertical lines and its
    representable grid as ticks below a count of 1. Only per-tensor formats have a grid,
    because a per-channel grid differs per channel. The count axis is logarithmic, so
    empty bins leave gaps.
    """

    def __init__(self, overlays: list[OverlaySpec], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.specs = list(overlays)
        plot = self.getPlotItem()
        plot.setLogMode(x=False, y=True)
        plot.setLabel("left", QCoreApplication.translate("HistogramPlot", "count"))
        fix_left_axis(plot)
        plot.setLabel("bottom", QCoreApplication.translate("HistogramPlot", "value"))
        plot.setMenuEnabled(False)
        self.legend = plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.float_curve = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(FLOAT_COLOR, width=1.6))
        plot.addItem(self.float_curve)
        self.overlays = [
            _Overlay(plot, spec.color, TICK_STRIPS[index % len(TICK_STRIPS)])
            for index, spec in enumerate(self.specs)
        ]
        self.tensor: TensorAnalysis | None = None
        self._title = ""
        self._legend_entries: list[tuple[pg.PlotDataItem, str]] = []

    def set_tensor(self, tensor: TensorAnalysis | None, title: str = "") -> None:
        """Draw ``tensor``'s histogram and the overlays that its results contain.

        The legend lists the curves that have data. It is rebuilt only when that set
        changes, because re-creating its text items dominates the cost of a redraw.
        """
        self.tensor = tensor
        plot = self.getPlotItem()
        if title != self._title:
            plot.setTitle(title, size="9pt")
            self._title = title
        shown: list[tuple[pg.PlotDataItem, str]] = []
        if tensor is None:
            self.float_curve.setData([], [])
            for overlay in self.overlays:
                overlay.hide()
            self._set_legend(shown)
            return
        edges = np.asarray(tensor.histogram.edges, dtype=float)
        counts = np.asarray(tensor.histogram.counts, dtype=float)
        self.float_curve.setData(edges, counts)
        shown.append((self.float_curve, QCoreApplication.translate("HistogramPlot", "float")))
        for spec, overlay in zip(self.specs, self.overlays, strict=True):
            result = tensor.results.get(spec.candidate)
            if result is None:
                overlay.hide()
                continue
            overlay.set_result(spec.label, result)
            shown.append((overlay.curve, spec.label))
        self._set_legend(shown)
        self._set_ranges(edges, counts)
        apply_view_range(self.getPlotItem())

    def set_extra(self, index: int, label: str, result: Any | None) -> None:
        """Draw ``result`` (histogram, grid, clip_range) in overlay ``index``, or hide it."""
        overlay = self.overlays[index]
        shown = [entry for entry in self._legend_entries if entry[0] is not overlay.curve]
        if result is None:
            if overlay.label:
                overlay.hide()
            self._set_legend(shown)
            return
        overlay.set_result(label, result)
        self._set_legend([*shown, (overlay.curve, label)])

    def _set_legend(self, entries: list[tuple[pg.PlotDataItem, str]]) -> None:
        if entries == self._legend_entries:
            return
        self.legend.clear()
        for curve, label in entries:
            self.legend.addItem(curve, label)
        self._legend_entries = entries

    def _set_ranges(self, edges: np.ndarray, counts: np.ndarray) -> None:
        peak = float(counts.max()) if counts.size else 1.0
        width = float(edges[-1] - edges[0])
        self.getPlotItem().setRange(
            xRange=(float(edges[0]) - 0.02 * width, float(edges[-1]) + 0.02 * width),
            yRange=(math.log10(Y_FLOOR), math.log10(max(peak, 1.0) * 2.0)),
            padding=0,
        )
