"""Errors the backend raises on purpose. Each speaks to two audiences.

``err.message`` is one short sentence a user can act on (never a local path), by key: a
:class:`~mmdemo.messages.Message`, rendered in the reader's language (``str(err)`` is its English, for the
CLI, the log and API clients); ``err.detail`` is what the operator needs (model id, cause, how to fix it),
for the log, the Models panel and details views, in English. The UI turns every :class:`MMDemoError` into
``gr.Error`` in the language of the request; anything else is a bug and is logged with its traceback (the
user sees a short generic message). A plain string as the message is for the operator only (a command-line
usage error, a setting): ``tests/test_messages.py`` lists where that is allowed.

The bottom layer: this module imports nothing from ``mmdemo.models`` (nor anything above it).
"""

from __future__ import annotations

from collections.abc import Mapping

from .messages import Message, Page, text
from .model_ids import public_model_id

_ROLE_TITLES: dict[str, str] = {}
"""Role → what its model does ("Image captioning"), for errors raised without a ``title``; filled by
:mod:`mmdemo.models.specs` (:func:`name_roles`) from its table."""


def name_roles(titles: Mapping[str, str]) -> None:
    """Tell :class:`ModelUnavailableError` what each role's model does (for errors raised without a title)."""
    _ROLE_TITLES.update(titles)


class MMDemoError(Exception):
    """Base class: ``str(err)`` is safe and useful to show to a user (English); :meth:`text` is the same sentence
    in a locale, from its :class:`~mmdemo.messages.Message`; ``detail`` is for the operator."""

    def __init__(self, message: Message | str = "", detail: str | None = None) -> None:
        super().__init__(str(message))
        self._message = message
        self._detail = detail

    def __reduce__(self) -> tuple[object, ...]:  # keeps the message and ``detail`` across processes (ZeroGPU)
        return (type(self), (self._message, self._detail))

    @property
    def message(self) -> Message | str:
        """What the user reads: a :class:`~mmdemo.messages.Message` (translatable), or English text."""
        return self._message

    def text(self, locale: str = "en") -> str:
        """The user's sentence in ``locale``."""
        return text(self.message, locale)

    @property
    def detail(self) -> str:
        return self._detail or str(self)


class InputError(MMDemoError, ValueError):
    """The request itself is unusable: corrupt, empty, too large, wrong kind, out of range."""


class BudgetError(InputError):
    """The client's own budget (text-to-image work per hour) has no room for this request: it is refused, and a run
    made of many such requests (an evaluation) stops there, keeping what it has done."""


class ModelUnavailableError(MMDemoError, RuntimeError):
    """A model could not be loaded (not cached offline, missing folder, corrupt files …).

    ``title`` says what the model does ("Image captioning"); the manager sets it from the role's spec, and
    without one it is the title :func:`name_roles` gave the role.
    """

    def __init__(self, role: str, model_id: str, reason: str, hint: str = "", title: str | None = None) -> None:
        self.role = role
        self.model_id = model_id
        self.reason = reason
        self.hint = hint
        self._title = title
        super().__init__()

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.role, self.model_id, self.reason, self.hint, self._title))

    @property
    def title(self) -> str:
        """What the model does ("Image captioning"): given, else the role's (:func:`name_roles`), else the role."""
        return self._title or _ROLE_TITLES.get(self.role) or self.role.replace("_", " ").capitalize()

    @title.setter
    def title(self, value: str) -> None:
        self._title = value

    @property
    def public_id(self) -> str:
        return public_model_id(self.model_id)

    @property
    def message(self) -> Message:
        return Message("model.unavailable", title=Page(self.title), model=self.public_id)

    def __str__(self) -> str:
        return str(self.message)

    @property
    def detail(self) -> str:
        return f"The {self.role} model '{self.model_id}' is not available: {self.reason} {self.hint}".strip()


class MemoryBudgetError(MMDemoError, RuntimeError):
    """A model does not fit in the configured memory budget, even after evicting others."""


class Cancelled(BaseException):
    """The client that asked for this work has gone away: stop at the next step and free the slot.

    A ``BaseException`` so that no ``except Exception`` on the way up swallows it.
    """
