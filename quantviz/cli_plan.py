"""CLI commands for precision plans: evaluate, plan auto, plan recommend, plan show,
plan uniform, plan ort-config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantviz.errors import QuantvizError

if TYPE_CHECKING:
    from quantviz.plan import LayerConfig, PrecisionPlan

# The parser is built on every launch, the desktop app's included, and the plan module
# imports torch. So the format and observer names are written out here, and a test keeps
# them equal to quantviz.plan.PLAN_FORMATS and quantviz.quant.observers.OBSERVERS.
PLAN_FORMAT_NAMES = ("float", "fp8_e4m3", "fp8_e5m2", "int8_sym", "int8_asym")
OBSERVER_NAMES = ("minmax", "moving_average", "percentile", "mse", "entropy")


def register(commands: Any) -> None:
    """Add this module's subcommands to the ``quantviz`` parser."""
    _add_evaluate(commands)
    plan = commands.add_parser("plan", help="create, inspect and search precision plans")
    actions = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    _add_auto(actions)
    _add_recommend(actions)
    _add_show(actions)
    _add_uniform(actions)
    _add_ort_config(actions)


# ---------------------------------------------------------------------------------------
# Shared helpers


def _add_eval_options(parser: argparse.ArgumentParser, samples: int = 32) -> None:
    parser.add_argument(
        "--samples",
        type=int,
        default=samples,
        help=f"held-out sequences (causal LM windows or encoder texts; default {samples})",
    )
    parser.add_argument(
        "--seq-len", type=int, default=128, help="tokens per sequence (default 128)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="sequences per forward pass (default 8)"
    )
    parser.add_argument(
        "--eval-text",
        default=None,
        help="held-out text (.txt, .jsonl or dataset folder; default: the bundled evaluation "
        "text). Encoders use one sequence per paragraph of a given file",
    )
    parser.add_argument(
        "--calib",
        default=None,
        help="calibration text for input scales (default: the bundled calibration text)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _eval_inputs(args: argparse.Namespace, loaded: Any) -> dict[str, Any]:
    from quantviz.evaluate import CALIBRATION_SAMPLES, CALIBRATION_SEQ_LEN
    from quantviz.model.data import load_texts, make_batches

    eval_texts = None
    if args.eval_text is not None:
        eval_texts = load_texts(args.eval_text, split="evaluation")
    calib_batches = None
    if args.calib is not None:
        calib_batches = make_batches(
            loaded.tokenizer,
            load_texts(args.calib, split="calibration"),
            seq_len=CALIBRATION_SEQ_LEN,
            num_samples=CALIBRATION_SAMPLES,
            batch_size=8,
        )
    return {
        "eval_texts": eval_texts,
        "calib_batches": calib_batches,
        "samples": args.samples,
        "seq_len": args.seq_len,
        "batch_size": args.batch_size,
    }


def _load(spec: str, progress: Any, cancel: Any) -> Any:
    from quantviz.model.loading import load_model

    return load_model(spec, progress=progress, cancel=cancel)


def _check_plan_layers(plan: PrecisionPlan, loaded: Any) -> None:
    unknown = plan.unknown_layers(info.name for info in loaded.layers)
    if unknown:
        print(
            f"warning: the plan names {len(unknown)} things the model does not have: "
            + "; ".join(unknown[:5])
            + (" ..." if len(unknown) > 5 else ""),
            file=sys.stderr,
        )


def _write_json(path: str, data: Any) -> Path:
    from quantviz.io import atomic_write_json

    return atomic_write_json(path, data)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def print_evaluation(result: Any, out: Any = None) -> None:
    """Print float-against-plan metrics and sizes, one quantity per line."""
    out = out or sys.stdout
    size = result.size
    print(
        f"model        {result.model.get('spec', '?')} ({result.task}), {result.sequences} "
        f"held-out sequences, {result.tokens} tokens (seq_len {result.seq_len})",
        file=out,
    )
    if result.task == "causal_lm":
        print(
            f"perplexity   float {result.perplexity_float:.4f}   plan "
            f"{result.perplexity_quant:.4f}   change {100 * result.perplexity_change:+.3f}%",
            file=out,
        )
        print(f"logits KL    {result.kl:.5f} nats per token", file=out)
    else:
        print(
            f"cosine       mean {result.mean_cosine:.5f}   min {result.min_cosine:.5f} "
            "(pooled embeddings, plan against float)",
            file=out,
        )
    print(
        f"size         plan {_megabytes(size.plan_bytes)}   float32 "
        f"{_megabytes(size.float_bytes)}   ({100 * size.ratio:.1f}%)",
        file=out,
    )
    print(
        f"8-bit        {size.layers_8bit}/{size.layers_total} layers W8A8 "
        f"({100 * size.share_8bit:.1f}%), {size.layers_weight_8bit} with 8-bit weights, "
        f"{100 * size.share_params_8bit:.1f}% of layer weights",
        file=out,
    )


# ---------------------------------------------------------------------------------------
# quantviz evaluate


def _add_evaluate(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate", help="compare a plan with the float model on held-out text"
    )
    parser.add_argument("model", help="model: folder, .gguf, hub id, sample:minilm, ...")
    parser.add_argument("--plan", required=True, help="plan JSON file")
    _add_eval_options(parser)
    parser.add_argument("--json", default=None, help="also write the result as JSON here")
    parser.add_argument(
        "--save-plan",
        default=None,
        help="write the plan with the scales (and SmoothQuant factors) used here",
    )
    parser.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.evaluate import evaluate_plan
    from quantviz.plan import PrecisionPlan

    plan = PrecisionPlan.load(args.plan)
    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet)
    try:
        loaded = _load(args.model, progress, cancel)
        _check_plan_layers(plan, loaded)
        result = evaluate_plan(
            loaded, plan, progress=progress, cancel=cancel, **_eval_inputs(args, loaded)
        )
    finally:
        progress.close()
    print_evaluation(result)
    if args.json:
        print(f"wrote {_write_json(args.json, result.to_dict())}")
    if args.save_plan:
        plan.model = loaded.source.to_dict()
        print(f"wrote {plan.save(args.save_plan)}")
    return 0


