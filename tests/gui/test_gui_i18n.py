"""User-visible strings go through Qt's translation system, so a .qm file changes them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from quantviz.gui import i18n
from quantviz.gui.layer_table import LayerTableModel
from quantviz.gui.project import Project

TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context><name>LayerTableModel</name>
<message><source>Layer</source><translation>层</translation></message>
</context>
<context><name>Precision</name>
<message><source>INT8 per channel</source><translation>INT8 逐通道</translation></message>
</context>
<context><name>WindowActions</name>
<message><source>&amp;Plan</source><translation>方案(&amp;P)</translation></message>
</context>
</TS>
"""


def lrelease() -> str:
    found = shutil.which("pyside6-lrelease") or str(
        Path(sys.executable).parent / "pyside6-lrelease"
    )
    if not Path(found).exists():
        pytest.skip("pyside6-lrelease is not installed")
    return found


@pytest.fixture
def chinese(tmp_path, monkeypatch, quantviz_app):
    source = tmp_path / "quantviz_zh_CN.ts"
    source.write_text(TS, encoding="utf-8")
    subprocess.run(
        [lrelease(), str(source), "-qm", str(tmp_path / "quantviz_zh_CN.qm")],
        check=True,
        capture_output=True,
    )
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    installed = i18n.install_translators(quantviz_app, "zh_CN")
    yield installed
    for translator in installed:
        QCoreApplication.removeTranslator(translator)


def test_table_header_translated(chinese, bert_model):
    project = Project()
    project.set_model(bert_model)
    model = LayerTableModel(project)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "层"


def test_precision_label_translated(chinese):
    from quantviz.gui import precision

    assert precision.choice("weight", "int8_sym/ch").display == "INT8 逐通道"


def test_menu_translated(chinese, make_window):
    window = make_window()
    titles = [action.text() for action in window.menuBar().actions()]
    assert "方案(&P)" in titles


def test_missing_language_stays_english(quantviz_app, tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    installed = i18n.install_translators(quantviz_app, "xx_YY")
    try:
        assert installed == []
        assert i18n.translate("LayerTableModel", "Layer") == "Layer"
    finally:
        for translator in installed:
            QCoreApplication.removeTranslator(translator)


def test_template_lists_table_strings():
    template = Path(i18n.TRANSLATIONS_DIR) / "quantviz_zh_CN.ts"
    text = template.read_text(encoding="utf-8")
    assert "<name>LayerTableModel</name>" in text
    assert "<source>W INT8/ch</source>" in text
