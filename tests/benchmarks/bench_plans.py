"""Held-out accuracy of uniform and automatic plans on the sample models.

    python tests/benchmarks/bench_plans.py [--model smollm2|minilm|both] [--json FILE]
        [--windows N] [--sentences N] [--max-evaluations N]

SmolLM2-135M: perplexity on the bundled evaluation split (windows of 128 tokens) for
float32 and a set of plans over every linear layer of the decoder blocks. Embeddings and
the tied LM head stay float. Every plan uses static input scales calibrated on 16
windows of the calibration split. The automatic plan (``auto_plan``) is then asked for
at most +0.5% perplexity, using the sensitivity from an analysis, starting from INT8
weights per group of 64 input channels and INT8 inputs calibrated by the MSE observer.
MiniLM-L6: mean and minimum mean-pooled embedding cosine against float over held-out
sentences for all-8-bit plans, and the automatic plan at a 100% 8-bit share.

Every plan is evaluated by one ``PlanEvaluator`` per model, so all rows share the
float reference, the calibration batches and the evaluation batches.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.autoplan import auto_plan
from quantviz.evaluate import PlanEvaluator
from quantviz.model.loading import load_model
from quantviz.plan import (
    LayerConfig,
    LayerOverride,
    PrecisionPlan,
    Rule,
    TensorConfig,
    uniform_plan,
)

INT8_CH = TensorConfig("int8_sym", "channel")
INT8_T = TensorConfig("int8_sym", "tensor")
INT8_G64 = TensorConfig("int8_sym", "group", group_size=64)
INT8_T_MSE = TensorConfig("int8_sym", "tensor", observer="mse")
FP8_T = TensorConfig("fp8_e4m3", "tensor")
FLOAT = TensorConfig("float")


def _plan(weight: TensorConfig, inputs: TensorConfig, alpha: float | None = None) -> Any:
    if alpha is None:
        return uniform_plan(weight, inputs)
    return PrecisionPlan(defaults=LayerConfig(weight, inputs, alpha))


def _with_rule(plan: PrecisionPlan, pattern: str, **fields: dict[str, Any]) -> PrecisionPlan:
    plan.rules.append(Rule(pattern, LayerOverride(**fields)))
    return plan


def _fp8_outside_norms(weight: TensorConfig, inputs: TensorConfig, alpha: float | None) -> Any:
    """INT8 inputs for the norm-fed layers (q, k, v, gate, up), optionally smoothed;
    FP8 E4M3 inputs, unsmoothed, for o_proj and down_proj, whose inputs no norm feeds."""
    fp8 = {"input": FP8_T.to_dict(), "smoothquant_off": True}
    plan = _plan(weight, inputs, alpha)
    for pattern in ("*.self_attn.o_proj", "*.mlp.down_proj"):
        _with_rule(plan, pattern, **fp8)
    return plan


def smollm2_plans() -> dict[str, PrecisionPlan]:
    down_fp8 = {"input": {"format": "fp8_e4m3", "granularity": "tensor"}}
    return {
        "W INT8 per channel, inputs float": _plan(INT8_CH, FLOAT),
        "W INT8 per group of 64, inputs float": _plan(INT8_G64, FLOAT),
        "W8A8 INT8 (W per channel, A per tensor)": _plan(INT8_CH, INT8_T),
        "W8A8 INT8 + SmoothQuant 0.5": _plan(INT8_CH, INT8_T, 0.5),
        "W8A8 INT8 + SmoothQuant 0.5, down_proj inputs FP8": _with_rule(
            _plan(INT8_CH, INT8_T, 0.5), "*.mlp.down_proj", **down_fp8
        ),
        "FP8 E4M3 W and A per tensor": _plan(FP8_T, FP8_T),
        "W INT8 per channel, A FP8 E4M3 per tensor": _plan(INT8_CH, FP8_T),
        "W INT8 g64, A INT8 MSE in, FP8 o/down": _fp8_outside_norms(INT8_G64, INT8_T_MSE, None),
        "W INT8 g64, A INT8 min-max + SQ 0.8, FP8 o/down": _fp8_outside_norms(
            INT8_G64, INT8_T, 0.8
        ),
        "W INT8 g64, A INT8 MSE + SQ 0.5, FP8 o/down": _fp8_outside_norms(
            INT8_G64, INT8_T_MSE, 0.5
        ),
        "W INT8 g64, A INT8 MSE + SQ 0.8, FP8 o/down": _fp8_outside_norms(
            INT8_G64, INT8_T_MSE, 0.8
        ),
        "W INT8 per channel, A INT8 MSE + SQ 0.8, FP8 o/down": _fp8_outside_norms(
            INT8_CH, INT8_T_MSE, 0.8
        ),
    }


def minilm_plans() -> dict[str, PrecisionPlan]:
    return {
        "W8A8 INT8 (W per channel, A per tensor)": _plan(INT8_CH, INT8_T),
        "W8A8 INT8 + SmoothQuant 0.5": _plan(INT8_CH, INT8_T, 0.5),
        "FP8 E4M3 W and A per tensor": _plan(FP8_T, FP8_T),
        "W INT8 per channel, A FP8 E4M3 per tensor": _plan(INT8_CH, FP8_T),
    }


def _row(label: str, result: Any, seconds: float) -> dict[str, Any]:
    row = {
        "plan": label,
        "share_8bit": result.size.share_8bit,
        "size_mb": result.size.plan_bytes / 1e6,
        "float_mb": result.size.float_bytes / 1e6,
        "seconds": seconds,
    }
    if result.perplexity_quant is not None:
        row.update(
            perplexity_float=result.perplexity_float,
            perplexity=result.perplexity_quant,
            perplexity_change=result.perplexity_change,
            kl=result.kl,
        )
    else:
        row.update(mean_cosine=result.mean_cosine, min_cosine=result.min_cosine)
    return row


def _print_row(row: dict[str, Any]) -> None:
    if "perplexity" in row:
        quality = (
            f"ppl {row['perplexity']:.3f} ({100 * row['perplexity_change']:+.2f}%), "
            f"KL {row['kl']:.4f}"
        )
    else:
        quality = f"cosine mean {row['mean_cosine']:.5f} min {row['min_cosine']:.5f}"
    print(
        f"{row['plan']:<55} {quality}  8-bit {100 * row['share_8bit']:.0f}%  "
        f"{row['size_mb']:.1f} MB  ({row['seconds']:.0f} s)",
        flush=True,
    )


def run_model(spec: str, plans: dict[str, PrecisionPlan], args: argparse.Namespace) -> dict:
    loaded = load_model(spec)
    causal = loaded.task == "causal_lm"
    samples = args.windows if causal else args.sentences
    evaluator = PlanEvaluator(loaded, samples=samples, seq_len=128, batch_size=8)
    print(f"\n{spec}: {evaluator.sequences} held-out sequences, {evaluator.tokens} tokens")
    rows = []
    for label, plan in plans.items():
        started = time.perf_counter()
        result = evaluator.evaluate(plan)
        rows.append(_row(label, result, time.perf_counter() - started))
        _print_row(rows[-1])

    started = time.perf_counter()
    settings = AnalysisSettings(sensitivity_samples=args.sensitivity_samples)
    analysis = analyze_model(loaded, settings)
    analysis_s = time.perf_counter() - started
    print(f"analysis with sensitivity: {analysis_s:.0f} s", flush=True)

    started = time.perf_counter()
    if causal:
        search = auto_plan(
            loaded,
            analysis,
            max_loss=args.max_ppl_change,
            metric="perplexity_change",
            base_weight=INT8_G64,
            base_input=INT8_T_MSE,
            samples=samples,
            max_evaluations=args.max_evaluations,
        )
    else:
        search = auto_plan(
            loaded,
            analysis,
            target_8bit_share=1.0,
            samples=samples,
            max_evaluations=args.max_evaluations,
        )
    auto_s = time.perf_counter() - started
    frontier = []
    for point in search.frontier:
        frontier.append(
            {
                "label": point.label,
                "share_8bit": point.share_8bit,
                "size_mb": point.size_bytes / 1e6,
                "loss": point.loss,
                "perplexity_change": point.perplexity_change,
                "mean_cosine": point.mean_cosine,
                "fp8_layers": point.fp8_layers,
                "float_layers": point.float_layers,
                "meets_target": point.meets_target,
            }
        )
        print(f"  candidate {point.label}: {frontier[-1]}", flush=True)
    # Re-evaluate the chosen plan with the same evaluator for the table.
    result = evaluator.evaluate(search.plan)
    label = f"automatic plan ({search.frontier[search.chosen].label})"
    rows.append(_row(label, result, auto_s))
    rows[-1]["met"] = search.met
    rows[-1]["plan_json"] = search.plan.to_dict()
    _print_row(rows[-1])
    return {
        "model": spec,
        "sequences": evaluator.sequences,
        "tokens": evaluator.tokens,
        "rows": rows,
        "analysis_s": analysis_s,
        "auto_plan_s": auto_s,
        "frontier": frontier,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("smollm2", "minilm", "both"), default="both")
    parser.add_argument("--windows", type=int, default=27, help="SmolLM2 held-out windows")
    parser.add_argument("--sentences", type=int, default=256, help="MiniLM held-out texts")
    parser.add_argument("--sensitivity-samples", type=int, default=2)
    parser.add_argument("--max-ppl-change", type=float, default=0.005)
    parser.add_argument("--max-evaluations", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--json", default=None, help="write the results to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    results = []
    if args.model in ("minilm", "both"):
        results.append(run_model("sample:minilm", minilm_plans(), args))
    if args.model in ("smollm2", "both"):
        results.append(run_model("sample:smollm2", smollm2_plans(), args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
