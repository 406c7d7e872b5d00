"""The layer table: one row per quantizable layer, with the plan's precisions and the
analysis' numbers side by side.

:class:`LayerTableModel` reads a :class:`~quantviz.gui.project.Project` and sorts its
rows by the numbers behind the text; :class:`LayerFilterProxy` filters by name pattern
and kind; :class:`PrecisionDelegate` edits a precision cell with a combo box;
:class:`LayerTableView` adds the context menu and click-to-edit.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from quantviz.gui import precision
from quantviz.gui.colors import sqnr_color
from quantviz.gui.i18n import sensitivity_metric_label, translate

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import LayerReport
    from quantviz.gui.project import Project
    from quantviz.model.layers import LayerInfo
    from quantviz.plan import LayerConfig

CONTEXT = "LayerTableModel"
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2
ROOT = QModelIndex()
MISSING = float("-inf")  # sorts layers without a number first in ascending order


@dataclass(frozen=True)
class Column:
    """One table column: its header, tooltip and what kind of value it shows."""

    key: str
    header: str
    tooltip: str
    kind: str = "text"  # "text", "int", "db", "ratio", "sensitivity" or "precision"


COLUMNS: tuple[Column, ...] = (
    Column(
        "name",
        QT_TRANSLATE_NOOP("LayerTableModel", "Layer"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Module path"),
    ),
    Column(
        "kind",
        QT_TRANSLATE_NOOP("LayerTableModel", "Kind"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Layer type"),
    ),
    Column(
        "shape",
        QT_TRANSLATE_NOOP("LayerTableModel", "Shape"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Shape of the stored weight"),
    ),
    Column(
        "params",
        QT_TRANSLATE_NOOP("LayerTableModel", "Params"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Weight and bias parameters"),
        "int",
    ),
    Column(
        "weight_precision",
        QT_TRANSLATE_NOOP("LayerTableModel", "W precision"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Weight format in the plan (click to change)"),
        "precision",
    ),
    Column(
        "input_precision",
        QT_TRANSLATE_NOOP("LayerTableModel", "A precision"),
        QT_TRANSLATE_NOOP(
            "LayerTableModel", "Input activation format in the plan (click to change)"
        ),
        "precision",
    ),
    Column(
        "w_fp8",
        QT_TRANSLATE_NOOP("LayerTableModel", "W FP8"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Weight SQNR in dB, FP8 E4M3 per tensor"),
        "db",
    ),
    Column(
        "w_int8",
        QT_TRANSLATE_NOOP("LayerTableModel", "W INT8/ch"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Weight SQNR in dB, INT8 symmetric per channel"),
        "db",
    ),
    Column(
        "a_fp8",
        QT_TRANSLATE_NOOP("LayerTableModel", "A FP8"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Input SQNR in dB, FP8 E4M3 per tensor (calibrated)"),
        "db",
    ),
    Column(
        "a_int8",
        QT_TRANSLATE_NOOP("LayerTableModel", "A INT8"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Input SQNR in dB, INT8 per tensor (calibrated)"),
        "db",
    ),
    Column(
        "outliers",
        QT_TRANSLATE_NOOP("LayerTableModel", "Outliers"),
        QT_TRANSLATE_NOOP(
            "LayerTableModel", "Largest input channel absolute max over the median channel's"
        ),
        "ratio",
    ),
    Column(
        "sensitivity",
        QT_TRANSLATE_NOOP("LayerTableModel", "Sensitivity"),
        QT_TRANSLATE_NOOP(
            "LayerTableModel", "Model output loss when only this layer is INT8 (weights and inputs)"
        ),
        "sensitivity",
    ),
    Column(
        "recommendation",
        QT_TRANSLATE_NOOP("LayerTableModel", "Recommendation"),
        QT_TRANSLATE_NOOP("LayerTableModel", "Suggested format; hover for the reason"),
    ),
)
COLUMN_INDEX = {column.key: index for index, column in enumerate(COLUMNS)}
PRECISION_ROLES = {"weight_precision": precision.WEIGHT, "input_precision": precision.INPUT}
RECOMMENDATION_LABELS = {
    "float": QT_TRANSLATE_NOOP("LayerTableModel", "float"),
    "fp8_e4m3": QT_TRANSLATE_NOOP("LayerTableModel", "FP8 E4M3"),
    "int8_channel": QT_TRANSLATE_NOOP("LayerTableModel", "INT8"),
}


def _sqnr(report: LayerReport | None, role: str, candidate: str) -> float | None:
    if report is None:
        return None
    tensor = report.weight if role == "weight" else report.input
    if tensor is None or candidate not in tensor.results:
        return None
    return float(tensor.results[candidate].metrics.sqnr_db)


def _format_db(value: float | None) -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.1f}"


def _sort_value(column: Column, value: Any) -> str | float:
    """Return the value that ``column`` sorts by: text, or a number with missing values first."""
    if column.kind in ("text", "precision"):
        return "" if value is None else str(value)
    return MISSING if value is None or math.isnan(value) else float(value)


def _format_count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1e6:.2f} M"
    if value >= 1_000:
        return f"{value / 1e3:.1f} k"
    return str(value)


class LayerTableModel(QAbstractTableModel):
    """Rows of a project's layers; refreshes on the project's signals.

    Editing a precision cell calls :meth:`Project.set_precision`, so the change is one
    undoable step; the plan, not this model, stores the value.
    """

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._infos: list[LayerInfo] = []
        self._rows: dict[str, int] = {}
        self._values: dict[int, dict[str, Any]] = {}
        self._cells: dict[int, dict[tuple[int, int], Any]] = {}
        self._column_flags: dict[int, Qt.ItemFlag] = {}
        # -1: model order. Kept across reloads, as the view's sort indicator is.
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        project.modelChanged.connect(self.reload)
        project.analysisChanged.connect(self._analysis_changed)
        project.planChanged.connect(self._plan_changed)
        self.reload()

    # -- structure ---------------------------------------------------------------------

    def reload(self) -> None:
        self.beginResetModel()
        self._set_rows(self._sorted(self.project.infos()))
        self.endResetModel()

    def _set_rows(self, infos: list[LayerInfo]) -> None:
        self._infos = infos
        self._rows = {info.name: row for row, info in enumerate(infos)}
        self._values = {}
        self._cells = {}

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by ``column``'s sort values (model order when ``column`` is -1).

        Equal values keep model order. :class:`LayerFilterProxy` forwards its sort here,
        because QSortFilterProxyModel's sort calls :meth:`data` twice per comparison
        (21,000 Python calls and about 90 ms for 1,050 rows), where one Python sort
        over the column's values takes a few milliseconds.
        """
        self._sort_column, self._sort_order = column, order
        if not self._infos:
            return
        self.layoutAboutToBeChanged.emit()
        previous = self._infos
        self._set_rows(self._sorted(self.project.infos()))
        # Selections and the current index are persistent indexes, so they follow their rows.
        persistent = self.persistentIndexList()
        moved = [
            self.index(self._rows[previous[index.row()].name], index.column())
            for index in persistent
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _sorted(self, infos: list[LayerInfo]) -> list[LayerInfo]:
        if not 0 <= self._sort_column < len(COLUMNS):
            return infos
        column = COLUMNS[self._sort_column]
        read = _VALUES[column.key]
        project = self.project
        keys = {
            info.name: _sort_value(
                column, read(info, project.report(info.name), project.config(info.name))
            )
            for info in infos
        }
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        # sorted() is stable with reverse=True too, so ties stay in model order.
        return sorted(infos, key=lambda info: keys[info.name], reverse=descending)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._infos)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def row_of(self, name: str) -> int:
        return self._rows.get(name, -1)

    def name_at(self, row: int) -> str:
        return self._infos[row].name

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return translate(CONTEXT, column.header)
        if role == Qt.ItemDataRole.ToolTipRole:
            return translate(CONTEXT, column.tooltip)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return super().flags(index)
        # The flags depend on the column only; they are computed once per column.
        column = index.column()
        flags = self._column_flags.get(column)
        if flags is None:
            flags = super().flags(index)
            if COLUMNS[column].key in PRECISION_ROLES:
                flags |= Qt.ItemFlag.ItemIsEditable
            self._column_flags[column] = flags
        return flags

    # -- values ------------------------------------------------------------------------

    def value(self, row: int, key: str) -> Any:
        """The number or text behind a cell, as sorting uses it (None when missing).

        Values are cached per row, because a repaint requests several roles of every
        visible cell; a change of analysis or plan drops the rows it touches.
        """
        values = self._values.get(row)
        if values is None:
            info = self._infos[row]
            report = self.project.report(info.name)
            config = self.project.config(info.name)
            values = {name: read(info, report, config) for name, read in _VALUES.items()}
            self._values[row] = values
        return values[key]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        """Return a cell's data for ``role``, cached per row.

        A repaint requests about six roles of every visible cell, several times after
        each change of the window, so the results are kept until the row's values change.
        """
        if not index.isValid():
            return None
        row = index.row()
        cells = self._cells.setdefault(row, {})
        key = (index.column(), role)
        if key not in cells:
            cells[key] = self._data(row, COLUMNS[index.column()], role)
        return cells[key]

    def _data(self, row: int, column: Column, role: int) -> Any:
        if role == NAME_ROLE:
            return self._infos[row].name
        value = self.value(row, column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(column, value)
        if role == Qt.ItemDataRole.EditRole:
            return value
        if role == SORT_ROLE:
            return _sort_value(column, value)
        if role == Qt.ItemDataRole.BackgroundRole and column.kind == "db":
            color = sqnr_color(value, alpha=110)
            return QBrush(color) if color is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.kind not in ("text", "precision"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        return None

    def _display(self, column: Column, value: Any) -> str:
        if value is None:
            return ""
        if column.kind == "db":
            return _format_db(value)
        if column.kind == "int":
            return _format_count(int(value))
        if column.kind == "ratio":
            return "∞" if math.isinf(value) else f"{value:.1f}×"
        if column.kind == "sensitivity":
            return f"{value:.2e}"
        if column.kind == "precision":
            return precision.display_label(PRECISION_ROLES[column.key], value)
        if column.key == "recommendation":
            return translate(CONTEXT, RECOMMENDATION_LABELS.get(value, value))
        return str(value)

    def _tooltip(self, row: int, column: Column) -> str | None:
        report = self.project.report(self._infos[row].name)
        if column.key == "recommendation" and report and report.recommendation:
            return report.recommendation.reason
        if column.key == "sensitivity" and report and report.sensitivity:
            sensitivity = report.sensitivity
            return (
                translate("LayerTableModel", "%1: weights %2, inputs %3, both %4")
                .replace("%1", sensitivity_metric_label(sensitivity.metric))
                .replace("%2", f"{sensitivity.weights:.3g}")
                .replace("%3", f"{sensitivity.inputs:.3g}")
                .replace("%4", f"{sensitivity.both:.3g}")
            )
        if column.key == "name":
            return self._infos[row].name
        return None

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = 2
    ) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        role_name = PRECISION_ROLES.get(COLUMNS[index.column()].key)
        if role_name is None or not value:
            return False
        self.project.set_precision([self._infos[index.row()].name], role_name, str(value))
        return True

    # -- refresh -----------------------------------------------------------------------

    def _analysis_changed(self) -> None:
        if self.project.infos() != self._infos:
            self.reload()
            return
        self._emit_rows(None, 0, len(COLUMNS) - 1)

    def _plan_changed(self, changed: Sequence[str] | None) -> None:
        first = COLUMN_INDEX["weight_precision"]
        last = COLUMN_INDEX["input_precision"]
        self._emit_rows(changed, first, last)

    def _emit_rows(self, names: Sequence[str] | None, first: int, last: int) -> None:
        if not self._infos:
            return
        if names is None:
            rows = [0, len(self._infos) - 1]
            self._values.clear()
            self._cells.clear()
        else:
            rows = sorted(self._rows[name] for name in names if name in self._rows)
            if not rows:
                return
            for row in rows:
                self._values.pop(row, None)
                self._cells.pop(row, None)
        # One dataChanged over the span of changed rows keeps a long selection cheap.
        top = self.index(rows[0], first)
        bottom = self.index(rows[-1], last)
        self.dataChanged.emit(top, bottom)


def _config_label(config: LayerConfig | None, role: str) -> str | None:
    if config is None:
        return None
    return config.weight.label if role == "weight" else config.input.label


def _outlier_ratio(report: LayerReport | None) -> float | None:
    if report is None or report.input is None:
        return None
    return float(report.input.outliers.channel_ratio)


_VALUES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "name": lambda info, report, config: info.name,
    "kind": lambda info, report, config: info.kind,
    "shape": lambda info, report, config: " × ".join(str(size) for size in info.weight_shape),
    "params": lambda info, report, config: info.num_params,
    "weight_precision": lambda info, report, config: _config_label(config, "weight"),
    "input_precision": lambda info, report, config: _config_label(config, "input"),
    "w_fp8": lambda info, report, config: _sqnr(report, "weight", "fp8_e4m3_tensor"),
    "w_int8": lambda info, report, config: _sqnr(report, "weight", "int8_sym_channel"),
    "a_fp8": lambda info, report, config: _sqnr(report, "input", "fp8_e4m3_tensor"),
    "a_int8": lambda info, report, config: _sqnr(report, "input", "int8_sym_tensor"),
    "outliers": lambda info, report, config: _outlier_ratio(report),
    "sensitivity": lambda info, report, config: (
        report.sensitivity.both if report is not None and report.sensitivity else None
    ),
    "recommendation": lambda info, report, config: (
        report.recommendation.choice if report is not None and report.recommendation else None
    ),
}


