"""Sentences for people, by key: what the backend says (errors, notes, words such as emotion names and table
headers) is a :class:`Message` — a catalogue key and its values — rendered in a locale only where it is shown.

The catalogues are data, one JSON file per locale in ``mmdemo/locales/`` (``en.json`` is the source text;
``zh-CN.json`` has the same keys). A value of a message may itself be a :class:`Message` (a field's label,
a kind of file), rendered in the same locale; anything else is shown as it is (numbers, file names, model
output). ``str(message)`` is English: the CLI, the logs and API clients read that.

Keys are dotted names: ``<area>.<what>`` (``image.too_large``, ``param.range``, ``emotion.sad``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("en", "zh-CN")
"""``en`` first: the language of the code, the API and anything not translated."""
FOLDER = Path(__file__).resolve().parent / "locales"
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
"""What a message key looks like."""
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@cache
def catalogue(locale: str, section: str = "messages") -> dict[str, str]:
    """``section`` of ``locale``'s catalogue file (``messages``: key → template; ``page``: the page's English
    text → its translation, for :mod:`mmdemo.ui.i18n`)."""
    data = json.loads((FOLDER / f"{locale}.json").read_text(encoding="utf-8"))
    return dict(data.get(section, {}))


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders of a template."""
    return set(_PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, Any], locale: str = "en") -> str:
    """``template`` with its placeholders filled; :class:`Message` values rendered in ``locale``."""
    return _PLACEHOLDER.sub(lambda m: text(values[m.group(1)], locale), template)


def text(value: Any, locale: str = "en") -> str:
    """``value`` as shown in ``locale``: a :class:`Message` or :class:`Page` translated, anything else as ``str``."""
    return value.text(locale) if isinstance(value, (Message, Page)) else str(value)


class Page(str):
    """Text of the page (a label such as "Maximum length (tokens)", an emotion word) used inside a message: the
    page catalogue translates it (``page`` section); it is English text itself, so it reads as one anywhere."""

    __slots__ = ()

    def text(self, locale: str = "en") -> str:
        return str(self) if locale == "en" else catalogue(locale, "page").get(str(self), str(self))


class Message:
    """A catalogue key and its values; ``str()`` is the English sentence."""

    __slots__ = ("key", "values")

    def __init__(self, key: str, /, **values: Any) -> None:
        if key not in catalogue("en"):
            raise KeyError(f"not in the message catalogue (mmdemo/locales/en.json): {key!r}")
        missing = placeholders(catalogue("en")[key]) - set(values)
        if missing:
            raise KeyError(f"{key!r} needs {sorted(missing)}")
        self.key = key
        self.values = values

    def text(self, locale: str = "en") -> str:
        """This message in ``locale`` (English where the locale's catalogue lacks it)."""
        template = catalogue(locale).get(self.key) if locale != "en" else None
        return render(template or catalogue("en")[self.key], self.values, locale)

    def __str__(self) -> str:
        return self.text("en")

    def __repr__(self) -> str:
        return f"Message({self.key!r}, {self.values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):  # an English sentence compares as its text (CLI output, older callers)
            return str(self) == other
        return isinstance(other, Message) and (self.key, self.values) == (other.key, other.values)

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self) -> tuple[Any, ...]:  # travels to ZeroGPU workers and back
        return (_rebuild, (self.key, self.values))


def _rebuild(key: str, values: dict[str, Any]) -> Message:
    return Message(key, **values)


def say(key: str, locale: str = "en", /, **values: Any) -> str:
    """``Message(key, **values)`` in ``locale``."""
    return Message(key, **values).text(locale)
