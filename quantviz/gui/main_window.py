"""The main window: layer table in the centre, layer details, model views and plan summary
in docks, a progress bar with a Cancel button in the status bar."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QByteArray, QModelIndex, QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from quantviz.errors import QuantvizError
from quantviz.gui import precision, recovery
from quantviz.gui.i18n import stage_label
from quantviz.gui.layer_detail import LayerDetailPanel
from quantviz.gui.layer_table import LayerFilterProxy, LayerTableModel, LayerTableView
from quantviz.gui.model_overview import ModelOverview
from quantviz.gui.project import Project
from quantviz.gui.session import SESSION_SUFFIX, SessionState
from quantviz.gui.summary_panel import SummaryPanel
from quantviz.gui.window_actions import WindowActions
from quantviz.gui.workers import JobRunner
from quantviz.gui.workflow import DEFAULT_MODEL, Workflow

if TYPE_CHECKING:
    from quantviz.progress import ProgressEvent

logger = logging.getLogger(__name__)

RECENT_KEY = "models/recent"
MAX_RECENT = 10
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
STATE_VERSION = 1


def default_cache_dir() -> Path:
    location = QStandardPaths.StandardLocation.CacheLocation
    return Path(QStandardPaths.writableLocation(location)) / "analysis"


class MainWindow(QMainWindow):
    """The quantviz window. ``cache_dir`` overrides where analyses are cached
    (None: the platform cache folder); ``autosave_s`` the autosave interval."""

    sessionSaved = Signal(str)

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        autosave_s: float | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(self.tr("quantviz"))
        self.setAcceptDrops(True)
        self.project = Project(self)
        self.runner = JobRunner(self)
        self.workflow = Workflow(
            self.project, self.runner, self, cache_dir if cache_dir else default_cache_dir()
        )
        self.session_path: str | None = None
        self.dialogs: dict[str, Any] = {}
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.window_actions = WindowActions(self)
        self._connect()
        self._set_tab_order()
        self._restore_layout()
        self.autosaver = recovery.Autosaver(
            self.session_state, self._generation, autosave_s, parent=self
        )
        self.autosaver.start()
        self._update_title()

    # -- construction ------------------------------------------------------------------

    def _build_central(self) -> None:
        self.table_model = LayerTableModel(self.project, self)
        self.proxy = LayerFilterProxy(self)
        self.proxy.setSourceModel(self.table_model)
        self.table = LayerTableView(self)
        self.table.setModel(self.proxy)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setPlaceholderText(
            self.tr("Filter layers: text or glob, e.g. *.mlp.* (Ctrl+F)")
        )
        self.filter_edit.setClearButtonEnabled(True)
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("kindCombo")
        self.kind_combo.addItem(self.tr("All kinds"), "")
        filter_label = QLabel(self.tr("&Filter:"), self)
        filter_label.setBuddy(self.filter_edit)
        bar = QHBoxLayout()
        bar.addWidget(filter_label)
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.kind_combo)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.setCentralWidget(central)

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.detail = LayerDetailPanel(self.project, self.runner, self)
        self.overview = ModelOverview(self.project, self)
        self.summary = SummaryPanel(self.project, self)
        self.detail_dock = self._dock(
            "layerDock", self.tr("Layer"), self.detail, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.summary_dock = self._dock(
            "summaryDock",
            self.tr("Plan summary"),
            self.summary,
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        self.overview_dock = self._dock(
            "modelDock", self.tr("Model"), self.overview, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        # The layer dock takes the full height on the right. The summary and the model
        # charts share the bottom, so the table keeps the width for its columns.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.summary_dock, self.overview_dock, Qt.Orientation.Horizontal)
        self.resize(1600, 1000)
        self.resizeDocks([self.detail_dock], [640], Qt.Orientation.Horizontal)
        self.resizeDocks([self.summary_dock], [300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.overview_dock], [330], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusLabel")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip(self.tr("Stop the running job at its next step (Esc)"))
        self.cancel_button.clicked.connect(self.cancel_job)
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self._show_busy(False)

    def _set_tab_order(self) -> None:
        """Filter, kind, table, then the docks: layer tabs, summary, model tabs."""
        chain = [
            self.filter_edit,
            self.kind_combo,
            self.table,
            self.detail.tabs,
            self.summary.evaluate_button,
            self.overview.tabs,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(self.proxy.set_pattern)
        self.kind_combo.currentIndexChanged.connect(
            lambda _: self.proxy.set_kind(self.kind_combo.currentData() or "")
        )
        self.table.selectionModel().currentRowChanged.connect(self._current_row_changed)
        self.project.currentLayerChanged.connect(self._select_in_table)
        self.project.modelChanged.connect(self._model_changed)
        self.project.analysisChanged.connect(self._analysis_changed)
        self.project.undo_stack.cleanChanged.connect(self._update_title)
        self.overview.layerClicked.connect(self.project.set_current_layer)
        self.overview.frontierPointClicked.connect(self.workflow.apply_frontier_point)
        self.overview.autoPlanRequested.connect(self.window_actions.run_auto_plan)
        self.summary.evaluateRequested.connect(self.workflow.evaluate)
        self.runner.busyChanged.connect(self._show_busy)
        self.runner.jobProgress.connect(self._progress)
        self.workflow.statusMessage.connect(self.show_status)

    # -- layer selection ---------------------------------------------------------------

    def _current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid():
            self.project.set_current_layer(self.table.current_name())

    def _select_in_table(self, name: str) -> None:
        if self.table.current_name() != name:
            self.table.select_name(name)

    def selected_layers(self) -> list[str]:
        """Return the selected rows' layer names, or the current layer when none is selected."""
        names = self.table.selected_names()
        if not names and self.project.current_layer:
            names = [self.project.current_layer]
        return names

    def set_selected_precision(self, role: str, key: str) -> bool:
        names = self.selected_layers()
        if not names:
            self.show_status(self.tr("Select one or more layers first."))
            return False
        return self.project.set_precision(names, role, key)

    # -- project events ----------------------------------------------------------------

    def _model_changed(self) -> None:
        kinds = sorted({info.kind for info in self.project.infos()})
        self.kind_combo.blockSignals(True)
        self.kind_combo.clear()
        self.kind_combo.addItem(self.tr("All kinds"), "")
        for kind in kinds:
            self.kind_combo.addItem(kind, kind)
        self.kind_combo.blockSignals(False)
        self.proxy.set_kind("")
        self.table.resize_to_contents()
        if self.project.current_layer:
            self.table.select_name(self.project.current_layer)
        if self.project.spec:
            self.add_recent(self.project.spec)
        self._update_title()

    def _analysis_changed(self) -> None:
        if self.project.current_layer:
            self.table.select_name(self.project.current_layer)

    def _update_title(self, *args: object) -> None:
        spec = self.project.spec or self.tr("no model")
        modified = "" if self.project.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{spec}{modified} — quantviz")

    # -- jobs and status ---------------------------------------------------------------

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)
        logger.info("status: %s", text)

    def _show_busy(self, busy: bool) -> None:
        if busy:
            # Set while the bar is hidden. Changing the range of a visible bar repaints
            # it at once (Qt 6.11), and that repaint also paints every other widget
            # waiting for a paint, such as the table after a new model.
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat(self.runner.current_title)
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.show_status(self.runner.current_title + "…")
        if hasattr(self, "window_actions"):
            self.window_actions.set_busy(busy)

    def _progress(self, title: str, event: ProgressEvent) -> None:
        if title != self.runner.current_title:
            return
        if event.total > 0:
            self.progress_bar.setRange(0, event.total)
            self.progress_bar.setValue(min(event.step, event.total))
        stage = stage_label(event.stage) or title
        self.progress_bar.setFormat(f"{stage} %v/%m")
        item = f" — {event.item}" if event.item else ""
        self.status_label.setText(f"{title}: {stage} {event.step}/{event.total}{item}")

    def cancel_job(self) -> None:
        if self.runner.busy:
            self.show_status(self.tr("Cancelling “%1”…").replace("%1", self.runner.current_title))
            self.runner.cancel_exclusive()

    # -- opening -----------------------------------------------------------------------

    def start(self, spec: str | None = None) -> None:
        """Offer recovery after a crash, else open ``spec`` (the MiniLM sample when None).

        The app calls this once the window is shown."""
        pending = recovery.pending_recovery()
        if pending is not None:
            self.offer_recovery(pending, spec)
            return
        self.open_model(spec or DEFAULT_MODEL)

    def offer_recovery(self, path: Path, spec: str | None) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("recoveryBox")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Restore the last session?"))
        box.setText(
            self.tr(
                "quantviz did not exit cleanly last time. Restore the session autosaved in %1?"
            ).replace("%1", str(path))
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Yes:
                self.open_session(str(path), remember=False)
            else:
                recovery.discard_recovery()
                self.open_model(spec or DEFAULT_MODEL)

        box.finished.connect(answered)
        self.dialogs["recovery"] = box
        box.open()
        return box

    def open_model(self, spec: str) -> bool:
        """Open a model spec with a new float plan (not part of a saved session)."""
        self.session_path = None
        return self.workflow.open_model(spec)

    def recent_models(self) -> list[str]:
        value = QSettings().value(RECENT_KEY, [])
        if isinstance(value, str):
            return [value]
        return [str(item) for item in value or []]

    def add_recent(self, spec: str) -> None:
        recent = [spec, *(item for item in self.recent_models() if item != spec)][:MAX_RECENT]
        QSettings().setValue(RECENT_KEY, recent)
        self.window_actions.refresh_recent()

    # -- sessions and plans ------------------------------------------------------------

    def _generation(self) -> object:
        return (
            self.project.spec,
            self.project.undo_stack.index(),
            id(self.project.plan),
            self.project.analysis_path,
            self.project.current_layer,
        )

    def session_state(self) -> SessionState | None:
        """Return the current session, or None when no model is open."""
        project = self.project
        if project.spec is None or project.plan is None:
            return None
        results = {}
        for kind, result in project.results.items():
            if hasattr(result, "to_dict"):
                results[kind] = result.to_dict()
        return SessionState(
            model=project.spec,
            settings=self.workflow.settings.to_dict(),
            plan=project.plan.to_dict(),
            analysis_path=project.analysis_path,
            current_layer=project.current_layer,
            results=results,
        )

    def save_session(self, path: str | None = None) -> bool:
        path = path or self.session_path
        if not path:
            return self.save_session_as()
        state = self.session_state()
        if state is None:
            self.show_status(self.tr("Nothing to save: open a model first."))
            return False
        try:
            state.save(path)
        except (QuantvizError, ValueError) as error:
            self.workflow.report_error(error)
            return False
        self.session_path = str(path)
        self.project.undo_stack.setClean()
        self.show_status(self.tr("Session saved to %1").replace("%1", str(path)))
        self.sessionSaved.emit(str(path))
        return True

    def save_session_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Save session"),
            "",
            self.tr("quantviz sessions (*%1)").replace("%1", SESSION_SUFFIX),
        )
        if not path:
            return False
        if not path.endswith(SESSION_SUFFIX):
            path += SESSION_SUFFIX
        return self.save_session(path)

    def open_session(self, path: str, remember: bool = True) -> bool:
        """Read a session file and reopen its model, plan and analysis."""
        from quantviz.analysis.pipeline import AnalysisSettings
        from quantviz.plan import PrecisionPlan

        try:
            state = SessionState.load(path)
            plan = PrecisionPlan.from_dict(state.plan) if state.plan else None
        except QuantvizError as error:
            self.workflow.report_error(error, self.tr("Open session"))
            return False
        if not state.model:
            message = self.tr("The session file %1 names no model, so it cannot be opened.")
            self.workflow.report_error(QuantvizError(message.replace("%1", path)))
            return False
        self.workflow.set_settings(AnalysisSettings.from_dict(state.settings))
        started = self.workflow.open_model(
            state.model,
            plan=plan,
            analysis_path=state.analysis_path,
            current_layer=state.current_layer,
        )
        if started and remember:
            self.session_path = path
        return started

    def open_plan_file(self, path: str) -> bool:
        from quantviz.plan import PrecisionPlan

        try:
            plan = PrecisionPlan.load(path)
        except QuantvizError as error:
            self.workflow.report_error(error, self.tr("Open plan"))
            return False
        if self.project.plan is None:
            self.show_status(self.tr("Open a model before its plan."))
            return False
        unknown = plan.unknown_layers(self.project.layer_names())
        if unknown:
            self.show_status(
                self.tr("The plan names parts this model lacks: %1").replace(
                    "%1", "; ".join(unknown[:5])
                )
            )
        self.project.replace_plan(plan, self.tr("Open plan %1").replace("%1", Path(path).name))
        return True

    def save_plan_file(self, path: str) -> bool:
        if self.project.plan is None:
            return False
        try:
            self.project.plan.save(path)
        except QuantvizError as error:
            self.workflow.report_error(error)
            return False
        self.show_status(self.tr("Plan saved to %1").replace("%1", path))
        return True

    # -- drag and drop -----------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasText():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() and mime.urls()[0].isLocalFile():
            target = mime.urls()[0].toLocalFile()
        else:
            target = mime.text().strip()
        if target:
            event.acceptProposedAction()
            self.open_target(target)

    def open_target(self, target: str) -> bool:
        """Open a dropped or typed path: a session, a plan JSON, or else a model."""
        if target.endswith(SESSION_SUFFIX):
            return self.open_session(target)
        if target.endswith(".json") and Path(target).is_file():
            return self.open_plan_file(target)
        return self.open_model(target)

    # -- layout and closing ------------------------------------------------------------

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = settings.value(STATE_KEY)
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)

    def save_layout(self) -> None:
        settings = QSettings()
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(STATE_KEY, self.saveState(STATE_VERSION))
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel running jobs and wait for them, save the layout, mark a clean exit."""
        if self.runner.running:
            self.show_status(self.tr("Stopping the running jobs…"))
            self.runner.cancel_all()
            self.runner.wait()
        for dialog in self.dialogs.values():
            # A dialog with WA_DeleteOnClose may already be gone.
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.close()
        self.dialogs.clear()
        self.autosaver.stop()
        self.save_layout()
        recovery.mark_clean_exit()
        super().closeEvent(event)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Escape and self.runner.busy:
            self.cancel_job()
            return
        super().keyPressEvent(event)

    def shortcut_for(self, role: str, key: str) -> QKeySequence | None:
        return self.window_actions.shortcut_for(role, key)

    def choice_action(self, role: str, key: str) -> QAction:
        return self.window_actions.precision_actions[(role, key)]

    def precision_roles(self) -> tuple[str, str]:
        return precision.ROLES
