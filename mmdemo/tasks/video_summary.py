"""Video summary: what is seen (keyframe captions), read (on-screen text) and said (transcript),
fused into a summary paragraph, timestamped chapters, a keyframe gallery and downloadable reports.

Same shape as the other task modules: inputs → preprocess (decode, scene-aware keyframes, sound
track) → models (through the manager, reusing the ``captioner``, ``ocr``, ``asr``, ``summarizer`` and
``embedder`` roles) → postprocess (fusion, chapters) → a frozen :class:`VideoSummary`.

Every model is optional: when one is unavailable the pipeline runs on what is left and says so in
``notes``. Only an unusable video (or asking for an impossible option) raises :class:`InputError`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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
from ..models.hub import public_model_id
from ..models.manager import ModelManager, ProgressFn
from ..runtime import get_manager
from .summarize import METHODS, Method, embed_texts, split_sentences, summarize
from .transcription import Transcript

MAX_CHAPTERS = 8
LONG_CHAPTER_SECONDS = 120.0
"""A chapter longer than this is split where the speech changes topic (needs a transcript)."""
MIN_OCR_SCORE = 0.6
TITLE_CHARS = 60
# (start, end) of each stage on the 0–1 progress bar
STAGES: dict[str, tuple[float, float]] = {
    "decode": (0.0, 0.15),
    "caption": (0.15, 0.45),
    "read": (0.45, 0.6),
    "transcribe": (0.6, 0.85),
    "summarise": (0.85, 1.0),
}
_UNAVAILABLE = (ModelUnavailableError, MemoryBudgetError)


@dataclass(frozen=True)
class VideoKeyframe:
    index: int
    time: float
    start: float
    end: float
    """The scene this frame stands for."""
    image: Image.Image = field(repr=False)
    caption: str = ""
    """What the captioner sees ("" when it was not run)."""
    text: tuple[str, ...] = ()
    """Lines of on-screen text, in reading order."""


@dataclass(frozen=True)
class Chapter:
    index: int
    start: float
    end: float
    title: str
    seen: tuple[str, ...]
    read: tuple[str, ...]
    said: str
    keyframes: tuple[int, ...]
    """Indices into :attr:`VideoSummary.keyframes`."""


@dataclass(frozen=True)
class VideoSummary:
    name: str
    info: VideoInfo
    summary: str
    summary_method: str
    """``abstractive``, ``extractive``, ``first sentences`` or ``facts`` (nothing to summarise)."""
    keyframes: tuple[VideoKeyframe, ...]
    chapters: tuple[Chapter, ...]
    transcript: Transcript | None
    notes: tuple[str, ...]
    """What the user should know: missing streams, fallbacks, long-video sampling, damaged files."""
    models: dict[str, str]
    """Role → model id, for the models that ran."""
    seconds: dict[str, float]
    """Stage → wall-clock seconds (model loading included)."""

    @property
    def duration(self) -> float:
        return self.info.duration

    def to_dict(self) -> dict[str, Any]:
        """Everything but the images, JSON-serialisable."""
        transcript = None
        if self.transcript is not None:
            transcript = {
                "text": self.transcript.text,
                "language": self.transcript.language,
                "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in self.transcript.segments],
            }
        return {
            "name": self.name,
            "video": {
                "duration": round(self.info.duration, 3),
                "width": self.info.width,
                "height": self.info.height,
                "fps": round(self.info.fps, 3),
                "container": self.info.container,
                "codec": self.info.codec,
                "has_audio": self.info.has_audio,
            },
            "summary": self.summary,
            "summary_method": self.summary_method,
            "chapters": [
                {
                    "start": round(c.start, 3),
                    "end": round(c.end, 3),
                    "title": c.title,
                    "seen": list(c.seen),
                    "read": list(c.read),
                    "said": c.said,
                    "keyframes": list(c.keyframes),
                }
                for c in self.chapters
            ],
            "keyframes": [
                {
                    "time": round(k.time, 3),
                    "start": round(k.start, 3),
                    "end": round(k.end, 3),
                    "caption": k.caption,
                    "text": list(k.text),
                }
                for k in self.keyframes
            ],
            "transcript": transcript,
            "notes": list(self.notes),
            "models": {role: public_model_id(model) for role, model in self.models.items()},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def to_srt(self) -> str | None:
        """SubRip subtitles from the transcript segments; None without a transcript."""
        if self.transcript is None or not self.transcript.segments:
            return None
        blocks = []
        for number, seg in enumerate(self.transcript.segments, start=1):
            end = max(seg.end, seg.start + 0.001)
            blocks.append(f"{number}\n{srt_time(seg.start)} --> {srt_time(end)}\n{seg.text}\n")
        return "\n".join(blocks)

    def to_markdown(self) -> str:
        lines = [f"# Video summary: {self.name}", ""]
        lines += [
            f"{format_time(self.duration)} · {self.info.width}×{self.info.height} · "
            f"{'with' if self.info.has_audio else 'no'} sound track",
            "",
            "## Summary",
            "",
            self.summary,
            "",
            "## Chapters",
            "",
        ]
        for c in self.chapters:
            lines.append(f"### {c.index + 1}. {format_time(c.start)}–{format_time(c.end)} · {c.title}")
            lines.append("")
            if c.seen:
                lines.append(f"- **Seen:** {'; '.join(c.seen)}")
            if c.read:
                lines.append(f"- **Read:** {'; '.join(_quote(t) for t in c.read)}")
            if c.said:
                lines.append(f"- **Said:** {c.said}")
            if not (c.seen or c.read or c.said):
                lines.append("- (nothing recognised)")
            lines.append("")
        lines += ["## Keyframes", "", "| Time | Caption | On-screen text |", "|---|---|---|"]
        for k in self.keyframes:
            lines.append(f"| {format_time(k.time)} | {_cell(k.caption)} | {_cell(' / '.join(k.text))} |")
        lines += ["", "## Transcript", ""]
        if self.transcript is not None and self.transcript.segments:
            lines += [f"- [{format_time(s.start)}–{format_time(s.end)}] {s.text}" for s in self.transcript.segments]
        else:
            lines.append("(no speech transcribed)")
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in self.notes] or ["- none"]
        lines += ["", "## Models", ""]
        lines += [f"- {role}: `{public_model_id(model)}`" for role, model in self.models.items()] or ["- none"]
        return "\n".join(lines) + "\n"

    def write_report(self, folder: str | Path, keyframes: bool = False) -> list[Path]:
        """Write ``<name>.summary.md``, ``.json``, (with a transcript) ``.srt`` and, with ``keyframes``, the
        keyframes as ``keyframe-01.jpg`` … into ``folder`` (the UI's downloads and the CLI's ``--out``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", Path(self.name).stem)[:60] or "video"
        paths = [folder / f"{stem}.summary.md", folder / f"{stem}.summary.json"]
        paths[0].write_text(self.to_markdown(), encoding="utf-8")
        paths[1].write_text(self.to_json(), encoding="utf-8")
        srt = self.to_srt()
        if srt is not None:
            paths.append(folder / f"{stem}.srt")
            paths[-1].write_text(srt, encoding="utf-8")
        if keyframes:
            for i, keyframe in enumerate(self.keyframes, start=1):
                paths.append(folder / f"keyframe-{i:02d}.jpg")
                keyframe.image.save(paths[-1], quality=90)
        return paths


def srt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def _quote(text: str) -> str:
    return f"“{text}”"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def _stage(progress: ProgressFn | None, stage: str, label: str) -> ProgressFn | None:
    """Map a sub-task's 0–1 progress into ``stage``'s share of the bar, prefixing ``label``."""
    if progress is None:
        return None
    low, high = STAGES[stage]
    return lambda fraction, message: progress(low + (high - low) * min(max(fraction, 0.0), 1.0), f"{label}: {message}")


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


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if text and text[-1] not in ".!?…":
        text += "."
    return text


def fused_sentences(chapters: Sequence[Chapter]) -> list[str]:
    """The three streams as prose, chapter by chapter: what is shown, what the screen reads, what is said."""
    sentences: list[str] = []
    for chapter in chapters:
        for caption in chapter.seen:
            sentences.append(_sentence(f"The video shows {caption[:1].lower()}{caption[1:]}"))
        if chapter.read:
            sentences.append(_sentence("The screen reads " + ", ".join(_quote(t) for t in chapter.read)))
        sentences.extend(_sentence(s) for s in split_sentences(chapter.said))
    return list(dict.fromkeys(s for s in sentences if len(s) > 1))


@dataclass
class _Unit:
    start: float
    end: float
    keyframes: list[int]
    segments: list[int]


def build_chapters(
    keyframes: Sequence[VideoKeyframe],
    transcript: Transcript | None,
    duration: float,
    *,
    max_chapters: int = MAX_CHAPTERS,
    manager: ModelManager | None = None,
) -> tuple[list[Chapter], list[str]]:
    """Chapters covering ``[0, duration]`` without gaps: one per scene, long speech-only stretches split
    where the topic changes, then the most similar neighbours merged (sentence embeddings) down to
    ``max_chapters``. Without the embedder, the shortest chapters are merged instead."""
    segments = list(transcript.segments) if transcript is not None else []
    units = [_Unit(k.start, k.end, [k.index], []) for k in keyframes] or [_Unit(0.0, duration, [], [])]
    units[0].start, units[-1].end = 0.0, max(duration, units[-1].end)
    for j, seg in enumerate(segments):
        middle = (seg.start + seg.end) / 2
        home = next((u for u in units if u.start <= middle < u.end), units[-1])
        home.segments.append(j)
    notes: list[str] = []
    embed = _embedder(manager, notes)

    def text_of(unit: _Unit) -> str:
        parts = [keyframes[i].caption for i in unit.keyframes] + [t for i in unit.keyframes for t in keyframes[i].text]
        parts += [segments[j].text for j in unit.segments]
        return " ".join(p for p in parts if p) or "."

    # split long stretches where the speech changes topic
    split: list[_Unit] = []
    for unit in units:
        split.extend(_split_by_speech(unit, segments, [k.time for k in keyframes], embed))
    units = split

    # merge neighbours down to max_chapters
    while len(units) > max_chapters:
        vectors = embed([text_of(u) for u in units]) if embed else None
        if vectors is not None:
            similarity = [float(vectors[i] @ vectors[i + 1]) for i in range(len(units) - 1)]
            i = int(np.argmax(similarity))
        else:
            shortest = min(range(len(units)), key=lambda k: units[k].end - units[k].start)
            i = shortest - 1 if shortest == len(units) - 1 else shortest
        a, b = units[i], units[i + 1]
        units[i : i + 2] = [_Unit(a.start, b.end, a.keyframes + b.keyframes, a.segments + b.segments)]

    chapters = []
    for n, unit in enumerate(units):
        seen = tuple(dict.fromkeys(keyframes[i].caption for i in unit.keyframes if keyframes[i].caption))
        read = tuple(dict.fromkeys(t for i in unit.keyframes for t in keyframes[i].text))
        said = " ".join(segments[j].text for j in unit.segments)
        chapters.append(
            Chapter(n, unit.start, unit.end, _title(seen, read, said, n), seen, read, said, tuple(unit.keyframes))
        )
    return chapters, notes


def _embedder(manager: ModelManager | None, notes: list[str]) -> Callable[[list[str]], np.ndarray | None] | None:
    """A cached embedding function that records (once) and survives the embedder being unavailable."""
    state: dict[str, Any] = {"failed": False}

    def embed(texts: list[str]) -> np.ndarray | None:
        if state["failed"]:
            return None
        try:
            return embed_texts(texts, manager=manager)
        except _UNAVAILABLE as err:
            state["failed"] = True
            notes.append(f"Chapters were formed without sentence embeddings: {err}")
            return None

    return embed


def _split_by_speech(
    unit: _Unit,
    segments: Sequence[Any],
    times: Sequence[float],
    embed: Callable[[list[str]], np.ndarray | None] | None,
) -> list[_Unit]:
    """Halve ``unit`` at the speech pause where the topic changes most, until no part is too long."""
    if unit.end - unit.start <= LONG_CHAPTER_SECONDS or len(unit.segments) < 2:
        return [unit]
    inner = unit.segments
    cuts = list(range(1, len(inner)))  # cut before inner[c]
    vectors = embed([segments[j].text for j in inner]) if embed else None
    if vectors is not None:  # low similarity between the two segments either side: a topic change
        scores = [float(vectors[max(c - 2, 0) : c].mean(0) @ vectors[c : c + 2].mean(0)) for c in cuts]
    else:
        middle = (unit.start + unit.end) / 2
        scores = [abs(segments[inner[c]].start - middle) for c in cuts]
    cut = cuts[int(np.argmin(scores))]
    at = segments[inner[cut]].start
    if not unit.start < at < unit.end:
        return [unit]
    left = _Unit(unit.start, at, [k for k in unit.keyframes if times[k] < at], inner[:cut])
    right = _Unit(at, unit.end, [k for k in unit.keyframes if times[k] >= at], inner[cut:])
    return _split_by_speech(left, segments, times, embed) + _split_by_speech(right, segments, times, embed)


def _title(seen: Sequence[str], read: Sequence[str], said: str, index: int) -> str:
    for candidate in (*seen[:1], *read[:1], " ".join(said.split()[:10])):
        candidate = " ".join(candidate.split())
        if candidate:
            return candidate if len(candidate) <= TITLE_CHARS else candidate[: TITLE_CHARS - 1].rstrip() + "…"
    return f"Part {index + 1}"


__all__ = ["Chapter", "VideoKeyframe", "VideoSummary", "build_chapters", "summarize_video"]
