"""The layer table model and its sort/filter proxy, on a real analysis of a tiny BERT."""

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from quantviz.gui.colors import sqnr_color
from quantviz.gui.layer_table import (
    COLUMN_INDEX,
    NAME_ROLE,
    SORT_ROLE,
    LayerFilterProxy,
    LayerTableModel,
)
from quantviz.gui.project import Project


@pytest.fixture
def project(bert_model, bert_analysis):
    project = Project()
    project.set_model(bert_model)
    project.set_analysis(bert_analysis)
    return project


@pytest.fixture
def table(project):
    model = LayerTableModel(project)
    proxy = LayerFilterProxy()
    proxy.setSourceModel(model)
    return model, proxy


def names(proxy):
    return [proxy.index(row, 0).data(NAME_ROLE) for row in range(proxy.rowCount())]


def test_table_rows_follow_model(table, bert_model):
    model, _ = table
    assert model.rowCount() == len(bert_model.layers)
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == [
        info.name for info in bert_model.layers
    ]


def test_table_sqnr_cells(table, bert_analysis):
    model, _ = table
    report = bert_analysis.layers[0]
    expected = report.weight.sqnr("int8_sym_channel")
    index = model.index(0, COLUMN_INDEX["w_int8"])
    assert index.data() == f"{expected:.1f}"
    assert index.data(SORT_ROLE) == pytest.approx(expected)
    brush = index.data(Qt.ItemDataRole.BackgroundRole)
    assert isinstance(brush, QBrush)
    assert brush.color().rgb() == sqnr_color(expected).rgb()


def test_table_input_and_outliers(table, bert_analysis):
    model, _ = table
    report = bert_analysis.layers[0]
    fp8 = model.index(0, COLUMN_INDEX["a_fp8"]).data(SORT_ROLE)
    ratio = model.index(0, COLUMN_INDEX["outliers"]).data(SORT_ROLE)
    assert fp8 == pytest.approx(report.input.sqnr("fp8_e4m3_tensor"))
    assert ratio == pytest.approx(report.input.outliers.channel_ratio)


def test_table_precision_from_plan(table, project):
    model, _ = table
    name = project.layer_names()[1]
    project.set_precision([name], "weight", "int8_sym/ch")
    assert model.index(1, COLUMN_INDEX["weight_precision"]).data() == "INT8 per channel"
    assert model.index(1, COLUMN_INDEX["input_precision"]).data() == "Float"
    assert model.index(0, COLUMN_INDEX["weight_precision"]).data() == "Float"


def test_table_sort_numeric(table, bert_analysis):
    _, proxy = table
    proxy.sort(COLUMN_INDEX["w_fp8"], Qt.SortOrder.AscendingOrder)
    values = [
        proxy.index(row, COLUMN_INDEX["w_fp8"]).data(SORT_ROLE) for row in range(proxy.rowCount())
    ]
    assert values == sorted(values)
    proxy.sort(COLUMN_INDEX["w_fp8"], Qt.SortOrder.DescendingOrder)
    values = [
        proxy.index(row, COLUMN_INDEX["w_fp8"]).data(SORT_ROLE) for row in range(proxy.rowCount())
    ]
    assert values == sorted(values, reverse=True)


def test_table_sort_missing_first(project, table):
    _, proxy = table
    project.set_analysis(None)
    proxy.sort(COLUMN_INDEX["sensitivity"], Qt.SortOrder.AscendingOrder)
    value = proxy.index(0, COLUMN_INDEX["sensitivity"]).data(SORT_ROLE)
    assert math.isinf(value)
    assert proxy.index(0, COLUMN_INDEX["sensitivity"]).data() == ""


def test_filter_substring(table):
    _, proxy = table
    proxy.set_pattern("Attention.Self")
    shown = names(proxy)
    assert shown
    assert all("attention.self" in name for name in shown)


def test_filter_glob(table, project):
    _, proxy = table
    proxy.set_pattern("encoder.layer.1.*.dense")
    expected = [
        n
        for n in project.layer_names()
        if n.startswith("encoder.layer.1.") and n.endswith(".dense")
    ]
    assert names(proxy) == expected
    proxy.set_pattern("")
    assert len(names(proxy)) == len(project.layer_names())


def test_filter_kind(table, project):
    _, proxy = table
    proxy.set_kind("linear")
    assert len(names(proxy)) == len(project.layer_names())
    proxy.set_kind("conv2d")
    assert names(proxy) == []


def test_set_data_is_undoable(table, project):
    model, _ = table
    name = project.layer_names()[0]
    index = model.index(0, COLUMN_INDEX["input_precision"])
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(index, "fp8_e4m3", Qt.ItemDataRole.EditRole)
    assert project.config(name).input.format == "fp8_e4m3"
    assert project.undo_stack.count() == 1
    project.undo_stack.undo()
    assert project.config(name).input.format == "float"
    assert index.data(Qt.ItemDataRole.EditRole) == "float"


def test_numbers_not_editable(table):
    model, _ = table
    index = model.index(0, COLUMN_INDEX["w_fp8"])
    assert not model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(index, "fp8_e4m3", Qt.ItemDataRole.EditRole)


def test_cached_cells_follow_changes(table, project, bert_analysis):
    from dataclasses import replace

    from quantviz.analysis.pipeline import ModelAnalysis

    model, _ = table
    name = project.layer_names()[1]
    row = model.row_of(name)
    precision_cell = model.index(row, COLUMN_INDEX["weight_precision"])
    sqnr_cell = model.index(row, COLUMN_INDEX["w_fp8"])
    assert precision_cell.data() == "Float"
    before = sqnr_cell.data()
    assert before != ""

    project.set_precision([name], "weight", "fp8_e4m3")
    assert precision_cell.data() == "FP8 E4M3"
    project.undo_stack.undo()
    assert precision_cell.data() == "Float"

    changed = ModelAnalysis.from_dict(bert_analysis.to_dict())
    result = changed.layer(name).weight.results["fp8_e4m3_tensor"]
    result.metrics = replace(result.metrics, sqnr_db=12.25)
    project.set_analysis(changed)
    assert sqnr_cell.data() == "12.2"
    assert sqnr_cell.data(Qt.ItemDataRole.BackgroundRole) == QBrush(sqnr_color(12.25, alpha=110))
