"""Apply a :class:`~quantviz.plan.PrecisionPlan` to a loaded model: the one entry point.

Applying wraps each selected layer in a :class:`~quantviz.quant.modules.QuantizedLayer`
(the original module stays inside and :meth:`AppliedPlan.remove` puts it back), computes
weight qparams, and calibrates input qparams on text batches with the observer the plan
names. The qparams used are written back into ``plan.scales``, so analysis, evaluation,
QAT and export all read the same numbers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from quantviz.errors import QuantvizError
from quantviz.model.layers import LayerInfo, get_module
from quantviz.model.offload import require_resident
from quantviz.plan import LayerConfig, PrecisionPlan, TensorConfig
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.modules import FakeQuantizer, QuantizedLayer
from quantviz.quant.observers import make_observer
from quantviz.quant.qparams import QParams, qparams_for_tensor
from quantviz.quant.spec import QuantSpec
from quantviz.smoothquant import update_smoothing

logger = logging.getLogger(__name__)


@dataclass
class AppliedPlan:
    """A model with a plan applied; ``remove()`` restores the float model."""

    loaded: Any
    plan: PrecisionPlan
    wrappers: dict[str, QuantizedLayer] = field(default_factory=dict)
    configs: dict[str, LayerConfig] = field(default_factory=dict)

    def remove(self) -> None:
        """Put every original layer back; the plan keeps its scales."""
        for name, wrapper in self.wrappers.items():
            _set_module(self.loaded.module, name, wrapper.inner)
        self.wrappers.clear()

    def sync_scales(self) -> None:
        """Copy the quantizers' current (possibly learned) qparams into the plan."""
        for name, wrapper in self.wrappers.items():
            roles = self.plan.scales.setdefault(name, {})
            if wrapper.weight_quantizer is not None:
                roles["weight"] = wrapper.weight_quantizer.qparams()
            if wrapper.input_quantizer is not None:
                roles["input"] = wrapper.input_quantizer.qparams()

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Run the float model inside the block: the original layers are put back and
        the wrappers re-inserted on exit, with their qparams unchanged."""
        for name, wrapper in self.wrappers.items():
            _set_module(self.loaded.module, name, wrapper.inner)
        try:
            yield
        finally:
            for name, wrapper in self.wrappers.items():
                _set_module(self.loaded.module, name, wrapper)

    def __enter__(self) -> AppliedPlan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = get_module(root, parent_name) if parent_name else root
    setattr(parent, child, module)


def _weight_spec(config: TensorConfig, info: LayerInfo) -> QuantSpec | None:
    axis = info.in_axis if config.granularity == "group" else info.out_axis
    return config.spec(axis)


def weight_qparams(weight: torch.Tensor, config: TensorConfig, info: LayerInfo) -> QParams | None:
    """Weight qparams for ``config`` with its observer (min-max for groups)."""
    spec = _weight_spec(config, info)
    if spec is None:
        return None
    if spec.granularity == "group" or config.observer == "minmax":
        return qparams_for_tensor(weight, spec)
    observer = make_observer(config.observer, spec, **config.observer_settings)
    observer.update(weight)
    return observer.compute_qparams()


def apply_plan(
    loaded: Any,
    plan: PrecisionPlan,
    batches: Sequence[dict[str, torch.Tensor]] | None = None,
    *,
    learnable: bool = False,
    recalibrate: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> AppliedPlan:
    """Wrap every layer the plan quantizes and compute the qparams it needs.

    Stored scales in ``plan.scales`` are reused unless ``recalibrate`` is set. Input
    qparams that are not stored need ``batches`` (text batches as
    :func:`quantviz.model.data.make_batches` returns). SmoothQuant factors for layers
    with a ``smoothquant_alpha`` are computed first when the plan has none for that
    alpha (see :func:`quantviz.smoothquant.update_smoothing`), which also needs
    ``batches``. ``learnable=True`` makes the scales trainable (LSQ) for QAT. On error
    or cancellation the model is restored. A model with offloaded weights
    (``load_model(..., device_map=...)``) raises QuantvizError.
    """
    require_resident(
        loaded,
        "Applying a plan",
        "Load the model without --device-map to evaluate, train or export a plan; "
        "analysis with --sensitivity-samples 0 works on an offloaded model.",
    )
    applied = AppliedPlan(loaded, plan)
    try:
        update_smoothing(
            loaded, plan, batches, recalibrate=recalibrate, progress=progress, cancel=cancel
        )
        _wrap_layers(applied, learnable, recalibrate, progress, cancel)
        _calibrate_inputs(applied, batches, learnable, recalibrate, progress, cancel)
    except BaseException:
        applied.remove()
        raise
    applied.sync_scales()
    return applied


def _wrap_layers(
    applied: AppliedPlan,
    learnable: bool,
    recalibrate: bool,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    loaded, plan = applied.loaded, applied.plan
    layers = [
        info
        for info in loaded.layers
        if plan.resolve(info.name).quantized or info.name in plan.smoothing
    ]
    for step, info in enumerate(layers):
        cancel.raise_if_cancelled()
        progress(ProgressEvent(step, len(layers), info.name, "weights"))
        config = plan.resolve(info.name)
        applied.configs[info.name] = config
        module = get_module(loaded.module, info.name)
        if isinstance(module, QuantizedLayer):
            raise QuantvizError(
                f"layer {info.name} is already wrapped; remove the applied plan first"
            )
        smoothing = None
        if info.name in plan.smoothing:
            smoothing = torch.tensor(plan.smoothing[info.name], dtype=torch.float32)
        wrapper = QuantizedLayer(module, None, None, in_axis=info.in_axis, smoothing=smoothing)
        stored = {} if recalibrate else plan.scales.get(info.name, {})
        if config.weight.quantized:
            qparams = stored.get("weight")
            if qparams is None or qparams.spec != _weight_spec(config.weight, info):
                with torch.no_grad():
                    qparams = weight_qparams(wrapper.effective_weight(), config.weight, info)
            wrapper.weight_quantizer = FakeQuantizer(qparams, learnable)
        if config.input.quantized and "input" in stored:
            qparams = stored["input"]
            if qparams.spec == config.input.input_spec():
                wrapper.input_quantizer = FakeQuantizer(qparams, learnable)
        _set_module(loaded.module, info.name, wrapper)
        applied.wrappers[info.name] = wrapper
    progress(ProgressEvent(len(layers), len(layers), "", "weights"))


def _calibrate_inputs(
    applied: AppliedPlan,
    batches: Sequence[dict[str, torch.Tensor]] | None,
    learnable: bool,
    recalibrate: bool,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    pending = {
        name: wrapper
        for name, wrapper in applied.wrappers.items()
        if applied.configs[name].input.quantized and wrapper.input_quantizer is None
    }
    if not pending:
        return
    if not batches:
        raise QuantvizError(
            f"{len(pending)} layers quantize their inputs but the plan has no input scales "
            f"for them (first: {next(iter(pending))}); pass calibration batches"
        )
    observers = {}
    handles = []
    for name, wrapper in pending.items():
        config = applied.configs[name].input
        observer = make_observer(config.observer, config.input_spec(), **config.observer_settings)
        observers[name] = observer

        def record(module: nn.Module, args: tuple, observer=observer) -> None:
            x = args[0]
            if module.smoothing is not None:
                x = x / module.smoothing.to(x.dtype)
            observer.update(x)

        handles.append(wrapper.register_forward_pre_hook(record))
    try:
        for step, batch in enumerate(batches):
            cancel.raise_if_cancelled()
            progress(ProgressEvent(step, len(batches), f"batch {step + 1}", "calibration"))
            with torch.inference_mode():
                applied.loaded.module(**batch)
    finally:
        for handle in handles:
            handle.remove()
    progress(ProgressEvent(len(batches), len(batches), "", "calibration"))
    for name, wrapper in pending.items():
        wrapper.input_quantizer = FakeQuantizer(observers[name].compute_qparams(), learnable)
