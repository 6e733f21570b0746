"""What works on this server, per tab, said on the first screen (before anyone clicks).

Each tab's features name the roles they need and the endpoint that runs them (:data:`FEATURES`, the one table
of what needs what: the Models panel's "Used in" and each model event's check before it runs are read from it
too). From the model manager's
:meth:`~mmdemo.models.manager.ModelManager.availability` (files only: nothing is loaded or downloaded)
the tab gets a short notice for users — what cannot run here, what the first run downloads, what is
missing and what that costs — with the operator detail (the prefetch command, the setting) folded away
under "For the operator", and the buttons of features that cannot run are disabled.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..messages import Message, Page
from ..models.manager import Availability, ModelManager
from .i18n import LOCALES, page_value, request_locale


@dataclass(frozen=True)
class Feature:
    """One thing a tab does: the endpoint that runs it, the roles it cannot run without, and optional ones with
    what they add."""

    name: str
    """Its name on the page (page text: a button or a choice, translated by the page catalogue)."""
    endpoint: str
    """The API name of the model event that runs it."""
    needs: tuple[str, ...] = ()
    optional: tuple[tuple[str, Message], ...] = field(default=())
    """(role, what the feature does without it)."""

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role it uses: needed, then optional."""
        return (*self.needs, *(role for role, _ in self.optional))


TAB_NAMES = {
    "caption": "Image",
    "generate": "Text to image",
    "emotion": "Emotion",
    "video": "Video",
    "round_trip": "Round trip",
    "evaluate": "Evaluate",
}
"""Each tab's title by its id (the page's tabs, the Models panel's "Used in"): page text."""

_OFFLINE_ASR = Message("availability.without.offline_asr")
_NO_TRANSCRIPT = Message("availability.without.no_transcript")


FEATURES: dict[str, tuple[Feature, ...]] = {
    "caption": (
        Feature("Caption", "caption", ("captioner",)),
        Feature("Detailed caption", "describe", ("captioner",)),
        Feature("Ask a question", "vqa", ("vqa",)),
        Feature("Read text", "ocr", ("ocr",)),
    ),
    "generate": (
        Feature(
            "Generate",
            "generate",
            ("text_to_image",),
            (
                ("tiny_vae", Message("availability.without.full_decoder")),
                ("clip", Message("availability.without.clip_score")),
            ),
        ),
    ),
    "round_trip": (
        Feature(
            "Round trip",
            "round_trip",
            ("captioner", "text_to_image"),
            (("clip", Message("availability.without.similarity")),),
        ),
    ),
    "emotion": (
        Feature(
            "Analyse",
            "emotion",
            (),
            (
                ("emotion", Message("availability.without.voice_emotion")),
                ("text_emotion", Message("availability.without.text_emotion")),
                ("asr", _OFFLINE_ASR),
                ("asr_offline", _NO_TRANSCRIPT),
            ),
        ),
    ),
    "video": (
        Feature(
            "Summarise",
            "summarize",
            (),
            (
                ("captioner", Message("availability.without.keyframe_captions")),
                ("asr", _OFFLINE_ASR),
                ("ocr", Message("availability.without.screen_text")),
                ("asr_offline", _NO_TRANSCRIPT),
                ("summarizer", Message("availability.without.extractive")),
                ("embedder", Message("availability.without.first_sentences")),
            ),
        ),
    ),
}


def needs_of(endpoint: str) -> tuple[str, ...]:
    """The roles the feature that ``endpoint`` runs cannot do without (none for an endpoint no feature names)."""
    return next((f.needs for features in FEATURES.values() for f in features if f.endpoint == endpoint), ())


