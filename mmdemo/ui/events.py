"""One way to register a model event: gate, rate limit, queue lane, errors, cancellation, ZeroGPU.

Every model event of the app is registered with :func:`model_event`:

* its values have already passed the gate (:mod:`mmdemo.ui.gate`) when the handler runs, files unwrapped to
  :class:`~mmdemo.media.files.Upload`;
* the client's request is counted against the per-client limit of its app (:mod:`mmdemo.ui.access`);
* it runs in its own **queue lane** (a Gradio concurrency group, one request at a time per lane), so a
  quick request never queues behind a long one of another task; the model manager's per-model locks
  (granted in arrival order) keep any one model to one request at a time, and long pipelines take
  and release each model per stage and per batch, so a quick request on a shared model waits for one
  batch at most, not for the whole job;
* in the browser it first checks that the models its feature needs are installed (derived from
  :data:`~mmdemo.ui.availability.FEATURES`, by the event's API name) and the request's quick input checks;
* backend errors become ``gr.Error`` with the user's sentence (the operator detail goes to the log);
* work for a client that has gone away stops at its next progress step (:class:`~mmdemo.errors.Cancelled`);
* on ZeroGPU the handler runs under ``@spaces.GPU``, with errors already converted inside it.

A handler is a module-level function; one that needs the model manager takes it first and is registered as
``functools.partial(handler, manager)`` (its name, docstring and signature without the manager are what the API
page and MCP show).
"""

from __future__ import annotations

import contextvars
import functools
import html
import inspect
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import Cancelled, MMDemoError
from ..messages import Message, Page, text
from ..models.manager import ModelManager, ProgressFn
from ..runner import current_runner
from ..zerogpu import gpu
from .access import UNLIMITED, AccessPolicy, building_policy
from .availability import needs_of
from .i18n import localized, request_locale, tr, user_error

log = logging.getLogger(__name__)

UNEXPECTED = Message("request.unexpected")
"""What the user reads when a handler fails in a way the app did not foresee (the details go to the log)."""


STREAM_CLOSED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("stream_closed", default=None)
"""Set in the worker thread of a :func:`~mmdemo.ui.streaming.streamed` call: the stream it feeds was closed (its
client is gone)."""


QUEUED: contextvars.ContextVar[bool] = contextvars.ContextVar("queued", default=False)
"""Set by a model event's handler when it starts: the request came through Gradio's queue (a browser or an API
client), so the queue forgetting it (Stop cancels it) means it is over."""


def client_gone() -> bool:
    """True when the request this thread works for was abandoned: its client disconnected (Gradio then
    marks the queued event dead), it was cancelled, or the stream it feeds was closed. False outside a
    Gradio request."""
    closed = STREAM_CLOSED.get()
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
    # Not running any more: the queue is done with it (a Stop cancelled it) while this thread still works.
    return QUEUED.get() and event_id not in getattr(queue, "event_ids_to_events", {})


def progress_to(progress: gr.Progress, locale: str | None = None) -> ProgressFn:
    """Adapt Gradio's progress tracker to the backend's ``(fraction, message)`` callback, its messages (text, or
    keyed: a :class:`~mmdemo.messages.Message` or page text) shown in ``locale`` (default: the request's).

    Every long backend loop reports progress at its stage and step boundaries; that is where a request
    whose client has gone away stops (:class:`Cancelled`), freeing its lane and its models.
    """
    locale = locale or request_locale()

    def report(fraction: float, message: Any) -> None:
        if client_gone():
            raise Cancelled
        progress(fraction, desc=text(message, locale))

    return report


