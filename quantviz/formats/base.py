"""The two format families as data: integer grids and small floating-point grids.

A format says which values it can hold; how a tensor is scaled onto it lives in
:mod:`quantviz.quant`. Adding INT4 or FP4 E2M1 is a new instance, not new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from onnx import TensorProto


@dataclass(frozen=True)
class IntFormat:
    """A two's-complement (``signed``) or unsigned integer grid of ``bits`` bits."""

    name: str
    bits: int
    signed: bool
    onnx_dtype: int
    storage_dtype: torch.dtype
    """torch dtype that holds the codes (int4 codes are held in int8)."""

    family: Literal["int"] = "int"

    @property
    def qmin(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def max_value(self) -> float:
        return float(self.qmax)

    def grid(self) -> torch.Tensor:
        """All representable codes as float32, ascending; shape ``[2**bits]``."""
        return torch.arange(self.qmin, self.qmax + 1, dtype=torch.float32)


@dataclass(frozen=True)
class FloatFormat:
    """A sign-exponent-mantissa format with ``exponent_bits`` and ``mantissa_bits``.

    ``specials`` selects what the top exponent field encodes:

    * ``"ieee"``: infinities and NaNs, as in IEEE 754 (FP8 E5M2);
    * ``"fn"``: finite only, with the all-ones exponent and mantissa pattern as NaN
      (FP8 E4M3FN in the OCP 8-bit floating point specification);
    * ``"none"``: finite only and no NaN (FP4 E2M1 in the OCP microscaling
      specification).
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    specials: Literal["ieee", "fn", "none"]
    onnx_dtype: int | None
    torch_dtype: torch.dtype | None
    """Native torch dtype, if torch has one; other formats are emulated in float32."""

    family: Literal["float"] = "float"

    @property
    def bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def max_exponent(self) -> int:
        """Unbiased exponent of the largest finite value."""
        top_field = 2**self.exponent_bits - 1
        if self.specials == "ieee":
            top_field -= 1
        return top_field - self.bias

    @property
    def max_value(self) -> float:
        mantissa_steps = 2**self.mantissa_bits - 1
        if self.specials == "fn":
            # The all-ones mantissa at the top exponent is NaN, so one step less.
            mantissa_steps -= 1
        return 2.0**self.max_exponent * (1 + mantissa_steps / 2**self.mantissa_bits)

    @property
    def min_normal(self) -> float:
        return 2.0 ** (1 - self.bias)

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (1 - self.bias - self.mantissa_bits)

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    def grid(self) -> torch.Tensor:
        """All finite representable values as float32, ascending, with a single zero."""
        steps = 2**self.mantissa_bits
        exponents = torch.arange(1 - self.bias, self.max_exponent + 1, dtype=torch.float32)
        fractions = 1 + torch.arange(steps, dtype=torch.float32) / steps
        normals = (torch.exp2(exponents)[:, None] * fractions[None, :]).flatten()
        normals = normals[normals <= self.max_value]
        subnormals = torch.arange(1, steps, dtype=torch.float32) * self.min_subnormal
        positive = torch.cat([subnormals, normals])
        return torch.cat([-positive.flip(0), torch.zeros(1), positive])


NumericFormat = IntFormat | FloatFormat

INT8 = IntFormat("int8", 8, True, TensorProto.INT8, torch.int8)
UINT8 = IntFormat("uint8", 8, False, TensorProto.UINT8, torch.uint8)
INT4 = IntFormat("int4", 4, True, TensorProto.INT4, torch.int8)
UINT4 = IntFormat("uint4", 4, False, TensorProto.UINT4, torch.uint8)

FP8_E4M3FN = FloatFormat("fp8_e4m3fn", 4, 3, "fn", TensorProto.FLOAT8E4M3FN, torch.float8_e4m3fn)
FP8_E5M2 = FloatFormat("fp8_e5m2", 5, 2, "ieee", TensorProto.FLOAT8E5M2, torch.float8_e5m2)
FP4_E2M1 = FloatFormat("fp4_e2m1", 2, 1, "none", TensorProto.FLOAT4E2M1, None)
