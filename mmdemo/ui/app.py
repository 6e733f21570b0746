"""The Gradio Blocks app: one tab per task, plus the shared model status panel."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..messages import text
from ..models.manager import ModelManager
from ..runtime import get_manager
from .access import (
    LOGIN_HINT_JS,
    AccessPolicy,
    LoginThrottleMiddleware,
    PageLanguageMiddleware,
    page_locale,
    policy_of,
)
from .audio_emotion import build_audio_emotion_tab
from .availability import TAB_NAMES, AvailabilityView
from .captioning import build_captioning_tab
from .evaluate import build_evaluate_tab
from .gate import GatedBlocks
from .i18n import I18N, tr
from .mcp import lifespan as mcp_lifespan
from .models_panel import status_panel
from .round_trip import build_round_trip_tab
from .send_to import connect
from .text_to_image import build_text_to_image_tab
from .video_summary import build_video_summary_tab

TITLE = "mmdemo · multimodal AI demo"
INTRO = f"## {TITLE}\nImages, pictures from text, emotion in speech and video summaries, on this server."
CSS = """
/* Contrast >= 4.5:1 on the Soft theme (measured by tests/test_browser_accessibility.py): block labels,
   info lines, placeholders, the selected tab and the footer. */
.gradio-container [data-testid="block-info"] { color: var(--body-text-color) !important; }
.gradio-container .info-text { color: #4b5563 !important; }
.dark .gradio-container .info-text { color: #d1d5db !important; }
.gradio-container ::placeholder { color: #5b6472 !important; opacity: 1; }
.dark .gradio-container ::placeholder { color: #b3bac5 !important; }
button[role="tab"].selected { color: #4338ca !important; }
.dark button[role="tab"].selected { color: #c7d2fe !important; }
footer, footer a, footer button { color: #4b5563 !important; opacity: 1 !important; }
.dark footer, .dark footer a, .dark footer button { color: #d1d5db !important; }
@media (max-width: 640px) {
  .tab-container button[role="tab"] { padding: 0 10px; }
  .tab-intro p { margin: 0; }
}
.mmdemo-notice { border-left: 4px solid #b45309; padding: 4px 12px; background: var(--block-background-fill); }
.mmdemo-notice ul { margin: 0; padding-left: 18px; }
.mmdemo-notice details summary { cursor: pointer; }
#video-gallery .caption-label { white-space: normal !important; max-width: 100% !important; }
#model-status th { word-break: normal !important; overflow-wrap: normal !important; white-space: nowrap; }
"""


class AppBlocks(GatedBlocks):
    """The app's Blocks: every value through the gate (:class:`~mmdemo.ui.gate.GatedBlocks`), and the sign-in page's
    message in the visitor's language. Gradio reads ``auth_message`` while it answers the sign-in page's request,
    whose language :class:`~mmdemo.ui.access.PageLanguageMiddleware` notes; a message given as a keyed line
    (:meth:`~mmdemo.ui.access.LoginThrottle.sign_in_message`) is rendered in it, any other text is shown as it is."""

    @property
    def auth_message(self) -> str | None:
        message = self.__dict__.get("_auth_message")
        return None if message is None else text(message, page_locale.get())

    @auth_message.setter
    def auth_message(self, message: str | None) -> None:
        self.__dict__["_auth_message"] = message


def build_app(manager: ModelManager | None = None) -> gr.Blocks:
    """Build the UI. Nothing here loads a model or imports torch, so start-up stays fast."""
    manager = manager or get_manager()
    events: list[Any] = []
    view = AvailabilityView(manager)
    # GatedBlocks: every value of every event passes one gate (files, numbers, text, choices) first.
    with AppBlocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        demo.access_policy = AccessPolicy.from_settings(manager.settings)  # this app's limits (model events read it)
        gr.Markdown(tr(INTRO), elem_classes="tab-intro")
        with gr.Tabs(overflow_behavior="wrap") as tabs:  # every tab visible on a phone (no overflow menu)
            with gr.Tab(tr(TAB_NAMES["caption"]), id="caption"):
                ports = [build_captioning_tab(manager, events.append, view)]
            with gr.Tab(tr(TAB_NAMES["generate"]), id="generate"):
                ports.append(build_text_to_image_tab(manager, events.append, view))
            with gr.Tab(tr(TAB_NAMES["emotion"]), id="emotion"):
                ports.append(build_audio_emotion_tab(manager, events.append, view))
            with gr.Tab(tr(TAB_NAMES["video"]), id="video"):
                ports.append(build_video_summary_tab(manager, events.append, view))
            with gr.Tab(tr(TAB_NAMES["round_trip"]), id="round_trip"):
                build_round_trip_tab(manager, events.append, view)
            with gr.Tab(tr(TAB_NAMES["evaluate"]), id="evaluate"):
                build_evaluate_tab(manager, events.append, view)
        connect(tabs, ports)  # "send to" buttons between the tabs
        table, summary, refresh = status_panel(manager)

        def refresh_all() -> list[Any]:
            return [*refresh(), *view.refresh()]

        targets = [table, summary, *view.outputs()]
        for event in events:
            event.then(refresh_all, None, targets, api_visibility="private", queue=False, show_progress="hidden")
        demo.load(refresh_all, None, targets, api_visibility="private", queue=False, show_progress="hidden")
    # One queue for the whole app, with one lane per task (see events.model_event).
    demo.queue(max_size=manager.settings.max_queue)
    return demo


def launch_kwargs(manager: ModelManager, demo: gr.Blocks | None = None) -> dict[str, Any]:
    """Arguments for ``demo.launch`` that follow from the settings (and the access policy of ``demo``)."""
    from starlette.middleware import Middleware

    policy = policy_of(demo)
    return {
        # Primary buttons and selected choices one shade darker than Soft's: white text at >= 4.5:1.
        "theme": gr.themes.Soft().set(
            button_primary_background_fill="*primary_600",
            button_primary_background_fill_hover="*primary_700",
            checkbox_label_background_fill_selected="*primary_600",
        ),
        "css": CSS,
        "max_file_size": manager.settings.max_upload_bytes,
        # Every named task endpoint as an MCP tool (same gate, rate limit, sign-in and queue as the API), with the
        # app's file arguments, schemas and results (mmdemo/ui/mcp.py: the lifespan hook adopts Gradio's server).
        "mcp_server": manager.settings.mcp_server,
        "show_error": False,  # our own errors are gr.Error already; anything else stays in the log
        # Sign-in: at most a few wrong passwords per client, then a pause (Gradio's login has no throttle).
        "app_kwargs": {
            "middleware": [Middleware(PageLanguageMiddleware), Middleware(LoginThrottleMiddleware, policy=policy)],
            "lifespan": mcp_lifespan,
        },
        "auth_message": policy.logins.sign_in_message(),  # in the visitor's language (AppBlocks)
        "head": LOGIN_HINT_JS,
        "i18n": I18N,  # the page in the browser's language (English, Simplified Chinese): mmdemo/ui/i18n.py
    }
