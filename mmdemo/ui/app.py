"""The Gradio Blocks app: one tab per task, plus the shared model status panel."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..messages import text
from ..models.manager import ModelManager
from ..runner import current_runner
from ..runtime import get_manager
from .access import (
    LOGIN_HINT_JS,
    AccessPolicy,
    LoginThrottleMiddleware,
    PageLanguageMiddleware,
    page_locale,
    policy_of,
)
from .admission import Admission, JobAdmissionMiddleware, UploadBudgetMiddleware
from .audio_emotion import build_audio_emotion_tab
from .availability import TAB_NAMES, AvailabilityView
from .captioning import build_captioning_tab
from .cleanup import lifespan as with_cache_sweep
from .cluster_panel import cluster_panel
from .evaluate import build_evaluate_tab
from .gate import GatedBlocks
from .i18n import I18N, LOCALE_JS, tr
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
/* Results shown whole (mmdemo-gallery: generated images, keyframes): each picture fits its box, its caption under
   it, not over it, and the gallery's label above the first row; the text-to-image rows share the gallery's height. */
.mmdemo-gallery .grid-container { padding-top: 2rem; }
.mmdemo-gallery .thumbnail-lg { display: flex; flex-direction: column; }
.mmdemo-gallery .thumbnail-lg > img { flex: 1 1 0; min-height: 0; object-fit: contain !important; }
.mmdemo-gallery .caption-label { position: static !important; max-width: 100% !important;
  white-space: normal !important; border: 0 !important; background: none !important; text-align: center;
  opacity: 1 !important; padding: 4px 6px 0 !important; margin-bottom: 4px; }
#t2i-gallery .grid-container { height: 100%; grid-auto-rows: minmax(0, 1fr); }
#video-gallery .thumbnail-lg { aspect-ratio: auto; height: auto; }
#video-gallery .thumbnail-lg > img { flex: none; height: 120px; }
#video-gallery .caption-label { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 4;
  overflow: hidden; }
@media (max-width: 640px) {  /* phones: two keyframes a row, two generated images one above the other */
  #video-gallery .grid-container { --grid-cols: 2 !important; }
  #t2i-gallery .grid-container:has(> .gallery-item:nth-child(2):last-child) { --grid-cols: 1 !important; }
}
/* Gradio 6.31 draws a "Remove this file" button on any list of two files or more, results included: not on results. */
#video-files .label-clear-button, #batch-downloads .label-clear-button,
#eval-json .label-clear-button { display: none; }
/* The Models panel: headers on one line, cells wrapped between words only (Gradio breaks both anywhere: one letter a
   line on a phone); a table wider than the screen scrolls sideways. */
#model-status th, #model-status th * { word-break: normal !important; overflow-wrap: normal !important;
  white-space: nowrap !important; }
#model-status td, #model-status td * { word-break: normal !important; overflow-wrap: break-word !important; }
/* Evaluate: each plot whole at the gallery's width, the gallery as tall as its plots (nothing to scroll to); the
   keyframes gallery as tall as its rows. */
#eval-plots .grid-wrap, #video-gallery .grid-wrap { height: auto !important; min-height: 0 !important;
  max-height: none !important; overflow-y: visible !important; }
#eval-plots .thumbnail-lg { aspect-ratio: auto; height: auto; }
#eval-plots .thumbnail-lg > img { flex: none; width: 100%; height: auto; }
/* Evaluate on a phone: every column of the tables on screen, long text wrapped. */
@media (max-width: 640px) {
  #eval-metrics table, #eval-items table { table-layout: auto !important; width: 100% !important; }
  #eval-metrics th, #eval-metrics td, #eval-items th, #eval-items td { width: auto !important;
    min-width: 3.5em !important; max-width: none !important; white-space: normal !important; overflow-wrap: anywhere;
    padding: 0 !important; font-size: 12px; }  /* (3.5em: a score such as "0.00" on one line) */
  #eval-metrics :is(th, td) *, #eval-items :is(th, td) * { white-space: normal !important;
    overflow-wrap: anywhere; text-overflow: clip !important; min-width: 0 !important; }
  #eval-metrics .cell-wrap, #eval-items .cell-wrap { padding: 4px 3px !important; }
}
/* An output picture's label wraps clear of its icon buttons (a phone: "Text found …" under the icons). */
#ocr-image [data-testid="block-label"] { max-width: calc(100% - 7.5rem); white-space: normal; }
/* The round trip's picture scaled to its box (the tiny model's 64 px one too, its pixels kept sharp). */
#trip-generated .image-frame { width: 100%; }
#trip-generated .image-frame img { object-fit: contain !important; image-rendering: pixelated; }
/* Text to image on a phone: the prompt across the screen, Generate a full-width button under it (beside it, the
   button was stretched to the wrapped prompt's height: 120 × 118 px). */
@media (max-width: 640px) {
  #t2i-prompt, #t2i-button { flex: 1 1 100% !important; }
}
"""

