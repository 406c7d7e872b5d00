"""The ``quantviz`` command: the desktop app by default, and the engine's operations."""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from quantviz import __version__
from quantviz.errors import Cancelled, QuantvizError, QuantvizWarning
from quantviz.io import make_folder
from quantviz.progress import CancelToken, ProgressEvent

logger = logging.getLogger("quantviz")

COMMAND_MODULES = ("quantviz.cli_plan", "quantviz.cli_qat", "quantviz.cli_export")


class ProgressBar:
    """Draws engine progress events as one tqdm bar per stage on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event.stage != self.stage or self.bar is None:
            self.close()
            self.stage = event.stage
            self.bar = tqdm(
                total=event.total,
                desc=event.stage or "working",
                unit="step",
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self.bar.total = event.total
        self.bar.n = event.step
        self.bar.set_postfix_str(event.item[-48:], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cancel_on_interrupt() -> CancelToken:
    """A token that the first Ctrl-C sets; a second Ctrl-C stops at once."""
    token = CancelToken()

    def handler(signum: int, frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        print("\ncancelling at the next step (Ctrl-C again to stop now)", file=sys.stderr)
        token.cancel()

    signal.signal(signal.SIGINT, handler)
    return token


def _format_db(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.1f}"


def print_layer_table(analysis: Any, out: Any = None) -> None:
    """Print one line per layer: FP8 vs INT8 SQNR, outliers, sensitivity, choice."""
    out = out or sys.stdout
    header = (
        f"{'layer':<44} {'W e4m3':>7} {'W i8ch':>7} {'A e4m3':>7} {'A i8':>7} "
        f"{'A ratio':>8} {'kurt':>6} {'sens':>9}  recommendation"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for report in analysis.layers:
        weight = report.weight
        inputs = report.input
        ratio = f"{inputs.outliers.channel_ratio:.1f}x" if inputs else "-"
        kurtosis = f"{inputs.outliers.kurtosis:.0f}" if inputs else "-"
        sensitivity = f"{report.sensitivity.both:.2e}" if report.sensitivity else "-"
        name = report.name if len(report.name) <= 44 else "..." + report.name[-41:]
        print(
            f"{name:<44} {_format_db(weight.sqnr('fp8_e4m3_tensor')):>7} "
            f"{_format_db(weight.sqnr('int8_sym_channel')):>7} "
            f"{_format_db(inputs.sqnr('fp8_e4m3_tensor') if inputs else None):>7} "
            f"{_format_db(inputs.sqnr('int8_sym_tensor') if inputs else None):>7} "
            f"{ratio:>8} {kurtosis:>6} {sensitivity:>9}  "
            f"{report.recommendation.choice if report.recommendation else '-'}",
            file=out,
        )
    print(
        "SQNR in dB; W = weights, A = layer inputs; i8ch = INT8 per channel; "
        "A ratio = max/median channel absmax; sens = loss when only this layer is "
        "INT8 (W and A).",
        file=out,
    )


def parse_max_memory(values: Sequence[str] | None) -> dict[str, str] | None:
    """Parse ``--max-memory`` values such as ``cpu=2GiB`` or ``0=20GiB,cpu=64GiB`` into a dict.

    The sizes stay strings here; :func:`quantviz.model.loading.load_model` checks them.
    """
    if not values:
        return None
    limits: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            device, separator, size = item.strip().partition("=")
            if not separator or not device.strip() or not size.strip():
                raise QuantvizError(
                    f"--max-memory {item.strip()!r} is invalid; write DEVICE=SIZE, for example "
                    "cpu=2GiB or 0=20GiB (a GPU index)"
                )
            limits[device.strip()] = size.strip()
    return limits


# Sequences for sensitivity unless --sensitivity-samples is given: none for an offloaded
# model, whose weights sensitivity cannot replace in place.
DEFAULT_SENSITIVITY_SAMPLES = 2


def _placement_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Return the load_model keyword arguments of ``--device-map``, ``--max-memory`` and
    ``--offload-folder``."""
    return {
        "device_map": args.device_map,
        "max_memory": parse_max_memory(args.max_memory),
        "offload_folder": args.offload_folder,
    }


