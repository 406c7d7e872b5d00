"""Everything about the selected layer: histograms, outliers, heatmaps and numbers."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qthrottled

from quantviz.gui import jobs
from quantviz.gui.colors import FP8_COLOR, GREEN, INT8_COLOR, sqnr_color
from quantviz.gui.i18n import sensitivity_metric_label
from quantviz.gui.plots.activation_heatmap_view import ActivationHeatmapView
from quantviz.gui.plots.channel_plot import ChannelAbsmaxPlot
from quantviz.gui.plots.error_heatmaps_view import ErrorHeatmapsView
from quantviz.gui.plots.histogram_plot import HistogramPlot, OverlaySpec
from quantviz.gui.workers import EngineWorker, JobRunner

if TYPE_CHECKING:
    from quantviz.analysis.heatmap import Heatmap
    from quantviz.analysis.pipeline import LayerReport
    from quantviz.analysis.results import TensorAnalysis
    from quantviz.gui.project import Project

logger = logging.getLogger(__name__)

# Full-size heatmaps kept per layer, so stepping back and forth through rows is instant.
EXTRAS_CACHE_LAYERS = 24
REDRAW_THROTTLE_MS = 40
HEADER_LINES = 5

CANDIDATE_LABELS = {
    "fp8_e4m3_tensor": QT_TRANSLATE_NOOP("LayerDetailPanel", "FP8 E4M3"),
    "fp8_e5m2_tensor": QT_TRANSLATE_NOOP("LayerDetailPanel", "FP8 E5M2"),
    "int8_sym_tensor": QT_TRANSLATE_NOOP("LayerDetailPanel", "INT8"),
    "int8_sym_channel": QT_TRANSLATE_NOOP("LayerDetailPanel", "INT8/ch"),
    "int8_asym_tensor": QT_TRANSLATE_NOOP("LayerDetailPanel", "UINT8 asym"),
}
METRIC_COLUMNS = (
    QT_TRANSLATE_NOOP("LayerDetailPanel", "tensor"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "format"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "SQNR dB"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "MSE"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "cosine"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "max |err|"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "clipped"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "underflow"),
    QT_TRANSLATE_NOOP("LayerDetailPanel", "scale"),
)


class LayerDetailPanel(QWidget):
    """The selected layer's views; follows :attr:`Project.currentLayerChanged`.

    Redraws are throttled to one per :data:`REDRAW_THROTTLE_MS` (leading and trailing
    edge), so holding an arrow key in the table redraws for the row it stops on. A new
    analysis or model and trained weights redraw in three steps on the project's
    :class:`~quantviz.gui.update_queue.UpdateQueue`. The
    error heatmaps first show the analysis' small maps, then a full-size map from the
    model's weight computed in a worker.
    """

    redrawn = Signal(str)  # the layer name, after every redraw
    heatmapsReady = Signal(str)  # the layer name, when full-size heatmaps are drawn

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerDetail")
        self.project = project
        self.runner = runner
        self.layer = ""
        self._extras: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._extras_worker: EngineWorker | None = None
        self.heatmaps_enabled = True
        self._build()
        self.schedule_redraw = qthrottled(self.redraw, timeout=REDRAW_THROTTLE_MS, parent=self)
        project.currentLayerChanged.connect(self._current_layer_changed)
        project.analysisChanged.connect(self.queue_redraw)
        project.modelChanged.connect(self._model_changed)
        project.resultsChanged.connect(self._results_changed)

    def _build(self) -> None:
        self.header = QLabel(self)
        self.header.setObjectName("layerHeader")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Room for the usual five lines (name, shape, a wrapped recommendation, the
        # sensitivity), so that stepping through layers does not resize the plots below,
        # because each resize repaints them twice.
        self.header.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.header.setMinimumHeight(HEADER_LINES * self.header.fontMetrics().lineSpacing())
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("layerTabs")

        fp8 = self.tr("FP8 E4M3")
        self.weight_histogram = HistogramPlot(
            [
                OverlaySpec("fp8_e4m3_tensor", fp8, FP8_COLOR),
                OverlaySpec("int8_sym_channel", self.tr("INT8/ch (clip range)"), INT8_COLOR),
                OverlaySpec("", self.tr("trained"), GREEN),
            ]
        )
        self.weight_histogram.setObjectName("weightHistogram")
        self.input_histogram = HistogramPlot(
            [
                OverlaySpec("fp8_e4m3_tensor", fp8, FP8_COLOR),
                OverlaySpec("int8_sym_tensor", self.tr("INT8"), INT8_COLOR),
                OverlaySpec("", self.tr("trained"), GREEN),
            ]
        )
        self.input_histogram.setObjectName("inputHistogram")
        self.channel_plot = ChannelAbsmaxPlot()
        self.channel_plot.setObjectName("channelPlot")
        distributions = QSplitter(Qt.Orientation.Vertical)
        distributions.setObjectName("distributionsSplitter")
        for widget in (self.weight_histogram, self.input_histogram, self.channel_plot):
            distributions.addWidget(widget)
        self.tabs.addTab(distributions, self.tr("&Distributions"))

        self.error_heatmaps = ErrorHeatmapsView()
        self.error_heatmaps.setObjectName("errorHeatmaps")
        self.activation_heatmap = ActivationHeatmapView()
        self.activation_heatmap.setObjectName("activationHeatmap")
        self.heatmap_status = QLabel(self)
        heatmaps = QWidget()
        heatmaps_layout = QVBoxLayout(heatmaps)
        heatmaps_layout.setContentsMargins(0, 0, 0, 0)
        heatmap_splitter = QSplitter(Qt.Orientation.Vertical)
        heatmap_splitter.addWidget(self.error_heatmaps)
        heatmap_splitter.addWidget(self.activation_heatmap)
        heatmaps_layout.addWidget(heatmap_splitter, 1)
        heatmaps_layout.addWidget(self.heatmap_status)
        self.tabs.addTab(heatmaps, self.tr("&Heatmaps"))

        self.metrics_table = QTableWidget(0, len(METRIC_COLUMNS), self)
        self.metrics_table.setObjectName("metricsTable")
        self.metrics_table.setHorizontalHeaderLabels([self.tr(text) for text in METRIC_COLUMNS])
        self.metrics_table.verticalHeader().setVisible(False)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.outlier_label = QLabel(self)
        self.outlier_label.setWordWrap(True)
        self.outlier_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        numbers = QWidget()
        numbers_layout = QVBoxLayout(numbers)
        numbers_layout.addWidget(self.metrics_table, 1)
        numbers_layout.addWidget(self.outlier_label)
        self.tabs.addTab(numbers, self.tr("&Numbers"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)

    # -- redraw ------------------------------------------------------------------------

    def _current_layer_changed(self, name: str) -> None:
        self.schedule_redraw()

    def _model_changed(self) -> None:
        self._extras.clear()
        self.queue_redraw()

    def _results_changed(self, kind: str) -> None:
        if kind == "qat":
            self.clear_cache()

    def clear_cache(self) -> None:
        """Forget computed layer views (the weights or learned scales changed)."""
        self._extras.clear()
        self.queue_redraw()

    def redraw(self) -> None:
        """Draw the project's current layer in every view now."""
        steps = self._redraw_steps()
        self.project.updates.discard(*steps)
        for step in steps:
            step()

    def queue_redraw(self) -> None:
        """Redraw in steps on the project's update queue, one per event-loop turn.

        Used for results that change every view (a new analysis or model, trained
        weights), so that this panel does not redraw in the same turn as the others.
        """
        self.project.updates.add(*self._redraw_steps())

    def _redraw_steps(self) -> tuple[Callable[[], None], ...]:
        return (self._draw_weight, self._draw_input, self._draw_maps_and_numbers)

    def _draw_weight(self) -> None:
        name = self.project.current_layer
        self.layer = name
        report = self.project.report(name)
        self._draw_header(name, report)
        self.weight_histogram.set_tensor(report.weight if report else None, self.tr("weight"))
        trained = self.trained_views(name).get("weight")
        self.weight_histogram.set_extra(2, self.tr("trained scale"), trained)

    def _draw_input(self) -> None:
        name = self.layer
        report = self.project.report(name)
        inputs = report.input if report else None
        self.input_histogram.set_tensor(inputs, self.tr("input activation"))
        trained = self.trained_views(name).get("input")
        self.input_histogram.set_extra(2, self.tr("trained scale"), trained)
        self.channel_plot.set_outliers(
            inputs.outliers if inputs else None, self.tr("input channel max |x|")
        )

    def _draw_maps_and_numbers(self) -> None:
        name = self.layer
        report = self.project.report(name)
        inputs = report.input if report else None
        self._draw_error_heatmaps(name, report.weight if report else None)
        self.activation_heatmap.set_heatmap(inputs.heatmap if inputs else None)
        self._draw_numbers(report)
        self.redrawn.emit(name)
        self._request_extras(name)

    def _draw_header(self, name: str, report: LayerReport | None) -> None:
        if not name:
            self.header.setText(self.tr("No layer selected"))
            return
        info = next((i for i in self.project.infos() if i.name == name), None)
        parts = [f"<b>{name}</b>"]
        if info is not None:
            shape = " × ".join(str(size) for size in info.weight_shape)
            parts.append(
                self.tr("%1, %2, %3 parameters")
                .replace("%1", info.kind)
                .replace("%2", shape)
                .replace("%3", f"{info.num_params:,}")
            )
        if report is not None and report.recommendation is not None:
            parts.append(self.tr("Recommendation: %1").replace("%1", report.recommendation.reason))
        if report is not None and report.sensitivity is not None:
            sensitivity = report.sensitivity
            text = self.tr("Sensitivity (%1): weights %2, inputs %3, both %4")
            for key, value in (
                ("%1", sensitivity_metric_label(sensitivity.metric)),
                ("%2", f"{sensitivity.weights:.3g}"),
                ("%3", f"{sensitivity.inputs:.3g}"),
                ("%4", f"{sensitivity.both:.3g}"),
            ):
                text = text.replace(key, value)
            parts.append(text)
        if report is None:
            parts.append(self.tr("Not analysed yet."))
        self.header.setText("<br>".join(parts))

    def _draw_trained(self, name: str) -> None:
        trained = self.trained_views(name)
        self.weight_histogram.set_extra(2, self.tr("trained scale"), trained.get("weight"))
        self.input_histogram.set_extra(2, self.tr("trained scale"), trained.get("input"))

    def _draw_error_heatmaps(self, name: str, weight: TensorAnalysis | None) -> None:
        full = self.full_heatmaps(name)
        arrays = None
        if full is not None:
            self._extras.move_to_end(name)
            fp8, int8 = (full.get(key) for key in jobs.HEATMAP_CANDIDATES)
            converted = self._extras[name].get("heatmap_arrays")
            if converted is not None:
                arrays = tuple(converted.get(key) for key in jobs.HEATMAP_CANDIDATES)
            self.heatmap_status.setText(self.tr("Full-size error maps from the model's weight."))
        elif weight is not None:
            fp8, int8 = (
                weight.results[key].heatmap if key in weight.results else None
                for key in jobs.HEATMAP_CANDIDATES
            )
            self.heatmap_status.setText(self.tr("Analysis maps; computing full-size maps…"))
        else:
            fp8 = int8 = None
            self.heatmap_status.setText("")
        self.error_heatmaps.set_heatmaps(
            fp8, int8, self.tr("FP8 E4M3 |W − Q(W)|"), self.tr("INT8/ch |W − Q(W)|"), arrays
        )

    def _draw_numbers(self, report: LayerReport | None) -> None:
        rows = []
        if report is not None:
            for role, tensor in (
                (self.tr("weight"), report.weight),
                (self.tr("input"), report.input),
            ):
                if tensor is None:
                    continue
                for key, result in tensor.results.items():
                    rows.append((role, key, result))
        self.metrics_table.setRowCount(len(rows))
        for row, (role, key, result) in enumerate(rows):
            metrics = result.metrics
            cells = (
                role,
                self.tr(CANDIDATE_LABELS[key]) if key in CANDIDATE_LABELS else key,
                _db(metrics.sqnr_db),
                f"{metrics.mse:.3g}",
                f"{metrics.cosine:.6f}",
                f"{metrics.max_abs_error:.3g}",
                f"{metrics.clipped_fraction:.3%}",
                f"{metrics.underflow_fraction:.3%}",
                _scale_range(result.scale_min, result.scale_max),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if column == 2:
                    color = sqnr_color(metrics.sqnr_db, alpha=110)
                    if color is not None:
                        item.setBackground(color)
                self.metrics_table.setItem(row, column, item)
        self.outlier_label.setText(self._outlier_text(report))

    def _outlier_text(self, report: LayerReport | None) -> str:
        if report is None or report.input is None:
            return ""
        stats = report.input.outliers
        text = self.tr(
            "Input: kurtosis %1, channel max/median %2×, %3 values ≥ %4, top channels %5"
        )
        channels = ", ".join(f"{index} ({value:.3g})" for index, value in stats.top_channels[:5])
        for key, value in (
            ("%1", f"{stats.kurtosis:.1f}"),
            ("%2", f"{stats.channel_ratio:.1f}"),
            ("%3", f"{stats.beyond_threshold:,}"),
            ("%4", f"{stats.threshold:g}"),
            ("%5", channels),
        ):
            text = text.replace(key, value)
        if stats.top_tokens:
            tokens = ", ".join(
                f"{token.get('token', token.get('token_id'))!r} ({token['absmax']:.3g})"
                for token in stats.top_tokens[:5]
            )
            text += "<br>" + self.tr("Top tokens: %1").replace("%1", tokens)
        return text

    # -- full-size heatmaps and learned scales ------------------------------------------

    def _request_extras(self, name: str) -> None:
        loaded = self.project.loaded
        if (
            not name
            or loaded is None
            or name in self._extras
            or not self.heatmaps_enabled
            or name not in self.project.layer_names()
        ):
            return
        if self._extras_worker is not None:
            self._extras_worker.quit()
        report = self.project.report(name)
        plan = self.project.plan
        scales = (
            dict(plan.scales.get(name, {}))
            if plan is not None and "qat" in self.project.results
            else None
        )
        worker = EngineWorker(
            jobs.layer_extras,
            loaded,
            name,
            scales,
            report.weight.histogram.edges if report else None,
            report.input.histogram.edges if report and report.input else None,
            title="layer views",
            progress_arg=None,
        )
        self._extras_worker = worker
        worker.finished.connect(lambda: self._worker_done(worker))
        self.runner.start(
            worker,
            exclusive=False,
            returned=lambda extras, name=name: self._extras_returned(name, extras),
            errored=lambda error: logger.warning("layer views of %s failed: %s", name, error),
        )

    def _worker_done(self, worker: EngineWorker) -> None:
        if self._extras_worker is worker:
            self._extras_worker = None

    def _extras_returned(self, name: str, extras: dict[str, Any]) -> None:
        self._extras[name] = extras
        while len(self._extras) > EXTRAS_CACHE_LAYERS:
            self._extras.popitem(last=False)
        if name == self.layer:
            report = self.project.report(name)
            self._draw_error_heatmaps(name, report.weight if report else None)
            self._draw_trained(name)
            self.heatmapsReady.emit(name)

    def full_heatmaps(self, name: str) -> dict[str, Heatmap] | None:
        extras = self._extras.get(name)
        return extras["heatmaps"] if extras else None

    def trained_views(self, name: str) -> dict[str, Any]:
        extras = self._extras.get(name)
        return extras.get("trained", {}) if extras else {}


def _db(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:.2f}"


def _scale_range(low: float, high: float) -> str:
    if math.isclose(low, high, rel_tol=1e-6):
        return f"{low:.3g}"
    return f"{low:.3g} … {high:.3g}"