# ---------------------------------------------------------------------------------------
# quantviz plan auto


def _add_auto(actions: Any) -> None:
    parser = actions.add_parser(
        "auto",
        help="search a mixed-precision plan that meets a loss limit or an 8-bit share",
    )
    parser.add_argument("model", help="model: folder, .gguf, hub id, sample:minilm, ...")
    goal = parser.add_mutually_exclusive_group(required=True)
    goal.add_argument(
        "--max-loss",
        type=float,
        help="largest allowed --metric value on held-out text (e.g. 0.005 for +0.5%% "
        "perplexity with --metric perplexity_change)",
    )
    goal.add_argument(
        "--target-8bit-share",
        type=float,
        help="fraction of layers (0 to 1) that keep 8-bit weights and inputs",
    )
    parser.add_argument(
        "--metric",
        choices=("loss", "perplexity_change"),
        default="loss",
        help="what --max-loss bounds: loss (logits KL in nats for causal LMs, 1 - mean "
        "cosine for encoders) or perplexity_change (relative, causal LMs); default loss",
    )
    parser.add_argument("--out", required=True, help="plan JSON file to write")
    parser.add_argument(
        "--analysis",
        default=None,
        help="analysis.json with sensitivity (default: analyse the model now)",
    )
    parser.add_argument(
        "--frontier-json",
        default=None,
        help="write every candidate (size, 8-bit share, loss, plan) as JSON here",
    )
    parser.add_argument("--no-fp8", action="store_true", help="use INT8 formats only")
    parser.add_argument("--no-smoothquant", action="store_true", help="do not try SmoothQuant")
    parser.add_argument(
        "--alpha",
        type=float,
        nargs="+",
        default=[0.5, 0.8],
        help="SmoothQuant alphas to try (default 0.5 0.8)",
    )
    parser.add_argument(
        "--input-observer",
        choices=OBSERVER_NAMES,
        default="minmax",
        help="observer that calibrates the INT8 input scales (default minmax; mse "
        "often clips the outliers that smoothing leaves)",
    )
    parser.add_argument(
        "--weight-group-size",
        type=int,
        default=None,
        help="quantize INT8 weights per group of this many input channels instead of "
        "per output channel (must divide every layer's input size, e.g. 64)",
    )
    parser.add_argument(
        "--max-evaluations",
        type=int,
        default=12,
        help="most candidate plans to evaluate (default 12)",
    )
    _add_eval_options(parser)
    parser.set_defaults(handler=cmd_plan_auto)


