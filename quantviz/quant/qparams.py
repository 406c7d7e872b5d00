"""Scales and zero points: from a tensor or an observed range to :class:`QParams`.

All arithmetic is float32 whatever the input dtype. Ranges always include 0.0, so
zero is exactly representable. Non-finite values never reach a scale: they are
excluded from ranges and counted instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from quantviz.errors import QuantvizError
from quantviz.quant.spec import QuantSpec

# An all-zero range gets scale 1.0: any positive scale reproduces zeros exactly, and
# 1.0 keeps x / scale finite for the values that may arrive later.
DEGENERATE_SCALE = 1.0
# Smallest scale written: the smallest normal float32, so that 1 / scale is finite.
MIN_SCALE = torch.finfo(torch.float32).tiny
# Largest magnitude of a range end. Values beyond it saturate like other out-of-range values.
_MAX_RANGE_END = torch.finfo(torch.float32).max / 2


@dataclass
class QParams:
    """Scale and zero point of one quantized tensor.

    ``scale`` is float32 and ``zero_point`` int32, both of shape ``[]`` per tensor,
    ``[n]`` per channel (``n`` the size of ``spec.axis``) or the tensor's shape with
    ``spec.axis`` divided by ``group_size`` per group. Float formats have zero point 0.
    """

    scale: torch.Tensor
    zero_point: torch.Tensor
    spec: QuantSpec

    def broadcast_to(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return scale and zero point shaped to combine element-wise with ``x``."""
        spec = self.spec
        scale = self.scale.to(x.device)
        zero_point = self.zero_point.to(x.device)
        if spec.granularity == "tensor":
            return scale, zero_point
        axis = _normalize_axis(spec.axis, x.dim())
        if spec.granularity == "channel":
            shape = [1] * x.dim()
            shape[axis] = -1
            return scale.reshape(shape), zero_point.reshape(shape)
        group_size = int(spec.group_size or 1)
        return (
            scale.repeat_interleave(group_size, dim=axis),
            zero_point.repeat_interleave(group_size, dim=axis),
        )

    def to(self, device: torch.device | str) -> QParams:
        return QParams(self.scale.to(device), self.zero_point.to(device), self.spec)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "shape": list(self.scale.shape),
            "scale": self.scale.detach().cpu().flatten().tolist(),
            "zero_point": self.zero_point.detach().cpu().flatten().tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QParams:
        shape = tuple(data["shape"])
        scale = torch.tensor(data["scale"], dtype=torch.float32).reshape(shape)
        zero_point = torch.tensor(data["zero_point"], dtype=torch.int32).reshape(shape)
        return cls(scale, zero_point, QuantSpec.from_dict(data["spec"]))


