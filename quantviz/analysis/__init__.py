"""Per-layer analysis: error metrics, histograms, outliers, heatmaps, sensitivity.

The whole-model entry points live in :mod:`quantviz.analysis.pipeline`
(``analyze_model``, ``analyze_weights_file``, ``ModelAnalysis``); this package imports
only its leaf modules so that :mod:`quantviz.model.calibration` can use them.
"""

from quantviz.analysis.candidates import (
    ACTIVATION_CANDIDATES,
    CANDIDATES,
    WEIGHT_CANDIDATES,
    Candidate,
)
from quantviz.analysis.metrics import ErrorMetrics, compare
from quantviz.analysis.results import FormatResult, Recommendation, Sensitivity, TensorAnalysis

__all__ = [
    "ACTIVATION_CANDIDATES",
    "CANDIDATES",
    "WEIGHT_CANDIDATES",
    "Candidate",
    "ErrorMetrics",
    "FormatResult",
    "Recommendation",
    "Sensitivity",
    "TensorAnalysis",
    "compare",
]