def output_folder() -> Path:
    """A new folder for files a request writes (reports …), inside Gradio's cache, so that the cache
    clean-up (``delete_cache``) removes them with everything else the app served."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / "mmdemo" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- errors ----------------------------------------------------------------------------------------------------


def _converted(fn_name: str, err: BaseException) -> BaseException:
    """The ``gr.Error`` a backend exception becomes (logged for the operator), or ``err`` itself."""
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, MMDemoError):
        log.info("%s refused: %s", fn_name, err.detail)
        return user_error(err.message, Message("title.cannot"))
    if isinstance(err, Cancelled):
        log.info("%s stopped: its client went away", fn_name)
        return user_error(Message("request.cancelled"), Message("title.cancelled"))
    if isinstance(err, Exception):
        log.error("unexpected error in %s", fn_name, exc_info=err)
        return user_error(UNEXPECTED, Message("title.unexpected"))
    return err  # KeyboardInterrupt, GeneratorExit …


def _origin(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function a handler was made from (``functools.partial(handler, manager)``: ``handler``): its name,
    docstring and annotations are the handler's."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _convert_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Backend errors → ``gr.Error``: the user's sentence to the client, one log line for the operator.
    A generator handler (one that streams) stays a generator, its errors converted as they happen; closed before
    its end (Stop between two partial results), it logs that it stopped, as a job stopped at a step does."""
    name = getattr(_origin(fn), "__name__", "handler")
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(_origin(fn))
        def run_streaming(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except GeneratorExit:  # closed by Gradio at a partial result (Stop, or its client went away)
                log.info("%s stopped: its client went away", name)
                raise
            except (Exception, Cancelled) as err:
                raise _converted(name, err) from None

        run_streaming.__wrapped__ = fn  # type: ignore[attr-defined]  # its signature: without a bound manager
        return run_streaming

    @functools.wraps(_origin(fn))
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (Exception, Cancelled) as err:
            raise _converted(name, err) from None

    run.__wrapped__ = fn  # type: ignore[attr-defined]
    return run


# --- registration ----------------------------------------------------------------------------------------------


def guarded(
    fn: Callable[..., Any],
    gpu_duration: float | Callable[..., float] | None = None,
    policy: AccessPolicy = UNLIMITED,
    inline: str | None = None,
) -> Callable[..., Any]:
    """``fn`` as a model event handler: the per-client rate limit of ``policy`` (its app's), then (under
    ``@spaces.GPU`` on ZeroGPU when ``gpu_duration`` is given) ``fn`` with its errors converted inside the GPU
    function.

    ``inline``: the page shows this event's errors in its line under the Run button (:class:`RunControls`, filled
    by :func:`failure_line` under this name), not as a toast; API clients get the error as before.

    The wrapper asks Gradio for the request (an extra ``request: gr.Request`` parameter that the API does
    not show) to know who is calling; ``fn`` itself does not get it. A generator ``fn`` (it streams partial
    results) gives a generator handler. ``fn`` may be ``functools.partial(handler, manager)``.
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

        @functools.wraps(_origin(fn))
        def handler(*args: Any, **kwargs: Any) -> Iterator[Any]:
            request, bound = split(args, kwargs)
            _note_queued()
            try:
                policy.limiter.check(policy.client_id(request))
                yield from inner(*bound.args, **bound.kwargs)
            except gr.Error as err:  # in the language of the user's browser (English for API clients)
                raise _shown(localized(err, request_locale(request)), request, inline) from None

    else:

        @functools.wraps(_origin(fn))
        def handler(*args: Any, **kwargs: Any) -> Any:
            request, bound = split(args, kwargs)
            _note_queued()
            try:
                policy.limiter.check(policy.client_id(request))
                return inner(*bound.args, **bound.kwargs)
            except gr.Error as err:  # in the language of the user's browser (English for API clients)
                raise _shown(localized(err, request_locale(request)), request, inline) from None

    handler.__signature__ = full_signature  # type: ignore[attr-defined]
    shown = {*signature.parameters, "return"}  # not a bound manager's
    annotations = {k: v for k, v in getattr(_origin(fn), "__annotations__", {}).items() if k in shown}
    handler.__annotations__ = {**annotations, "request": gr.Request}
    return handler


def _note_queued() -> None:
    """Mark this request as queued when Gradio's queue runs it (:data:`QUEUED`, read by :func:`client_gone`)."""
    from gradio.context import LocalContext

    queue = getattr(LocalContext.blocks.get(None), "_queue", None)
    event_id = LocalContext.event_id.get(None)
    QUEUED.set(event_id is not None and event_id in getattr(queue, "event_ids_to_events", {}))


# --- run controls: a busy Run button, a Stop button, one line for what went wrong ---------------------------------

_FAILURES: OrderedDict[tuple[str, str], str] = OrderedDict()
"""(browser session, event name) → the last error of that event there, until its line shows it."""
_FAILURES_LOCK = threading.Lock()
MAX_FAILURES = 1000
"""Errors kept for their lines at most (API clients' errors are never shown in one; the oldest go first)."""


def _shown(error: gr.Error, request: Any, inline: str | None) -> gr.Error:
    """``error`` as the page shows it: in its event's line (kept for :func:`failure_line`) instead of a toast
    when the event has one (``inline``: its name), else as it is."""
    session = getattr(request, "session_hash", None)
    if inline is None or not session:
        return error
    message = error.message
    if getattr(error, "mmdemo_message", None) == Message("request.cancelled"):  # Stop: its line says so
        message = Message("request.stopped").text(request_locale(request))
    with _FAILURES_LOCK:
        _FAILURES[(session, inline)] = message
        while len(_FAILURES) > MAX_FAILURES:
            _FAILURES.popitem(last=False)
    quiet = type(error).__new__(type(error))
    quiet.__dict__.update(error.__dict__)
    quiet.args = error.args
    quiet.visible = False
    return quiet


def message_html(message: str) -> str:
    """One line under a Run button (HTML, escaped)."""
    return f'<p class="mmdemo-message" role="alert">{html.escape(message)}</p>'


def failure_line(name: str) -> Callable[..., Any]:
    """The update of a Run button's line after event ``name`` failed for this browser: the error it raised."""

    def show(request: gr.Request) -> Any:
        with _FAILURES_LOCK:
            message = _FAILURES.pop((getattr(request, "session_hash", None) or "", name), None)
        if message is None:  # nothing kept: the error was a toast (a request without a session)
            return gr.update()
        return gr.update(value=message_html(message), visible=True)

    return show


@dataclass(frozen=True)
class RunControls:
    """What a tab's jobs show under their Run button (:func:`run_controls`): a Stop button while one runs, and one
    line that says why the last run failed or that it was stopped (the outputs keep what they showed)."""

    stop: gr.Button
    message: gr.HTML


def run_controls(name: str) -> RunControls:
    """A Stop button (shown while a job of this tab runs) and the tab's message line, placed here (right under
    the Run button). Pass it to :func:`model_event` (``controls=``) for every job it should stop."""
    stop = gr.Button(tr("Stop"), variant="stop", visible=False, elem_id=f"{name}-stop")
    message = gr.HTML("", visible=False, elem_id=f"{name}-message", padding=False)
    return RunControls(stop, message)


def _button_states(buttons: Sequence[gr.Button], busy: bool, usable: bool = True) -> list[Any]:
    """The Run buttons busy (disabled, "Working…") or back to their own label (enabled when ``usable``)."""
    if busy:
        return [gr.update(value=tr("Working…"), interactive=False) for _ in buttons]
    return [gr.update(value=button.value, interactive=usable) for button in buttons]


def _returned(updates: list[Any]) -> Any:
    """What a handler returns for these outputs: one output's update as it is (Gradio would take a list of one as
    that output's value), several as a list."""
    return updates[0] if len(updates) == 1 else updates


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
                refusal = Message("model.not_installed", title=Page(availability.title))
                raise localized(user_error(refusal, Message("title.not_available")))
        if check is not None:
            try:
                check(*values)
            except MMDemoError as err:
                raise localized(user_error(err.message, Message("title.check"))) from None

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
    check: Callable[..., None] | None = None,
    controls: RunControls | None = None,
    progress_on: Any = None,
    reveal: Sequence[Any] = (),
    api_visibility: str = "public",
) -> Any:
    """Register a model event: ``fn`` :func:`guarded`, run in queue lane ``lane`` (one request at a time),
    raw values (``preprocess=False``: the gate has checked them and unwrapped files to
    :class:`~mmdemo.media.files.Upload`; the backend decodes files itself). Its progress is drawn once, on
    ``progress_on`` (default: the first output).

    With ``manager``, the browser first runs :func:`precheck` (the roles the feature that ``api_name`` runs
    cannot do without, from :data:`~mmdemo.ui.availability.FEATURES`; ``check``: input checks) without waiting
    for a lane, and the model event only when it passes. API clients call the model event directly (named
    ``api_name``); the backend checks the same things again. While it runs, the buttons among ``triggers`` say
    "Working…" and cannot be clicked again; with ``controls`` (:func:`run_controls`) its Stop button shows and
    stops it, and an error is said once in its line (the outputs keep what they showed). ``reveal``: outputs
    hidden until a first run starts. ``api_visibility="private"``: a job of the page only (an example's run), not
    an API endpoint.

    Returns the model event (``.success`` chains after a run that succeeded).
    """
    required = needs_of(api_name)
    triggers = list(triggers) if isinstance(triggers, (list, tuple)) else [triggers]
    shown = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    options = {
        "preprocess": False,
        "concurrency_id": lane,
        # One request at a time per lane when the models are here; on Ray Serve the deployments' replicas,
        # batching and queues decide (README, Scaling out).
        "concurrency_limit": 1 if current_runner() is None else None,
        "api_name": api_name,
        "api_visibility": api_visibility,
        "show_progress_on": progress_on if progress_on is not None else shown[:1],
    }
    handler = guarded(fn, gpu_duration, building_policy(), inline=api_name if controls is not None else None)
    if manager is None:
        return gr.on(triggers, handler, list(inputs), outputs, **options)
    buttons = [t.__self__ for t in triggers if isinstance(getattr(t, "__self__", None), gr.Button)]
    parts = [controls.stop, controls.message] if controls is not None else []
    check_request = precheck(manager, required, check)

    def start(*values: Any) -> Any:
        check_request(*values)
        shown_parts = [gr.update(visible=True), gr.update(value="", visible=False)] if controls is not None else []
        revealed = [gr.update(visible=True) for _ in reveal]
        return _returned([*_button_states(buttons, busy=True), *shown_parts, *revealed])

    def idle_states() -> list[Any]:
        usable = all(manager.availability(role).usable for role in required)
        return [*_button_states(buttons, busy=False, usable=usable), *([gr.update(visible=False)] if parts else [])]

    def idle() -> Any:
        return _returned(idle_states())

    def stopped(request: gr.Request) -> Any:
        note = message_html(Message("request.stopped").text(request_locale(request)))
        return _returned([*idle_states(), gr.update(value=note, visible=True)])

    first = gr.on(
        triggers,
        start,
        list(inputs),
        [*buttons, *parts, *reveal],
        preprocess=False,
        show_progress="hidden",
        api_visibility="private",
        # Queued (Gradio shows a queued event's gr.Error as a toast; an unqueued one's only with show_error),
        # but never waiting: no concurrency limit, milliseconds of work.
        concurrency_limit=None,
    )

    def failed(request: gr.Request) -> Any:
        return _returned([*idle_states(), *([line(request)] if controls is not None else [])])

    line = failure_line(api_name)
    run = first.success(handler, list(inputs), outputs, **options)
    quiet: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    # Gradio's page runs a .then() after a success (or a Stop), not after an error: .failure() for that.
    run.then(idle, None, [*buttons, *parts[:1]], **quiet)
    run.failure(failed, None, [*buttons, *parts], **quiet)
    if controls is not None:
        controls.stop.click(stopped, None, [*buttons, *parts], cancels=[run], **quiet)
    return run