def cmd_plan_auto(args: argparse.Namespace) -> int:
    from quantviz.analysis.pipeline import AnalysisSettings, ModelAnalysis, analyze_model
    from quantviz.autoplan import auto_plan
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.plan import TensorConfig

    bad_alphas = [alpha for alpha in args.alpha if not 0.0 <= alpha <= 1.0]
    if bad_alphas:
        raise QuantvizError(f"--alpha must be between 0 and 1; got {bad_alphas[0]:g}")
    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet)
    try:
        loaded = _load(args.model, progress, cancel)
        if args.analysis:
            analysis = ModelAnalysis.load(args.analysis)
        else:
            analysis = analyze_model(
                loaded, AnalysisSettings(sensitivity_samples=2), progress=progress, cancel=cancel
            )
        result = auto_plan(
            loaded,
            analysis,
            max_loss=args.max_loss,
            target_8bit_share=args.target_8bit_share,
            metric=args.metric,
            allow_fp8=not args.no_fp8,
            allow_smoothquant=not args.no_smoothquant,
            smoothquant_alpha=args.alpha,
            base_weight=_auto_base_weight(args.weight_group_size),
            base_input=TensorConfig("int8_sym", observer=args.input_observer),
            max_evaluations=args.max_evaluations,
            progress=progress,
            cancel=cancel,
            **_eval_inputs(args, loaded),
        )
    finally:
        progress.close()
    print_frontier(result)
    if result.evaluation is not None:
        print_evaluation(result.evaluation)
    if not result.met:
        print("warning: no candidate met the goal; the plan is the best one found", file=sys.stderr)
    print(f"wrote {result.plan.save(args.out)}")
    if args.frontier_json:
        print(f"wrote {_write_json(args.frontier_json, result.to_dict())}")
    return 0


def _auto_base_weight(group_size: int | None) -> Any:
    from quantviz.plan import TensorConfig

    if group_size is None:
        return TensorConfig("int8_sym", "channel")
    return TensorConfig("int8_sym", "group", group_size=group_size)


def print_frontier(result: Any, out: Any = None) -> None:
    """Print every evaluated candidate; the chosen one is marked with ``*``."""
    out = out or sys.stdout
    causal = any(point.perplexity_change is not None for point in result.frontier)
    quality = "ppl change" if causal else "mean cos"
    print(f"  {'candidate':<44} {'size':>9} {'8-bit':>6} {'loss':>9} {quality:>10}", file=out)
    for index, point in enumerate(result.frontier):
        mark = "*" if index == result.chosen else " "
        if causal:
            detail = f"{100 * (point.perplexity_change or 0.0):+.3f}%"
        else:
            detail = f"{point.mean_cosine:.5f}"
        print(
            f"{mark} {point.label[:44]:<44} {_megabytes(point.size_bytes):>9} "
            f"{100 * point.share_8bit:>5.1f}% {point.loss:>9.3g} {detail:>10}",
            file=out,
        )


# ---------------------------------------------------------------------------------------
# quantviz plan recommend


def _add_recommend(actions: Any) -> None:
    parser = actions.add_parser(
        "recommend", help="write a plan that gives every layer the analysis' recommended format"
    )
    parser.add_argument("model", help="model: folder, .gguf, hub id, sample:minilm, ...")
    parser.add_argument("--out", required=True, help="plan JSON file to write")
    parser.add_argument(
        "--analysis",
        default=None,
        help="analysis.json of this model (default: analyse the model now)",
    )
    parser.add_argument(
        "--sensitivity-samples",
        type=int,
        default=2,
        help="sequences for per-layer sensitivity when analysing now (default 2). Layers "
        "over the keep-float threshold stay float, and 0 skips the measurement",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=cmd_plan_recommend)


def cmd_plan_recommend(args: argparse.Namespace) -> int:
    from collections import Counter

    from quantviz.analysis.pipeline import AnalysisSettings, ModelAnalysis, analyze_model
    from quantviz.analysis.recommend import apply_recommendations, recommended_layer_settings
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.plan import PrecisionPlan

    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet)
    try:
        loaded = _load(args.model, progress, cancel)
        if args.analysis:
            analysis = ModelAnalysis.load(args.analysis)
        else:
            settings = AnalysisSettings(sensitivity_samples=args.sensitivity_samples)
            analysis = analyze_model(loaded, settings, progress=progress, cancel=cancel)
    finally:
        progress.close()
    analysed = analysis.source.get("sha256")
    if analysed and loaded.source.sha256 and analysed != loaded.source.sha256:
        print(
            f"warning: {args.analysis} was made for other weights (sha256 {analysed[:12]}…, "
            f"the model's is {loaded.source.sha256[:12]}…)",
            file=sys.stderr,
        )
    plan = PrecisionPlan(model=loaded.source.to_dict())
    choices = Counter(item.choice for item in recommended_layer_settings(analysis).values())
    names = apply_recommendations(plan, analysis)
    _check_plan_layers(plan, loaded)
    counts = ", ".join(f"{count} {choice}" for choice, count in sorted(choices.items()))
    print(f"{len(names)} layers set from the recommendations: {counts or 'none'}")
    print(f"wrote {plan.save(args.out)}")
    return 0


