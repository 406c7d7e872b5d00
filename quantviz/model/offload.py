"""Reading the weights of a model that accelerate dispatched with CPU or disk offload.

``load_model(..., device_map=...)`` loads through transformers' ``from_pretrained``, and
accelerate places each module on a device, in CPU memory or on disk. An offloaded module
keeps its parameters on the ``meta`` device, and an ``AlignDevicesHook`` in its
``_hf_hook`` attribute loads them from the hook's ``weights_map`` before the module's
forward and drops them again after it. Forward hooks, as calibration uses, see the
activations as usual. Code that reads ``module.weight`` outside forward must read through
the hook's ``weights_map`` instead, which :func:`read_parameter` does.

Operations that change a weight in place (sensitivity, plan application, QAT) cannot work
on an offloaded module, because the hook replaces the weight with the stored one at the
next forward. :func:`require_resident` raises a QuantvizError for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from quantviz.errors import QuantvizError

_MAX_LISTED_NAMES = 3


def _align_hook(module: nn.Module) -> Any:
    """Return the module's accelerate ``AlignDevicesHook`` that offloads it, or None.

    accelerate chains several hooks on one module in a ``SequentialHook``, so its
    ``hooks`` are searched too.
    """
    hook = getattr(module, "_hf_hook", None)
    if hook is None:
        return None
    for candidate in getattr(hook, "hooks", (hook,)):
        weights_map = getattr(candidate, "weights_map", None)
        if getattr(candidate, "offload", False) and weights_map is not None:
            return candidate
    return None


def offloaded_modules(root: nn.Module) -> list[str]:
    """Name every submodule of ``root`` whose parameters accelerate offloaded, in module order."""
    return [name for name, module in root.named_modules() if _align_hook(module) is not None]


def is_offloaded(root: nn.Module) -> bool:
    """Return whether any parameter of ``root`` is in an accelerate offload instead of memory."""
    return any(_align_hook(module) is not None for module in root.modules())


def read_parameter(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """Return the value of the parameter ``name`` of ``module``, read from its offload if needed.

    A parameter in memory is returned as it is. A parameter on the ``meta`` device is read
    from the accelerate hook's ``weights_map``: a new tensor, read from the safetensors file
    for disk offload, in the dtype the model was loaded with. Raises QuantvizError for a
    ``meta`` parameter that no hook stores.
    """
    tensor = getattr(module, name)
    if tensor.device.type != "meta":
        return tensor
    hook = _align_hook(module)
    if hook is None:
        raise QuantvizError(
            f"the parameter {name!r} of the {type(module).__name__} module is on the meta "
            "device and no accelerate offload hook stores its value; load the model again"
        )
    try:
        return hook.weights_map[name]
    except KeyError:
        raise QuantvizError(
            f"the accelerate offload of the {type(module).__name__} module has no value for "
            f"its parameter {name!r}; load the model again"
        ) from None


def iter_parameters(root: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(qualified name, value)`` for each parameter of ``root``, tied ones once.

    Offloaded parameters are read one at a time through :func:`read_parameter`, so only
    one of them is in memory at a time unless the caller keeps them.
    """
    seen: set[int] = set()
    for module_name, module in root.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            qualified = f"{module_name}.{name}" if module_name else name
            yield qualified, read_parameter(module, name)


def require_resident(loaded: Any, operation: str, fix: str) -> None:
    """Raise QuantvizError when ``loaded`` has offloaded weights, which ``operation`` cannot use.

    ``operation`` names what needs the weights in memory (for example "QAT"), and ``fix``
    is the message's advice on what to do instead.
    """
    offloaded = offloaded_modules(loaded.module)
    if not offloaded:
        return
    spec = loaded.source.spec if getattr(loaded, "source", None) is not None else "model"
    first = ", ".join(offloaded[:_MAX_LISTED_NAMES])
    raise QuantvizError(
        f"{operation} changes weights in place, but the model {spec!r} was loaded with a "
        f"device_map and accelerate offloaded the weights of {len(offloaded)} modules to CPU "
        f"or disk (first: {first}), where its hooks restore the stored values at every "
        f"forward pass. {fix}"
    )
