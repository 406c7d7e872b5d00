"""Save a PNG of each main view of the app, offscreen, on the bundled MiniLM sample.

    python scripts/screenshots.py [--out docs/screenshots] [--layer NAME] [--lang zh_CN]
                                  [--main-only] [--prefix guide_]

Opens the app, analyses ``sample:minilm`` (8 calibration sequences, sensitivity on 1),
applies the recommendations, runs a small automatic plan search, selects a layer, runs
two QAT steps and an export with its parity check, and grabs each view with
``QWidget.grab()``. Takes a few minutes on a laptop CPU. Settings go to a temporary
folder, so the user's own quantviz settings are untouched.

``--lang zh_CN`` shows the app in that language and names the files
``main_window_zh_CN.png`` and so on; Chinese text needs a CJK font such as Debian's
fonts-noto-cjk. ``--main-only`` stops after the main window, before QAT and export.
``--prefix`` is put in front of every file name (``guide_main_window.png``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LAYER = "encoder.layer.0.intermediate.dense"


def isolate() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = tempfile.mkdtemp(prefix="quantviz-screenshots-")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = f"{folder}/{name.lower()}"
    return folder


def wait_until(app, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def settle(app, seconds: float = 0.5) -> None:
    """Let throttled redraws, debounced refreshes and paints run."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def save(widget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--layer", default=DEFAULT_LAYER)
    parser.add_argument("--lang", default=None, help="interface language, e.g. zh_CN")
    parser.add_argument(
        "--main-only", action="store_true", help="save only the main window, skip QAT and export"
    )
    parser.add_argument("--prefix", default="", help="text put in front of every file name")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(isolate())

    from quantviz.gui.app import create_application
    from quantviz.gui.i18n import install_translators

    app = create_application()
    # Without --lang the app stays in English whatever the machine's locale is.
    translators = install_translators(app, args.lang) if args.lang else []
    for translator in translators:
        print(f"translation {translator.filePath()}")
    suffix = f"_{args.lang}" if args.lang else ""

    def target(name: str) -> Path:
        return out / f"{args.prefix}{name}{suffix}.png"

    from quantviz.analysis.pipeline import AnalysisSettings
    from quantviz.gui.main_window import MainWindow

    window = MainWindow(cache_dir=work / "cache", autosave_s=3600)
    window.resize(1600, 1000)
    window.show()
    window.workflow.set_settings(AnalysisSettings(samples=8, sensitivity_samples=1))
    window.workflow.evaluation_options = {"samples": 16}
    done: list[object] = []
    window.workflow.analysisFinished.connect(lambda: done.append("analysis"))
    window.workflow.failed.connect(lambda message: done.append(message))
    window.open_model("sample:minilm")
    wait_until(app, lambda: done, 1800, "the analysis")
    if done[0] != "analysis":
        raise SystemExit(f"the analysis failed: {done[0]}")

    project = window.project
    project.apply_recommendations()
    window.workflow.auto_plan({"max_loss": 0.002, "max_evaluations": 4, "samples": 16})
    wait_until(app, lambda: "autoplan" in project.results or not window.runner.busy, 1800, "plans")
    wait_until(app, lambda: not window.runner.busy, 1800, "the automatic plan")

    window.table.select_name(args.layer)
    wait_until(app, lambda: window.detail.full_heatmaps(args.layer) is not None, 120, "heatmaps")
    settle(app)

    window.overview.tabs.setCurrentIndex(0)
    settle(app)
    save(window, target("main_window"))
    if args.main_only:
        window.close()
        return 0
    window.detail.tabs.setCurrentIndex(0)
    settle(app)
    save(window.detail, target("layer_detail"))
    window.detail.tabs.setCurrentIndex(1)
    settle(app)
    save(window.detail, target("layer_heatmaps"))
    window.detail.tabs.setCurrentIndex(2)
    settle(app)
    save(window.detail, target("layer_numbers"))
    window.detail.tabs.setCurrentIndex(0)

    window.overview_dock.setFloating(True)
    window.overview_dock.resize(1400, 420)
    overview_files = ("model_sqnr", "model_metric_heatmap", "model_frontier")
    for index, name in enumerate(overview_files):
        window.overview.tabs.setCurrentIndex(index)
        settle(app)
        save(window.overview, target(name))
    window.overview_dock.setFloating(False)

    window.window_actions.qat.trigger()
    qat = window.dialogs["qat"]
    qat.steps.setValue(6)
    qat.batch_size.setValue(2)
    qat.seq_len.setValue(64)
    qat.eval_every.setValue(3)
    qat.eval_samples.setValue(4)
    qat.calibration_samples.setValue(4)
    qat.start()
    wait_until(app, lambda: qat.result is not None or qat.worker is None, 1800, "QAT")
    wait_until(app, lambda: not window.runner.busy, 60, "QAT to end")
    settle(app)
    save(qat, target("qat_dialog"))
    qat.close()

    window.window_actions.export.trigger()
    export = window.dialogs["export"]
    export.path_edit.setText(str(work / "minilm-quantized.onnx"))
    export.start()
    wait_until(app, lambda: export.report is not None or export.worker is None, 1800, "export")
    wait_until(app, lambda: not window.runner.busy, 60, "export to end")
    settle(app)
    save(export, target("export_dialog"))
    export.close()

    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
