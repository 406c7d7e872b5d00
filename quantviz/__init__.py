"""quantviz: see what FP8 and INT8 quantization does to each layer of a transformer.

The engine (formats, quant, model, analysis, plan, qat, export) imports no Qt; the
desktop application in :mod:`quantviz.gui` draws the engine's results.
"""

from pathlib import Path

from quantviz.errors import Cancelled, QuantvizError, QuantvizWarning

__version__ = "0.1.0"

# Package data: the bundled text, icons and GUI translations (installed with the package).
RESOURCES_DIR = Path(__file__).resolve().parent / "resources"

__all__ = ["RESOURCES_DIR", "Cancelled", "QuantvizError", "QuantvizWarning", "__version__"]
