"""Calibration: run text through the model and record every layer's activations.

Forward hooks on the quantizable layers feed each input (and output) activation to an
:class:`ActivationRecorder`, which keeps streaming statistics of fixed size: a
histogram, min/max, moments, per-channel and per-token absolute maxima, NaN/inf counts,
one observer per activation candidate, and a small sample for heatmaps. Memory per
layer does not depend on the number of batches. A transformers causal LM whose output
layer is not recorded computes the logits of the last position only.

Padding tokens (``attention_mask == 0``) are left out, and so are values whose
magnitude is at least half the dtype's largest finite value, which is how attention-mask
fill values such as ``torch.finfo(float32).min`` look; they are counted as ``fill``.
"""

from __future__ import annotations

import heapq
import inspect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from quantviz.analysis.candidates import ACTIVATION_CANDIDATES, Candidate
from quantviz.analysis.outliers import LLM_INT8_THRESHOLD, Moments
from quantviz.errors import QuantvizError
from quantviz.model.layers import LayerInfo, get_module
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.observers import OBSERVERS, Observer, PercentileObserver, make_observer
from quantviz.quant.qparams import QParams
from quantviz.quant.scratch import Workspace, release_free_memory
from quantviz.quant.spec import QuantSpec

logger = logging.getLogger(__name__)

TOP_TOKENS = 16


