"""CLI commands: export (ONNX QDQ, with optional parity check and benchmark) and bench."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from quantviz.errors import QuantvizError


def register(commands: Any) -> None:
    """Add this module's subcommands to the ``quantviz`` parser."""
    _add_export(commands)
    _add_bench(commands)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--include-embeddings",
        action="store_true",
        help="list embedding tables as layers, so the plan can quantize their weights",
    )
    parser.add_argument(
        "--include-lm-head", action="store_true", help="list the LM head as a layer"
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the model to run (off by default)",
    )


def _add_bench_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--texts",
        default=None,
        help="held-out text for accuracy and timing (.txt, .jsonl or dataset folder; "
        "default: the bundled evaluation text)",
    )
    parser.add_argument(
        "--items",
        type=int,
        default=256,
        help="sentences (encoders) or token windows (causal LMs) to run (default 256)",
    )
    parser.add_argument(
        "--bench-batch-size",
        type=int,
        default=None,
        help="items per batch (default 32 for encoders, 4 for causal LMs)",
    )
    parser.add_argument(
        "--threads",
        default="1,2",
        help="comma-separated intra-op thread counts to time (default 1,2)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per model (default 7)")
    parser.add_argument(
        "--no-dynamic",
        action="store_true",
        help="skip the onnxruntime quantize_dynamic baselines",
    )


def _add_export(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="export a model with a precision plan to ONNX (QuantizeLinear/DequantizeLinear)",
    )
    export.add_argument("model", help="model: folder, .gguf, hub id, sample:minilm, ...")
    export.add_argument("--plan", required=True, help="precision plan JSON file")
    export.add_argument("-o", "--output", required=True, help="ONNX file to write")
    export.add_argument(
        "--opset",
        type=int,
        default=None,
        help="ONNX opset (default 17; 21 when the plan uses FP8 or per-group scales)",
    )
    export.add_argument(
        "--activations",
        choices=("uint8", "int8"),
        default="uint8",
        help="storage of symmetric INT8 layer inputs: uint8 with zero point 128, which "
        "ONNX Runtime's x86 CPU kernels fuse (default), or int8 as computed",
    )
    export.add_argument(
        "--no-fold",
        action="store_true",
        help="keep SmoothQuant factors as a Div before each input instead of folding them "
        "into the preceding norm",
    )
    export.add_argument(
        "--calib",
        default=None,
        help="calibration text, used only when the plan has no input scales "
        "(default: the bundled calibration text)",
    )
    export.add_argument(
        "--calib-samples", type=int, default=16, help="calibration windows (default 16)"
    )
    export.add_argument("--seq-len", type=int, default=128, help="tokens per window (default 128)")
    export.add_argument(
        "--check",
        action="store_true",
        help="check the export in ONNX Runtime against the fake-quantized PyTorch model",
    )
    export.add_argument(
        "--check-samples",
        type=int,
        default=8,
        help="held-out windows for --check (default 8)",
    )
    export.add_argument(
        "--bench",
        action="store_true",
        help="also export the float32 model and benchmark size, latency and accuracy",
    )
    _add_bench_options(export)
    _add_model_options(export)
    export.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    export.set_defaults(handler=cmd_export)


def _add_bench(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="benchmark an exported ONNX model against float32 and ONNX Runtime's quantize_dynamic",
    )
    bench.add_argument("onnx", help="exported ONNX model")
    bench.add_argument(
        "--float",
        dest="float_onnx",
        default=None,
        help="float32 ONNX model (default: <name>.float.onnx beside the model, else "
        "exported from the model recorded in the ONNX metadata)",
    )
    bench.add_argument(
        "--model",
        default=None,
        help="model spec for the tokenizer (default: the one recorded in the ONNX metadata)",
    )
    bench.add_argument("--out", default=None, help="JSON file for the results")
    _add_bench_options(bench)
    bench.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the model to run (off by default)",
    )
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(handler=cmd_bench)


def _parse_threads(text: str) -> list[int]:
    try:
        threads = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        threads = []
    if not threads or any(count < 1 for count in threads):
        raise QuantvizError(
            f"--threads {text!r} is invalid; give positive integers separated by commas, "
            "for example 1,2"
        )
    return threads


