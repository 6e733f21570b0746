"""What a video summary is (:class:`VideoSummary`, its keyframes and chapters) and how it is written out:
Markdown (the report and the app's chapter view share :func:`chapters_markdown`), JSON and SubRip subtitles.

What the app writes (headings, table headers, notes, a chapter without a title) is keyed
(:mod:`mmdemo.messages`): the Markdown is rendered in a locale (the page's downloads in the visitor's language,
the command line's in English); the JSON is data, in English. What the models say (captions, on-screen text,
speech, the summary) is theirs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..media.video import VideoInfo, format_time
from ..messages import Message, text
from ..models.hub import public_model_id
from .transcription import Transcript


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
    title: Message | str
    """Short (≤ 60 characters): a keyframe caption, the first words said or the on-screen text; "Part N" (a
    :class:`Message`) when nothing was recognised (see :func:`~mmdemo.tasks.chapters.chapter_title`)."""
    seen: tuple[str, ...]
    read: tuple[str, ...]
    said: str
    keyframes: tuple[int, ...]
    """Indices into :attr:`VideoSummary.keyframes`."""


@dataclass(frozen=True)
class VideoSummary:
    name: str
    info: VideoInfo
    summary: Message | str
    """The summary; when nothing was recognised, a sentence of facts about the file (a :class:`Message`)."""
    summary_method: str
    """``abstractive``, ``extractive``, ``first sentences`` or ``facts`` (nothing to summarise)."""
    keyframes: tuple[VideoKeyframe, ...]
    chapters: tuple[Chapter, ...]
    transcript: Transcript | None
    notes: tuple[Message | str, ...]
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
            "summary": str(self.summary),
            "summary_method": self.summary_method,
            "chapters": [
                {
                    "start": round(c.start, 3),
                    "end": round(c.end, 3),
                    "title": str(c.title),
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
            "notes": [str(note) for note in self.notes],
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

    def to_markdown(self, locale: str = "en") -> str:
        """The report, the app's words in ``locale``."""

        def say(key: str, **values: Any) -> str:
            return Message(f"video_report.{key}", **values).text(locale)

        sound = say("with_sound" if self.info.has_audio else "without_sound")
        lines = [f"# {say('title', name=self.name)}", ""]
        lines += [
            f"{format_time(self.duration)} · {self.info.width}×{self.info.height} · {sound}",
            "",
            f"## {say('summary')}",
            "",
            text(self.summary, locale),
            "",
            f"## {say('chapters')}",
            "",
        ]
        lines += [chapters_markdown(self.chapters, headings=True, locale=locale), ""]
        headers = (say("time"), say("caption"), say("on_screen_text"))
        lines += [f"## {say('keyframes')}", "", "| " + " | ".join(headers) + " |", "|---|---|---|"]
        for k in self.keyframes:
            lines.append(f"| {format_time(k.time)} | {_cell(k.caption)} | {_cell(' / '.join(k.text))} |")
        lines += ["", f"## {say('transcript')}", ""]
        if self.transcript is not None and self.transcript.segments:
            lines += [f"- [{format_time(s.start)}–{format_time(s.end)}] {s.text}" for s in self.transcript.segments]
        else:
            lines.append(say("no_speech"))
        lines += ["", f"## {say('notes')}", ""]
        lines += [f"- {text(note, locale)}" for note in self.notes] or [f"- {say('none')}"]
        lines += ["", f"## {say('models')}", ""]
        models = [f"- {role}: `{public_model_id(model)}`" for role, model in self.models.items()]
        lines += models or [f"- {say('none')}"]
        return "\n".join(lines) + "\n"

    def write_report(self, folder: str | Path, keyframes: bool = False, locale: str = "en") -> list[Path]:
        """Write ``<name>.summary.md`` (in ``locale``), ``.json``, (with a transcript) ``.srt`` and, with
        ``keyframes``, the keyframes as ``keyframe-01.jpg`` … into ``folder`` (the UI's downloads and the CLI's
        ``--out``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", Path(self.name).stem)[:60] or "video"
        paths = [folder / f"{stem}.summary.md", folder / f"{stem}.summary.json"]
        paths[0].write_text(self.to_markdown(locale), encoding="utf-8")
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


def chapters_markdown(chapters: Sequence[Chapter], headings: bool = False, locale: str = "en") -> str:
    """One block per chapter: its time range and title (a numbered ``###`` heading in the report, bold in
    the app), then what is seen, read and said; the app's words in ``locale``."""

    def say(key: str, **values: Any) -> str:
        return Message(f"video_report.{key}", **values).text(locale)

    blocks = []
    for c in chapters:
        span = f"{format_time(c.start)}–{format_time(c.end)} · {text(c.title, locale)}"
        lines = [f"### {c.index + 1}. {span}\n" if headings else f"**{span}**"]
        if c.seen:
            lines.append(f"- **{say('seen')}** {'; '.join(c.seen)}")
        if c.read:
            lines.append(f"- **{say('read')}** {'; '.join(quote(t) for t in c.read)}")
        if c.said:
            lines.append(f"- **{say('said')}** {c.said}")
        if not (c.seen or c.read or c.said):
            lines.append(f"- {say('nothing')}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def quote(text: str) -> str:
    return f"“{text}”"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "–"
