"""The video summary tab: keyframes, on-screen text and speech fused into a summary, chapters and reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.video import format_time, open_video
from ..models.manager import ModelManager
from ..tasks.video_report import chapters_markdown
from ..tasks.video_summary import VideoSummary, summarize_video
from .common import model_event, output_folder, progress_to

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


def build_video_summary_tab(manager: ModelManager, after: Callable[[Any], Any]) -> None:
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
            label = " · ".join(p for p in (format_time(k.time), k.caption, " / ".join(k.text)) if p)
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
        "Summarise a video from what is **seen** (captions of scene keyframes), **read** (on-screen text) "
        "and **said** (speech transcript): a summary, timestamped chapters, a keyframe gallery and "
        "downloadable reports (Markdown, JSON, SRT subtitles)."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            # preprocess=False below: the backend opens the original upload itself (no conversion, our checks).
            video = gr.Video(label="Video", sources=["upload"], height=320, elem_id="video-input")
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[video],
                label="Example videos (click one, then Summarise)",
                elem_id="video-examples",
            )
            with gr.Accordion("Options", open=False):
                keyframes = gr.Slider(
                    1, max(limit, 2), value=min(8, limit), step=1, precision=0, label="Most keyframes (scenes)"
                )
                with gr.Row():
                    describe = gr.Checkbox(value=True, label="Describe frames")
                    read_text = gr.Checkbox(value=True, label="Read on-screen text")
                    transcribe = gr.Checkbox(value=True, label="Transcribe speech")
                method = gr.Radio(METHOD_CHOICES, value="auto", label="Summary")
            button = gr.Button("Summarise", variant="primary", elem_id="video-button")
        with gr.Column(scale=2):
            summary = gr.Textbox(label="Summary", lines=3, interactive=False, buttons=["copy"], elem_id="video-summary")
            notes = gr.Markdown(elem_id="video-notes")
            gallery = gr.Gallery(
                label="Keyframes", columns=4, height=260, object_fit="contain", elem_id="video-gallery"
            )
            with gr.Accordion("Chapters", open=True):
                chapters = gr.Markdown(elem_id="video-chapters")
            with gr.Accordion("Transcript", open=False):
                transcript = gr.Textbox(
                    label="Transcript", lines=6, interactive=False, buttons=["copy"], elem_id="video-transcript"
                )
            files = gr.File(label="Report (Markdown, JSON, SRT)", file_count="multiple", elem_id="video-files")

    after(
        model_event(
            button.click,
            summarize,
            [video, keyframes, describe, read_text, transcribe, method],
            [summary, chapters, gallery, transcript, files, notes],
            api_name="summarize",
            lane="video",
            gpu_duration=gpu_seconds,
        )
    )
