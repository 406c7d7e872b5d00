"""Exceptions and warnings that quantviz raises for problems a user can fix."""

from __future__ import annotations


class QuantvizError(Exception):
    """An error caused by input the user can change (a file, a setting, a model).

    The message names the value, says what is wrong and what to do instead. The CLI
    prints it without a traceback; the GUI shows it in a dialog.
    """


class Cancelled(QuantvizError):
    """A long operation stopped because its cancellation token was set."""


class QuantvizWarning(UserWarning):
    """A problem that does not stop the operation (NaN in weights, a skipped layer)."""