@dataclass(frozen=True)
class CalibrationSettings:
    """How activations are recorded and which observer computes their scales."""

    observer: str = "minmax"
    observer_settings: dict[str, Any] = field(default_factory=dict)
    candidates: tuple[str, ...] = tuple(c.key for c in ACTIVATION_CANDIDATES)
    bins: int = 2048
    sample_tokens: int = 128
    record_outputs: bool = True

    def __post_init__(self) -> None:
        if self.observer not in OBSERVERS:
            raise QuantvizError(
                f"unknown observer {self.observer!r}; choose one of: {', '.join(OBSERVERS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "observer": self.observer,
            "observer_settings": dict(self.observer_settings),
            "candidates": list(self.candidates),
            "bins": self.bins,
            "sample_tokens": self.sample_tokens,
            "record_outputs": self.record_outputs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationSettings:
        return cls(
            observer=data.get("observer", "minmax"),
            observer_settings=dict(data.get("observer_settings", {})),
            candidates=tuple(data.get("candidates", cls().candidates)),
            bins=int(data.get("bins", 2048)),
            sample_tokens=int(data.get("sample_tokens", 128)),
            record_outputs=bool(data.get("record_outputs", True)),
        )


@dataclass
class TokenContext:
    """The batch being run: token ids, which tokens are real, and its first sequence index."""

    input_ids: torch.Tensor | None = None
    valid: torch.Tensor | None = None
    first_sequence: int = 0


class ActivationRecorder:
    """Streaming statistics of one activation stream with ``channels`` features.

    Activations arrive as ``[..., channels]`` (channels last, as for linear layers).
    ``moments.count`` counts the values recorded, NaN, inf and fill values excluded.
    """

    def __init__(
        self,
        channels: int,
        candidates: Sequence[Candidate] = (),
        *,
        observer: str = "minmax",
        observer_settings: dict[str, Any] | None = None,
        bins: int = 2048,
        sample_tokens: int = 0,
        light: bool = False,
        workspace: Workspace | None = None,
    ) -> None:
        self.channels = channels
        # Scratch buffers shared by the recorders of one calibration run, or None to
        # allocate per batch.
        self.workspace = workspace
        # A light recorder (used for outputs) keeps only counts, min/max per channel
        # and NaN/inf counts.
        self.light = light
        self.histogram = PercentileObserver(QuantSpec("int8"), bins=bins)
        self.histogram.scratch = workspace
        self.moments = Moments()
        self.channel_absmax = torch.zeros(channels)
        self.beyond_threshold = 0
        self.nan = 0
        self.inf = 0
        self.fill = 0
        self.tokens = 0
        self.top_tokens: list[tuple[float, int, int, int, int]] = []
        self.sample: torch.Tensor | None = None
        self.sample_token_ids: list[int] | None = None
        self.sample_tokens = sample_tokens
        self.observers: dict[str, Observer] = {
            c.key: make_observer(
                observer, c.spec(-1, narrow_range=False), **(observer_settings or {})
            )
            for c in candidates
        }

    def update(self, x: torch.Tensor, context: TokenContext) -> None:
        """Record one activation ``[batch, tokens, channels]`` (or ``[tokens, channels]``)."""
        x = x.detach()
        tokens_shape = x.shape[:-1]
        values = x.reshape(-1, x.shape[-1]).float()
        token_ids = _matching(context.input_ids, tokens_shape)
        valid_tokens = _matching(context.valid, tokens_shape)
        if self.sample is None and self.sample_tokens > 0:
            self._keep_sample(values, tokens_shape, token_ids)
        positions = None
        if valid_tokens is not None and not bool(valid_tokens.all()):
            keep = valid_tokens.reshape(-1)
            values = values[keep]
            token_ids = token_ids.reshape(-1)[keep] if token_ids is not None else None
            positions = torch.nonzero(valid_tokens.reshape(tokens_shape))
        if values.numel() == 0:
            return
        if self.light:
            self._update_light(values, x.dtype)
            return

        low, high = (float(v) for v in torch.aminmax(values))
        batch_range: tuple[float, float] | None = (low, high)
        count = values.numel()
        if not (math.isfinite(low) and math.isfinite(high)) or max(-low, high) >= _fill_limit(
            x.dtype
        ):
            values, count = self._drop_invalid(values, x.dtype)
            batch_range = None
        self.tokens += values.shape[0]

        clean = torch.nan_to_num(values, nan=0.0) if batch_range is None else values
        magnitude = self._buffer("magnitude", clean)
        torch.abs(clean, out=magnitude)
        self.channel_absmax = torch.maximum(self.channel_absmax, magnitude.amax(dim=0))
        token_max = magnitude.amax(dim=1)
        self._track_tokens(magnitude, token_max, tokens_shape, token_ids, positions, context)
        self.beyond_threshold += _count_at_least(
            magnitude, token_max, LLM_INT8_THRESHOLD, self._buffer("mask", magnitude, torch.bool)
        )
        # |x| squared in place is x * x, so the moments need no new tensor.
        self.moments.update(clean, count, squares=magnitude.square_())
        self.histogram.update(values, batch_range=batch_range)
        for observer in self.observers.values():
            observer.update(values, batch_range=batch_range)

    def _update_light(self, values: torch.Tensor, dtype: torch.dtype) -> None:
        """Count the values and keep per-channel maxima, from two reductions when finite."""
        channel_low = values.amin(dim=0)
        channel_high = values.amax(dim=0)
        channel_absmax = torch.maximum(channel_low.abs(), channel_high.abs())
        # NaN propagates through amin/amax, so a finite maximum means finite values.
        peak = float(channel_absmax.max())
        if math.isfinite(peak) and peak < _fill_limit(dtype):
            count = values.numel()
        else:
            values, count = self._drop_invalid(values, dtype)
            channel_absmax = torch.nan_to_num(values, nan=0.0).abs().amax(dim=0)
        self.tokens += values.shape[0]
        self.channel_absmax = torch.maximum(self.channel_absmax, channel_absmax)
        self.moments.count += count

    def _buffer(
        self, name: str, like: torch.Tensor, dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """Return a scratch tensor shaped like ``like``, from the workspace if there is one."""
        dtype = dtype or like.dtype
        if self.workspace is None:
            return torch.empty(like.shape, dtype=dtype)
        return self.workspace.get(name, like.numel(), dtype).view(like.shape)

    def _drop_invalid(self, values: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, int]:
        """Replace NaN, inf and mask fill values by NaN, count each kind and the rest."""
        nan = torch.isnan(values)
        inf = torch.isinf(values)
        fill = torch.isfinite(values) & (values.abs() >= _fill_limit(dtype))
        self.nan += int(nan.sum())
        self.inf += int(inf.sum())
        self.fill += int(fill.sum())
        invalid = nan | inf | fill
        return values.masked_fill(invalid, math.nan), values.numel() - int(invalid.sum())

    def _keep_sample(
        self, values: torch.Tensor, tokens_shape: torch.Size, token_ids: torch.Tensor | None
    ) -> None:
        per_sequence = tokens_shape[-1] if len(tokens_shape) > 1 else values.shape[0]
        count = min(self.sample_tokens, per_sequence)
        self.sample = values[:count].clone()
        if token_ids is not None:
            self.sample_token_ids = token_ids.reshape(-1)[:count].tolist()

    def _track_tokens(
        self,
        magnitude: torch.Tensor,
        token_max: torch.Tensor,
        tokens_shape: torch.Size,
        token_ids: torch.Tensor | None,
        positions: torch.Tensor | None,
        context: TokenContext,
    ) -> None:
        values, rows = token_max.topk(min(TOP_TOKENS, token_max.numel()))
        # argmax returns the first maximal channel, as max(dim=1) over all rows would.
        channels = magnitude[rows].argmax(dim=1).tolist()
        seq_len = tokens_shape[-1] if len(tokens_shape) > 1 else 1
        flat_ids = token_ids.reshape(-1) if token_ids is not None else None
        for value, row, channel in zip(values.tolist(), rows.tolist(), channels, strict=True):
            if positions is not None:
                sequence, position = (int(v) for v in positions[row][-2:])
            else:
                sequence, position = divmod(row, seq_len)
            token = int(flat_ids[row]) if flat_ids is not None else -1
            entry = (value, context.first_sequence + sequence, position, token, channel)
            if len(self.top_tokens) < TOP_TOKENS:
                heapq.heappush(self.top_tokens, entry)
            elif entry > self.top_tokens[0]:
                heapq.heapreplace(self.top_tokens, entry)

    def qparams(self, candidate: str) -> QParams:
        """Activation qparams of ``candidate`` from everything recorded."""
        if candidate not in self.observers:
            raise QuantvizError(
                f"no observer for activation candidate {candidate!r}; calibrated candidates: "
                f"{', '.join(self.observers) or 'none'}"
            )
        return self.observers[candidate].compute_qparams()

    def top_token_records(self, tokenizer: Any = None) -> list[dict[str, Any]]:
        records = []
        for value, sequence, position, token, channel in sorted(self.top_tokens, reverse=True):
            record = {
                "absmax": value,
                "sequence": sequence,
                "position": position,
                "token_id": token,
                "channel": channel,
            }
            if tokenizer is not None and token >= 0:
                record["token"] = tokenizer.convert_ids_to_tokens(token)
            records.append(record)
        return records

    def state_bytes(self) -> int:
        """Bytes held in tensors; fixed after the first batch."""
        tensors = [self.channel_absmax, self.histogram.hist]
        tensors += [self.sample] if self.sample is not None else []
        for observer in self.observers.values():
            tensors += [t for t in vars(observer).values() if isinstance(t, torch.Tensor)]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def _count_at_least(
    magnitude: torch.Tensor, token_max: torch.Tensor, threshold: float, mask: torch.Tensor
) -> int:
    """Count the elements with ``magnitude >= threshold``, using the bool buffer ``mask``.

    Returns 0 without a pass over ``magnitude`` when no token reaches the threshold.
    """
    if not bool((token_max >= threshold).any()):
        return 0
    return int(torch.count_nonzero(torch.ge(magnitude, threshold, out=mask)))


def _fill_limit(dtype: torch.dtype) -> float:
    info = torch.finfo(dtype if dtype.is_floating_point else torch.float32)
    return info.max / 2


def _matching(tensor: torch.Tensor | None, tokens_shape: torch.Size) -> torch.Tensor | None:
    """``tensor`` (``[batch, tokens]``) if it lines up with the activation's token axes."""
    if tensor is None or tuple(tensor.shape) != tuple(tokens_shape):
        return None
    return tensor


@dataclass
class LayerActivations:
    """Recorded statistics of one layer: its input and, optionally, its output.

    ``shared_input`` names the layer whose recorder holds this layer's input when both
    receive the same tensor (query, key and value projections do).
    """

    layer: str
    input: ActivationRecorder
    output: ActivationRecorder | None = None
    shared_input: str | None = None


@dataclass
class CalibrationResult:
    """Per-layer activation statistics from ``batches`` calibration batches."""

    layers: dict[str, LayerActivations]
    settings: CalibrationSettings
    batches: int
    tokens: int

    def input_qparams(self, layer: str, candidate: str) -> QParams:
        if layer not in self.layers:
            raise QuantvizError(f"layer {layer!r} was not calibrated")
        return self.layers[layer].input.qparams(candidate)

    def state_bytes(self) -> int:
        seen: set[int] = set()
        total = 0
        for record in self.layers.values():
            for recorder in (record.input, record.output):
                if recorder is not None and id(recorder) not in seen:
                    seen.add(id(recorder))
                    total += recorder.state_bytes()
        return total


def _channels(module: nn.Module, info: LayerInfo) -> tuple[int, int]:
    """Input and output feature counts of a layer."""
    if info.kind == "conv1d_gpt2":
        return info.weight_shape[0], info.weight_shape[1]
    weight = module.weight
    return int(weight.shape[1]), int(weight.shape[0])


class _Hooks:
    """Forward hooks that feed each layer's activations to its recorders."""

    def __init__(
        self, model: nn.Module, layers: Sequence[LayerInfo], settings: CalibrationSettings
    ) -> None:
        from quantviz.analysis.candidates import get_candidates

        candidates = get_candidates(settings.candidates, ACTIVATION_CANDIDATES)
        self.context = TokenContext()
        self.workspace = Workspace()
        self.records: dict[str, LayerActivations] = {}
        self.handles: list[Any] = []
        # The last few inputs seen, kept alive so their storage cannot be reused, which
        # makes the identity test below exact.
        self.recent: list[tuple[torch.Tensor, str]] = []
        for info in layers:
            if info.kind in ("embedding", "conv1d", "conv2d"):
                logger.info(
                    "not recording activations of %s: %s layers take no channels-last input",
                    info.name,
                    info.kind,
                )
                continue
            module = get_module(model, info.name)
            in_features, out_features = _channels(module, info)
            recorder = ActivationRecorder(
                in_features,
                candidates,
                observer=settings.observer,
                observer_settings=settings.observer_settings,
                bins=settings.bins,
                sample_tokens=settings.sample_tokens,
                workspace=self.workspace,
            )
            output = None
            if settings.record_outputs:
                output = ActivationRecorder(out_features, bins=8, light=True)
            self.records[info.name] = LayerActivations(info.name, recorder, output)
            self.handles.append(module.register_forward_hook(self._hook(info.name)))

    def _hook(self, name: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if not args or not isinstance(args[0], torch.Tensor):
                return
            record = self.records[name]
            x = args[0]
            source = next((owner for seen, owner in self.recent if seen is x), None)
            if source is not None and source != name:
                record.shared_input = source
            elif record.shared_input is None:
                record.input.update(x, self.context)
            self.recent = [*self.recent[-3:], (x, name)]
            if record.output is not None and isinstance(output, torch.Tensor):
                record.output.update(output, self.context)

        return hook

    def reserve(self, batches: Sequence[dict[str, torch.Tensor]]) -> None:
        """Allocate the scratch buffers for ``batches`` before the first forward.

        Allocating them between a forward pass's temporaries would fragment the C heap.
        A buffer that turns out too small still grows on first use.
        """
        shapes = [batch["input_ids"].shape for batch in batches if "input_ids" in batch]
        if not shapes:
            return
        channels = max((record.input.channels for record in self.records.values()), default=0)
        elements = max(math.prod(shape) for shape in shapes) * channels
        for name, dtype in (
            ("magnitude", torch.float32),
            ("positions", torch.float32),
            ("index", torch.int32),
            ("mask", torch.bool),
        ):
            self.workspace.get(name, elements, dtype)

    def remove(self) -> None:
        """Remove the hooks and release the scratch buffers the recorders shared."""
        for handle in self.handles:
            handle.remove()
        self.recent = []
        for record in self.records.values():
            record.input.workspace = None
            record.input.histogram.scratch = None
        self.workspace = Workspace()


def _skip_unrecorded_logits(model: nn.Module, hooks: _Hooks) -> dict[str, Any]:
    """Return forward arguments that make the model compute the last position's logits only.

    Calibration reads activations, not logits, so a transformers causal LM whose output
    layer is not recorded needs no logits for the other positions. For SmolLM2-135M
    those logits are a fifth of the forward's multiply-adds and, at 8 x 128 tokens, a
    200 MB tensor. Models whose ``forward`` has no ``logits_to_keep`` argument run
    unchanged.
    """
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    if "logits_to_keep" not in parameters or head is None:
        return {}
    recorded = {id(get_module(model, name)) for name in hooks.records}
    if id(head) in recorded:
        return {}
    return {"logits_to_keep": 1}


def calibrate(
    loaded: Any,
    batches: Sequence[dict[str, torch.Tensor]],
    settings: CalibrationSettings | None = None,
    *,
    layers: Sequence[str] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> CalibrationResult:
    """Run ``batches`` through ``loaded.module`` and record every layer's activations.

    ``batches`` are dicts of model inputs (``input_ids``, ``attention_mask``) as
    :func:`quantviz.model.data.make_batches` returns. Raises :class:`Cancelled`
    between batches when ``cancel`` is set; hooks are removed either way.
    """
    if not batches:
        raise QuantvizError("no calibration batches; provide text for at least one sequence")
    settings = settings or CalibrationSettings()
    infos = [loaded.layer(name) for name in layers] if layers else list(loaded.layers)
    hooks = _Hooks(loaded.module, infos, settings)
    extra_inputs = _skip_unrecorded_logits(loaded.module, hooks)
    hooks.reserve(batches)
    sequences = 0
    try:
        for step, batch in enumerate(batches):
            cancel.raise_if_cancelled()
            progress(ProgressEvent(step, len(batches), f"batch {step + 1}", "calibration"))
            input_ids = batch.get("input_ids")
            mask = batch.get("attention_mask")
            hooks.context = TokenContext(
                input_ids=input_ids,
                valid=mask.bool() if mask is not None else None,
                first_sequence=sequences,
            )
            with torch.inference_mode():
                loaded.module(**batch, **extra_inputs)
            release_free_memory()
            sequences += int(input_ids.shape[0]) if input_ids is not None else 1
    finally:
        hooks.remove()
    progress(ProgressEvent(len(batches), len(batches), "", "calibration"))
    for record in hooks.records.values():
        if record.shared_input is not None:
            record.input = hooks.records[record.shared_input].input
    tokens = max((r.input.tokens for r in hooks.records.values()), default=0)
    return CalibrationResult(hooks.records, settings, len(batches), tokens)
