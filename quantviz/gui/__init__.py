"""The quantviz desktop app: PySide6 and pyqtgraph views over the engine.

Nothing here computes quantization. Widgets call engine functions in background workers
(:mod:`quantviz.gui.workers`) and draw the plain dataclasses those return. Engine modules
import torch, so the GUI imports them inside functions, after the window is shown.
"""
