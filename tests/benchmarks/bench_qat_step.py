"""Time of one QAT training step relative to one float32 training step of the same model.

Both steps run in one process on the same model object, interleaved, so load from other
processes affects both alike: the float step runs with the plan's wrappers bypassed
(``quantviz.qat.teacher.wrappers_bypassed``), the QAT step through the applied plan.
Both train the same parameters (the weights and biases of the quantized layers) with
AdamW on batches of the same shape with the same loss. For causal LMs that loss is
next-token cross-entropy, or with ``--distill`` KL distillation. Encoders always use
cosine distillation. With distillation both steps include the float teacher's forward
pass. The QAT step also carries the fake quantization and the LSQ scale updates.

Usage::

    python tests/benchmarks/bench_qat_step.py [--model sample:smollm2] [--batch-size 4]
        [--seq-len 128] [--repeats 5] [--threads N] [--distill] [--json FILE]

Prints the median step times and the median of the per-repetition ratios QAT / float.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime

import torch

from quantviz.model import load_model
from quantviz.plan import TensorConfig, uniform_plan
from quantviz.qat import QATConfig, QATTrainer
from quantviz.qat.losses import (
    cosine_distillation,
    forward_features,
    kl_distillation,
    next_token_loss,
)
from quantviz.qat.teacher import wrappers_bypassed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sample:smollm2", help="model spec to load")
    parser.add_argument("--batch-size", type=int, default=4, help="sequences per step")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps of each kind")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--distill",
        action="store_true",
        help="QAT step with the default distillation loss (adds a teacher forward pass)",
    )
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    # W8A8: INT8 weights per output channel, INT8 inputs per tensor.
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))
    distillation = "auto" if args.distill or loaded.task != "causal_lm" else "none"
    config = QATConfig(
        steps=args.repeats + 1,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        learning_rate=1e-5,
        distillation=distillation,
        calibration_samples=args.batch_size,
        eval_samples=1,
        schedule="constant",
    )
    trainer = QATTrainer(loaded, plan, config)
    trainer.start()
    try:
        figures = measure(trainer, args.repeats)
    finally:
        trainer.close()
    figures.update(
        model=args.model,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        qat_loss=trainer.loss_kind,
        threads=torch.get_num_threads(),
        machine=f"{platform.machine()} {platform.processor() or ''}".strip(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        torch=torch.__version__,
    )
    print(
        f"{args.model}: batch {args.batch_size} x {args.seq_len} tokens, "
        f"{figures['threads']} threads, QAT loss {trainer.loss_kind}"
    )
    print(f"float32 step: median {figures['float_median_s']:.3f} s  {figures['float_s']}")
    print(f"QAT step:     median {figures['qat_median_s']:.3f} s  {figures['qat_s']}")
    print(f"ratio QAT / float: {figures['ratio_median']:.3f} (per repetition {figures['ratios']})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(figures, stream, indent=1)
    return 0


def measure(trainer: QATTrainer, repeats: int) -> dict:
    loaded = trainer.loaded
    assert trainer.applied is not None
    parameters = list(trainer.trained.values())
    config = trainer.config
    float_optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate)
    batch = trainer.batch_for(1)
    features = trainer.features

    def float_step() -> None:
        # The same loss as the QAT step, including the teacher's forward pass if it has one.
        target = trainer.teacher_output(batch, features) if trainer.teacher_needed else None
        with wrappers_bypassed(trainer.applied) as model:
            float_optimizer.zero_grad(set_to_none=True)
            output = forward_features(model, loaded.task, batch, features)
            if trainer.loss_kind == "kl":
                loss = kl_distillation(output, target, None, config.temperature)
            elif trainer.loss_kind == "cosine":
                loss = cosine_distillation(output, target)
            else:
                loss = next_token_loss(output, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
            float_optimizer.step()

    step_number = iter(range(1, 10**9))

    def qat_step() -> None:
        trainer.train_step(next(step_number))

    # One untimed step of each kind allocates optimizer state and warms caches.
    float_step()
    qat_step()
    float_times, qat_times = [], []
    for repeat in range(repeats):
        order = [(float_step, float_times), (qat_step, qat_times)]
        if repeat % 2:
            order.reverse()
        for step, times in order:
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
    ratios = [q / f for q, f in zip(qat_times, float_times, strict=True)]
    return {
        "float_s": [round(t, 4) for t in float_times],
        "qat_s": [round(t, 4) for t in qat_times],
        "ratios": [round(r, 3) for r in ratios],
        "float_median_s": statistics.median(float_times),
        "qat_median_s": statistics.median(qat_times),
        "ratio_median": statistics.median(ratios),
    }


if __name__ == "__main__":
    sys.exit(main())
