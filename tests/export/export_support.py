"""Plans and text batches shared by the ONNX export tests."""

from quantviz.model.data import load_texts, make_batches
from quantviz.plan import TensorConfig, uniform_plan


def int8_plan(weight_granularity: str = "channel", **kwargs):
    """INT8 weights (per channel by default) and per-tensor INT8 inputs everywhere."""
    return uniform_plan(
        TensorConfig("int8_sym", weight_granularity, **kwargs), TensorConfig("int8_sym", "tensor")
    )


def calibration_batches(loaded, samples: int = 4):
    return make_batches(
        loaded.tokenizer,
        load_texts(split="calibration"),
        seq_len=16,
        num_samples=samples,
        batch_size=2,
    )


def evaluation_batches(loaded, samples: int = 4, seq_len: int = 24):
    return make_batches(
        loaded.tokenizer,
        load_texts(split="evaluation"),
        seq_len=seq_len,
        num_samples=samples,
        batch_size=2,
    )
