"""Video summary: what is seen (keyframe captions), read (on-screen text) and said (transcript),
fused into a summary paragraph, timestamped chapters, a keyframe gallery and downloadable reports.
The result types and their rendering are in :mod:`.video_report`, the chapter algorithm in :mod:`.chapters`.

Same shape as the other task modules: inputs → preprocess (decode, scene-aware keyframes, sound
track) → models (through the manager, reusing the ``captioner``, ``ocr``, ``asr``, ``summarizer`` and
``embedder`` roles) → postprocess (fusion, chapters) → a frozen :class:`VideoSummary`.

Every model is optional: when one is unavailable the pipeline runs on what is left and says so in
``notes``. Only an unusable video (or asking for an impossible option) raises :class:`InputError`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import InputError, MemoryBudgetError, ModelUnavailableError
from ..media.video import (
    SPARSE_SECONDS,
    VideoInfo,
    VideoLimits,
    candidate_times,
    format_time,
    open_video,
    select_keyframes,
)
from ..models.manager import ModelManager
from ..progress import ProgressFn, sub_range
from ..runtime import get_manager
from .chapters import build_chapters, fused_sentences
from .summarize import METHODS, Method, summarize
from .transcription import Transcript
from .video_report import Chapter, VideoKeyframe, VideoSummary

MIN_OCR_SCORE = 0.6
# (start, end) of each stage on the 0–1 progress bar
STAGES: dict[str, tuple[float, float]] = {
    "decode": (0.0, 0.15),
    "caption": (0.15, 0.45),
    "read": (0.45, 0.6),
    "transcribe": (0.6, 0.85),
    "summarise": (0.85, 1.0),
}
_UNAVAILABLE = (ModelUnavailableError, MemoryBudgetError)


def _stage(progress: ProgressFn | None, stage: str, label: str) -> ProgressFn | None:
    """Map a sub-task's 0–1 progress into ``stage``'s share of the bar, prefixing ``label``."""
    return sub_range(progress, *STAGES[stage], label=label)


def _unavailable(what: str, err: Exception, consequence: str) -> str:
    return f"No {what}: {err} {consequence}"


# --- the pipeline ---------------------------------------------------------------------------------


def summarize_video(
    video: Any,
    *,
    max_keyframes: int | None = None,
    describe: bool = True,
    read_text: bool = True,
    transcribe: bool = True,
    summary_method: Method = "auto",
    language: str | None = None,
    batch_size: int = 8,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> VideoSummary:
    """Summarise a video from what is seen, read and said.

    ``video``: a path, Gradio's file dict / ``FileData`` or bytes (MP4, WebM, MOV, MKV, AVI …).
    ``max_keyframes``: scene keyframes to caption and read (default and upper bound: the
    ``max_keyframes`` setting). ``describe`` / ``read_text`` / ``transcribe`` switch the three
    streams; ``summary_method``: ``auto`` (model, else sentence picking), ``abstractive`` or
    ``extractive``; ``language``: speech language code (default: detected).
    """
    manager = manager or get_manager()
    settings = manager.settings
    cap = settings.max_keyframes if max_keyframes is None else int(max_keyframes)
    if not 1 <= cap <= settings.max_keyframes:
        raise InputError(f"Keyframes must be between 1 and {settings.max_keyframes}.")
    if summary_method not in METHODS:
        raise InputError(f"Unknown summary method {summary_method!r}: use one of {', '.join(METHODS)}.")
    if not 1 <= int(batch_size) <= 32:
        raise InputError("The caption batch size must be between 1 and 32.")
    notes: list[str] = []
    models: dict[str, str] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    # 1. decode: header checks, candidate frames, scene-aware keyframes, sound track
    step = _stage(progress, "decode", "1/5 Decoding")
    if step:
        step(0.0, "opening the video")
    clip = open_video(video, VideoLimits.from_settings(settings))
    name = _display_name(video, clip.name)
    info = clip.info
    times = candidate_times(info.duration, cap, info.frame_count)
    frames, decode_notes = clip.sample(times, progress=step)
    scenes, scene_notes = select_keyframes(frames, info.duration, cap)
    del frames
    notes += [*decode_notes, *scene_notes]
    if len(times) > 1 and info.duration / len(times) > SPARSE_SECONDS:
        notes.append(
            f"Long video ({format_time(info.duration)}): scenes were looked for in {len(times)} frames spread over "
            f"its whole length (one every {info.duration / len(times):.0f} s), so short scenes may be missed."
        )
    audio = clip.audio() if transcribe and info.has_audio else None
    if audio is not None:
        notes += audio.notes
    seconds["decode"] = time.perf_counter() - clock
    images = [k.image for k in scenes]

    # 2. what is seen
    captions = [""] * len(scenes)
    clock = time.perf_counter()
    if describe:
        step = _stage(progress, "caption", "2/5 Describing keyframes")
        if step:
            step(0.0, f"{len(images)} keyframes in batches of {batch_size}")
        from .captioning import caption_images

        try:
            results = caption_images(images, batch_size=int(batch_size), manager=manager, progress=step)
            captions = [r.text for r in results]
            models["captioner"] = results[0].model_id
        except _UNAVAILABLE as err:
            notes.append(_unavailable("picture descriptions", err, "The summary uses what is said and written."))
    seconds["caption"] = time.perf_counter() - clock

    # 3. what is read
    texts: list[tuple[str, ...]] = [()] * len(scenes)
    clock = time.perf_counter()
    if read_text:
        step = _stage(progress, "read", "3/5 Reading on-screen text")
        from .ocr import read_texts

        try:
            ocr = read_texts(images, min_score=MIN_OCR_SCORE, manager=manager, progress=step)
            texts = [tuple(line.text for line in r.lines) for r in ocr]
            models["ocr"] = ocr[0].model_id
        except _UNAVAILABLE as err:
            notes.append(_unavailable("on-screen text", err, "The summary uses what is seen and said."))
    seconds["read"] = time.perf_counter() - clock

    # 4. what is said
    transcript: Transcript | None = None
    clock = time.perf_counter()
    if transcribe:
        if audio is None:
            notes.append("The video has no sound track: nothing to transcribe.")
        else:
            step = _stage(progress, "transcribe", "4/5 Transcribing")
            from .transcription import transcribe as run_asr

            try:
                transcript = run_asr(
                    audio.samples, audio.sample_rate, language=language, manager=manager, progress=step
                )
                models["asr"] = transcript.model_id
                notes.extend(transcript.notes)
                if not transcript.segments:
                    notes.append("No speech was found in the sound track.")
            except _UNAVAILABLE as err:
                notes.append(_unavailable("transcript", err, "The summary uses what is seen and written."))
    seconds["transcribe"] = time.perf_counter() - clock

    # 5. fuse: chapters, then the summary
    clock = time.perf_counter()
    step = _stage(progress, "summarise", "5/5 Summarising")
    keyframes = tuple(
        VideoKeyframe(i, k.time, k.start, k.end, k.image, captions[i], texts[i]) for i, k in enumerate(scenes)
    )
    chapters, chapter_notes = build_chapters(keyframes, transcript, info.duration, manager=manager)
    notes += chapter_notes
    sentences = fused_sentences(chapters)
    if sentences:
        result = summarize(
            " ".join(sentences), method=summary_method, sentences=sentences, manager=manager, progress=step
        )
        summary_text, method = result.text, result.method
        notes += result.notes
        if result.model_id:
            models["summarizer" if method == "abstractive" else "embedder"] = result.model_id
    else:
        summary_text, method = _facts(info), "facts"
        notes.append("Nothing was seen, read or said that could be summarised: the summary states the facts.")
    if step:
        step(1.0, "done")
    seconds["summarise"] = time.perf_counter() - clock
    return VideoSummary(
        name=name,
        info=info,
        summary=summary_text or _facts(info),
        summary_method=method,
        keyframes=keyframes,
        chapters=tuple(chapters),
        transcript=transcript,
        notes=tuple(dict.fromkeys(notes)),
        models=models,
        seconds=seconds,
    )


def _display_name(source: Any, fallback: str) -> str:
    if hasattr(source, "model_dump"):
        source = source.model_dump()
    if isinstance(source, dict) and isinstance(source.get("orig_name"), str):
        return Path(source["orig_name"]).name
    return fallback


def _facts(info: VideoInfo) -> str:
    return (
        f"A {format_time(info.duration)} {info.orientation} video ({info.width}×{info.height}"
        f"{', with a sound track' if info.has_audio else ', without sound'})."
    )


# --- fusion ---------------------------------------------------------------------------------------


__all__ = ["Chapter", "VideoKeyframe", "VideoSummary", "build_chapters", "summarize_video"]