def tabs_using(role: str) -> list[str]:
    """The ids of the tabs whose features use ``role``, needed or optional."""
    return [tab for tab, features in FEATURES.items() if any(role in f.roles for f in features)]


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
    roles = {role for f in features for role in f.roles}
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
                Message(
                    "availability.feature_missing",
                    feature=f"<strong>{html.escape(Page(feature.name).text(locale))}</strong>",
                    models=", ".join(_model(a) for a in missing),
                ).text(locale)
            )
        for role, without in feature.optional if not missing else ():
            a = known.get(role)
            if a is not None and not a.usable:
                lines.append(
                    Message(
                        "availability.optional_missing",
                        title=html.escape(Page(a.title).text(locale)),
                        without=html.escape(without.text(locale)),
                    ).text(locale)
                )
        for role in feature.roles:
            a = known.get(role)
            if a is not None and a.usable and a.downloads and a not in downloads:
                downloads.append(a)
            if a is not None and a.usable and a.detail:
                failed = Message("availability.failed_last_time", model=_model(a)).text(locale)
                lines += [] if failed in lines else [failed]
    if downloads:
        lines.append(Message("availability.downloads", models=", ".join(_model(a) for a in downloads)).text(locale))
    for a in known.values():
        if a.detail and a.detail not in details:
            details.append(a.detail)
    if not lines and not details:
        return TabAvailability(usable, "")
    body = "".join(f"<li>{line}</li>" for line in lines)
    operator = "".join(f"<li>{html.escape(d)}</li>" for d in details)
    # One line on the first screen (what does not work here), the rest (models, operator detail) folded under it.
    missing = [Page(f.name) for f in features if not usable[f.name]]
    if missing:
        listed = functools.reduce(lambda first, rest: Message("value.list", first=first, rest=rest), missing)
        headline = Message("availability.headline.missing", features=listed)
    elif any(known[r].usable is False for f in features for r, _ in f.optional if r in known):
        headline = Message("availability.headline.partial")
    else:
        headline = Message("availability.headline.notes")
    notice = (
        f'<details class="mmdemo-notice" role="status"><summary>{html.escape(headline.text(locale))}</summary>'
        f"<ul>{body}</ul>"
    )
    if operator:
        notice += (
            f"<details><summary>{html.escape(Page('For the operator').text(locale))}</summary>"
            f"<ul>{operator}</ul></details>"
        )
    return TabAvailability(usable, notice + "</details>")


class AvailabilityView:
    """The notices and gated buttons of every tab, refreshed together (page load, after each request)."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.notices: dict[str, gr.HTML] = {}
        self.buttons: list[tuple[str, str, gr.Button]] = []

    def notice(self, tab: str) -> gr.HTML:
        """The notice of ``tab``, placed here (call inside the tab's layout); drawn with the page, in the page's
        language (page load and later requests refresh it)."""
        texts = {locale: tab_availability(self.manager, tab, locale).notice for locale in LOCALES}
        self.notices[tab] = gr.HTML(page_value(texts), visible=bool(texts["en"]), elem_id=f"{tab}-availability")
        return self.notices[tab]

    def gate(self, tab: str, feature: str, *buttons: gr.Button) -> None:
        """Disable ``buttons`` while ``feature`` of ``tab`` cannot run here (from the first paint on)."""
        if feature not in {f.name for f in FEATURES[tab]}:
            raise KeyError(f"{tab} has no feature {feature!r}")
        usable = tab_availability(self.manager, tab).usable[feature]
        for button in buttons:
            button.interactive = button.interactive is not False and usable
        self.buttons += [(tab, feature, b) for b in buttons]

    def outputs(self) -> list[Any]:
        return [*self.notices.values(), *(b for _, _, b in self.buttons)]

    def refresh(self) -> list[Any]:
        locale = request_locale()  # the language of the browser that asked (page load, its own requests)
        states = {tab: tab_availability(self.manager, tab, locale) for tab in FEATURES}
        notices = [gr.update(value=states[t].notice, visible=bool(states[t].notice)) for t in self.notices]
        buttons = [gr.update(interactive=states[t].usable[f]) for t, f, _ in self.buttons]
        return [*notices, *buttons]