def _stem_path(path: Path, suffix: str) -> Path:
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    return path.with_name(f"{stem}{suffix}")


def cmd_export(args: argparse.Namespace) -> int:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.export.onnx_export import export_onnx
    from quantviz.model.data import load_texts, make_batches
    from quantviz.model.loading import load_model
    from quantviz.plan import PrecisionPlan

    output = Path(args.output)
    threads = _parse_threads(args.threads)
    plan = PrecisionPlan.load(args.plan)
    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet)
    try:
        loaded = load_model(
            args.model,
            trust_remote_code=args.trust_remote_code,
            include_embeddings=args.include_embeddings,
            include_lm_head=args.include_lm_head,
            progress=progress,
            cancel=cancel,
        )
        unknown = plan.unknown_layers(info.name for info in loaded.layers)
        if unknown:
            print(f"warning: the plan names {', '.join(unknown)}", file=sys.stderr)
        calib_batches = None
        if args.calib is not None:
            calib_batches = make_batches(
                loaded.tokenizer,
                load_texts(args.calib, split="calibration"),
                seq_len=args.seq_len,
                num_samples=args.calib_samples,
            )
        result = export_onnx(
            loaded,
            plan,
            output,
            opset=args.opset,
            calib_batches=calib_batches,
            activation_storage=args.activations,
            fold_smoothing=not args.no_fold,
            progress=progress,
            cancel=cancel,
        )
    finally:
        progress.close()
    _print_export(result)

    status = 0
    if args.check:
        status = _run_check(args, loaded, plan, output)
    if args.bench:
        _run_export_bench(args, loaded, output, threads)
    return status


def _print_export(result: Any) -> None:
    quantized_inputs = sum(1 for record in result.layers if record.input is not None)
    print(
        f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, opset {result.opset}): "
        f"{len(result.layers)} quantized layers, {quantized_inputs} with quantized inputs, "
        f"{len(result.float_layers)} kept in float"
    )
    if result.external_data:
        print(f"wrote {result.external_data} (external weights)")
    print(f"wrote {result.plan_path}")
    print(f"wrote {result.scales_path}")
    if result.missing_layers:
        print(
            f"not in the exported graph: {', '.join(result.missing_layers)} "
            "(their outputs are not used by the exported outputs)"
        )
    if result.divided_smoothing:
        print(
            f"SmoothQuant: {len(result.folded_smoothing)} layers folded into norms, "
            f"{len(result.divided_smoothing)} divide their input in the graph"
        )


def _run_check(args: argparse.Namespace, loaded: Any, plan: Any, output: Path) -> int:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.export.check import check_parity
    from quantviz.io import atomic_write_json
    from quantviz.model.data import load_texts, make_batches

    batches = make_batches(
        loaded.tokenizer,
        load_texts(split="evaluation"),
        seq_len=args.seq_len,
        num_samples=args.check_samples,
        batch_size=4,
    )
    progress = ProgressBar(not args.quiet)
    try:
        report = check_parity(
            loaded, plan, output, batches, progress=progress, cancel=_cancel_on_interrupt()
        )
    finally:
        progress.close()
    print_parity(report)
    path = atomic_write_json(_stem_path(output, ".parity.json"), report.to_dict())
    print(f"wrote {path}")
    return 0 if report.passed else 1


