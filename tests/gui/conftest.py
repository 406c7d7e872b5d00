"""Fixtures for the GUI tests: an isolated settings folder, a window, no leftover threads.

QSettings and QStandardPaths read XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_CACHE_HOME on
Linux at each use, so pointing them at a temporary folder for the GUI tests keeps them
away from the user's real settings, recovery file and analysis cache.
"""

import os
import time

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from superqt.utils._qthreading import WorkerBase

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.model.loading import random_model

XDG_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")

TINY_SETTINGS = AnalysisSettings(samples=4, seq_len=32, batch_size=4, sensitivity_samples=1)
# A worker that emitted "finished" may still be returning from its run() for a moment.
THREAD_GRACE_MS = 3000


@pytest.fixture(scope="session", autouse=True)
def quantviz_app(qapp, tmp_path_factory):
    """The QApplication with quantviz's names, its settings in a temporary folder."""
    from quantviz.gui.app import create_application

    isolated = tmp_path_factory.mktemp("xdg")
    saved = {name: os.environ.get(name) for name in XDG_VARIABLES}
    for name in XDG_VARIABLES:
        os.environ[name] = str(isolated / name.lower())
    yield create_application()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def no_leftover_threads(quantviz_app):
    """Fail a test that leaves a worker thread running after it ends."""
    yield
    pool = QThreadPool.globalInstance()
    started = time.monotonic()
    while pool.activeThreadCount() and (time.monotonic() - started) * 1000 < THREAD_GRACE_MS:
        quantviz_app.processEvents()
        time.sleep(0.01)
    leftover = pool.activeThreadCount()
    running = [worker for worker in WorkerBase._worker_set if worker.is_running]
    if leftover or running:
        WorkerBase.await_workers(60_000)
        pytest.fail(f"the test left {leftover} worker thread(s) running: {running}")


@pytest.fixture(autouse=True)
def clean_settings():
    """Each test starts with empty QSettings (no recent models, no saved layout)."""
    settings = QSettings()
    settings.clear()
    settings.sync()
    yield


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build MainWindows with a private analysis cache; they are closed after the test."""
    from quantviz.gui.main_window import MainWindow

    windows = []

    def make(cache_dir=None):
        window = MainWindow(cache_dir=cache_dir or tmp_path / "cache", autosave_s=3600)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture(scope="session")
def bert_model():
    """A random 2-layer BERT of its own (tests may apply plans to it, never QAT)."""
    return random_model("bert", seed=3)


@pytest.fixture(scope="session")
def bert_analysis(bert_model):
    return analyze_model(bert_model, TINY_SETTINGS)


@pytest.fixture(scope="session")
def bert_folder(tmp_path_factory):
    """A random BERT saved as a Hugging Face folder, so it opens like a user's model."""
    from quantviz.model.loading import save_random_model

    return str(save_random_model("bert", tmp_path_factory.mktemp("bert") / "model", seed=5))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """An analysis cache shared by the tests, so each model is analysed once per run."""
    return tmp_path_factory.mktemp("analysis-cache")


@pytest.fixture
def open_window(make_window, qtbot, shared_cache):
    """Open ``spec`` in a new window with small analysis settings; wait for the analysis."""

    def open_spec(spec, settings=TINY_SETTINGS, timeout=240_000):
        window = make_window(cache_dir=shared_cache)
        window.workflow.set_settings(settings)
        with qtbot.waitSignal(window.workflow.analysisFinished, timeout=timeout):
            assert window.open_model(spec)
        return window

    return open_spec
