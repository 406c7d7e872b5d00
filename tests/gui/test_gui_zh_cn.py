"""The shipped Simplified Chinese translation: complete, current, and what the app shows.

These tests read quantviz_zh_CN.ts and load quantviz_zh_CN.qm from the package's
translations folder, the files a user's installation loads.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMenu,
    QTabWidget,
    QWidget,
)

import quantviz.gui
from quantviz import cli
from quantviz.gui import i18n

TS_PATH = Path(i18n.TRANSLATIONS_DIR) / "quantviz_zh_CN.ts"
QM_PATH = Path(i18n.TRANSLATIONS_DIR) / "quantviz_zh_CN.qm"
GUI_SOURCES = sorted(str(path) for path in Path(quantviz.gui.__file__).parent.rglob("*.py"))

PLACEHOLDER = re.compile(r"%(?:\d+|n)|\{\w*\}")
# A single & marks the accelerator, and && is a literal ampersand.
ACCELERATOR = re.compile(r"(?<!&)&(?!&)")
FILE_PATTERN = re.compile(r"\*[\w.*%\[\]-]*", re.ASCII)

ZH_MENUS = ["文件(&F)", "编辑(&E)", "方案(&P)", "分析(&A)", "工具(&T)", "视图(&V)", "帮助(&H)"]
EN_MENUS = ["&File", "&Edit", "&Plan", "&Analysis", "&Tools", "&View", "&Help"]
ZH_HEADERS = ["层", "类型", "形状", "参数量", "W 精度", "A 精度"]
EN_HEADERS = ["Layer", "Kind", "Shape", "Params", "W precision", "A precision"]


def qt_tool(name):
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed")
    return found


def read_ts(path):
    """Map (context, source, comment) to the message's translation element."""
    messages = {}
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            key = (name, message.findtext("source"), message.findtext("comment") or "")
            messages[key] = message
    return messages


def translations(message):
    """The translated texts of a message: one, or one per plural form."""
    element = message.find("translation")
    if message.get("numerus") == "yes":
        return [form.text or "" for form in element.iter("numerusform")]
    return [element.text or ""]


SHIPPED = read_ts(TS_PATH)


def check_each(describe):
    """Return 'context / source -> translation: problem' for each message ``describe`` rejects."""
    failures = []
    for (context, source, _), message in SHIPPED.items():
        for text in translations(message):
            problem = describe(source, text)
            if problem:
                failures.append(f"{context} / {source!r} -> {text!r}: {problem}")
    return failures


# -- the shipped .ts ------------------------------------------------------------------


def test_ts_every_message_finished():
    unfinished = [
        f"{context} / {source!r}"
        for (context, source, _), message in SHIPPED.items()
        if message.find("translation").get("type") is not None
        or not all(text.strip() for text in translations(message))
    ]
    assert len(SHIPPED) > 300
    assert unfinished == []


def test_ts_placeholders_match():
    def describe(source, text):
        expected = PLACEHOLDER.findall(source)
        found = PLACEHOLDER.findall(text)
        if Counter(found) != Counter(expected):
            return f"placeholders {found}, source has {expected}"
        return None

    assert check_each(describe) == []


def test_ts_accelerators_kept():
    def describe(source, text):
        expected = len(ACCELERATOR.findall(source))
        found = len(ACCELERATOR.findall(text))
        return f"{found} accelerator marks, source has {expected}" if found != expected else None

    assert check_each(describe) == []


def test_ts_edge_spaces_kept():
    def describe(source, text):
        edges = (source[: len(source) - len(source.lstrip())], source[len(source.rstrip()) :])
        found = (text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :])
        return f"edge spaces {found!r}, source has {edges!r}" if edges != found else None

    assert check_each(describe) == []


def test_ts_file_patterns_kept():
    """File dialog filters and glob examples must reach the translation unchanged."""

    def describe(source, text):
        expected = FILE_PATTERN.findall(source)
        found = FILE_PATTERN.findall(text)
        return f"patterns {found}, source has {expected}" if expected != found else None

    assert check_each(describe) == []


def test_ts_lists_every_source_string(tmp_path):
    """lupdate on today's sources finds exactly the shipped messages: none missing, none stale.

    lupdate takes well under a second on quantviz/gui, so the test runs it.
    """
    fresh = tmp_path / "fresh.ts"
    subprocess.run(
        [qt_tool("pyside6-lupdate"), *GUI_SOURCES, "-ts", str(fresh)],
        check=True,
        capture_output=True,
    )
    current = set(read_ts(fresh))
    assert sorted(current - set(SHIPPED)) == [], "run scripts/update_translations.sh"
    assert sorted(set(SHIPPED) - current) == [], "run scripts/update_translations.sh"


