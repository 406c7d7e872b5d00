"""CLI command: qat (quantization-aware training of a plan-applied model)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from quantviz.qat.config import DISTILLATION_MODES, QATConfig

_DEFAULTS = QATConfig()


def register(commands: Any) -> None:
    """Add this module's subcommands to the ``quantviz`` parser."""
    qat = commands.add_parser(
        "qat",
        help="fine-tune a model with a precision plan applied (quantization-aware training)",
        description=(
            "Apply a precision plan with learnable (LSQ) scales, fine-tune the quantized "
            "layers' weights and the scales against the float model, and write the "
            "fine-tuned model, the plan with the learned scales and the training curves. "
            "Started by `accelerate launch` or `torchrun` with several processes, the "
            "training is data parallel: each process trains on --batch-size sequences of "
            "every step, and only the first process writes and prints."
        ),
    )
    qat.add_argument(
        "model", help="HF folder, .safetensors, .gguf, hub id, sample:minilm or sample:smollm2"
    )
    qat.add_argument("--plan", required=True, help="precision plan JSON file to apply")
    qat.add_argument(
        "--data",
        default=None,
        help="training text: .txt, .jsonl or dataset folder (default: the bundled calibration "
        "text); it also calibrates input scales that the plan does not store",
    )
    qat.add_argument(
        "--eval-data",
        default=None,
        help="held-out text for evaluation (default: the bundled evaluation text)",
    )
    qat.add_argument(
        "--steps", type=int, default=_DEFAULTS.steps, help="training steps (default %(default)s)"
    )
    qat.add_argument(
        "--out",
        required=True,
        help="output folder: plan.json, model.safetensors (with config and tokenizer), "
        "qat_result.json, and checkpoints/ while the run is unfinished",
    )
    qat.add_argument(
        "--lr",
        type=float,
        default=_DEFAULTS.learning_rate,
        help="AdamW learning rate of the weights; 0 trains only the scales (default %(default)g)",
    )
    qat.add_argument(
        "--scale-lr",
        type=float,
        default=_DEFAULTS.scale_learning_rate,
        help="learning rate of the scales, relative to each scale tensor's mean magnitude "
        "(default %(default)g)",
    )
    qat.add_argument(
        "--batch-size",
        type=int,
        default=_DEFAULTS.batch_size,
        help="sequences per step and process (default %(default)s)",
    )
    qat.add_argument(
        "--seq-len",
        type=int,
        default=_DEFAULTS.seq_len,
        help="tokens per sequence (default %(default)s)",
    )
    qat.add_argument(
        "--no-learnable-scales",
        action="store_true",
        help="keep the calibrated scales fixed and train the weights only (STE)",
    )
    qat.add_argument(
        "--distill",
        choices=DISTILLATION_MODES,
        default=_DEFAULTS.distillation,
        help="loss: KL on logits, cosine on mean-pooled embeddings, or none (next-token "
        "cross-entropy, causal LMs only); auto is kl for causal LMs and cosine for encoders",
    )
    qat.add_argument(
        "--eval-every",
        type=int,
        default=_DEFAULTS.eval_every,
        help="evaluate every N steps, 0 only at the start and end (default %(default)s)",
    )
    qat.add_argument(
        "--eval-samples",
        type=int,
        default=_DEFAULTS.eval_samples,
        help="held-out sequences per evaluation (default %(default)s)",
    )
    qat.add_argument(
        "--checkpoint-every",
        type=int,
        default=_DEFAULTS.checkpoint_every,
        help="write a checkpoint every N steps, 0 for none (default %(default)s)",
    )
    qat.add_argument(
        "--seed", type=int, default=_DEFAULTS.seed, help="batch order seed (default %(default)s)"
    )
    qat.add_argument(
        "--resume",
        action="store_true",
        help="continue the run whose checkpoint is in --out, with the same settings",
    )
    qat.add_argument(
        "--include-lm-head",
        action="store_true",
        help="make the LM head a layer the plan can quantize (tied weights train once)",
    )
    qat.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the model to run (off by default)",
    )
    qat.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    qat.set_defaults(handler=cmd_qat)


