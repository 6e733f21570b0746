"""Awkward audio files for tests: every container/codec a browser may send, odd rates and lengths,
and files that must be refused.

``make_odd_audio(directory)`` writes them (soundfile and PyAV only, from Gradio's bundled speech) and
returns ``{name: path}``; files already there are reused. :data:`GOOD_AUDIO` must be analysed,
:data:`BAD_AUDIO` must be refused with an ``InputError`` (the expected words are in :data:`BAD_AUDIO_WORDS`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

SPEECH = "cate_blanch.mp3"
"""Gradio's bundled speech clip (8.4 s, 32 kHz mono MP3) that the generated files are cut from."""
RATE = 16_000
GAP_SECONDS = (3.0, 7.0)
"""speech_gap.wav: speech, then digital silence from 3 s to 7 s, then speech again (10 s in all)."""


def speech(rate: int = RATE, seconds: float | None = None) -> np.ndarray:
    """Gradio's real speech clip as mono float32 at ``rate`` (the first ``seconds`` of it)."""
    import soundfile as sf
    import soxr
    from gradio.media import get_audio

    data, source_rate = sf.read(get_audio(SPEECH), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    out = soxr.resample(mono, source_rate, rate).astype(np.float32)
    return out if seconds is None else out[: int(seconds * rate)]


def _loudest(seconds: float, rate: int = RATE) -> np.ndarray:
    """The loudest ``seconds`` of the speech (so a very short cut still holds speech)."""
    x = speech(rate)
    n = int(seconds * rate)
    energy = np.convolve(np.square(x), np.ones(n), mode="valid")
    start = int(np.argmax(energy))
    return x[start : start + n]


def _write(fmt: str, subtype: str | None = None, rate: int = RATE, data: Callable[[], np.ndarray] | None = None):
    def write(path: Path) -> None:
        import soundfile as sf

        samples = data() if data else speech(rate)
        sf.write(path, samples, rate, format=fmt, subtype=subtype)

    return write


def _stereo_48k() -> np.ndarray:
    x = speech(48_000)
    return np.stack([x * 0.9, np.roll(x, 240) * 0.5], axis=1)  # different gain and a 5 ms delay per channel


def _speech_gap() -> np.ndarray:
    x = speech(RATE, 6.0)
    start, end = GAP_SECONDS
    return np.concatenate(
        [x[: int(start * RATE)], np.zeros(int((end - start) * RATE), np.float32), x[int(start * RATE) :]]
    )


def _pyav(container: str, codec: str, rate: int) -> Callable[[Path], None]:
    """Encode the speech with FFmpeg (PyAV): AAC in M4A, Opus in WebM (as browsers' MediaRecorder does)."""

    def write(path: Path) -> None:
        import av

        samples = speech(rate)
        buf = io.BytesIO()
        with av.open(buf, mode="w", format=container) as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            frame_size = 960 if codec == "libopus" else 1024
            pts = 0
            for start in range(0, len(samples), frame_size):
                chunk = samples[start : start + frame_size]
                if len(chunk) < frame_size:
                    chunk = np.pad(chunk, (0, frame_size - len(chunk)))
                frame = av.AudioFrame.from_ndarray(chunk[np.newaxis, :], format="flt", layout="mono")
                frame.sample_rate = rate
                frame.pts = pts
                pts += frame_size
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        path.write_bytes(buf.getvalue())

    return write


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _truncated_mp3() -> bytes:
    buf = io.BytesIO()
    import soundfile as sf

    sf.write(buf, speech(RATE), RATE, format="MP3")
    data = buf.getvalue()
    return data[: len(data) // 2]


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


_GOOD: dict[str, Callable[[Path], None]] = {
    "speech.wav": _write("WAV", "PCM_16"),
    "speech_float.wav": _write("WAV", "FLOAT"),
    "speech_24bit.wav": _write("WAV", "PCM_24"),
    "speech.flac": _write("FLAC"),
    "speech.ogg": _write("OGG", "VORBIS"),
    "speech_opus.ogg": _write("OGG", "OPUS", rate=48_000),
    "speech.mp3": _write("MP3"),
    "speech.m4a": _pyav("mp4", "aac", 44_100),
    "speech.webm": _pyav("webm", "libopus", 48_000),
    "speech_8k.wav": _write("WAV", "PCM_16", rate=8_000),
    "stereo_48k.wav": _write("WAV", "PCM_16", rate=48_000, data=_stereo_48k),
    "short_0.1s.wav": _write("WAV", "PCM_16", data=lambda: _loudest(0.1)),
    "speech_gap.wav": _write("WAV", "PCM_16", data=_speech_gap),
    "truncated.mp3": _bytes(_truncated_mp3),  # a cut-off upload: the part that is there is analysed
}

_BAD: dict[str, Callable[[Path], None]] = {
    "empty.wav": _bytes(b""),
    "zero_length.wav": _write("WAV", "PCM_16", data=lambda: np.zeros(0, np.float32)),
    "too_short.wav": _write("WAV", "PCM_16", data=lambda: _loudest(0.01)),
    "silence.wav": _write("WAV", "PCM_16", data=lambda: np.zeros(3 * RATE, np.float32)),
    "near_silent.wav": _write(
        "WAV", "FLOAT", data=lambda: (np.random.default_rng(0).standard_normal(3 * RATE) * 1e-4).astype(np.float32)
    ),
    "corrupt.wav": _bytes(b"RIFF\x24\x80\x00\x00WAVEfmt " + bytes(range(256)) * 8),
    "random_bytes.mp3": _bytes(lambda: b"\x13" + np.random.default_rng(0).bytes(4095)),
    "not_audio.txt": _bytes(b"Hello! This is a plain text file, not a recording.\n" * 20),
    "picture.png": _bytes(_png),
}

GOOD_AUDIO: tuple[str, ...] = tuple(_GOOD)
BAD_AUDIO: tuple[str, ...] = tuple(_BAD)
BAD_AUDIO_WORDS: dict[str, str] = {
    "empty.wav": "empty",
    "zero_length.wav": "zero length",
    "too_short.wav": "too short",
    "silence.wav": "no speech",
    "near_silent.wav": "no speech",
    "corrupt.wav": "damaged",
    "random_bytes.mp3": "not an audio",
    "not_audio.txt": "text file",
    "picture.png": "image",
}
"""Words the error message for each bad file must contain (case-insensitive)."""


def make_odd_audio(directory: str | Path) -> dict[str, Path]:
    """Write every GOOD_AUDIO and BAD_AUDIO file into ``directory`` (existing files are kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, write in {**_GOOD, **_BAD}.items():
        path = directory / name
        if not path.exists():
            tmp = directory / f".tmp-{os.getpid()}-{name}"
            write(tmp)
            os.replace(tmp, path)  # atomic: an interrupted run never leaves a half-written file
        paths[name] = path
    return paths


def lying_wav(path: Path, seconds: float = 4.0, stated_seconds: float = 1.0, rate: int = 16_000) -> Path:
    """Speech-like tones in a WAV whose header states only ``stated_seconds`` (a recorder that never
    updated its header): decoders that trust the header read a quarter of it."""
    import struct

    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    sf.write(path, samples, rate, format="WAV", subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", int(stated_seconds * rate) * 2)
    path.write_bytes(bytes(data))
    return path
