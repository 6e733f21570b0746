"""Errors the backend raises on purpose. Each carries a message a user can act on.

The UI turns every :class:`MMDemoError` into ``gr.Error`` with that message; anything else is a
bug and is logged with its traceback (the user sees a short generic message).
"""

from __future__ import annotations


class MMDemoError(Exception):
    """Base class: ``str(err)`` is safe and useful to show to a user."""


class InputError(MMDemoError, ValueError):
    """The request itself is unusable: corrupt, empty, too large, wrong kind, out of range."""


class ModelUnavailableError(MMDemoError, RuntimeError):
    """A model could not be loaded (not cached offline, missing folder, corrupt files …)."""

    def __init__(self, role: str, model_id: str, reason: str, hint: str = "") -> None:
        self.role = role
        self.model_id = model_id
        self.reason = reason
        self.hint = hint
        msg = f"The {role} model '{model_id}' is not available: {reason}"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class MemoryBudgetError(MMDemoError, RuntimeError):
    """A model does not fit in the configured memory budget, even after evicting others."""
