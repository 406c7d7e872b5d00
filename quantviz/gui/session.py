"""Session files: what the app needs to reopen a piece of work.

A session names the model (its spec), the analysis settings, the precision plan, the
cached analysis file and the selected layer. It is versioned JSON written atomically
(:mod:`quantviz.io`). This module imports neither Qt nor torch: the plan is kept as its
JSON dict and validated by :class:`quantviz.plan.PrecisionPlan` when the app applies it.
"""

from __future__ import annotations

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
            "results": dict(self.results),
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
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> SessionState:
        data = read_json(path, "session")
        try:
            return cls.from_dict(data)
        except QuantvizError as error:
            raise QuantvizError(f"invalid session file {path}: {error}") from None
