"""The video summary tab: keyframes, on-screen text and speech fused into a summary, chapters and reports.

Its options are built from the task's declarations (:mod:`mmdemo.tasks.video_summary`); what the app writes
(notes, chapter labels, the facts summary, the Markdown report) is in the visitor's language, the JSON report and
the subtitles are data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.files import Upload
from ..media.video import format_time, open_video, require_video
from ..messages import Message, text
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from ..settings import Settings
from ..tasks.chapters import worth_reading
from ..tasks.video_report import chapters_markdown
from ..tasks.video_summary import (
    DESCRIBE,
    MAX_KEYFRAMES,
    READ_TEXT,
    SUMMARY_METHOD,
    TRANSCRIBE,
    VideoSummary,
    check_keyframes,
    keyframes_param,
    summarize_video,
)
from .availability import AvailabilityView
from .events import model_event, output_folder, progress_to, run_controls
from .i18n import request_locale, tr
from .notes import details_block, technical, warnings
from .send_to import Ports, track_selection
from .widgets import checkbox, radio, slider

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "videos"
EXAMPLES = ["thanks-for-watching.mp4", "earth-at-night.mp4"]
VIDEO = "the video (MP4, WebM, MOV, MKV …)"
"""What the video parameter is, for the API page and MCP."""
METHODS = ("abstractive", "extractive", "first sentences", "facts")
"""How a summary can have been made (``video_summary.method.*`` says each in the notes)."""


def transcript_text(result: VideoSummary) -> str:
    if result.transcript is None or not result.transcript.segments:
        return ""
    return "\n".join(f"[{format_time(s.start)}–{format_time(s.end)}] {s.text}" for s in result.transcript.segments)


def notes_markdown(result: VideoSummary, locale: str = "en") -> str:
    """One plain sentence (what was found), the notes a visitor needs (a damaged file, no speech …) and a folded
    Details section: how the summary was made, the models, and why a model was missing."""
    key = result.summary_method.replace(" ", "_") if result.summary_method in METHODS else None
    method = Message(f"video_summary.method.{key}") if key else result.summary_method
    head = Message("video_summary.notes", keyframes=len(result.keyframes), chapters=len(result.chapters))
    models = " · ".join(f"`{public_model_id(m)}`" for m in dict.fromkeys(result.models.values()))
    details = [Message("video_summary.how", method=method).text(locale), models, *technical(result.notes, locale)]
    lines = [head.text(locale), *warnings(result.notes, locale), details_block(details, locale)]
    return "\n\n".join(line for line in lines if line)


def gpu_seconds(video: Any, max_keyframes: int | None = None, *_: Any, **__: Any) -> float:
    """ZeroGPU time to ask for: captioning the keyframes plus transcribing about 1/20 of the video's length."""
    try:
        duration = open_video(video).info.duration  # an Upload, as the gate hands it on (or a path)
        keyframes = float(max_keyframes or 0)
    except Exception:  # the handler itself reports a bad file or value; ask for little
        return 30
    return min(30 + 2 * keyframes + duration / 20, 300)


def keyframes_slider(settings: Settings) -> gr.Slider:
    """:data:`MAX_KEYFRAMES` up to this server's ``MMDEMO_MAX_KEYFRAMES`` (:func:`keyframes_param`), which the
    gate checks."""
    return slider(keyframes_param(settings))


