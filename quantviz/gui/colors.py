"""Colours shared by the table and the plots, so a number reads the same everywhere."""

from __future__ import annotations

import math

from PySide6.QtGui import QColor

# SQNR bands in dB: below 20 dB an 8-bit format visibly distorts the tensor, 20-30 dB
# is usable with care, 30 dB and above is close to float for most layers.
POOR_BELOW_DB = 20.0
GOOD_FROM_DB = 30.0

RED = QColor(214, 69, 65)
AMBER = QColor(232, 163, 23)
GREEN = QColor(46, 160, 67)
FP8_COLOR = QColor(31, 119, 180)  # FP8 curves and markers
INT8_COLOR = QColor(255, 127, 14)  # INT8 curves and markers
FLOAT_COLOR = QColor(90, 90, 90)  # the float histogram
OUTLIER_COLOR = RED


def sqnr_color(value_db: float | None, alpha: int = 255) -> QColor | None:
    """Red, amber or green for an SQNR in dB; None for a missing value."""
    if value_db is None or math.isnan(value_db):
        return None
    if value_db < POOR_BELOW_DB:
        color = QColor(RED)
    elif value_db < GOOD_FROM_DB:
        color = QColor(AMBER)
    else:
        color = QColor(GREEN)
    color.setAlpha(alpha)
    return color


def qcolor_tuple(color: QColor) -> tuple[int, int, int, int]:
    return color.red(), color.green(), color.blue(), color.alpha()
