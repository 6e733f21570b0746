"""The "Models" panel under the tabs: what is loaded, where and how big, which tabs use each model, and why a
model could not be loaded (with how to fix it); refreshed on page load and after every model event.

A table's headers and cells are not translated in the browser: the panel renders them on the server in the
language of the request (the model manager's states and sources stay plain data; :data:`STATES` and
:data:`SOURCES` say them to people)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import reduce
from typing import Any

import gradio as gr

from ..messages import Message, Page, text
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from .availability import TAB_NAMES, tabs_using
from .i18n import request_locale, tr

COLUMNS = [
    Message("panel.column.task"),
    Message("panel.column.used_in"),
    Message("panel.column.model"),
    Message("panel.column.state"),
    Message("panel.column.memory"),
    Message("panel.column.files"),
    Message("panel.column.last_used"),
    Message("panel.column.problem"),
]
"""The table's headers: eight columns, so that the table fits a 1440 px page (where the model runs, its precision
and its size share one column, and the requests using it are said with its state)."""
COLUMN_WIDTHS = ["14%", "11%", "15%", "9%", "14%", "10%", "8%", "19%"]
"""Each column's share of the table's width (the Problem column, with the longest text, gets the most)."""
STATUS_HEADERS = [str(column) for column in COLUMNS]
"""… in English (the API's and the page's before the first refresh)."""

STATES = {
    "not loaded": Message("model.state.not_loaded"),
    "loading": Message("model.state.loading"),
    "moving": Message("model.state.moving"),
    "ready": Message("model.state.ready"),
    "offloaded": Message("model.state.offloaded"),
}
""":attr:`~mmdemo.models.types.ModelStatus.state` as people read it (another state is shown as it is)."""
SOURCES = {
    "HF cache": Message("model.source.hf_cache"),
    "local folder": Message("model.source.local_folder"),
    "missing folder": Message("model.source.missing_folder"),
    "prefetch folder": Message("model.source.prefetch_folder"),
    "pip package (offline)": Message("model.source.pip_package"),
    "missing package": Message("model.source.missing_package"),
    "missing (offline)": Message("model.source.missing_offline"),
    "Hub (downloads on first use)": Message("model.source.hub"),
}
""":func:`~mmdemo.models.hub.source_of` as people read it (another source is shown as it is)."""


def model_name(model_id: str, locale: str = "en") -> str:
    """A model as visitors may see it (:func:`~mmdemo.models.hub.public_model_id`: Hub and ``pip:`` ids as they
    are, a local folder by its name only), in ``locale``."""
    shown = public_model_id(model_id)
    if shown == model_id:
        return shown
    return Message("model.local_folder", name=shown.removeprefix("local folder “").removesuffix("”")).text(locale)


def _state(state: str, in_use: int, locale: str) -> str:
    said = text(STATES.get(state, state), locale)
    return Message("panel.state_in_use", state=said, count=in_use).text(locale) if in_use else said


def _memory(device: str | None, dtype: str | None, size: int) -> str:
    """Where a loaded model is, in what precision and how big: "cpu · float32 · 120 MB" (empty when not loaded)."""
    return " · ".join(part for part in (device, dtype, f"{size / 2**20:,.0f} MB" if size else "") if part)


def used_in(role: str, locale: str = "en") -> str:
    """The names of the tabs whose features use ``role`` (from :data:`~mmdemo.ui.availability.FEATURES`)."""
    names = [Page(TAB_NAMES[tab]) for tab in tabs_using(role)]
    listed = reduce(lambda first, rest: Message("value.list", first=first, rest=rest), names) if names else ""
    return text(listed, locale)  # "Image, Video" (Chinese: "图像、视频")


def status_rows(manager: ModelManager, locale: str = "en") -> list[list[Any]]:
    now = time.time()
    return [
        [
            Page(s.title).text(locale),
            used_in(s.role, locale),
            model_name(s.model_id, locale),
            _state(s.state, s.in_use, locale),
            _memory(s.device, s.dtype, s.bytes),
            text(SOURCES.get(s.source, s.source), locale),
            Message("panel.seconds_ago", seconds=f"{now - s.last_used:.0f}").text(locale) if s.last_used else "",
            s.problem,
        ]
        for s in manager.status()
    ]


def memory_summary(manager: ModelManager, locale: str = "en") -> str:
    tiers = [
        Message("panel.tier", tier=tier, used=f"{used / 2**30:.2f}", budget=f"{budget / 2**30:.1f}").text(locale)
        for tier, (used, budget) in manager.memory_usage().items()
    ]
    return Message("panel.summary", tiers=" · ".join(tiers)).text(locale)


def status_panel(manager: ModelManager) -> tuple[gr.Dataframe, gr.Markdown, Callable[[], tuple[Any, str]]]:
    """The "Models" panel: what is loaded, where and how big, and why a model could not be loaded
    (with how to fix it). Returns its parts and its refresh fn."""

    def refresh() -> tuple[Any, str]:
        locale = request_locale()  # a table's headers are not translated in the browser: here, by the request
        table = {"headers": [column.text(locale) for column in COLUMNS], "data": status_rows(manager, locale)}
        return table, memory_summary(manager, locale)

    with gr.Accordion(tr("Models: what is loaded, where, how big"), open=False, elem_id="model-panel"):
        summary = gr.Markdown()
        table = gr.Dataframe(
            headers=STATUS_HEADERS,
            interactive=False,
            wrap=True,
            column_widths=COLUMN_WIDTHS,
            elem_id="model-status",
        )
        refresh_button = gr.Button(tr("Refresh"), size="sm")
    refresh_button.click(refresh, None, [table, summary], api_visibility="private", queue=False)
    return table, summary, refresh
