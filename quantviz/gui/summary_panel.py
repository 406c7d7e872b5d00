"""The plan at a glance: size, share of layers per format, estimated and measured cost."""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from quantviz.gui import precision
from quantviz.gui.i18n import sensitivity_metric_label, translate

if TYPE_CHECKING:
    from quantviz.gui.project import Project

logger = logging.getLogger(__name__)

REFRESH_DEBOUNCE_MS = 80


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


class SummaryPanel(QWidget):
    """Recomputed after every plan change (debounced, so a burst of edits refreshes once).

    The size comes from the engine's :func:`quantviz.evaluate.plan_size`, the estimated
    cost from :func:`quantviz.evaluate.estimated_cost` (the per-layer sensitivities
    summed over the layers the plan quantizes, an estimate).
    The measured cost is the latest evaluation, marked when the plan changed after it.
    """

    evaluateRequested = Signal()
    refreshed = Signal()

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summaryPanel")
        self.project = project
        self.size_label = QLabel(self)
        self.size_label.setObjectName("sizeLabel")
        self.cost_label = QLabel(self)
        self.cost_label.setObjectName("costLabel")
        self.cost_label.setWordWrap(True)
        self.evaluation_label = QLabel(self)
        self.evaluation_label.setObjectName("evaluationLabel")
        self.evaluation_label.setWordWrap(True)
        self.evaluation_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evaluate_button = QPushButton(self.tr("&Evaluate plan"), self)
        self.evaluate_button.setObjectName("summaryEvaluateButton")
        self.evaluate_button.clicked.connect(self.evaluateRequested)
        self.share_table = QTableWidget(0, 3, self)
        self.share_table.setObjectName("shareTable")
        self.share_table.setHorizontalHeaderLabels(
            [self.tr("format"), self.tr("weights"), self.tr("inputs")]
        )
        self.share_table.verticalHeader().setVisible(False)
        self.share_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.share_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.share_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        form = QFormLayout()
        form.addRow(self.tr("Size:"), self.size_label)
        form.addRow(self.tr("Estimated cost:"), self.cost_label)
        form.addRow(self.tr("Evaluation:"), self.evaluation_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.share_table, 1)
        layout.addWidget(self.evaluate_button)

        self.evaluated_at: int | None = None
        self.size: Any = None
        self.estimated_cost: float | None = None
        self.schedule_refresh = qdebounced(self.refresh, timeout=REFRESH_DEBOUNCE_MS, parent=self)
        project.planChanged.connect(self._plan_changed)
        project.analysisChanged.connect(self.schedule_refresh)
        project.modelChanged.connect(self.schedule_refresh)
        project.resultsChanged.connect(self._results_changed)
        project.undo_stack.indexChanged.connect(self._draw_evaluation)

    def _plan_changed(self, changed: object) -> None:
        self.schedule_refresh()

    def _results_changed(self, kind: str) -> None:
        if kind == "evaluation":
            self.evaluated_at = self.project.undo_stack.index()
            self._draw_evaluation()

    def refresh(self) -> None:
        self._draw_size()
        self._draw_shares()
        self._draw_cost()
        self._draw_evaluation()
        self.refreshed.emit()

    def _draw_size(self) -> None:
        loaded, plan = self.project.loaded, self.project.plan
        if loaded is None or plan is None:
            self.size = None
            self.size_label.setText("–")
            return
        from quantviz.evaluate import plan_size

        self.size = plan_size(loaded, plan)
        text = self.tr("%1 (float32 %2, %3 %)")
        text = text.replace("%1", _megabytes(self.size.plan_bytes))
        text = text.replace("%2", _megabytes(self.size.float_bytes))
        text = text.replace("%3", f"{100 * self.size.ratio:.1f}")
        self.size_label.setText(text)

    def _draw_shares(self) -> None:
        configs = self.project.configs()
        weights = Counter(config.weight.label for config in configs.values())
        inputs = Counter(config.input.label for config in configs.values())
        total = max(len(configs), 1)
        labels = sorted(set(weights) | set(inputs), key=lambda label: (label != "float", label))
        self.share_table.setRowCount(len(labels))
        for row, label in enumerate(labels):
            cells = (
                precision.display_label(precision.WEIGHT, label)
                if label in weights
                else precision.display_label(precision.INPUT, label),
                f"{weights[label]} ({100 * weights[label] / total:.0f} %)",
                f"{inputs[label]} ({100 * inputs[label] / total:.0f} %)",
            )
            for column, text in enumerate(cells):
                self.share_table.setItem(row, column, QTableWidgetItem(text))

    def _draw_cost(self) -> None:
        analysis = self.project.analysis
        cost = None
        if analysis is not None:
            from quantviz.evaluate import estimated_cost

            cost = estimated_cost(analysis, self.project.configs())
        if cost is None:
            self.estimated_cost = None
            self.cost_label.setText(self.tr("needs the sensitivity analysis"))
            return
        self.estimated_cost = cost.value
        metric = sensitivity_metric_label(cost.metric)
        text = self.tr("%1 (%2, sum over the quantized layers of their own cost)")
        self.cost_label.setText(text.replace("%1", f"{cost.value:.3g}").replace("%2", metric))

    def _draw_evaluation(self, *args: object) -> None:
        # The undo stack emits indexChanged while the window is being destroyed.
        if not shiboken6.isValid(self.project.undo_stack):
            return
        result = self.project.results.get("evaluation")
        if result is None:
            self.evaluation_label.setText(self.tr("not run (press Evaluate)"))
            return
        text = evaluation_text(result)
        if self.evaluated_at is not None and self.evaluated_at != self.project.undo_stack.index():
            text += " " + self.tr("(for an earlier plan)")
        self.evaluation_label.setText(text)


def evaluation_text(result: Any) -> str:
    """Describe an EvaluationResult against the float model in one line."""
    if result.task == "causal_lm":
        text = translate("SummaryPanel", "perplexity %1 → %2 (%3 %), KL %4 nats")
        values = (
            f"{result.perplexity_float:.3f}",
            f"{result.perplexity_quant:.3f}",
            f"{100 * (result.perplexity_change or 0.0):+.2f}",
            f"{result.kl:.3g}",
        )
    else:
        text = translate("SummaryPanel", "embedding cosine vs float: mean %1, min %2 (loss %3)")
        values = (f"{result.mean_cosine:.5f}", f"{result.min_cosine:.5f}", f"{result.loss:.3g}")
    for index, value in enumerate(values, start=1):
        text = text.replace(f"%{index}", value)
    if math.isnan(result.loss):
        text += " " + translate("SummaryPanel", "(the quantized model produced NaN)")
    return text
