"""Analysis speed and memory on SmolLM2, printed as ratios measured side by side.

    python tests/benchmarks/bench_analysis.py [--json out.json]
    python tests/benchmarks/bench_analysis.py streaming --folder /tmp/llama1b

The first form prints, for all SmolLM2 linear layers:
  * weight analysis time (four weight candidates) / the time of one pass of torch's
    native fake-quant per candidate over the same weights (target <= 3);
  * calibration time / plain forward time over the same batches (target <= 1.3), and
    calibration time / a forward that, like calibration, computes the last position's
    logits only (the cost of the recording hooks alone);
  * peak RSS during loading and analysis / the model's float32 weight size (target
    <= 1.5), counted over the RSS of the process with torch, transformers and quantviz
    imported and no model loaded (a fixed cost of about 0.27 GB that does not grow with
    the model), and the raw peak RSS / model size beside it. Peak RSS comes from a first,
    untimed analysis and calibration that runs before any other measurement; all timed
    steps run after it, warm.
The second form writes a randomly initialised Llama model of about 1.1 B parameters as
bf16 safetensors shards (once) and streams a weight-only analysis from it, printing
peak RSS against the largest tensor.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rss import PeakRSS, current_rss_bytes


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def native_fake_quant_pass(weights: list[tuple[str, torch.Tensor, int]]) -> dict[str, float]:
    """Seconds for one pass of torch's own fake-quant per candidate over all weights."""
    from quantviz.analysis.candidates import WEIGHT_CANDIDATES
    from quantviz.quant import qparams_for_tensor

    times = {}
    for candidate in WEIGHT_CANDIDATES:
        total = 0.0
        for _, weight, axis in weights:
            spec = candidate.spec(axis)
            qparams = qparams_for_tensor(weight, spec)
            started = time.perf_counter()
            if spec.is_float:
                limit = spec.format.max_value
                scale = float(qparams.scale)
                (weight / scale).clamp(-limit, limit).to(spec.format.torch_dtype).float() * scale
            elif spec.granularity == "tensor":
                torch.fake_quantize_per_tensor_affine(
                    weight, float(qparams.scale), 0, spec.qmin, spec.qmax
                )
            else:
                torch.fake_quantize_per_channel_affine(
                    weight, qparams.scale, qparams.zero_point, axis, spec.qmin, spec.qmax
                )
            total += time.perf_counter() - started
        times[candidate.key] = total
    return times


def bench_smollm2(repeats: int, spec: str = "sample:smollm2") -> dict:
    import quantviz.analysis.pipeline  # noqa: F401  (the libraries the analysis loads)
    from quantviz.analysis.weights import analyze_weights, model_weights
    from quantviz.model.calibration import calibrate
    from quantviz.model.data import load_texts, make_batches
    from quantviz.model.loading import load_model

    libraries_rss = current_rss_bytes()
    with PeakRSS() as load_rss:
        loaded = load_model(spec)
    weights = [(n, w.detach(), a) for n, w, a in model_weights(loaded)]
    float_bytes = sum(p.numel() * 4 for p in loaded.module.parameters())
    if loaded.tokenizer is not None:
        batches = make_batches(
            loaded.tokenizer, load_texts(), seq_len=128, num_samples=16, batch_size=8
        )
    else:
        # A random model saved without a tokenizer: random token ids of the same shape.
        from bench_offload import random_batches

        batches = random_batches(loaded.module.config.vocab_size, 2, 8, 128)

    # Calibration requests only the last position's logits from a causal LM whose output
    # layer is not recorded. This forward does the same, so that calibration / this
    # forward is the cost of the hooks alone.
    last_logits = {}
    if "logits_to_keep" in inspect.signature(loaded.module.forward).parameters:
        last_logits = {"logits_to_keep": 1}

    # A first, untimed analysis and calibration gives the peak RSS before any other work
    # has grown the heap, and warms both up. Every timed step below runs warm.
    with PeakRSS() as peak:
        analyze_weights(iter(weights), len(weights))
        calibrate(loaded, batches)
    native_fake_quant_pass(weights)

    analysis_times, native_times, forward_times, calibration_times = [], [], [], []
    last_logits_times = []
    for _ in range(repeats):
        native_times.append(sum(native_fake_quant_pass(weights).values()))
        started = time.perf_counter()
        analyze_weights(iter(weights), len(weights))
        analysis_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        calibrate(loaded, batches)
        calibration_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                loaded.module(**batch)
        forward_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                loaded.module(**batch, **last_logits)
        last_logits_times.append(time.perf_counter() - started)

    weight_ratio = statistics.median(
        a / n for a, n in zip(analysis_times, native_times, strict=True)
    )
    calibration_ratio = statistics.median(
        c / f for c, f in zip(calibration_times, forward_times, strict=True)
    )
    hook_ratio = statistics.median(
        c / f for c, f in zip(calibration_times, last_logits_times, strict=True)
    )
    return {
        "layers": len(weights),
        "weight_elements": sum(w.numel() for _, w, _ in weights),
        "weight_analysis_s": statistics.median(analysis_times),
        "native_fake_quant_s": statistics.median(native_times),
        "weight_analysis_ratio": weight_ratio,
        "calibration_s": statistics.median(calibration_times),
        "forward_s": statistics.median(forward_times),
        "calibration_ratio": calibration_ratio,
        "forward_last_logits_s": statistics.median(last_logits_times),
        "calibration_hook_ratio": hook_ratio,
        "model_float32_bytes": float_bytes,
        "libraries_rss_bytes": libraries_rss,
        "peak_rss_bytes": max(peak.peak, load_rss.peak),
        "rss_before_bytes": peak.start,
        "peak_rss_over_libraries_ratio": (max(peak.peak, load_rss.peak) - libraries_rss)
        / float_bytes,
        "peak_rss_ratio": max(peak.peak, load_rss.peak) / float_bytes,
        "load_peak_rss_ratio": load_rss.peak / float_bytes,
        "analysis_peak_rss_ratio": peak.peak / float_bytes,
        "analysis_rss_increase_ratio": peak.increase / float_bytes,
    }


