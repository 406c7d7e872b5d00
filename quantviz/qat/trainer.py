"""Quantization-aware training of a plan-applied model.

:class:`QATTrainer` applies a plan with learnable (LSQ) or fixed scales and trains one
step at a time; :func:`run_qat` drives it with evaluation, checkpoints, pausing,
cancellation and the files a finished run leaves behind.

What trains: the weights and biases of the layers the plan wraps, and the quantizers'
scales (and learnable zero points). Embeddings, norms and layers outside the plan stay
frozen. The model stays in eval mode, so dropout is off and a step depends only on the
parameters and the batch. The teacher is the float model computed from the same modules
(see :mod:`quantviz.qat.teacher`).

With a :class:`~quantviz.qat.distributed.DataParallel` the trainer is one of several
processes: every step's sequences are split between them and the model trains wrapped
in DistributedDataParallel (see :mod:`quantviz.qat.distributed`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from quantviz.analysis.evaluation import token_nll
from quantviz.analysis.metrics import compare, cosine_rows
from quantviz.apply import AppliedPlan, apply_plan
from quantviz.errors import QuantvizError
from quantviz.model.data import load_texts, make_batches
from quantviz.model.offload import require_resident
from quantviz.plan import PrecisionPlan
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.qat.config import QATConfig
from quantviz.qat.distributed import DataParallel
from quantviz.qat.losses import (
    cosine_distillation,
    features_for,
    forward_features,
    kl_distillation,
    next_token_loss,
)
from quantviz.qat.result import EVAL_METRICS
from quantviz.qat.teacher import FloatTeacher
from quantviz.quant.modules import FakeQuantizer
from quantviz.quant.qparams import MIN_SCALE

logger = logging.getLogger(__name__)

# Adam's epsilon for scales and zero points. LSQ multiplies scale gradients by
# 1 / sqrt(numel * qmax), so they are small: on MiniLM (W8A8, cosine loss, first step)
# the input scales' gradients span about 1e-8 to 1e-5. torch's default epsilon of 1e-8
# would halve the smallest of those steps.
SCALE_ADAM_EPS = 1e-12


class QATTrainer:
    """A model with a plan applied for training, advanced one step at a time.

    Use it as a context manager, or call :meth:`start` and :meth:`close`. ``start``
    applies the plan with ``apply_plan(learnable=config.learnable_scales)``. Input scales
    that the plan does not store are calibrated on the first ``calibration_samples``
    training windows. ``close`` copies the current scales into ``plan.scales`` and
    removes the wrappers. The model is then float again with its fine-tuned weights, and
    ``apply_plan(loaded, plan)`` rebuilds the quantized model.

    ``data_parallel`` makes this trainer one process of a data-parallel run: ``start``
    moves the model to the process's device and wraps it in DistributedDataParallel, and
    step ``s`` of process ``r`` trains on its share ``r`` of the ``batch_size *
    processes`` sequences of the step. Raises QuantvizError for a model whose weights
    accelerate offloaded (``load_model(..., device_map=...)``).
    """

    def __init__(
        self,
        loaded: Any,
        plan: PrecisionPlan,
        config: QATConfig,
        *,
        train_texts: Sequence[str] | None = None,
        eval_texts: Sequence[str] | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken = NEVER_CANCELLED,
        data_parallel: DataParallel | None = None,
    ) -> None:
        require_resident(
            loaded,
            "QAT",
            "Load the model without device_map on a machine whose memory holds it, or run "
            "quantviz analyze with --device-map for an analysis without training.",
        )
        if loaded.tokenizer is None:
            raise QuantvizError(
                f"the model {loaded.source.spec!r} has no tokenizer, so QAT cannot turn text "
                "into batches; open a model folder that contains tokenizer files"
            )
        self.loaded = loaded
        self.plan = plan
        self.config = config
        self.progress = progress
        self.cancel = cancel
        self.loss_kind = config.distillation_for(loaded.task)
        self.features = features_for(self.loss_kind)
        self.eval_metric = EVAL_METRICS[loaded.task]
        self.data_parallel = data_parallel
        self.processes = data_parallel.processes if data_parallel is not None else 1
        self.rank = data_parallel.rank if data_parallel is not None else 0
        # The module that training steps call: the model, or its DistributedDataParallel
        # wrapper once start() has prepared it.
        self.train_module: nn.Module = loaded.module

        train = list(train_texts) if train_texts is not None else load_texts(split="calibration")
        held_out = list(eval_texts) if eval_texts is not None else load_texts(split="evaluation")
        self.train_windows = self._windows(train, config.steps * config.batch_size * self.processes)
        self.calibration_batches = [
            {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            for ids in self.train_windows[: config.calibration_samples].split(config.batch_size)
        ]
        self.eval_batches = make_batches(
            loaded.tokenizer,
            held_out,
            seq_len=config.seq_len,
            num_samples=config.eval_samples,
            batch_size=config.batch_size,
        )
        epochs = config.steps * config.batch_size / len(self.train_windows)
        logger.info(
            "QAT trains on %d windows of %d tokens (%.1f passes over them)",
            len(self.train_windows),
            config.seq_len,
            epochs,
        )

        self.applied: AppliedPlan | None = None
        self.teacher: FloatTeacher | None = None
        self.optimizer: torch.optim.AdamW | None = None
        self.trained: dict[str, nn.Parameter] = {}
        self.quantizers: dict[str, FakeQuantizer] = {}
        self.float_reference: list[torch.Tensor] = []
        self._requires_grad: dict[nn.Parameter, bool] = {}
        self._penalty_terms: list[torch.Tensor] = []
        self._hooks: list[Any] = []
        self._permutations: dict[int, torch.Tensor] = {}

    # -- set-up and tear-down ---------------------------------------------------------------

    def _windows(self, texts: list[str], wanted: int) -> torch.Tensor:
        """Cut the training text into windows ``[n, seq_len]``, which training cycles through."""
        count = max(self._count_windows(texts, wanted), self.config.calibration_samples, 1)
        batches = make_batches(
            self.loaded.tokenizer,
            texts,
            seq_len=self.config.seq_len,
            num_samples=count,
            batch_size=count,
        )
        return torch.cat([batch["input_ids"] for batch in batches])

    def _count_windows(self, texts: list[str], wanted: int) -> int:
        """Count the windows the text gives, up to ``wanted``, as make_batches cuts them.

        Training cycles through fewer windows than ``steps * batch_size`` on purpose, so
        asking make_batches for no more than there are keeps it from warning.
        """
        tokenizer = self.loaded.tokenizer
        separator = tokenizer.eos_token_id
        if separator is None:
            separator = tokenizer.sep_token_id
        needed = wanted * self.config.seq_len
        tokens = 0
        for index, text in enumerate(texts):
            if index > 0 and separator is not None:
                tokens += 1
            tokens += len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
            if tokens >= needed:
                return wanted
        return tokens // self.config.seq_len

    def start(self, teacher_originals: dict[str, torch.Tensor] | None = None) -> None:
        """Apply the plan, choose the trained parameters, build the teacher and AdamW.

        ``teacher_originals`` replaces the teacher's snapshot of the trained parameters;
        a resumed run passes the values saved before its first step.
        """
        module = self.loaded.module
        self._requires_grad = {p: p.requires_grad for p in module.parameters()}
        if self.data_parallel is not None:
            module.to(self.data_parallel.device)
        device = self.device
        self.applied = apply_plan(
            self.loaded,
            self.plan,
            [
                {key: value.to(device) for key, value in batch.items()}
                for batch in self.calibration_batches
            ],
            learnable=self.config.learnable_scales,
            progress=self.progress,
            cancel=self.cancel,
        )
        try:
            self._select_parameters()
            self._build_teacher(teacher_originals)
            self._build_optimizer()
            if self.data_parallel is not None:
                self._prepare_data_parallel()
            if self.config.quant_error_penalty > 0:
                for wrapper in self.applied.wrappers.values():
                    if wrapper.weight_quantizer is not None:
                        hook = wrapper.weight_quantizer.register_forward_hook(self._record_penalty)
                        self._hooks.append(hook)
            if self.eval_metric == "mean_cosine":
                self.float_reference = [
                    self.teacher_output(batch, "pooled") for batch in self.eval_batches
                ]
        except BaseException:
            self.close()
            raise

    def _select_parameters(self) -> None:
        assert self.applied is not None
        for parameter in self.loaded.module.parameters():
            parameter.requires_grad_(False)
        seen: set[int] = set()
        if self.config.learning_rate > 0:
            for name, wrapper in self.applied.wrappers.items():
                for parameter_name, parameter in wrapper.inner.named_parameters():
                    if id(parameter) in seen:
                        continue  # a tied weight trains once
                    seen.add(id(parameter))
                    self.trained[f"{name}.{parameter_name}"] = parameter
        for name, wrapper in self.applied.wrappers.items():
            for role in ("weight", "input"):
                quantizer = getattr(wrapper, f"{role}_quantizer")
                if quantizer is not None:
                    self.quantizers[f"{name}.{role}_quantizer"] = quantizer
        for parameter in self.trained.values():
            parameter.requires_grad_(True)
        for quantizer in self.quantizers.values():
            for parameter in quantizer.parameters():
                parameter.requires_grad_(self.config.scale_learning_rate > 0)

    def _build_teacher(self, originals: dict[str, torch.Tensor] | None) -> None:
        assert self.applied is not None
        if originals is None:
            self.teacher = FloatTeacher.snapshot(self.applied, self.loaded.task, self.trained)
            return
        missing = sorted(set(self.trained) - set(originals))
        extra = sorted(set(originals) - set(self.trained))
        if missing or extra:
            raise QuantvizError(
                "the saved teacher weights do not match the parameters this run trains "
                f"(missing: {', '.join(missing[:3]) or 'none'}; unexpected: "
                f"{', '.join(extra[:3]) or 'none'}); start a new run without resume"
            )
        device = self.device
        self.teacher = FloatTeacher(
            self.applied,
            self.loaded.task,
            {name: originals[name].to(device) for name in self.trained},
        )

    def _build_optimizer(self) -> None:
        config = self.config
        groups: list[dict[str, Any]] = []
        matrices = [p for p in self.trained.values() if p.dim() >= 2]
        vectors = [p for p in self.trained.values() if p.dim() < 2]
        if matrices:
            groups.append(_group(matrices, config.learning_rate, config.weight_decay))
        if vectors:
            groups.append(_group(vectors, config.learning_rate, 0.0))
        if config.learnable_scales and config.scale_learning_rate > 0:
            # One group per tensor, because each scale's learning rate follows its size.
            for quantizer in self.quantizers.values():
                magnitude = float(quantizer.scale.detach().abs().mean())
                rate = config.scale_learning_rate * max(magnitude, MIN_SCALE)
                groups.append(_group([quantizer.scale], rate, 0.0, SCALE_ADAM_EPS))
                if isinstance(quantizer.zero_point, nn.Parameter):
                    code_range = quantizer.spec.qmax - quantizer.spec.qmin
                    rate = config.scale_learning_rate * code_range
                    groups.append(_group([quantizer.zero_point], rate, 0.0, SCALE_ADAM_EPS))
        if not groups:
            raise QuantvizError(
                "the plan quantizes no layer, so QAT has nothing to train; "
                "choose a plan that quantizes at least one layer"
            )
        self.optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)

    def _prepare_data_parallel(self) -> None:
        """Wrap the model and optimizer for data parallelism and check what DDP syncs.

        DistributedDataParallel averages the gradients of the parameters that require
        them when it is built, so this runs after the trained parameters are chosen.
        """
        assert self.data_parallel is not None and self.optimizer is not None
        self.train_module, self.optimizer = self.data_parallel.prepare(
            self.loaded.module, self.optimizer
        )
        synced = {id(parameter) for parameter in self.train_module.parameters()}
        trained = list(self.trained.items()) + [
            (f"{name}.{parameter_name}", parameter)
            for name, quantizer in self.quantizers.items()
            for parameter_name, parameter in quantizer.named_parameters()
            if parameter.requires_grad
        ]
        outside = [name for name, parameter in trained if id(parameter) not in synced]
        if outside:
            raise QuantvizError(
                f"{len(outside)} trained tensors are not parameters of the data-parallel model "
                f"(first: {outside[0]}), so the processes would train them apart; run QAT in "
                "one process"
            )
        logger.info(
            "process %d of %d trains on %d of the %d sequences of each step",
            self.rank,
            self.processes,
            self.config.batch_size,
            self.config.batch_size * self.processes,
        )

    def close(self) -> None:
        """Copy the current scales into the plan, remove the wrappers, unfreeze parameters."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        if self.applied is not None:
            self.applied.sync_scales()
            self.applied.remove()
        for parameter, flag in self._requires_grad.items():
            parameter.requires_grad_(flag)
        self._requires_grad.clear()

    def __enter__(self) -> QATTrainer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- training ---------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        parameter = next(self.loaded.module.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    @property
    def teacher_needed(self) -> bool:
        return self.loss_kind != "none"

    def batch_for(self, step: int) -> dict[str, torch.Tensor]:
        """The training batch of ``step`` (1-based): a function of the seed and the step only.

        Windows are drawn without replacement in a random order per pass over them,
        seeded by ``seed`` and the pass number. In a data-parallel run the step's
        ``batch_size * processes`` windows are the ones one process with that batch size
        would draw, and this process takes its ``rank``-th share of them.
        """
        count = len(self.train_windows)
        size = self.config.batch_size
        first = ((step - 1) * self.processes + self.rank) * size
        indices = []
        for position in range(first, first + size):
            epoch, offset = divmod(position, count)
            indices.append(int(self._permutation(epoch)[offset]))
        input_ids = self.train_windows[indices].to(self.device)
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._permutations:
            generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
            self._permutations = {
                epoch: torch.randperm(len(self.train_windows), generator=generator)
            }
        return self._permutations[epoch]

    def teacher_output(self, batch: dict[str, torch.Tensor], features: str) -> torch.Tensor:
        """Compute the float teacher's logits or pooled embeddings for ``batch``."""
        assert self.teacher is not None, "call start() first"
        return self.teacher.outputs(batch, features)

    def student_output(self, batch: dict[str, torch.Tensor], features: str) -> torch.Tensor:
        """Compute the plan-applied model's logits or pooled embeddings (no gradient)."""
        with torch.inference_mode():
            return forward_features(self.loaded.module, self.loaded.task, batch, features)

    def _record_penalty(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if torch.is_grad_enabled():
            self._penalty_terms.append((inputs[0] - output).pow(2).mean())

    def train_step(self, step: int) -> tuple[float, float]:
        """Run training step ``step`` (1-based); return its loss and weight learning rate."""
        assert self.optimizer is not None, "call start() first"
        config = self.config
        factor = config.lr_factor(step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        batch = self.batch_for(step)
        target = self.teacher_output(batch, self.features) if self.teacher_needed else None

        self.optimizer.zero_grad(set_to_none=True)
        self._penalty_terms.clear()
        output = forward_features(self.train_module, self.loaded.task, batch, self.features)
        if self.loss_kind == "kl":
            loss = kl_distillation(output, target, batch.get("attention_mask"), config.temperature)
        elif self.loss_kind == "cosine":
            loss = cosine_distillation(output, target)
        else:
            loss = next_token_loss(output, batch)
        if self._penalty_terms:
            loss = loss + config.quant_error_penalty * torch.stack(self._penalty_terms).sum()
        # Every process gets the same mean, so all of them raise below or none does.
        if self.data_parallel is None:
            value = float(loss.detach())
        else:
            value = self.data_parallel.mean(loss)
        if not math.isfinite(value):
            raise QuantvizError(
                f"the QAT loss is {value} at step {step}; lower learning_rate or "
                "scale_learning_rate, or resume from the last checkpoint with lower rates"
            )
        if self.data_parallel is None:
            loss.backward()
        else:
            self.data_parallel.backward(loss)
        self._penalty_terms.clear()
        if config.grad_clip > 0:
            parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
        self.optimizer.step()
        self._clamp_quantizers()
        return value, config.learning_rate * factor

    @torch.no_grad()
    def _clamp_quantizers(self) -> None:
        """Keep learned scales positive and learned zero points on the code range."""
        for quantizer in self.quantizers.values():
            if isinstance(quantizer.scale, nn.Parameter):
                quantizer.scale.clamp_(min=MIN_SCALE)
            if isinstance(quantizer.zero_point, nn.Parameter):
                quantizer.zero_point.clamp_(quantizer.spec.qmin, quantizer.spec.qmax)

    def stop_requested(self, cancelled: bool) -> bool:
        """Return True when ``cancelled`` is set here or in any other process.

        In a data-parallel run every process must call this before every step, so that
        all of them stop at the same step.
        """
        if self.data_parallel is None:
            return cancelled
        return self.data_parallel.any(cancelled)

    def check_replicas(self) -> None:
        """Raise QuantvizError unless the trained values are equal in every process.

        Does nothing outside a data-parallel run.
        """
        if self.data_parallel is not None:
            self.data_parallel.check_replicas(self.trainable_state())

    # -- measurement ------------------------------------------------------------------------

    def evaluate(self, *, student: bool = True) -> float | None:
        """Measure the student (or the float teacher) on the held-out batches.

        Returns the perplexity for causal LMs, and for encoders the mean cosine similarity
        of pooled embeddings against the float model's (1.0 for the teacher itself).
        Returns None when ``cancel`` is set before the last batch.
        """
        if self.eval_metric == "mean_cosine" and not student:
            return 1.0
        features = "logits" if self.eval_metric == "perplexity" else "pooled"
        nll_sum = 0.0
        count = 0
        cosines = []
        for index, batch in enumerate(self.eval_batches):
            if self.cancel.cancelled:
                return None
            self.progress(
                ProgressEvent(index, len(self.eval_batches), f"batch {index + 1}", "evaluation")
            )
            batch = {key: value.to(self.device) for key, value in batch.items()}
            if student:
                output = self.student_output(batch, features)
            else:
                output = self.teacher_output(batch, features)
            if self.eval_metric == "perplexity":
                nll = token_nll(output, batch["input_ids"])
                nll_sum += float(nll.sum())
                count += nll.numel()
            else:
                cosines.append(cosine_rows(self.float_reference[index].cpu(), output.cpu()))
        self.progress(
            ProgressEvent(len(self.eval_batches), len(self.eval_batches), "", "evaluation")
        )
        if self.eval_metric == "perplexity":
            return math.exp(nll_sum / max(count, 1))
        return float(torch.cat(cosines).mean())

    @torch.no_grad()
    def weight_sqnr(self) -> dict[str, float]:
        """Compute the SQNR (dB) of every quantized weight against its fake-quantized version.

        The reference is the effective weight (after smoothing), quantized with the
        quantizer's current scales.
        """
        assert self.applied is not None
        result = {}
        for name, wrapper in self.applied.wrappers.items():
            if wrapper.weight_quantizer is None:
                continue
            weight = wrapper.effective_weight()
            result[name] = compare(weight, wrapper.quantized_weight()).sqnr_db
        return result

    # -- state for checkpoints --------------------------------------------------------------

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Collect the trained parameters and every quantizer's scale and zero point by name."""
        state = {name: parameter.detach() for name, parameter in self.trained.items()}
        for name, quantizer in self.quantizers.items():
            state[f"{name}.scale"] = quantizer.scale.detach()
            state[f"{name}.zero_point"] = quantizer.zero_point.detach()
        return state

    @torch.no_grad()
    def load_trainable_state(self, tensors: dict[str, torch.Tensor]) -> None:
        """Copy values saved by :meth:`trainable_state` into the model and quantizers."""
        expected = self.trainable_state()
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise QuantvizError(
                f"the checkpoint lacks {len(missing)} tensors this run needs (first: "
                f"{missing[0]}); it was written for another model or plan, so start a new "
                "run without resume"
            )
        for name, target in expected.items():
            source = tensors[name]
            if source.shape != target.shape:
                raise QuantvizError(
                    f"checkpoint tensor {name} has shape {list(source.shape)} but the model "
                    f"needs {list(target.shape)}; start a new run without resume"
                )
            target.copy_(source)


def _group(
    params: list[torch.Tensor], lr: float, weight_decay: float, eps: float = 1e-8
) -> dict[str, Any]:
    return {"params": params, "lr": lr, "base_lr": lr, "weight_decay": weight_decay, "eps": eps}
