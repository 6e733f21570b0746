"""Where a task runs: in this process (the default), or on a remote runner (Ray Serve, :mod:`mmdemo.serve`).

The task entry points the UI, the MCP tools and the command line call are marked :func:`task` with the
group that runs them (a Ray Serve deployment: ``captioning``, ``ocr``, ``text_to_image``, ``speech``,
``video``). Called with no runner configured — every local start, the tests, the command line — a marked
function is the plain function: nothing is imported, nothing is wrapped around the call. With a runner
configured (``python app.py --ray-address …``, ``serve run mmdemo.serve:app``) the call is handed to it as a
:class:`TaskCall`: the arguments without the caller's model manager, and the callbacks (``progress``,
``on_text``, ``on_preview``, ``charge``) kept here, where the runner calls them with what the remote run
reports. The caller sees the same result, the same exceptions and the same progress either way.

A task may also offer one model pass to be shared with other requests (:func:`shared_pass`): the voice windows
of :func:`~mmdemo.tasks.audio_emotion.analyze_emotion` go through the voice model together with other visitors'
windows of the same length, and the Whisper windows of :func:`~mmdemo.tasks.transcription.transcribe` (on
transformers) with other visitors' windows in the same language, on a Ray Serve replica (its batcher is installed
around each request with :func:`sharing`; :func:`run_parts` combines them), and alone, in a plain call, everywhere
else.

This module imports nothing of Ray: the runner is configured from outside (:func:`use_runner`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


# --- model passes shared with other requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One request's items for a model pass that other requests may share (:func:`shared_pass`)."""

    fn: Callable[..., list[Any]]
    """The pass: ``fn(items, **common)`` → one result per item, in order (a module-level function)."""
    items: list[Any]
    key: Hashable
    """What must match for items of different requests to share a pass and each get the result it gets alone (the
    model id and the window length …)."""
    common: dict[str, Any]
    """Keyword arguments of the pass (the replica's model manager …): parts share a pass only with the same ones."""
    limit: int | None = None
    """The most items in one call of ``fn`` (its task's own batch limit, which bounds a pass's memory); None: any."""

    @property
    def name(self) -> str:
        """``module:qualname`` of the pass (what a replica counts its shared passes under)."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    @property
    def group(self) -> tuple[Any, ...]:
        """Parts of one group may share a pass: the same pass, key and common arguments (the same objects)."""
        return self.name, self.key, tuple(sorted((k, id(v)) for k, v in self.common.items()))


Sharer = Callable[[Part], list[Any]]
"""Runs a :class:`Part`, together with other requests' parts when it can, and returns its results (or raises its
own exception)."""

_sharer: ContextVar[Sharer | None] = ContextVar("mmdemo_sharer", default=None)


def shared_pass(
    fn: Callable[..., list[Any]], items: list[Any], *, key: Hashable, limit: int, **common: Any
) -> list[Any]:
    """``fn(items, **common)``: one model pass over ``items`` (one result each, in order), shared with other
    requests when the runner can (a Ray Serve replica: their items of the same ``fn``, ``key`` and ``common`` in
    one call of ``fn``, at most ``limit`` items, see :func:`run_parts`). ``key`` holds what must match for every
    item to get the result it gets alone; ``limit`` is the task's own batch limit (a request's ``items`` are never
    more). Without a sharer (every local run) it is the plain call. The request waits here, so it must not hold a
    model (``manager.use``) meanwhile: ``fn`` takes it."""
    sharer = _sharer.get()
    if sharer is None or not items:
        return fn(items, **common)
    return sharer(Part(fn, list(items), key, common, limit))


@contextmanager
def sharing(sharer: Sharer | None) -> Iterator[None]:
    """Within the block, :func:`shared_pass` in this thread goes to ``sharer`` (None: plain calls)."""
    token = _sharer.set(sharer)
    try:
        yield
    finally:
        _sharer.reset(token)


def run_parts(
    parts: list[Part], cap: int | None = None, on_pass: Callable[[str, int], None] | None = None
) -> list[list[Any] | BaseException]:
    """Parts of several requests in as few passes as can be: the parts of a :attr:`Part.group`, in order, in one
    call of their ``fn`` on their items put together, at most ``cap`` items a call and the parts' own
    :attr:`~Part.limit` (a larger part alone), its results split back. A call that fails runs each of its parts
    alone, so that one request's error stays its own: each part's results, or its exception in its place.
    ``on_pass(name, parts)`` is told of each call."""
    results: list[list[Any] | BaseException] = [[] for _ in parts]
    groups: dict[tuple[Any, ...], list[list[int]]] = {}
    for i, part in enumerate(parts):
        passes = groups.setdefault(part.group, [[]])
        most = min((c for c in (cap, part.limit) if c is not None), default=None)
        if passes[-1] and most is not None and sum(len(parts[j].items) for j in passes[-1]) + len(part.items) > most:
            passes.append([])
        passes[-1].append(i)
    for members in (m for passes in groups.values() for m in passes):
        first = parts[members[0]]
        items = [item for i in members for item in parts[i].items]
        try:
            values = list(first.fn(items, **first.common))
            if len(values) != len(items):
                raise RuntimeError(f"{first.name} gave {len(values)} results for {len(items)} items")
        except Exception as err:  # one request's bad items must not fail the others: each alone
            for i in members:
                results[i] = err if len(members) == 1 else _alone(parts[i], on_pass)
            continue
        if on_pass:
            on_pass(first.name, len(members))
        at = 0
        for i in members:
            results[i] = values[at : at + len(parts[i].items)]
            at += len(parts[i].items)
    return results


def _alone(part: Part, on_pass: Callable[[str, int], None] | None) -> list[Any] | BaseException:
    """One part in a call of its own: its results, or its exception."""
    try:
        values = list(part.fn(part.items, **part.common))
    except Exception as err:
        return err
    if on_pass:
        on_pass(part.name, 1)
    return values
