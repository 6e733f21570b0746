"""Turn a recording (a path or :class:`~mmdemo.media.files.Upload`, bytes, a ``(rate, array)`` tuple) into mono audio.

Every bad input raises :class:`~mmdemo.errors.InputError` with a message the user can act on. Size is
checked once, before reading (a path: from the file system; bytes: their length), duration before decoding
wherever the container says it (and while decoding otherwise), so an over-long upload never fills memory.

Decoding: ``soundfile`` (libsndfile: WAV, FLAC, OGG Vorbis/Opus, MP3, AIFF …) first, then PyAV
(FFmpeg: M4A/AAC, WebM/Opus as browsers record, MP4/MOV sound tracks, anything else FFmpeg reads).
Channels and sample rate are checked from the header before anything is decoded; decoding then streams, block
by block: each block is averaged to mono and resampled (``soxr``, what librosa calls for ``soxr_hq``, without
librosa's numba start-up cost) before the next is read, so the multichannel float32 samples of a whole file
are never held, and the samples decoded (all channels, at the file's rate) are counted against
:attr:`AudioLimits.max_decoded_bytes`. Also here: frame loudness and which frames carry sound, measured once per
clip (:class:`Loudness`). The spectrogram picture is :mod:`mmdemo.media.spectrogram`.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..messages import Message
from .files import NOT_MEDIA, check_file_size, location, looks_like, read_limited, sniff, what_it_is

__all__ = [
    "Audio",
    "AudioLimits",
    "Loudness",
    "check_format",
    "frame_levels_db",
    "load_audio",
    "probe_duration",
    "resample",
    "voiced_frames",
]

FORMATS_HINT = Message("audio.formats")
_DAMAGED = Message("audio.damaged")
FRAME_SECONDS = 0.025
"""Loudness and speech detection work on frames of 25 ms."""
SILENCE_DB = -55.0
"""Frames quieter than this (RMS, dB below full scale) never count as sound."""
DYNAMIC_RANGE_DB = 35.0
"""…nor do frames more than this far below the loudest frame (background noise)."""


KEEP_RATE = 48_000
"""Audio is kept at its own rate up to this; faster rates are resampled to it while decoding (unless
:func:`load_audio` is asked for another rate)."""
BLOCK_FRAMES = 1 << 16
"""Frames decoded at a time (8 channels: 2 MiB of float32)."""


@dataclass(frozen=True)
class AudioLimits:
    """What an upload may be: file size in bytes, duration in seconds, channels, sample rate, and the samples
    decoding may produce (all channels at the file's rate, as float32: the decoding work of one recording)."""

    max_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 600.0
    min_seconds: float = 0.05
    max_channels: int = 8
    """7.1 surround; more are refused before decoding."""
    min_sample_rate: int = 1_000
    max_sample_rate: int = 192_000
    """Hz; faster files are refused before decoding."""
    max_decoded_bytes: int = 1 << 30
    """1 GiB: e.g. 10 min of 8 channels at 48 kHz (922 MB) or of stereo at 192 kHz (922 MB)."""

    @classmethod
    def from_settings(cls, settings: Any) -> AudioLimits:
        """The limits configured in :class:`mmdemo.settings.Settings` (as ``ImageLimits``/``VideoLimits``)."""
        return cls(max_bytes=settings.max_upload_bytes, max_seconds=settings.max_audio_seconds)


@dataclass(frozen=True)
class Audio:
    """Decoded mono audio: float32 samples (full scale ±1) at ``sample_rate``."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int
    source_rate: int
    """The rate of the file (before any resampling)."""
    source_channels: int
    decoder: str
    """``soundfile``, ``pyav`` or ``array``."""
    warnings: tuple[Message, ...] = ()
    """Things the user should know (e.g. the file ended early and only part of it was read)."""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def at_rate(self, rate: int) -> Audio:
        """The same audio resampled to ``rate`` (self when it already is)."""
        if rate == self.sample_rate:
            return self
        return Audio(
            resample(self.samples, self.sample_rate, rate),
            rate,
            self.source_rate,
            self.source_channels,
            self.decoder,
            self.warnings,
        )


NO_AUDIO = Message("audio.missing")

AudioSource = str | os.PathLike | bytes
"""A recording as a file (:func:`load_audio` also takes decoded samples)."""


def require_audio(source: Any) -> None:
    """Refuse a missing recording (checked before any work starts: nothing is decoded here)."""
    if source is None or (isinstance(source, str) and not source):
        raise InputError(NO_AUDIO)


def load_audio(
    source: AudioSource | Audio | tuple[int, np.ndarray],
    limits: AudioLimits = AudioLimits(),
    sample_rate: int | None = None,
) -> Audio:
    """Decode ``source`` to mono float32, resampled to ``sample_rate`` when given.

    ``source``: a file path (``str``, ``Path``, an :class:`~mmdemo.media.files.Upload` or any ``os.PathLike``),
    ``bytes``, a ``(sample_rate, array)`` tuple as ``gr.Audio(type="numpy")`` gives (int or float samples, shape
    ``(n,)`` or ``(n, channels)``), or an :class:`Audio`. Gradio's file objects are not taken: the page's gate
    unwraps them (into an ``Upload``).
    """
    rate = None if sample_rate is None else int(sample_rate)
    if isinstance(source, Audio):
        audio = source
        _check_duration(audio.duration, limits)
    elif isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], np.ndarray):
        audio = _from_array(source[0], source[1], limits, rate)
    else:
        if isinstance(source, str) and source.startswith(("http://", "https://", "data:")):
            raise InputError(Message("audio.link"))
        where = location(source, NO_AUDIO, Message("audio.unsupported", type=type(source).__name__))
        if isinstance(where, bytes):
            _check_bytes(len(where), limits)  # a path's size is checked before it is read (read_limited)
            data = where
        else:
            data = read_limited(where, limits.max_bytes, "audio")
        audio = _decode(data, limits, rate)
    if rate is not None:
        audio = audio.at_rate(rate)
    return audio


def probe_duration(source: Any) -> float | None:
    """The duration a file's header states, without decoding (None when unknown or unreadable). ``source``: a
    path (``str``, an :class:`~mmdemo.media.files.Upload`, any ``os.PathLike``); anything else is unknown."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = os.fspath(source)
    if not isinstance(path, str) or not path or not Path(path).is_file():
        return None
    try:
        import soundfile as sf

        info = sf.info(path)
        if info.samplerate > 0 and 0 < info.frames < 2**62:
            return info.frames / info.samplerate
    except Exception:
        pass
    return _container_seconds(path)


# --- getting the bytes ---------------------------------------------------------------------------


def _check_bytes(size: int, limits: AudioLimits) -> None:
    check_file_size(size, limits.max_bytes, "audio")


def duration_text(seconds: float) -> Message:
    """A length as the messages show it: "12.3 s", "2:05 min"."""
    if seconds < 60:
        return Message("media.seconds", seconds=f"{seconds:.3g}")
    minutes, secs = divmod(round(seconds), 60)
    return Message("media.minutes", clock=f"{minutes}:{secs:02d}")


def _check_duration(seconds: float, limits: AudioLimits) -> None:
    if seconds > limits.max_seconds:
        raise InputError(
            Message("audio.too_long", length=duration_text(seconds), limit=duration_text(limits.max_seconds))
        )
    if seconds < limits.min_seconds:
        if seconds <= 0:
            raise InputError(Message("audio.zero_length"))
        raise InputError(
            Message("audio.too_short", length=f"{seconds * 1000:.0f}", limit=f"{limits.min_seconds * 1000:.0f}")
        )


def check_format(rate: int, channels: int, limits: AudioLimits) -> None:
    """Sample rate and channels, as the header states them (before anything is decoded); a video's sound track
    is checked by it too."""
    if not limits.min_sample_rate <= rate <= limits.max_sample_rate:
        raise InputError(
            Message("audio.rate_range", rate=rate, low=limits.min_sample_rate, high=limits.max_sample_rate)
        )
    if channels > limits.max_channels:
        raise InputError(Message("audio.too_many_channels", channels=channels, limit=limits.max_channels))


def _check_decoded(frames: int, rate: int, channels: int, limits: AudioLimits) -> None:
    """``frames`` of ``channels`` float32 samples within :attr:`AudioLimits.max_decoded_bytes`."""
    size = frames * max(channels, 1) * 4
    if size > limits.max_decoded_bytes:
        raise InputError(
            Message(
                "audio.decode_budget",
                channels=channels,
                rate=rate,
                length=duration_text(frames / rate),
                size=f"{size / 1e6:.0f}",
                limit=f"{limits.max_decoded_bytes / 1e6:.0f}",
            )
        )


class _MonoSink:
    """Decoded blocks (channels × frames, float32) → mono at ``out_rate``, block by block: only one block of the
    source and the mono result are ever held. Counts frames against the duration and decoding limits."""

    def __init__(self, rate: int, channels: int, out_rate: int | None, limits: AudioLimits) -> None:
        self.rate, self.channels, self.limits = rate, channels, limits
        self.out_rate = out_rate or min(rate, KEEP_RATE)
        self.frames = 0
        self.max_frames = int(limits.max_seconds * rate) + 1
        self.parts: list[np.ndarray] = []
        self.stream: Any = None
        if self.out_rate != rate:
            import soxr

            self.stream = soxr.ResampleStream(rate, self.out_rate, 1, dtype="float32", quality="HQ")

    def add(self, block: np.ndarray) -> None:
        """One block, channels first (float samples; any channel count up to the checked one)."""
        self.frames += block.shape[1]
        if self.frames > self.max_frames:
            _check_duration(self.frames / self.rate, self.limits)
        _check_decoded(self.frames, self.rate, max(self.channels, block.shape[0]), self.limits)
        mono = _to_mono(block)
        if self.stream is not None:
            mono = self.stream.resample_chunk(mono)
        if mono.size:
            self.parts.append(mono)

    def finish(self) -> np.ndarray:
        if self.stream is not None:
            self.parts.append(self.stream.resample_chunk(np.zeros(0, np.float32), last=True))
            self.stream = None
        samples = np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)
        self.parts = []
        return np.ascontiguousarray(samples, dtype=np.float32)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


