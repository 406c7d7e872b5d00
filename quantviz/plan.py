"""The mixed-precision plan: which format each layer's weights and inputs use.

A plan has defaults, ordered glob rules on qualified layer names (``*.mlp.down_proj``)
and per-layer overrides; for one layer they merge in that order, later entries winning
field by field. Weights and inputs are configured separately. Calibrated (or learned)
scales are stored beside the settings once known. Plans are versioned JSON, written
atomically; loading validates every field and names the one that is wrong.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write_json, read_json
from quantviz.quant.observers import OBSERVERS, check_bins, check_candidates, make_observer
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import GRANULARITIES, QuantSpec

PLAN_FORMAT = "quantviz-plan"
PLAN_VERSION = 1

# Plan format names and the engine format and symmetry each maps to; "float" keeps
# the tensor unquantized.
PLAN_FORMATS: dict[str, tuple[str, bool] | None] = {
    "float": None,
    "fp8_e4m3": ("fp8_e4m3fn", True),
    "fp8_e5m2": ("fp8_e5m2", True),
    "int8_sym": ("int8", True),
    "int8_asym": ("uint8", False),
}
TENSOR_FIELDS = ("format", "granularity", "group_size", "observer", "observer_settings")
PLAN_FIELDS = (
    "format",
    "version",
    "model",
    "notes",
    "defaults",
    "rules",
    "overrides",
    "scales",
    "smoothing",
    "smoothing_alpha",
)


def _is_standard_json(value: Any) -> bool:
    """Return whether :meth:`PrecisionPlan.save` can write ``value``.

    The save calls ``json.dumps`` with ``allow_nan=False``.
    """
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


@dataclass(frozen=True)
class TensorConfig:
    """How one tensor (a layer's weight or its input) is quantized."""

    format: str = "float"
    granularity: str = "tensor"
    group_size: int | None = None
    observer: str = "minmax"
    observer_settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        _check_choice("format", self.format, PLAN_FORMATS)
        _check_choice("granularity", self.granularity, GRANULARITIES)
        _check_choice("observer", self.observer, OBSERVERS)
        if self.group_size is not None and (
            isinstance(self.group_size, bool)
            or not isinstance(self.group_size, int)
            or self.group_size < 1
        ):
            raise QuantvizError(f"group_size must be a positive integer; got {self.group_size!r}")
        if self.granularity == "group" and self.group_size is None:
            raise QuantvizError(
                "group_size must be a positive integer for granularity 'group'; got None"
            )
        if not isinstance(self.observer_settings, dict):
            raise QuantvizError(
                f"observer_settings must be an object; got {self.observer_settings!r}"
            )
        if not _is_standard_json(self.observer_settings):
            raise QuantvizError(
                "observer_settings must contain only JSON values without NaN or infinity; "
                f"got {_short(self.observer_settings)}"
            )
        _check_observer_size(self.observer_settings)
        if self.quantized and (self.observer != "minmax" or self.observer_settings):
            self._check_observer()

    def _check_observer(self) -> None:
        """Build the observer once, so that bad settings fail when the plan is loaded."""
        spec = self.spec(0)
        if spec is None or spec.granularity == "group":
            # Per-group weight qparams are always min-max; the observer is not used.
            return
        try:
            make_observer(self.observer, spec, **self.observer_settings)
        except (QuantvizError, TypeError) as error:
            # TypeError: a setting named like make_observer's own parameters (spec, name).
            raise QuantvizError(
                f"observer {self.observer!r} with observer_settings {self.observer_settings!r} "
                f"is invalid for {self.label}: {error}"
            ) from None

    @property
    def quantized(self) -> bool:
        return self.format != "float"

    def spec(self, channel_axis: int | None = None) -> QuantSpec | None:
        """Return the engine spec of a weight whose channel (or group) axis is ``channel_axis``.

        Symmetric INT8 weights use the narrow range ``[-127, 127]``.
        """
        return self._spec(channel_axis, narrow_range=True)

    def input_spec(self) -> QuantSpec | None:
        """Return the engine spec of an input activation (channel axis last).

        Symmetric INT8 inputs use the full range ``[-128, 127]`` with the same scale
        (absolute maximum / 127). The narrow range keeps weight codes off -128 so that
        x86 u8 x s8 multiply-add instructions cannot saturate, which does not concern
        activations. ONNX ``QuantizeLinear`` has no narrow range, so a full-range input
        exports without an extra clamp node in front of it.
        """
        return self._spec(-1, narrow_range=False)

    def _spec(self, channel_axis: int | None, narrow_range: bool) -> QuantSpec | None:
        mapping = PLAN_FORMATS[self.format]
        if mapping is None:
            return None
        engine_format, symmetric = mapping
        axis = channel_axis if self.granularity != "tensor" else None
        return QuantSpec(
            engine_format,
            granularity=self.granularity,  # type: ignore[arg-type]
            axis=axis,
            group_size=self.group_size if self.granularity == "group" else None,
            symmetric=symmetric,
            narrow_range=narrow_range,
        )

    @property
    def label(self) -> str:
        if not self.quantized:
            return "float"
        if self.granularity == "tensor":
            return self.format
        if self.granularity == "channel":
            return f"{self.format}/ch"
        return f"{self.format}/g{self.group_size}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": self.format, "granularity": self.granularity}
        if self.group_size is not None:
            data["group_size"] = self.group_size
        data["observer"] = self.observer
        if self.observer_settings:
            data["observer_settings"] = dict(self.observer_settings)
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> TensorConfig:
        try:
            return cls(**_tensor_fields(data, where))
        except QuantvizError as error:
            message = str(error)
            if message.startswith(where):
                raise
            raise QuantvizError(f"{where}.{message}") from None


