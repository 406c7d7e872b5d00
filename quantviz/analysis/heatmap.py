"""Down-sampled maps of quantization error and activation magnitude."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from quantviz.errors import QuantvizError

DEFAULT_HEATMAP_SIZE = 256


@dataclass
class Heatmap:
    """A 2-D map ``values[row][col]`` of a larger matrix pooled over blocks.

    ``shape`` is the original matrix's shape; each cell covers about
    ``shape[0] / rows`` by ``shape[1] / cols`` elements.
    """

    values: list[list[float]]
    shape: tuple[int, int]
    row_label: str
    col_label: str
    pooling: str

    def to_tensor(self) -> torch.Tensor:
        return torch.tensor(self.values, dtype=torch.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "shape": list(self.shape),
            "row_label": self.row_label,
            "col_label": self.col_label,
            "pooling": self.pooling,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Heatmap:
        return cls(
            values=data["values"],
            shape=(int(data["shape"][0]), int(data["shape"][1])),
            row_label=data["row_label"],
            col_label=data["col_label"],
            pooling=data["pooling"],
        )


def as_out_in(weight: torch.Tensor, out_axis: int) -> torch.Tensor:
    """View a weight as ``[out_channels, everything else]`` (transposes GPT-2 Conv1D)."""
    if weight.dim() < 2:
        return weight.reshape(-1, 1)
    moved = weight.movedim(out_axis, 0)
    return moved.reshape(moved.shape[0], -1)


def pool_matrix(
    matrix: torch.Tensor,
    max_size: int = DEFAULT_HEATMAP_SIZE,
    pooling: Literal["max", "mean"] = "max",
) -> torch.Tensor:
    """Pool a 2-D tensor down to at most ``max_size`` rows and columns."""
    if pooling not in ("max", "mean"):
        raise QuantvizError(f"pooling must be 'max' or 'mean'; got {pooling!r}")
    if max_size < 1:
        raise QuantvizError(f"heatmap size must be at least 1; got {max_size!r}")
    rows, cols = matrix.shape
    size = (min(rows, max_size), min(cols, max_size))
    image = matrix.float()[None, None]
    if pooling == "max":
        pooled = F.adaptive_max_pool2d(image, size)
    else:
        pooled = F.adaptive_avg_pool2d(image, size)
    return pooled[0, 0]


def error_heatmap(
    weight: torch.Tensor,
    quantized: torch.Tensor,
    out_axis: int,
    max_size: int = DEFAULT_HEATMAP_SIZE,
    pooling: Literal["max", "mean"] = "max",
) -> Heatmap:
    """``|W - Q(W)|`` as output channels x input channels, pooled to ``max_size``."""
    error = (as_out_in(weight, out_axis).float() - as_out_in(quantized, out_axis).float()).abs()
    error = torch.nan_to_num(error, nan=0.0, posinf=0.0)
    return error_heatmap_from_abs(error, max_size, pooling)


def error_heatmap_from_abs(
    error: torch.Tensor,
    max_size: int = DEFAULT_HEATMAP_SIZE,
    pooling: Literal["max", "mean"] = "max",
) -> Heatmap:
    """Heatmap of a finite ``|W - Q(W)|`` already shaped output channels x input channels."""
    pooled = pool_matrix(error, max_size, pooling)
    return Heatmap(
        values=_compact(pooled),
        shape=(int(error.shape[0]), int(error.shape[1])),
        row_label="output channel",
        col_label="input channel",
        pooling=pooling,
    )


def activation_heatmap(sample: torch.Tensor, max_size: int = DEFAULT_HEATMAP_SIZE) -> Heatmap:
    """``|x|`` of a ``[tokens, channels]`` activation sample, max-pooled."""
    magnitude = torch.nan_to_num(sample.float().abs(), nan=0.0, posinf=0.0)
    pooled = pool_matrix(magnitude, max_size, "max")
    return Heatmap(
        values=_compact(pooled),
        shape=(int(sample.shape[0]), int(sample.shape[1])),
        row_label="token",
        col_label="channel",
        pooling="max",
    )


def _compact(matrix: torch.Tensor) -> list[list[float]]:
    return [[float(f"{v:.4g}") for v in row] for row in matrix.tolist()]
