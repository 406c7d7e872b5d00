"""The candidate configurations every layer is analysed with."""

from __future__ import annotations

from dataclasses import dataclass

from quantviz.errors import QuantvizError
from quantviz.quant.spec import Granularity, QuantSpec


@dataclass(frozen=True)
class Candidate:
    """A named quantization configuration whose channel axis is filled in per layer."""

    key: str
    label: str
    format: str
    granularity: Granularity = "tensor"
    symmetric: bool = True

    def spec(self, channel_axis: int | None = None, narrow_range: bool = True) -> QuantSpec:
        """Return the spec for a tensor whose channel axis is ``channel_axis``.

        Weights use the narrow INT8 range and input activations the full one, as plans do
        (:meth:`quantviz.plan.TensorConfig.input_spec`).
        """
        axis = channel_axis if self.granularity == "channel" else None
        return QuantSpec(
            self.format,
            granularity=self.granularity,
            axis=axis,
            symmetric=self.symmetric,
            narrow_range=narrow_range,
        )


FP8_E4M3_TENSOR = Candidate("fp8_e4m3_tensor", "FP8 E4M3 per tensor", "fp8_e4m3fn")
FP8_E5M2_TENSOR = Candidate("fp8_e5m2_tensor", "FP8 E5M2 per tensor", "fp8_e5m2")
INT8_SYM_TENSOR = Candidate("int8_sym_tensor", "INT8 symmetric per tensor", "int8")
INT8_SYM_CHANNEL = Candidate(
    "int8_sym_channel", "INT8 symmetric per channel", "int8", granularity="channel"
)
INT8_ASYM_TENSOR = Candidate(
    "int8_asym_tensor", "UINT8 asymmetric per tensor", "uint8", symmetric=False
)

CANDIDATES: dict[str, Candidate] = {
    c.key: c
    for c in (FP8_E4M3_TENSOR, FP8_E5M2_TENSOR, INT8_SYM_TENSOR, INT8_SYM_CHANNEL, INT8_ASYM_TENSOR)
}
WEIGHT_CANDIDATES: tuple[Candidate, ...] = (
    FP8_E4M3_TENSOR,
    FP8_E5M2_TENSOR,
    INT8_SYM_TENSOR,
    INT8_SYM_CHANNEL,
)
ACTIVATION_CANDIDATES: tuple[Candidate, ...] = (FP8_E4M3_TENSOR, INT8_SYM_TENSOR)


def get_candidates(keys: list[str] | tuple[str, ...] | None, default: tuple[Candidate, ...]):
    """Resolve candidate keys, or return ``default`` for ``None``."""
    if keys is None:
        return default
    unknown = [k for k in keys if k not in CANDIDATES]
    if unknown:
        raise QuantvizError(
            f"unknown candidate configuration(s) {', '.join(unknown)}; "
            f"choose from: {', '.join(CANDIDATES)}"
        )
    return tuple(CANDIDATES[k] for k in keys)
