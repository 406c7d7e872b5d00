"""The main window's actions, menus, toolbar and keyboard shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QToolBar

from quantviz.errors import QuantvizError
from quantviz.gui import precision

if TYPE_CHECKING:
    from quantviz.gui.main_window import MainWindow

# Ctrl+Shift+digit arrives as Ctrl+Shift+symbol on many keyboard layouts; the US symbols
# are bound too so that the input shortcuts work there.
SHIFTED_DIGITS = {"0": ")", "1": "!", "2": "@", "3": "#"}
SAMPLES = ("sample:minilm", "sample:smollm2")


class WindowActions(QObject):
    """Builds and owns every QAction of a :class:`MainWindow`.

    Actions that need the model to themselves (open, analyse, evaluate, QAT, export,
    automatic plan) are disabled while such a job runs; plan edits stay enabled.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.precision_actions: dict[tuple[str, str], QAction] = {}
        self.model_actions: list[QAction] = []
        self._build_file_menu()
        self._build_edit_menu()
        self._build_plan_menu()
        self._build_analysis_menu()
        self._build_tools_menu()
        self._build_view_menu()
        self._build_help_menu()
        self._build_toolbar()
        self._build_table_menu()

    def _action(
        self,
        text: str,
        slot: object,
        shortcut: QKeySequence | str | QKeySequence.StandardKey | None = None,
        *,
        needs_model_job: bool = False,
        name: str = "",
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self.window)
        if name:
            action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.window.addAction(action)
        if needs_model_job:
            self.model_actions.append(action)
        return action

    # -- menus -------------------------------------------------------------------------

    def _build_file_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu(self.tr("&File"))
        self.open_model = self._action(
            self.tr("&Open model…"),
            self.show_open_dialog,
            QKeySequence.StandardKey.Open,
            needs_model_job=True,
            name="actionOpenModel",
            tip=self.tr("Open a model folder, .gguf file, hub id or sample"),
        )
        menu.addAction(self.open_model)
        samples = menu.addMenu(self.tr("Open &sample"))
        for spec in SAMPLES:
            action = self._action(
                spec, lambda spec=spec: window.open_model(spec), needs_model_job=True
            )
            samples.addAction(action)
        self.recent_menu = menu.addMenu(self.tr("&Recent models"))
        self.refresh_recent()
        menu.addSeparator()
        self.open_session = self._action(
            self.tr("Open &session…"),
            self.show_open_session,
            "Ctrl+Shift+O",
            needs_model_job=True,
            name="actionOpenSession",
        )
        self.save_session = self._action(
            self.tr("&Save session"),
            window.save_session,
            QKeySequence.StandardKey.Save,
            name="actionSaveSession",
        )
        self.save_session_as = self._action(
            self.tr("Save session &as…"), window.save_session_as, "Ctrl+Shift+S"
        )
        for action in (self.open_session, self.save_session, self.save_session_as):
            menu.addAction(action)
        menu.addSeparator()
        self.open_plan = self._action(self.tr("Open &plan…"), self.show_open_plan, "Ctrl+Shift+P")
        self.save_plan = self._action(self.tr("Save plan as…"), self.show_save_plan, "Ctrl+Alt+S")
        menu.addAction(self.open_plan)
        menu.addAction(self.save_plan)
        menu.addSeparator()
        quit_action = self._action(self.tr("&Quit"), window.close, QKeySequence.StandardKey.Quit)
        menu.addAction(quit_action)

    def refresh_recent(self) -> None:
        # clear() deletes the old actions, so they leave the busy-state list first.
        for action in self.recent_menu.actions():
            if action in self.model_actions:
                self.model_actions.remove(action)
        self.recent_menu.clear()
        recent = self.window.recent_models()
        for spec in recent:
            action = self.recent_menu.addAction(spec)
            action.triggered.connect(lambda checked=False, spec=spec: self.window.open_model(spec))
            action.setEnabled(not self.window.runner.busy)
            self.model_actions.append(action)
        self.recent_menu.setEnabled(bool(recent))

    def _build_edit_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu(self.tr("&Edit"))
        stack = window.project.undo_stack
        self.undo = stack.createUndoAction(window, self.tr("&Undo"))
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo.setObjectName("actionUndo")
        self.redo = stack.createRedoAction(window, self.tr("&Redo"))
        self.redo.setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")]
        )
        self.redo.setObjectName("actionRedo")
        for action in (self.undo, self.redo):
            window.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        self.find = self._action(
            self.tr("&Filter layers"), self._focus_filter, QKeySequence.StandardKey.Find
        )
        self.select_all = self._action(
            self.tr("Select &all layers"),
            window.table.selectAll,
            QKeySequence.StandardKey.SelectAll,
        )
        menu.addAction(self.find)
        menu.addAction(self.select_all)

    def _focus_filter(self) -> None:
        self.window.filter_edit.setFocus()
        self.window.filter_edit.selectAll()

    def _precision_menu(self, role: str, title: str, modifier: str) -> QMenu:
        menu = QMenu(title, self.window)
        shortcuts = {
            keys[0 if role == precision.WEIGHT else 1]: digit
            for digit, keys in precision.SHORTCUT_CHOICES.items()
        }
        for item in precision.choices(role):
            action = self._action(
                item.display,
                lambda role=role, key=item.key: self.window.set_selected_precision(role, key),
                name=f"action_{role}_{item.key}",
            )
            digit = shortcuts.get(item.key)
            if digit is not None:
                sequences = [QKeySequence(f"{modifier}{digit}")]
                if "Shift" in modifier:
                    sequences.append(QKeySequence(f"Ctrl+{SHIFTED_DIGITS[digit]}"))
                action.setShortcuts(sequences)
            self.precision_actions[(role, item.key)] = action
            menu.addAction(action)
        return menu

    def shortcut_for(self, role: str, key: str) -> QKeySequence | None:
        action = self.precision_actions.get((role, key))
        return action.shortcut() if action is not None and not action.shortcut().isEmpty() else None

    def _build_plan_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu(self.tr("&Plan"))
        self.weight_menu = self._precision_menu(
            precision.WEIGHT, self.tr("&Weights of selection"), "Ctrl+"
        )
        self.input_menu = self._precision_menu(
            precision.INPUT, self.tr("&Inputs of selection"), "Ctrl+Shift+"
        )
        menu.addMenu(self.weight_menu)
        menu.addMenu(self.input_menu)
        menu.addSeparator()
        self.apply_rule = self._action(
            self.tr("Apply &rule by pattern…"),
            self.show_rule_dialog,
            "Ctrl+R",
            name="actionApplyRule",
        )
        self.recommend = self._action(
            self.tr("Apply re&commendations"),
            self._apply_recommendations,
            "Ctrl+Shift+R",
            name="actionRecommend",
            tip=self.tr("Give every layer the analysis' recommended format"),
        )
        self.recommend_selection = self._action(
            self.tr("Apply recommendations to selection"),
            lambda: self._apply_recommendations(window.selected_layers()),
        )
        self.auto_plan = self._action(
            self.tr("&Automatic plan…"),
            self.run_auto_plan,
            "Ctrl+Shift+A",
            needs_model_job=True,
            name="actionAutoPlan",
            tip=self.tr("Search mixed-precision plans for the best accuracy at each size"),
        )
        self.reset_plan = self._action(self.tr("Reset plan to float"), self._reset_plan)
        self.evaluate = self._action(
            self.tr("&Evaluate plan"),
            window.workflow.evaluate,
            "F5",
            needs_model_job=True,
            name="actionEvaluate",
            tip=self.tr("Compare the plan with the float model on held-out text"),
        )
        for action in (
            self.apply_rule,
            self.recommend,
            self.recommend_selection,
            self.auto_plan,
            self.reset_plan,
        ):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.evaluate)

    def _apply_recommendations(self, names: list[str] | None = None) -> None:
        try:
            changed = self.window.project.apply_recommendations(names)
        except QuantvizError as error:
            self.window.workflow.report_error(error, self.tr("Apply recommendations"))
            return
        if not changed:
            self.window.show_status(
                self.tr(
                    "No change: run the analysis first, or the plan "
                    "already follows the recommendations."
                )
            )

    def _reset_plan(self) -> None:
        from quantviz.plan import PrecisionPlan

        project = self.window.project
        if project.plan is not None:
            plan = PrecisionPlan(model=dict(project.plan.model))
            project.replace_plan(plan, self.tr("Reset plan to float"))

    def _build_analysis_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu(self.tr("&Analysis"))
        self.settings = self._action(
            self.tr("Calibration &settings…"),
            self.show_settings_dialog,
            "Ctrl+,",
            name="actionSettings",
        )
        self.reanalyse = self._action(
            self.tr("&Run analysis again"),
            lambda: window.workflow.run_analysis(),
            "Ctrl+Shift+F5",
            needs_model_job=True,
        )
        self.cancel = self._action(self.tr("&Cancel job"), window.cancel_job)
        for action in (self.settings, self.reanalyse, self.cancel):
            menu.addAction(action)

    def _build_tools_menu(self) -> None:
        menu = self.window.menuBar().addMenu(self.tr("&Tools"))
        self.qat = self._action(
            self.tr("&Quantization-aware training…"),
            self.show_qat_dialog,
            "Ctrl+T",
            needs_model_job=True,
            name="actionQat",
        )
        self.export = self._action(
            self.tr("E&xport to ONNX…"),
            self.show_export_dialog,
            "Ctrl+Shift+E",
            needs_model_job=True,
            name="actionExport",
        )
        menu.addAction(self.qat)
        menu.addAction(self.export)

    def _build_view_menu(self) -> None:
        window = self.window
        menu = window.menuBar().addMenu(self.tr("&View"))
        for dock in (window.detail_dock, window.overview_dock, window.summary_dock):
            menu.addAction(dock.toggleViewAction())

    def _build_help_menu(self) -> None:
        menu = self.window.menuBar().addMenu(self.tr("&Help"))
        menu.addAction(self._action(self.tr("&Keyboard shortcuts"), self._show_shortcuts, "F1"))
        menu.addAction(self._action(self.tr("&About quantviz"), self._about))

    def _build_toolbar(self) -> None:
        toolbar = QToolBar(self.tr("Main"), self.window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.open_model,
            None,
            self.undo,
            self.redo,
            None,
            self.recommend,
            self.apply_rule,
            self.auto_plan,
            self.evaluate,
            None,
            self.qat,
            self.export,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        self.window.addToolBar(toolbar)

    def _build_table_menu(self) -> None:
        self.window.table.menu_actions = [
            self.weight_menu,
            self.input_menu,
            None,
            self.recommend_selection,
            self.apply_rule,
        ]

    def set_busy(self, busy: bool) -> None:
        for action in self.model_actions:
            action.setEnabled(not busy)

    # -- dialogs -----------------------------------------------------------------------

    def show_open_dialog(self) -> None:
        from quantviz.gui.dialogs.open_model_dialog import OpenModelDialog

        dialog = OpenModelDialog(self.window.recent_models(), SAMPLES, self.window)
        dialog.accepted.connect(lambda: self.window.open_target(dialog.spec()))
        self.window.dialogs["open"] = dialog
        dialog.open()

    def show_open_session(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, self.tr("Open session"), "", self.tr("quantviz sessions (*.qvsession)")
        )
        if path:
            self.window.open_session(path)

    def show_open_plan(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, self.tr("Open plan"), "", self.tr("Plans (*.json)")
        )
        if path:
            self.window.open_plan_file(path)

    def show_save_plan(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, self.tr("Save plan"), "plan.json", self.tr("Plans (*.json)")
        )
        if path:
            self.window.save_plan_file(path)

    def show_rule_dialog(self) -> None:
        from quantviz.gui.dialogs.rule_dialog import RuleDialog

        window = self.window
        dialog = RuleDialog(window.project, window.selected_layers(), window)
        window.dialogs["rule"] = dialog
        dialog.open()

    def show_settings_dialog(self) -> None:
        from quantviz.gui.dialogs.settings_dialog import AnalysisSettingsDialog

        window = self.window
        dialog = AnalysisSettingsDialog(window.workflow.settings, window)

        def accepted() -> None:
            window.workflow.set_settings(dialog.settings())
            if dialog.rerun_requested() and window.project.loaded is not None:
                window.workflow.run_analysis()

        dialog.accepted.connect(accepted)
        window.dialogs["settings"] = dialog
        dialog.open()

    def run_auto_plan(self) -> None:
        window = self.window
        if window.workflow.engine_module("quantviz.autoplan", self.tr("Automatic plan")) is None:
            return
        from quantviz.gui.dialogs.auto_plan_dialog import AutoPlanDialog

        task = window.project.loaded.task if window.project.loaded else "encoder"
        dialog = AutoPlanDialog(task, window)
        dialog.accepted.connect(lambda: window.workflow.auto_plan(dialog.options()))
        window.dialogs["autoplan"] = dialog
        dialog.open()

    def show_qat_dialog(self) -> None:
        window = self.window
        if window.workflow.engine_module("quantviz.qat", self.tr("QAT")) is None:
            return
        from quantviz.gui.dialogs.qat_dialog import QATDialog

        dialog = window.dialogs.get("qat")
        if dialog is None:
            dialog = QATDialog(window.workflow, window)
            window.dialogs["qat"] = dialog
        dialog.show()
        dialog.raise_()

    def show_export_dialog(self) -> None:
        window = self.window
        if window.workflow.engine_module("quantviz.export", self.tr("ONNX export")) is None:
            return
        from quantviz.gui.dialogs.export_dialog import ExportDialog

        dialog = window.dialogs.get("export")
        if dialog is None:
            dialog = ExportDialog(window.workflow, window)
            window.dialogs["export"] = dialog
        dialog.show()
        dialog.raise_()

    def _show_shortcuts(self) -> None:
        lines = [
            self.tr(
                "Ctrl+1 / Ctrl+2 / Ctrl+3 / Ctrl+0: weights of the selected layers "
                "to FP8 E4M3 / INT8 per channel / FP8 E5M2 / float"
            ),
            self.tr("Ctrl+Shift+1 / 2 / 3 / 0: inputs of the selected layers likewise"),
            self.tr("Click or F2 on a precision cell: choose its format"),
            self.tr("Ctrl+R: rule by name pattern; Ctrl+Shift+R: apply recommendations"),
            self.tr("F5: evaluate the plan; Esc: cancel the running job"),
            self.tr("Ctrl+Z / Ctrl+Shift+Z: undo / redo; Ctrl+F: filter layers"),
        ]
        box = QMessageBox(
            QMessageBox.Icon.Information,
            self.tr("Keyboard shortcuts"),
            "\n".join(lines),
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _about(self) -> None:
        from quantviz import __version__

        text = self.tr(
            "quantviz %1: see what FP8 and INT8 quantization does to each layer of a transformer."
        ).replace("%1", __version__)
        box = QMessageBox(
            QMessageBox.Icon.Information,
            self.tr("About quantviz"),
            text,
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