def cmd_qat(args: argparse.Namespace) -> int:
    from quantviz.qat.distributed import is_main_process, shutdown

    try:
        return _run(args, is_main_process())
    finally:
        shutdown()


def _run(args: argparse.Namespace, main_process: bool) -> int:
    """Run the qat command; only the main process of a launched run prints."""
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.model.data import load_texts
    from quantviz.model.loading import load_model
    from quantviz.plan import PrecisionPlan
    from quantviz.qat.run import run_qat

    config = QATConfig(
        steps=args.steps,
        learning_rate=args.lr,
        scale_learning_rate=args.scale_lr,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        learnable_scales=not args.no_learnable_scales,
        distillation=args.distill,
        eval_every=args.eval_every,
        eval_samples=args.eval_samples,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    )
    plan = PrecisionPlan.load(args.plan)
    train_texts = load_texts(args.data, split="calibration") if args.data else None
    eval_texts = load_texts(args.eval_data, split="evaluation") if args.eval_data else None
    out_dir = Path(args.out)

    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet and main_process)
    try:
        loaded = load_model(
            args.model,
            trust_remote_code=args.trust_remote_code,
            include_lm_head=args.include_lm_head,
            progress=progress,
            cancel=cancel,
        )
        problems = plan.unknown_layers(info.name for info in loaded.layers)
        if problems and main_process:
            print(f"warning: the plan names {'; '.join(problems)}", file=sys.stderr)
        result = run_qat(
            loaded,
            plan,
            config,
            train_texts=train_texts,
            eval_texts=eval_texts,
            out_dir=out_dir,
            resume=args.resume,
            progress=progress,
            cancel=cancel,
        )
    finally:
        progress.close()

    if not main_process:
        return 130 if result.cancelled else 0
    print_summary(result)
    if result.cancelled:
        print(
            f"cancelled after step {result.steps_done} of {result.total_steps}; run the same "
            "command with --resume to continue from the checkpoint in "
            f"{out_dir / 'checkpoints'}",
            file=sys.stderr,
        )
    for key in ("plan", "model", "result"):
        if key in result.files:
            print(f"wrote {result.files[key]}")
    return 130 if result.cancelled else 0


def print_summary(result: Any, out: Any = None) -> None:
    """Print the loss, the held-out metric and the weight SQNR before and after QAT."""
    out = out or sys.stdout
    if result.processes > 1:
        batch_size = result.config.batch_size
        print(
            f"data parallel: {result.processes} processes, {batch_size} sequences each, "
            f"{batch_size * result.processes} per step",
            file=out,
        )
    if result.losses:
        print(
            f"QAT: {result.steps_done} of {result.total_steps} steps, {result.loss_name} loss "
            f"{result.losses[0]:.4g} at step 1, {result.losses[-1]:.4g} at step "
            f"{result.steps_done}",
            file=out,
        )
    name = "perplexity" if result.eval_metric == "perplexity" else "mean cosine vs float"
    print(
        f"held-out {name}: float {_number(result.metric_float)}, "
        f"PTQ start {_number(result.metric_before)}, after QAT {_number(result.metric_after)}",
        file=out,
    )
    before = [layer.before_db for layer in result.weight_sqnr if math.isfinite(layer.before_db)]
    after = [
        layer.after_db
        for layer in result.weight_sqnr
        if layer.after_db is not None and math.isfinite(layer.after_db)
    ]
    if before and after:
        worst = min(
            (layer for layer in result.weight_sqnr if layer.after_db is not None),
            key=lambda layer: layer.after_db,
        )
        print(
            f"weight SQNR over {len(result.weight_sqnr)} layers (dB): mean "
            f"{sum(before) / len(before):.1f} before, {sum(after) / len(after):.1f} after; "
            f"lowest after: {worst.name} {worst.after_db:.1f}",
            file=out,
        )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.5g}"
