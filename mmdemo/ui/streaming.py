"""Streaming partial results: a backend call that hands out partial results while it works (the caption so far,
the image so far) becomes a generator handler that yields them as they come (:func:`streamed`)."""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import Cancelled
from .events import STREAM_CLOSED, client_gone

T = TypeVar("T")
R = TypeVar("R")

STREAM_POLL_S = 0.25
"""How often a stream waiting for its call's next partial result checks that its client is still there."""


@dataclass(frozen=True)
class Partial(Generic[T]):
    """A partial result a streaming backend call handed out while it worked (the caption so far …)."""

    value: T


def streamed(work: Callable[[Callable[[T], None]], R]) -> Iterator[Partial[T] | R]:
    """Run ``work(partial)`` — a backend call that hands partial results to ``partial`` while it works —
    and yield each partial result (:class:`Partial`) as it comes, then the call's own result.

    The call runs in a worker thread with this request's context (progress, cancellation checks), because
    the backend calls back from inside the model (``generate``, a pipeline's step callback) where a
    generator cannot yield. Partial results that pile up while the client is being sent one are skipped
    (only the newest is worth showing; before an error the newest is still sent, so it stays on the page).
    When the client goes away (Gradio closes this generator, or it sees the client gone while waiting) the
    call stops at its next step (:class:`~mmdemo.errors.Cancelled` from its next progress report or partial
    result).
    """
    updates: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def partial(value: T) -> None:
        if stop.is_set():
            raise Cancelled
        updates.put(("partial", value))

    def run() -> None:
        STREAM_CLOSED.set(stop)  # progress steps in the call see it too (client_gone)
        try:
            updates.put(("done", work(partial)))
        except BaseException as err:  # handed to the request's thread, raised there
            updates.put(("failed", err))

    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="mmdemo-stream", daemon=True)
    worker.start()
    try:
        newest: Partial[T] | None = None
        while True:
            try:
                kind, value = updates.get(timeout=STREAM_POLL_S)
            except queue.Empty:
                if client_gone():  # between two partial results: stop now, not at the next one
                    raise Cancelled from None
                continue
            if kind == "partial":
                newest = Partial(value)
                if updates.empty():
                    yield newest
                    newest = None
                continue  # another update is waiting: skip to it
            if kind == "done":
                yield value  # the result supersedes any partial one still waiting
                return
            if newest is not None:
                yield newest  # the last partial result is kept on the page with the error
            raise value
    finally:
        # Not joined: Gradio closes an abandoned generator from its event loop, which must not wait for a
        # model step. The call stops at its next step; the model's run lock keeps the next request off the
        # model until then.
        stop.set()