# --- decoding ------------------------------------------------------------------------------------


def _decode(data: bytes, limits: AudioLimits, out_rate: int | None = None) -> Audio:
    """Bytes whose size was checked (:func:`_read_path` or :func:`_check_bytes`) → :class:`Audio` (mono, at
    ``out_rate``; None: the file's rate up to :data:`KEEP_RATE`)."""
    data, header_note = _wav_true_length(data)
    try:
        audio = _decode_soundfile(data, limits, out_rate)
    except InputError:
        raise
    except Exception:  # libsndfile cannot read it (M4A, WebM, damaged …): let FFmpeg try
        audio = _decode_pyav(data, limits, out_rate)
    if header_note:
        audio = dataclasses.replace(audio, warnings=(*audio.warnings, header_note))
    return audio


def _wav_true_length(data: bytes) -> tuple[bytes, Message | None]:
    """A WAV whose header states fewer sample bytes than the file holds (a recorder that never updated its
    header, a stream written with size 0): the header corrected to what is there, and a note saying so.

    Bytes after the stated end count as audio only when they do not start another chunk (``LIST``,
    ``id3 `` …), so honest files with trailing metadata are left alone."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data, None
    pos, block_align, rate = 12, 0, 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt " and size >= 16:
            rate = struct.unpack("<I", data[pos + 12 : pos + 16])[0]
            block_align = struct.unpack("<H", data[pos + 20 : pos + 22])[0]
        if chunk_id == b"data":
            available = len(data) - (pos + 8)
            end = pos + 8 + size + (size & 1)
            follows_chunk = end + 8 <= len(data) and all(32 <= b < 127 for b in data[end : end + 4])
            if available <= size or follows_chunk or not block_align or not rate:
                return data, None
            true_size = available - available % block_align
            if true_size <= size + block_align:
                return data, None
            fixed = bytearray(data[: pos + 8 + true_size])
            fixed[pos + 4 : pos + 8] = struct.pack("<I", min(true_size, 2**32 - 1))
            fixed[4:8] = struct.pack("<I", min(len(fixed) - 8, 2**32 - 1))
            stated, held = size / block_align / rate, true_size / block_align / rate
            return bytes(fixed), Message("audio.header_short", stated=duration_text(stated), held=duration_text(held))
        pos += 8 + size + (size & 1)
    return data, None


def _decode_soundfile(data: bytes, limits: AudioLimits, out_rate: int | None = None) -> Audio:
    import soundfile as sf

    with sf.SoundFile(io.BytesIO(data)) as f:
        rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
        if rate <= 0 or channels <= 0:
            raise ValueError("no audio")
        check_format(rate, channels, limits)
        if not 0 < frames < 2**62:  # libsndfile reports a huge count when it does not know
            expected = None
        elif f.format == "MP3":  # libsndfile's MP3 count overstates real files by ~0.5 s; FFmpeg's is exact
            expected = _container_seconds(data)
        else:
            expected = frames / rate
        if expected is not None:
            _check_duration(expected, limits)
            _check_decoded(round(expected * rate), rate, channels, limits)
        sink = _MonoSink(rate, channels, out_rate, limits)
        while True:
            block = f.read(frames=BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                break
            sink.add(block.T)
    seconds = sink.seconds
    _check_duration(seconds, limits)
    note: tuple[Message, ...] = ()
    if expected is not None and seconds < 0.98 * expected - 0.05:  # the header promised more than the file holds
        note = (_ended_early(seconds),)
    return Audio(sink.finish(), sink.out_rate, rate, channels, "soundfile", note)


def _container_seconds(data: bytes | str) -> float | None:
    """The duration FFmpeg reads from a file's headers (file bytes or a path; no decoding), or None."""
    try:
        import av

        with av.open(io.BytesIO(data) if isinstance(data, bytes) else data, metadata_errors="ignore") as container:
            if container.streams.audio and container.duration:
                return container.duration / 1e6
    except Exception:
        pass
    return None