def _normalize_axis(axis: int | None, ndim: int) -> int:
    if axis is None or not -ndim <= axis < ndim:
        raise QuantvizError(f"axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def all_finite(x: torch.Tensor) -> bool:
    """Return whether every element of ``x`` is finite, in one pass when it is.

    A finite sum implies finite elements (NaN or inf make the sum non-finite); only
    when the sum is not finite, possibly through overflow, are elements checked.
    """
    if x.numel() == 0:
        return True
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def reduction_view(x: torch.Tensor, spec: QuantSpec) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Reshape ``x`` to ``[groups, elements]`` for reduction, with the qparams shape.

    Row ``i`` of the result holds the elements that share scale ``i`` in the
    flattened qparams tensor.
    """
    if spec.granularity == "tensor":
        return x.reshape(1, -1), ()
    axis = _normalize_axis(spec.axis, x.dim())
    if spec.granularity == "channel":
        size = x.shape[axis]
        return x.movedim(axis, 0).reshape(size, -1), (size,)
    group_size = int(spec.group_size or 1)
    size = x.shape[axis]
    if size % group_size:
        raise QuantvizError(
            f"group_size {group_size} does not divide axis {axis} of size {size}; "
            f"choose a group size that divides {size}"
        )
    grouped = x.unflatten(axis, (size // group_size, group_size))
    # Put the within-group axis last; every other axis indexes a separate group.
    grouped = grouped.movedim(axis + 1, -1)
    qshape = tuple(grouped.shape[:-1])
    return grouped.reshape(-1, group_size), qshape


def tensor_range(x: torch.Tensor, spec: QuantSpec) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Return ``(min, max, nonfinite)`` of ``x`` per scale group, ignoring NaN and inf.

    ``min`` and ``max`` are float32 in the qparams shape; a group with no finite
    value gets the range ``[0, 0]``. ``nonfinite`` counts the excluded elements.
    """
    # Checked before reduction_view: reshaping an empty tensor per channel fails with
    # torch's RuntimeError ("cannot reshape tensor of 0 elements") instead.
    if x.numel() == 0:
        raise QuantvizError(
            f"cannot compute a range of an empty tensor (shape {list(x.shape)}); "
            "pass at least one value"
        )
    rows, qshape = reduction_view(x.detach().float(), spec)
    nonfinite = 0
    if not all_finite(rows):
        finite = torch.isfinite(rows)
        nonfinite = int(rows.numel() - finite.sum().item())
        low = torch.where(finite, rows, torch.inf).amin(dim=1)
        high = torch.where(finite, rows, -torch.inf).amax(dim=1)
        low = torch.where(torch.isfinite(low), low, 0.0)
        high = torch.where(torch.isfinite(high), high, 0.0)
    else:
        low, high = torch.aminmax(rows, dim=1)
    return low.reshape(qshape), high.reshape(qshape), nonfinite


def qparams_from_range(
    min_val: torch.Tensor | float, max_val: torch.Tensor | float, spec: QuantSpec
) -> QParams:
    """Compute scale and zero point that map ``[min_val, max_val]`` onto ``spec``.

    Symmetric: ``scale = max(|min|, |max|) / qmax`` (``qmax`` is 127 for INT8, 448 for
    E4M3FN, 57344 for E5M2), so the largest magnitude is exact. Asymmetric:
    ``scale = (max - min) / (qmax - qmin)`` and ``zero_point = qmin - round(min /
    scale)``, clamped to the code range. The range is first widened to contain 0.
    """
    low = torch.as_tensor(min_val, dtype=torch.float32)
    high = torch.as_tensor(max_val, dtype=torch.float32)
    if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
        raise QuantvizError(
            "range for a scale contains NaN or inf; observers exclude non-finite "
            "values, so pass the range they computed"
        )
    # Capping the range at half the largest float32 keeps ``high - low`` and
    # ``scale * qmax`` finite: otherwise a range reaching float32's max gets an
    # infinite asymmetric scale, or dequantizes its top code to inf.
    low = torch.clamp(low, -_MAX_RANGE_END, 0.0)
    high = torch.clamp(high, 0.0, _MAX_RANGE_END)

    if spec.symmetric:
        amax = torch.maximum(-low, high)
        scale = amax / float(spec.format.max_value)
        zero_point = torch.zeros_like(scale, dtype=torch.int32)
    else:
        scale = (high - low) / float(spec.qmax - spec.qmin)
        safe = torch.where(scale > 0, scale, 1.0)
        zero_point = (spec.qmin - torch.round(low / safe)).clamp(spec.qmin, spec.qmax)
        zero_point = zero_point.to(torch.int32)

    degenerate = scale <= 0
    scale = torch.where(degenerate, DEGENERATE_SCALE, scale).clamp_min(MIN_SCALE)
    if not spec.symmetric:
        # An empty range keeps 0.0 on code zero_point; pick the code for 0.0.
        zero_point = torch.where(degenerate, _zero_code(spec), zero_point)
    return QParams(scale.float(), zero_point, spec)


def _zero_code(spec: QuantSpec) -> int:
    return 0 if spec.qmin <= 0 <= spec.qmax else spec.qmin


def qparams_for_tensor(x: torch.Tensor, spec: QuantSpec) -> QParams:
    """Min-max qparams straight from a tensor (weights), per ``spec.granularity``."""
    low, high, _ = tensor_range(x, spec)
    return qparams_from_range(low, high, spec)
