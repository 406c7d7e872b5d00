"""What a QAT run returns: loss and evaluation curves, and metrics before and after."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantviz.analysis.metrics import from_json_float, json_float
from quantviz.errors import QuantvizError
from quantviz.io import atomic_write_json, read_json
from quantviz.qat.config import QATConfig

RESULT_FORMAT = "quantviz-qat-result"
RESULT_VERSION = 1
EVAL_METRICS = {"causal_lm": "perplexity", "encoder": "mean_cosine"}


@dataclass
class EvalPoint:
    """The held-out metric after ``step`` training steps (step 0 is the PTQ start)."""

    step: int
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "value": json_float(self.value)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalPoint:
        return cls(int(data["step"]), float(from_json_float(data["value"])))


@dataclass
class LayerSQNR:
    """Weight SQNR of one layer (dB, float effective weight against its fake-quantized
    version) with the PTQ start's weights and scales, and after QAT.

    ``after_db`` compares the fine-tuned weight with its quantization under the learned
    scales, so it measures the quantization error of the weights QAT ends with.
    """

    name: str
    before_db: float
    after_db: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "before_db": json_float(self.before_db)}
        if self.after_db is not None:
            data["after_db"] = json_float(self.after_db)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerSQNR:
        after = data.get("after_db")
        # SQNR is +inf for an exact quantization, which JSON stores as null; a missing
        # "after" is stored by leaving the key out.
        return cls(
            str(data["name"]),
            float(from_json_float(data["before_db"])),
            float(from_json_float(after)) if "after_db" in data else None,
        )


@dataclass
class QATResult:
    """The outcome of :func:`quantviz.qat.run_qat`, complete or cut short by cancellation.

    ``losses[i]`` and ``learning_rates[i]`` belong to training step ``i + 1``.
    ``eval_metric`` is ``"perplexity"`` (causal LM, lower is better) or ``"mean_cosine"``
    (encoder, mean cosine similarity of pooled embeddings against the float model, higher
    is better). ``metric_float`` is the float model's value, ``metric_before`` the PTQ
    start's and ``metric_after`` the fine-tuned model's (None when the run was cancelled
    before its final evaluation). ``files`` maps ``"model"``, ``"plan"`` and ``"result"``
    to the paths written. ``processes`` is the number of data-parallel processes that
    trained together (1 for an in-process run).
    """

    task: str
    eval_metric: str
    loss_name: str
    config: QATConfig
    total_steps: int
    steps_done: int = 0
    cancelled: bool = False
    losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    eval_curve: list[EvalPoint] = field(default_factory=list)
    metric_float: float | None = None
    metric_before: float | None = None
    metric_after: float | None = None
    weight_sqnr: list[LayerSQNR] = field(default_factory=list)
    resumed_from: int | None = None
    train_seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    processes: int = 1

    @property
    def higher_is_better(self) -> bool:
        return self.eval_metric == "mean_cosine"

    def improved(self) -> bool | None:
        """Whether QAT beat the PTQ start on held-out text; None without both values."""
        if self.metric_before is None or self.metric_after is None:
            return None
        if self.higher_is_better:
            return self.metric_after > self.metric_before
        return self.metric_after < self.metric_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "version": RESULT_VERSION,
            "task": self.task,
            "eval_metric": self.eval_metric,
            "loss_name": self.loss_name,
            "config": self.config.to_dict(),
            "total_steps": self.total_steps,
            "steps_done": self.steps_done,
            "cancelled": self.cancelled,
            "losses": [json_float(value) for value in self.losses],
            "learning_rates": list(self.learning_rates),
            "eval_curve": [point.to_dict() for point in self.eval_curve],
            "metric_float": _optional_json(self.metric_float),
            "metric_before": _optional_json(self.metric_before),
            "metric_after": _optional_json(self.metric_after),
            "weight_sqnr": [layer.to_dict() for layer in self.weight_sqnr],
            "resumed_from": self.resumed_from,
            "train_seconds": self.train_seconds,
            "files": dict(self.files),
            "processes": self.processes,
        }

    @classmethod
    def from_dict(cls, data: Any) -> QATResult:
        if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
            raise QuantvizError(
                f'not a QAT result: the top-level object needs "format": "{RESULT_FORMAT}"'
            )
        try:
            return cls(
                task=str(data["task"]),
                eval_metric=str(data["eval_metric"]),
                loss_name=str(data["loss_name"]),
                config=QATConfig.from_dict(data["config"]),
                total_steps=int(data["total_steps"]),
                steps_done=int(data["steps_done"]),
                cancelled=bool(data["cancelled"]),
                losses=[float(from_json_float(value)) for value in data["losses"]],
                learning_rates=[float(value) for value in data["learning_rates"]],
                eval_curve=[EvalPoint.from_dict(point) for point in data["eval_curve"]],
                metric_float=_optional_float(data.get("metric_float")),
                metric_before=_optional_float(data.get("metric_before")),
                metric_after=_optional_float(data.get("metric_after")),
                weight_sqnr=[LayerSQNR.from_dict(layer) for layer in data["weight_sqnr"]],
                resumed_from=data.get("resumed_from"),
                train_seconds=float(data.get("train_seconds", 0.0)),
                files={str(key): str(value) for key, value in data.get("files", {}).items()},
                processes=int(data.get("processes", 1)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise QuantvizError(f"invalid QAT result: {type(error).__name__}: {error}") from None

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> QATResult:
        try:
            return cls.from_dict(read_json(path, "QAT result"))
        except QuantvizError as error:
            if str(path) in str(error):
                raise
            raise QuantvizError(f"{path}: {error}") from None


def _optional_json(value: float | None) -> float | None:
    # NaN (for example a perplexity that overflowed) is stored as null like infinity.
    if value is None or math.isnan(value):
        return None
    return json_float(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