RUN_CSS = """
/* Runs (mmdemo/ui/events.py): a failed run is said once, in its line under the Run button; the outputs keep what
   they showed, without Gradio's "Error" badge over each of them. */
.gradio-container [data-testid="status-tracker"]:has(> .error) { display: none !important; }
.mmdemo-message { margin: 0; padding: 4px 0; color: #b91c1c; font-weight: 600; }
.dark .mmdemo-message { color: #fca5a5; }
/* Media labels ("Photo"), the upload zone's "- or -" and hints: >= 4.5:1 in both themes. */
.gradio-container [data-testid="block-label"] { color: var(--body-text-color) !important; }
.gradio-container .wrap:has(> .or) { color: #4338ca !important; }
.dark .gradio-container .wrap:has(> .or) { color: #c7d2fe !important; }
.gradio-container .wrap > .or { color: #4b5563 !important; }
.dark .gradio-container .wrap > .or { color: #d1d5db !important; }
/* The availability notice: one line, the rest folded. */
details.mmdemo-notice > summary { cursor: pointer; font-weight: 600; }
/* Image tab on a phone: photo, task, Run and result first, the example photos after them. */
@media (max-width: 640px) {
  #caption-row { flex-direction: column; }
  #caption-row > #caption-left { display: contents; }
  #caption-row > #caption-left > * { order: 1; width: 100%; }
  #caption-row > #caption-right { order: 2; }
  #caption-row > #caption-left > #caption-examples { order: 3; }
  #caption-image { max-height: 300px; }
}
/* Many photos: every column on screen, long text wrapped, failed rows marked. */
#batch-table table { table-layout: auto; width: 100%; }
#batch-table th, #batch-table td { white-space: normal !important; overflow-wrap: anywhere;
  max-width: 22rem; min-width: 5rem; }
@media (max-width: 640px) {
  #batch-table th, #batch-table td { min-width: 0; padding: 4px !important; font-size: 12px; }
}
"""

RUN_JS = """
<script>
(() => {
  /* When a run starts after a click or a key press, bring its progress into view if it is off screen (a phone:
     the result lies below the fold), and close the toasts of earlier runs. */
  let acted = 0;
  const note = () => { acted = Date.now(); };
  document.addEventListener("click", note, true);
  document.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") note(); }, true);
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  // On screen: the whole block, or 120 px of a taller one (a block's top edge peeking in at the bottom is not seen).
  const onScreen = (el) => { const r = el.getBoundingClientRect();
    return Math.min(r.bottom, innerHeight) - Math.max(r.top, 0) >= Math.min(r.height, 120); };
  // After the click, the first tracker that shows (not hidden, drawn): its class changes for a first run, while
  // Gradio fills an already visible, empty tracker for a later one, so the trackers' state is read on any change.
  const TRACKER = '[data-testid="status-tracker"]';
  new MutationObserver(() => {
    if (!acted || Date.now() - acted > 4000) return;
    const blocks = [...document.querySelectorAll(TRACKER)].filter((t) => !t.classList.contains("hide")
      && !t.querySelector(".error") && t.getBoundingClientRect().height > 0)
      .map((t) => t.closest(".block") || t.parentElement).filter((b) => b && shown(b));
    if (!blocks.length) return;
    acted = 0;
    document.querySelectorAll('[data-testid="toast-close"]').forEach((b) => b.click());
    if (!blocks.some(onScreen)) blocks[0].scrollIntoView({ block: "center" });
  }).observe(document.documentElement,
    { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
})();
</script>
"""


