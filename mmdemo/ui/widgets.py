"""Page widgets built from the tasks' parameter declarations (:mod:`mmdemo.params`): their range, step, default,
label and help come from the declaration, and the gate checks a value sent to one with the declaration's own
``check`` (same limits, same sentence as the CLI and the library). Keyword arguments add layout only
(``elem_id``, ``visible``, ``scale`` …)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..params import Choice, Flag, Number, Param, Text
from .i18n import tr, tr_choices

PARAM = "mmdemo_param"
"""The attribute a widget built here carries its declaration in (read by :mod:`.gate`)."""


def _bound(component: Any, param: Param) -> Any:
    setattr(component, PARAM, param)
    return component


def _info(param: Param) -> Any:
    return tr(param.info) if param.info else None


def slider(param: Number, **layout: Any) -> gr.Slider:
    assert param.minimum is not None and param.maximum is not None, param.name
    step = param.step or (1 if param.integer else None)
    # A slider needs two values; where a server allows only one (a setting of 1), it shows two and the gate
    # (the declaration's check) refuses the second.
    maximum = max(param.maximum, param.minimum + (step or 1))
    if param.maximum <= param.minimum:
        layout.setdefault("interactive", False)
    return _bound(
        gr.Slider(
            param.minimum,
            maximum,
            value=param.default,
            step=step,
            precision=0 if param.integer else None,
            label=tr(param.label),
            info=_info(param),
            **layout,
        ),
        param,
    )


def number(param: Number, **layout: Any) -> gr.Number:
    return _bound(
        gr.Number(
            value=param.default,
            minimum=param.minimum,
            maximum=param.maximum,
            precision=0 if param.integer else None,
            label=tr(param.label),
            info=_info(param),
            **layout,
        ),
        param,
    )


def textbox(param: Text, **layout: Any) -> gr.Textbox:
    placeholder = {"placeholder": tr(param.placeholder)} if param.placeholder else {}
    return _bound(
        gr.Textbox(
            value=param.default,
            label=tr(param.label),
            info=_info(param),
            max_length=param.max_length,
            **placeholder,
            **layout,
        ),
        param,
    )


def radio(param: Choice, **layout: Any) -> gr.Radio:
    return _bound(
        gr.Radio(tr_choices(param.choices), value=param.default, label=tr(param.label), info=_info(param), **layout),
        param,
    )


def checkbox(param: Flag, **layout: Any) -> gr.Checkbox:
    return _bound(gr.Checkbox(value=param.default, label=tr(param.label), info=_info(param), **layout), param)


def declaration(component: Any) -> Param | None:
    """The declaration a widget was built from, if any."""
    return getattr(component, PARAM, None)


# --- a widget that is not a declared parameter -----------------------------------------------------------------


def photo_input(elem_id: str, height: int) -> gr.Image:
    """A photo input as every image task takes it: upload, clipboard or webcam, passed on as the original
    file (``type="filepath"`` with ``preprocess=False`` on the event: the gate hands the handler an
    :class:`~mmdemo.media.files.Upload` and the backend decodes the file itself, so odd files — CMYK, 16-bit,
    EXIF-rotated, corrupt, bombs — get its checks and messages)."""
    return gr.Image(
        label=tr("Photo"),
        type="filepath",
        image_mode=None,
        sources=["upload", "clipboard", "webcam"],
        height=height,
        elem_id=elem_id,
    )
