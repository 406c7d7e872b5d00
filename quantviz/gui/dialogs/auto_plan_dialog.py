"""Settings of the automatic plan search: a loss bound or an 8-bit share."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# Starting bounds: 1 - mean cosine for encoders, mean logits KL (nats) for causal LMs.
DEFAULT_MAX_LOSS = {"encoder": 0.002, "causal_lm": 0.05}


class AutoPlanDialog(QDialog):
    """Collects the keyword arguments of :func:`quantviz.autoplan.auto_plan`.

    Exactly one target is set: keep the loss below a bound, or reach a share of layers
    with 8-bit weights and inputs. Each candidate plan is evaluated on held-out text,
    so ``max_evaluations`` bounds the run time.
    """

    def __init__(self, task: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autoPlanDialog")
        self.setWindowTitle(self.tr("Automatic plan"))
        self.loss_mode = QRadioButton(self.tr("Keep the &loss below"), self)
        self.share_mode = QRadioButton(self.tr("Reach an 8-bit &share of"), self)
        modes = QButtonGroup(self)
        modes.addButton(self.loss_mode)
        modes.addButton(self.share_mode)
        self.loss_mode.setChecked(True)
        self.max_loss = QDoubleSpinBox(self)
        self.max_loss.setDecimals(5)
        self.max_loss.setRange(0.0, 100.0)
        self.max_loss.setSingleStep(0.001)
        self.max_loss.setValue(DEFAULT_MAX_LOSS.get(task, 0.01))
        unit = self.tr("(1 − cosine)") if task == "encoder" else self.tr("(KL, nats)")
        self.share = QSpinBox(self)
        self.share.setRange(0, 100)
        self.share.setSuffix(" %")
        self.share.setValue(90)
        self.allow_fp8 = QCheckBox(self.tr("Allow FP8 E4M3 where it beats INT8"), self)
        self.allow_fp8.setChecked(True)
        self.allow_smoothquant = QCheckBox(self.tr("Try SmoothQuant"), self)
        self.allow_smoothquant.setChecked(True)
        self.max_evaluations = QSpinBox(self)
        self.max_evaluations.setRange(1, 200)
        self.max_evaluations.setValue(12)
        self.samples = QSpinBox(self)
        self.samples.setRange(1, 10_000)
        self.samples.setValue(32)

        loss_row = QHBoxLayout()
        loss_row.addWidget(self.loss_mode)
        loss_row.addWidget(self.max_loss)
        loss_row.addWidget(QLabel(unit, self))
        share_row = QHBoxLayout()
        share_row.addWidget(self.share_mode)
        share_row.addWidget(self.share)
        form = QFormLayout()
        form.addRow(loss_row)
        form.addRow(share_row)
        form.addRow(self.allow_fp8)
        form.addRow(self.allow_smoothquant)
        form.addRow(self.tr("Plans to &evaluate at most:"), self.max_evaluations)
        form.addRow(self.tr("Evaluation &samples:"), self.samples)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``auto_plan`` (besides the model and analysis)."""
        options: dict[str, Any] = {
            "allow_fp8": self.allow_fp8.isChecked(),
            "allow_smoothquant": self.allow_smoothquant.isChecked(),
            "max_evaluations": self.max_evaluations.value(),
            "samples": self.samples.value(),
        }
        if self.loss_mode.isChecked():
            options["max_loss"] = self.max_loss.value()
        else:
            options["target_8bit_share"] = self.share.value() / 100.0
        return options
