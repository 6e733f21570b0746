"""Pieces every tab shares: error translation, progress adaptation and the model status panel."""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from ..errors import MMDemoError
from ..models.manager import ModelManager, ProgressFn

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

STATUS_HEADERS = ["Role", "Model", "State", "Device", "Dtype", "Size (MB)", "In use", "Files", "Last used"]


class RateLimiter:
    """At most ``per_minute`` requests per client in any sliding minute (0 = unlimited)."""

    def __init__(self, per_minute: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count a request of ``client``; raise ``gr.Error`` (nothing counted) when over the limit."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        with self._lock:
            times = self._seen[client]
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = 60 - (now - times[0])
                raise gr.Error(
                    f"Too many requests: at most {self.per_minute} a minute per user. Try again in {wait:.0f} s.",
                    title="Slow down",
                )
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle clients so the table stays small
                for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - 60]:
                    del self._seen[key]


rate_limiter = RateLimiter()
"""Shared by every model event of the app; ``build_app`` sets its limit from the settings."""


def client_id(request: gr.Request | None) -> str:
    """Who is asking: the login name, else the first forwarded-for address, else the peer address."""
    if request is None:
        return "local"
    if getattr(request, "username", None):
        return f"user:{request.username}"
    forwarded = (request.headers or {}).get("x-forwarded-for", "") if hasattr(request, "headers") else ""
    if forwarded:
        return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


def user_errors(fn: F) -> F:
    """Wrap a model event handler: per-client rate limit, then backend errors → ``gr.Error``.

    The user never sees a traceback, and a failure in one request leaves the app serving others.
    The wrapper asks Gradio for the request (an extra ``request: gr.Request`` parameter that the
    API does not show) to know who is calling; ``fn`` itself does not get it.
    """
    signature = inspect.signature(fn)
    request_param = inspect.Parameter(
        "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
    )
    full_signature = signature.replace(parameters=[*signature.parameters.values(), request_param])

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = full_signature.bind_partial(*args, **kwargs)
        rate_limiter.check(client_id(bound.arguments.pop("request", None)))
        try:
            return fn(*bound.args, **bound.kwargs)
        except gr.Error:
            raise
        except MMDemoError as err:
            raise gr.Error(str(err), title="Cannot do that") from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(
                "Something unexpected went wrong while processing this request (details are in the server log). "
                "Try another input; the app is still running.",
                title="Unexpected error",
            ) from None

    wrapper.__signature__ = full_signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    return wrapper  # type: ignore[return-value]


def progress_to(progress: gr.Progress) -> ProgressFn:
    """Adapt Gradio's progress tracker to the backend's ``(fraction, message)`` callback."""
    return lambda fraction, message: progress(fraction, desc=message)


def status_rows(manager: ModelManager) -> list[list[Any]]:
    now = time.time()
    return [
        [
            s.role,
            s.model_id,
            s.state,
            s.device or "",
            s.dtype or "",
            round(s.bytes / 2**20, 1) if s.bytes else "",
            s.in_use,
            s.source,
            f"{now - s.last_used:.0f} s ago" if s.last_used else "",
        ]
        for s in manager.status()
    ]


def memory_summary(manager: ModelManager) -> str:
    parts = [
        f"**{tier}**: {used / 2**30:.2f} of {budget / 2**30:.1f} GiB budget"
        for tier, (used, budget) in manager.memory_usage().items()
    ]
    return "Models load on first use and the least recently used idle ones make room when needed. " + " · ".join(parts)


def status_panel(manager: ModelManager) -> tuple[gr.Dataframe, gr.Markdown, Callable[[], tuple[Any, str]]]:
    """The "Models" panel: what is loaded, where and how big. Returns its parts and its refresh fn."""

    def refresh() -> tuple[Any, str]:
        return status_rows(manager), memory_summary(manager)

    with gr.Accordion("Models: what is loaded, where, how big", open=False):
        summary = gr.Markdown()
        table = gr.Dataframe(headers=STATUS_HEADERS, interactive=False, wrap=True, elem_id="model-status")
        refresh_button = gr.Button("Refresh", size="sm")
    refresh_button.click(refresh, None, [table, summary], api_visibility="private", queue=False)
    return table, summary, refresh
