"""Choose a model: a folder, a file, a hub id, a bundled sample or a recent one."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MODEL_FILE_FILTER = "*.gguf *.safetensors *.bin *.pt *.pth"


class OpenModelDialog(QDialog):
    """The spec line edit is what gets opened; the lists and buttons fill it in.

    Double-clicking a sample or recent entry opens it at once.
    """

    def __init__(
        self, recent: Sequence[str], samples: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("openModelDialog")
        self.setWindowTitle(self.tr("Open model"))
        self.spec_edit = QLineEdit(self)
        self.spec_edit.setObjectName("specEdit")
        self.spec_edit.setPlaceholderText(
            self.tr("model folder, .gguf or .safetensors file, org/name hub id, or sample:minilm")
        )
        spec_label = QLabel(self.tr("&Model:"), self)
        spec_label.setBuddy(self.spec_edit)
        folder_button = QPushButton(self.tr("F&older…"), self)
        folder_button.clicked.connect(self._choose_folder)
        file_button = QPushButton(self.tr("F&ile…"), self)
        file_button.clicked.connect(self._choose_file)
        row = QHBoxLayout()
        row.addWidget(spec_label)
        row.addWidget(self.spec_edit, 1)
        row.addWidget(folder_button)
        row.addWidget(file_button)

        self.choices = QListWidget(self)
        self.choices.setObjectName("modelChoices")
        for spec in samples:
            item = QListWidgetItem(self.tr("%1 (bundled sample)").replace("%1", spec))
            item.setData(Qt.ItemDataRole.UserRole, spec)
            self.choices.addItem(item)
        for spec in recent:
            if spec in samples:
                continue
            item = QListWidgetItem(spec)
            item.setData(Qt.ItemDataRole.UserRole, spec)
            self.choices.addItem(item)
        self.choices.currentItemChanged.connect(self._choice_changed)
        self.choices.itemDoubleClicked.connect(lambda item: self.accept())
        list_label = QLabel(self.tr("&Samples and recent models:"), self)
        list_label.setBuddy(self.choices)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(list_label)
        layout.addWidget(self.choices, 1)
        layout.addWidget(buttons)
        if recent:
            self.spec_edit.setText(recent[0])
        self.resize(640, 360)

    def spec(self) -> str:
        return self.spec_edit.text().strip()

    def _choice_changed(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.spec_edit.setText(item.data(Qt.ItemDataRole.UserRole))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Model folder"))
        if folder:
            self.spec_edit.setText(folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Model file"),
            "",
            self.tr("Model files (%1)").replace("%1", MODEL_FILE_FILTER),
        )
        if path:
            self.spec_edit.setText(path)

    def accept(self) -> None:
        if self.spec():
            super().accept()
