"""Live loss and metric curves of a QAT run."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import QWidget

from quantviz.gui.colors import FP8_COLOR, INT8_COLOR
from quantviz.gui.plots import apply_view_range, fix_left_axis

# Metrics drawn on the second plot, in order of preference, when a run reports them.
LOSS_KEYS = ("loss", "train_loss")
# Legend names of the metrics that quantviz.qat reports, by metric key.
METRIC_LABELS = {
    "loss": QT_TRANSLATE_NOOP("TrainingCurves", "loss"),
    "perplexity": QT_TRANSLATE_NOOP("TrainingCurves", "perplexity"),
    "mean_cosine": QT_TRANSLATE_NOOP("TrainingCurves", "mean cosine"),
}


def metric_label(key: str) -> str:
    """Return the translated name of a QAT metric key, or the key itself."""
    if key not in METRIC_LABELS:
        return key
    return QCoreApplication.translate("TrainingCurves", METRIC_LABELS[key])


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Training loss (top) and the other reported metrics (bottom) against the step.

    :meth:`add_point` appends one step's metrics; curves are redrawn from the stored
    arrays, so a caller that throttles its calls controls the redraw rate.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = self.addPlot(row=0, col=0)
        self.loss_plot.setLabel("left", QCoreApplication.translate("TrainingCurves", "loss"))
        self.loss_plot.showGrid(x=True, y=True, alpha=0.15)
        fix_left_axis(self.loss_plot)
        self.metric_plot = self.addPlot(row=1, col=0)
        self.metric_plot.setLabel("bottom", QCoreApplication.translate("TrainingCurves", "step"))
        self.metric_plot.showGrid(x=True, y=True, alpha=0.15)
        fix_left_axis(self.metric_plot)
        self.metric_plot.setXLink(self.loss_plot)
        self.metric_legend = self.metric_plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(FP8_COLOR, width=1.5))
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.steps: list[float] = []
        self.series: dict[str, list[float]] = {}

    def clear_points(self) -> None:
        self.steps = []
        self.series = {}
        self.loss_curve.setData([], [])
        for curve in self.metric_curves.values():
            self.metric_plot.removeItem(curve)
        self.metric_curves = {}
        self.metric_legend.clear()

    def append(self, step: float, metrics: dict[str, float]) -> None:
        """Store one step's metrics without redrawing; a missing metric is NaN there."""
        self.steps.append(float(step))
        for key, value in metrics.items():
            values = self.series.setdefault(key, [math.nan] * (len(self.steps) - 1))
            values.append(float(value))
        for values in self.series.values():
            if len(values) < len(self.steps):
                values.append(math.nan)

    def add_point(self, step: float, metrics: dict[str, float]) -> None:
        self.append(step, metrics)
        self.redraw()

    def redraw(self) -> None:
        x = np.asarray(self.steps, dtype=float)
        colors = [INT8_COLOR, (44, 160, 44), (148, 103, 189), (140, 86, 75)]
        for key, values in self.series.items():
            y = np.asarray(values, dtype=float)
            if key in LOSS_KEYS:
                self.loss_curve.setData(x, y, connect="finite")
                continue
            curve = self.metric_curves.get(key)
            if curve is None:
                color = colors[len(self.metric_curves) % len(colors)]
                curve = self.metric_plot.plot(
                    pen=pg.mkPen(color, width=1.3),
                    symbol="o",
                    symbolSize=5,
                    name=metric_label(key),
                )
                self.metric_curves[key] = curve
            finite = np.isfinite(y)
            curve.setData(x[finite], y[finite])
        apply_view_range(self.loss_plot)
        apply_view_range(self.metric_plot)