@documented([MAX_KEYFRAMES, DESCRIBE, READ_TEXT, TRANSCRIBE, SUMMARY_METHOD], video=VIDEO)
def summarize(
    manager: ModelManager,
    video: Upload,
    max_keyframes: int | None = MAX_KEYFRAMES.default,
    describe: bool = DESCRIBE.default,
    read_text: bool = READ_TEXT.default,
    transcribe: bool = TRANSCRIBE.default,
    summary_method: str = SUMMARY_METHOD.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> tuple[str, str, list[tuple[Any, str]], str, list[str], str]:
    """Summarise a video from what is seen (keyframe captions), read on screen and said (transcript):
    a summary, timestamped chapters, keyframes, the transcript and Markdown/JSON/SRT reports."""
    locale = request_locale()
    result = summarize_video(
        video,
        max_keyframes=max_keyframes,
        describe=describe,
        read_text=read_text,
        transcribe=transcribe,
        summary_method=summary_method,  # type: ignore[arg-type]
        manager=manager,
        progress=progress_to(progress, locale),
    )
    files = result.write_report(output_folder(), locale=locale)
    gallery = []
    for k in result.keyframes:
        read = " / ".join(t for t in k.text if worth_reading(t))
        label = " · ".join(p for p in (format_time(k.time), k.caption, read) if p)
        gallery.append((k.image, label))
    return (
        text(result.summary, locale),
        chapters_markdown(result.chapters, locale=locale),
        gallery,
        transcript_text(result),
        [str(p) for p in files],
        notes_markdown(result, locale),
    )


def check(manager: ModelManager, video: Upload, max_keyframes: int | None = None, *_: Any) -> None:
    """The browser's precheck: a video, and a number of keyframes this server allows."""
    require_video(video)
    check_keyframes(max_keyframes, manager.settings)


def build_video_summary_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    gr.Markdown(
        tr("Summarise a video from what is seen, read on screen and said: a summary, chapters, keyframes and reports."),
        elem_classes="tab-intro",
    )
    view.notice("video")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            # preprocess=False below: the backend opens the original upload itself (no conversion, our checks).
            video = gr.Video(label=tr("Video"), sources=["upload"], height=320, elem_id="video-input")
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[video],
                label=tr("Example videos"),
                elem_id="video-examples",
            )
            with gr.Accordion(tr("Options"), open=False):
                keyframes = keyframes_slider(manager.settings)
                with gr.Row():
                    describe = checkbox(DESCRIBE)
                    read_text = checkbox(READ_TEXT)
                    transcribe = checkbox(TRANSCRIBE)
                method = radio(SUMMARY_METHOD)
            button = gr.Button(tr("Summarise"), variant="primary", elem_id="video-button")
            controls = run_controls("video")
            # The headline result directly under the button (on a phone the columns stack).
            summary = gr.Textbox(
                label=tr("Summary"), lines=3, interactive=False, buttons=["copy"], elem_id="video-summary"
            )
            notes = gr.Markdown(label=tr("Notes"), elem_id="video-notes")
        with gr.Column(scale=2, min_width=300):
            # An output (never an upload zone); each keyframe whole, its caption under it (.mmdemo-gallery in app.py).
            gallery = gr.Gallery(
                label=tr("Keyframes"),
                columns=4,
                height="auto",  # as tall as its rows: every keyframe and caption without scrolling (app.py)
                object_fit="contain",
                interactive=False,
                elem_id="video-gallery",
                elem_classes="mmdemo-gallery",
            )
            to_image = gr.Button(tr("Describe this keyframe"), size="sm", elem_id="video-to-image")
            with gr.Accordion(tr("Chapters"), open=True):
                chapters = gr.Markdown(label=tr("Chapters"), elem_id="video-chapters")
            with gr.Accordion(tr("Transcript"), open=False):
                transcript = gr.Textbox(
                    label=tr("Transcript"), lines=6, interactive=False, buttons=["copy"], elem_id="video-transcript"
                )
                to_prompt = gr.Button(tr("Use as a prompt"), size="sm", elem_id="video-to-prompt")
            files = gr.File(
                label=tr("Report (Markdown, JSON, SRT)"),
                file_count="multiple",
                interactive=False,
                elem_id="video-files",
            )

    after(
        model_event(
            button.click,
            functools.partial(summarize, manager),
            [video, keyframes, describe, read_text, transcribe, method],
            [summary, chapters, gallery, transcript, files, notes],
            api_name="summarize",
            lane="video",
            gpu_duration=gpu_seconds,
            manager=manager,
            check=functools.partial(check, manager),
            controls=controls,
        )
    )
    return Ports(texts=[(to_prompt, transcript)], images=[(to_image, gallery, track_selection(gallery))])
