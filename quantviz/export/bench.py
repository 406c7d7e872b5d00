"""Benchmark an exported model against its float32 export and ONNX Runtime's own quantizer.

:func:`bench_onnx` measures, in one process and side by side: file size, latency per batch
with each ``intra_op_num_threads`` setting, and accuracy against the float32 ONNX model
(mean-pooled embedding cosine for encoders, perplexity for causal LMs). The baselines are
the float32 export and ``onnxruntime.quantization.quantize_dynamic`` of the same float
model, per tensor and per channel. Runs are interleaved (every repeat times every model
once, in a rotating order) and the median of the repeats is reported, because machines
shared with other jobs drift during a measurement.

FP8 QDQ models run on ONNX Runtime's CPU provider only as a simulation, because it has
no FP8 kernels and runs FP8 ``DequantizeLinear`` before float MatMuls. Their accuracy and
size are meaningful but their latency is not, and FP8 speed needs an FP8-capable runtime.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from quantviz.analysis.evaluation import OutputComparison, mean_pool
from quantviz.analysis.metrics import json_float
from quantviz.errors import QuantvizError
from quantviz.export.onnx_export import file_size
from quantviz.export.runtime import create_session, feeds, read_metadata
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)

logger = logging.getLogger(__name__)

DEFAULT_ITEMS = 256
DEFAULT_REPEATS = 7
DEFAULT_THREADS = (1, 2)
ENCODER_BATCH_SIZE = 32
CAUSAL_BATCH_SIZE = 4
CAUSAL_SEQ_LEN = 128
FP8_NOTE = (
    "FP8 QDQ runs on ONNX Runtime's CPU provider only as a simulation (no FP8 kernels): "
    "its accuracy and size are real, its latency is not; FP8 speed needs an FP8-capable "
    "runtime"
)
# Kernels that show which execution path ONNX Runtime chose after its graph optimizations.
KERNELS = (
    "MatMulIntegerToFloat",
    "QLinearMatMul",
    "QGemm",
    "DynamicQuantizeMatMul",
    "MatMulInteger",
    "MatMulNBits",
    "MatMul",
    "Gemm",
    "QuantizeLinear",
    "DequantizeLinear",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FLOAT8_TYPES = (onnx.TensorProto.FLOAT8E4M3FN, onnx.TensorProto.FLOAT8E5M2)


@dataclass
class ModelBench:
    """Measurements of one ONNX model. ``latency_ms`` and ``speedup`` are keyed by thread
    count; ``speedup`` and ``size_ratio`` are float32 over this model."""

    name: str
    path: str
    size_bytes: int
    size_ratio: float
    latency_ms: dict[int, float] = field(default_factory=dict)
    speedup: dict[int, float] = field(default_factory=dict)
    accuracy: dict[str, Any] = field(default_factory=dict)
    kernels: dict[str, int] = field(default_factory=dict)
    fp8: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "size_ratio": self.size_ratio,
            "latency_ms": {str(k): v for k, v in self.latency_ms.items()},
            "speedup": {str(k): v for k, v in self.speedup.items()},
            "accuracy": {k: json_float(v) for k, v in self.accuracy.items()},
            "kernels": dict(self.kernels),
            "fp8": self.fp8,
        }


@dataclass
class BenchResult:
    """Result of :func:`bench_onnx`: one :class:`ModelBench` per model, float32 first."""

    task: str
    items: int
    item_kind: str
    batch_size: int
    batches: int
    threads: list[int]
    repeats: int
    models: list[ModelBench]
    machine: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "items": self.items,
            "item_kind": self.item_kind,
            "batch_size": self.batch_size,
            "batches": self.batches,
            "threads": list(self.threads),
            "repeats": self.repeats,
            "machine": dict(self.machine),
            "notes": list(self.notes),
            "models": [model.to_dict() for model in self.models],
        }

    def table(self) -> str:
        """Format the measurements as a Markdown table, one row per model."""
        if self.task == "causal_lm":
            accuracy_header = "perplexity | change"
        else:
            accuracy_header = "mean cosine | min cosine"
        latency_headers = " | ".join(f"ms/batch {t}T | speedup {t}T" for t in self.threads)
        lines = [
            f"| model | size MB | smaller | {latency_headers} | {accuracy_header} |",
            "|" + " --- |" * (5 + 2 * len(self.threads)),
        ]
        for model in self.models:
            cells = [model.name, f"{model.size_bytes / 1e6:.1f}", f"{model.size_ratio:.2f}x"]
            for threads in self.threads:
                latency = model.latency_ms.get(threads)
                cells.append(f"{latency:.1f}" if latency is not None else "-")
                speedup = model.speedup.get(threads)
                mark = " (sim)" if model.fp8 else ""
                cells.append(f"{speedup:.2f}x{mark}" if speedup is not None else "-")
            if self.task == "causal_lm":
                cells.append(f"{model.accuracy.get('perplexity', float('nan')):.3f}")
                change = model.accuracy.get("perplexity_change")
                cells.append(f"{100 * change:+.2f}%" if change is not None else "-")
            else:
                cells.append(f"{model.accuracy.get('mean_cosine', float('nan')):.5f}")
                cells.append(f"{model.accuracy.get('min_cosine', float('nan')):.5f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def split_sentences(texts: Sequence[str]) -> list[str]:
    """Split paragraphs into sentences at ``.``, ``!`` or ``?`` followed by white space."""
    sentences = []
    for text in texts:
        for sentence in _SENTENCE_END.split(text):
            sentence = " ".join(sentence.split())
            if sentence:
                sentences.append(sentence)
    return sentences


def encoder_batches(
    tokenizer: Any, texts: Sequence[str], *, items: int, batch_size: int
) -> tuple[list[dict[str, np.ndarray]], int, list[str]]:
    """Sentences from ``texts`` (each used once, in order), tokenized and padded per batch."""
    sentences = split_sentences(texts)
    notes = []
    if len(sentences) < items:
        notes.append(
            f"the text gives {len(sentences)} sentences, fewer than the {items} requested; "
            f"all {len(sentences)} are used once"
        )
    sentences = sentences[:items]
    if not sentences:
        raise QuantvizError("the benchmark text contains no sentences; pass a text with some")
    batches = []
    for start in range(0, len(sentences), batch_size):
        encoded = tokenizer(
            sentences[start : start + batch_size],
            padding=True,
            truncation=True,
            return_tensors="np",
        )
        batches.append(
            {
                "input_ids": encoded["input_ids"].astype(np.int64),
                "attention_mask": encoded["attention_mask"].astype(np.int64),
            }
        )
    return batches, len(sentences), notes


def causal_batches(
    tokenizer: Any, texts: Sequence[str], *, items: int, batch_size: int, seq_len: int
) -> tuple[list[dict[str, np.ndarray]], int, list[str]]:
    """Consecutive windows of ``seq_len`` tokens (see :func:`make_batches`), as numpy."""
    from quantviz.model.data import make_batches

    batches = make_batches(
        tokenizer, list(texts), seq_len=seq_len, num_samples=items, batch_size=batch_size
    )
    windows = sum(int(batch["input_ids"].shape[0]) for batch in batches)
    notes = []
    if windows < items:
        notes.append(
            f"the text gives {windows} windows of {seq_len} tokens, fewer than the {items} "
            f"requested; all {windows} are used once"
        )
    converted = [{key: value.numpy() for key, value in batch.items()} for batch in batches]
    return converted, windows, notes


def is_fp8_model(path: str | Path) -> bool:
    """Tell whether the model stores FP8 codes (initializers or QuantizeLinear outputs)."""
    model = onnx.load(str(path), load_external_data=False)
    if any(tensor.data_type in _FLOAT8_TYPES for tensor in model.graph.initializer):
        return True
    zero_points = {
        tensor.name for tensor in model.graph.initializer if tensor.data_type in _FLOAT8_TYPES
    }
    return any(
        node.op_type == "QuantizeLinear" and len(node.input) > 2 and node.input[2] in zero_points
        for node in model.graph.node
    )


def optimized_kernels(path: str | Path) -> dict[str, int]:
    """Count the kernels of interest in the graph ONNX Runtime runs after optimization."""
    with tempfile.TemporaryDirectory(prefix="quantviz-kernels-") as folder:
        target = Path(folder) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(target)
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(target), load_external_data=False)
    counts = Counter(node.op_type for node in model.graph.node)
    return {kernel: counts[kernel] for kernel in KERNELS if counts[kernel]}


def quantize_dynamic_baselines(float_path: Path, folder: Path) -> dict[str, Path]:
    """ONNX Runtime's ``quantize_dynamic`` (INT8 weights) per channel and per tensor."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = file_size(float_path) > 1_900_000_000
    outputs = {}
    for name, per_channel in (("ort dynamic per channel", True), ("ort dynamic per tensor", False)):
        target = folder / ("dynamic_channel.onnx" if per_channel else "dynamic_tensor.onnx")
        quantize_dynamic(
            str(float_path),
            str(target),
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            use_external_data_format=external,
        )
        outputs[name] = target
    return outputs


