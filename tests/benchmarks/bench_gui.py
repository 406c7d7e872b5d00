"""Responsiveness of the desktop app: launch time, event-loop stalls, layer redraw time.

    python tests/benchmarks/bench_gui.py launch [--runs 5]
    python tests/benchmarks/bench_gui.py stall [--model sample:minilm] [--samples 16]
        [--qat-steps 40]
    python tests/benchmarks/bench_gui.py redraw [--model sample:smollm2] [--repeats 21]
    python tests/benchmarks/bench_gui.py all

``launch`` starts a fresh interpreter per run and times process start to the first
event-loop turn after the window is shown, through ``quantviz.gui.app`` (what
``quantviz gui`` calls) and through the ``quantviz`` command line. ``stall`` records the
gaps between the ticks of a 10 ms QTimer while a model loads and is analysed, and then
while the QAT dialog trains the analysis' recommended plan for ``--qat-steps`` steps (0
skips it). A gap much longer than 10 ms is time the event loop could not run.
``redraw`` times selecting a table row up to the repainted window (layer views, table,
model chart), alternating between the model's largest layers. Both also report the
main thread's CPU time, which a busy machine inflates far less than wall-clock time.
Every run uses its own temporary settings folder, offscreen.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_STALL_MS = 100.0
TARGET_REDRAW_MS = 50.0
TARGET_LAUNCH_S = 2.5

LAUNCH_CHILD = r"""
import sys, time
from PySide6.QtCore import QTimer
from quantviz.gui.app import create_application
app = create_application()
def ready():
    print("READY", time.time(), "torch" in sys.modules, flush=True)
    app.quit()
QTimer.singleShot(0, ready)
if sys.argv[1] == "cli":
    import quantviz.cli
    sys.exit(quantviz.cli.main(["gui", "sample:minilm"]))
from quantviz.gui.main_window import MainWindow
window = MainWindow()
window.show()
app.exec()
"""


def isolated_env(folder: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        XDG_CONFIG_HOME=f"{folder}/config",
        XDG_DATA_HOME=f"{folder}/data",
        XDG_CACHE_HOME=f"{folder}/cache",
    )
    return env


def measure_launch(runs: int) -> dict[str, object]:
    """Measure the median seconds from process start to a usable window, per entry path."""
    results: dict[str, object] = {}
    for path in ("app", "cli"):
        times, torch_loaded = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as folder:
                started = time.time()
                output = subprocess.run(
                    [sys.executable, "-c", LAUNCH_CHILD, path],
                    capture_output=True,
                    text=True,
                    env=isolated_env(folder),
                    cwd=REPO,
                    timeout=300,
                    check=True,
                ).stdout
            line = next(item for item in output.splitlines() if item.startswith("READY"))
            _, ready_at, torch_flag = line.split()
            times.append(float(ready_at) - started)
            torch_loaded.append(torch_flag == "True")
        results[path] = {
            "median_s": statistics.median(times),
            "runs_s": [round(value, 3) for value in times],
            "torch_imported_before_window": any(torch_loaded),
        }
    return results


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = tempfile.mkdtemp(prefix="quantviz-bench-")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = f"{folder}/{name.lower()}"
    from quantviz.gui.app import create_application

    return create_application(), folder


def _wait(app, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the app")
        app.processEvents()
        time.sleep(0.002)


def _open(app, window, model: str, settings) -> None:
    window.workflow.set_settings(settings)
    done = []
    window.workflow.analysisFinished.connect(lambda: done.append(True))
    window.workflow.failed.connect(lambda message: done.append(message))
    window.open_model(model)
    _wait(app, lambda: done, 3600)
    if done[0] is not True:
        raise RuntimeError(done[0])


def _gap_summary(ticks: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    """Summarize the wall-clock gaps and main-thread CPU time between ticks in [start, end)."""
    pairs = [(a, b) for a, b in itertools.pairwise(ticks) if start <= a[0] < end]
    if not pairs:
        return {}
    wall = sorted((b[0] - a[0]) * 1000 for a, b in pairs)
    cpu = sorted((b[1] - a[1]) * 1000 for a, b in pairs)
    longest = max(pairs, key=lambda pair: pair[1][0] - pair[0][0])
    return {
        "seconds": round(end - start, 2),
        "max_gap_ms": round(wall[-1], 1),
        "max_gap_main_thread_cpu_ms": round((longest[1][1] - longest[0][1]) * 1000, 1),
        "p99_gap_ms": round(wall[int(0.99 * (len(wall) - 1))], 1),
        "gaps_over_100ms": sum(1 for gap in wall if gap > TARGET_STALL_MS),
        "max_main_thread_cpu_ms": round(cpu[-1], 1),
    }


def measure_stall(
    model: str, samples: int, sensitivity_samples: int, qat_steps: int = 0
) -> dict[str, object]:
    """Measure the gaps between 10 ms timer ticks while ``model`` loads, is analysed and,
    for ``qat_steps`` > 0, trains with QAT.

    A wall-clock gap is time the event loop did not run. The main thread's CPU time
    over the same gap separates work the GUI thread did (redraws) from waiting for
    the GIL or for a CPU that other processes hold.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    app, folder = _app()
    from quantviz.analysis.pipeline import AnalysisSettings
    from quantviz.gui.main_window import MainWindow

    window = MainWindow(cache_dir=None, autosave_s=3600)
    window.workflow.cache_dir = None
    window.resize(1500, 950)
    window.show()
    ticks: list[tuple[float, float]] = []
    marks: dict[str, float] = {}
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append((time.perf_counter(), time.thread_time())))
    loop = QEventLoop()
    window.workflow.modelLoaded.connect(lambda: marks.setdefault("loaded", time.perf_counter()))
    window.workflow.analysisFinished.connect(loop.quit)
    window.workflow.failed.connect(lambda message: loop.quit())
    settings = AnalysisSettings(samples=samples, sensitivity_samples=sensitivity_samples)
    window.workflow.set_settings(settings)
    timer.start()
    started = time.perf_counter()
    window.open_model(model)
    loop.exec()
    finished = time.perf_counter()
    deadline = finished + 1.0
    _spin(app, deadline)
    loaded = marks.get("loaded", started)
    results: dict[str, object] = {
        "model": model,
        "settings": settings.to_dict(),
        "loading": _gap_summary(ticks, started, loaded),
        "analysis": _gap_summary(ticks, loaded, finished),
        "after_analysis_1s": _gap_summary(ticks, finished, deadline),
    }
    if qat_steps > 0 and window.project.analysis is not None:
        qat_started, qat_finished = _run_qat(window, qat_steps)
        qat_deadline = qat_finished + 1.0
        _spin(app, qat_deadline)
        results["qat_steps"] = qat_steps
        results["qat"] = _gap_summary(ticks, qat_started, qat_finished)
        results["after_qat_1s"] = _gap_summary(ticks, qat_finished, qat_deadline)
    timer.stop()
    window.close()
    results["target_ms"] = TARGET_STALL_MS
    results["settings_folder"] = folder
    return results


