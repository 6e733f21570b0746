"""What every tab shares: one way to register a model event (gate, rate limit, queue lane, errors,
cancellation, ZeroGPU), progress adaptation, where output files go, and the Models panel.

Every model event of the app is registered with :func:`model_event`:

* its values have already passed the gate (:mod:`mmdemo.ui.gate`) when the handler runs;
* the client's request is counted against the per-client limit of its app (:mod:`mmdemo.ui.access`);
* it runs in its own **queue lane** (a Gradio concurrency group, one request at a time per lane), so a
  quick request never queues behind a long one of another task; the model manager's per-model locks
  (granted in arrival order) keep any one model to one request at a time, and long pipelines take
  and release each model per stage and per batch, so a quick request on a shared model waits for one
  batch at most, not for the whole job;
* backend errors become ``gr.Error`` with the user's sentence (the operator detail goes to the log);
* work for a client that has gone away stops at its next progress step (:class:`~mmdemo.errors.Cancelled`);
* on ZeroGPU the handler runs under ``@spaces.GPU``, with errors already converted inside it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import gradio as gr

from ..errors import Cancelled, MMDemoError
from ..models.hub import public_model_id
from ..models.manager import ModelManager, ProgressFn
from ..zerogpu import gpu
from .access import UNLIMITED, AccessPolicy, building_policy
from .i18n import localized, request_locale, say, tr, translate, user_error

log = logging.getLogger(__name__)

STATUS_HEADERS = [
    "Task",
    "Used in",
    "Model",
    "State",
    "Device",
    "Precision",
    "Size",
    "Busy",
    "Files",
    "Last used",
    "Problem",
]
TAB_NAMES = {
    "caption": "Image",
    "generate": "Text to image",
    "emotion": "Emotion",
    "video": "Video",
    "round_trip": "Round trip",
}
UNEXPECTED = (
    "Something unexpected went wrong while processing this request (details are in the server log). "
    "Try another input; the app is still running."
)


_STREAM_CLOSED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("stream_closed", default=None)
"""Set in the worker thread of a :func:`streamed` call: the stream it feeds was closed (its client is gone)."""


def client_gone() -> bool:
    """True when the request this thread works for was abandoned: its client disconnected (Gradio then
    marks the queued event dead), it was cancelled, or the stream it feeds was closed. False outside a
    Gradio request."""
    closed = _STREAM_CLOSED.get()
    if closed is not None and closed.is_set():
        return True
    from gradio.context import LocalContext

    blocks = LocalContext.blocks.get(None)
    event_id = LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return False
    for jobs in list(getattr(queue, "active_jobs", []) or []):
        for event in list(jobs or []):
            if getattr(event, "_id", None) == event_id:
                return not getattr(event, "alive", True)
    return False


def progress_to(progress: gr.Progress) -> ProgressFn:
    """Adapt Gradio's progress tracker to the backend's ``(fraction, message)`` callback.

    Every long backend loop reports progress at its stage and step boundaries; that is where a request
    whose client has gone away stops (:class:`Cancelled`), freeing its lane and its models.
    """

    def report(fraction: float, message: str) -> None:
        if client_gone():
            raise Cancelled
        progress(fraction, desc=message)

    return report


def _converted(fn_name: str, err: BaseException) -> BaseException:
    """The ``gr.Error`` a backend exception becomes (logged for the operator), or ``err`` itself."""
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, MMDemoError):
        log.info("%s refused: %s", fn_name, err.detail)
        return user_error(err.message, "Cannot do that")
    if isinstance(err, Cancelled):
        log.info("%s stopped: its client went away", fn_name)
        return gr.Error("This request was cancelled.", title="Cancelled", print_exception=False)
    if isinstance(err, Exception):
        log.error("unexpected error in %s", fn_name, exc_info=err)
        return gr.Error(UNEXPECTED, title="Unexpected error", print_exception=False)
    return err  # KeyboardInterrupt, GeneratorExit …


def _convert_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Backend errors → ``gr.Error``: the user's sentence to the client, one log line for the operator.
    A generator handler (one that streams) stays a generator, its errors converted as they happen."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def run_streaming(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except (Exception, Cancelled) as err:
                raise _converted(fn.__name__, err) from None

        return run_streaming

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (Exception, Cancelled) as err:
            raise _converted(fn.__name__, err) from None

    return run


def guarded(
    fn: Callable[..., Any],
    gpu_duration: float | Callable[..., float] | None = None,
    policy: AccessPolicy = UNLIMITED,
) -> Callable[..., Any]:
    """``fn`` as a model event handler: the per-client rate limit of ``policy`` (its app's), then (under
    ``@spaces.GPU`` on ZeroGPU when ``gpu_duration`` is given) ``fn`` with its errors converted inside the GPU
    function.

    The wrapper asks Gradio for the request (an extra ``request: gr.Request`` parameter that the API does
    not show) to know who is calling; ``fn`` itself does not get it. A generator ``fn`` (it streams partial
    results) gives a generator handler.
    """
    inner = _convert_errors(fn)
    if gpu_duration is not None:
        inner = gpu(duration=gpu_duration)(inner)
    signature = inspect.signature(fn)
    request_param = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
    )
    full_signature = signature.replace(parameters=[*signature.parameters.values(), request_param])

    def split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, inspect.BoundArguments]:
        bound = full_signature.bind_partial(*args, **kwargs)
        return bound.arguments.pop("request", None), bound

    handler: Callable[..., Any]
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Iterator[Any]:
            request, bound = split(args, kwargs)
            try:
                policy.limiter.check(policy.client_id(request))
                yield from inner(*bound.args, **bound.kwargs)
            except gr.Error as err:  # in the language of the user's browser (English for API clients)
                raise localized(err, request_locale(request)) from None

    else:

        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            request, bound = split(args, kwargs)
            try:
                policy.limiter.check(policy.client_id(request))
                return inner(*bound.args, **bound.kwargs)
            except gr.Error as err:  # in the language of the user's browser (English for API clients)
                raise localized(err, request_locale(request)) from None

    handler.__signature__ = full_signature  # type: ignore[attr-defined]
    handler.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    return handler


T = TypeVar("T")
R = TypeVar("R")


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
        _STREAM_CLOSED.set(stop)  # progress steps in the call see it too (client_gone)
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


STREAM_POLL_S = 0.25
"""How often a stream waiting for its call's next partial result checks that its client is still there."""


