"""The precision choices the app offers for a layer's weight and input.

Each choice is a set of :class:`quantviz.plan.TensorConfig` fields that the plan merges
into a layer's override. ``key`` equals the ``TensorConfig.label`` the plan reports for
that configuration, so a layer's current choice is found by its label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from quantviz.gui.i18n import translate

CONTEXT = "Precision"
WEIGHT = "weight"
INPUT = "input"
ROLES = (WEIGHT, INPUT)


@dataclass(frozen=True)
class PrecisionChoice:
    """One entry of the precision menus: a plan label and the fields that produce it."""

    key: str
    label: str
    fields: dict[str, Any] = field(hash=False)

    @property
    def display(self) -> str:
        return translate(CONTEXT, self.label)


def _fields(fmt: str, granularity: str = "tensor") -> dict[str, Any]:
    # group_size is cleared so a choice replaces an earlier per-group setting.
    return {"format": fmt, "granularity": granularity, "group_size": None}


WEIGHT_CHOICES: tuple[PrecisionChoice, ...] = (
    PrecisionChoice("float", QT_TRANSLATE_NOOP("Precision", "Float"), _fields("float")),
    PrecisionChoice("fp8_e4m3", QT_TRANSLATE_NOOP("Precision", "FP8 E4M3"), _fields("fp8_e4m3")),
    PrecisionChoice(
        "fp8_e4m3/ch",
        QT_TRANSLATE_NOOP("Precision", "FP8 E4M3 per channel"),
        _fields("fp8_e4m3", "channel"),
    ),
    PrecisionChoice("fp8_e5m2", QT_TRANSLATE_NOOP("Precision", "FP8 E5M2"), _fields("fp8_e5m2")),
    PrecisionChoice(
        "int8_sym/ch",
        QT_TRANSLATE_NOOP("Precision", "INT8 per channel"),
        _fields("int8_sym", "channel"),
    ),
    PrecisionChoice(
        "int8_sym", QT_TRANSLATE_NOOP("Precision", "INT8 per tensor"), _fields("int8_sym")
    ),
    PrecisionChoice(
        "int8_asym", QT_TRANSLATE_NOOP("Precision", "UINT8 asymmetric"), _fields("int8_asym")
    ),
)

INPUT_CHOICES: tuple[PrecisionChoice, ...] = (
    PrecisionChoice("float", QT_TRANSLATE_NOOP("Precision", "Float"), _fields("float")),
    PrecisionChoice("fp8_e4m3", QT_TRANSLATE_NOOP("Precision", "FP8 E4M3"), _fields("fp8_e4m3")),
    PrecisionChoice("fp8_e5m2", QT_TRANSLATE_NOOP("Precision", "FP8 E5M2"), _fields("fp8_e5m2")),
    PrecisionChoice("int8_sym", QT_TRANSLATE_NOOP("Precision", "INT8"), _fields("int8_sym")),
    PrecisionChoice(
        "int8_asym", QT_TRANSLATE_NOOP("Precision", "UINT8 asymmetric"), _fields("int8_asym")
    ),
)

# The keyboard shortcuts: Ctrl+digit sets weights, Ctrl+Shift+digit sets inputs.
SHORTCUT_CHOICES: dict[str, tuple[str, str]] = {
    "0": ("float", "float"),
    "1": ("fp8_e4m3", "fp8_e4m3"),
    "2": ("int8_sym/ch", "int8_sym"),
    "3": ("fp8_e5m2", "fp8_e5m2"),
}


def choices(role: str) -> tuple[PrecisionChoice, ...]:
    if role == WEIGHT:
        return WEIGHT_CHOICES
    if role == INPUT:
        return INPUT_CHOICES
    raise ValueError(f"role must be 'weight' or 'input'; got {role!r}")


def choice(role: str, key: str) -> PrecisionChoice:
    """Return the choice with ``key`` for ``role``; raise ValueError listing the keys."""
    for item in choices(role):
        if item.key == key:
            return item
    keys = ", ".join(item.key for item in choices(role))
    raise ValueError(f"unknown {role} precision {key!r}; choose one of {keys}")


def display_label(role: str, plan_label: str) -> str:
    """Return the menu text of a plan label, or the label for settings the menus lack."""
    for item in choices(role):
        if item.key == plan_label:
            return item.display
    return plan_label
