"""The QAT entry point: training with evaluation, checkpoints, pause and cancellation."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_model

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write, atomic_write_text, make_folder
from quantviz.plan import PrecisionPlan
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)
from quantviz.qat import checkpoint as checkpoints
from quantviz.qat.config import QATConfig
from quantviz.qat.distributed import DataParallel, launched_processes
from quantviz.qat.losses import LOSS_NAMES
from quantviz.qat.pause import PauseSource, pause_check, wait_while_paused
from quantviz.qat.result import EvalPoint, LayerSQNR, QATResult
from quantviz.qat.trainer import QATTrainer

logger = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
PLAN_FILE = "plan.json"
RESULT_FILE = "qat_result.json"
STAGE = "qat"
PAUSED_STAGE = "paused"


def run_qat(
    loaded: Any,
    plan: PrecisionPlan,
    config: QATConfig | None = None,
    *,
    train_texts: Sequence[str] | None = None,
    eval_texts: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    pause: PauseSource = None,
) -> QATResult:
    """Fine-tune ``loaded`` with ``plan`` applied; return the loss curve and metrics.

    ``train_texts`` default to the bundled calibration split, which also calibrates the
    input scales the plan does not store; ``eval_texts`` default to the bundled
    evaluation split. The held-out metric is measured before the first step (the PTQ
    start), every ``config.eval_every`` steps and after the last step.

    Each step emits ``ProgressEvent(step, steps, item, "qat", metrics)`` with the metrics
    ``loss``, ``lr``, ``step_time_s``, ``eta_s`` and, after an evaluation, ``perplexity``
    or ``mean_cosine``. Setting up (plan application, calibration, evaluation) emits
    events of their own stages.

    ``pause`` is a :class:`~quantviz.qat.pause.PauseToken`, a ``threading.Event`` that is
    set while paused, or a callable returning True while paused. It pauses the run
    between steps, after one event of stage ``"paused"``. Cancelling ends a pause.

    Cancellation: once training has started, setting ``cancel`` makes the run stop
    before its next step and return a result with ``cancelled=True`` and the curves so
    far. The model and plan are then in the same state as after a finished run: the
    wrappers are removed, the model holds the weights of the last finished step and
    ``plan.scales`` holds that step's scales. With ``out_dir`` a checkpoint of that
    step is written, and ``resume=True`` continues from it. Cancelling while the plan is
    applied or the start is evaluated raises :class:`~quantviz.errors.Cancelled` with
    the model and plan unchanged.

    With ``out_dir`` the run writes checkpoints every ``config.checkpoint_every`` steps
    (see :mod:`quantviz.qat.checkpoint`) and, when all steps are done, the fine-tuned
    model as a Hugging Face folder (``config.json``, ``model.safetensors``, tokenizer
    files), ``plan.json`` with the learned scales and ``qat_result.json``; the
    checkpoints are then deleted. A cancelled run writes ``qat_result.json`` only.
    ``resume=True`` continues the run whose latest checkpoint is in ``out_dir`` with the
    same loss curve as an uninterrupted run; the config may differ only in
    ``eval_every``, ``checkpoint_every`` and ``eval_samples``.

    After the run the model holds the fine-tuned weights without wrappers, and ``plan``
    holds the learned scales, so ``apply_plan(loaded, plan)`` rebuilds the QAT model.

    Started by ``accelerate launch`` or ``torchrun`` with more than one process (see
    :mod:`quantviz.qat.distributed`), the run is data parallel: each process trains on
    ``config.batch_size`` of the ``config.batch_size * processes`` sequences of each
    step, the processes stop together when any of them is cancelled, and only the main
    process writes to ``out_dir``. Every process returns the same curves and scales; a
    run that was resumed must use as many processes as the run that wrote the checkpoint.
    """
    config = config or QATConfig()
    scales_before = copy.deepcopy(plan.scales)
    training_started = False
    data_parallel = DataParallel() if launched_processes() > 1 else None
    # Only the main process writes; the others read a checkpoint to resume from.
    write_dir = out_dir if data_parallel is None or data_parallel.is_main_process else None
    try:
        resumed = _resume_state(loaded, plan, config, out_dir) if resume else None
        if write_dir is not None:
            make_folder(write_dir, "QAT output folder")
        trainer = QATTrainer(
            loaded,
            plan,
            config,
            train_texts=train_texts,
            eval_texts=eval_texts,
            progress=progress,
            cancel=cancel,
            data_parallel=data_parallel,
        )
        teacher_originals = checkpoints.load_teacher(out_dir) if resumed else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            trainer.start(teacher_originals)
            try:
                result = _prepare_result(trainer, resumed, write_dir)
                training_started = True
                _train(trainer, result, write_dir, progress, cancel, pause_check(pause))
                _finish(trainer, result)
            finally:
                trainer.close()
    except BaseException:
        # Before the first step nothing was learned, so the plan gets its scales back.
        if not training_started:
            plan.scales = scales_before
        raise
    if write_dir is not None:
        _write_outputs(trainer, result, Path(write_dir))
    if data_parallel is not None:
        # The other processes return once the main process has written the outputs.
        data_parallel.wait()
    return result


def _resume_state(
    loaded: Any, plan: PrecisionPlan, config: QATConfig, out_dir: str | Path | None
) -> checkpoints.Checkpoint:
    """Read and check the checkpoint to resume from; put its scales into ``plan``."""
    if out_dir is None:
        raise QuantvizError("resume=True needs the out_dir of the run to continue")
    saved = checkpoints.load_latest_checkpoint(out_dir)
    saved_processes = int(saved.state.get("processes", 1))
    if saved_processes != launched_processes():
        raise QuantvizError(
            f"the checkpoint in {saved.folder} was trained in {saved_processes} processes and "
            f"this run has {launched_processes()}; resume with {saved_processes} processes, "
            "because the number of processes decides each step's sequences"
        )
    saved_config = QATConfig.from_dict(saved.state["config"])
    differences = config.training_differences(saved_config)
    if differences:
        raise QuantvizError(
            f"the checkpoint in {saved.folder} was trained with other settings "
            f"({', '.join(f'{n}={getattr(saved_config, n)!r}' for n in differences)}); "
            "resume with the same settings, or start a new run in another folder"
        )
    source = saved.state.get("model", {})
    if (source.get("spec"), source.get("sha256")) != (loaded.source.spec, loaded.source.sha256):
        raise QuantvizError(
            f"the checkpoint in {saved.folder} belongs to the model {source.get('spec')!r}, "
            f"not {loaded.source.spec!r}; open that model or start a new run"
        )
    if _plan_settings(saved.plan) != _plan_settings(plan):
        raise QuantvizError(
            f"the plan differs from the one the checkpoint in {saved.folder} was trained "
            "with; pass the same plan file, or start a new run in another folder"
        )
    plan.scales = copy.deepcopy(saved.plan.scales)
    return saved


def _plan_settings(plan: PrecisionPlan) -> dict[str, Any]:
    data = plan.to_dict()
    data.pop("scales")
    data.pop("model")
    data.pop("notes")
    return data


def _prepare_result(
    trainer: QATTrainer, resumed: checkpoints.Checkpoint | None, out_dir: str | Path | None
) -> QATResult:
    loaded, config = trainer.loaded, trainer.config
    result = QATResult(
        task=loaded.task,
        eval_metric=trainer.eval_metric,
        loss_name=LOSS_NAMES[trainer.loss_kind],
        config=config,
        total_steps=config.steps,
        processes=trainer.processes,
    )
    if resumed is not None:
        trainer.load_trainable_state(resumed.tensors)
        assert trainer.optimizer is not None
        trainer.optimizer.load_state_dict(resumed.optimizer)
        if isinstance(resumed.rng.get("torch"), torch.Tensor):
            torch.set_rng_state(resumed.rng["torch"])
        state = resumed.state
        result.steps_done = resumed.step
        result.resumed_from = resumed.step
        result.losses = [float(value) for value in state["losses"]]
        result.learning_rates = [float(value) for value in state["learning_rates"]]
        result.eval_curve = [EvalPoint.from_dict(point) for point in state["eval_curve"]]
        result.metric_float = state.get("metric_float")
        result.metric_before = state.get("metric_before")
        result.train_seconds = float(state.get("train_seconds", 0.0))
        result.weight_sqnr = [LayerSQNR.from_dict(layer) for layer in state["weight_sqnr"]]
        logger.info("resuming QAT from step %d of %d", resumed.step, config.steps)
        return result

    result.weight_sqnr = [LayerSQNR(name, value) for name, value in trainer.weight_sqnr().items()]
    result.metric_float = trainer.evaluate(student=False)
    result.metric_before = trainer.evaluate()
    trainer.cancel.raise_if_cancelled()
    assert result.metric_before is not None
    result.eval_curve.append(EvalPoint(0, result.metric_before))
    if out_dir is not None:
        # An earlier run's checkpoints in this folder are deleted only once this run is
        # about to take its first step, so cancelling the set-up leaves them usable.
        checkpoints.clear_checkpoints(out_dir)
        assert trainer.teacher is not None
        checkpoints.save_teacher(out_dir, trainer.teacher.originals)
    return result


def _train(
    trainer: QATTrainer,
    result: QATResult,
    out_dir: str | Path | None,
    progress: ProgressCallback,
    cancel: CancelToken,
    is_paused: Any,
) -> None:
    config = trainer.config
    step_seconds: list[float] = []
    last_checkpoint = result.resumed_from
    for step in range(result.steps_done + 1, config.steps + 1):
        if is_paused() and not cancel.cancelled:
            progress(ProgressEvent(step - 1, config.steps, "paused", PAUSED_STAGE))
            logger.info("QAT paused before step %d", step)
            wait_while_paused(is_paused, cancel)
        if trainer.stop_requested(cancel.cancelled):
            result.cancelled = True
            break

        started = time.perf_counter()
        loss, lr = trainer.train_step(step)
        elapsed = time.perf_counter() - started
        step_seconds.append(elapsed)
        result.train_seconds += elapsed
        result.losses.append(loss)
        result.learning_rates.append(lr)
        result.steps_done = step

        metrics = {
            "loss": loss,
            "lr": lr,
            "step_time_s": elapsed,
            "eta_s": sum(step_seconds) / len(step_seconds) * (config.steps - step),
        }
        item = f"loss {loss:.4g}"
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            value = trainer.evaluate()
            if value is not None:
                result.eval_curve.append(EvalPoint(step, value))
                metrics[trainer.eval_metric] = value
                item += f" {_short_metric(trainer.eval_metric)} {value:.4g}"
        progress(ProgressEvent(step, config.steps, item, STAGE, metrics))
        if out_dir is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
            _save_checkpoint(trainer, result, out_dir)
            last_checkpoint = step
    if cancel.cancelled and result.steps_done < config.steps:
        result.cancelled = True
    if result.cancelled and out_dir is not None and last_checkpoint != result.steps_done:
        _save_checkpoint(trainer, result, out_dir)


def _short_metric(name: str) -> str:
    return "ppl" if name == "perplexity" else "cos"


def _save_checkpoint(trainer: QATTrainer, result: QATResult, out_dir: str | Path) -> None:
    assert trainer.applied is not None and trainer.optimizer is not None
    trainer.applied.sync_scales()
    data = result.to_dict()
    state = {
        key: data[key]
        for key in (
            "config",
            "losses",
            "learning_rates",
            "eval_curve",
            "metric_float",
            "metric_before",
            "weight_sqnr",
            "train_seconds",
        )
    }
    state["model"] = trainer.loaded.source.to_dict()
    state["processes"] = trainer.processes
    checkpoints.save_checkpoint(
        out_dir,
        result.steps_done,
        trainer.trainable_state(),
        trainer.optimizer.state_dict(),
        state,
        trainer.plan,
    )


def _finish(trainer: QATTrainer, result: QATResult) -> None:
    """Measure the fine-tuned model: final evaluation (unless cancelled) and weight SQNR."""
    trainer.check_replicas()
    if not result.cancelled:
        result.metric_after = trainer.evaluate()
        if result.metric_after is None:
            result.cancelled = True
        else:
            result.eval_curve.append(EvalPoint(result.steps_done, result.metric_after))
    after = trainer.weight_sqnr()
    for layer in result.weight_sqnr:
        layer.after_db = after.get(layer.name)


def _write_outputs(trainer: QATTrainer, result: QATResult, out_dir: Path) -> None:
    """Write the fine-tuned model folder, plan and result (the result only when cancelled)."""
    if not result.cancelled:
        loaded = trainer.loaded
        atomic_write_text(
            out_dir / "config.json", loaded.module.config.to_json_string(use_diff=True)
        )
        model_path = out_dir / MODEL_FILE
        # save_model stores a tied weight once, as save_pretrained does.
        atomic_write(
            model_path,
            lambda temp: save_model(loaded.module, str(temp), metadata={"format": "pt"}),
        )
        if loaded.tokenizer is not None:
            _save_tokenizer(loaded.tokenizer, out_dir)
        result.files["model"] = str(model_path)
        result.files["plan"] = str(trainer.plan.save(out_dir / PLAN_FILE))
    result.files["result"] = str(out_dir / RESULT_FILE)
    result.save(out_dir / RESULT_FILE)
    if not result.cancelled:
        checkpoints.clear_checkpoints(out_dir)


def _save_tokenizer(tokenizer: Any, out_dir: Path) -> None:
    """Save the tokenizer files into ``out_dir``, replacing each file atomically."""
    temporary = Path(tempfile.mkdtemp(prefix=".tokenizer.", dir=out_dir))
    try:
        tokenizer.save_pretrained(temporary)
        for file in temporary.iterdir():
            os.replace(file, out_dir / file.name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
