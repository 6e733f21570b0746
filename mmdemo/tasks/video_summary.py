"""Video summary: what is seen (keyframe captions), read (on-screen text) and said (transcript),
fused into a summary paragraph, timestamped chapters, a keyframe gallery and downloadable reports.
The result types and their rendering are in :mod:`.video_report`, the chapter algorithm in :mod:`.chapters`.

Same shape as the other task modules: inputs → preprocess (decode, scene-aware keyframes, sound
track) → models (through the manager, reusing the ``captioner``, ``ocr``, ``asr``, ``summarizer`` and
``embedder`` roles) → postprocess (fusion, chapters) → a frozen :class:`VideoSummary`.

Every model is optional: when one is unavailable the pipeline runs on what is left and says so in
``notes``. Only an unusable video (or asking for an impossible option) raises :class:`InputError`.

Its parameters are declared here (:data:`MAX_KEYFRAMES` … :data:`BATCH_SIZE`): the page's widgets, the API gate,
``python -m mmdemo summarize``'s options and the API/MCP help are built from them. The most keyframes is the
server's ``MMDEMO_MAX_KEYFRAMES`` setting (its default too): :func:`keyframes_param` is the declaration with that
ceiling.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import MemoryBudgetError, ModelUnavailableError
from ..media.files import display_name
from ..media.video import (
    SPARSE_SECONDS,
    VideoInfo,
    VideoLimits,
    candidate_times,
    format_time,
    open_video,
    select_keyframes,
)
from ..messages import Message
from ..models.manager import ModelManager
from ..params import Choice, Flag, Number
from ..progress import ProgressFn, sub_range
from ..runner import task
from ..runtime import get_manager
from ..settings import Settings
from .chapters import build_chapters, fused_sentences
from .summarize import Method, summarize
from .transcription import LANGUAGE, Transcript
from .video_report import Chapter, VideoKeyframe, VideoSummary

MAX_KEYFRAMES = Number(
    "max_keyframes",
    "Most keyframes (scenes)",
    None,
    minimum=1,
    integer=True,
    optional=True,
    doc="most scene keyframes to describe and read; by default, and at most, the server's MMDEMO_MAX_KEYFRAMES setting",
)
"""Its ceiling and default are a setting: :func:`keyframes_param` is this declaration with a server's."""
DESCRIBE = Flag("describe", "Describe frames", True, doc="caption the keyframes")
READ_TEXT = Flag("read_text", "Read on-screen text", True, doc="read on-screen text (OCR)")
TRANSCRIBE = Flag("transcribe", "Transcribe speech", True, doc="transcribe the speech")
SUMMARY_METHOD = Choice(
    "summary_method",
    "Summary",
    "auto",
    choices=(
        ("Model (abstractive), else picked sentences", "auto"),
        ("Picked sentences (extractive)", "extractive"),
    ),
    doc='"auto" (a summarisation model, else picked sentences) or "extractive" (picked sentences)',
)
BATCH_SIZE = Number(
    "batch_size", "Keyframes per batch", 8, minimum=1, maximum=32, integer=True, doc="keyframes captioned at once"
)
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


def keyframes_param(settings: Settings) -> Number:
    """:data:`MAX_KEYFRAMES` on a server with ``settings``: a whole number from 1 to its ``max_keyframes``
    setting (``MMDEMO_MAX_KEYFRAMES``), that setting by default. The page's slider is built from it, so the API
    gate refuses what the task refuses, with the same sentence."""
    limit = settings.max_keyframes
    return MAX_KEYFRAMES.on_server(maximum=limit, default=limit, optional=False)


def check_keyframes(max_keyframes: int | None, settings: Settings) -> int:
    """``max_keyframes`` checked (:func:`keyframes_param`); ``None``: the setting."""
    if max_keyframes is None:
        return settings.max_keyframes
    return keyframes_param(settings).check(max_keyframes)


def _stage(progress: ProgressFn | None, stage: str) -> ProgressFn | None:
    """Map a sub-task's 0–1 progress into ``stage``'s share of the bar, its messages after the stage's name
    ("2/5 Describing keyframes: …")."""
    inner = sub_range(progress, *STAGES[stage])
    if inner is None:
        return None
    number = list(STAGES).index(stage) + 1
    label = Message(f"video_summary.stage.{stage}", number=number, total=len(STAGES))
    return lambda fraction, message: inner(fraction, Message("video_summary.stage", stage=label, message=message))


# --- the pipeline ---------------------------------------------------------------------------------