class LayerFilterProxy(QSortFilterProxyModel):
    """Filters by name pattern and layer kind; passes sorting on to the source model.

    A pattern with ``*``, ``?`` or ``[`` is a glob over the whole name (as in plan
    rules); any other text matches as a substring. Both ignore case.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pattern = ""
        self._kind = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(False)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the source :class:`LayerTableModel` (see its ``sort``), not this proxy."""
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def set_pattern(self, pattern: str) -> None:
        self.beginFilterChange()
        self._pattern = pattern.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_kind(self, kind: str) -> None:
        self.beginFilterChange()
        self._kind = kind
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        name = model.index(source_row, 0, source_parent).data(NAME_ROLE) or ""
        if self._kind:
            kind = model.index(source_row, COLUMN_INDEX["kind"], source_parent).data()
            if kind != self._kind:
                return False
        if not self._pattern:
            return True
        if any(char in self._pattern for char in "*?["):
            return fnmatch.fnmatchcase(name.lower(), self._pattern)
        return self._pattern in name.lower()


class PrecisionDelegate(QStyledItemDelegate):
    """A combo box of the precision choices for the weight or input column."""

    def createEditor(
        self,
        parent: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        role = PRECISION_ROLES[COLUMNS[index.column()].key]
        combo = QComboBox(parent)
        combo.setObjectName("precisionEditor")
        for item in precision.choices(role):
            combo.addItem(item.display, item.key)
        # Choosing an entry commits at once, so one click and one choice make the change.
        combo.activated.connect(lambda _index: self._commit(combo))
        return combo

    def _commit(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, QComboBox)
        current = index.data(Qt.ItemDataRole.EditRole)
        position = editor.findData(current)
        if position < 0 and current:
            # A setting the menu lacks (a per-group plan from a file) stays selectable.
            editor.insertItem(0, str(current), current)
            position = 0
        editor.setCurrentIndex(max(position, 0))

    def setModelData(
        self,
        editor: QWidget,
        model: QAbstractItemModel,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        assert isinstance(editor, QComboBox)
        key = editor.currentData()
        if key != index.data(Qt.ItemDataRole.EditRole):
            model.setData(index, key, Qt.ItemDataRole.EditRole)


class LayerTableView(QTableView):
    """The table widget: sortable, keyboard-selectable, with a precision context menu.

    ``actions_for_menu`` is set by the window to the actions shown on right click, so
    the menu and the keyboard shortcuts run the same code.
    """

    layerActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerTable")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionsMovable(True)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.setItemDelegateForColumn(COLUMN_INDEX["weight_precision"], PrecisionDelegate(self))
        self.setItemDelegateForColumn(COLUMN_INDEX["input_precision"], PrecisionDelegate(self))
        self.clicked.connect(self._clicked)
        self.menu_actions: list[QAction | None] = []

    def setSelectionModel(self, selectionModel: QItemSelectionModel) -> None:
        """Select rows with ``selectionModel``, and give the header an empty one of its own.

        To paint its sections, QHeaderView (Qt 6.11) checks whether whole columns are
        selected, with highlightSections off too. With all rows selected, that takes
        one Python :meth:`flags` call per row and painted section: 10,000 calls and
        about 25 ms at 1,050 rows. The header highlights no sections and, with sorting
        on, selects no columns, so it needs no selection.
        """
        super().setSelectionModel(selectionModel)
        header = self.horizontalHeader()
        header.setSelectionModel(QItemSelectionModel(self.model(), header))

    def _clicked(self, index: QModelIndex) -> None:
        if COLUMNS[index.column()].key in PRECISION_ROLES:
            self.edit(index)

    def selected_names(self) -> list[str]:
        """Names of the selected rows, in table order.

        The view selects whole rows, so the rows of the selection's ranges are the
        selected rows. ``selectedRows()`` would ask the model for the flags of every
        selected cell: 13,650 Python calls and about 50 ms with 1,050 rows selected.
        """
        rows = {
            row
            for selection_range in self.selectionModel().selection()
            for row in range(selection_range.top(), selection_range.bottom() + 1)
        }
        model = self.model()
        return [model.index(row, 0).data(NAME_ROLE) for row in sorted(rows)]

    def current_name(self) -> str:
        index = self.currentIndex()
        return index.siblingAtColumn(0).data(NAME_ROLE) if index.isValid() else ""

    def select_name(self, name: str) -> bool:
        """Make the row of layer ``name`` current and selected, scrolled into view."""
        model = self.model()
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if index.data(NAME_ROLE) == name:
                self.setCurrentIndex(index)
                self.selectRow(row)
                self.scrollTo(index)
                return True
        return False

    def contextMenuEvent(self, event: Any) -> None:
        menu = QMenu(self)
        for action in self.menu_actions:
            if action is None:
                menu.addSeparator()
            elif isinstance(action, QMenu):
                menu.addMenu(action)
            else:
                menu.addAction(action)
        menu.exec(event.globalPos())

    def resize_to_contents(self) -> None:
        """Set column widths from the header texts and the longest layer name.

        Font metrics of a few strings replace ``resizeColumnsToContents``, which reads
        every cell of the model and took a few hundred milliseconds on 200-layer models.
        """
        model = self.model()
        if model is None:
            return
        metrics = self.fontMetrics()
        header = self.horizontalHeader()
        padding = 4 * metrics.averageCharWidth()
        samples = {
            "text": "linear",
            "int": "147.8 k",
            "db": "∞ 00.0",
            "ratio": "000.0×",
            "sensitivity": "0.00e-00",
            "precision": precision.choice(precision.WEIGHT, "int8_sym/ch").display,
        }
        for column, spec in enumerate(COLUMNS):
            title = str(model.headerData(column, Qt.Orientation.Horizontal))
            sample = samples.get(spec.kind, "")
            if spec.key == "shape":
                sample = "00000 × 00000"
            elif spec.key == "recommendation":
                sample = translate(CONTEXT, RECOMMENDATION_LABELS["fp8_e4m3"])
            width = max(metrics.horizontalAdvance(title), metrics.horizontalAdvance(sample))
            header.resizeSection(column, width + padding)
        names = [model.index(row, 0).data(NAME_ROLE) or "" for row in range(model.rowCount())]
        longest = max((metrics.horizontalAdvance(name) for name in names), default=160)
        header.resizeSection(COLUMN_INDEX["name"], min(max(longest + padding, 160), 360))