def _check_observer_size(settings: dict[str, Any]) -> None:
    """Check the observer settings that size its memory and time.

    They are checked for every tensor, also float and per-group ones that build no
    observer, so that a plan with a huge histogram fails on load, before a later rule
    or edit makes the tensor use it.
    """
    if "bins" in settings:
        check_bins(settings["bins"], "observer_settings.bins")
    if "num_candidates" in settings:
        check_candidates(settings["num_candidates"], "observer_settings.num_candidates")


def _check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    # The isinstance check comes first because a list or dict cannot be looked up in a dict.
    if not isinstance(value, str) or value not in choices:
        raise QuantvizError(f"{name} must be one of {', '.join(choices)}; got {_short(value)}")


def _tensor_fields(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise QuantvizError(f"{where} must be an object; got {data!r}")
    unknown = sorted(set(data) - set(TENSOR_FIELDS))
    if unknown:
        raise QuantvizError(
            f"{where} has unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(TENSOR_FIELDS)}"
        )
    return dict(data)


@dataclass(frozen=True)
class LayerConfig:
    """The resolved configuration of one layer.

    ``smoothquant_alpha`` (0 to 1) migrates activation outliers into the weight before
    quantization (SmoothQuant, Xiao et al. 2023); ``None`` leaves the layer as is.
    """

    weight: TensorConfig = TensorConfig()
    input: TensorConfig = TensorConfig()
    smoothquant_alpha: float | None = None

    def __post_init__(self) -> None:
        _check_alpha(self.smoothquant_alpha, "smoothquant_alpha")

    @property
    def quantized(self) -> bool:
        return self.weight.quantized or self.input.quantized

    @property
    def label(self) -> str:
        label = f"W {self.weight.label} / A {self.input.label}"
        if self.smoothquant_alpha is not None:
            label += f" / SQ {self.smoothquant_alpha:g}"
        return label

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"weight": self.weight.to_dict(), "input": self.input.to_dict()}
        if self.smoothquant_alpha is not None:
            data["smoothquant_alpha"] = self.smoothquant_alpha
        return data


