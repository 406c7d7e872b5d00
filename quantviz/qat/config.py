"""Settings of a quantization-aware training run, validated and stored as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from quantviz.errors import QuantvizError

DISTILLATION_MODES = ("auto", "kl", "cosine", "none")
SCHEDULES = ("cosine", "constant")

# Fields that change neither the training batches nor the updates, so a run may resume
# with other values for them.
RESUMABLE_FIELDS = ("eval_every", "checkpoint_every", "eval_samples")


@dataclass(frozen=True)
class QATConfig:
    """Training settings for fine-tuning a plan-applied model.

    ``learning_rate`` is AdamW's step for weights and biases; 0 freezes them, so only the
    scales train. ``scale_learning_rate`` is relative: each quantizer's scale tensor gets
    the learning rate ``scale_learning_rate * mean(|initial scale|)``, so that one Adam
    step moves every scale by about the same fraction whatever its magnitude (a learnable
    zero point gets ``scale_learning_rate * (qmax - qmin)`` codes). ``learnable_scales``
    switches LSQ on; without it the calibrated scales stay fixed and the weights train
    through the straight-through estimator.

    ``quant_error_penalty`` weights an extra loss term: the sum over quantized layers of
    the mean squared error between the effective weight and its fake-quantized version.

    ``distillation`` chooses the loss: ``"kl"`` (KL divergence between softmaxed logits
    at ``temperature``, scaled by ``temperature**2``), ``"cosine"`` (1 - cosine similarity
    of mean-pooled final hidden states) or ``"none"`` (next-token cross-entropy, causal
    LMs only, because an encoder has no labels). ``"auto"`` picks KL for causal LMs and
    cosine for encoders.

    The learning rates warm up linearly over ``warmup_steps`` and then follow
    ``schedule``: ``"cosine"`` decays them to 0 at the last step, ``"constant"`` keeps
    them. ``eval_every`` and ``checkpoint_every`` of 0 turn periodic evaluation and
    checkpoints off. ``grad_clip`` of 0 turns gradient clipping off. ``calibration_samples``
    windows of the training text calibrate input scales the plan does not store;
    ``eval_samples`` windows of held-out text measure the model.
    """

    steps: int = 200
    learning_rate: float = 1e-5
    scale_learning_rate: float = 1e-2
    batch_size: int = 4
    seq_len: int = 128
    learnable_scales: bool = True
    quant_error_penalty: float = 0.0
    distillation: str = "auto"
    temperature: float = 1.0
    eval_every: int = 50
    checkpoint_every: int = 100
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    seed: int = 0
    warmup_steps: int = 0
    schedule: str = "cosine"
    calibration_samples: int = 16
    eval_samples: int = 16

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("seq_len", self.seq_len, minimum=2)
        _check_int("eval_every", self.eval_every, minimum=0)
        _check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        _check_int("seed", self.seed, minimum=0)
        _check_int("warmup_steps", self.warmup_steps, minimum=0)
        _check_int("calibration_samples", self.calibration_samples, minimum=1)
        _check_int("eval_samples", self.eval_samples, minimum=1)
        _check_float("learning_rate", self.learning_rate, minimum=0.0)
        _check_float("scale_learning_rate", self.scale_learning_rate, minimum=0.0)
        _check_float("quant_error_penalty", self.quant_error_penalty, minimum=0.0)
        _check_float("grad_clip", self.grad_clip, minimum=0.0)
        _check_float("weight_decay", self.weight_decay, minimum=0.0)
        _check_float("temperature", self.temperature, minimum=0.0)
        if self.temperature == 0.0:
            raise QuantvizError("temperature=0.0 is invalid; it must be a positive number")
        if not isinstance(self.learnable_scales, bool):
            raise QuantvizError(
                f"learnable_scales={self.learnable_scales!r} is invalid; it must be true or false"
            )
        if self.distillation not in DISTILLATION_MODES:
            raise QuantvizError(
                f"distillation={self.distillation!r} is invalid; "
                f"use one of {', '.join(DISTILLATION_MODES)}"
            )
        if self.schedule not in SCHEDULES:
            raise QuantvizError(
                f"schedule={self.schedule!r} is invalid; use one of {', '.join(SCHEDULES)}"
            )
        if self.learning_rate == 0.0 and not (
            self.learnable_scales and self.scale_learning_rate > 0.0
        ):
            raise QuantvizError(
                "nothing would train: learning_rate is 0 and the scales are fixed or have "
                "scale_learning_rate 0; set a positive learning_rate or learn the scales"
            )

    def distillation_for(self, task: str) -> str:
        """Resolve the loss for a model of ``task`` to ``"kl"``, ``"cosine"`` or ``"none"``.

        Raises QuantvizError when the setting does not fit the model: an encoder has
        neither labels for ``"none"`` nor logits for ``"kl"``.
        """
        mode = self.distillation
        if mode == "auto":
            return "kl" if task == "causal_lm" else "cosine"
        if task != "causal_lm" and mode == "none":
            raise QuantvizError(
                "distillation='none' needs next-token labels, which an encoder does not "
                "have; use distillation 'cosine' (or 'auto') for encoders"
            )
        if task != "causal_lm" and mode == "kl":
            raise QuantvizError(
                "distillation='kl' compares logits, which an encoder does not output; "
                "use distillation 'cosine' (or 'auto') for encoders"
            )
        return mode

    def lr_factor(self, step: int) -> float:
        """Compute the learning-rate multiplier of training step ``step`` (1-based)."""
        if self.warmup_steps and step <= self.warmup_steps:
            return step / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        decay_steps = max(self.steps - self.warmup_steps, 1)
        progress = min(max(step - 1 - self.warmup_steps, 0) / decay_steps, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def training_differences(self, other: QATConfig) -> list[str]:
        """Names of the fields that differ from ``other`` and change the training."""
        return [
            item.name
            for item in fields(self)
            if item.name not in RESUMABLE_FIELDS
            and getattr(self, item.name) != getattr(other, item.name)
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> QATConfig:
        """Build a config from :meth:`to_dict` output; missing fields take their defaults."""
        if not isinstance(data, dict):
            raise QuantvizError(f"a QAT config must be an object; got {data!r}")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise QuantvizError(
                f"QAT config has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        return cls(**data)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise QuantvizError(f"{name}={value!r} is invalid; it must be {kind}")


def _check_float(name: str, value: Any, *, minimum: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise QuantvizError(f"{name}={value!r} is invalid; it must be a finite number >= {minimum}")
