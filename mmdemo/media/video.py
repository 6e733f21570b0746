"""Open, validate and sample videos with PyAV (FFmpeg's libraries; no ``ffmpeg`` binary needed).

* :func:`open_video` checks size, container and duration from the header and returns a :class:`Video`.
* :meth:`Video.sample` decodes the frames at given times by seeking to the keyframe before each
  target and decoding forward (decode-and-skip), or by decoding straight through when the targets
  are close together or no keyframe lies between (the keyframes are listed first, from the packets,
  without decoding); frames that are skipped are never converted, scaled or kept. Frames decoded are
  counted against :attr:`VideoLimits.max_decoded_frames`: when it runs out, the frames found so far are kept
  and a note says how far the video was read.
* :func:`select_keyframes` picks scene-aware keyframes from those samples (colour/structure change
  on 32×32 thumbnails), at most ``max_keyframes``.
* :meth:`Video.audio` gives the sound track as mono float32 at 16 kHz (for speech recognition).

Every bad input raises :class:`~mmdemo.errors.InputError` with a message the user can act on.
Timestamps are seconds from the first video frame, whatever the container's start offset; they come
from each frame's own timestamp, so variable-frame-rate videos are timed correctly.
"""

from __future__ import annotations

import bisect
import dataclasses
import io
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError
from ..messages import Message
from .files import NOT_MEDIA, check_file_size, display_name, location, sniff, what_it_is

__all__ = [
    "AudioTrack",
    "Keyframe",
    "SampledFrame",
    "Video",
    "VideoInfo",
    "VideoLimits",
    "candidate_times",
    "format_time",
    "open_video",
    "select_keyframes",
]

FORMATS_HINT = Message("video.formats")
_DAMAGED = Message("video.damaged")
FRAME_SIDE = 960
"""Longest side of the frames kept for captioning and text reading (BLIP sees 384 px; OCR wants more)."""
THUMB_SIDE = 32
"""Side of the thumbnails compared for scene changes."""
SCENE_THRESHOLD = 0.18
"""Change (0–1) between a candidate frame and the current scene's first frame that starts a new scene."""
DRIFT_THRESHOLD = 0.03
"""A scene longer than ``2 × duration / max_keyframes`` is split once its picture has changed this much."""
CANDIDATES_PER_SECOND = 2.0
MIN_CANDIDATES = 24
"""Candidate frames looked at: 2 per second, at most ``max(4 × max_keyframes, 24)``."""
SEEK_GAP_SECONDS = 2.0
"""Targets further apart than this are reached by seeking; closer ones by decoding straight through."""
SPARSE_SECONDS = 5.0
"""Candidates further apart than this make the summary say that short scenes may have been missed."""
ASR_RATE = 16_000
_IMAGE_DEMUXERS = ("image2", "_pipe", "gif")  # FFmpeg opens pictures as one-frame "videos"
_AUDIO_ONLY_HINT = Message("video.audio_only")


BUDGET_FRAME_PIXELS = 1920 * 1080
"""Frames up to this size count as one against :attr:`VideoLimits.max_decoded_frames`; larger ones in proportion."""


@dataclass(frozen=True)
class VideoLimits:
    """What an upload may be: file size in bytes, duration in seconds, frame size (the image pixel limit), and
    the decoding work one request may do."""

    max_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 1800.0
    max_frame_pixels: int = 50_000_000
    """Width × height of the frames, checked from the header before any is decoded (as an image's)."""
    max_decoded_frames: int = 10_000
    """Frames decoded to sample one video (frames larger than :data:`BUDGET_FRAME_PIXELS` count in proportion:
    2,500 at 4K). Seeking keeps it far below for ordinary videos; one with a single keyframe would need them all."""

    @classmethod
    def from_settings(cls, settings: Any) -> VideoLimits:
        return cls(
            max_bytes=settings.max_upload_bytes,
            max_seconds=settings.max_video_seconds,
            max_frame_pixels=settings.max_image_pixels,
        )

    def frame_budget(self, width: int, height: int) -> int:
        """Frames of ``width`` × ``height`` that may be decoded."""
        return max(1, int(self.max_decoded_frames * min(1.0, BUDGET_FRAME_PIXELS / max(width * height, 1))))


