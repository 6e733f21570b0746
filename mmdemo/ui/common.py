"""Pieces every tab shares: error translation, progress adaptation and the model status panel."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from ..errors import MMDemoError
from ..models.manager import ModelManager, ProgressFn

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

STATUS_HEADERS = ["Role", "Model", "State", "Device", "Dtype", "Size (MB)", "In use", "Files", "Last used"]


def user_errors(fn: F) -> F:
    """Turn backend errors into ``gr.Error`` with their message; log anything unexpected.

    The user never sees a traceback, and a failure in one request leaves the app serving others.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
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
