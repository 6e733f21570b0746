"""The Gradio Blocks app: one tab per task, plus the shared model status panel."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..models.manager import ModelManager
from ..runtime import get_manager
from .captioning import build_captioning_tab
from .common import status_panel

TITLE = "mmdemo · multimodal AI demo"
INTRO = f"""# {TITLE}
Image captioning and visual question answering, running on this machine. Models load on first
use (the first request takes longer) and stay loaded while memory allows.
"""


def build_app(manager: ModelManager | None = None) -> gr.Blocks:
    """Build the UI. Nothing here loads a model or imports torch, so start-up stays fast."""
    manager = manager or get_manager()
    events: list[Any] = []
    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Image captioning", id="caption"):
                build_captioning_tab(manager, events.append)
        table, summary, refresh = status_panel(manager)
        for event in events:
            event.then(refresh, None, [table, summary], api_visibility="private", queue=False)
        demo.load(refresh, None, [table, summary], api_visibility="private", queue=False)
    return demo


def launch_kwargs(manager: ModelManager) -> dict[str, Any]:
    """Arguments for ``demo.launch`` that follow from the settings."""
    return {
        "theme": gr.themes.Soft(),
        "max_file_size": manager.settings.max_upload_bytes,
        "show_error": False,  # our own errors are gr.Error already; anything else stays in the log
    }
