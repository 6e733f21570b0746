"""Where a task runs: in this process (the default), or on a remote runner (Ray Serve, :mod:`mmdemo.serve`).

The task entry points the UI, the MCP tools and the command line call are marked :func:`task` with the
group that runs them (a Ray Serve deployment: ``captioning``, ``ocr``, ``text_to_image``, ``speech``,
``video``). Called with no runner configured — every local start, the tests, the command line — a marked
function is the plain function: nothing is imported, nothing is wrapped around the call. With a runner
configured (``python app.py --ray-address …``, ``serve run mmdemo.serve:app``) the call is handed to it as a
:class:`TaskCall`: the arguments without the caller's model manager, and the callbacks (``progress``,
``on_text``, ``on_preview``, ``charge``) kept here, where the runner calls them with what the remote run
reports. The caller sees the same result, the same exceptions and the same progress either way.

This module imports nothing of Ray: the runner is configured from outside (:func:`use_runner`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .media.files import Upload

F = TypeVar("F", bound=Callable[..., Any])

LOCAL_ONLY = ("manager",)
"""Keyword arguments that stay with the caller: the remote side uses its own model manager."""


@dataclass(frozen=True)
class TaskCall:
    """One call of a marked task function, as a runner receives it."""

    group: str
    """The group (deployment) that runs it."""
    name: str
    """``module:qualname`` of the function (:func:`resolve` finds it again on the other side)."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    """Keyword arguments, without :data:`LOCAL_ONLY` ones and without the callbacks."""
    callbacks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """The caller's callbacks by keyword (``progress`` …): called here, with what the remote run reports."""


class Runner(Protocol):
    """Runs a :class:`TaskCall` somewhere else and returns its result (or raises its exception)."""

    def run(self, call: TaskCall) -> Any: ...


_runner: Runner | None = None


def use_runner(runner: Runner | None) -> None:
    """Send every marked task to ``runner`` from now on (None: run them in this process again)."""
    global _runner
    _runner = runner


def current_runner() -> Runner | None:
    """The configured runner; None when tasks run in this process."""
    return _runner


def task(group: str, files: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Mark a task entry point as run by ``group``'s deployment when a runner is configured. ``files``: its
    parameters that take a file, or a list of files; a path given there travels as the file (an :class:`Upload`,
    :func:`as_files`), so that a replica on another machine gets its bytes."""

    def mark(fn: F) -> F:
        name = f"{fn.__module__}:{fn.__qualname__}"
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            runner = _runner
            if runner is None:
                return fn(*args, **kwargs)
            if files:
                bound = signature.bind_partial(*args, **kwargs)
                for key in files:
                    if key in bound.arguments:
                        bound.arguments[key] = as_files(bound.arguments[key])
                args, kwargs = bound.args, bound.kwargs
            callbacks = {k: v for k, v in kwargs.items() if callable(v) and k not in LOCAL_ONLY}
            rest = {k: v for k, v in kwargs.items() if k not in callbacks and k not in LOCAL_ONLY}
            return runner.run(TaskCall(group, name, args, rest, callbacks))

        call.task_group = group  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return mark


def as_files(value: Any) -> Any:
    """``value`` with each path to a file, alone or in a list or tuple, as an :class:`Upload` of it (named as the
    file; an Upload, a folder or anything else stays as it is): what :func:`ship` sends as bytes."""
    if isinstance(value, (list, tuple)):
        return type(value)(as_files(v) for v in value)
    is_path = isinstance(value, (str, os.PathLike)) and not isinstance(value, Upload)
    if is_path and Path(value).is_file():
        return Upload(Path(value), Path(value).name)
    return value


def named(name: str) -> Any:
    """What ``"module:qualname"`` names, in this app's own modules only."""
    module, _, qualname = name.partition(":")
    if not module.startswith("mmdemo."):
        raise LookupError(f"not a part of this app: {name}")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def resolve(name: str) -> Callable[..., Any]:
    """The plain (unmarked) function a :attr:`TaskCall.name` names; only marked task functions resolve."""
    target = named(name)
    if not hasattr(target, "task_group"):
        raise LookupError(f"not a task of this app: {name}")
    return target.__wrapped__


def group_of(fn: Callable[..., Any]) -> str | None:
    """The group a marked task function runs in; None for any other function."""
    return getattr(fn, "task_group", None)


@dataclass(frozen=True)
class Shipped:
    """An uploaded file on its way to a replica, which may run on another machine."""

    name: str
    data: bytes


def ship(value: Any) -> Any:
    """``value`` with every :class:`~mmdemo.media.files.Upload` inside (lists, tuples, dicts) replaced by its bytes."""
    if isinstance(value, Upload):
        return Shipped(value.name, Path(value.path).read_bytes())
    if isinstance(value, (list, tuple)):
        return type(value)(ship(v) for v in value)
    if isinstance(value, dict):
        return {k: ship(v) for k, v in value.items()}
    return value


def land(value: Any, folder: Path) -> Any:
    """The inverse of :func:`ship` on the replica: each :class:`Shipped` written to ``folder``, as an Upload."""
    if isinstance(value, Shipped):
        path = folder / uuid.uuid4().hex / (Path(value.name).name or "upload")
        path.parent.mkdir(parents=True)
        path.write_bytes(value.data)
        return Upload(path, value.name)
    if isinstance(value, (list, tuple)):
        return type(value)(land(v, folder) for v in value)
    if isinstance(value, dict):
        return {k: land(v, folder) for k, v in value.items()}
    return value