def machine_info() -> dict[str, str]:
    """CPU model, core count, OS and library versions of this machine."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _accuracy_output(
    task: str, session: ort.InferenceSession, outputs: list[np.ndarray], batch: dict[str, Any]
) -> torch.Tensor:
    names = [output.name for output in session.get_outputs()]
    values = dict(zip(names, outputs, strict=True))
    if task == "causal_lm":
        return torch.from_numpy(values[names[0]]).float()
    if "sentence_embedding" in values:
        return torch.from_numpy(values["sentence_embedding"]).float()
    hidden = torch.from_numpy(values[names[0]]).float()
    return mean_pool(hidden, torch.from_numpy(batch["attention_mask"]))


def _run_pass(session: ort.InferenceSession, batches: list[dict[str, np.ndarray]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        session.run(None, feeds(session, batch))
    return time.perf_counter() - start


def bench_onnx(
    onnx_path: str | Path,
    float_onnx_path: str | Path,
    texts: Sequence[str],
    *,
    tokenizer: Any,
    task: str | None = None,
    name: str = "quantviz",
    items: int = DEFAULT_ITEMS,
    batch_size: int | None = None,
    seq_len: int = CAUSAL_SEQ_LEN,
    threads: Sequence[int] = DEFAULT_THREADS,
    repeats: int = DEFAULT_REPEATS,
    dynamic_baselines: bool = True,
    others: dict[str, str | Path] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> BenchResult:
    """Measure ``onnx_path`` against the float32 model and ``quantize_dynamic`` baselines.

    ``texts`` should be held-out text. Encoders get up to ``items`` sentences, each
    used once, in padded batches of ``batch_size`` (default 32). Causal LMs get up to
    ``items`` windows of ``seq_len`` tokens in batches of ``batch_size`` (default 4).
    ``task`` defaults to the one recorded in the ONNX metadata. Latency is the median
    over ``repeats`` interleaved passes over all batches, divided by the number of
    batches. ``others`` adds more ONNX models (name to path), measured in the same runs.
    """
    onnx_path, float_onnx_path = Path(onnx_path), Path(float_onnx_path)
    others = {key: Path(path) for key, path in (others or {}).items()}
    for path in (onnx_path, float_onnx_path, *others.values()):
        if not path.is_file():
            raise QuantvizError(f"ONNX file {path} not found")
    task = task or read_metadata(onnx_path).get("task")
    if task not in ("encoder", "causal_lm"):
        raise QuantvizError(
            f"{onnx_path} records no task (encoder or causal_lm); pass task= explicitly"
        )
    if repeats < 1 or not threads or any(t < 1 for t in threads):
        raise QuantvizError("repeats and every thread count must be positive integers")
    if tokenizer is None:
        raise QuantvizError("the benchmark needs the model's tokenizer to turn text into inputs")
    if task == "causal_lm":
        batch_size = batch_size or CAUSAL_BATCH_SIZE
        batches, count, notes = causal_batches(
            tokenizer, texts, items=items, batch_size=batch_size, seq_len=seq_len
        )
        kind = f"windows of {seq_len} tokens"
    else:
        batch_size = batch_size or ENCODER_BATCH_SIZE
        batches, count, notes = encoder_batches(
            tokenizer, texts, items=items, batch_size=batch_size
        )
        kind = "sentences"

    with tempfile.TemporaryDirectory(prefix="quantviz-bench-") as folder:
        paths = {"float32": float_onnx_path, name: onnx_path, **others}
        if dynamic_baselines:
            progress(ProgressEvent(0, 1, "quantize_dynamic", "baselines"))
            paths.update(quantize_dynamic_baselines(float_onnx_path, Path(folder)))
        cancel.raise_if_cancelled()
        results = {
            key: ModelBench(key, str(path), file_size(path), 0.0, fp8=is_fp8_model(path))
            for key, path in paths.items()
        }
        for key, path in paths.items():
            results[key].kernels = optimized_kernels(path)
            results[key].size_ratio = results["float32"].size_bytes / results[key].size_bytes
        if any(model.fp8 for model in results.values()):
            notes.append(FP8_NOTE)
        weight_only = [key for key, model in results.items() if model.kernels.get("MatMulNBits")]
        if weight_only:
            notes.append(
                f"{', '.join(weight_only)}: ONNX Runtime runs weight-only INT8 layers as "
                "MatMulNBits, which at its default accuracy level (4) quantizes their float "
                "inputs to int8 on the fly, so their outputs differ from the graph's float "
                "computation"
            )
        _measure(results, paths, batches, task, threads, repeats, progress, cancel)

    return BenchResult(
        task=task,
        items=count,
        item_kind=kind,
        batch_size=batch_size,
        batches=len(batches),
        threads=list(threads),
        repeats=repeats,
        models=list(results.values()),
        machine=machine_info(),
        notes=notes,
    )


def _measure(
    results: dict[str, ModelBench],
    paths: dict[str, Path],
    batches: list[dict[str, np.ndarray]],
    task: str,
    threads: Sequence[int],
    repeats: int,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> None:
    keys = list(paths)
    total = len(threads) * repeats
    step = 0
    for thread_count in threads:
        sessions = {key: create_session(paths[key], threads=thread_count) for key in keys}
        if not results["float32"].accuracy:
            # Scoring also warms every session up.
            _score(results, sessions, batches, task, cancel)
        else:
            for key in keys:
                _run_pass(sessions[key], batches[:1])
        timings: dict[str, list[float]] = {key: [] for key in keys}
        for repeat in range(repeats):
            order = keys[repeat % len(keys) :] + keys[: repeat % len(keys)]
            for key in order:
                cancel.raise_if_cancelled()
                timings[key].append(_run_pass(sessions[key], batches))
            step += 1
            progress(ProgressEvent(step, total, f"{thread_count} threads", "benchmark"))
        reference = statistics.median(timings["float32"])
        for key in keys:
            median = statistics.median(timings[key])
            results[key].latency_ms[thread_count] = 1000.0 * median / len(batches)
            results[key].speedup[thread_count] = reference / median
        del sessions


def _score(
    results: dict[str, ModelBench],
    sessions: dict[str, ort.InferenceSession],
    batches: list[dict[str, np.ndarray]],
    task: str,
    cancel: CancelToken,
) -> None:
    """Compare every model's outputs with float32's, one batch at a time (LM logits are
    large, so no batch's outputs are kept)."""
    comparisons = {key: OutputComparison(task) for key in results}
    for batch in batches:
        cancel.raise_if_cancelled()
        float_session = sessions["float32"]
        reference = _accuracy_output(
            task, float_session, float_session.run(None, feeds(float_session, batch)), batch
        )
        torch_batch = {name: torch.from_numpy(value) for name, value in batch.items()}
        for key, session in sessions.items():
            output = _accuracy_output(
                task, session, session.run(None, feeds(session, batch)), batch
            )
            comparisons[key].add(reference, output, torch_batch)
    for key, model in results.items():
        data = comparisons[key].to_dict()
        if task == "causal_lm":
            model.accuracy = {
                "perplexity": data["perplexity_quant"],
                "perplexity_float": data["perplexity_float"],
                "perplexity_change": data["perplexity_change"],
                "kl": data["kl"],
            }
        else:
            model.accuracy = {
                "mean_cosine": data["mean_cosine"],
                "min_cosine": data["min_cosine"],
                "sequences": data["sequences"],
            }
