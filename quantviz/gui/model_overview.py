"""Model-wide views: SQNR per layer, the layer x metric map and the automatic-plan frontier."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from quantviz.gui.colors import FP8_COLOR, INT8_COLOR
from quantviz.gui.plots.frontier_plot import FrontierMarker, FrontierPlot
from quantviz.gui.plots.metric_heatmap import MetricHeatmap
from quantviz.gui.plots.sqnr_chart import SqnrChart, SqnrSeries

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import ModelAnalysis
    from quantviz.gui.project import Project

# (tensor, candidate, column label) of the layer x metric map, weights first.
METRIC_COLUMNS = (
    ("weight", "fp8_e4m3_tensor", QT_TRANSLATE_NOOP("ModelOverview", "W FP8 E4M3")),
    ("weight", "fp8_e5m2_tensor", QT_TRANSLATE_NOOP("ModelOverview", "W FP8 E5M2")),
    ("weight", "int8_sym_tensor", QT_TRANSLATE_NOOP("ModelOverview", "W INT8")),
    ("weight", "int8_sym_channel", QT_TRANSLATE_NOOP("ModelOverview", "W INT8/ch")),
    ("input", "fp8_e4m3_tensor", QT_TRANSLATE_NOOP("ModelOverview", "A FP8 E4M3")),
    ("input", "int8_sym_tensor", QT_TRANSLATE_NOOP("ModelOverview", "A INT8")),
)


def sqnr_values(analysis: ModelAnalysis, tensor: str, candidate: str) -> list[float]:
    """SQNR in dB per layer, NaN where the layer has no such tensor or candidate."""
    values = []
    for report in analysis.layers:
        analysed = report.weight if tensor == "weight" else report.input
        if analysed is None or candidate not in analysed.results:
            values.append(math.nan)
        else:
            values.append(float(analysed.results[candidate].metrics.sqnr_db))
    return values


class ModelOverview(QWidget):
    """Tabs with the whole-model charts; clicks select a layer or apply a frontier plan.

    The frontier tab is filled by :meth:`set_frontier` once an automatic plan has run.
    """

    layerClicked = Signal(str)
    frontierPointClicked = Signal(int)
    autoPlanRequested = Signal()

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelOverview")
        self.project = project
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("overviewTabs")
        self.sqnr_chart = SqnrChart()
        self.sqnr_chart.setObjectName("sqnrChart")
        self.metric_heatmap = MetricHeatmap()
        self.metric_heatmap.setObjectName("metricHeatmap")
        self.frontier = FrontierPlot()
        self.frontier.setObjectName("frontierPlot")
        self.frontier_status = QLabel(self.tr("Run the automatic plan to see the frontier."))
        self.frontier_status.setWordWrap(True)
        self.auto_button = QPushButton(self.tr("Run automatic plan"))
        self.auto_button.setObjectName("frontierAutoPlanButton")
        self.auto_button.clicked.connect(self.autoPlanRequested)
        frontier_page = QWidget()
        frontier_layout = QVBoxLayout(frontier_page)
        frontier_layout.setContentsMargins(0, 0, 0, 0)
        frontier_layout.addWidget(self.frontier, 1)
        row = QHBoxLayout()
        row.addWidget(self.frontier_status, 1)
        row.addWidget(self.auto_button)
        frontier_layout.addLayout(row)
        self.tabs.addTab(self.sqnr_chart, self.tr("SQNR per layer"))
        self.tabs.addTab(self.metric_heatmap, self.tr("Layer × metric"))
        self.tabs.addTab(frontier_page, self.tr("Accuracy vs size"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)

        self.sqnr_chart.layerClicked.connect(self.layerClicked)
        self.metric_heatmap.layerClicked.connect(self.layerClicked)
        self.frontier.pointClicked.connect(self.frontierPointClicked)
        project.analysisChanged.connect(self.queue_redraw)
        project.currentLayerChanged.connect(self.sqnr_chart.set_current)
        project.resultsChanged.connect(self._results_changed)
        project.modelChanged.connect(self._model_changed)

    def redraw(self) -> None:
        """Draw both charts of the project's analysis now."""
        self.project.updates.discard(self._draw_sqnr_chart, self._draw_metric_map)
        self._draw_sqnr_chart()
        self._draw_metric_map()

    def queue_redraw(self) -> None:
        """Draw the charts in two steps on the project's update queue."""
        self.project.updates.add(self._draw_sqnr_chart, self._draw_metric_map)

    def _draw_sqnr_chart(self) -> None:
        analysis = self.project.analysis
        if analysis is None:
            self.sqnr_chart.set_series([], [])
            return
        names = [report.name for report in analysis.layers]
        series = [
            SqnrSeries(
                self.tr("W FP8 E4M3"), sqnr_values(analysis, "weight", "fp8_e4m3_tensor"), FP8_COLOR
            ),
            SqnrSeries(
                self.tr("W INT8/ch"),
                sqnr_values(analysis, "weight", "int8_sym_channel"),
                INT8_COLOR,
            ),
            SqnrSeries(
                self.tr("A FP8 E4M3"),
                sqnr_values(analysis, "input", "fp8_e4m3_tensor"),
                FP8_COLOR,
                symbol="t",
                dashed=True,
            ),
            SqnrSeries(
                self.tr("A INT8"),
                sqnr_values(analysis, "input", "int8_sym_tensor"),
                INT8_COLOR,
                symbol="t",
                dashed=True,
            ),
        ]
        self.sqnr_chart.set_series(names, series)
        self.sqnr_chart.set_current(self.project.current_layer)

    def _draw_metric_map(self) -> None:
        analysis = self.project.analysis
        if analysis is None:
            self.metric_heatmap.set_matrix([], [], np.zeros((0, 0)))
            return
        names = [report.name for report in analysis.layers]
        columns = [self.tr(label) for _, _, label in METRIC_COLUMNS]
        matrix = np.column_stack(
            [sqnr_values(analysis, tensor, key) for tensor, key, _ in METRIC_COLUMNS]
        )
        self.metric_heatmap.set_matrix(names, columns, matrix)

    def _model_changed(self) -> None:
        self.frontier.set_points([], "", "")
        self.frontier_status.setText(self.tr("Run the automatic plan to see the frontier."))

    def _results_changed(self, kind: str) -> None:
        if kind == "autoplan":
            self.show_frontier(self.project.results["autoplan"])
        elif kind == "frontier_choice":
            self.frontier.set_selected(self.project.results["frontier_choice"])

    def show_frontier(self, result: Any) -> None:
        """Draw every candidate of an AutoPlanResult at (size, loss); ring the chosen one."""
        markers = []
        for point in result.frontier:
            tip = self.tr("%1\n%2 % of layers 8-bit, loss %3, %4 MB")
            for key, value in (
                ("%1", point.label),
                ("%2", f"{100 * point.share_8bit:.0f}"),
                ("%3", f"{point.loss:.4g}"),
                ("%4", f"{point.size_bytes / 1e6:.1f}"),
            ):
                tip = tip.replace(key, value)
            markers.append(FrontierMarker(point.size_bytes / 1e6, point.loss, tip))
        reference = None
        evaluation = result.evaluation
        if evaluation is not None:
            reference = FrontierMarker(
                evaluation.size.float_bytes / 1e6, 0.0, self.tr("float32 model")
            )
        task = self.project.loaded.task if self.project.loaded else "encoder"
        y_label = self.tr("loss (1 − cosine)") if task == "encoder" else self.tr("KL (nats)")
        self.frontier.set_points(markers, self.tr("size (MB)"), y_label, reference)
        self.frontier.set_selected(result.chosen)
        met = self.tr("meets the target") if result.met else self.tr("misses the target")
        self.frontier_status.setText(
            self.tr(
                "%1 plans evaluated; the ringed plan is applied (%2). Click a point to apply it."
            )
            .replace("%1", str(len(result.frontier)))
            .replace("%2", met)
        )
        self.tabs.setCurrentIndex(2)

    def frontier_points(self) -> list[Any]:
        return list(self.frontier.points)
