"""Undoable edits of the precision plan.

A :class:`PlanSnapshot` copies the plan's containers (defaults, rules, overrides, scales,
smoothing, notes) one level deep. Their items (``LayerConfig``, ``Rule``,
``LayerOverride``, ``QParams``) are never changed in place by the plan's own methods, so a
snapshot costs a few dictionary copies and restores the plan exactly.
:class:`PlanEditCommand` holds the snapshots before and after one edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from quantviz.plan import PrecisionPlan


@dataclass(frozen=True)
class PlanSnapshot:
    """The state of a :class:`~quantviz.plan.PrecisionPlan` at one moment."""

    defaults: Any
    rules: tuple[Any, ...]
    overrides: dict[str, Any]
    scales: dict[str, dict[str, Any]]
    smoothing: dict[str, list[float]]
    notes: str

    @classmethod
    def take(cls, plan: PrecisionPlan) -> PlanSnapshot:
        return cls(
            defaults=plan.defaults,
            rules=tuple(plan.rules),
            overrides=dict(plan.overrides),
            scales={name: dict(roles) for name, roles in plan.scales.items()},
            smoothing=dict(plan.smoothing),
            notes=plan.notes,
        )

    def restore(self, plan: PrecisionPlan) -> None:
        plan.defaults = self.defaults
        plan.rules = list(self.rules)
        plan.overrides = dict(self.overrides)
        plan.scales = {name: dict(roles) for name, roles in self.scales.items()}
        plan.smoothing = dict(self.smoothing)
        plan.notes = self.notes

    def same_scales(self, other: PlanSnapshot) -> bool:
        """True when both hold the very same QParams objects for the same tensors."""
        if self.scales.keys() != other.scales.keys():
            return False
        for name, roles in self.scales.items():
            others = other.scales[name]
            if roles.keys() != others.keys():
                return False
            if any(roles[role] is not others[role] for role in roles):
                return False
        return True

    def same_settings(self, other: PlanSnapshot) -> bool:
        """True when both give every layer the same configuration (scales aside)."""
        return (
            self.defaults == other.defaults
            and self.rules == other.rules
            and self.overrides == other.overrides
            and self.smoothing.keys() == other.smoothing.keys()
        )


class PlanEditCommand(QUndoCommand):
    """One edit of the plan: redo restores ``after``, undo restores ``before``.

    ``changed`` names the layers whose configuration may differ (``None`` means all), so
    views refresh only those rows. ``restore`` puts a snapshot into the live plan and
    notifies the views.
    """

    def __init__(
        self,
        text: str,
        before: PlanSnapshot,
        after: PlanSnapshot,
        changed: Sequence[str] | None,
        restore: Callable[[PlanSnapshot, Sequence[str] | None], None],
    ) -> None:
        super().__init__(text)
        self.before = before
        self.after = after
        self.changed = list(changed) if changed is not None else None
        self._restore = restore

    def redo(self) -> None:
        self._restore(self.after, self.changed)

    def undo(self) -> None:
        self._restore(self.before, self.changed)
