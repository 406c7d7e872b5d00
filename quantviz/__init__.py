"""quantviz: see what FP8 and INT8 quantization does to each layer of a transformer.

The engine (formats, quant, model, analysis, plan, qat, export) imports no Qt; the
desktop application in :mod:`quantviz.gui` draws the engine's results.
"""

from quantviz.errors import Cancelled, QuantvizError, QuantvizWarning

__version__ = "0.1.0"

__all__ = ["Cancelled", "QuantvizError", "QuantvizWarning", "__version__"]
