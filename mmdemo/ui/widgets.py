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
    return _bound(
        gr.Slider(
            param.minimum,
            param.maximum,
            value=param.default,
            step=param.step or (1 if param.integer else None),
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
