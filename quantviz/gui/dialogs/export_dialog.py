"""Export the plan to ONNX, check it in ONNX Runtime and benchmark it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from quantviz.gui.i18n import stage_label

if TYPE_CHECKING:
    from quantviz.gui.workers import EngineWorker
    from quantviz.gui.workflow import Workflow
    from quantviz.progress import ProgressEvent

OPSETS = (13, 17, 19, 20, 21)


class ExportDialog(QDialog):
    """A non-modal window: choose the file and checks, run, read the result.

    The result lists the file size and the parity check against the fake-quantized
    PyTorch model (verdict, worst output SQNR, first divergent layer). It adds the
    benchmark's size, latency and accuracy against float32, and the JSON report's path
    (beside the model, as ``<name>.report.json``).
    """

    finished_export = Signal(object)  # the ExportReport

    def __init__(self, workflow: Workflow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(self.tr("Export to ONNX"))
        self.workflow = workflow
        self.worker: EngineWorker | None = None
        self.report: Any = None

        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("exportPath")
        spec = workflow.project.spec or "model"
        default_name = Path(spec.replace("sample:", "")).name or "model"
        self.path_edit.setText(str(Path.cwd() / f"{default_name}-quantized.onnx"))
        browse = QPushButton(self.tr("&Browse…"), self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.opset_combo = QComboBox(self)
        self.opset_combo.setObjectName("opsetCombo")
        self.opset_combo.addItem(self.tr("lowest that fits the formats"), None)
        for opset in OPSETS:
            self.opset_combo.addItem(str(opset), opset)
        self.check_box = QCheckBox(self.tr("&Check parity in ONNX Runtime"), self)
        self.check_box.setChecked(True)
        self.check_samples = QSpinBox(self)
        self.check_samples.setRange(1, 256)
        self.check_samples.setValue(2)
        self.bench_box = QCheckBox(self.tr("&Benchmark against float32"), self)
        self.bench_box.setChecked(True)
        self.bench_items = QSpinBox(self)
        self.bench_items.setRange(1, 100_000)
        self.bench_items.setValue(64)
        self.baselines_box = QCheckBox(
            self.tr("Also measure ONNX Runtime's dynamic quantization"), self
        )
        form = QFormLayout()
        path_label = QLabel(self.tr("&File:"), self)
        path_label.setBuddy(self.path_edit)
        form.addRow(path_label, path_row)
        form.addRow(self.tr("&Opset:"), self.opset_combo)
        form.addRow(self.check_box)
        form.addRow(self.tr("Held-out sequences for the check:"), self.check_samples)
        form.addRow(self.bench_box)
        form.addRow(self.tr("Held-out texts for the benchmark:"), self.bench_items)
        form.addRow(self.baselines_box)

        self.progress = QProgressBar(self)
        self.result_text = QPlainTextEdit(self)
        self.result_text.setObjectName("exportResult")
        self.result_text.setReadOnly(True)
        self.start_button = QPushButton(self.tr("&Export"), self)
        self.start_button.setObjectName("exportStart")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(self.tr("&Cancel"), self)
        self.cancel_button.clicked.connect(self.cancel)
        close_button = QPushButton(self.tr("Close"), self)
        close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_text, 1)
        layout.addLayout(buttons)
        self._set_running(False)
        self.resize(720, 520)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export to"), self.path_edit.text(), self.tr("ONNX models (*.onnx)")
        )
        if path:
            self.path_edit.setText(path)

    def options(self) -> dict[str, Any]:
        return {
            "opset": self.opset_combo.currentData(),
            "check": self.check_box.isChecked(),
            "check_samples": self.check_samples.value(),
            "bench": self.bench_box.isChecked(),
            "bench_items": self.bench_items.value(),
            "bench_baselines": self.baselines_box.isChecked(),
        }

    def start(self) -> bool:
        path = self.path_edit.text().strip()
        if not path:
            self.result_text.setPlainText(self.tr("Choose a file to export to."))
            return False
        self.result_text.setPlainText(self.tr("Exporting…"))
        worker = self.workflow.start_export(path, self.options(), self._connect)
        if worker is None:
            self.result_text.setPlainText(self.tr("Could not start: another job is running."))
            return False
        self.worker = worker
        self.progress.setRange(0, 0)
        self._set_running(True)
        return True

    def _connect(self, worker: EngineWorker) -> None:
        worker.signals.progress.connect(self._progress)
        worker.returned.connect(self._returned)
        worker.errored.connect(self._errored)
        worker.finished.connect(self._finished)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _finished(self) -> None:
        self.worker = None
        self._set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)

    def _progress(self, event: ProgressEvent) -> None:
        if event.total > 0:
            self.progress.setRange(0, event.total)
            self.progress.setValue(min(event.step, event.total))
        stage = stage_label(event.stage)
        self.result_text.setPlainText(f"{stage}: {event.step}/{event.total} {event.item}")

    def _errored(self, error: Exception) -> None:
        self.result_text.setPlainText(self.tr("Export failed: %1").replace("%1", str(error)))

    def _returned(self, report: Any) -> None:
        self.report = report
        self.result_text.setPlainText(self.describe(report))
        self.finished_export.emit(report)

    def describe(self, report: Any) -> str:
        exported = report.export
        lines = [
            self.tr("Wrote %1 (%2 MB, opset %3, %4 quantized layers)")
            .replace("%1", exported.path)
            .replace("%2", f"{exported.size_bytes / 1e6:.1f}")
            .replace("%3", str(exported.opset))
            .replace("%4", str(len(exported.layers)))
        ]
        parity = report.parity
        if parity is not None:
            lines.append(self._parity_text(parity))
        if report.bench is not None:
            lines.extend(self._bench_lines(report.bench))
        for note in report.notes or []:
            lines.append(note)
        if report.report_path:
            lines.append(self.tr("Report saved to %1").replace("%1", report.report_path))
        return "\n".join(lines)

    def _parity_text(self, parity: Any) -> str:
        """Describe the verdict and the worst output SQNR with and without teacher forcing."""
        state = self.tr("passed") if parity.passed else self.tr("FAILED")
        forced = min((output.sqnr_db for output in parity.forced_outputs), default=math.inf)
        free = min((output.sqnr_db for output in parity.outputs), default=math.inf)
        text = self.tr(
            "Parity with PyTorch in ONNX Runtime: %1 (outputs with identical layer inputs: "
            "worst SQNR %2 dB; free-running: %3 dB; flipped codes %4 %)"
        )
        for key, value in (
            ("%1", state),
            ("%2", _db(forced)),
            ("%3", _db(free)),
            ("%4", f"{100 * parity.flipped_fraction:.4f}"),
        ):
            text = text.replace(key, value)
        if parity.first_divergent:
            text += " " + self.tr("first divergent layer: %1").replace("%1", parity.first_divergent)
        return text

    def _bench_lines(self, bench: Any) -> list[str]:
        """Describe each benchmarked model in one line: size, latency per thread count, accuracy."""
        lines = []
        for model in bench.models:
            latency = ", ".join(
                self.tr("%1 ms/batch on %2 threads")
                .replace("%1", f"{value:.1f}")
                .replace("%2", str(threads))
                for threads, value in model.latency_ms.items()
            )
            accuracy = ", ".join(
                f"{key} {value:.5g}"
                for key, value in model.accuracy.items()
                if isinstance(value, int | float)
            )
            simulated = (
                " " + self.tr("(FP8 simulated: latency not meaningful)") if model.fp8 else ""
            )
            line = self.tr("%1: %2 MB, %3; %4")
            for key, value in (
                ("%1", model.name),
                ("%2", f"{model.size_bytes / 1e6:.1f}"),
                ("%3", latency),
                ("%4", accuracy),
            ):
                line = line.replace(key, value)
            lines.append(line + simulated)
        lines.extend(bench.notes)
        return lines


def _db(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.1f}"