@dataclass(frozen=True)
class VideoInfo:
    """What the container says, checked; sizes are as displayed (rotation applied)."""

    container: str
    codec: str
    width: int
    height: int
    duration: float
    fps: float
    """Average frame rate (0 when unknown)."""
    frame_count: int
    """From the header; 0 when the container does not say."""
    rotation: int
    """Degrees the frames are turned counter-clockwise for display (phone videos: ±90)."""
    has_audio: bool
    audio_codec: str
    size_bytes: int

    @property
    def orientation(self) -> str:
        return "portrait" if self.height > self.width else "landscape" if self.width > self.height else "square"


@dataclass(frozen=True)
class SampledFrame:
    time: float
    """Seconds from the first frame (the frame's own timestamp)."""
    image: Image.Image = field(repr=False)
    """RGB, longest side at most :data:`FRAME_SIDE`, rotated for display."""
    thumb: np.ndarray = field(repr=False)
    """``THUMB_SIDE × THUMB_SIDE × 3`` float32 in 0–1, for scene comparison."""


@dataclass(frozen=True)
class Keyframe:
    """One scene's representative frame and the time range of its scene."""

    time: float
    start: float
    end: float
    image: Image.Image = field(repr=False)
    change: float
    """How different this scene's first frame was from the previous scene (0–1; 1 for the first)."""


