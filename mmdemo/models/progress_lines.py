"""What the model manager tells the person waiting while a model loads ("Loading the image captioning model …",
"Moving … to the GPU …", the download line): keyed messages that are their English text as well.

A progress callback gets each line as a ``str`` (English: the CLI, logs, a library caller's callback read it as
any other line); the page renders it in the visitor's language with :func:`mmdemo.messages.text`, which knows
it as a message (:class:`Line` is a :class:`~mmdemo.messages.Page` that renders its message).

A line names a model by its title ("image captioning"), never by its id (a Hub id, ``pip:…``, a folder): visitors
read these lines; the server log names the id.
"""

from __future__ import annotations

import math
from typing import Any

from ..messages import Message, Page


class Line(Page):
    """``message`` as a line of text: ``str(line)`` is its English, ``line.text(locale)`` its translation."""

    message: Message

    def __new__(cls, message: Message) -> Line:
        line = super().__new__(cls, message.text("en"))
        line.message = message
        return line

    def text(self, locale: str = "en") -> str:
        return self.message.text(locale)

    def __reduce__(self) -> tuple[Any, ...]:  # travels to ZeroGPU workers and back
        return (Line, (self.message,))


class MidSentence(Page):
    """A model's title inside an English sentence: its first word in lower case ("image captioning"), unless it is
    an acronym ("CLIP image–text score"); other languages translate the title as the page has it."""

    title: str

    def __new__(cls, title: str) -> MidSentence:
        first, _, rest = title.partition(" ")
        words = super().__new__(cls, title if first.isupper() else f"{first.lower()} {rest}".strip())
        words.title = title
        return words

    def text(self, locale: str = "en") -> str:
        return str(self) if locale == "en" else Page(self.title).text(locale)

    def __reduce__(self) -> tuple[Any, ...]:
        return (MidSentence, (self.title,))


def device_word(tier: str) -> Message | str:
    """A device tier as users read it (where a model moves to): ``cuda:0`` → "the GPU", ``mps`` → "the GPU (Apple)",
    ``cpu`` → "the CPU"; another tier as it is."""
    kind = tier.partition(":")[0]
    words = {
        "cuda": Message("model.device.gpu"),
        "mps": Message("model.device.apple_gpu"),
        "cpu": Message("model.device.cpu"),
    }
    return words.get(kind, tier)


def loading(title: str) -> Line:
    return Line(Message("model.progress.loading", title=MidSentence(title)))


def downloading(title: str) -> Line:
    return Line(Message("model.progress.downloading", title=MidSentence(title)))


def reading(title: str, fast: bool = False) -> Line:
    if fast:
        return Line(Message("model.progress.reading_fast", title=MidSentence(title)))
    return Line(Message("model.progress.reading", title=MidSentence(title)))


def converting(title: str, seconds_left: float | None) -> Line:
    """While a model is converted for this CPU: about how many seconds are left of the estimate (whole seconds
    under 10, else in fives), or ``None`` once past it."""
    if seconds_left is None:
        return Line(Message("model.progress.converting_late", title=MidSentence(title)))
    seconds = math.ceil(seconds_left) if seconds_left < 10 else 5 * round(seconds_left / 5)
    return Line(Message("model.progress.converting", title=MidSentence(title), seconds=seconds))


def moving(title: str, tier: str, offload: bool = False, back: bool = False) -> Line:
    if back:
        return Line(Message("model.progress.moving_back", title=MidSentence(title), device=device_word(tier)))
    if offload:
        return Line(Message("model.progress.moving_offload", title=MidSentence(title), device=device_word(tier)))
    return Line(Message("model.progress.moving", title=MidSentence(title), device=device_word(tier)))


def ready(title: str) -> Line:
    return Line(Message("model.progress.ready", title=Page(title)))
