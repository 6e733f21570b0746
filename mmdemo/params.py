"""Parameters, declared once by the task that uses them, and the checks every value passes.

A task module declares each of its parameters next to the function that takes it — name, default, range,
label and help — as a :class:`Number`, :class:`Text`, :class:`Choice` or :class:`Flag`, and checks its inputs
with them (``param.check(value)``), the way a diffusers pipeline keeps every check in one ``check_inputs``.
Everything else is built from the same declarations: the page's widgets (:mod:`mmdemo.ui.widgets`), the API
gate (which calls ``param.check`` for a widget built from one), the command line's options
(:func:`add_argument`) and the help that the API page and the MCP tools show (:func:`documented`). No limit is
written anywhere else.

The checks raise :class:`~mmdemo.errors.InputError` with a :class:`~mmdemo.messages.Message` that names the
field as "Label (name)": the same sentence, in the visitor's language, whichever way the value came in.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .messages import Message, Page

MAX_TEXT_CHARS = 4000
"""Text without a declared ``max_length`` takes at most this many characters."""
DECLARED: list[Param] = []
"""Every parameter declared, in order (tests walk them: widget, gate and CLI agree with each)."""


def field(label: str, name: str) -> Message:
    """How a refusal names a field: its label (translated) and its API name, "Seed (seed)"."""
    return Message("value.field", label=Page(label), name=name)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "…"


def _number_text(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _what(minimum: float | None, maximum: float | None, integer: bool) -> Message:
    kind = "whole" if integer else "number"
    if minimum is not None and maximum is not None:
        return Message(f"value.what.{kind}_range", low=_number_text(minimum), high=_number_text(maximum))
    if minimum is not None:
        return Message(f"value.what.{kind}_at_least", low=_number_text(minimum))
    if maximum is not None:
        return Message(f"value.what.{kind}_at_most", high=_number_text(maximum))
    return Message(f"value.what.{kind}")


def check_number(
    value: Any,
    name: Message | str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    optional: bool = False,
) -> float | int | None:
    """``value`` as a finite number in ``[minimum, maximum]`` (an ``int`` when ``integer``; ``None`` allowed when
    ``optional``), else :class:`InputError` naming the field ``name``."""
    if value is None and optional:
        return None
    what = _what(minimum, maximum, integer)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise InputError(Message("value.number_missing", field=name, what=what))
        raise InputError(Message("value.number", field=name, what=what, got=f"{type(value).__name__} {_shown(value)}"))
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(Message("value.number", field=name, what=what, got=value))
    outside = (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
    if outside or (integer and value != int(value)):
        raise InputError(Message("value.number", field=name, what=what, got=_shown(value)))
    return int(value) if integer else float(value)


def check_text(value: Any, name: Message | str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """``value`` as text (``None`` = empty) of at most ``max_chars`` characters, valid Unicode."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(Message("value.text", field=name, got=f"{type(value).__name__} {_shown(value)}"))
    if len(value) > max_chars:
        raise InputError(Message("value.too_long", field=name, count=len(value), limit=max_chars))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(Message("value.surrogate", field=name)) from None
    return value


