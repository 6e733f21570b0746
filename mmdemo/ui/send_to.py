""" "Send to" between tabs: a result of one task becomes the input of another (a caption or a transcript
becomes the text-to-image prompt; a generated image or a video keyframe goes to the image tab to be
described or asked about). Each tab makes its own buttons (:class:`Ports`); :func:`connect` wires them
once every tab exists. A button is shown only while it can act: there is a result to send and the tab it
sends to can run on this server (:func:`sendable`). Text moves in the browser (nothing to check on the
server); images move as the files the app itself served, through the gate like any other value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..messages import Message
from ..models.manager import ModelManager
from ..tasks.text_to_image import PROMPT
from .availability import tab_availability
from .i18n import localized, user_error

PROMPT_JS = f"""(text) => (text || "")
  .split("\\n")
  .map((line) => line.replace(/^\\[[0-9:.]+[–-][0-9:.]+\\]\\s*/, "").trim())
  .filter((line) => line)
  .join(" ")
  .slice(0, {PROMPT.max_length})"""
"""A text output as a prompt: transcript timestamps ("[0:01.2–0:03.4] ") dropped, one line, cut to the
prompt's length limit (:data:`~mmdemo.tasks.text_to_image.PROMPT`)."""


@dataclass
class Ports:
    """What a tab offers to the others: inputs that take a sent value, buttons that send one."""

    image: Any = None
    """The image input of the image tab."""
    prompt: Any = None
    """The prompt of the text-to-image tab."""
    texts: list[tuple[Any, Any]] = field(default_factory=list)
    """(button, text component): the text becomes the prompt."""
    images: list[tuple[Any, Any, Any]] = field(default_factory=list)
    """(button, gallery, selected-index state): that gallery image goes to the image tab."""


def selected_index(evt: gr.SelectData) -> int:
    """Which gallery item the user clicked (the one a send button sends)."""
    return int(evt.index) if isinstance(evt.index, int) else 0


def track_selection(gallery: Any) -> Any:
    """A state holding the index of the gallery item last clicked (0 until then)."""
    state = gr.State(0)
    gallery.select(selected_index, None, state, queue=False, show_progress="hidden", api_visibility="private")
    return state


def gallery_item(gallery: Any, index: Any) -> Any:
    """The path of item ``index`` of a gallery value (the first when out of range); refused when it is empty."""
    items = list(gallery or [])
    if not items:
        raise localized(user_error(Message("send_to.no_image"), Message("title.error")))
    item = items[index if isinstance(index, int) and 0 <= index < len(items) else 0]
    return item[0] if isinstance(item, (tuple, list)) else item


def to_generate_tab() -> Any:
    return gr.Tabs(selected="generate")


def to_image_tab(gallery: Any, index: Any) -> tuple[Any, Any]:
    """The chosen gallery image in the image tab's input, and that tab shown."""
    return gallery_item(gallery, index), gr.Tabs(selected="caption")


def can_run(manager: ModelManager, tab: str) -> bool:
    """Whether ``tab`` (``generate``, ``caption``: a key of :data:`~mmdemo.ui.availability.FEATURES`) has a
    feature that can run on this server (files only: nothing is loaded)."""
    return any(tab_availability(manager, tab).usable.values())


def sendable(manager: ModelManager, tab: str, value: Any) -> Any:
    """A send button's visibility for the value it would send: shown when there is one and ``tab`` can run."""
    return gr.update(visible=bool(value) and can_run(manager, tab))


def connect(tabs: Any, ports: list[Ports], manager: ModelManager) -> None:
    """Wire every tab's send buttons to the inputs that take them, switching to the target tab. Every button
    starts hidden and shows (:func:`sendable`) once its text or gallery holds a result and the target can run."""
    image = next(p.image for p in ports if p.image is not None)
    prompt = next(p.prompt for p in ports if p.prompt is not None)
    quiet: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    for port in ports:
        for button, text in port.texts:
            button.visible = False  # (set before the page's config is made: the buttons are already laid out)
            text.change(
                functools.partial(sendable, manager, "generate"), text, button, trigger_mode="always_last", **quiet
            )
            button.click(None, text, prompt, js=PROMPT_JS, **quiet).then(to_generate_tab, None, tabs, **quiet)
        for button, gallery, selected in port.images:
            button.visible = False
            gallery.change(
                functools.partial(sendable, manager, "caption"), gallery, button, trigger_mode="always_last", **quiet
            )
            button.click(to_image_tab, [gallery, selected], [image, tabs], **quiet)
