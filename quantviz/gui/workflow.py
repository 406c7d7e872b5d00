"""The app's engine jobs: open a model, analyse, evaluate, plan automatically, QAT, export.

:class:`Workflow` starts each job in an :class:`~quantviz.gui.workers.EngineWorker`,
puts what it returns into the :class:`~quantviz.gui.project.Project` and reports errors
in a message box. It owns no widgets.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from quantviz.errors import QuantvizError
from quantviz.gui import jobs
from quantviz.gui.error_box import error_message, show_error
from quantviz.gui.workers import EngineWorker, JobRunner

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import AnalysisSettings
    from quantviz.gui.project import Project
    from quantviz.plan import PrecisionPlan

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "sample:minilm"


def freeze_live_objects() -> None:
    """Leave the objects alive now out of later garbage collections (:func:`gc.freeze`).

    A full collection scans every tracked object with the GIL held, so the window can
    neither paint nor take input meanwhile. While a 1,050-layer Llama was loaded and
    analysed, the worker threads ran several of 130 to 390 ms, and with the model and
    its analysis in memory (630,000 objects) one takes about 430 ms. The model, its
    analysis and the imported modules stay alive while the model is open, so scanning
    them again finds nothing to free.

    NOTE: cycles among frozen objects that become garbage (an analysis replaced by a
    new one) stay in memory until :meth:`Workflow.open_model` unfreezes everything.
    """
    gc.freeze()


class Workflow(QObject):
    """Runs the engine jobs of one window, one model job at a time.

    ``cache_dir`` contains analysis files keyed by weights hash and settings
    (:func:`quantviz.gui.jobs.analysis_cache_path`); None turns the cache off.
    ``evaluation_options`` are passed to :func:`quantviz.evaluate.evaluate_plan`
    (``samples``, ``seq_len``, ``batch_size``).
    """

    modelLoaded = Signal()
    analysisFinished = Signal()
    evaluationFinished = Signal()
    failed = Signal(str)  # the message shown to the user
    cancelled = Signal(str)  # the title of the cancelled job
    statusMessage = Signal(str)

    def __init__(
        self,
        project: Project,
        runner: JobRunner,
        window: QWidget,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__(window)
        self.project = project
        self.runner = runner
        self.window = window
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.evaluation_options: dict[str, int] = {}
        self.last_error_box: Any = None
        self._settings: AnalysisSettings | None = None
        self._job_started = 0.0

    # -- shared plumbing ---------------------------------------------------------------

    @property
    def settings(self) -> AnalysisSettings:
        """The analysis settings (the engine's defaults until the user changes them)."""
        if self._settings is None:
            from quantviz.analysis.pipeline import AnalysisSettings

            self._settings = AnalysisSettings()
        return self._settings

    def set_settings(self, settings: AnalysisSettings) -> None:
        self._settings = settings

    def report_error(self, error: BaseException, title: str = "") -> None:
        message = error_message(error)
        self.last_error_box = show_error(self.window, error, title)
        self.statusMessage.emit(message)
        self.failed.emit(message)

    def _start(
        self,
        worker: EngineWorker,
        returned: Any,
        connect: Callable[[EngineWorker], None] | None = None,
        **handlers: Any,
    ) -> bool:
        """Start ``worker`` unless a model job runs; ``connect`` attaches a caller's slots
        after the workflow's own handlers (see :meth:`JobRunner.start`)."""
        if self.runner.busy:
            self.statusMessage.emit(
                self.tr("Wait for “%1” to finish, or cancel it first.").replace(
                    "%1", self.runner.current_title
                )
            )
            return False
        self._job_started = time.perf_counter()
        handlers.setdefault("errored", lambda error: self.report_error(error, worker.title))
        handlers.setdefault("aborted", lambda: self._aborted(worker.title))
        self.runner.start(worker, returned=returned, connect=connect, **handlers)
        return True

    def _aborted(self, title: str) -> None:
        self.statusMessage.emit(self.tr("%1: cancelled").replace("%1", title))
        self.cancelled.emit(title)

    def _elapsed(self) -> str:
        return f"{time.perf_counter() - self._job_started:.1f} s"

    def _require_model(self) -> bool:
        if self.project.loaded is None or self.project.plan is None:
            self.statusMessage.emit(self.tr("Open a model first."))
            return False
        return True

    # -- model and analysis ------------------------------------------------------------

    def open_model(
        self,
        spec: str,
        *,
        plan: PrecisionPlan | None = None,
        analysis_path: str | None = None,
        current_layer: str = "",
        analyze: bool = True,
    ) -> bool:
        """Load ``spec`` in a worker, then show it and start (or read) its analysis."""
        spec = spec.strip()
        # The open model becomes garbage once this one is loaded, so collections must
        # scan the objects frozen with it again.
        gc.unfreeze()
        title = self.tr("Loading %1").replace("%1", spec)
        worker = EngineWorker(jobs.load_model_job, spec, title=title)

        def loaded(model: Any) -> None:
            self._model_loaded(model, plan, analysis_path, current_layer, analyze)

        return self._start(worker, loaded)

    def _model_loaded(
        self,
        loaded: Any,
        plan: PrecisionPlan | None,
        analysis_path: str | None,
        current_layer: str,
        analyze: bool,
    ) -> None:
        if plan is not None:
            unknown = plan.unknown_layers(info.name for info in loaded.layers)
            if unknown:
                self.statusMessage.emit(
                    self.tr("The plan names parts this model lacks: %1").replace(
                        "%1", "; ".join(unknown[:5])
                    )
                )
        if current_layer:
            self.project.current_layer = current_layer
        self.project.set_model(loaded, plan)
        freeze_live_objects()
        self.statusMessage.emit(
            self.tr("Loaded %1 (%2 layers) in %3")
            .replace("%1", loaded.source.spec)
            .replace("%2", str(len(loaded.layers)))
            .replace("%3", self._elapsed())
        )
        self.modelLoaded.emit()
        if not analyze:
            return
        if analysis_path and Path(analysis_path).is_file():
            self.read_analysis(analysis_path)
        else:
            self.run_analysis()

    def run_analysis(self, settings: AnalysisSettings | None = None) -> bool:
        """Analyse the open model with ``settings`` (default: the current ones)."""
        if not self._require_model():
            return False
        if settings is not None:
            self._settings = settings
        loaded = self.project.loaded
        cache = None
        if self.cache_dir is not None and self.project.weights_version == 0:
            cache = jobs.analysis_cache_path(self.cache_dir, loaded, self.settings)
        worker = EngineWorker(
            jobs.analyze_job,
            loaded,
            self.settings,
            str(cache) if cache else None,
            title=self.tr("Analysing %1").replace("%1", loaded.source.spec),
        )
        return self._start(worker, self._analysis_done)

    def read_analysis(self, path: str) -> bool:
        worker = EngineWorker(
            jobs.read_analysis_job, path, title=self.tr("Reading analysis %1").replace("%1", path)
        )

        def done(analysis: Any) -> None:
            loaded = self.project.loaded
            expected = loaded.source.sha256 if loaded is not None else None
            if expected and analysis.source.get("sha256") not in (None, expected):
                self.statusMessage.emit(
                    self.tr("The saved analysis is of other weights; analysing again.")
                )
                self.run_analysis()
                return
            self._analysis_done((analysis, path))

        return self._start(worker, done)

    def _analysis_done(self, returned: tuple[Any, str | None]) -> None:
        analysis, path = returned
        self.project.set_analysis(analysis, path)
        freeze_live_objects()
        self.statusMessage.emit(
            self.tr("Analysis of %1 layers ready (%2)")
            .replace("%1", str(len(analysis.layers)))
            .replace("%2", self._elapsed())
        )
        self.analysisFinished.emit()

    # -- evaluation --------------------------------------------------------------------

    def evaluate(self) -> bool:
        """Compare the plan with the float model on held-out text, in a worker."""
        if not self._require_model():
            return False
        worker = EngineWorker(
            jobs.evaluate_job,
            self.project.loaded,
            self.project.plan_copy(),
            self.settings,
            self.evaluation_options,
            title=self.tr("Evaluating the plan"),
        )

        def done(result: Any) -> None:
            self.project.set_result("evaluation", result)
            self.statusMessage.emit(self.tr("Evaluation done (%1)").replace("%1", self._elapsed()))
            self.evaluationFinished.emit()

        return self._start(worker, done)

    # -- optional engine modules -------------------------------------------------------

    def engine_module(self, name: str, feature: str) -> Any | None:
        """Import an engine module, or tell the user that ``feature`` is not available."""
        try:
            return importlib.import_module(name)
        except ImportError as error:
            message = self.tr(
                "%1 is not available in this installation (%2 could not be imported: %3)."
            )
            message = message.replace("%1", feature).replace("%2", name).replace("%3", str(error))
            self.report_error(QuantvizError(message), feature)
            return None

    # -- QAT -------------------------------------------------------------------------

    def start_qat(
        self,
        config: Any,
        out_dir: str | None,
        pause: Any,
        connect: Callable[[EngineWorker], None] | None = None,
    ) -> EngineWorker | None:
        """Fine-tune the model with the plan in a worker; returns the worker, or None.

        The run trains a copy of the plan. When it ends, also when cancelled after
        training began, the learned scales are adopted as one undoable step and the
        result is stored as ``results["qat"]``. The model keeps the fine-tuned weights.
        """
        qat = self.engine_module("quantviz.qat", self.tr("QAT"))
        if qat is None or not self._require_model():
            return None
        plan = self.project.plan_copy()
        worker = EngineWorker(
            jobs.qat_job,
            self.project.loaded,
            plan,
            config,
            out_dir or None,
            pause,
            title=self.tr("Quantization-aware training"),
            progress_interval_s=0.0,
            result_on_cancel=True,
        )

        def done(result: Any) -> None:
            self.project.weights_version += 1
            self.project.adopt_scales(plan, self.tr("Use the scales learned by QAT"))
            self.project.set_result("qat", result)
            state = self.tr("stopped early") if result.cancelled else self.tr("done")
            self.statusMessage.emit(
                self.tr("QAT %1 after %2 steps (%3)")
                .replace("%1", state)
                .replace("%2", str(result.steps_done))
                .replace("%3", self._elapsed())
            )

        return worker if self._start(worker, done, connect) else None

    # -- export ------------------------------------------------------------------------

    def start_export(
        self,
        path: str,
        options: dict[str, Any],
        connect: Callable[[EngineWorker], None] | None = None,
    ) -> EngineWorker | None:
        """Export the plan to ONNX in a worker (see :func:`quantviz.gui.jobs.export_job`)."""
        if self.engine_module("quantviz.export.onnx_export", self.tr("ONNX export")) is None:
            return None
        if not self._require_model():
            return None
        worker = EngineWorker(
            jobs.export_job,
            self.project.loaded,
            self.project.plan_copy(),
            path,
            self.settings,
            dict(options),
            title=self.tr("Exporting to ONNX"),
        )

        def done(report: Any) -> None:
            self.project.set_result("export", report)
            self.statusMessage.emit(
                self.tr("Exported %1 (%2)").replace("%1", path).replace("%2", self._elapsed())
            )

        return worker if self._start(worker, done, connect) else None

    # -- automatic plan ----------------------------------------------------------------

    def auto_plan(self, options: dict[str, Any]) -> bool:
        """Search plans with :func:`quantviz.autoplan.auto_plan` in a worker.

        The chosen plan replaces the current one as one undoable step; the result, with
        every evaluated candidate, is stored as ``results["autoplan"]``.
        """
        module = self.engine_module("quantviz.autoplan", self.tr("The automatic plan"))
        if module is None or not self._require_model():
            return False
        if self.project.analysis is None:
            self.statusMessage.emit(self.tr("The automatic plan needs the analysis; wait for it."))
            return False
        worker = EngineWorker(
            jobs.auto_plan_job,
            self.project.loaded,
            self.project.analysis,
            self.settings,
            dict(options),
            title=self.tr("Searching plans"),
        )

        def done(result: Any) -> None:
            self.project.replace_plan(result.plan, self.tr("Automatic plan"))
            self.project.set_result("autoplan", result)
            self.statusMessage.emit(
                self.tr("Automatic plan: %1 candidates evaluated (%2)")
                .replace("%1", str(len(result.frontier)))
                .replace("%2", self._elapsed())
            )

        return self._start(worker, done)

    def apply_frontier_point(self, index: int) -> bool:
        """Make the plan of frontier point ``index`` the current plan (undoable)."""
        from quantviz.plan import PrecisionPlan

        result = self.project.results.get("autoplan")
        if result is None or not 0 <= index < len(result.frontier):
            return False
        point = result.frontier[index]
        try:
            plan = PrecisionPlan.from_dict(point.plan)
        except QuantvizError as error:
            self.report_error(error)
            return False
        text = self.tr("Frontier plan: %1").replace("%1", point.label)
        changed = self.project.replace_plan(plan, text)
        self.project.set_result("frontier_choice", index)
        return changed
