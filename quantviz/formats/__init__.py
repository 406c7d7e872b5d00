"""Numeric formats: INT8/UINT8 (and INT4), FP8 E4M3FN and E5M2 (and FP4 E2M1)."""

from __future__ import annotations

from quantviz.errors import QuantvizError
from quantviz.formats.base import (
    FP4_E2M1,
    FP8_E4M3FN,
    FP8_E5M2,
    INT4,
    INT8,
    UINT4,
    UINT8,
    FloatFormat,
    IntFormat,
    NumericFormat,
)

FORMATS: dict[str, NumericFormat] = {
    f.name: f for f in (INT8, UINT8, INT4, UINT4, FP8_E4M3FN, FP8_E5M2, FP4_E2M1)
}

# Short names people type on the command line and in plan files.
ALIASES: dict[str, str] = {"e4m3": "fp8_e4m3fn", "fp8_e4m3": "fp8_e4m3fn", "e5m2": "fp8_e5m2"}


def get_format(name: str | NumericFormat) -> NumericFormat:
    """Look up a format by name (``"int8"``, ``"fp8_e4m3fn"``, ``"e5m2"``, ...)."""
    if isinstance(name, IntFormat | FloatFormat):
        return name
    key = ALIASES.get(name.lower(), name.lower())
    if key not in FORMATS:
        choices = ", ".join(sorted(FORMATS) + sorted(ALIASES))
        raise QuantvizError(f"unknown numeric format {name!r}; choose one of: {choices}")
    return FORMATS[key]


__all__ = [
    "ALIASES",
    "FORMATS",
    "FP4_E2M1",
    "FP8_E4M3FN",
    "FP8_E5M2",
    "INT4",
    "INT8",
    "UINT4",
    "UINT8",
    "FloatFormat",
    "IntFormat",
    "NumericFormat",
    "get_format",
]
