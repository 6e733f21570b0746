"""The Gradio Blocks app: one tab per task, plus the shared model status panel."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..models.manager import ModelManager
from ..runtime import get_manager
from .access import LOGIN_HINT_JS, LoginThrottleMiddleware, access
from .audio_emotion import build_audio_emotion_tab
from .captioning import build_captioning_tab
from .common import status_panel
from .gate import GatedBlocks
from .text_to_image import build_text_to_image_tab
from .video_summary import build_video_summary_tab

TITLE = "mmdemo · multimodal AI demo"
INTRO = f"""# {TITLE}
Four multimodal tasks, running on this machine: **image captioning** (with questions about the
photo and reading its text), **text to image** (with the seed that reproduces each picture and a
CLIP score of how well it matches the prompt), **audio emotion** (from the voice over time and
from the transcribed words) and **video summary** (what a video shows, says and writes on screen).
Models load on first use, so a tab's first request takes longer; the panel at the bottom shows
what is loaded.
"""


def build_app(manager: ModelManager | None = None) -> gr.Blocks:
    """Build the UI. Nothing here loads a model or imports torch, so start-up stays fast."""
    manager = manager or get_manager()
    events: list[Any] = []
    # GatedBlocks: every value of every event passes one gate (files, numbers, text, choices) first.
    with GatedBlocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Image captioning", id="caption"):
                build_captioning_tab(manager, events.append)
            with gr.Tab("Text to image", id="generate"):
                build_text_to_image_tab(manager, events.append)
            with gr.Tab("Audio emotion", id="emotion"):
                build_audio_emotion_tab(manager, events.append)
            with gr.Tab("Video summary", id="video"):
                build_video_summary_tab(manager, events.append)
        table, summary, refresh = status_panel(manager)
        for event in events:
            event.then(refresh, None, [table, summary], api_visibility="private", queue=False)
        demo.load(refresh, None, [table, summary], api_visibility="private", queue=False)
    access.configure(manager.settings.trusted_proxies, manager.settings.rate_limit_per_minute)
    # One queue for the whole app, with one lane per task (see common.model_event).
    demo.queue(max_size=manager.settings.max_queue)
    return demo


def launch_kwargs(manager: ModelManager) -> dict[str, Any]:
    """Arguments for ``demo.launch`` that follow from the settings."""
    from starlette.middleware import Middleware

    throttle = access.logins
    return {
        "theme": gr.themes.Soft(),
        "max_file_size": manager.settings.max_upload_bytes,
        "show_error": False,  # our own errors are gr.Error already; anything else stays in the log
        # Sign-in: at most a few wrong passwords per client, then a pause (Gradio's login has no throttle).
        "app_kwargs": {"middleware": [Middleware(LoginThrottleMiddleware, policy=access)]},
        "auth_message": (
            f"Sign in to use this app. After {throttle.max_failures} wrong attempts, sign-in pauses for "
            f"{throttle.window / 60:g} minutes."
        ),
        "head": LOGIN_HINT_JS,
    }