# ---------------------------------------------------------------------------------------
# quantviz plan show


def _add_show(actions: Any) -> None:
    parser = actions.add_parser(
        "show",
        help="print a plan, resolved per layer with --model (exit code 1 when the plan "
        "names layers the model does not have)",
    )
    parser.add_argument("plan", help="plan JSON file")
    parser.add_argument("--model", default=None, help="model whose layers to resolve the plan for")
    parser.set_defaults(handler=cmd_plan_show)


def cmd_plan_show(args: argparse.Namespace) -> int:
    from quantviz.plan import PrecisionPlan

    plan = PrecisionPlan.load(args.plan)
    print(f"defaults     {plan.defaults.label}")
    for rule in plan.rules:
        resolved = rule.override.apply_to(plan.defaults, "rule")
        print(f"rule         {rule.pattern}: {_override_text(rule.override, resolved)}")
    print(f"overrides    {len(plan.overrides)} layers; scales stored for {len(plan.scales)}")
    if plan.smoothing:
        print(f"smoothing    SmoothQuant factors for {len(plan.smoothing)} layers")
    if plan.notes:
        print(f"notes        {plan.notes}")
    if args.model is None:
        for name, override in plan.overrides.items():
            print(f"  {name}: {_override_text(override, plan.resolve(name))}")
        return 0

    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.evaluate import plan_size

    progress = ProgressBar(False)
    loaded = _load(args.model, progress, _cancel_on_interrupt())
    names = [info.name for info in loaded.layers]
    width = max(len(name) for name in names) if names else 10
    print(f"{'layer':<{width}}  {'weight':<16} {'input':<16} {'SQ':>4}  scales")
    for name in names:
        config = plan.resolve(name)
        alpha = "-" if config.smoothquant_alpha is None else f"{config.smoothquant_alpha:g}"
        stored = ",".join(sorted(plan.scales.get(name, {}))) or "-"
        print(
            f"{name:<{width}}  {config.weight.label:<16} {config.input.label:<16} "
            f"{alpha:>4}  {stored}"
        )
    size = plan_size(loaded, plan)
    print(
        f"{size.layers_8bit}/{size.layers_total} layers W8A8; weights "
        f"{_megabytes(size.plan_bytes)} vs {_megabytes(size.float_bytes)} float32"
    )
    unknown = plan.unknown_layers(names)
    if unknown:
        print(f"unknown: {len(unknown)} entries match no layer of {args.model}:")
        for item in unknown:
            print(f"  {item}")
    return 1 if unknown else 0


def _override_text(override: Any, resolved: LayerConfig) -> str:
    parts = []
    if override.weight:
        parts.append(f"W {resolved.weight.label}")
    if override.input:
        parts.append(f"A {resolved.input.label}")
    if override.smoothquant_off:
        parts.append("SmoothQuant off")
    elif override.smoothquant_alpha is not None:
        parts.append(f"SmoothQuant {override.smoothquant_alpha:g}")
    return ", ".join(parts) or "(no change)"


# ---------------------------------------------------------------------------------------
# quantviz plan uniform


def _add_uniform(actions: Any) -> None:
    formats = ", ".join(PLAN_FORMAT_NAMES)
    parser = actions.add_parser("uniform", help="write a plan that treats every layer alike")
    parser.add_argument(
        "--weight",
        required=True,
        help=f"weight format FORMAT[:GRANULARITY[:GROUP_SIZE]], FORMAT one of {formats}; "
        "e.g. int8_sym:channel or int8_sym:group:32",
    )
    parser.add_argument(
        "--input", required=True, help="input format FORMAT[:GRANULARITY], e.g. fp8_e4m3"
    )
    parser.add_argument(
        "--input-observer",
        default="minmax",
        help="observer that calibrates input scales: minmax, moving_average, percentile, "
        "mse or entropy (default minmax)",
    )
    parser.add_argument(
        "--observer-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="setting of the input observer, e.g. percentile=99.99 (repeatable)",
    )
    parser.add_argument(
        "--smoothquant-alpha",
        type=float,
        default=None,
        help="SmoothQuant migration strength 0 to 1 for norm-fed layers (default off)",
    )
    parser.add_argument(
        "--float",
        action="append",
        default=[],
        metavar="PATTERN",
        help="keep layers matching this glob pattern in float (repeatable)",
    )
    parser.add_argument("--out", required=True, help="plan JSON file to write")
    parser.set_defaults(handler=cmd_plan_uniform)


