"""One plain sentence under a result, the rest folded: a result's notes split into what a visitor needs (a truncated
prompt, a damaged video) and the technical detail (which model was missing or stood in, and why), which goes with
the settings and model ids into a folded "Details" section."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..messages import Message, text

TECHNICAL_VALUES = ("reason", "model")
"""A note that names a model or carries a technical cause (an exception's message, a Hub id) is detail."""
TECHNICAL_KEYS = ("asr.",)
"""Notes (by key prefix) that say how the speech runtime coped: detail too."""


def is_technical(note: Any) -> bool:
    """Whether ``note`` (a result's note: a :class:`Message` or plain text) belongs in the Details section."""
    if not isinstance(note, Message):
        return False
    return note.key.startswith(TECHNICAL_KEYS) or any(name in note.values for name in TECHNICAL_VALUES)


def warnings(notes: Iterable[Any], locale: str = "en") -> list[str]:
    """The notes a visitor needs, one Markdown paragraph each, in ``locale``."""
    return [f"⚠️ {text(note, locale)}" for note in notes if not is_technical(note)]


def technical(notes: Iterable[Any], locale: str = "en") -> list[str]:
    """The technical notes, in ``locale``, for :func:`details_block`."""
    return [text(note, locale) for note in notes if is_technical(note)]


def details_block(lines: Iterable[str], locale: str = "en") -> str:
    """``lines`` folded under a "Details" summary (Markdown inside HTML ``<details>``); empty without lines."""
    shown = [line for line in lines if line]
    if not shown:
        return ""
    body = "\n\n".join(shown)
    return f"<details><summary>{Message('result.details').text(locale)}</summary>\n\n{body}\n\n</details>"
