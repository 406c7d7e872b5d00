"""Evaluate a precision plan against the float model on held-out text.

The float model and the plan-applied model run on the same held-out batches. Causal
LMs are compared by perplexity and logits KL divergence on fixed-length windows.
Encoders are compared by the cosine similarity of mean-pooled embeddings of whole
sentences, padded and with an attention mask. Input scales are calibrated on the
calibration split, never on the evaluation text. :func:`plan_size` counts the bytes the
weights take at the plan's formats. :func:`estimated_cost` estimates a plan's cost from
the analysis' per-layer sensitivities without running the model.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from quantviz.analysis.evaluation import OutputComparison, model_output
from quantviz.analysis.metrics import from_json_float, json_float
from quantviz.apply import apply_plan
from quantviz.errors import QuantvizError
from quantviz.model.data import load_texts, make_batches
from quantviz.model.layers import get_module
from quantviz.plan import PLAN_FORMATS, LayerConfig, PrecisionPlan, TensorConfig
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.quant.modules import FakeQuantizer, unwrap

logger = logging.getLogger(__name__)

# Calibration defaults match the analysis (AnalysisSettings): 16 windows of 128 tokens.
CALIBRATION_SAMPLES = 16
CALIBRATION_SEQ_LEN = 128
# Bytes of one stored scale or zero point (float32 / int32).
QPARAM_BYTES = 4
FLOAT_BYTES = 4
# Float reference outputs are kept in memory across evaluations up to this size;
# larger references are recomputed next to each quantized pass instead.
REFERENCE_CACHE_BYTES = 1 << 30
# Rows of a batch compared at once; the float64 KL of a full SmolLM2 batch would need
# gigabytes.
_COMPARE_ROWS = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


# ---------------------------------------------------------------------------------------
# Sizes


@dataclass
class PlanSize:
    """Storage of a model's parameters under a plan and in float32.

    Quantized weights take 1 byte per element plus :data:`QPARAM_BYTES` per scale, and
    as much again per zero point for asymmetric formats. Every other parameter (float
    weights, biases, embeddings, norms) is counted as float32. A parameter shared by several
    modules (a tied LM head) is counted once. ``layers_8bit`` counts layers whose weight
    and input are both 8-bit; ``params_8bit`` counts the weight elements stored at 8 bits.
    """

    plan_bytes: int
    float_bytes: int
    layers_total: int
    layers_8bit: int
    layers_weight_8bit: int
    params_total: int
    params_8bit: int

    @property
    def share_8bit(self) -> float:
        """Fraction of layers with 8-bit weights and 8-bit inputs."""
        return self.layers_8bit / self.layers_total if self.layers_total else 0.0

    @property
    def share_params_8bit(self) -> float:
        """Fraction of the quantizable layers' weight elements stored at 8 bits."""
        return self.params_8bit / self.params_total if self.params_total else 0.0

    @property
    def ratio(self) -> float:
        """Plan bytes over float32 bytes."""
        return self.plan_bytes / self.float_bytes if self.float_bytes else 1.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            share_8bit=self.share_8bit, share_params_8bit=self.share_params_8bit, ratio=self.ratio
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanSize:
        return cls(**{key: int(data[key]) for key in cls.__dataclass_fields__})


def _scale_count(config: TensorConfig, shape: Sequence[int], out_axis: int, in_axis: int) -> int:
    if config.granularity == "tensor":
        return 1
    if config.granularity == "channel":
        return int(shape[out_axis])
    group_size = int(config.group_size or 1)
    others = math.prod(shape) // shape[in_axis]
    return others * math.ceil(shape[in_axis] / group_size)


def plan_size(loaded: Any, plan: PrecisionPlan) -> PlanSize:
    """Count the bytes of ``loaded``'s parameters at ``plan``'s weight formats."""
    module = loaded.module
    quantizer_params = {
        id(parameter)
        for child in module.modules()
        if isinstance(child, FakeQuantizer)
        for parameter in child.parameters()
    }
    owners = {}
    for info in loaded.layers:
        owners.setdefault(id(unwrap(get_module(module, info.name)).weight), info)
    configs = {info.name: plan.resolve(info.name) for info in loaded.layers}

    plan_bytes = float_bytes = params_total = params_8bit = 0
    for parameter in module.parameters():  # yields a shared Parameter once
        if id(parameter) in quantizer_params:
            continue
        count = parameter.numel()
        float_bytes += FLOAT_BYTES * count
        info = owners.get(id(parameter))
        if info is not None:
            params_total += count
        weight = configs[info.name].weight if info is not None else None
        if weight is None or not weight.quantized:
            plan_bytes += FLOAT_BYTES * count
            continue
        params_8bit += count
        scales = _scale_count(weight, parameter.shape, info.out_axis, info.in_axis)
        per_scale = QPARAM_BYTES * (1 if PLAN_FORMATS[weight.format][1] else 2)
        plan_bytes += count + scales * per_scale
    layers_8bit = sum(1 for c in configs.values() if c.weight.quantized and c.input.quantized)
    return PlanSize(
        plan_bytes=plan_bytes,
        float_bytes=float_bytes,
        layers_total=len(configs),
        layers_8bit=layers_8bit,
        layers_weight_8bit=sum(1 for c in configs.values() if c.weight.quantized),
        params_total=params_total,
        params_8bit=params_8bit,
    )