def precheck(
    manager: ModelManager, needs: Sequence[str], check: Callable[..., None] | None = None
) -> Callable[..., None]:
    """A quick check before a model event runs in the browser: the models it needs are installed, and
    ``check`` (the backend's own input checks that need no model) passes. A refusal is a toast only,
    so the results already on the page stay (the model event itself would mark every output failed)."""

    def check_request(*values: Any) -> None:
        for role in needs:
            availability = manager.availability(role)
            if not availability.usable:
                raise gr.Error(
                    say(
                        "{title} is not available on this server: its model is not installed "
                        "(the note at the top of this tab says more).",
                        title=translate(availability.title),
                    ),
                    title=say("Not available here"),
                    print_exception=False,
                )
        if check is not None:
            try:
                check(*values)
            except MMDemoError as err:
                raise localized(user_error(err.message, "Check the request")) from None

    return check_request


def model_event(
    triggers: Any,
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    outputs: Sequence[Any] | Any,
    *,
    api_name: str,
    lane: str,
    gpu_duration: float | Callable[..., float] | None = None,
    manager: ModelManager | None = None,
    needs: Sequence[str] = (),
    check: Callable[..., None] | None = None,
) -> Any:
    """Register a model event: ``fn`` :func:`guarded`, run in queue lane ``lane`` (one request at a time),
    raw values (``preprocess=False``: the gate has checked them, the backend decodes files itself).

    With ``manager``, the browser first runs :func:`precheck` (``needs``: roles that must be installed;
    ``check``: input checks) without waiting for a lane, and the model event only when it passes. API clients
    call the model event directly (named ``api_name``); the backend checks the same things again.
    """
    triggers = list(triggers) if isinstance(triggers, (list, tuple)) else [triggers]
    options = {"preprocess": False, "concurrency_id": lane, "concurrency_limit": 1, "api_name": api_name}
    handler = guarded(fn, gpu_duration, building_policy())
    if manager is None:
        return gr.on(triggers, handler, list(inputs), outputs, **options)
    first = gr.on(
        triggers,
        precheck(manager, needs, check),
        list(inputs),
        None,
        preprocess=False,
        show_progress="hidden",
        api_visibility="private",
        # Queued (Gradio shows a queued event's gr.Error as a toast; an unqueued one's only with show_error),
        # but never waiting: no concurrency limit, milliseconds of work.
        concurrency_limit=None,
    )
    return first.success(handler, list(inputs), outputs, **options)


