"""Calibration of a model larger than its memory budget, with accelerate's disk offload.

    python tests/benchmarks/bench_offload.py [--folder /tmp/quantviz-llama-1b]
        [--max-memory 1GiB] [--batches 2] [--batch-size 2] [--seq-len 128] [--json FILE]

Writes the random Llama of about 1.1 B parameters that ``bench_analysis.py streaming``
uses (bf16 safetensors shards, once). Then loads it with ``device_map="auto"`` and
``max_memory={"cpu": MAX_MEMORY}``, calibrates every linear layer on random token ids
(the folder has no tokenizer) and analyses the weights through the offload. Prints
the time of each stage and where accelerate put the modules. It also prints the peak
RSS during loading, calibration and weight analysis against the model's float32 size,
both raw and over the RSS of the process before loading (torch, transformers and
quantviz imported).

NOTE: RSS counts the pages of the memory-mapped safetensors shards that loading reads.
In a separate measurement of ``from_pretrained`` alone on the 1.1 B model with a 1 GiB
budget, 2.3 GB of its 3.5 GB peak RSS were such file pages (``RssFile`` in
/proc/self/status), which the kernel can drop, and 1.2 GB anonymous memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analysis import machine, print_result, write_random_llama
from rss import PeakRSS, current_rss_bytes


def random_batches(
    vocab_size: int, batches: int, batch_size: int, seq_len: int
) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    result = []
    for _ in range(batches):
        input_ids = torch.randint(0, vocab_size, (batch_size, seq_len), generator=generator)
        result.append({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)})
    return result


def bench_offload(args: argparse.Namespace) -> dict:
    from quantviz.analysis.weights import analyze_weights, model_weights
    from quantviz.model.calibration import calibrate
    from quantviz.model.loading import load_model
    from quantviz.model.offload import offloaded_modules

    if not (args.folder / "model.safetensors.index.json").exists():
        write_random_llama(args.folder)
    offload_folder = args.folder.parent / f"{args.folder.name}-offload"
    rss_before = current_rss_bytes()

    with PeakRSS() as load_rss:
        started = time.perf_counter()
        loaded = load_model(
            str(args.folder),
            device_map="auto",
            max_memory={"cpu": args.max_memory},
            offload_folder=offload_folder,
        )
        load_s = time.perf_counter() - started
    parameters = sum(parameter.numel() for parameter in loaded.module.parameters())
    placement: dict[str, int] = {}
    for device in (loaded.device_map or {}).values():
        placement[str(device)] = placement.get(str(device), 0) + 1
    offloaded_layers = set(offloaded_modules(loaded.module))
    batches = random_batches(loaded.config.vocab_size, args.batches, args.batch_size, args.seq_len)

    with PeakRSS() as calibration_rss:
        started = time.perf_counter()
        calibration = calibrate(loaded, batches)
        calibration_s = time.perf_counter() - started

    with PeakRSS() as weights_rss:
        started = time.perf_counter()
        analyze_weights(model_weights(loaded), len(loaded.layers))
        weights_s = time.perf_counter() - started

    float_bytes = parameters * 4
    peak = max(load_rss.peak, calibration_rss.peak, weights_rss.peak)
    return {
        "parameters": parameters,
        "model_float32_bytes": float_bytes,
        "max_memory_cpu": args.max_memory,
        "placement": placement,
        "layers": len(loaded.layers),
        "offloaded_layers": sum(info.name in offloaded_layers for info in loaded.layers),
        "offload_folder_files": len(list(offload_folder.glob("*")))
        if offload_folder.exists()
        else 0,
        "calibration_tokens": calibration.tokens,
        "load_s": load_s,
        "calibration_s": calibration_s,
        "weight_analysis_s": weights_s,
        "rss_before_bytes": rss_before,
        "peak_rss_load_bytes": load_rss.peak,
        "peak_rss_calibration_bytes": calibration_rss.peak,
        "peak_rss_weights_bytes": weights_rss.peak,
        "peak_rss_over_model": peak / float_bytes,
        "peak_rss_increase_over_model": (peak - rss_before) / float_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/quantviz-llama-1b"))
    parser.add_argument("--max-memory", default="1GiB", help="CPU memory budget for accelerate")
    parser.add_argument("--batches", type=int, default=2, help="calibration batches")
    parser.add_argument("--batch-size", type=int, default=2, help="sequences per batch")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import quantviz.analysis.pipeline  # noqa: F401  (the libraries the analysis loads)

    result = {"machine": machine(), "command": " ".join(sys.argv)}
    result.update(bench_offload(args))
    print_result(result, args.json)


if __name__ == "__main__":
    main()
