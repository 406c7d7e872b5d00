"""Model loading, layer discovery and calibration text.

Nothing here imports Qt: the CLI, the tests and the GUI share these functions.
"""

from quantviz.model.data import load_texts, make_batches
from quantviz.model.layers import LAYER_KINDS, LayerInfo, discover_layers, get_module
from quantviz.model.loading import (
    RANDOM_ARCHITECTURES,
    SOURCE_KINDS,
    TASKS,
    LoadedModel,
    ModelSource,
    check_weights,
    default_cache_dir,
    detect_task,
    iter_safetensors_weights,
    load_model,
    random_model,
    safetensors_layer_shapes,
    save_random_model,
    sha256_file,
)

__all__ = [
    "LAYER_KINDS",
    "RANDOM_ARCHITECTURES",
    "SOURCE_KINDS",
    "TASKS",
    "LayerInfo",
    "LoadedModel",
    "ModelSource",
    "check_weights",
    "default_cache_dir",
    "detect_task",
    "discover_layers",
    "get_module",
    "iter_safetensors_weights",
    "load_model",
    "load_texts",
    "make_batches",
    "random_model",
    "safetensors_layer_shapes",
    "save_random_model",
    "sha256_file",
]