def print_parity(report: Any, out: Any = None) -> None:
    """Print the outcome of a parity check: outputs, flipped codes, first divergent layer."""
    out = out or sys.stdout
    verdict = "passed" if report.passed else "FAILED"
    checker = "passed" if report.checker_passed else f"failed: {report.checker_message}"
    print(f"parity check {verdict} (onnx.checker {checker}, {report.provider})", file=out)
    for output, forced in zip(report.outputs, report.forced_outputs, strict=True):
        print(
            f"  {output.name}: relative RMS error {forced.relative_rms_error:.2e} with "
            "every quantized input forced to ONNX Runtime's "
            f"(limit {report.max_forced_output_error:.0e}); "
            f"{output.relative_rms_error:.2e} free-running",
            file=out,
        )
    weights = [t for t in report.tensors if t.role == "weight"]
    exact = sum(1 for t in weights if t.flipped == 0)
    print(f"  weights identical: {exact} of {len(weights)}", file=out)
    print(
        f"  layer inputs: {report.flipped_fraction:.2e} of codes flipped "
        f"(limit {report.max_flipped_fraction:.0e} per layer)",
        file=out,
    )
    if report.first_divergent:
        print(f"  first divergent layer: {report.first_divergent}", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)
    if report.passed and not report.free_running_passed:
        print(
            f"  free-running outputs differ by more than {report.max_output_error:.0e}: every "
            "layer matches on identical inputs, so this plan amplifies last-bit rounding "
            "differences (a flipped code moves the inputs of later layers by a full step)",
            file=out,
        )


def _run_export_bench(
    args: argparse.Namespace, loaded: Any, output: Path, threads: list[int]
) -> None:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.export.onnx_export import export_float_onnx

    float_path = _stem_path(output, ".float.onnx")
    progress = ProgressBar(not args.quiet)
    try:
        export_float_onnx(loaded, float_path, progress=progress, cancel=_cancel_on_interrupt())
    finally:
        progress.close()
    print(f"wrote {float_path}")
    _bench_and_print(args, output, float_path, loaded.tokenizer, threads)


def _bench_and_print(
    args: argparse.Namespace,
    onnx_path: Path,
    float_path: Path,
    tokenizer: Any,
    threads: list[int],
    out_path: Path | None = None,
) -> None:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.export.bench import bench_onnx
    from quantviz.io import atomic_write_json
    from quantviz.model.data import load_texts

    texts = load_texts(args.texts, split="evaluation")
    progress = ProgressBar(not args.quiet)
    try:
        result = bench_onnx(
            onnx_path,
            float_path,
            texts,
            tokenizer=tokenizer,
            items=args.items,
            batch_size=args.bench_batch_size,
            threads=threads,
            repeats=args.repeats,
            dynamic_baselines=not args.no_dynamic,
            progress=progress,
            cancel=_cancel_on_interrupt(),
        )
    finally:
        progress.close()
    print(
        f"{result.items} {result.item_kind} in {result.batches} batches of up to "
        f"{result.batch_size}; median of {result.repeats} interleaved passes; "
        f"{result.machine['cpu']}, {result.machine['cores']} cores, "
        f"onnxruntime {result.machine['onnxruntime']}"
    )
    print(result.table())
    for note in result.notes:
        print(f"note: {note}")
    path = atomic_write_json(out_path or _stem_path(onnx_path, ".bench.json"), result.to_dict())
    print(f"wrote {path}")


def cmd_bench(args: argparse.Namespace) -> int:
    from quantviz.cli import ProgressBar, _cancel_on_interrupt
    from quantviz.export.onnx_export import export_float_onnx
    from quantviz.export.runtime import read_metadata
    from quantviz.model.loading import load_model

    onnx_path = Path(args.onnx)
    threads = _parse_threads(args.threads)
    metadata = read_metadata(onnx_path)
    spec = args.model or metadata.get("model_spec")
    if not spec or spec.startswith("random:"):
        raise QuantvizError(
            f"{onnx_path} does not record a loadable model; pass --model with the model it "
            "was exported from (its tokenizer turns the text into inputs)"
        )
    progress = ProgressBar(not args.quiet)
    cancel = _cancel_on_interrupt()
    try:
        loaded = load_model(
            spec, trust_remote_code=args.trust_remote_code, progress=progress, cancel=cancel
        )
    finally:
        progress.close()
    float_path = Path(args.float_onnx) if args.float_onnx else _stem_path(onnx_path, ".float.onnx")
    if args.float_onnx is None and not float_path.is_file():
        progress = ProgressBar(not args.quiet)
        try:
            export_float_onnx(loaded, float_path, progress=progress, cancel=cancel)
        finally:
            progress.close()
        print(f"wrote {float_path}")
    out_path = Path(args.out) if args.out else None
    _bench_and_print(args, onnx_path, float_path, loaded.tokenizer, threads, out_path)
    return 0
