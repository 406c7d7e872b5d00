"""Responsiveness of the desktop app's layer table and plots as the layer count grows.

    python tests/benchmarks/bench_gui_many_layers.py [--blocks 15 150] [--repeats 3]
        [--models DIR] [--baseline-code DIR] [--json FILE]

Each entry of ``--blocks`` is the number of decoder blocks of a random Llama with
hidden size 32 and 7 linear layers per block, so 15 and 150 blocks give 105 and 1,050
layers. The model is saved as a Hugging Face folder under ``--models`` and opened in a
fresh interpreter, offscreen. That child process runs the analysis (2 sequences of 16
tokens, no sensitivity). It then works the layer table as a user would: scroll to the
end, sort by a column and back, type a filter, click a row, show the layer x metric
map and the SQNR chart (one entry per layer), select all, set the weights of all
layers to FP8, undo, redo, open the rule dialog, type a pattern, apply the rule and
undo it.

A 10 ms QTimer records the event loop's ticks. Per step the child reports the longest
gap between two ticks (``stall_ms``: time the window could not paint or take input),
the main thread's CPU time inside that gap (``stall_cpu_ms``: low when the main thread
waited for the GIL or a CPU), and the main thread's CPU time over the step and its
settling time, less the CPU time that the idle loop uses (``cpu_ms``). CPU time grows
with the work, and other processes on the machine inflate it far less than wall-clock
time. ``fill_ms`` is the time from the analysis result reaching the window to the last
queued view update having run and the event loop ticking again.

The summary prints the median over ``--repeats`` runs per model, and the ratio of the
largest model to the smallest, so that growth with the layer count shows. With
``--baseline-code DIR`` every run is repeated with ``DIR`` first on PYTHONPATH (a
folder that contains another ``quantviz`` package, for example an older copy), and
the two code versions alternate so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TICK_MS = 10
TARGET_STALL_MS = 100.0
# A step has settled once the event loop ran this long with no gap over SETTLED_GAP_MS.
SETTLE_QUIET_S = 0.25
SETTLED_GAP_MS = 30.0
MIN_SETTLE_S = 0.3
MAX_SETTLE_S = 20.0
KEY_INTERVAL_S = 0.1  # typing speed of the simulated user
FILTER_TEXT = "mlp.down"
RULE_PATTERN = "*.mlp.*"


def model_folder(models: Path, blocks: int) -> Path:
    """Write (once) a random Llama with ``blocks`` decoder blocks and return its folder."""
    folder = models / f"llama-{blocks}-blocks"
    if (folder / "config.json").is_file():
        return folder
    from quantviz.model.loading import save_random_model

    return save_random_model("llama", folder, seed=0, num_hidden_layers=blocks)


# -- child process: one model, one code version ------------------------------------------


class TickRecorder:
    """Records (wall, main-thread CPU) times of a 10 ms timer's ticks."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[tuple[float, float]] = []
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), time.thread_time()))

    def longest_gap(self, start: float, end: float) -> tuple[float, float]:
        """Wall-clock and main-thread CPU milliseconds of the longest gap between two
        consecutive ticks that overlaps [start, end]."""
        pairs = [
            (a, b)
            for a, b in zip(self.ticks, self.ticks[1:], strict=False)
            if b[0] > start and a[0] < end
        ]
        if not pairs:
            return 0.0, 0.0
        a, b = max(pairs, key=lambda pair: pair[1][0] - pair[0][0])
        return round(1000 * (b[0] - a[0]), 1), round(1000 * (b[1] - a[1]), 1)

    def max_gap_ms(self, start: float, end: float) -> float:
        return self.longest_gap(start, end)[0]

    def stall(self, start: float, end: float) -> dict[str, float]:
        wall, cpu = self.longest_gap(start, end)
        return {"stall_ms": wall, "stall_cpu_ms": cpu}

    def last_tick_before(self, moment: float) -> float:
        return max((tick[0] for tick in self.ticks if tick[0] <= moment), default=moment)

    def first_tick_after(self, moment: float) -> float:
        return min((tick[0] for tick in self.ticks if tick[0] > moment), default=moment)