def parse_tensor_config(text: str, where: str, observer: str = "minmax", **settings: Any):
    """Parse ``FORMAT[:GRANULARITY[:GROUP_SIZE]]`` into a :class:`TensorConfig`."""
    from quantviz.plan import TensorConfig

    parts = text.split(":")
    if len(parts) > 3 or not parts[0]:
        raise QuantvizError(
            f"{where} {text!r} is invalid; write FORMAT[:GRANULARITY[:GROUP_SIZE]], "
            "e.g. int8_sym:channel"
        )
    fmt = parts[0]
    granularity = parts[1] if len(parts) > 1 else "tensor"
    group_size = None
    if len(parts) == 3:
        try:
            group_size = int(parts[2])
        except ValueError:
            raise QuantvizError(
                f"{where} group size {parts[2]!r} is not an integer; e.g. int8_sym:group:32"
            ) from None
    try:
        return TensorConfig(fmt, granularity, group_size, observer, dict(settings))
    except QuantvizError as error:
        raise QuantvizError(f"{where} {text!r}: {error}") from None


def _parse_settings(items: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise QuantvizError(f"--observer-setting {item!r} is invalid; write KEY=VALUE")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def cmd_plan_uniform(args: argparse.Namespace) -> int:
    from quantviz.plan import LayerConfig, LayerOverride, PrecisionPlan, Rule

    weight = parse_tensor_config(args.weight, "--weight")
    inputs = parse_tensor_config(
        args.input, "--input", args.input_observer, **_parse_settings(args.observer_setting)
    )
    try:
        defaults = LayerConfig(weight, inputs, args.smoothquant_alpha)
    except QuantvizError as error:
        raise QuantvizError(f"--smoothquant-alpha: {error}") from None
    plan = PrecisionPlan(defaults=defaults)
    for pattern in args.float:
        plan.rules.append(
            Rule(pattern, LayerOverride(weight={"format": "float"}, input={"format": "float"}))
        )
    print(f"wrote {plan.save(args.out)}: {defaults.label}")
    return 0


# ---------------------------------------------------------------------------------------
# quantviz plan ort-config


def _add_ort_config(actions: Any) -> None:
    parser = actions.add_parser(
        "ort-config",
        help="write ONNX Runtime quantize_static settings (nodes, types, scales) for a plan",
    )
    parser.add_argument("plan", help="plan JSON file with scales (from evaluate --save-plan)")
    parser.add_argument("--onnx", required=True, help="ONNX model exported from the float model")
    parser.add_argument("--out", required=True, help="settings JSON file to write")
    parser.add_argument(
        "--onnx-out",
        default=None,
        help="also write a copy of the ONNX model in which layers that share their input "
        "with unquantized nodes get their own input (an Identity node); quantize that copy",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model whose layer names to map (default: the layers named in the plan)",
    )
    parser.set_defaults(handler=cmd_plan_ort_config)


def cmd_plan_ort_config(args: argparse.Namespace) -> int:
    from quantviz.ort_config import export_ort_config
    from quantviz.plan import PrecisionPlan

    plan = PrecisionPlan.load(args.plan)
    names = None
    if args.model is not None:
        from quantviz.cli import ProgressBar, _cancel_on_interrupt

        loaded = _load(args.model, ProgressBar(False), _cancel_on_interrupt())
        names = [info.name for info in loaded.layers]
    config = export_ort_config(plan, args.onnx, args.out, names, onnx_out=args.onnx_out)
    print(
        f"{len(config.nodes_to_quantize)} nodes to quantize, "
        f"{len(config.nodes_to_exclude)} MatMul/Gemm nodes excluded; "
        f"activation_type {config.activation_type}, weight_type {config.weight_type}"
    )
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if config.unmatched:
        print(
            f"warning: {len(config.unmatched)} plan layers have no node in {args.onnx} "
            f"(first: {config.unmatched[0]})",
            file=sys.stderr,
        )
    if args.onnx_out:
        print(f"wrote {args.onnx_out}")
    print(f"wrote {args.out}")
    return 0