def plan_size_bytes(loaded: Any, plan: PrecisionPlan) -> int:
    """Bytes of ``loaded``'s parameters at ``plan``'s weight formats (see :class:`PlanSize`)."""
    return plan_size(loaded, plan).plan_bytes


# ---------------------------------------------------------------------------------------
# Estimated cost


@dataclass(frozen=True)
class EstimatedCost:
    """A plan's accuracy cost estimated from the analysis' per-layer sensitivities.

    ``metric`` is the sensitivity metric: ``"kl"`` (logits KL in nats, causal LMs) or
    ``"cosine_loss"`` (1 - embedding cosine, encoders). ``layers`` counts the quantized
    layers whose sensitivity was added.
    """

    value: float
    metric: str
    layers: int


def estimated_cost(
    analysis: Any, plan: PrecisionPlan | Mapping[str, LayerConfig]
) -> EstimatedCost | None:
    """Add up the sensitivity of each layer that ``plan`` quantizes.

    A layer with quantized weights and inputs adds its ``both`` sensitivity, one with
    only its weights or only its inputs quantized adds ``weights`` or ``inputs``.
    ``plan`` is a PrecisionPlan or the layers' resolved configurations by name (a
    layer missing from the mapping counts as float). Returns None when the analysis
    has no sensitivity (it ran with ``sensitivity_samples=0``).
    """
    # NOTE: the analysis measured each layer's cost with INT8 (weights per channel,
    # inputs per tensor), one layer at a time with the rest in float. FP8 layers are
    # charged the same INT8 cost. The errors of several layers interact, so the sum is
    # an estimate, and evaluate_plan measures the real cost.
    reports = [report for report in analysis.layers if report.sensitivity is not None]
    if not reports:
        return None
    total = 0.0
    layers = 0
    for report in reports:
        if isinstance(plan, PrecisionPlan):
            config = plan.resolve(report.name)
        else:
            config = plan.get(report.name)
        if config is None or not config.quantized:
            continue
        sensitivity = report.sensitivity
        if config.weight.quantized and config.input.quantized:
            total += sensitivity.both
        elif config.weight.quantized:
            total += sensitivity.weights
        else:
            total += sensitivity.inputs
        layers += 1
    return EstimatedCost(total, reports[0].sensitivity.metric, layers)


# ---------------------------------------------------------------------------------------
# Evaluation text


def split_sentences(texts: Sequence[str]) -> list[str]:
    """Split paragraphs into sentences at ``.``, ``!`` or ``?`` followed by a capital or digit."""
    sentences = []
    for text in texts:
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            if sentence.strip():
                sentences.append(sentence.strip())
    return sentences


def sentence_units(texts: Sequence[str]) -> list[str]:
    """Evaluation texts for encoders: every sentence, then every pair of adjacent
    sentences within a paragraph, then every whole paragraph."""
    per_paragraph = [split_sentences([text]) for text in texts]
    singles = [sentence for sentences in per_paragraph for sentence in sentences]
    pairs = [
        f"{sentences[i]} {sentences[i + 1]}"
        for sentences in per_paragraph
        for i in range(len(sentences) - 1)
    ]
    paragraphs = [" ".join(text.split()) for text in texts if len(split_sentences([text])) > 2]
    return singles + pairs + paragraphs


