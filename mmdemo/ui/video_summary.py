"""The video summary tab: keyframes, on-screen text and speech fused into a summary, chapters and reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.video import format_time, open_video, require_video
from ..models.manager import ModelManager
from ..tasks.chapters import worth_reading
from ..tasks.video_report import chapters_markdown
from ..tasks.video_summary import VideoSummary, summarize_video
from .availability import AvailabilityView
from .common import model_event, output_folder, progress_to
from .i18n import tr, tr_choices
from .send_to import Ports, track_selection

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "videos"
EXAMPLES = ["thanks-for-watching.mp4", "earth-at-night.mp4"]
METHOD_CHOICES = [
    ("Model (abstractive), else picked sentences", "auto"),
    ("Picked sentences (extractive)", "extractive"),
]


def transcript_text(result: VideoSummary) -> str:
    if result.transcript is None or not result.transcript.segments:
        return ""
    return "\n".join(f"[{format_time(s.start)}–{format_time(s.end)}] {s.text}" for s in result.transcript.segments)


def notes_markdown(result: VideoSummary) -> str:
    method = {
        "abstractive": "written by the summarisation model",
        "extractive": "sentences picked by sentence embeddings",
        "first sentences": "the first sentences (no model available)",
        "facts": "facts about the file (nothing was recognised)",
    }.get(result.summary_method, result.summary_method)
    lines = [f"Summary: {method}. {len(result.keyframes)} keyframes, {len(result.chapters)} chapters."]
    lines += [f"- ⚠️ {note}" for note in result.notes]
    return "\n".join(lines)


def gpu_seconds(video: Any, max_keyframes: float = 8, *_: Any, **__: Any) -> float:
    """ZeroGPU time to ask for: captioning the keyframes plus transcribing about 1/20 of the video's length."""
    try:
        duration = open_video(video).info.duration
    except Exception:  # the handler itself reports a bad file; ask for little
        return 30
    return min(30 + 2 * float(max_keyframes or 8) + duration / 20, 300)


def build_video_summary_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    limit = manager.settings.max_keyframes

    def summarize(
        video: Any,
        max_keyframes: int = min(8, limit),
        describe: bool = True,
        read_text: bool = True,
        transcribe: bool = True,
        summary_method: str = "auto",
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[str, str, list[tuple[Any, str]], str, list[str], str]:
        """Summarise a video from what is seen (keyframe captions), read on screen and said (transcript):
        a summary, timestamped chapters, keyframes, the transcript and Markdown/JSON/SRT reports.

        Args:
            video: the video (MP4, WebM, MOV, MKV …).
            max_keyframes: most scene keyframes to describe.
            describe: caption the keyframes.
            read_text: read on-screen text.
            transcribe: transcribe the speech.
            summary_method: "auto" (a summarisation model, else picked sentences) or "extractive".
        """
        result = summarize_video(
            video,
            max_keyframes=max_keyframes,
            describe=describe,
            read_text=read_text,
            transcribe=transcribe,
            summary_method=summary_method,  # type: ignore[arg-type]
            manager=manager,
            progress=progress_to(progress),
        )
        files = result.write_report(output_folder())
        gallery = []
        for k in result.keyframes:
            read = " / ".join(t for t in k.text if worth_reading(t))
            label = " · ".join(p for p in (format_time(k.time), k.caption, read) if p)
            gallery.append((k.image, label))
        return (
            result.summary,
            chapters_markdown(result.chapters),
            gallery,
            transcript_text(result),
            [str(p) for p in files],
            notes_markdown(result),
        )

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
                keyframes = gr.Slider(
                    1, max(limit, 2), value=min(8, limit), step=1, precision=0, label=tr("Most keyframes (scenes)")
                )
                with gr.Row():
                    describe = gr.Checkbox(value=True, label=tr("Describe frames"))
                    read_text = gr.Checkbox(value=True, label=tr("Read on-screen text"))
                    transcribe = gr.Checkbox(value=True, label=tr("Transcribe speech"))
                method = gr.Radio(tr_choices(METHOD_CHOICES), value="auto", label=tr("Summary"))
            button = gr.Button(tr("Summarise"), variant="primary", elem_id="video-button")
            # The headline result directly under the button (on a phone the columns stack).
            summary = gr.Textbox(
                label=tr("Summary"), lines=3, interactive=False, buttons=["copy"], elem_id="video-summary"
            )
            notes = gr.Markdown(label=tr("Notes"), elem_id="video-notes")
        with gr.Column(scale=2, min_width=300):
            gallery = gr.Gallery(
                label=tr("Keyframes"), columns=4, height=260, object_fit="contain", elem_id="video-gallery"
            )
            to_image = gr.Button(tr("Describe this keyframe"), size="sm", elem_id="video-to-image")
            with gr.Accordion(tr("Chapters"), open=True):
                chapters = gr.Markdown(label=tr("Chapters"), elem_id="video-chapters")
            with gr.Accordion(tr("Transcript"), open=False):
                transcript = gr.Textbox(
                    label=tr("Transcript"), lines=6, interactive=False, buttons=["copy"], elem_id="video-transcript"
                )
                to_prompt = gr.Button(tr("Use as a prompt"), size="sm", elem_id="video-to-prompt")
            files = gr.File(label=tr("Report (Markdown, JSON, SRT)"), file_count="multiple", elem_id="video-files")

    def video_given(video: Any, *_: Any) -> None:
        require_video(video)

    after(
        model_event(
            button.click,
            summarize,
            [video, keyframes, describe, read_text, transcribe, method],
            [summary, chapters, gallery, transcript, files, notes],
            api_name="summarize",
            lane="video",
            gpu_duration=gpu_seconds,
            manager=manager,
            check=video_given,
        )
    )
    return Ports(texts=[(to_prompt, transcript)], images=[(to_image, gallery, track_selection(gallery))])