@dataclass(frozen=True)
class LayerOverride:
    """A partial configuration: only the fields given replace the ones below it.

    ``smoothquant_off`` switches SmoothQuant off for the layers it covers; in JSON it is
    written as ``"smoothquant_alpha": null``. An absent key inherits the alpha below.
    """

    weight: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    smoothquant_alpha: float | None = None
    smoothquant_off: bool = False

    def __post_init__(self) -> None:
        _check_alpha(self.smoothquant_alpha, "smoothquant_alpha")
        if self.smoothquant_off and self.smoothquant_alpha is not None:
            raise QuantvizError(
                f"smoothquant_off and smoothquant_alpha={self.smoothquant_alpha!r} contradict "
                "each other; set one of them"
            )

    def apply_to(self, config: LayerConfig, where: str) -> LayerConfig:
        weight = config.weight
        if self.weight:
            weight = TensorConfig.from_dict({**weight.to_dict(), **self.weight}, f"{where}.weight")
        inputs = config.input
        if self.input:
            inputs = TensorConfig.from_dict({**inputs.to_dict(), **self.input}, f"{where}.input")
        alpha = config.smoothquant_alpha
        if self.smoothquant_off:
            alpha = None
        elif self.smoothquant_alpha is not None:
            alpha = self.smoothquant_alpha
        return LayerConfig(weight, inputs, alpha)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.weight:
            data["weight"] = dict(self.weight)
        if self.input:
            data["input"] = dict(self.input)
        if self.smoothquant_off:
            data["smoothquant_alpha"] = None
        elif self.smoothquant_alpha is not None:
            data["smoothquant_alpha"] = self.smoothquant_alpha
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str, allow_pattern: bool = False) -> LayerOverride:
        if not isinstance(data, dict):
            raise QuantvizError(f"{where} must be an object; got {data!r}")
        allowed = ["weight", "input", "smoothquant_alpha"] + (["pattern"] if allow_pattern else [])
        unknown = sorted(str(key) for key in set(data) - set(allowed))
        if unknown:
            raise QuantvizError(
                f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        alpha = data.get("smoothquant_alpha")
        _check_alpha(alpha, f"{where}.smoothquant_alpha")
        override = cls(
            weight=_tensor_fields(data.get("weight", {}), f"{where}.weight"),
            input=_tensor_fields(data.get("input", {}), f"{where}.input"),
            smoothquant_alpha=alpha,
            smoothquant_off="smoothquant_alpha" in data and alpha is None,
        )
        # Validate the values now, so a bad file fails on load rather than on use.
        override.apply_to(LayerConfig(), where)
        return override


def _check_alpha(alpha: Any, where: str) -> None:
    if alpha is None:
        return
    if not _is_finite_number(alpha):
        raise QuantvizError(f"{where} must be a number between 0 and 1; got {_short(alpha)}")
    if not 0.0 <= alpha <= 1.0:
        raise QuantvizError(f"{where} must be between 0 and 1; got {_short(alpha)}")


def _is_finite_number(value: Any) -> bool:
    """Return whether ``value`` is an int or float (not a bool) that converts to a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        # An int beyond the float range, which float() and torch cannot take either.
        return False


@dataclass(frozen=True)
class Rule:
    """An override applied to every layer whose qualified name matches ``pattern``."""

    pattern: str
    override: LayerOverride

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, **self.override.to_dict()}


@dataclass
class PrecisionPlan:
    """Defaults, ordered rules and per-layer overrides, plus scales once known.

    ``scales[layer]`` maps ``"weight"`` and ``"input"`` to :class:`QParams` from
    calibration or QAT. ``smoothing[layer]`` contains per-input-channel SmoothQuant
    factors: the layer's input is divided by them and its weight's input channels are
    multiplied by them. ``smoothing_alpha[layer]`` is the alpha they were computed with.
    Factors without an alpha were set by hand and are kept as they are. ``model``
    records the model spec and hash the plan was made for.
    """

    defaults: LayerConfig = LayerConfig()
    rules: list[Rule] = field(default_factory=list)
    overrides: dict[str, LayerOverride] = field(default_factory=dict)
    scales: dict[str, dict[str, QParams]] = field(default_factory=dict)
    smoothing: dict[str, list[float]] = field(default_factory=dict)
    smoothing_alpha: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    version: int = PLAN_VERSION

    def resolve(self, name: str) -> LayerConfig:
        """The configuration of layer ``name`` after defaults, rules and overrides."""
        config = self.defaults
        for index, rule in enumerate(self.rules):
            if rule.matches(name):
                config = rule.override.apply_to(config, f"rules[{index}]")
        if name in self.overrides:
            config = self.overrides[name].apply_to(config, f"overrides[{name!r}]")
        return config

    def resolve_all(self, names: Iterable[str]) -> dict[str, LayerConfig]:
        return {name: self.resolve(name) for name in names}

    def unknown_layers(self, names: Iterable[str]) -> list[str]:
        """Override names that are not layers of the model, and rules matching none."""
        known = set(names)
        problems = [f"override {name!r}" for name in self.overrides if name not in known]
        for rule in self.rules:
            if not any(rule.matches(name) for name in known):
                problems.append(f"rule {rule.pattern!r} (matches no layer)")
        return problems

    def set_layer(
        self, name: str, weight: dict[str, Any] | None = None, input: dict[str, Any] | None = None
    ) -> None:
        """Merge ``weight``/``input`` fields into layer ``name``'s override."""
        current = self.overrides.get(name, LayerOverride())
        merged = LayerOverride(
            weight={**current.weight, **(weight or {})},
            input={**current.input, **(input or {})},
            smoothquant_alpha=current.smoothquant_alpha,
            smoothquant_off=current.smoothquant_off,
        )
        merged.apply_to(LayerConfig(), f"overrides[{name!r}]")
        self.overrides[name] = merged
        # Scales computed for the old format no longer apply.
        self.scales.pop(name, None)

    def copy(self) -> PrecisionPlan:
        return PrecisionPlan.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": self.version,
            "model": dict(self.model),
            "notes": self.notes,
            "defaults": self.defaults.to_dict(),
            "rules": [rule.to_dict() for rule in self.rules],
            "overrides": {name: o.to_dict() for name, o in self.overrides.items()},
            "scales": {
                name: {role: qparams.to_dict() for role, qparams in roles.items()}
                for name, roles in self.scales.items()
            },
            "smoothing": {name: list(values) for name, values in self.smoothing.items()},
            "smoothing_alpha": dict(self.smoothing_alpha),
        }

    @classmethod
    def from_dict(cls, data: Any) -> PrecisionPlan:
        if not isinstance(data, dict):
            raise QuantvizError(
                f"a plan must be a JSON object; got {type(data).__name__} {_short(data)}"
            )
        if data.get("format") != PLAN_FORMAT:
            raise QuantvizError(
                f'not a quantviz plan: format must be "{PLAN_FORMAT}"; got {data.get("format")!r}'
            )
        unknown = sorted(str(key) for key in set(data) - set(PLAN_FIELDS))
        if unknown:
            raise QuantvizError(
                f"the plan has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(PLAN_FIELDS)}"
            )
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise QuantvizError(f"version must be a positive integer; got {version!r}")
        if version > PLAN_VERSION:
            raise QuantvizError(
                f"plan version {version} is newer than this quantviz reads ({PLAN_VERSION}); "
                "upgrade quantviz to open it"
            )
        defaults = LayerOverride.from_dict(data.get("defaults", {}), "defaults").apply_to(
            LayerConfig(), "defaults"
        )
        rules_data = data.get("rules", [])
        if not isinstance(rules_data, list):
            raise QuantvizError(f"rules must be a list; got {rules_data!r}")
        rules = []
        for index, item in enumerate(rules_data):
            where = f"rules[{index}]"
            if not isinstance(item, dict):
                raise QuantvizError(f"{where} must be an object; got {_short(item)}")
            pattern = item.get("pattern")
            if not isinstance(pattern, str) or not pattern:
                raise QuantvizError(f"{where}.pattern must be a non-empty string; got {pattern!r}")
            rules.append(Rule(pattern, LayerOverride.from_dict(item, where, allow_pattern=True)))
        overrides_data = data.get("overrides", {})
        if not isinstance(overrides_data, dict):
            raise QuantvizError(f"overrides must be an object; got {overrides_data!r}")
        overrides = {
            str(name): LayerOverride.from_dict(value, f"overrides[{name!r}]")
            for name, value in overrides_data.items()
        }
        model = data.get("model", {})
        if not isinstance(model, dict):
            raise QuantvizError(f"model must be an object; got {_short(model)}")
        if not _is_standard_json(model):
            raise QuantvizError(
                "model must contain only JSON values without NaN or infinity, because plans "
                f"are saved as standard JSON; got {_short(model)}"
            )
        notes = data.get("notes", "")
        if not isinstance(notes, str):
            raise QuantvizError(f"notes must be a string; got {_short(notes)}")
        return cls(
            defaults=defaults,
            rules=rules,
            overrides=overrides,
            scales=_scales_from_dict(data.get("scales", {})),
            smoothing=_smoothing_from_dict(data.get("smoothing", {})),
            smoothing_alpha=_smoothing_alpha_from_dict(data.get("smoothing_alpha", {})),
            model=dict(model),
            notes=notes,
            version=version,
        )

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> PrecisionPlan:
        data = read_json(path, "plan")
        try:
            return cls.from_dict(data)
        except QuantvizError as error:
            raise QuantvizError(f"invalid plan file {path}: {error}") from None