class Driver:
    """Drives one window through the table steps and measures each one."""

    def __init__(self, app, window, recorder: TickRecorder) -> None:
        self.app = app
        self.window = window
        self.recorder = recorder
        self.idle_cpu_per_s = 0.0
        self.steps: dict[str, dict[str, float]] = {}

    def spin(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            self.app.processEvents()
            time.sleep(0.002)

    def settle(self, start: float) -> float:
        """Run the event loop until no gap over SETTLED_GAP_MS happened for a while."""
        while True:
            self.spin(0.05)
            now = time.perf_counter()
            if now - start > MAX_SETTLE_S:
                return now
            if now - start < MIN_SETTLE_S or self.window.project.updates.pending:
                continue
            if self.recorder.max_gap_ms(now - SETTLE_QUIET_S, now) <= SETTLED_GAP_MS:
                return now

    def measure_idle(self, seconds: float = 1.0) -> None:
        cpu = time.thread_time()
        self.spin(seconds)
        self.idle_cpu_per_s = (time.thread_time() - cpu) / seconds

    def step(self, name: str, action: Callable[[], object]) -> None:
        """Run ``action`` (a user's step), let the window settle, record stall and CPU."""
        self.spin(0.1)
        start, cpu = time.perf_counter(), time.thread_time()
        action()
        end = self.settle(start)
        busy = time.thread_time() - cpu - self.idle_cpu_per_s * (end - start)
        self.steps[name] = {
            **self.recorder.stall(start, end),
            "cpu_ms": round(1000 * max(busy, 0.0), 1),
        }

    def type_keys(self, widget, text: str) -> None:
        """Type ``text`` one key at a time at KEY_INTERVAL_S, as a person types."""
        from PySide6.QtTest import QTest

        for char in text:
            QTest.keyClicks(widget, char)
            self.spin(KEY_INTERVAL_S)


def _open_and_analyse(app, window, recorder: TickRecorder, folder: str) -> dict[str, object]:
    from PySide6.QtCore import QEventLoop

    from quantviz.analysis.pipeline import AnalysisSettings

    marks: dict[str, float] = {}
    drained: list[float] = []
    workflow, project = window.workflow, window.project
    workflow.modelLoaded.connect(lambda: marks.setdefault("loaded", time.perf_counter()))
    project.analysisChanged.connect(lambda: marks.setdefault("analysis", time.perf_counter()))
    project.updates.drained.connect(lambda: drained.append(time.perf_counter()))
    failures: list[str] = []
    loop = QEventLoop()
    workflow.analysisFinished.connect(loop.quit)
    workflow.failed.connect(lambda message: (failures.append(message), loop.quit()))
    workflow.set_settings(
        AnalysisSettings(samples=2, seq_len=16, batch_size=2, sensitivity_samples=0)
    )
    started = time.perf_counter()
    window.open_model(folder)
    loop.exec()
    if failures:
        raise RuntimeError(failures[0])
    finished = time.perf_counter()
    end = Driver(app, window, recorder).settle(finished)
    received = recorder.last_tick_before(marks["analysis"])
    last_update = max((moment for moment in drained if moment >= received), default=finished)
    filled = recorder.first_tick_after(last_update)
    return {
        "layers": window.table_model.rowCount(),
        "loading": recorder.stall(started, marks["loaded"]),
        "analysis": recorder.stall(marks["loaded"], received),
        "fill": {
            "fill_ms": round(1000 * (filled - received), 1),
            **recorder.stall(received, end),
        },
    }


def _table_steps(driver: Driver) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QAbstractSlider, QDialogButtonBox

    from quantviz.gui import precision
    from quantviz.gui.layer_table import COLUMN_INDEX

    window = driver.window
    table, project, actions = window.table, window.project, window.window_actions
    header = table.horizontalHeader()
    names = project.layer_names()

    scroll = table.verticalScrollBar()
    driver.step("scroll_to_end", lambda: scroll.triggerAction(QAbstractSlider.SliderToMaximum))
    # A click on a header section sets the sort indicator, and the view sorts on its signal.
    driver.step(
        "sort_by_sqnr",
        lambda: header.setSortIndicator(COLUMN_INDEX["w_fp8"], Qt.SortOrder.AscendingOrder),
    )
    driver.step(
        "sort_by_name",
        lambda: header.setSortIndicator(COLUMN_INDEX["name"], Qt.SortOrder.AscendingOrder),
    )
    window.filter_edit.setFocus()
    driver.step("filter_typing", lambda: driver.type_keys(window.filter_edit, FILTER_TEXT))
    shown_rows = window.proxy.rowCount()
    if shown_rows != sum(FILTER_TEXT in name for name in names):
        raise RuntimeError(f"the filter {FILTER_TEXT!r} shows {shown_rows} rows")
    driver.step("filter_clear", window.filter_edit.clear)

    def click_row() -> None:
        row = table.rowAt(table.viewport().height() // 2)
        rect = table.visualRect(window.proxy.index(row, COLUMN_INDEX["name"]))
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center()))

    driver.step("select_one", click_row)
    if window.detail.layer != table.current_name():
        raise RuntimeError("the layer views did not follow the clicked row")

    tabs = window.overview.tabs
    driver.step("show_metric_map", lambda: tabs.setCurrentWidget(window.overview.metric_heatmap))
    driver.step("show_sqnr_chart", lambda: tabs.setCurrentWidget(window.overview.sqnr_chart))

    driver.step("select_all", actions.select_all.trigger)
    fp8 = window.choice_action(precision.WEIGHT, "fp8_e4m3")
    driver.step("assign_all", fp8.trigger)
    if {project.config(name).weight.label for name in names} != {"fp8_e4m3"}:
        raise RuntimeError("setting the weights of all layers to FP8 failed")
    driver.step("undo", actions.undo.trigger)
    driver.step("redo", actions.redo.trigger)

    driver.step("rule_dialog_open", actions.apply_rule.trigger)
    dialog = window.dialogs["rule"]
    dialog.pattern_edit.clear()
    driver.step("rule_typing", lambda: driver.type_keys(dialog.pattern_edit, RULE_PATTERN))
    dialog.weight_combo.setCurrentIndex(dialog.weight_combo.findData("int8_sym/ch"))
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    driver.step("rule_apply", ok.click)
    matched = [name for name in names if ".mlp." in name]
    if {project.config(name).weight.label for name in matched} != {"int8_sym/ch"}:
        raise RuntimeError(f"the rule {RULE_PATTERN!r} did not apply")
    driver.step("rule_undo", actions.undo.trigger)