def _ended_early(seconds: float) -> Message:
    return Message("audio.ended_early", length=duration_text(seconds))


def _decode_pyav(data: bytes, limits: AudioLimits, out_rate: int | None = None) -> Audio:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except Exception as exc:
        raise _not_audio(data) from exc
    with container:
        streams = container.streams.audio
        if not streams:
            if sniff(data, NOT_MEDIA):  # FFmpeg opens images too (as one-frame videos)
                raise _not_audio(data)
            no_sound = "audio.video_without_sound" if container.streams.video else "audio.no_sound_track"
            raise InputError(Message(no_sound, formats=FORMATS_HINT))
        stream = streams[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        channels = int(stream.codec_context.channels or 0)
        if rate <= 0:
            raise InputError(_DAMAGED)
        check_format(rate, channels, limits)
        expected = None
        if stream.duration is not None and stream.time_base is not None:
            expected = float(stream.duration * stream.time_base)
        elif container.duration is not None:  # microseconds; WebM from a browser's recorder has none
            expected = container.duration / 1e6
        if expected is not None:
            _check_duration(expected, limits)
            _check_decoded(round(expected * rate), rate, channels, limits)
        sink = _MonoSink(rate, channels, out_rate, limits)
        note: tuple[Message, ...] = ()
        layout = (stream.codec_context.layout if channels else None) or "mono"
        # Interleaved samples: PyAV's planar arrays of 8 channels and more crash (``to_ndarray``).
        resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        width = av.AudioLayout(layout).nb_channels if isinstance(layout, str) else layout.nb_channels
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    sink.add(out.to_ndarray().reshape(-1, width).T)
            for out in resampler.resample(None):
                sink.add(out.to_ndarray().reshape(-1, width).T)
        except InputError:
            raise
        except Exception as exc:  # a damaged or truncated stream: keep what decoded, if anything
            if sink.frames == 0:
                raise InputError(_DAMAGED) from exc
            note = (_ended_early(sink.seconds),)
    _check_duration(sink.seconds, limits)
    return Audio(sink.finish(), sink.out_rate, rate, channels or 1, "pyav", note)


def _not_audio(data: bytes) -> InputError:
    kind = sniff(data, NOT_MEDIA)
    if kind:
        return InputError(Message("audio.is_other", kind=what_it_is(kind), formats=FORMATS_HINT))
    if looks_like(data, "audio", "video"):
        return InputError(_DAMAGED)
    return InputError(Message("audio.not_audio", formats=FORMATS_HINT))


def _from_array(rate: Any, array: np.ndarray, limits: AudioLimits, out_rate: int | None = None) -> Audio:
    try:
        rate = int(rate)
    except (TypeError, ValueError):
        raise InputError(Message("audio.rate_not_number", rate=repr(rate))) from None
    if array.ndim == 1:
        channels_first = array[np.newaxis, :]
    elif array.ndim == 2:
        # gr.Audio's convention is (samples, channels); accept (channels, samples) when obvious.
        channels_first = array if array.shape[0] <= 8 < array.shape[1] else array.T
    else:
        raise InputError(Message("audio.array_shape", shape=array.shape))
    if array.dtype.kind not in "iuf":
        raise InputError(Message("audio.array_type", dtype=array.dtype))
    channels, frames = channels_first.shape
    check_format(rate, channels, limits)
    _check_duration(frames / rate, limits)
    _check_decoded(frames, rate, channels, limits)
    sink = _MonoSink(rate, channels, out_rate, limits)
    for start in range(0, frames, BLOCK_FRAMES):  # never a float copy of the whole array
        sink.add(_to_float(channels_first[:, start : start + BLOCK_FRAMES]))
    return Audio(sink.finish(), sink.out_rate, rate, channels, "array")


def _to_float(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "f":
        return array.astype(np.float32, copy=False)
    info = np.iinfo(array.dtype)
    if array.dtype.kind == "u":  # unsigned PCM is centred on the middle of its range
        middle = (int(info.max) + 1) / 2
        return ((array.astype(np.float64) - middle) / middle).astype(np.float32)
    return (array.astype(np.float64) / (int(info.max) + 1)).astype(np.float32)


def _to_mono(channels_first: np.ndarray) -> np.ndarray:
    """Average the channels; NaN/inf samples (broken float files) become silence."""
    mono = channels_first.mean(axis=0, dtype=np.float32) if channels_first.shape[0] > 1 else channels_first[0]
    return np.ascontiguousarray(np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """High-quality resampling (soxr ``HQ``) of mono float32 samples."""
    if from_rate == to_rate or len(samples) == 0:
        return samples
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


# --- loudness and sound --------------------------------------------------------------------------


def frame_levels_db(samples: np.ndarray, sample_rate: int, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
    """RMS level of each ``frame_seconds`` frame in dB below full scale (the last partial frame included)."""
    size = max(1, round(frame_seconds * sample_rate))
    n = math.ceil(len(samples) / size)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(n * size, dtype=np.float64)
    padded[: len(samples)] = samples
    power = np.square(padded).reshape(n, size).sum(axis=1)
    counts = np.full(n, size, dtype=np.float64)
    counts[-1] = len(samples) - (n - 1) * size
    return (10 * np.log10(power / counts + 1e-12)).astype(np.float32)


def voiced_frames(levels_db: np.ndarray) -> np.ndarray:
    """Frames that carry sound: above :data:`SILENCE_DB` and within :data:`DYNAMIC_RANGE_DB` of the loudest."""
    if levels_db.size == 0:
        return np.zeros(0, dtype=bool)
    threshold = max(SILENCE_DB, float(levels_db.max()) - DYNAMIC_RANGE_DB)
    return levels_db >= threshold


@dataclass(frozen=True)
class Loudness:
    """One clip's loudness, measured once: the level of every frame and which frames carry sound
    (:func:`voiced_frames`). Whatever needs either reads this one measurement instead of measuring again."""

    levels_db: np.ndarray = field(repr=False)
    """RMS level of each frame in dB below full scale (:func:`frame_levels_db`)."""
    sound: np.ndarray = field(repr=False)
    """Which frames carry sound (bool per frame)."""
    frame: int
    """Samples per frame at ``sample_rate``."""
    sample_rate: int

    @classmethod
    def measure(cls, samples: np.ndarray, sample_rate: int, frame_seconds: float = FRAME_SECONDS) -> Loudness:
        """Levels of ``frame_seconds`` frames of mono ``samples`` and the frames with sound."""
        levels = frame_levels_db(samples, sample_rate, frame_seconds)
        return cls(levels, voiced_frames(levels), max(1, round(frame_seconds * sample_rate)), sample_rate)

    @property
    def frame_seconds(self) -> float:
        return self.frame / self.sample_rate

    def sound_seconds(self, bounds: list[tuple[int, int]], rate: int) -> np.ndarray:
        """Seconds of sound in each window ``(start, end)`` (samples at ``rate``): the frames with sound that
        overlap it, times the frame length."""
        if not bounds:
            return np.zeros(0)
        edges = np.asarray(bounds, dtype=np.int64) * self.sample_rate  # in samples at ``sample_rate`` × ``rate``
        first = edges[:, 0] // (rate * self.frame)
        last = -(-edges[:, 1] // (rate * self.frame))
        counts = np.concatenate([[0], np.cumsum(self.sound, dtype=np.int64)])
        n = len(self.sound)
        return (counts[np.clip(last, 0, n)] - counts[np.clip(first, 0, n)]) * self.frame_seconds