def write_random_llama(folder: Path) -> None:
    """Write a ~1.1 B parameter random Llama as one bf16 shard per decoder layer."""
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    config = LlamaConfig(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        vocab_size=32000,
        tie_word_embeddings=False,
    )
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    head_dim = config.hidden_size // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    h, i = config.hidden_size, config.intermediate_size
    generator = torch.Generator().manual_seed(0)

    def normal(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=generator) * 0.02).to(torch.bfloat16)

    weight_map = {}
    shards = [("model.embed_tokens.weight", (config.vocab_size, h))]
    files = []
    for layer in range(config.num_hidden_layers):
        prefix = f"model.layers.{layer}"
        tensors = {
            f"{prefix}.self_attn.q_proj.weight": normal(h, h),
            f"{prefix}.self_attn.k_proj.weight": normal(kv, h),
            f"{prefix}.self_attn.v_proj.weight": normal(kv, h),
            f"{prefix}.self_attn.o_proj.weight": normal(h, h),
            f"{prefix}.mlp.gate_proj.weight": normal(i, h),
            f"{prefix}.mlp.up_proj.weight": normal(i, h),
            f"{prefix}.mlp.down_proj.weight": normal(h, i),
            f"{prefix}.input_layernorm.weight": torch.ones(h, dtype=torch.bfloat16),
            f"{prefix}.post_attention_layernorm.weight": torch.ones(h, dtype=torch.bfloat16),
        }
        files.append((f"model-{layer:05d}.safetensors", tensors))
    files.append(
        (
            "model-embed.safetensors",
            {
                shards[0][0]: normal(*shards[0][1]),
                "model.norm.weight": torch.ones(h, dtype=torch.bfloat16),
                "lm_head.weight": normal(config.vocab_size, h),
            },
        )
    )
    total = 0
    for name, tensors in files:
        save_file(tensors, str(folder / name))
        for key, tensor in tensors.items():
            weight_map[key] = name
            total += tensor.numel()
        del tensors
    index = {"metadata": {"total_size": total * 2}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    print(f"wrote {total / 1e9:.2f} B parameters to {folder}")


def bench_streaming(folder: Path) -> dict:
    from quantviz.analysis.pipeline import analyze_weights_file
    from quantviz.model.loading import iter_safetensors_weights

    if not (folder / "model.safetensors.index.json").exists():
        write_random_llama(folder)
    largest = 0
    parameters = 0
    for _, tensor in iter_safetensors_weights(folder):
        largest = max(largest, tensor.numel())
        parameters += tensor.numel()
    started = time.perf_counter()
    baseline = current_rss_bytes()
    with PeakRSS() as rss:
        analysis = analyze_weights_file(folder)
    elapsed = time.perf_counter() - started
    return {
        "parameters": parameters,
        "layers": len(analysis.layers),
        "seconds": elapsed,
        "rss_before_bytes": baseline,
        "peak_rss_bytes": rss.peak,
        "rss_increase_bytes": rss.increase,
        "model_float32_bytes": parameters * 4,
        "largest_tensor_float32_bytes": largest * 4,
        "increase_over_largest_tensor": rss.increase / (largest * 4),
        "increase_over_model": rss.increase / (parameters * 4),
    }


def print_result(result: dict, json_path: Path | None) -> None:
    """Add the load average, print ``result`` one key a line, and write it to ``json_path``."""
    result["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    for key, value in result.items():
        if isinstance(value, float):
            print(f"{key:>32}: {value:.3f}")
        else:
            print(f"{key:>32}: {value}")
    if json_path:
        json_path.write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="smollm2", choices=["smollm2", "streaming"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/quantviz-llama-1b"))
    parser.add_argument(
        "--model", default="sample:smollm2", help="model of the first form (default SmolLM2)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = {"machine": machine(), "command": " ".join(sys.argv)}
    if args.mode == "smollm2":
        result.update(bench_smollm2(args.repeats, args.model))
    else:
        result.update(bench_streaming(args.folder))
    print_result(result, args.json)


if __name__ == "__main__":
    main()