class AppBlocks(GatedBlocks):
    """The app's Blocks: every value through the gate (:class:`~mmdemo.ui.gate.GatedBlocks`), and the sign-in page's
    message in the visitor's language. Gradio reads ``auth_message`` while it answers the sign-in page's request,
    whose language :class:`~mmdemo.ui.access.PageLanguageMiddleware` notes; a message given as a keyed line
    (:meth:`~mmdemo.ui.access.LoginThrottle.sign_in_message`) is rendered in it, any other text is shown as it is."""

    @property
    def auth_message(self) -> str | None:
        message = self.__dict__.get("_auth_message")
        return None if message is None else text(message, page_locale())

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
        demo.admission = Admission.from_settings(manager.settings)  # per-client jobs, uploads, work (admission.py)
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
        connect(tabs, ports, manager)  # "send to" buttons between the tabs, shown when they can act
        table, summary, refresh = status_panel(manager)

        def refresh_all() -> list[Any]:
            return [*refresh(), *view.refresh()]

        targets = [table, summary, *view.outputs()]
        for event in events:
            event.then(refresh_all, None, targets, api_visibility="private", queue=False, show_progress="hidden")
        demo.load(refresh_all, None, targets, api_visibility="private", queue=False, show_progress="hidden")
        if hasattr(current_runner(), "replicas"):  # the tasks run on Ray Serve: its deployments and replicas
            cluster_table, cluster_refresh = cluster_panel(current_runner())
            demo.load(cluster_refresh, None, cluster_table, api_visibility="private", show_progress="hidden")
    # One queue for the whole app, with one lane per task (see events.model_event).
    queue_every_job(demo, manager.settings.max_queue)
    return demo


def queue_every_job(demo: gr.Blocks, max_size: int) -> None:
    """Every job of ``demo`` through its one queue, at most ``max_size`` of them waiting: the direct route (``POST
    /gradio_api/run/<name>``, open by default off Spaces) refuses queued events, which it would run outside the
    queue, its lanes and the per-client job limit. Gradio 6's ``Blocks()`` makes the queue already (with the
    defaults ``queue()`` has), so only its size is set here; ``demo.queue()`` would also build Gradio's server app
    a third time, to no use."""
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "max_size"):
        queue.max_size = max_size
        demo.api_open = False
    else:  # a Gradio without a queue made at construction
        demo.queue(max_size=max_size, api_open=False)


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
        "css": CSS + RUN_CSS,
        "max_file_size": manager.settings.max_upload_bytes,
        # Every named task endpoint as an MCP tool (same gate, rate limit, sign-in and queue as the API), with the
        # app's file arguments, schemas and results (mmdemo/ui/mcp.py: the lifespan hook adopts Gradio's server).
        "mcp_server": manager.settings.mcp_server,
        "show_error": False,  # our own errors are gr.Error already; anything else stays in the log
        # Sign-in: at most a few wrong passwords per client, then a pause (Gradio's login has no throttle).
        "app_kwargs": {
            "middleware": [
                Middleware(PageLanguageMiddleware),
                Middleware(LoginThrottleMiddleware, policy=policy),
                # Per client, when submitted: jobs waiting or running, upload bytes a minute (admission.py).
                Middleware(JobAdmissionMiddleware, blocks=demo, policy=policy),
                Middleware(UploadBudgetMiddleware, blocks=demo, policy=policy),
            ],
            "lifespan": with_cache_sweep(mcp_lifespan),  # + what Gradio's cache clean-up leaves (cleanup.py)
        },
        "auth_message": policy.logins.sign_in_message(),  # in the visitor's language (AppBlocks)
        "head": LOCALE_JS + LOGIN_HINT_JS + RUN_JS,  # LOCALE_JS: the server answers in the page's language
        "i18n": I18N,  # the page in the browser's language (English, Simplified Chinese): mmdemo/ui/i18n.py
    }
