"""Session files: what the app needs to reopen a piece of work.

A session names the model (its spec), the analysis settings, the precision plan, the
cached analysis file and the selected layer. It is versioned JSON written atomically
(:mod:`quantviz.io`). This module imports neither Qt nor torch: the plan is kept as its
JSON dict and validated by :class:`quantviz.plan.PrecisionPlan` when the app applies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write_json, read_json

SESSION_FORMAT = "quantviz-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".qvsession"


@dataclass
class SessionState:
    """One session.

    ``model`` is the spec given to :func:`quantviz.model.loading.load_model`;
    ``settings`` the :class:`~quantviz.analysis.pipeline.AnalysisSettings` dict; ``plan``
    the :class:`~quantviz.plan.PrecisionPlan` dict; ``analysis_path`` the analysis JSON
    that was shown (reused when it still exists); ``results`` the latest evaluation,
    QAT and export results as their ``to_dict()`` output.

    ``settings`` and ``plan`` are the user's work and must be standard JSON: loading
    or saving NaN or infinity in them raises QuantvizError naming the field, as plan
    files do. ``results`` are measurements, where NaN or infinity means a broken model
    (the loss of a model with NaN weights), so they are written as null, as analysis
    files write non-finite metrics.
    """

    model: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    analysis_path: str | None = None
    current_layer: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    version: int = SESSION_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SESSION_FORMAT,
            "version": self.version,
            "model": self.model,
            "settings": dict(self.settings),
            "plan": self.plan,
            "analysis_path": self.analysis_path,
            "current_layer": self.current_layer,
            "results": _nonfinite_to_none(dict(self.results)),
        }

    @classmethod
    def from_dict(cls, data: Any) -> SessionState:
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            raise QuantvizError(
                f'not a quantviz session: the top-level object needs "format": "{SESSION_FORMAT}"'
            )
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise QuantvizError(f"session version must be a positive integer; got {version!r}")
        if version > SESSION_VERSION:
            raise QuantvizError(
                f"session version {version} is newer than this quantviz reads "
                f"({SESSION_VERSION}); upgrade quantviz to open it"
            )
        model = data.get("model")
        if model is not None and not isinstance(model, str):
            raise QuantvizError(f"session model must be a model spec string; got {model!r}")
        for key, kind in (("settings", dict), ("results", dict)):
            if not isinstance(data.get(key, {}), kind):
                raise QuantvizError(f"session {key} must be an object; got {data[key]!r}")
        plan = data.get("plan")
        if plan is not None and not isinstance(plan, dict):
            raise QuantvizError(f"session plan must be a plan object; got {plan!r}")
        analysis_path = data.get("analysis_path")
        if analysis_path is not None and not isinstance(analysis_path, str):
            raise QuantvizError(f"session analysis_path must be a path; got {analysis_path!r}")
        _check_finite(data.get("settings"), "settings")
        _check_finite(plan, "plan")
        return cls(
            model=model,
            settings=dict(data.get("settings", {})),
            plan=plan,
            analysis_path=analysis_path,
            current_layer=str(data.get("current_layer", "")),
            results=dict(data.get("results", {})),
            version=version,
        )

    def save(self, path: str | Path) -> Path:
        """Write the session atomically; raises QuantvizError for NaN in settings or plan."""
        _check_finite(self.settings, "settings", path)
        _check_finite(self.plan, "plan", path)
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> SessionState:
        data = read_json(path, "session")
        try:
            return cls.from_dict(data)
        except QuantvizError as error:
            raise QuantvizError(f"invalid session file {path}: {error}") from None


def _check_finite(value: Any, where: str, path: str | Path | None = None) -> None:
    """Raise QuantvizError naming the first NaN or infinite number inside ``value``."""
    found = _first_nonfinite(value, where)
    if found is None:
        return
    place = f"cannot save session file {path}: " if path is not None else ""
    raise QuantvizError(
        f"{place}session {found[0]} is {found[1]!r}; settings and plan must contain only JSON "
        "values without NaN or infinity, because session files, like plan files, are "
        "standard JSON"
    )


def _first_nonfinite(value: Any, where: str) -> tuple[str, float] | None:
    """Return the path (``plan.defaults.smoothquant_alpha``) and value of the first NaN
    or infinite float inside ``value``, or None when there is none."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        place, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return place, item
        if isinstance(item, dict):
            stack.extend((_member(place, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, (list, tuple)):
            stack.extend(
                (f"{place}[{index}]", child) for index, child in reversed(list(enumerate(item)))
            )
    return None


def _member(place: str, key: Any) -> str:
    """``place.key``, or ``place['key']`` for a key that is not an identifier."""
    if isinstance(key, str) and key.isidentifier():
        return f"{place}.{key}"
    return f"{place}[{key!r}]"


def _nonfinite_to_none(value: Any) -> Any:
    """``value`` with each NaN or infinite float replaced by None.

    When anything is replaced, every container is copied, so ``value`` itself is left
    unchanged. The walk uses a list, not recursion, so any nesting that the JSON parser
    accepted is handled.
    """
    if _first_nonfinite(value, "") is None:
        return value
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, float) and not math.isfinite(item):
            container[key] = None
        elif isinstance(item, dict):
            copied = dict(item)
            container[key] = copied
            stack.extend((copied, child) for child in copied)
        elif isinstance(item, (list, tuple)):
            copied_list = list(item)
            container[key] = copied_list
            stack.extend((copied_list, index) for index in range(len(copied_list)))
    return root[0]
