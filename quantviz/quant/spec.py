"""How a tensor is mapped onto a format: granularity, axis, symmetry, range."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from quantviz.errors import QuantvizError
from quantviz.formats import FloatFormat, IntFormat, NumericFormat, get_format

Granularity = Literal["tensor", "channel", "group"]
GRANULARITIES: tuple[str, ...] = ("tensor", "channel", "group")


@dataclass(frozen=True)
class QuantSpec:
    """A format plus the way scales are shared across a tensor.

    * ``granularity="tensor"``: one scale for the whole tensor.
    * ``granularity="channel"``: one scale per index along ``axis`` (0 for an
      ``nn.Linear`` weight ``[out, in]``; 1 for GPT-2's ``Conv1D`` weight ``[in, out]``).
    * ``granularity="group"``: one scale per ``group_size`` consecutive elements along
      ``axis`` (the input axis of a weight), separately for every index of the other
      axes, as ONNX ``QuantizeLinear``'s ``block_size`` does.

    ``symmetric`` integer specs have zero point 0; with ``narrow_range`` a signed grid
    drops its most negative code (INT8 uses ``[-127, 127]``), which most deployment
    stacks expect. Asymmetric specs choose an integer zero point so that 0.0 is exact.
    Float formats are symmetric only, because a float zero point cannot be exported.
    """

    format: NumericFormat
    granularity: Granularity = "tensor"
    axis: int | None = None
    group_size: int | None = None
    symmetric: bool = True
    narrow_range: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", get_format(self.format))
        if self.granularity not in GRANULARITIES:
            raise QuantvizError(
                f"granularity must be one of {', '.join(GRANULARITIES)}; got {self.granularity!r}"
            )
        if self.granularity in ("channel", "group") and self.axis is None:
            raise QuantvizError(
                f"granularity {self.granularity!r} needs an axis, for example "
                f"QuantSpec('int8', granularity={self.granularity!r}, axis=0)"
            )
        if self.granularity == "group" and (self.group_size is None or self.group_size < 1):
            raise QuantvizError(
                f"granularity 'group' needs a positive group_size; got {self.group_size!r}"
            )
        if isinstance(self.format, FloatFormat) and not self.symmetric:
            raise QuantvizError(
                f"format {self.format.name} supports symmetric scales only (zero point 0); "
                "use symmetric=True, or an integer format for asymmetric ranges"
            )

    @property
    def qmin(self) -> int:
        """Lowest integer code used (integer formats only)."""
        fmt = self._int_format()
        if self.symmetric and self.narrow_range and fmt.signed:
            return fmt.qmin + 1
        return fmt.qmin

    @property
    def qmax(self) -> int:
        return self._int_format().qmax

    @property
    def is_float(self) -> bool:
        return isinstance(self.format, FloatFormat)

    @property
    def label(self) -> str:
        """Short human-readable name, e.g. ``int8 sym per-channel(0)``."""
        parts = [self.format.name]
        if not self.is_float:
            parts.append("sym" if self.symmetric else "asym")
        if self.granularity == "tensor":
            parts.append("per-tensor")
        elif self.granularity == "channel":
            parts.append(f"per-channel({self.axis})")
        else:
            parts.append(f"group{self.group_size}({self.axis})")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format.name,
            "granularity": self.granularity,
            "axis": self.axis,
            "group_size": self.group_size,
            "symmetric": self.symmetric,
            "narrow_range": self.narrow_range,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantSpec:
        return cls(
            format=data["format"],
            granularity=data.get("granularity", "tensor"),
            axis=data.get("axis"),
            group_size=data.get("group_size"),
            symmetric=data.get("symmetric", True),
            narrow_range=data.get("narrow_range", True),
        )

    def _int_format(self) -> IntFormat:
        if not isinstance(self.format, IntFormat):
            raise TypeError(f"{self.format.name} has no integer code range")
        return self.format
