"""Quantization-aware training: settings, live curves, pause and cancel, before/after."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qthrottled

from quantviz.errors import QuantvizError
from quantviz.gui.colors import sqnr_color
from quantviz.gui.i18n import stage_label
from quantviz.gui.plots.training_curves import TrainingCurves, metric_label

if TYPE_CHECKING:
    from quantviz.gui.workers import EngineWorker
    from quantviz.gui.workflow import Workflow
    from quantviz.progress import ProgressEvent

CURVE_THROTTLE_MS = 100
# Rows of the before/after table filled per event-loop turn when a run ends.
COMPARISON_ROWS_PER_STEP = 64
# Menu texts of quantviz.qat.DISTILLATION_MODES; a mode missing here shows its name.
DISTILLATION_LABELS = {
    "auto": QT_TRANSLATE_NOOP("QATDialog", "auto (KL or cosine by task)"),
    "kl": QT_TRANSLATE_NOOP("QATDialog", "KL of the logits"),
    "cosine": QT_TRANSLATE_NOOP("QATDialog", "cosine of the hidden states"),
    "none": QT_TRANSLATE_NOOP("QATDialog", "none (next-token cross-entropy)"),
}


class QATDialog(QDialog):
    """A non-modal window that runs :func:`quantviz.qat.run_qat` on the open model.

    Loss and held-out metric are drawn as the steps report them (redraws throttled to
    one per :data:`CURVE_THROTTLE_MS`). Pause stops the run between two steps until
    Resume. Cancel stops it at the next step and keeps the steps done. When the run
    ends, a table lists each layer's weight SQNR before and after training.
    """

    finished_run = Signal(object)  # the QATResult, once it is shown

    def __init__(self, workflow: Workflow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from quantviz.qat import DISTILLATION_MODES, PauseToken, QATConfig

        self.setObjectName("qatDialog")
        self.setWindowTitle(self.tr("Quantization-aware training"))
        self.workflow = workflow
        self.pause_token = PauseToken()
        self.worker: EngineWorker | None = None
        self.result: Any = None
        defaults = QATConfig()

        self.steps = self._int_spin(1, 1_000_000, defaults.steps)
        self.learning_rate = self._float_spin(0.0, 1.0, defaults.learning_rate, 8)
        self.scale_learning_rate = self._float_spin(0.0, 1.0, defaults.scale_learning_rate, 6)
        self.batch_size = self._int_spin(1, 1024, defaults.batch_size)
        self.seq_len = self._int_spin(2, 8192, defaults.seq_len)
        self.eval_every = self._int_spin(0, 1_000_000, defaults.eval_every)
        self.eval_every.setSpecialValueText(self.tr("only at start and end"))
        self.eval_samples = self._int_spin(1, 100_000, defaults.eval_samples)
        self.calibration_samples = self._int_spin(1, 100_000, defaults.calibration_samples)
        self.learnable = QCheckBox(self.tr("Learn the &scales (LSQ)"), self)
        self.learnable.setChecked(defaults.learnable_scales)
        self.distillation = QComboBox(self)
        for mode in DISTILLATION_MODES:
            label = DISTILLATION_LABELS.get(mode)
            self.distillation.addItem(self.tr(label) if label else mode, mode)
        self.distillation.setCurrentIndex(self.distillation.findData(defaults.distillation))
        self.out_dir = QLineEdit(self)
        self.out_dir.setPlaceholderText(self.tr("optional: folder for the fine-tuned model"))
        browse = QPushButton(self.tr("&Browse…"), self)
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("S&teps:"), self.steps)
        form.addRow(self.tr("&Learning rate:"), self.learning_rate)
        form.addRow(self.tr("Scale learning rate (relative):"), self.scale_learning_rate)
        form.addRow(self.tr("Batch si&ze:"), self.batch_size)
        form.addRow(self.tr("Se&quence length:"), self.seq_len)
        form.addRow(self.tr("&Distillation:"), self.distillation)
        form.addRow(self.tr("E&valuate every:"), self.eval_every)
        form.addRow(self.tr("Evaluation sa&mples:"), self.eval_samples)
        form.addRow(self.tr("Calibration samp&les:"), self.calibration_samples)
        form.addRow("", self.learnable)
        out_label = QLabel(self.tr("&Output folder:"), self)
        out_label.setBuddy(self.out_dir)
        form.addRow(out_label, out_row)

        self.start_button = QPushButton(self.tr("&Start"), self)
        self.start_button.setObjectName("qatStart")
        self.pause_button = QPushButton(self.tr("&Pause"), self)
        self.pause_button.setObjectName("qatPause")
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton(self.tr("&Cancel run"), self)
        self.cancel_button.setObjectName("qatCancel")
        close_button = QPushButton(self.tr("Close"), self)
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self.set_paused)
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)

        self.progress = QProgressBar(self)
        self.status = QLabel(self)
        self.status.setObjectName("qatStatus")
        self.status.setWordWrap(True)
        self.curves = TrainingCurves(self)
        self.curves.setObjectName("qatCurves")
        self.comparison = QTableWidget(0, 4, self)
        self.comparison.setObjectName("qatComparison")
        self.comparison.setHorizontalHeaderLabels(
            [self.tr("layer"), self.tr("W SQNR before"), self.tr("after"), self.tr("change")]
        )
        self.comparison.verticalHeader().setVisible(False)
        self.comparison.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # No sort indicator: rows stay in model order until a header is clicked.
        self.comparison.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.comparison.setSortingEnabled(True)
        self.comparison.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.curves)
        splitter.addWidget(self.comparison)
        splitter.setSizes([320, 260])

        settings = QWidget(self)
        settings_layout = QVBoxLayout(settings)
        settings_layout.setContentsMargins(0, 0, 0, 0)
        settings_layout.addLayout(form)
        settings_layout.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(settings)
        top.addWidget(splitter, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.redraw_curves = qthrottled(self.curves.redraw, timeout=CURVE_THROTTLE_MS, parent=self)
        self._set_running(False)
        self.resize(1000, 640)

    def _int_spin(self, low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(low, high)
        spin.setValue(value)
        return spin

    def _float_spin(self, low: float, high: float, value: float, decimals: int) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setDecimals(decimals)
        spin.setRange(low, high)
        spin.setSingleStep(10**-decimals * 10)
        spin.setValue(value)
        return spin

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Output folder"))
        if folder:
            self.out_dir.setText(folder)

    def config(self) -> Any:
        """Build the QATConfig of the form; raise QuantvizError for an invalid combination."""
        from quantviz.qat import QATConfig

        return QATConfig(
            steps=self.steps.value(),
            learning_rate=self.learning_rate.value(),
            scale_learning_rate=self.scale_learning_rate.value(),
            batch_size=self.batch_size.value(),
            seq_len=self.seq_len.value(),
            learnable_scales=self.learnable.isChecked(),
            distillation=self.distillation.currentData(),
            eval_every=self.eval_every.value(),
            eval_samples=self.eval_samples.value(),
            calibration_samples=self.calibration_samples.value(),
            checkpoint_every=0 if not self.out_dir.text().strip() else QATConfig().checkpoint_every,
        )

    # -- running -----------------------------------------------------------------------

    def start(self) -> bool:
        try:
            config = self.config()
        except QuantvizError as error:
            self.status.setText(str(error))
            return False
        self.pause_token.resume()
        self.pause_button.setChecked(False)
        self.result = None
        self.curves.clear_points()
        self.comparison.setRowCount(0)
        self.progress.setRange(0, config.steps)
        self.progress.setValue(0)
        worker = self.workflow.start_qat(
            config, self.out_dir.text().strip(), self.pause_token, self._connect
        )
        if worker is None:
            self.status.setText(self.tr("Could not start: another job is running."))
            return False
        self.worker = worker
        self._set_running(True)
        self.status.setText(self.tr("Preparing: applying the plan and measuring the start…"))
        return True

    def _connect(self, worker: EngineWorker) -> None:
        worker.signals.progress.connect(self._progress)
        worker.returned.connect(self._returned)
        worker.finished.connect(self._run_finished)

    def _run_finished(self) -> None:
        self._set_running(False)

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.pause_token.pause()
            self.pause_button.setText(self.tr("&Resume"))
            self.status.setText(self.tr("Pausing before the next step…"))
        else:
            self.pause_token.resume()
            self.pause_button.setText(self.tr("&Pause"))

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.status.setText(self.tr("Stopping at the next step…"))

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.worker = None
            self.pause_button.setChecked(False)

    def _progress(self, event: ProgressEvent) -> None:
        if event.stage == "paused":
            self.status.setText(self.tr("Paused after step %1").replace("%1", str(event.step)))
            return
        if event.stage != "qat":
            stage = stage_label(event.stage)
            self.status.setText(f"{stage}: {event.step}/{event.total} {event.item}")
            return
        self.progress.setValue(event.step)
        metrics = {key: value for key, value in event.metrics.items() if key in ("loss",)}
        for key in ("perplexity", "mean_cosine"):
            if key in event.metrics:
                metrics[key] = event.metrics[key]
        self.curves.append(event.step, metrics)
        self.redraw_curves()
        eta = event.metrics.get("eta_s")
        text = self.tr("Step %1 of %2, %3").replace("%1", str(event.step))
        text = text.replace("%2", str(event.total)).replace("%3", event.item)
        if eta is not None:
            text += self.tr(", about %1 s left").replace("%1", f"{eta:.0f}")
        self.status.setText(text)

    def _returned(self, result: Any) -> None:
        """Show ``result`` in steps on the project's update queue, then emit finished_run.

        The workflow's own handler, which adopts the learned scales and so redraws the
        main window, runs before this one. Queueing keeps those redraws and this
        dialog's in separate event-loop turns.
        """
        self.result = result
        rows = len(result.weight_sqnr)
        steps = [partial(self._draw_result_curves, result)]
        steps.append(partial(self._start_comparison, rows))
        for start in range(0, rows, COMPARISON_ROWS_PER_STEP):
            stop = min(start + COMPARISON_ROWS_PER_STEP, rows)
            steps.append(partial(self._fill_comparison, result, start, stop))
        steps.append(partial(self._result_shown, result))
        self.workflow.project.updates.add(*steps)

    def _draw_result_curves(self, result: Any) -> None:
        self.curves.clear_points()
        evaluated = {point.step: point.value for point in result.eval_curve}
        if 0 in evaluated:
            self.curves.append(0, {result.eval_metric: evaluated[0]})
        for step, loss in enumerate(result.losses, start=1):
            metrics = {"loss": loss}
            if step in evaluated:
                metrics[result.eval_metric] = evaluated[step]
            self.curves.append(step, metrics)
        self.curves.redraw()

    def _start_comparison(self, rows: int) -> None:
        self.comparison.setSortingEnabled(False)
        self.comparison.setRowCount(rows)

    def _fill_comparison(self, result: Any, start: int, stop: int) -> None:
        for row in range(start, stop):
            layer = result.weight_sqnr[row]
            change = (
                layer.after_db - layer.before_db
                if layer.after_db is not None and math.isfinite(layer.before_db)
                else None
            )
            cells = (
                (layer.name, None),
                (_number(layer.before_db), layer.before_db),
                (_number(layer.after_db), layer.after_db),
                (_number(change, signed=True), change),
            )
            for column, (text, value) in enumerate(cells):
                item = QTableWidgetItem(text)
                if value is not None:
                    item.setData(Qt.ItemDataRole.UserRole, value)
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if column in (1, 2) and value is not None:
                    color = sqnr_color(value, alpha=110)
                    if color is not None:
                        item.setBackground(color)
                self.comparison.setItem(row, column, item)

    def _result_shown(self, result: Any) -> None:
        self.comparison.setSortingEnabled(True)
        text = self.tr("%1: float %2, before QAT %3, after %4 (%5 steps, %6 s)")
        for key, value in (
            ("%1", metric_label(result.eval_metric)),
            ("%2", _number(result.metric_float)),
            ("%3", _number(result.metric_before)),
            ("%4", _number(result.metric_after)),
            ("%5", str(result.steps_done)),
            ("%6", f"{result.train_seconds:.1f}"),
        ):
            text = text.replace(key, value)
        if result.cancelled:
            text += " " + self.tr("(stopped early)")
        self.status.setText(text)
        self.finished_run.emit(result)

    def closeEvent(self, event: Any) -> None:
        # Closing hides the window. A running job keeps going and stays cancellable
        # from the main window's status bar.
        super().closeEvent(event)


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:+.3g}" if signed else f"{value:.4g}"
