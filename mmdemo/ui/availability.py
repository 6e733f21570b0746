"""What works on this server, per tab, said on the first screen (before anyone clicks).

Each tab's features name the roles they need (:data:`FEATURES`). From the model manager's
:meth:`~mmdemo.models.manager.ModelManager.availability` (files only: nothing is loaded or downloaded)
the tab gets a short notice for users — what cannot run here, what the first run downloads, what is
missing and what that costs — with the operator detail (the prefetch command, the setting) folded away
under "For the operator", and the buttons of features that cannot run are disabled.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..models.manager import Availability, ModelManager
from .i18n import request_locale, say, translate


@dataclass(frozen=True)
class Feature:
    """One thing a tab does: the roles it cannot run without, and optional ones with what they add."""

    name: str
    needs: tuple[str, ...] = ()
    optional: tuple[tuple[str, str], ...] = field(default=())
    """(role, what the feature does without it)."""


FEATURES: dict[str, tuple[Feature, ...]] = {
    "caption": (
        Feature("Caption", ("captioner",)),
        Feature("Detailed caption", ("captioner",)),
        Feature("Ask a question", ("vqa",)),
        Feature("Read text", ("ocr",)),
    ),
    "generate": (
        Feature(
            "Generate",
            ("text_to_image",),
            (
                ("tiny_vae", "images are decoded by the model's full decoder (slower on a CPU)"),
                ("clip", "images get no CLIP score"),
            ),
        ),
    ),
    "round_trip": (
        Feature("Round trip", ("captioner", "text_to_image"), (("clip", "there are no similarity scores"),)),
    ),
    "emotion": (
        Feature(
            "Analyse",
            (),
            (
                ("emotion", "there is no emotion from the voice (the timeline stays empty)"),
                ("text_emotion", "there is no emotion from the words"),
                ("asr", "speech is transcribed by the smaller offline model (English only)"),
                ("asr_offline", "speech is not transcribed when the main recogniser cannot run"),
            ),
        ),
    ),
    "video": (
        Feature(
            "Summarise",
            (),
            (
                ("captioner", "keyframes are not described"),
                ("asr", "speech is transcribed by the smaller offline model (English only)"),
                ("ocr", "on-screen text is not read"),
                ("asr_offline", "speech is not transcribed when the main recogniser cannot run"),
                ("summarizer", "the summary is made of picked sentences instead of written by a model"),
                ("embedder", "picked sentences are the first ones rather than the most central"),
            ),
        ),
    ),
}


@dataclass(frozen=True)
class TabAvailability:
    usable: dict[str, bool]
    """Feature name → can run here."""
    notice: str
    """HTML for the top of the tab; empty when everything is installed."""


def _model(a: Availability) -> str:
    return f"<code>{html.escape(a.model_id)}</code>"


def tab_availability(manager: ModelManager, tab: str, locale: str = "en") -> TabAvailability:
    """The notice and the usable features of ``tab`` (a key of :data:`FEATURES`), the notice in ``locale``
    (the operator's details stay English)."""
    features = FEATURES[tab]
    roles = {role for f in features for role in (*f.needs, *(r for r, _ in f.optional))}
    known = {role: manager.availability(role) for role in sorted(roles) if role in manager.specs}
    usable: dict[str, bool] = {}
    lines: list[str] = []
    details: list[str] = []
    downloads: list[Availability] = []
    for feature in features:
        missing = [known[r] for r in feature.needs if r in known and not known[r].usable]
        usable[feature.name] = not missing
        if missing:
            lines.append(
                say(
                    "{feature} is not available on this server: its model ({models}) is not installed.",
                    locale,
                    feature=f"<strong>{html.escape(translate(feature.name, locale))}</strong>",
                    models=", ".join(_model(a) for a in missing),
                )
            )
        for role, without in feature.optional if not missing else ():
            a = known.get(role)
            if a is not None and not a.usable:
                lines.append(
                    say(
                        "{title} is not installed here: {without}.",
                        locale,
                        title=html.escape(translate(a.title, locale)),
                        without=html.escape(translate(without, locale)),
                    )
                )
        for role in (*feature.needs, *(r for r, _ in feature.optional)):
            a = known.get(role)
            if a is not None and a.usable and a.downloads and a not in downloads:
                downloads.append(a)
            if a is not None and a.usable and a.detail:
                failed = say("Loading {model} failed last time; the next request tries again.", locale, model=_model(a))
                lines += [] if failed in lines else [failed]
    if downloads:
        lines.append(
            say(
                "The first use downloads {models} from the Hugging Face Hub, which takes a while.",
                locale,
                models=", ".join(_model(a) for a in downloads),
            )
        )
    for a in known.values():
        if a.detail and a.detail not in details:
            details.append(a.detail)
    if not lines and not details:
        return TabAvailability(usable, "")
    body = "".join(f"<li>{line}</li>" for line in lines)
    operator = "".join(f"<li>{html.escape(d)}</li>" for d in details)
    notice = f'<div class="mmdemo-notice" role="status"><ul>{body}</ul>'
    if operator:
        notice += (
            f"<details><summary>{html.escape(say('For the operator', locale))}</summary><ul>{operator}</ul></details>"
        )
    return TabAvailability(usable, notice + "</div>")


class AvailabilityView:
    """The notices and gated buttons of every tab, refreshed together (page load, after each request)."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.notices: dict[str, gr.HTML] = {}
        self.buttons: list[tuple[str, str, gr.Button]] = []

    def notice(self, tab: str) -> gr.HTML:
        """The notice of ``tab``, placed here (call inside the tab's layout)."""
        self.notices[tab] = gr.HTML("", visible=False, elem_id=f"{tab}-availability")
        return self.notices[tab]

    def gate(self, tab: str, feature: str, *buttons: gr.Button) -> None:
        """Disable ``buttons`` while ``feature`` of ``tab`` cannot run here."""
        if feature not in {f.name for f in FEATURES[tab]}:
            raise KeyError(f"{tab} has no feature {feature!r}")
        self.buttons += [(tab, feature, b) for b in buttons]

    def outputs(self) -> list[Any]:
        return [*self.notices.values(), *(b for _, _, b in self.buttons)]

    def refresh(self) -> list[Any]:
        locale = request_locale()  # the language of the browser that asked (page load, its own requests)
        states = {tab: tab_availability(self.manager, tab, locale) for tab in FEATURES}
        notices = [gr.update(value=states[t].notice, visible=bool(states[t].notice)) for t in self.notices]
        buttons = [gr.update(interactive=states[t].usable[f]) for t, f, _ in self.buttons]
        return [*notices, *buttons]