def output_folder() -> Path:
    """A new folder for files a request writes (reports …), inside Gradio's cache, so that the cache
    clean-up (``delete_cache``) removes them with everything else the app served."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / "mmdemo" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def tabs_using(role: str, locale: str = "en") -> str:
    """The tabs whose features use ``role`` (from :data:`~mmdemo.ui.availability.FEATURES`)."""
    from .availability import FEATURES

    return ", ".join(
        say(TAB_NAMES[tab], locale)
        for tab, features in FEATURES.items()
        if any(role in (*f.needs, *(r for r, _ in f.optional)) for f in features)
    )


def status_rows(manager: ModelManager, locale: str = "en") -> list[list[Any]]:
    now = time.time()
    return [
        [
            translate(s.title, locale),
            tabs_using(s.role, locale),
            public_model_id(s.model_id),
            translate(s.state, locale),
            s.device or "",
            s.dtype or "",
            f"{s.bytes / 2**20:,.0f} MB" if s.bytes else "",
            s.in_use or "",
            translate(s.source, locale),
            say("{seconds} s ago", locale, seconds=f"{now - s.last_used:.0f}") if s.last_used else "",
            s.problem,
        ]
        for s in manager.status()
    ]


def memory_summary(manager: ModelManager, locale: str = "en") -> str:
    parts = [
        say(
            "**{tier}**: {used} of {budget} GiB budget",
            locale,
            tier=tier,
            used=f"{used / 2**30:.2f}",
            budget=f"{budget / 2**30:.1f}",
        )
        for tier, (used, budget) in manager.memory_usage().items()
    ]
    intro = say("Models load on first use and the least recently used idle ones make room when needed. ", locale)
    return intro + " · ".join(parts)


def status_panel(manager: ModelManager) -> tuple[gr.Dataframe, gr.Markdown, Callable[[], tuple[Any, str]]]:
    """The "Models" panel: what is loaded, where and how big, and why a model could not be loaded
    (with how to fix it). Returns its parts and its refresh fn."""

    def refresh() -> tuple[Any, str]:
        locale = request_locale()  # a table's headers are not translated in the browser: here, by the request
        table = {"headers": [say(header, locale) for header in STATUS_HEADERS], "data": status_rows(manager, locale)}
        return table, memory_summary(manager, locale)

    with gr.Accordion(tr("Models: what is loaded, where, how big"), open=False, elem_id="model-panel"):
        summary = gr.Markdown()
        table = gr.Dataframe(headers=STATUS_HEADERS, interactive=False, wrap=True, elem_id="model-status")
        refresh_button = gr.Button(tr("Refresh"), size="sm")
    refresh_button.click(refresh, None, [table, summary], api_visibility="private", queue=False)
    return table, summary, refresh


def photo_input(elem_id: str, height: int) -> gr.Image:
    """A photo input as every image task takes it: upload, clipboard or webcam, passed on as the original
    file (``type="filepath"`` with ``preprocess=False`` on the event: the backend decodes the upload
    itself, so odd files — CMYK, 16-bit, EXIF-rotated, corrupt, bombs — get its checks and messages)."""
    return gr.Image(
        label=tr("Photo"),
        type="filepath",
        image_mode=None,
        sources=["upload", "clipboard", "webcam"],
        height=height,
        elem_id=elem_id,
    )


def steps_slider(maximum: int, **kwargs: Any) -> gr.Slider:
    """Denoising steps, 0 meaning the model's own recommendation."""
    return gr.Slider(
        0,
        maximum,
        value=0,
        step=1,
        precision=0,
        label=tr("Steps"),
        info=tr("0 = Auto (the model's recommendation)"),
        **kwargs,
    )