def test_qm_compiled_from_shipped_ts(tmp_path):
    compiled = tmp_path / "quantviz_zh_CN.qm"
    subprocess.run(
        [qt_tool("pyside6-lrelease"), str(TS_PATH), "-qm", str(compiled)],
        check=True,
        capture_output=True,
    )
    assert compiled.read_bytes() == QM_PATH.read_bytes(), "run scripts/update_translations.sh"


def test_english_qm_is_empty():
    translator = QTranslator()
    assert translator.load(str(Path(i18n.TRANSLATIONS_DIR) / "quantviz_en.qm"))
    assert translator.isEmpty()


# -- the app in Chinese ---------------------------------------------------------------


@pytest.fixture
def shipped_chinese(quantviz_app):
    installed = i18n.install_translators(quantviz_app, "zh_CN")
    yield installed
    for translator in installed:
        QCoreApplication.removeTranslator(translator)


def english_only_sources():
    """Source texts whose Chinese translation differs, so seeing one means a miss."""
    sources = set()
    chinese = set()
    for (_, source, _), message in SHIPPED.items():
        texts = translations(message)
        chinese.update(texts)
        if source not in texts:
            sources.add(source)
    return sources - chinese


def visible_texts(widget):
    """Texts a user can read in ``widget`` and its children: labels, buttons, menus, tips."""
    texts = [widget.windowTitle(), widget.toolTip()]
    for action in widget.findChildren(QAction):
        texts += [action.text(), action.toolTip(), action.statusTip()]
    for child in widget.findChildren(QWidget):
        texts += [child.toolTip(), child.statusTip()]
        if isinstance(child, QLabel | QAbstractButton):
            texts.append(child.text())
        elif isinstance(child, QLineEdit):
            texts.append(child.placeholderText())
        elif isinstance(child, QComboBox):
            texts += [child.itemText(index) for index in range(child.count())]
        elif isinstance(child, QTabWidget):
            texts += [child.tabText(index) for index in range(child.count())]
        elif isinstance(child, QDockWidget):
            texts.append(child.windowTitle())
        elif isinstance(child, QMenu):
            texts.append(child.title())
    return [text for text in texts if text]


def test_installs_shipped_files(shipped_chinese):
    names = [Path(translator.filePath()).name for translator in shipped_chinese]
    assert names == ["quantviz_zh_CN.qm", "qtbase_zh_CN.qm"]
    assert Path(shipped_chinese[0].filePath()) == QM_PATH


def test_main_window_shows_chinese(shipped_chinese, make_window):
    window = make_window()
    missed = set(visible_texts(window)) & english_only_sources()
    assert missed == set()
    assert window.detail.tabs.tabText(0) == "分布(&D)"
    assert window.overview.tabs.tabText(0) == "各层 SQNR"
    assert window.summary_dock.windowTitle() == "方案摘要"
    assert window.filter_edit.placeholderText().startswith("筛选层")


def test_analysed_model_shows_chinese(shipped_chinese, make_window, bert_model, bert_analysis):
    """Texts filled in from the analysis: layer header, metrics table, plot axes, summary."""
    window = make_window()
    window.project.set_model(bert_model)
    window.project.set_analysis(bert_analysis)
    window.detail.redraw()
    window.summary.refresh()

    header = window.detail.header.text()
    assert "个参数" in header
    assert "敏感度（1 − 嵌入余弦）：权重" in header
    metrics = window.detail.metrics_table
    columns = [metrics.horizontalHeaderItem(index).text() for index in range(2)]
    assert columns == ["张量", "格式"]
    assert metrics.item(0, 0).text() == "权重"
    assert window.detail.error_heatmaps.fp8.getAxis("left").labelText == "输出通道"
    assert window.detail.weight_histogram.getPlotItem().getAxis("bottom").labelText == "数值"
    assert "各量化层单独代价之和" in window.summary.cost_label.text()
    assert window.summary.evaluation_label.text() == "未运行（请点击“评估方案”）"


def test_dialogs_show_chinese(shipped_chinese, make_window):
    from quantviz.gui.dialogs.auto_plan_dialog import AutoPlanDialog
    from quantviz.gui.dialogs.export_dialog import ExportDialog
    from quantviz.gui.dialogs.open_model_dialog import OpenModelDialog
    from quantviz.gui.dialogs.qat_dialog import QATDialog
    from quantviz.gui.dialogs.rule_dialog import RuleDialog
    from quantviz.gui.dialogs.settings_dialog import AnalysisSettingsDialog

    window = make_window()
    dialogs = [
        AnalysisSettingsDialog(window.workflow.settings, window),
        AutoPlanDialog("encoder", window),
        ExportDialog(window.workflow, window),
        OpenModelDialog([], ["sample:minilm"], window),
        QATDialog(window.workflow, window),
        RuleDialog(window.project, [], window),
    ]
    english = english_only_sources()
    for dialog in dialogs:
        missed = set(visible_texts(dialog)) & english
        assert missed == set(), dialog.objectName()
    settings = dialogs[0]
    labels = [label.text() for label in settings.findChildren(QLabel)]
    assert "校准文本(&T)：" in labels
    assert "观察器(&O)：" in labels
    buttons = [button.text() for button in settings.findChildren(QAbstractButton)]
    assert "恢复默认值" in buttons  # Qt's own strings come from qtbase_zh_CN.qm
    assert settings.observer.itemText(settings.observer.findData("mse")) == "MSE 最小的截断"
    assert dialogs[5].preview.text() == "匹配 0 个层"
    for dialog in dialogs:
        dialog.close()