@dataclass(frozen=True)
class AudioTrack:
    samples: np.ndarray = field(repr=False)
    """Mono float32, full scale ±1, aligned with the video's time 0."""
    sample_rate: int
    notes: tuple[Message, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def format_time(seconds: float) -> str:
    """``75.3`` → ``1:15``; ``3725`` → ``1:02:05``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- opening ------------------------------------------------------------------------------------


NO_VIDEO = Message("video.missing", formats=FORMATS_HINT)

VideoSource = str | os.PathLike | bytes
"""What :func:`open_video` takes: a path (an :class:`~mmdemo.media.files.Upload` too) or the file's bytes."""


def require_video(source: Any) -> None:
    """Refuse a missing video (checked before any work starts: nothing is decoded here)."""
    if source is None or (isinstance(source, str) and not source):
        raise InputError(NO_VIDEO)


def _location(source: Any) -> Path | bytes:
    """A local path or the bytes of ``source`` (a path, an ``Upload``, bytes; not Gradio's file objects)."""
    if isinstance(source, str) and source.startswith(("http://", "https://", "data:")):
        raise InputError(Message("video.link"))
    return location(source, NO_VIDEO, Message("video.unsupported", type=type(source).__name__, formats=FORMATS_HINT))


def _size(location: Path | bytes) -> int:
    if isinstance(location, bytes):
        return len(location)
    try:
        if location.is_file():
            return location.stat().st_size
    except OSError:
        pass
    raise InputError(Message("media.not_found", kind=Message("media.kind.video")))


def _head(location: Path | bytes) -> bytes:
    if isinstance(location, bytes):
        return location[:512]
    try:
        with location.open("rb") as f:
            return f.read(512)
    except OSError as exc:
        raise InputError(Message("media.not_opened", kind=Message("media.kind.video"))) from exc


@contextmanager
def _container(location: Path | bytes) -> Iterator[Any]:
    import av

    try:
        target = io.BytesIO(location) if isinstance(location, bytes) else str(location)
        container = av.open(target, mode="r", metadata_errors="ignore")
    except Exception as exc:  # FFmpeg cannot make sense of it
        kind = sniff(_head(location), NOT_MEDIA)
        if kind:
            raise InputError(Message("video.is_other", kind=what_it_is(kind), formats=FORMATS_HINT)) from exc
        raise InputError(_DAMAGED) from exc
    try:
        yield container
    finally:
        container.close()


def _start_seconds(stream: Any) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _duration(container: Any, stream: Any) -> float:
    """From the stream header, else the container header, else the last packet's timestamp."""
    if stream.duration and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return max(container.duration / 1e6 - max(_start_seconds(stream), 0.0), 0.0)
    last = 0.0
    start = _start_seconds(stream)
    for packet in container.demux(stream):  # reads the file, decodes nothing
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - start
            last = max(last, end)
    return last


class Video:
    """A validated video file; each method opens its own decoder, so a ``Video`` can be shared."""

    def __init__(
        self, location: Path | bytes, info: VideoInfo, name: str = "", limits: VideoLimits = VideoLimits()
    ) -> None:
        self.location = location
        self.info = info
        self.name = name or (location.name if isinstance(location, Path) else "video")
        self.limits = limits

    def __repr__(self) -> str:
        return f"Video({self.name!r}, {self.info})"

    # ------------------------------------------------------------------------------- frames
    def sample(
        self,
        times: Sequence[float],
        *,
        max_side: int = FRAME_SIDE,
        progress: Callable[[float, str], None] | None = None,
    ) -> tuple[list[SampledFrame], tuple[Message, ...]]:
        """Frames at (the first frame at or after) each of ``times``, in order, without duplicates.

        Returns the frames and notes (e.g. the file ended early, or the decoding budget ran out: then the frames
        found so far, the furthest frame decoded last). A target past the last frame gets the last frame. Raises
        :class:`InputError` when not a single frame decodes.
        """
        targets = sorted(max(0.0, float(t)) for t in times)
        if not targets:
            return [], ()
        frames: list[SampledFrame] = []
        notes: tuple[Message, ...] = ()
        with _container(self.location) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame + slice threads
            start = _start_seconds(stream)
            fps = self.info.fps or 25.0
            keyframes = _keyframe_times(container, stream, start)
            budget = self.limits.frame_budget(stream.codec_context.width, stream.codec_context.height)
            spent = 0
            decoded: Iterator[Any] | None = None
            position = -math.inf  # time of the last decoded frame
            last: Any = None  # last decoded frame (not yet converted)
            last_time = -math.inf
            taken = -math.inf
            done = False

            def convert(frame: Any, at: float) -> None:
                nonlocal taken
                if at <= taken:  # the same frame again (targets closer than a frame)
                    return
                taken = at
                frames.append(_to_sample(frame, at, max_side))
                if progress:
                    progress(len(frames) / len(targets), f"Decoded frame {len(frames)} of {len(targets)}")

            try:
                for target in targets:
                    if done:
                        break
                    if target <= last_time and last is not None:
                        continue  # already past it: that frame was taken for an earlier target
                    if decoded is None or (
                        target - position > SEEK_GAP_SECONDS and _keyframe_before(keyframes, target) > position
                    ):
                        decoded = self._seek(container, stream, target + start)
                    found = False
                    for frame in decoded:
                        spent += 1
                        if spent > budget:
                            raise _BudgetSpent
                        at = (float(frame.time) - start) if frame.time is not None else last_time + 1 / fps
                        at = max(at, 0.0)
                        position = at
                        if at + 0.5 / fps >= target:
                            convert(frame, at)
                            last, last_time = frame, at
                            found = True
                            break
                        last, last_time = frame, at
                    if not found:  # end of stream: the last frame stands for the rest
                        if last is not None:
                            convert(last, last_time)
                            if targets[-1] - last_time > max(2 / fps, 0.5):  # the header promised more
                                notes = (_ended_early(last_time, self.info.duration),)
                        done = True
            except _BudgetSpent:  # keep what was found, and the furthest frame decoded
                if last is not None and last_time > taken:
                    convert(last, last_time)
                info = self.info
                notes = (
                    Message(
                        "video.decode_budget",
                        time=format_time(max(last_time, 0)),
                        duration=format_time(info.duration),
                        limit=budget,
                        width=stream.codec_context.width,
                        height=stream.codec_context.height,
                    ),
                )
            except InputError:
                raise
            except Exception as exc:  # damaged data in the middle: keep what decoded
                if not frames and last is None:
                    raise InputError(_DAMAGED) from exc
                if last is not None and last_time > taken:
                    convert(last, last_time)
                notes = (Message("video.damaged_after", time=format_time(max(last_time, 0))),)
        if not frames:
            raise InputError(Message("video.no_pictures", formats=FORMATS_HINT))
        return frames, notes

    @staticmethod
    def _seek(container: Any, stream: Any, seconds: float) -> Iterator[Any]:
        """A frame iterator starting at the keyframe at or before ``seconds`` (from the start if unseekable)."""
        try:
            container.seek(int(seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
        except Exception:  # not seekable (some AVI/raw streams): decode from the beginning
            container.seek(0)
        return container.decode(stream)

    # ------------------------------------------------------------------------------- audio
    def audio(self, sample_rate: int = ASR_RATE) -> AudioTrack | None:
        """The first sound track as mono float32 at ``sample_rate``; None when there is none."""
        if not self.info.has_audio:
            return None
        import av

        chunks: list[np.ndarray] = []
        notes: tuple[Message, ...] = ()
        max_samples = int((self.info.duration + 1) * sample_rate) if self.info.duration else None
        from .audio import AudioLimits, check_format

        with _container(self.location) as container:
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or 0)
            if rate:  # before decoding: the same channels and rate as an audio upload
                check_format(rate, int(stream.codec_context.channels or 0), AudioLimits())
            video_start = _start_seconds(container.streams.video[0]) if container.streams.video else 0.0
            offset = _start_seconds(stream) - video_start
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            total = 0
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray().reshape(-1))
                        total += chunks[-1].size
                    if max_samples is not None and total > 2 * max_samples:
                        break  # the header lied about the length: never more than twice it
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
            except Exception:  # damaged sound: keep what decoded
                notes = (Message("video.sound_damaged", time=format_time(total / sample_rate)),)
        samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
        shift = round(offset * sample_rate)
        if shift > 0:
            samples = np.concatenate([np.zeros(shift, np.float32), samples])
        elif shift < 0:
            samples = samples[-shift:]
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
        return AudioTrack(np.ascontiguousarray(samples, dtype=np.float32), sample_rate, notes)


class _BudgetSpent(Exception):
    """:attr:`VideoLimits.max_decoded_frames` ran out while sampling."""


def _keyframe_times(container: Any, stream: Any, start: float) -> list[float]:
    """Times of the keyframes (seconds from the first frame), from the packets: nothing is decoded. Where the
    container cannot say (no timestamps), every target is sought as before (one keyframe at ``inf``)."""
    times: list[float] = []
    try:
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base) - start)
    except Exception:  # a damaged file: decoding will say so
        pass
    return sorted(times) or [math.inf]