def run_child(folder: str) -> dict[str, object]:
    """Open ``folder`` in a new window, analyse it and time the table steps."""
    settings_folder = tempfile.mkdtemp(prefix="quantviz-bench-")
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[variable] = f"{settings_folder}/{variable.lower()}"
    from quantviz.gui.app import create_application

    app = create_application()
    from quantviz.gui.main_window import MainWindow

    window = MainWindow(cache_dir=Path(settings_folder) / "analysis", autosave_s=3600)
    window.workflow.cache_dir = None
    window.resize(1500, 950)
    window.show()
    recorder = TickRecorder()
    results = _open_and_analyse(app, window, recorder, folder)
    driver = Driver(app, window, recorder)
    driver.measure_idle()
    _table_steps(driver)
    results.update(driver.steps)
    results["idle_cpu_ms_per_s"] = round(1000 * driver.idle_cpu_per_s, 1)
    recorder.timer.stop()
    window.close()
    return results


# -- parent process ------------------------------------------------------------------


def _child_env(code: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
    return env


def run_once(folder: Path, code: str | None) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        subprocess.run(
            [sys.executable, __file__, "--child", str(folder), "--json", output.name],
            env=_child_env(code),
            cwd=REPO,
            timeout=1800,
            check=True,
        )
        return json.loads(Path(output.name).read_text(encoding="utf-8"))


def summarize(runs: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Median of every (step, measure) pair over ``runs``."""
    table: dict[str, dict[str, float]] = {}
    for step, measures in runs[0].items():
        if not isinstance(measures, dict):
            continue
        table[step] = {
            measure: round(statistics.median(run[step][measure] for run in runs), 1)
            for measure in measures
        }
    return table


def print_table(label: str, medians: dict[int, dict[str, dict[str, float]]]) -> None:
    sizes = sorted(medians)
    small, large = sizes[0], sizes[-1]
    print(f"\n{label}: median over the runs, ratio = {large} layers / {small} layers")
    for measure in ("stall_ms", "stall_cpu_ms", "cpu_ms", "fill_ms"):
        print(f"{measure:>10} " + "".join(f"{size:>10}" for size in sizes) + "     ratio")
        for step, values in medians[large].items():
            if measure not in values:
                continue
            row = [medians[size][step][measure] for size in sizes]
            ratio = row[-1] / row[0] if row[0] else float("nan")
            flag = " > target" if measure == "stall_ms" and row[-1] > TARGET_STALL_MS else ""
            cells = "".join(f"{value:>10.1f}" for value in row)
            print(f"{step:>16} {cells}{ratio:>10.2f}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[15, 150])
    parser.add_argument("--repeats", type=int, default=3, help="runs per model and code")
    parser.add_argument("--models", default=None, help="folder for the random models")
    parser.add_argument(
        "--baseline-code",
        default=None,
        help="folder that contains another quantviz package, measured in alternation",
    )
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        text = json.dumps(run_child(args.child), indent=1)
        Path(args.json).write_text(text + "\n", encoding="utf-8")
        return 0

    models = Path(args.models or tempfile.mkdtemp(prefix="quantviz-many-layers-"))
    folders = {blocks: model_folder(models, blocks) for blocks in args.blocks}
    codes = {"current": None}
    if args.baseline_code:
        codes["baseline"] = args.baseline_code
    runs: dict[str, dict[int, list[dict[str, object]]]] = {code: {} for code in codes}
    for repeat in range(args.repeats):
        for blocks, folder in folders.items():
            for label, code in codes.items():
                print(f"run {repeat + 1}/{args.repeats}: {blocks} blocks, {label} code", flush=True)
                result = run_once(folder, code)
                runs[label].setdefault(int(result["layers"]), []).append(result)
    load = os.getloadavg()
    report: dict[str, object] = {"load_average": [round(value, 2) for value in load], "runs": runs}
    for label, by_size in runs.items():
        medians = {size: summarize(results) for size, results in by_size.items()}
        report[f"{label}_medians"] = medians
        print_table(f"{label} code", medians)
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