def test_precision_labels_chinese(shipped_chinese):
    from quantviz.gui import precision

    assert precision.choice("weight", "int8_sym/ch").display == "INT8 逐通道"
    assert precision.choice("weight", "int8_sym").display == "INT8 逐张量"
    assert precision.choice("input", "float").display == "浮点"


def test_engine_stage_names_chinese(shipped_chinese):
    assert i18n.stage_label("calibration") == "校准"
    assert i18n.stage_label("sensitivity") == "敏感度"
    assert i18n.stage_label("a stage the list lacks") == "a stage the list lacks"


# -- choosing the language ------------------------------------------------------------


def run_gui_command(monkeypatch, app, argv):
    """Run ``quantviz gui ARGV`` up to its event loop; return what its window shows.

    The event loop is replaced by a function that lets the window's start-up timer run
    (with MainWindow.start stubbed, so no model opens), reads the menus, the table
    headers and the settings dialog, and closes the window.
    """
    from quantviz.gui.main_window import MainWindow

    started = []
    shown = {}
    monkeypatch.setattr(MainWindow, "start", lambda self, spec=None: started.append(spec))

    def event_loop():
        window = next(
            widget
            for widget in QApplication.topLevelWidgets()
            if isinstance(widget, MainWindow) and widget.isVisible()
        )
        while not started:
            QCoreApplication.processEvents()
        model = window.table_model
        shown["menus"] = [action.text() for action in window.menuBar().actions()]
        shown["headers"] = [
            model.headerData(column, Qt.Orientation.Horizontal) for column in range(6)
        ]
        window.window_actions.settings.trigger()
        dialog = window.dialogs["settings"]
        shown["dialog"] = [label.text() for label in dialog.findChildren(QLabel)]
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(event_loop))
    interrupt_handler = signal.getsignal(signal.SIGINT)
    try:
        assert cli.main(["gui", *argv]) == 0
    finally:
        signal.signal(signal.SIGINT, interrupt_handler)
        # app.main leaves its translators installed; later tests expect English.
        for translator in app.findChildren(QTranslator):
            QCoreApplication.removeTranslator(translator)
    return shown


def test_cli_lang_zh_cn_chinese(monkeypatch, quantviz_app):
    shown = run_gui_command(monkeypatch, quantviz_app, ["--lang", "zh_CN"])
    assert shown["menus"] == ZH_MENUS
    assert shown["headers"] == ZH_HEADERS
    assert "样本数(&S)：" in shown["dialog"]


def test_cli_lang_en_english(monkeypatch, quantviz_app):
    shown = run_gui_command(monkeypatch, quantviz_app, ["--lang", "en"])
    assert shown["menus"] == EN_MENUS
    assert shown["headers"] == EN_HEADERS
    assert "&Samples:" in shown["dialog"]


SYSTEM_LOCALE_SCRIPT = """
import json
from quantviz.gui.app import create_application
from quantviz.gui.i18n import install_translators
from quantviz.gui.main_window import MainWindow

app = create_application()
translators = install_translators(app, None)
window = MainWindow(autosave_s=3600)
print(json.dumps({
    "menus": [action.text() for action in window.menuBar().actions()],
    "files": [translator.filePath() for translator in translators],
}))
"""


def gui_with_locale(tmp_path, **locale_variables):
    """Start a fresh process with the given locale variables and no --lang."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LANG", "LANGUAGE") and not key.startswith("LC_")
    }
    env.update(locale_variables)
    env["QT_QPA_PLATFORM"] = "offscreen"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    done = subprocess.run(
        [sys.executable, "-c", SYSTEM_LOCALE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_system_locale_zh_cn_chinese(tmp_path):
    """QLocale.system() reads LANG on Linux when the process starts."""
    shown = gui_with_locale(tmp_path, LANG="zh_CN.UTF-8")
    assert shown["menus"] == ZH_MENUS
    assert Path(shown["files"][0]) == QM_PATH


def test_system_locale_en_us_english(tmp_path):
    shown = gui_with_locale(tmp_path, LANG="en_US.UTF-8")
    assert shown["menus"] == EN_MENUS


def test_english_first_ui_language_english(tmp_path):
    """LANGUAGE lists English before Chinese: quantviz_en.qm ends the search in English."""
    shown = gui_with_locale(tmp_path, LANG="en_US.UTF-8", LANGUAGE="en_US:zh_CN")
    assert shown["menus"] == EN_MENUS
