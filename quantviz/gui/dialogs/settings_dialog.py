"""Calibration and analysis settings, starting from the engine's AnalysisSettings defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import AnalysisSettings


# Menu texts of the observers in quantviz.quant.observers.OBSERVERS; an observer missing
# here shows its name.
OBSERVER_LABELS = {
    "minmax": QT_TRANSLATE_NOOP("AnalysisSettingsDialog", "min/max"),
    "moving_average": QT_TRANSLATE_NOOP("AnalysisSettingsDialog", "moving average of min/max"),
    "percentile": QT_TRANSLATE_NOOP("AnalysisSettingsDialog", "percentile clipping"),
    "mse": QT_TRANSLATE_NOOP("AnalysisSettingsDialog", "clipping with minimal MSE"),
    "entropy": QT_TRANSLATE_NOOP("AnalysisSettingsDialog", "entropy (minimal KL)"),
}


class AnalysisSettingsDialog(QDialog):
    """Edit calibration text, sample count, sequence length, batch size, observer and
    sensitivity samples. "Restore defaults" reloads ``AnalysisSettings()``."""

    def __init__(self, settings: AnalysisSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from quantviz.quant.observers import OBSERVERS

        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Calibration settings"))
        self._original = settings
        self.calib_edit = QLineEdit(self)
        self.calib_edit.setObjectName("calibEdit")
        self.calib_edit.setPlaceholderText(self.tr("bundled English calibration text"))
        browse = QPushButton(self.tr("&Browse…"), self)
        browse.clicked.connect(self._browse)
        calib_row = QHBoxLayout()
        calib_row.addWidget(self.calib_edit, 1)
        calib_row.addWidget(browse)
        self.samples = self._spin(1, 100_000, self.tr(" sequences"))
        self.seq_len = self._spin(2, 32_768, self.tr(" tokens"))
        self.batch_size = self._spin(1, 4096, self.tr(" sequences"))
        self.sensitivity = self._spin(0, 4096, self.tr(" sequences"))
        self.sensitivity.setSpecialValueText(self.tr("skip sensitivity"))
        self.observer = QComboBox(self)
        self.observer.setObjectName("observerCombo")
        for name in OBSERVERS:
            label = OBSERVER_LABELS.get(name)
            self.observer.addItem(self.tr(label) if label else name, name)
        self.rerun = QCheckBox(self.tr("Run the &analysis again with these settings"), self)
        self.rerun.setChecked(True)

        form = QFormLayout()
        calib_label = QLabel(self.tr("Calibration &text:"), self)
        calib_label.setBuddy(self.calib_edit)
        form.addRow(calib_label, calib_row)
        form.addRow(self.tr("&Samples:"), self.samples)
        form.addRow(self.tr("Sequence &length:"), self.seq_len)
        form.addRow(self.tr("&Batch size:"), self.batch_size)
        form.addRow(self.tr("&Observer:"), self.observer)
        form.addRow(self.tr("Se&nsitivity samples:"), self.sensitivity)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.rerun)
        layout.addWidget(buttons)
        self.load(settings)

    def _spin(self, low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        return spin

    def load(self, settings: AnalysisSettings) -> None:
        self.calib_edit.setText(settings.calib or "")
        self.samples.setValue(settings.samples)
        self.seq_len.setValue(settings.seq_len)
        self.batch_size.setValue(settings.batch_size)
        self.sensitivity.setValue(settings.sensitivity_samples)
        index = self.observer.findData(settings.observer)
        self.observer.setCurrentIndex(max(index, 0))

    def restore_defaults(self) -> None:
        from quantviz.analysis.pipeline import AnalysisSettings

        self.load(AnalysisSettings())

    def settings(self) -> AnalysisSettings:
        """Return the edited settings; fields the dialog does not show keep their values."""
        from dataclasses import replace

        return replace(
            self._original,
            calib=self.calib_edit.text().strip() or None,
            samples=self.samples.value(),
            seq_len=self.seq_len.value(),
            batch_size=self.batch_size.value(),
            observer=self.observer.currentData(),
            sensitivity_samples=self.sensitivity.value(),
        )

    def rerun_requested(self) -> bool:
        return self.rerun.isChecked()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Calibration text"), "", self.tr("Text (*.txt *.jsonl);;All files (*)")
        )
        if path:
            self.calib_edit.setText(path)
