"""Scale math, fake quantization (with STE and LSQ gradients) and observers."""

from quantviz.quant.autograd import fake_quantize_lsq, fake_quantize_ste, lsq_grad_scale
from quantviz.quant.functional import (
    clipped_mask,
    dequantize,
    emulate_float_rounding,
    fake_quantize,
    quantize,
    round_to_float_format,
)
from quantviz.quant.observers import (
    OBSERVERS,
    EntropyObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MSEObserver,
    Observer,
    PercentileObserver,
    make_observer,
)
from quantviz.quant.qparams import (
    QParams,
    qparams_for_tensor,
    qparams_from_range,
    reduction_view,
    tensor_range,
)
from quantviz.quant.spec import GRANULARITIES, QuantSpec

__all__ = [
    "GRANULARITIES",
    "OBSERVERS",
    "EntropyObserver",
    "MSEObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "Observer",
    "PercentileObserver",
    "QParams",
    "QuantSpec",
    "clipped_mask",
    "dequantize",
    "emulate_float_rounding",
    "fake_quantize",
    "fake_quantize_lsq",
    "fake_quantize_ste",
    "lsq_grad_scale",
    "make_observer",
    "qparams_for_tensor",
    "qparams_from_range",
    "quantize",
    "reduction_view",
    "round_to_float_format",
    "tensor_range",
]