def _keyframe_before(keyframes: list[float], target: float) -> float:
    """The last keyframe at or before ``target`` (a seek lands there); ``inf`` when none is known."""
    i = bisect.bisect_right(keyframes, target + 1e-6)
    return keyframes[i - 1] if i else (math.inf if keyframes == [math.inf] else -math.inf)


def _ended_early(seconds: float, promised: float) -> Message:
    return Message("video.ended_early", time=format_time(seconds), promised=format_time(promised))


def _to_sample(frame: Any, at: float, max_side: int) -> SampledFrame:
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    image = frame.to_image(width=size[0], height=size[1], interpolation="AREA")
    rotation = int(getattr(frame, "rotation", 0) or 0)
    if rotation % 360:
        image = image.rotate(rotation, expand=True)  # PIL turns counter-clockwise, as the display matrix says
    thumb = np.asarray(image.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    return SampledFrame(at, image, thumb)


def open_video(source: VideoSource, limits: VideoLimits = VideoLimits()) -> Video:
    """Check ``source`` (a path, an :class:`~mmdemo.media.files.Upload`, bytes) and read its header; the
    :class:`Video` is named by the visitor's own file name where there is one.

    Raises :class:`InputError` for a missing, empty, oversized, over-long, corrupt or unsupported
    file, an image, or a file with sound but no pictures.
    """
    location = _location(source)
    size = _size(location)
    check_file_size(size, limits.max_bytes, "video")
    with _container(location) as container:
        name = str(container.format.name or "")
        if any(part in name for part in _IMAGE_DEMUXERS) and name != "gif":
            raise InputError(Message("video.is_image", formats=FORMATS_HINT))
        if not container.streams.video:
            if container.streams.audio:
                raise InputError(_AUDIO_ONLY_HINT)
            raise InputError(Message("video.no_track", formats=FORMATS_HINT))
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise InputError(_DAMAGED)
        if ctx.width * ctx.height > limits.max_frame_pixels:  # before a frame is decoded
            raise InputError(
                Message(
                    "video.frames_too_large",
                    width=ctx.width,
                    height=ctx.height,
                    pixels=f"{ctx.width * ctx.height / 1e6:.3g}",
                    limit=f"{limits.max_frame_pixels / 1e6:.3g}",
                )
            )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate and Fraction(rate) > 0 else 0.0
        duration = _duration(container, stream)
        if duration > limits.max_seconds:
            raise InputError(
                Message("video.too_long", length=format_time(duration), limit=format_time(limits.max_seconds))
            )
        audio = container.streams.audio
        info = VideoInfo(
            container=name,
            codec=str(ctx.name or ""),
            width=int(ctx.width),
            height=int(ctx.height),
            duration=duration,
            fps=fps,
            frame_count=int(stream.frames or 0),
            rotation=0,
            has_audio=bool(audio),
            audio_codec=str(audio[0].codec_context.name or "") if audio else "",
            size_bytes=size,
        )
        first = _first_frame(container, stream)
    rotation = int(getattr(first, "rotation", 0) or 0)
    if rotation % 180:
        info = dataclasses.replace(info, width=info.height, height=info.width, rotation=rotation)
    elif rotation:
        info = dataclasses.replace(info, rotation=rotation)
    if info.duration <= 0:  # one-frame or header-less: at least one frame long
        info = dataclasses.replace(info, duration=1 / (info.fps or 25.0))
    return Video(location, info, display_name(source) or "video", limits)


def _first_frame(container: Any, stream: Any) -> Any:
    """The first decodable picture (proves the file holds video, gives the display rotation)."""
    try:
        for frame in container.decode(stream):
            return frame
    except Exception as exc:
        raise InputError(_DAMAGED) from exc
    raise InputError(Message("video.no_pictures", formats=FORMATS_HINT))


# --- choosing keyframes ---------------------------------------------------------------------------


def candidate_times(duration: float, max_keyframes: int, frame_count: int = 0) -> list[float]:
    """Evenly spread times (bin centres) to look for scenes at: 2 per second, at most ``max(4 × cap, 24)``."""
    cap = max(4 * max_keyframes, MIN_CANDIDATES)
    n = max(1, min(cap, math.ceil(duration * CANDIDATES_PER_SECOND)))
    if frame_count > 0:
        n = min(n, frame_count)
    step = duration / n if duration > 0 else 0.0
    return [(i + 0.5) * step for i in range(n)]


def frame_change(a: np.ndarray, b: np.ndarray) -> float:
    """0 (same picture) … 1 (nothing alike): half mean pixel difference, half colour-histogram distance."""
    pixels = float(np.abs(a - b).mean())
    bins = 16
    hist = 0.0
    for channel in range(3):
        ha, _ = np.histogram(a[..., channel], bins=bins, range=(0.0, 1.0))
        hb, _ = np.histogram(b[..., channel], bins=bins, range=(0.0, 1.0))
        hist += 0.5 * float(np.abs(ha / max(ha.sum(), 1) - hb / max(hb.sum(), 1)).sum())
    return min(1.0, 0.5 * pixels * 4 + 0.5 * hist / 3)  # mean pixel differences are small: ×4 to 0–1


def select_keyframes(
    frames: Sequence[SampledFrame],
    duration: float,
    max_keyframes: int,
    threshold: float = SCENE_THRESHOLD,
) -> tuple[list[Keyframe], tuple[Message, ...]]:
    """Scene-aware keyframes: a new scene starts where a frame differs from the current scene's
    first frame by more than ``threshold`` (gradual changes accumulate), or where a scene has run
    longer than ``2 × duration / max_keyframes`` and changed visibly (:data:`DRIFT_THRESHOLD`), so a
    static shot gives one keyframe and a slow pan several. Beyond ``max_keyframes`` scenes the most distinct
    cuts are kept. Each scene is represented by its middle sample. Returns keyframes and notes.
    """
    if not frames:
        return [], ()
    max_gap = 2 * duration / max(max_keyframes, 1)
    starts = [0]
    changes = [1.0]
    for i in range(1, len(frames)):
        change = frame_change(frames[starts[-1]].thumb, frames[i].thumb)
        long = frames[i].time - frames[starts[-1]].time > max_gap
        if change > threshold or (long and change > DRIFT_THRESHOLD):
            starts.append(i)
            changes.append(change)
    notes: tuple[Message, ...] = ()
    if len(starts) > max_keyframes:
        keep = sorted(range(1, len(starts)), key=lambda k: changes[k], reverse=True)[: max_keyframes - 1]
        kept = [0, *sorted(keep)]
        notes = (Message("video.too_many_scenes", count=len(starts), limit=max_keyframes),)
        starts, changes = [starts[k] for k in kept], [changes[k] for k in kept]
    keyframes = []
    for k, first in enumerate(starts):
        last = (starts[k + 1] if k + 1 < len(starts) else len(frames)) - 1
        middle = frames[(first + last) // 2]
        begin = 0.0 if k == 0 else (frames[first - 1].time + frames[first].time) / 2
        end = duration if k + 1 == len(starts) else (frames[last].time + frames[last + 1].time) / 2
        keyframes.append(Keyframe(middle.time, begin, max(end, begin), middle.image, round(changes[k], 4)))
    return keyframes, notes
