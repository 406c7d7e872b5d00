"""The open document: model, analysis, plan and results, with signals for the views.

:class:`Project` holds what the engine returned and the user's precision plan. Views
read from it and redraw on its signals; every plan edit goes through :meth:`edit_plan`,
which records a :class:`~quantviz.gui.plan_commands.PlanEditCommand` on the undo stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from quantviz.gui import precision
from quantviz.gui.plan_commands import PlanEditCommand, PlanSnapshot
from quantviz.gui.update_queue import UpdateQueue

if TYPE_CHECKING:
    from quantviz.analysis.pipeline import AnalysisSettings, LayerReport, ModelAnalysis
    from quantviz.model.layers import LayerInfo
    from quantviz.model.loading import LoadedModel
    from quantviz.plan import LayerConfig, PrecisionPlan

logger = logging.getLogger(__name__)


class Project(QObject):
    """Model, analysis, plan and results of one session.

    ``spec`` is the model spec the user opened; ``loaded`` the engine's LoadedModel once
    loading finished; ``analysis`` the ModelAnalysis; ``plan`` the PrecisionPlan being
    edited. ``results`` keeps the latest evaluation, automatic plan, QAT and export
    results under those names.
    """

    modelChanged = Signal()
    analysisChanged = Signal()
    planChanged = Signal(object)  # list of layer names, or None for every layer
    currentLayerChanged = Signal(str)
    resultsChanged = Signal(str)  # "evaluation", "autoplan", "qat" or "export"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec: str | None = None
        self.settings: AnalysisSettings | None = None
        self.loaded: LoadedModel | None = None
        self.analysis: ModelAnalysis | None = None
        self.analysis_path: str | None = None
        self.plan: PrecisionPlan | None = None
        self.current_layer: str = ""
        self.results: dict[str, Any] = {}
        # Counts changes of the model's weights (QAT) since it was loaded; analysis
        # caches keyed by the weights file apply only while it is 0.
        self.weights_version = 0
        self.undo_stack = QUndoStack(self)
        # Views queue the redraws that a new model, analysis or result causes here, so
        # that they run one per event-loop turn.
        self.updates = UpdateQueue(self)
        self._infos: list[LayerInfo] = []
        self._reports: dict[str, LayerReport] = {}
        self._configs: dict[str, LayerConfig] = {}

    # -- model and analysis ------------------------------------------------------------

    def set_model(self, loaded: LoadedModel, plan: PrecisionPlan | None = None) -> None:
        """Show ``loaded``; start from ``plan`` or an all-float plan; clear the history."""
        from quantviz.plan import PrecisionPlan

        self.loaded = loaded
        self.spec = loaded.source.spec
        self._infos = list(loaded.layers)
        self.analysis = None
        self.analysis_path = None
        self._reports = {}
        self.results = {}
        self.weights_version = 0
        self.plan = plan if plan is not None else PrecisionPlan(model=loaded.source.to_dict())
        self.undo_stack.clear()
        self._refresh_configs(None)
        names = self.layer_names()
        if self.current_layer not in names:
            self.current_layer = names[0] if names else ""
        self.modelChanged.emit()
        self.planChanged.emit(None)

    def set_analysis(self, analysis: ModelAnalysis | None, path: str | None = None) -> None:
        self.analysis = analysis
        self.analysis_path = path
        self._reports = {report.name: report for report in analysis.layers} if analysis else {}
        if analysis is not None and not self._infos:
            self._infos = [report.info for report in analysis.layers]
        self.analysisChanged.emit()

    def set_result(self, kind: str, result: Any) -> None:
        self.results[kind] = result
        self.resultsChanged.emit(kind)

    def layer_names(self) -> list[str]:
        return [info.name for info in self._infos]

    def infos(self) -> list[LayerInfo]:
        return list(self._infos)

    def report(self, name: str) -> LayerReport | None:
        return self._reports.get(name)

    def set_current_layer(self, name: str) -> None:
        if name != self.current_layer:
            self.current_layer = name
            self.currentLayerChanged.emit(name)

    # -- plan --------------------------------------------------------------------------

    def config(self, name: str) -> LayerConfig | None:
        """The plan's resolved configuration of layer ``name`` (cached per plan change)."""
        return self._configs.get(name)

    def configs(self) -> dict[str, LayerConfig]:
        return dict(self._configs)

    def _refresh_configs(self, changed: Sequence[str] | None) -> None:
        if self.plan is None:
            self._configs = {}
            return
        names = self.layer_names() if changed is None else changed
        for name in names:
            self._configs[name] = self.plan.resolve(name)

    def _restore(self, snapshot: PlanSnapshot, changed: Sequence[str] | None) -> None:
        assert self.plan is not None
        snapshot.restore(self.plan)
        self._refresh_configs(changed)
        self.planChanged.emit(list(changed) if changed is not None else None)

    def edit_plan(
        self,
        text: str,
        mutate: Callable[[PrecisionPlan], None],
        changed: Iterable[str] | None = None,
    ) -> bool:
        """Apply ``mutate`` to the plan as one undoable step named ``text``.

        ``changed`` lists the layers the edit can affect (``None``: any). Returns False,
        and records nothing, when the plan's settings did not change. A QuantvizError
        raised by ``mutate`` leaves the plan as it was.
        """
        if self.plan is None:
            return False
        before = PlanSnapshot.take(self.plan)
        try:
            mutate(self.plan)
        except Exception:
            before.restore(self.plan)
            raise
        after = PlanSnapshot.take(self.plan)
        before.restore(self.plan)
        if after.same_settings(before) and after.same_scales(before):
            return False
        names = list(changed) if changed is not None else None
        self.undo_stack.push(PlanEditCommand(text, before, after, names, self._restore))
        return True

    def set_precision(self, names: Sequence[str], role: str, key: str) -> bool:
        """Set the ``role`` ("weight" or "input") precision of ``names`` to choice ``key``."""
        item = precision.choice(role, key)
        names = list(names)
        if not names:
            return False

        def mutate(plan: PrecisionPlan) -> None:
            for name in names:
                plan.set_layer(name, **{role: item.fields})

        what = self.tr("weights") if role == precision.WEIGHT else self.tr("inputs")
        if len(names) == 1:
            text = self.tr("Set %1 of %2 to %3").replace("%1", what)
            text = text.replace("%2", names[0]).replace("%3", item.display)
        else:
            text = self.tr("Set %1 of %n layers to %2", "", len(names)).replace("%1", what)
            text = text.replace("%2", item.display)
        return self.edit_plan(text, mutate, names)

    def add_rule(self, pattern: str, weight_key: str | None, input_key: str | None) -> bool:
        """Append a plan rule that sets the matching layers' weight and/or input choice."""
        from quantviz.plan import LayerOverride, Rule

        override = LayerOverride(
            weight=dict(precision.choice(precision.WEIGHT, weight_key).fields)
            if weight_key
            else {},
            input=dict(precision.choice(precision.INPUT, input_key).fields) if input_key else {},
        )
        override.apply_to(self.plan.defaults if self.plan else _float_config(), "rule")

        def mutate(plan: PrecisionPlan) -> None:
            plan.rules.append(Rule(pattern, override))
            # Per-layer overrides win over rules; a rule for a field a user set by
            # hand would not show, so the rule's fields are cleared from matching
            # overrides.
            for name in self.layer_names():
                if fnmatch_name(pattern, name) and name in plan.overrides:
                    plan.overrides[name] = _without_fields(plan.overrides[name], override)
                    plan.scales.pop(name, None)

        text = self.tr("Apply rule %1").replace("%1", pattern)
        return self.edit_plan(text, mutate, None)

    def replace_plan(self, plan: PrecisionPlan, text: str) -> bool:
        """Replace the whole plan (an automatic plan, a loaded file) as one step."""

        def mutate(current: PrecisionPlan) -> None:
            PlanSnapshot.take(plan).restore(current)

        return self.edit_plan(text, mutate, None)

    def apply_recommendations(self, names: Sequence[str] | None = None) -> bool:
        """Give each layer (all, or ``names``) the analysis' recommended format.

        The engine maps the recommendations to plan fields
        (:func:`quantviz.analysis.recommend.apply_recommendations`). An unknown
        recommendation raises QuantvizError and leaves the plan as it was.
        """
        if self.analysis is None:
            return False
        from quantviz.analysis.recommend import apply_recommendations, recommended_layer_settings

        analysis = self.analysis
        changed = list(recommended_layer_settings(analysis, names))

        def mutate(plan: PrecisionPlan) -> None:
            apply_recommendations(plan, analysis, changed)

        return self.edit_plan(self.tr("Apply recommendations"), mutate, changed)

    def adopt_scales(self, source: PrecisionPlan, text: str) -> bool:
        """Take ``source``'s scales for every layer whose configuration equals the plan's.

        Used after QAT, which trains scales on a copy of the plan; layers the user changed
        meanwhile keep their own (missing) scales.
        """
        names = [
            name
            for name in source.scales
            if name in self._configs and source.resolve(name) == self._configs[name]
        ]

        def mutate(plan: PrecisionPlan) -> None:
            for name in names:
                plan.scales[name] = dict(source.scales[name])

        return self.edit_plan(text, mutate, names)

    def plan_copy(self) -> PrecisionPlan:
        """A deep copy of the plan for a worker, so edits during the job do not race it."""
        assert self.plan is not None
        return self.plan.copy()


def fnmatch_name(pattern: str, name: str) -> bool:
    """Match a layer name with the plan's own rule semantics."""
    from quantviz.plan import LayerOverride, Rule

    return Rule(pattern, LayerOverride()).matches(name)


def _without_fields(override: Any, rule_override: Any) -> Any:
    from quantviz.plan import LayerOverride

    weight = {k: v for k, v in override.weight.items() if k not in rule_override.weight}
    inputs = {k: v for k, v in override.input.items() if k not in rule_override.input}
    return LayerOverride(weight=weight, input=inputs, smoothquant_alpha=override.smoothquant_alpha)


def _float_config() -> Any:
    from quantviz.plan import LayerConfig

    return LayerConfig()
