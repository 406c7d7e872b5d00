"""Set the precision of every layer whose name matches a glob pattern, as a plan rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from quantviz.errors import QuantvizError
from quantviz.gui import precision
from quantviz.gui.project import fnmatch_name

if TYPE_CHECKING:
    from quantviz.gui.project import Project

MAX_PREVIEW_NAMES = 6


class RuleDialog(QDialog):
    """Pattern plus a weight and an input choice; OK appends the rule to ``plan.rules``.

    The pattern is a glob over qualified layer names (``*.mlp.*``, ``encoder.layer.[0-2].*``),
    matched as the plan matches it. A preview lists the layers it matches. The initial
    pattern is the common prefix of the selected layers, followed by ``*``.
    """

    def __init__(
        self, project: Project, selected: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ruleDialog")
        self.setWindowTitle(self.tr("Apply rule by pattern"))
        self.project = project
        self.pattern_edit = QLineEdit(self)
        self.pattern_edit.setObjectName("patternEdit")
        self.pattern_edit.setPlaceholderText("*.mlp.down_proj")
        self.weight_combo = self._combo(precision.WEIGHT)
        self.input_combo = self._combo(precision.INPUT)
        self.preview = QLabel(self)
        self.preview.setObjectName("rulePreview")
        self.preview.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.tr("&Pattern:"), self.pattern_edit)
        form.addRow(self.tr("&Weights:"), self.weight_combo)
        form.addRow(self.tr("&Inputs:"), self.input_combo)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(self.buttons)
        self.pattern_edit.textChanged.connect(self._update_preview)
        self.pattern_edit.setText(_initial_pattern(selected))
        self._update_preview()

    def _combo(self, role: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(f"{role}RuleCombo")
        combo.addItem(self.tr("(unchanged)"), None)
        for item in precision.choices(role):
            combo.addItem(item.display, item.key)
        return combo

    def matches(self) -> list[str]:
        pattern = self.pattern_edit.text().strip()
        if not pattern:
            return []
        return [name for name in self.project.layer_names() if fnmatch_name(pattern, name)]

    def _update_preview(self) -> None:
        names = self.matches()
        if not names:
            self.preview.setText(self.tr("Matches %n layer(s)", "", 0))
            return
        shown = ", ".join(names[:MAX_PREVIEW_NAMES])
        more = "…" if len(names) > MAX_PREVIEW_NAMES else ""
        text = self.tr("Matches %n layer(s): %1", "", len(names))
        self.preview.setText(text.replace("%1", shown + more))

    def set_choices(self, pattern: str, weight_key: str | None, input_key: str | None) -> None:
        self.pattern_edit.setText(pattern)
        self.weight_combo.setCurrentIndex(max(self.weight_combo.findData(weight_key), 0))
        self.input_combo.setCurrentIndex(max(self.input_combo.findData(input_key), 0))

    def accept(self) -> None:
        pattern = self.pattern_edit.text().strip()
        weight_key = self.weight_combo.currentData()
        input_key = self.input_combo.currentData()
        if not pattern or (weight_key is None and input_key is None):
            self.preview.setText(self.tr("Give a pattern and at least one format."))
            return
        try:
            self.project.add_rule(pattern, weight_key, input_key)
        except QuantvizError as error:
            self.preview.setText(str(error))
            return
        super().accept()


def _initial_pattern(selected: Sequence[str]) -> str:
    if not selected:
        return ""
    if len(selected) == 1:
        return selected[0]
    prefix = selected[0]
    for name in selected[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return f"{prefix}*"
