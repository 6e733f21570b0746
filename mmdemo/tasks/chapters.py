"""Chapters of a video: one per scene, long speech-only stretches split where the topic changes, then the
most similar neighbours merged (sentence embeddings) down to :data:`MAX_CHAPTERS`, each titled from what it
shows, says or reads (:func:`chapter_title`); and the three streams (seen, read, said) as sentences for the
summariser. On-screen text with fewer than :data:`MIN_READ_CHARS` letters or digits stays out of all of these.

The sentences for the summariser ("The video shows …") are its English input, not words for the page; a chapter
without a title is "Part N" in the reader's language (a :class:`~mmdemo.messages.Message`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MemoryBudgetError, ModelUnavailableError
from ..messages import Message
from ..models.manager import ModelManager
from .summarize import embed_texts, split_sentences
from .transcription import Transcript
from .video_report import Chapter, VideoKeyframe, quote

MAX_CHAPTERS = 8
LONG_CHAPTER_SECONDS = 120.0
"""A chapter longer than this is split where the speech changes topic (needs a transcript)."""
TITLE_CHARS = 60
"""Chapter titles are at most this long (cut at a word, with "…")."""
MIN_TITLE_SPEECH_CHARS = 20
"""A title from speech takes whole sentences until it has this many characters ("Hi." alone says nothing)."""
MIN_READ_CHARS = 3
"""On-screen text joins summaries, chapters and titles only with at least this many letters or digits: single
letters and stray marks ("O", "|", "1") are what OCR finds in textures and logos. Keyframes keep every line."""
_UNAVAILABLE = (ModelUnavailableError, MemoryBudgetError)


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    if text and text[-1] not in ".!?…":
        text += "."
    return text


def worth_reading(text: str) -> bool:
    """Whether an OCR line is real text for a summary (at least :data:`MIN_READ_CHARS` letters or digits)."""
    return sum(c.isalnum() for c in text) >= MIN_READ_CHARS


def fused_sentences(chapters: Sequence[Chapter]) -> list[str]:
    """The three streams as prose, chapter by chapter: what is shown, what the screen reads, what is said."""
    sentences: list[str] = []
    for chapter in chapters:
        for caption in chapter.seen:
            sentences.append(_sentence(f"The video shows {caption[:1].lower()}{caption[1:]}"))
        read = [t for t in chapter.read if worth_reading(t)]
        if read:
            sentences.append(_sentence("The screen reads " + ", ".join(quote(t) for t in read)))
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
) -> tuple[list[Chapter], list[Message]]:
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
    notes: list[Message] = []
    embed = _embedder(manager, notes)

    def read_in(unit: _Unit) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for i in unit.keyframes for t in keyframes[i].text if worth_reading(t)))

    def text_of(unit: _Unit) -> str:
        parts = [keyframes[i].caption for i in unit.keyframes] + list(read_in(unit))
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

    chapters: list[Chapter] = []
    for n, unit in enumerate(units):
        seen = tuple(dict.fromkeys(keyframes[i].caption for i in unit.keyframes if keyframes[i].caption))
        read = read_in(unit)
        said = " ".join(segments[j].text for j in unit.segments)
        title = chapter_title(seen, read, said, n, taken=[c.title for c in chapters])
        chapters.append(Chapter(n, unit.start, unit.end, title, seen, read, said, tuple(unit.keyframes)))
    return chapters, notes


def _embedder(manager: ModelManager | None, notes: list[Message]) -> Callable[[list[str]], np.ndarray | None] | None:
    """A cached embedding function that records (once) and survives the embedder being unavailable."""
    state: dict[str, Any] = {"failed": False}

    def embed(texts: list[str]) -> np.ndarray | None:
        if state["failed"]:
            return None
        try:
            return embed_texts(texts, manager=manager)
        except _UNAVAILABLE as err:
            state["failed"] = True
            notes.append(Message("video_summary.chapters_without_embeddings", reason=err.message))
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


def chapter_title(
    seen: Sequence[str], read: Sequence[str], said: str, index: int, taken: Sequence[Any] = ()
) -> Message | str:
    """A short title from what the chapter shows, says or reads, in that order of preference: a keyframe
    caption, the first words of its speech, its on-screen text. A candidate an earlier chapter already has as
    its title (``taken``) gives way to the next one, so neighbouring chapters of one scene are told apart by what
    is said. "Part N" only when nothing was recognised."""
    speech = ""
    for sentence in split_sentences(said):
        speech = f"{speech} {sentence}".strip()
        if len(speech) >= MIN_TITLE_SPEECH_CHARS:
            break
    lines = [t for t in read if worth_reading(t)]
    candidates = [shorten(c) for c in (*seen, speech, " / ".join(lines))]
    candidates = [c for c in dict.fromkeys(candidates) if c]
    fresh = [c for c in candidates if c not in taken]
    return (fresh or candidates or [Message("video_summary.part", number=index + 1)])[0]


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """``text`` on one line without a closing full stop, cut at a word to at most ``limit`` characters with
    "…" when longer (a single word longer than that is cut inside it)."""
    text = " ".join(text.split())
    if text.endswith(".") and not text.endswith(".."):  # a closing full stop, not an ellipsis
        text = text[:-1].rstrip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–—-/·") + "…"
