"""Time the engine's fake quantization against torch's own kernels, side by side.

Run: ``python tests/benchmarks/bench_fake_quant.py [--repeats N] [--json PATH]``.
pytest does not collect this file (it collects ``test_*.py`` only).

Each row times one engine call and its torch reference on the same float32 input.

* INT8 per tensor against ``torch.fake_quantize_per_tensor_affine`` (16M elements).
* INT8 per channel against ``torch.fake_quantize_per_channel_affine`` (a [4096, 4096]
  weight, one scale per row).
* FP8 E4M3FN and E5M2 per tensor against torch's
  ``(x / s).clamp(-max, max).to(float8).float() * s`` (16M elements).

Repetitions of a row alternate which call goes first, and the figures are medians.
The target is an engine/torch ratio of at most 1.3 on every row.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from quantviz.quant import QuantSpec, fake_quantize, qparams_for_tensor

TARGET_RATIO = 1.3


@dataclass
class Row:
    name: str
    elements: int
    engine_ms: float
    torch_ms: float
    ratio: float
    within_target: bool


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def time_call(function: Callable[[], torch.Tensor]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def compare(
    engine: Callable[[], torch.Tensor],
    reference: Callable[[], torch.Tensor],
    repeats: int,
    warmup: int,
) -> tuple[float, float]:
    """Median seconds of ``engine`` and ``reference``, interleaved to share the noise."""
    for _ in range(warmup):
        engine()
        reference()
    engine_times: list[float] = []
    reference_times: list[float] = []
    for repeat in range(repeats):
        if repeat % 2:
            reference_times.append(time_call(reference))
            engine_times.append(time_call(engine))
        else:
            engine_times.append(time_call(engine))
            reference_times.append(time_call(reference))
    return statistics.median(engine_times), statistics.median(reference_times)


def build_cases(elements: int, weight_side: int):
    """``(name, elements, engine call, torch call)`` for every row."""
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(elements, generator=generator) * 3
    weight = torch.randn(weight_side, weight_side, generator=generator) * 0.02

    int8 = QuantSpec("int8")
    int8_qparams = qparams_for_tensor(activations, int8)
    int8_scale = float(int8_qparams.scale)

    channel = QuantSpec("int8", granularity="channel", axis=0)
    channel_qparams = qparams_for_tensor(weight, channel)
    channel_scale = channel_qparams.scale
    channel_zero = channel_qparams.zero_point

    cases = [
        (
            "int8 per-tensor",
            activations.numel(),
            lambda: fake_quantize(activations, int8_qparams),
            lambda: torch.fake_quantize_per_tensor_affine(
                activations, int8_scale, 0, int8.qmin, int8.qmax
            ),
        ),
        (
            "int8 per-channel",
            weight.numel(),
            lambda: fake_quantize(weight, channel_qparams),
            lambda: torch.fake_quantize_per_channel_affine(
                weight, channel_scale, channel_zero, 0, channel.qmin, channel.qmax
            ),
        ),
    ]
    for format_name in ("fp8_e4m3fn", "fp8_e5m2"):
        spec = QuantSpec(format_name)
        qparams = qparams_for_tensor(activations, spec)
        cases.append(
            (
                f"{format_name} per-tensor",
                activations.numel(),
                lambda qparams=qparams: fake_quantize(activations, qparams),
                lambda spec=spec, scale=qparams.scale: torch_float8_reference(
                    activations, scale, spec
                ),
            )
        )
    return cases


def torch_float8_reference(x: torch.Tensor, scale: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    limit = spec.format.max_value
    return (x / scale).clamp(-limit, limit).to(spec.format.torch_dtype).float() * scale


def check_agreement(cases) -> None:
    """Stop if an engine call and its reference disagree: timing them would be moot.

    The INT8 rows may differ on a few elements where torch's x * (1 / s) and the
    engine's x / s round a .5 tie differently, so those rows allow 1e-5 of elements.
    """
    for name, _, engine, reference in cases:
        mismatches = (engine() != reference()).float().mean().item()
        allowed = 1e-5 if name.startswith("int8") else 0.0
        if mismatches > allowed:
            raise SystemExit(f"{name}: engine and torch disagree on {mismatches:.2e} of elements")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=21, help="timed runs of each call per row (default 21)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed runs of each call first (default 3)"
    )
    parser.add_argument(
        "--elements",
        type=int,
        default=16 * 2**20,
        help="elements of the per-tensor input (default 16777216)",
    )
    parser.add_argument(
        "--weight-side",
        type=int,
        default=4096,
        help="rows and columns of the per-channel weight (default 4096)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    command = shlex.join([sys.executable, *sys.argv])
    machine = {
        "cpu": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": command,
    }
    print(f"command: {command}")
    print(f"cpu: {machine['cpu']}")
    print(f"torch {machine['torch']}, {machine['torch_threads']} threads")
    print(f"repeats: {args.repeats} (median), warmup: {args.warmup}")

    cases = build_cases(args.elements, args.weight_side)
    check_agreement(cases)
    rows = []
    for name, elements, engine, reference in cases:
        engine_s, torch_s = compare(engine, reference, args.repeats, args.warmup)
        ratio = engine_s / torch_s
        rows.append(
            Row(name, elements, engine_s * 1e3, torch_s * 1e3, ratio, ratio <= TARGET_RATIO)
        )

    print(f"\n{'case':<22}{'elements':>10}{'engine ms':>11}{'torch ms':>10}{'ratio':>8}")
    for row in rows:
        mark = "" if row.within_target else f"  above {TARGET_RATIO}"
        print(
            f"{row.name:<22}{row.elements:>10}{row.engine_ms:>11.2f}{row.torch_ms:>10.2f}"
            f"{row.ratio:>8.3f}{mark}"
        )

    if args.json is not None:
        report = {
            "machine": machine,
            "target_ratio": TARGET_RATIO,
            "repeats": args.repeats,
            "rows": [asdict(row) for row in rows],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