def cmd_analyze(args: argparse.Namespace) -> int:
    from quantviz.analysis.pipeline import AnalysisSettings, analyze_model, analyze_weights_file
    from quantviz.model.loading import load_model

    placement = _placement_arguments(args)
    if args.weights_only and any(value is not None for value in placement.values()):
        raise QuantvizError(
            "--device-map, --max-memory and --offload-folder do not apply with --weights-only, "
            "which streams the weights from the safetensors files without building the model"
        )
    sensitivity_samples = args.sensitivity_samples
    if sensitivity_samples is None:
        sensitivity_samples = 0 if args.device_map else DEFAULT_SENSITIVITY_SAMPLES

    cancel = _cancel_on_interrupt()
    progress = ProgressBar(not args.quiet)
    try:
        out_dir = make_folder(args.out)
        if args.weights_only:
            analysis = analyze_weights_file(args.model, progress=progress, cancel=cancel)
        else:
            loaded = load_model(
                args.model,
                trust_remote_code=args.trust_remote_code,
                include_embeddings=args.include_embeddings,
                include_lm_head=args.include_lm_head,
                progress=progress,
                cancel=cancel,
                **placement,
            )
            settings = AnalysisSettings(
                calib=args.calib,
                samples=args.samples,
                seq_len=args.seq_len,
                batch_size=args.batch_size,
                observer=args.observer,
                sensitivity_samples=sensitivity_samples,
            )
            analysis = analyze_model(loaded, settings, progress=progress, cancel=cancel)
    finally:
        progress.close()

    print_layer_table(analysis)
    json_path = analysis.save(out_dir / "analysis.json")
    print(f"wrote {json_path}")
    if not args.no_report:
        from quantviz.analysis.report import write_report

        report_path = write_report(analysis, out_dir / "report.html")
        print(f"wrote {report_path}")
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    from quantviz.formats import FORMATS, FloatFormat

    specials = {"ieee": "inf and NaN", "fn": "NaN only", "none": "finite only"}
    for fmt in FORMATS.values():
        if isinstance(fmt, FloatFormat):
            detail = (
                f"E{fmt.exponent_bits}M{fmt.mantissa_bits} bias {fmt.bias}, "
                f"max {fmt.max_value:g}, min normal {fmt.min_normal:g}, "
                f"min subnormal {fmt.min_subnormal:g}, {specials[fmt.specials]}"
            )
        else:
            kind = "signed" if fmt.signed else "unsigned"
            detail = f"{kind} integer [{fmt.qmin}, {fmt.qmax}]"
        print(f"{fmt.name:<12} {fmt.bits} bits  {detail}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        app = importlib.import_module("quantviz.gui.app")
    except ModuleNotFoundError as error:
        raise QuantvizError(
            f"the desktop app needs {error.name}; install it with pip install 'quantviz[gui]'"
        ) from None
    return int(app.main(args))


def add_placement_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--device-map``, ``--max-memory`` and ``--offload-folder`` (accelerate offload)."""
    parser.add_argument(
        "--device-map",
        default=None,
        metavar="MAP",
        help="let accelerate place the model's modules: auto, balanced, sequential or a device "
        "such as cpu; modules beyond --max-memory are offloaded to disk and read from the "
        "safetensors files at each forward pass (model folders and hub ids only)",
    )
    parser.add_argument(
        "--max-memory",
        action="append",
        default=None,
        metavar="DEVICE=SIZE",
        help="memory limit per device for --device-map, for example cpu=2GiB or 0=20GiB "
        "(a GPU index); repeat it or separate entries with commas",
    )
    parser.add_argument(
        "--offload-folder",
        default=None,
        metavar="DIR",
        help="folder for offloaded weights that transformers cannot read from the checkpoint "
        "as stored (weights it converts while loading)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantviz",
        description="See what FP8 and INT8 quantization does to each layer of a transformer.",
    )
    parser.add_argument("--version", action="version", version=f"quantviz {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument(
        "model",
        nargs="?",
        default=None,
        help="model to open: folder, .gguf file, hub id or sample:minilm",
    )
    gui.add_argument("--lang", default=None, help="interface language, e.g. zh_CN")
    gui.add_argument(
        "--smoke-test",
        action="store_true",
        help="open the model, wait for its analysis, then close; exit code 0 when the "
        "analysis finished, 1 when loading or analysis failed (checks an installed build)",
    )
    gui.set_defaults(handler=cmd_gui)

    analyze = commands.add_parser(
        "analyze", help="analyse every layer in FP8 and INT8 and write a report"
    )
    analyze.add_argument(
        "model", help="HF folder, .safetensors, .gguf, hub id, sample:minilm or sample:smollm2"
    )
    analyze.add_argument(
        "--calib",
        default=None,
        help="calibration text: .txt, .jsonl or dataset folder (default: the bundled English text)",
    )
    analyze.add_argument(
        "--samples", type=int, default=16, help="calibration sequences (default 16)"
    )
    analyze.add_argument(
        "--seq-len", type=int, default=128, help="tokens per calibration sequence (default 128)"
    )
    analyze.add_argument(
        "--batch-size", type=int, default=8, help="sequences per forward pass (default 8)"
    )
    analyze.add_argument(
        "--observer",
        default="minmax",
        help="activation observer: minmax, moving_average, percentile, mse "
        "or entropy (default minmax)",
    )
    analyze.add_argument(
        "--sensitivity-samples",
        type=int,
        default=None,
        help=f"sequences for per-layer sensitivity; 0 skips it (default "
        f"{DEFAULT_SENSITIVITY_SAMPLES}, or 0 with --device-map, because sensitivity needs "
        "every weight in memory)",
    )
    analyze.add_argument(
        "--weights-only",
        action="store_true",
        help="stream weights from safetensors without building the model",
    )
    analyze.add_argument(
        "--include-embeddings", action="store_true", help="also analyse embedding tables"
    )
    analyze.add_argument(
        "--include-lm-head",
        action="store_true",
        help="also analyse the LM head (tied weights are analysed once)",
    )
    analyze.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the model to run (off by default)",
    )
    add_placement_options(analyze)
    analyze.add_argument(
        "--out", default="quantviz-out", help="output folder for analysis.json and report.html"
    )
    analyze.add_argument("--no-report", action="store_true", help="skip report.html")
    analyze.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    analyze.set_defaults(handler=cmd_analyze)

    formats = commands.add_parser("formats", help="list the numeric formats and their ranges")
    formats.set_defaults(handler=cmd_formats)

    # Commands of the plan, QAT and export workflows live beside their engine code;
    # each module's register() adds its subcommands with their handlers.
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    return parser


_TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def _with_default_command(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Insert ``gui`` when no command is named, so ``quantviz MODEL --lang zh_CN`` works."""
    commands = next(
        action.choices
        for action in parser._actions  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction)
    )
    words = [word for word in argv if word not in ("-v", "-vv", "--verbose")]
    if any(word in _TOP_LEVEL_OPTIONS for word in words[:1]):
        return argv
    if words and words[0] in commands:
        return argv
    verbose = [word for word in argv if word in ("-v", "-vv", "--verbose")]
    return [*verbose, "gui", *words]


_PYTHON_FORMAT_WARNING = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Format a QuantvizWarning as one ``warning: ...`` line; others as Python does."""
    if issubclass(category, QuantvizWarning):
        return f"warning: {message}\n"
    return _PYTHON_FORMAT_WARNING(message, category, filename, lineno, line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_with_default_command(arguments, parser))
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] = args.handler
    previous_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        return handler(args)
    except Cancelled:
        print("cancelled; nothing was written", file=sys.stderr)
        return 130
    except QuantvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous_format


if __name__ == "__main__":
    sys.exit(main())
