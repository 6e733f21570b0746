"""Progress reporting: the callback type every task and the model manager take, and the one way to give a
stage of a longer job its share of the caller's bar.

Imports nothing from the app, so tasks, the manager and the UI can all use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
"""``progress(fraction, message)``: ``fraction`` from 0 to 1, ``message`` one line for the user."""


def sub_range(progress: ProgressFn | None, low: float, high: float, label: str = "") -> ProgressFn | None:
    """``progress`` for one stage of a longer job: the stage's 0–1 (clamped) mapped onto ``low``–``high`` of
    the caller's bar, never going back (a task restarts its own fraction after loading its model), and its
    messages passed on, after ``"{label}: "`` when a ``label`` is given. ``None`` when ``progress`` is."""
    if progress is None:
        return None
    highest = low

    def report(fraction: float, message: str) -> None:
        nonlocal highest
        highest = max(highest, low + (high - low) * min(max(fraction, 0.0), 1.0))
        progress(highest, f"{label}: {message}" if label else message)

    return report
