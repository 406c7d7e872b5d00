"""CLI commands: evaluate, plan auto, plan show."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add this module's subcommands to the ``quantviz`` parser."""
    # TODO: the commands of this workflow are added as the workflow lands.
    del commands
