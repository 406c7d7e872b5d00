"""The engine must import without any Qt binding: a headless run blocks them."""

import subprocess
import sys

ENGINE_MODULES = [
    "quantviz.formats",
    "quantviz.quant",
    "quantviz.model.loading",
    "quantviz.model.calibration",
    "quantviz.analysis.pipeline",
    "quantviz.analysis.report",
    "quantviz.io",
    "quantviz.cli",
]

BLOCKER = """
import importlib.abc, sys
class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "shiboken6"}:
            raise ImportError(f"Qt is blocked in this test: {name}")
        return None
sys.meta_path.insert(0, BlockQt())
"""


def test_engine_imports_with_qt_blocked():
    code = BLOCKER + "\n".join(f"import {name}" for name in ENGINE_MODULES)
    code += "\nimport sys\nprint(sorted(m for m in sys.modules if 'Qt' in m or 'PySide' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