def check_choice(value: Any, name: Message | str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (``true`` is not ``1``), else :class:`InputError`."""
    allowed = list(choices)
    if value not in allowed or isinstance(value, bool) != any(isinstance(c, bool) for c in allowed):
        shown = ", ".join(repr(c) for c in allowed)
        raise InputError(Message("value.choice", field=name, choices=shown, got=_shown(value)))
    return value


def check_flag(value: Any, name: Message | str) -> bool:
    if not isinstance(value, bool):
        raise InputError(Message("value.flag", field=name, got=_shown(value)))
    return value


# --- declarations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """What every parameter declares. ``label`` and ``info`` are English text of the page (translated there)."""

    name: str
    """The argument's name in the task function, the UI handler, the API, MCP and (``--name-with-dashes``) the CLI."""
    label: str
    default: Any
    info: str = ""
    """The help line under the widget (page text), if any."""
    doc: str = ""
    """What API clients, agents (MCP) and the CLI read about it, in English; default: ``info``, else ``label``."""
    declared: Param | None = None
    """For a copy with one server's limits (:meth:`on_server`): the declaration it was made from."""

    def __post_init__(self) -> None:
        if self.declared is None:
            DECLARED.append(self)

    def on_server(self, **limits: Any) -> Any:
        """This declaration with one server's limits (e.g. ``maximum`` and ``default`` from a setting): the same
        name, label and sentences, so the page's widget, the gate and the task refuse alike; not a declaration of
        its own (``declared`` is this one). Built once per set of limits."""
        return _on_server(self.declared or self, tuple(sorted(limits.items())))

    @property
    def field(self) -> Message:
        return field(self.label, self.name)

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def limits(self) -> str:
        """The allowed values in a few words (for help texts), "" when any value of the type goes."""
        return ""

    def help(self) -> str:
        """One line for the CLI, the API page and MCP: what it is, and what it takes."""
        text = self.doc or self.info or self.label
        limits = self.limits()
        return f"{text} ({limits})" if limits else text

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@functools.cache
def _on_server(param: Param, limits: tuple[tuple[str, Any], ...]) -> Param:
    return dataclasses.replace(param, declared=param, **dict(limits))


@dataclass(frozen=True)
class Number(Param):
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    step: float | None = None
    """The page's slider step (the API takes any value in range, whole where ``integer``)."""
    optional: bool = False
    """``None`` (empty) is allowed: what it means is the task's to say (e.g. a random seed)."""

    def check(self, value: Any) -> Any:
        return check_number(
            value, self.field, minimum=self.minimum, maximum=self.maximum, integer=self.integer, optional=self.optional
        )

    def limits(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{_number_text(low)}-{_number_text(high)}"
        if low is not None:
            return f"at least {_number_text(low)}"
        return f"at most {_number_text(high)}" if high is not None else ""


@dataclass(frozen=True)
class Text(Param):
    max_length: int = MAX_TEXT_CHARS
    placeholder: str = ""

    def check(self, value: Any) -> str:
        return check_text(value, self.field, max_chars=self.max_length)

    def limits(self) -> str:
        return f"at most {self.max_length} characters"


@dataclass(frozen=True)
class Choice(Param):
    choices: tuple[tuple[str, Any], ...] = ()
    """(label on the page, value) pairs."""

    @property
    def values(self) -> list[Any]:
        return [value for _, value in self.choices]

    def check(self, value: Any) -> Any:
        return check_choice(value, self.field, self.values)

    def limits(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Flag(Param):
    def check(self, value: Any) -> bool:
        return check_flag(value, self.field)


# --- what is built from them ---------------------------------------------------------------------


def add_argument(parser: argparse.ArgumentParser, param: Param, **overrides: Any) -> None:
    """``param`` as a command-line option (``--name``, its default and help); the task checks the value."""
    options: dict[str, Any] = {"default": param.default, "help": param.help()}
    if isinstance(param, Flag):
        options["action"] = argparse.BooleanOptionalAction
    elif isinstance(param, Number):
        options["type"] = int if param.integer else float
    elif isinstance(param, Choice):
        options["choices"] = param.values
    parser.add_argument(param.flag, dest=param.name, **{**options, **overrides})


def documented(params: Sequence[Param], **others: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append an ``Args:`` section to the decorated handler's docstring, one line per parameter of its signature:
    a declared parameter's :meth:`Param.help`, or the text given in ``others`` (files). Gradio builds the API
    page and the MCP tools' descriptions from it."""
    by_name = {p.name: p.help() for p in params}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        lines = []
        for name in inspect.signature(fn).parameters:
            if name in by_name or name in others:
                lines.append(f"    {name}: {others.get(name) or by_name[name]}")
        summary = inspect.cleandoc(fn.__doc__ or "")
        fn.__doc__ = summary + "\n\nArgs:\n" + "\n".join(lines) + "\n"
        return fn

    return decorate