@task("video", files=("video",))
def summarize_video(
    video: Any,
    *,
    max_keyframes: int | None = MAX_KEYFRAMES.default,
    describe: bool = DESCRIBE.default,
    read_text: bool = READ_TEXT.default,
    transcribe: bool = TRANSCRIBE.default,
    summary_method: Method = SUMMARY_METHOD.default,
    language: str | None = LANGUAGE.default,
    batch_size: int = BATCH_SIZE.default,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> VideoSummary:
    """Summarise a video from what is seen, read and said.

    ``video``: a path (an :class:`~mmdemo.media.files.Upload` is named by the visitor's file name) or bytes
    (MP4, WebM, MOV, MKV, AVI …). ``max_keyframes``: scene keyframes to caption and read (default and upper
    bound: the ``max_keyframes`` setting). ``describe`` / ``read_text`` / ``transcribe`` switch the three
    streams; ``summary_method``: ``auto`` (model, else sentence picking) or ``extractive``; ``language``: speech
    language code (default: detected). Each is checked by its declaration (:data:`MAX_KEYFRAMES` …).
    """
    manager = manager or get_manager()
    settings = manager.settings
    cap = check_keyframes(max_keyframes, settings)
    describe, read_text, transcribe = DESCRIBE.check(describe), READ_TEXT.check(read_text), TRANSCRIBE.check(transcribe)
    summary_method = SUMMARY_METHOD.check(summary_method)
    language = LANGUAGE.check(language).strip() or None
    batch_size = BATCH_SIZE.check(batch_size)
    notes: list[Message | str] = []
    models: dict[str, str] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    # 1. decode: header checks, candidate frames, scene-aware keyframes, sound track
    step = _stage(progress, "decode")
    if step:
        step(0.0, Message("video_summary.opening"))
    source = os.fspath(video) if isinstance(video, os.PathLike) else video
    clip = open_video(source, VideoLimits.from_settings(settings))
    name = display_name(video) or clip.name
    info = clip.info
    times = candidate_times(info.duration, cap, info.frame_count)
    frames, decode_notes = clip.sample(times, progress=step)
    scenes, scene_notes = select_keyframes(frames, info.duration, cap)
    del frames
    notes += [*decode_notes, *scene_notes]
    if len(times) > 1 and info.duration / len(times) > SPARSE_SECONDS:
        every = f"{info.duration / len(times):.0f}"
        notes.append(
            Message("video_summary.long_video", duration=format_time(info.duration), frames=len(times), every=every)
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
        step = _stage(progress, "caption")
        if step:
            step(0.0, Message("video_summary.batches", count=len(images)))
        from .captioning import caption_images

        try:
            results = caption_images(images, batch_size=batch_size, manager=manager, progress=step)
            captions = [r.text for r in results]
            models["captioner"] = results[0].model_id
        except _UNAVAILABLE as err:
            notes.append(Message("video_summary.no_captions", reason=_reason(err)))
    seconds["caption"] = time.perf_counter() - clock

    # 3. what is read
    texts: list[tuple[str, ...]] = [()] * len(scenes)
    clock = time.perf_counter()
    if read_text:
        step = _stage(progress, "read")
        from .ocr import read_texts

        try:
            ocr = read_texts(images, min_score=MIN_OCR_SCORE, manager=manager, progress=step)
            texts = [tuple(line.text for line in r.lines) for r in ocr]
            models["ocr"] = ocr[0].model_id
        except _UNAVAILABLE as err:
            notes.append(Message("video_summary.no_ocr", reason=_reason(err)))
    seconds["read"] = time.perf_counter() - clock

    # 4. what is said
    transcript: Transcript | None = None
    clock = time.perf_counter()
    if transcribe:
        if audio is None:
            notes.append(Message("video_summary.no_sound_track"))
        else:
            step = _stage(progress, "transcribe")
            from .transcription import transcribe as run_asr

            try:
                transcript = run_asr(
                    audio.samples, audio.sample_rate, language=language, manager=manager, progress=step
                )
                models["asr"] = transcript.model_id
                notes.extend(transcript.notes)
                if not transcript.segments:
                    notes.append(Message("video_summary.no_speech"))
            except _UNAVAILABLE as err:
                notes.append(Message("video_summary.no_transcript", reason=_reason(err)))
    seconds["transcribe"] = time.perf_counter() - clock

    # 5. fuse: chapters, then the summary
    clock = time.perf_counter()
    step = _stage(progress, "summarise")
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
        notes.append(Message("video_summary.only_facts"))
    if step:
        step(1.0, Message("video_summary.done"))
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


def _reason(err: Exception) -> Message | str:
    """Why a model could not run, as its error says it to a user (keyed where it is)."""
    return err.message if isinstance(err, (ModelUnavailableError, MemoryBudgetError)) else str(err)


def _facts(info: VideoInfo) -> Message:
    """The summary when nothing was recognised: what the file is."""
    return Message(
        "video_summary.facts_sound" if info.has_audio else "video_summary.facts_silent",
        duration=format_time(info.duration),
        orientation=Message(f"video_summary.orientation.{info.orientation}"),
        width=info.width,
        height=info.height,
    )


# --- fusion ---------------------------------------------------------------------------------------


__all__ = ["Chapter", "VideoKeyframe", "VideoSummary", "build_chapters", "summarize_video"]