def sentence_batches(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    seq_len: int = 128,
    num_samples: int = 32,
    batch_size: int = 8,
) -> list[dict[str, torch.Tensor]]:
    """Tokenize one sequence per text, with special tokens and cut at ``seq_len``, and
    pad each batch to its longest sequence, with the attention mask.

    Logs how many texts were cut. Raises QuantvizError when there is no text.
    """
    if tokenizer is None:
        raise QuantvizError(
            "the model has no tokenizer, so text cannot be turned into batches; open a model "
            "folder that contains tokenizer files"
        )
    selected = [text for text in texts if text.strip()][:num_samples]
    if not selected:
        raise QuantvizError("no evaluation text: give at least one non-empty sentence")
    batches = []
    truncated = 0
    for start in range(0, len(selected), batch_size):
        chunk = selected[start : start + batch_size]
        full = tokenizer(chunk, add_special_tokens=True)["input_ids"]
        truncated += sum(1 for ids in full if len(ids) > seq_len)
        encoded = tokenizer(
            chunk, padding=True, truncation=True, max_length=seq_len, return_tensors="pt"
        )
        batches.append(
            {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        )
    if truncated:
        logger.info("%d of %d texts were cut to %d tokens", truncated, len(selected), seq_len)
    return batches


def default_calibration_batches(
    loaded: Any, *, samples: int = CALIBRATION_SAMPLES, seq_len: int = CALIBRATION_SEQ_LEN
) -> list[dict[str, torch.Tensor]]:
    """Build the analysis's calibration batches: bundled calibration text, 16 x 128 tokens."""
    return make_batches(
        loaded.tokenizer,
        load_texts(split="calibration"),
        seq_len=seq_len,
        num_samples=samples,
        batch_size=8,
    )


# ---------------------------------------------------------------------------------------
# Results


@dataclass
class EvaluationResult:
    """Float against plan-applied outputs on held-out text, and the plan's size.

    ``loss`` is the headline degradation: mean logits KL in nats (causal LM) or
    1 - mean pooled-embedding cosine (encoder). Perplexity fields are ``None`` for
    encoders and cosine fields ``None`` for causal LMs. ``perplexity_change`` is
    relative (0.01 = +1%).
    """

    task: str
    loss: float
    size: PlanSize
    sequences: int
    tokens: int
    seq_len: int
    kl: float | None = None
    perplexity_float: float | None = None
    perplexity_quant: float | None = None
    perplexity_change: float | None = None
    mean_cosine: float | None = None
    min_cosine: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = self.size.to_dict()
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = json_float(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        try:
            values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
            values["size"] = PlanSize.from_dict(data["size"])
            values["loss"] = from_json_float(data["loss"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise QuantvizError(f"evaluation result is incomplete or invalid: {error!r}") from None

    def summary(self) -> str:
        """Format the headline numbers as one line."""
        if self.task == "causal_lm":
            quality = (
                f"perplexity {self.perplexity_float:.3f} -> {self.perplexity_quant:.3f} "
                f"({100 * (self.perplexity_change or 0.0):+.2f}%), KL {self.kl:.4g}"
            )
        else:
            quality = f"cosine mean {self.mean_cosine:.5f}, min {self.min_cosine:.5f}"
        return (
            f"{quality}; {100 * self.size.share_8bit:.0f}% of layers W8A8, "
            f"{self.size.plan_bytes / 1e6:.1f} MB vs {self.size.float_bytes / 1e6:.1f} MB float32"
        )


# ---------------------------------------------------------------------------------------
# Evaluation


class PlanEvaluator:
    """Evaluates plans on fixed held-out and calibration batches of one model.

    The float reference outputs are computed once and kept (up to
    :data:`REFERENCE_CACHE_BYTES`), so evaluating several plans costs one quantized
    pass each. Causal LMs use ``samples`` windows of ``seq_len`` tokens; encoders use
    one padded sequence per text, at most ``samples`` texts.
    """

    def __init__(
        self,
        loaded: Any,
        *,
        eval_texts: Sequence[str] | None = None,
        calib_batches: Sequence[dict[str, torch.Tensor]] | None = None,
        samples: int = 32,
        seq_len: int = 128,
        batch_size: int = 8,
    ) -> None:
        self.loaded = loaded
        self.seq_len = seq_len
        texts = list(eval_texts) if eval_texts is not None else load_texts(split="evaluation")
        if loaded.task == "causal_lm":
            self.batches = make_batches(
                loaded.tokenizer,
                texts,
                seq_len=seq_len,
                num_samples=samples,
                batch_size=batch_size,
            )
        else:
            units = texts if eval_texts is not None else sentence_units(texts)
            self.batches = sentence_batches(
                loaded.tokenizer,
                units,
                seq_len=seq_len,
                num_samples=samples,
                batch_size=batch_size,
            )
        self.calib_batches = (
            list(calib_batches)
            if calib_batches is not None
            else default_calibration_batches(loaded)
        )
        self.sequences = sum(int(batch["input_ids"].shape[0]) for batch in self.batches)
        self.tokens = sum(int(batch["attention_mask"].sum()) for batch in self.batches)
        self._references: list[torch.Tensor] | None = None

    def _cache_references(self) -> bool:
        if self.loaded.task != "causal_lm":
            return True
        vocab = int(getattr(self.loaded.config, "vocab_size", 0) or 0)
        size = sum(batch["input_ids"].numel() for batch in self.batches) * vocab * 4
        return size <= REFERENCE_CACHE_BYTES

    def references(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken = NEVER_CANCELLED
    ) -> list[torch.Tensor]:
        """Float outputs for every evaluation batch (computed on first use)."""
        if self._references is None:
            outputs = []
            for step, batch in enumerate(self.batches):
                progress(ProgressEvent(step, len(self.batches), f"batch {step + 1}", "float"))
                cancel.raise_if_cancelled()
                outputs.append(model_output(self.loaded, batch))
            self._references = outputs
        return self._references

    def evaluate(
        self,
        plan: PrecisionPlan,
        *,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> EvaluationResult:
        """Apply ``plan``, compare with float on the evaluation batches, restore the model.

        The scales apply_plan computes are stored in ``plan.scales``.
        """
        timings: dict[str, float] = {}
        cache = self._cache_references()
        if cache:
            started = time.perf_counter()
            references: list[torch.Tensor] | None = self.references(progress, cancel)
            timings["float_s"] = time.perf_counter() - started
        else:
            references = None
        comparison = OutputComparison(self.loaded.task)
        started = time.perf_counter()
        with apply_plan(
            self.loaded, plan, self.calib_batches, progress=progress, cancel=cancel
        ) as applied:
            timings["apply_s"] = time.perf_counter() - started
            started = time.perf_counter()
            for step, batch in enumerate(self.batches):
                progress(ProgressEvent(step, len(self.batches), f"batch {step + 1}", "evaluation"))
                cancel.raise_if_cancelled()
                if references is not None:
                    reference = references[step]
                else:
                    with applied.disabled():
                        reference = model_output(self.loaded, batch)
                output = model_output(self.loaded, batch)
                _compare(comparison, reference, output, batch)
            progress(ProgressEvent(len(self.batches), len(self.batches), "", "evaluation"))
            timings["evaluate_s"] = time.perf_counter() - started
        return self._result(comparison, plan_size(self.loaded, plan), timings)

    def _result(
        self, comparison: OutputComparison, size: PlanSize, timings: dict[str, float]
    ) -> EvaluationResult:
        result = EvaluationResult(
            task=self.loaded.task,
            loss=comparison.loss,
            size=size,
            sequences=self.sequences,
            tokens=self.tokens,
            seq_len=self.seq_len,
            timings=timings,
            model=self.loaded.source.to_dict(),
        )
        if self.loaded.task == "causal_lm":
            result.kl = comparison.kl
            result.perplexity_float = comparison.perplexity_float
            result.perplexity_quant = comparison.perplexity_quant
            result.perplexity_change = comparison.perplexity_change
        else:
            result.mean_cosine = comparison.mean_cosine
            result.min_cosine = comparison.cosine_min
        return result


def _compare(
    comparison: OutputComparison,
    reference: torch.Tensor,
    output: torch.Tensor,
    batch: dict[str, torch.Tensor],
) -> None:
    for start in range(0, reference.shape[0], _COMPARE_ROWS):
        rows = slice(start, start + _COMPARE_ROWS)
        comparison.add(
            reference[rows], output[rows], {key: value[rows] for key, value in batch.items()}
        )


def evaluate_plan(
    loaded: Any,
    plan: PrecisionPlan,
    *,
    eval_texts: Sequence[str] | None = None,
    calib_batches: Sequence[dict[str, torch.Tensor]] | None = None,
    samples: int = 32,
    seq_len: int = 128,
    batch_size: int = 8,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> EvaluationResult:
    """Compare the float model with ``plan`` applied on held-out text.

    ``eval_texts`` defaults to the bundled evaluation split: for causal LMs cut into
    ``samples`` windows of ``seq_len`` tokens, for encoders split into sentences,
    sentence pairs and paragraphs (:func:`sentence_units`), one padded sequence each.
    ``calib_batches`` default to the analysis's calibration batches (bundled calibration
    split, 16 x 128 tokens). The model is restored afterwards, also on error or
    cancellation, and the scales used are stored in ``plan.scales``.
    """
    evaluator = PlanEvaluator(
        loaded,
        eval_texts=eval_texts,
        calib_batches=calib_batches,
        samples=samples,
        seq_len=seq_len,
        batch_size=batch_size,
    )
    return evaluator.evaluate(plan, progress=progress, cancel=cancel)
