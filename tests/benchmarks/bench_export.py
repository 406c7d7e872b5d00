"""ONNX QDQ export of the sample models: candidate plans, parity, size, latency, accuracy.

    python tests/benchmarks/bench_export.py [--model minilm|smollm2|both] [--out DIR]
        [--repeats N] [--threads 1,2] [--json results.json]

For each sample model it builds the candidate plans below, exports each one with
``export_onnx``, checks it with ``check_parity`` on held-out text, and measures all of
them side by side with ``bench_onnx`` against the float32 export and ONNX Runtime's
``quantize_dynamic`` (per channel and per tensor): file size, latency per batch with 1 and
2 intra-op threads (interleaved passes, median), and accuracy against float32 (mean-pooled
embedding cosine over held-out sentences for MiniLM, perplexity over held-out windows for
SmolLM2). Scales are calibrated on the calibration split only; accuracy is measured on
the evaluation split.

MiniLM plans (embedding tables INT8 per row, weight only, in every plan):
  int8-all        INT8 weights per channel, INT8 inputs per tensor (min-max) everywhere;
  int8-ffn-w8     as int8-all, but the FFN output layers (encoder.layer.N.output.dense,
                  whose GELU inputs carry the outliers) keep float inputs (weight-only);
  int8-smooth     SmoothQuant on the norm-fed layers (alpha, folded where the norm feeds
                  only them, else a Div), SmoothQuant factors computed the same way for
                  the FFN output layers with asymmetric INT8 inputs, and the first FFN
                  output layer kept in float;
  int8-smooth-all as int8-smooth with the first FFN output layer quantized too.
Encoders are calibrated on calibration-split sentences with special tokens, the form they
see at inference, because windows of running text carry no [CLS] token and BERT's [CLS]
activations are the largest.

SmolLM2 plans (weights of every linear layer INT8 per channel; LM head and embeddings
float): int8-smooth (SmoothQuant alpha 0.5 folded into the RMSNorms, INT8 inputs per
tensor) and int8-smooth-down-w8 (the same with mlp.down_proj weight-only, because its
inputs have channels thousands of times larger than the median).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from quantviz.export.bench import bench_onnx, split_sentences
from quantviz.export.check import check_parity
from quantviz.export.onnx_export import export_float_onnx, export_onnx
from quantviz.model.data import load_texts, make_batches
from quantviz.model.layers import get_module
from quantviz.model.loading import load_model
from quantviz.plan import LayerOverride, PrecisionPlan, Rule, TensorConfig, uniform_plan
from quantviz.smoothquant import smoothing_factors, weight_input_absmax

FFN_OUTPUT = "encoder.layer.?.output.dense"
FLOAT = {"format": "float"}


def _int8_plan() -> PrecisionPlan:
    return uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym", "tensor"))


def _rule(pattern: str, weight: dict | None = None, inputs: dict | None = None) -> Rule:
    return Rule(pattern, LayerOverride(weight=weight or {}, input=inputs or {}))


def sentence_batches(tokenizer, texts, batch_size: int = 16) -> list[dict[str, torch.Tensor]]:
    """Sentences sorted by length, padded per batch, with special tokens."""
    sentences = sorted(split_sentences(texts), key=len)
    batches = []
    for start in range(0, len(sentences), batch_size):
        encoded = tokenizer(
            sentences[start : start + batch_size], padding=True, return_tensors="pt"
        )
        batches.append(
            {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        )
    return batches


def input_absmax(loaded, names: list[str], batches) -> dict[str, torch.Tensor]:
    """Per-channel max |x| of each layer's input over ``batches`` (padding included)."""
    absmax: dict[str, torch.Tensor] = {}

    def record(name):
        def hook(module, args):
            x = args[0].detach().float().abs().reshape(-1, args[0].shape[-1]).amax(dim=0)
            absmax[name] = x if name not in absmax else torch.maximum(absmax[name], x)

        return hook

    handles = [get_module(loaded.module, n).register_forward_pre_hook(record(n)) for n in names]
    try:
        with torch.inference_mode():
            for batch in batches:
                loaded.module(**batch)
    finally:
        for handle in handles:
            handle.remove()
    return absmax


def set_smoothing(loaded, plan: PrecisionPlan, names: list[str], alpha: float, batches) -> None:
    """Store SmoothQuant factors for layers whose input is not a norm output."""
    for name, absmax in input_absmax(loaded, names, batches).items():
        weight_max = weight_input_absmax(get_module(loaded.module, name), loaded.layer(name))
        plan.smoothing[name] = smoothing_factors(absmax, weight_max, alpha).tolist()