def _spin(app, deadline: float) -> None:
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.002)


def _run_qat(window, steps: int) -> tuple[float, float]:
    """Train the recommended plan in the QAT dialog; return its start and end times."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    window.project.apply_recommendations()
    window.window_actions.qat.trigger()
    dialog = window.dialogs["qat"]
    dialog.steps.setValue(steps)
    dialog.batch_size.setValue(2)
    dialog.seq_len.setValue(64)
    dialog.eval_every.setValue(max(steps // 4, 1))
    dialog.eval_samples.setValue(2)
    dialog.calibration_samples.setValue(2)
    # A user clicks Start once the dialog is painted.
    _spin(QApplication.instance(), time.perf_counter() + 0.5)
    loop = QEventLoop()
    dialog.finished_run.connect(lambda result: loop.quit())
    window.workflow.failed.connect(lambda message: loop.quit())
    started = time.perf_counter()
    if not dialog.start():
        raise RuntimeError(f"QAT did not start: {dialog.status.text()}")
    loop.exec()
    return started, time.perf_counter()


def measure_redraw(model: str, repeats: int, samples: int) -> dict[str, object]:
    """Measure selecting a table row until the window is repainted, on the largest layers."""
    app, _ = _app()
    from quantviz.analysis.pipeline import AnalysisSettings
    from quantviz.gui.main_window import MainWindow

    window = MainWindow(cache_dir=None, autosave_s=3600)
    window.workflow.cache_dir = None
    window.resize(1600, 1000)
    window.show()
    _open(app, window, model, AnalysisSettings(samples=samples, sensitivity_samples=0))
    infos = sorted(window.project.infos(), key=lambda info: info.num_params, reverse=True)
    largest = [info.name for info in infos[:2]]
    detail = window.detail
    detail.heatmaps_enabled = False
    times, cpu_times = [], []
    for index in range(repeats):
        # The redraw throttle lets one redraw through per 40 ms; waiting keeps every
        # selection on its leading edge, as a click is.
        time.sleep(0.06)
        app.processEvents()
        started, cpu_started = time.perf_counter(), time.thread_time()
        window.table.select_name(largest[index % 2])
        window.repaint()
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.thread_time() - cpu_started) * 1000)
        assert detail.layer == largest[index % 2]
    detail.heatmaps_enabled = True
    extras_times = []
    for name in largest:
        detail.clear_cache()
        window.project.current_layer = name
        started = time.perf_counter()
        detail.redraw()
        _wait(app, lambda name=name: detail.full_heatmaps(name) is not None, 120)
        extras_times.append((time.perf_counter() - started) * 1000)
    window.close()
    return {
        "model": model,
        "layers": largest,
        "weight_shape": list(infos[0].weight_shape),
        "redraw_median_ms": round(statistics.median(times), 1),
        "redraw_max_ms": round(max(times), 1),
        "redraw_cpu_median_ms": round(statistics.median(cpu_times), 1),
        "redraw_runs_ms": [round(value, 1) for value in times],
        "full_heatmaps_ms": [round(value, 1) for value in extras_times],
        "target_ms": TARGET_REDRAW_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("launch", "stall", "redraw", "all"))
    parser.add_argument("--runs", type=int, default=5, help="launches per entry path")
    parser.add_argument("--model", default=None, help="model spec for stall or redraw")
    parser.add_argument(
        "--samples", type=int, default=16, help="calibration sequences for stall (default 16)"
    )
    parser.add_argument("--sensitivity-samples", type=int, default=2)
    parser.add_argument(
        "--qat-steps", type=int, default=40, help="QAT steps timed by stall (0 skips QAT)"
    )
    parser.add_argument("--repeats", type=int, default=21, help="redraws to time")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results: dict[str, object] = {}
    if args.what in ("launch", "all"):
        results["launch"] = measure_launch(args.runs)
    if args.what in ("stall", "all"):
        results["stall"] = measure_stall(
            args.model or "sample:minilm", args.samples, args.sensitivity_samples, args.qat_steps
        )
    if args.what in ("redraw", "all"):
        results["redraw"] = measure_redraw(args.model or "sample:smollm2", args.repeats, 4)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