def _scales_from_dict(data: Any) -> dict[str, dict[str, QParams]]:
    if not isinstance(data, dict):
        raise QuantvizError(f"scales must be an object; got {data!r}")
    scales: dict[str, dict[str, QParams]] = {}
    for name, roles in data.items():
        if not isinstance(roles, dict):
            raise QuantvizError(f"scales[{name!r}] must be an object; got {roles!r}")
        scales[name] = {}
        for role, value in roles.items():
            if role not in ("weight", "input"):
                raise QuantvizError(
                    f"scales[{name!r}] has unknown role {role!r}; use weight or input"
                )
            where = f"scales[{name!r}][{role!r}]"
            scales[name][role] = _qparams_from_dict(value, where)
    return scales


def _qparams_from_dict(value: Any, where: str) -> QParams:
    if not isinstance(value, dict):
        raise QuantvizError(f"{where} must be an object; got {_short(value)}")
    missing = [key for key in ("spec", "shape", "scale", "zero_point") if key not in value]
    if missing:
        raise QuantvizError(f"{where} is missing the field(s) {', '.join(missing)}")
    _check_spec_fields(value["spec"], f"{where}.spec")
    try:
        qparams = QParams.from_dict(value)
    except QuantvizError as error:
        raise QuantvizError(f"{where}.spec is invalid: {error}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, OverflowError) as error:
        raise QuantvizError(f"{where} is invalid: {error}") from None
    scale = qparams.scale.flatten()
    bad = (~torch.isfinite(scale)) | (scale <= 0)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise QuantvizError(
            f"{where}.scale[{index}] must be finite and positive; got {float(scale[index])!r}"
        )
    return qparams


def _check_spec_fields(spec: Any, where: str) -> None:
    """Check the types that QuantSpec does not check itself."""
    if not isinstance(spec, dict):
        raise QuantvizError(f"{where} must be an object; got {_short(spec)}")
    for key in ("axis", "group_size"):
        item = spec.get(key)
        if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
            raise QuantvizError(f"{where}.{key} must be an integer or null; got {_short(item)}")
    for key in ("symmetric", "narrow_range"):
        if key in spec and not isinstance(spec[key], bool):
            raise QuantvizError(f"{where}.{key} must be true or false; got {_short(spec[key])}")


def _smoothing_from_dict(data: Any) -> dict[str, list[float]]:
    if not isinstance(data, dict):
        raise QuantvizError(f"smoothing must be an object; got {_short(data)}")
    result = {}
    for name, values in data.items():
        if not isinstance(values, list) or not values:
            raise QuantvizError(
                f"smoothing[{name!r}] must be a non-empty list of positive per-channel "
                f"factors; got {_short(values)}"
            )
        for index, value in enumerate(values):
            if not _is_finite_number(value) or value <= 0:
                raise QuantvizError(
                    f"smoothing[{name!r}][{index}] must be a finite positive number; "
                    f"got {_short(value)}"
                )
        result[name] = [float(v) for v in values]
    return result


def _smoothing_alpha_from_dict(data: Any) -> dict[str, float]:
    if not isinstance(data, dict):
        raise QuantvizError(f"smoothing_alpha must be an object; got {_short(data)}")
    for name, alpha in data.items():
        if alpha is None:
            raise QuantvizError(f"smoothing_alpha[{name!r}] must be a number between 0 and 1")
        _check_alpha(alpha, f"smoothing_alpha[{name!r}]")
    return {name: float(alpha) for name, alpha in data.items()}


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def uniform_plan(weight: TensorConfig, inputs: TensorConfig, **kwargs: Any) -> PrecisionPlan:
    """A plan that gives every layer the same weight and input configuration."""
    return PrecisionPlan(defaults=LayerConfig(weight, inputs), **kwargs)


def with_defaults(plan: PrecisionPlan, **changes: Any) -> PrecisionPlan:
    copy = plan.copy()
    copy.defaults = replace(copy.defaults, **changes)
    return copy