def minilm_plans(loaded, calibration, alpha: float, ffn_alpha: float) -> dict[str, PrecisionPlan]:
    embeddings = _rule(
        "embeddings.*", weight={"format": "int8_sym", "granularity": "channel"}, inputs=FLOAT
    )
    plans = {}
    plan = _int8_plan()
    plan.rules = [embeddings]
    plans["int8-all"] = plan

    plan = _int8_plan()
    plan.rules = [embeddings, _rule(FFN_OUTPUT, inputs=FLOAT)]
    plans["int8-ffn-w8"] = plan

    plan = _int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=alpha)
    plan.rules = [
        embeddings,
        _rule(FFN_OUTPUT, inputs={"format": "int8_asym"}),
        _rule("encoder.layer.0.output.dense", weight=FLOAT, inputs=FLOAT),
    ]
    ffn_outputs = [info.name for info in loaded.layers if info.name.endswith(".output.dense")]
    ffn_outputs = [name for name in ffn_outputs if ".attention." not in name]
    set_smoothing(loaded, plan, ffn_outputs, ffn_alpha, calibration)
    plans["int8-smooth"] = plan

    plan = plans["int8-smooth"].copy()
    plan.rules = plan.rules[:2]
    plans["int8-smooth-all"] = plan
    return plans


def smollm2_plans() -> dict[str, PrecisionPlan]:
    plans = {}
    plan = _int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=0.5)
    plans["int8-smooth"] = plan
    plan = _int8_plan()
    plan.defaults = replace(plan.defaults, smoothquant_alpha=0.5)
    plan.rules = [_rule("*.mlp.down_proj", inputs=FLOAT)]
    plans["int8-smooth-down-w8"] = plan
    return plans


def run_model(model: str, args: argparse.Namespace, out: Path) -> dict:
    started = time.time()
    if model == "minilm":
        loaded = load_model("sample:minilm", include_embeddings=True)
        calibration = sentence_batches(loaded.tokenizer, load_texts(split="calibration"))
        plans = minilm_plans(loaded, calibration, args.alpha, args.ffn_alpha)
        check_batches = sentence_batches(loaded.tokenizer, load_texts(split="evaluation"), 32)[:2]
    else:
        loaded = load_model("sample:smollm2")
        calibration = make_batches(
            loaded.tokenizer, load_texts(split="calibration"), seq_len=128, num_samples=16
        )
        plans = smollm2_plans()
        check_batches = make_batches(
            loaded.tokenizer,
            load_texts(split="evaluation"),
            seq_len=128,
            num_samples=2,
            batch_size=2,
        )
    float_path = out / f"{model}.float.onnx"
    export_float_onnx(loaded, float_path)
    record: dict = {"model": model, "plans": {}}
    paths = {}
    for name, plan in plans.items():
        path = out / f"{model}-{name}.onnx"
        began = time.time()
        result = export_onnx(loaded, plan, path, calib_batches=calibration)
        exported = time.time() - began
        report = check_parity(loaded, plan, path, check_batches)
        print(
            f"{model} {name}: exported in {exported:.0f} s, {result.size_bytes / 1e6:.1f} MB; "
            f"parity {'passed' if report.passed else 'FAILED'}, flipped "
            f"{report.flipped_fraction:.1e}, forced output error "
            f"{max(o.relative_rms_error for o in report.forced_outputs):.1e}, free-running "
            f"{max(o.relative_rms_error for o in report.outputs):.1e}",
            flush=True,
        )
        for note in report.notes:
            print(f"  note: {note}", flush=True)
        record["plans"][name] = {
            "export": {
                "seconds": exported,
                "size_bytes": result.size_bytes,
                "opset": result.opset,
                "layers": len(result.layers),
                "float_layers": len(result.float_layers),
                "folded_smoothing": len(result.folded_smoothing),
                "divided_smoothing": len(result.divided_smoothing),
            },
            "parity": report.to_dict(),
        }
        paths[name] = path
    first, *rest = plans
    texts = load_texts(split="evaluation")
    bench = bench_onnx(
        paths[first],
        float_path,
        texts,
        tokenizer=loaded.tokenizer,
        name=first,
        others={name: paths[name] for name in rest},
        threads=args.threads,
        repeats=args.repeats,
        items=args.items,
    )
    print(
        f"\n{model}: {bench.items} {bench.item_kind}, {bench.batches} batches of up to "
        f"{bench.batch_size}, median of {bench.repeats} interleaved passes"
    )
    print(bench.table())
    for note in bench.notes:
        print(f"note: {note}")
    print(f"({time.time() - started:.0f} s)\n", flush=True)
    record["bench"] = bench.to_dict()
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("minilm", "smollm2", "both"), default="both")
    parser.add_argument("--out", default="/tmp/quantviz-bench-export", help="output folder")
    parser.add_argument("--repeats", type=int, default=7, help="timed passes (default 7)")
    parser.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    parser.add_argument("--items", type=int, default=256, help="sentences or windows")
    parser.add_argument("--alpha", type=float, default=0.7, help="SmoothQuant alpha (MiniLM)")
    parser.add_argument(
        "--ffn-alpha", type=float, default=0.75, help="SmoothQuant alpha of FFN outputs (MiniLM)"
    )
    parser.add_argument("--json", default=None, help="write all results to this file")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = ["minilm", "smollm2"] if args.model == "both" else [args.model]
    results = [run_model(model, args, out) for model in models]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
