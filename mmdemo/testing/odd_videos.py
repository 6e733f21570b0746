"""Odd videos written with PyAV, for tests: every container the app promises, odd shapes and timings,
and files that must be refused with a clear message.

    videos = make_odd_videos(tmp_path)   # {"scenes.mp4": Path, ...}

Good videos show three scenes (red, a sign reading ``OPEN DAILY``, blue) so scene detection, captioning
and real OCR have something to find; some carry speech (Gradio's bundled recording) as sound.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIGN_TEXT = "OPEN DAILY"
SCENE_SECONDS = 1.0
GOOD_VIDEOS: tuple[str, ...] = (
    "scenes.mp4",
    "speech.mov",
    "scenes.webm",
    "scenes.mkv",
    "scenes.avi",
    "vertical.mp4",
    "one_frame.mp4",
    "vfr.mkv",
)
BAD_VIDEOS: tuple[str, ...] = (
    "empty.mp4",
    "random_bytes.mp4",
    "truncated_header.mp4",
    "text.mp4",
    "picture.mp4",
    "sound_only.m4a",
)
"""Each must give an :class:`~mmdemo.errors.InputError` (see :data:`BAD_VIDEO_WORDS`)."""
BAD_VIDEO_WORDS: dict[str, str] = {
    "empty.mp4": "empty",
    "random_bytes.mp4": "damaged",
    "truncated_header.mp4": "damaged",
    "text.mp4": "text file",
    "picture.mp4": "image",
    "sound_only.m4a": "audio",
}
"""A word the error message for each bad file must contain."""
WITH_SPEECH = ("speech.mov", "scenes.webm")


def scene_image(index: int, width: int, height: int) -> Image.Image:
    """Scene 0 red with a white disc, scene 1 a white sign reading :data:`SIGN_TEXT`, scene 2 blue stripes."""
    if index % 3 == 0:
        image = Image.new("RGB", (width, height), (200, 30, 30))
        r = min(width, height) // 4
        ImageDraw.Draw(image).ellipse((width // 2 - r, height // 2 - r, width // 2 + r, height // 2 + r), "white")
        return image
    if index % 3 == 1:
        from PIL import ImageFont

        image = Image.new("RGB", (width, height), "white")
        size = max(12, min(width // 8, height // 4))
        font = ImageFont.load_default(size=size)
        box = font.getbbox(SIGN_TEXT)
        x, y = (width - (box[2] - box[0])) // 2, (height - (box[3] - box[1])) // 2
        ImageDraw.Draw(image).text((x, y), SIGN_TEXT, fill="black", font=font)
        return image
    image = Image.new("RGB", (width, height), (20, 40, 190))
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 24):
        draw.rectangle((0, y, width, y + 8), fill=(240, 200, 40))
    return image


def speech_samples(rate: int = 16_000, seconds: float | None = None) -> np.ndarray:
    """A real voice recording (Gradio's ``cate_blanch.mp3``) as mono float32 at ``rate``."""
    from gradio.media import get_audio

    from ..media.audio import load_audio

    samples = load_audio(get_audio("cate_blanch.mp3"), sample_rate=rate).samples
    if seconds is not None:
        samples = samples[: int(seconds * rate)]
    return samples


def write_video(
    path: str | Path,
    *,
    codec: str = "mpeg4",
    size: tuple[int, int] = (320, 180),
    fps: int = 10,
    scenes: int = 3,
    scene_seconds: float = SCENE_SECONDS,
    frame_times: Sequence[float] | None = None,
    audio: np.ndarray | None = None,
    audio_codec: str = "aac",
    audio_rate: int = 16_000,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Write a video of ``scenes`` scenes (``scene_seconds`` each) at ``fps``, or frames at ``frame_times``
    (seconds; variable frame rate), optionally with mono ``audio`` at ``audio_rate``."""
    import av

    path = Path(path)
    width, height = size
    if frame_times is None:
        frame_times = [i / fps for i in range(max(1, round(scenes * scene_seconds * fps)))]
    total = max(frame_times[-1], 1e-3)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        sound = None
        if audio is not None:
            out_rate = 48_000 if audio_codec == "libopus" else audio_rate
            sound = container.add_stream(audio_codec, rate=out_rate, layout="mono")
        images = [scene_image(i, width, height) for i in range(scenes)]
        for t in frame_times:
            scene = min(int(t / total * scenes) if len(frame_times) > 1 else 0, scenes - 1)
            frame = av.VideoFrame.from_image(images[scene]).reformat(format=pix_fmt)
            frame.pts = round(t * 1000)
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None and audio is not None:
            _write_audio(container, sound, audio, audio_rate)
    return path


def _write_audio(container: object, stream: object, samples: np.ndarray, rate: int) -> None:
    import av

    resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=stream.rate)  # type: ignore[attr-defined]
    block = 1024
    pts = 0
    for start in range(0, len(samples), block):
        chunk = np.ascontiguousarray(samples[start : start + block], dtype=np.float32)[np.newaxis, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += chunk.shape[1]
        for out in resampler.resample(frame):
            for packet in stream.encode(out):  # type: ignore[attr-defined]
                container.mux(packet)  # type: ignore[attr-defined]
    for out in resampler.resample(None):
        for packet in stream.encode(out):  # type: ignore[attr-defined]
            container.mux(packet)  # type: ignore[attr-defined]
    for packet in stream.encode():  # type: ignore[attr-defined]
        container.mux(packet)  # type: ignore[attr-defined]


def make_odd_videos(folder: str | Path) -> dict[str, Path]:
    """Write every file of :data:`GOOD_VIDEOS` and :data:`BAD_VIDEOS` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    speech = speech_samples(seconds=3 * SCENE_SECONDS)
    out: dict[str, Path] = {}
    out["scenes.mp4"] = write_video(folder / "scenes.mp4", codec="libx264")
    out["speech.mov"] = write_video(folder / "speech.mov", codec="mpeg4", audio=speech)
    out["scenes.webm"] = write_video(folder / "scenes.webm", codec="libvpx", audio=speech, audio_codec="libopus")
    out["scenes.mkv"] = write_video(folder / "scenes.mkv", codec="ffv1")
    out["scenes.avi"] = write_video(folder / "scenes.avi", codec="mjpeg", pix_fmt="yuvj420p")
    out["vertical.mp4"] = write_video(folder / "vertical.mp4", codec="libx264", size=(180, 320))
    out["one_frame.mp4"] = write_video(folder / "one_frame.mp4", codec="libx264", frame_times=[0.0], scenes=1)
    # variable frame rate: bursts at 30 fps, pauses of half a second
    times = sorted({round(t, 3) for k in range(6) for t in (k * 0.5 + i / 30 for i in range(5))})
    out["vfr.mkv"] = write_video(folder / "vfr.mkv", codec="mpeg4", frame_times=times)

    (folder / "empty.mp4").write_bytes(b"")
    out["empty.mp4"] = folder / "empty.mp4"
    rng = np.random.default_rng(7)
    (folder / "random_bytes.mp4").write_bytes(rng.integers(1, 255, 20_000, dtype=np.uint8).tobytes())
    out["random_bytes.mp4"] = folder / "random_bytes.mp4"
    whole = out["scenes.mp4"].read_bytes()
    (folder / "truncated_header.mp4").write_bytes(whole[:24])  # the first box only: nothing to play
    out["truncated_header.mp4"] = folder / "truncated_header.mp4"
    (folder / "text.mp4").write_text("This is not a video, just some words.\n" * 20)
    out["text.mp4"] = folder / "text.mp4"
    scene_image(1, 64, 48).save(folder / "picture.mp4", format="PNG")
    out["picture.mp4"] = folder / "picture.mp4"
    out["sound_only.m4a"] = _write_sound_only(folder / "sound_only.m4a", speech)
    return out


def _write_sound_only(path: Path, samples: np.ndarray) -> Path:
    import av

    with av.open(str(path), mode="w", format="ipod") as container:
        stream = container.add_stream("aac", rate=16_000, layout="mono")
        _write_audio(container, stream, samples, 16_000)
    return path


def long_talk(path: str | Path, minutes: float = 5.0, fps: float = 1.0) -> Path:
    """A long video with speech all through (Gradio's recording, repeated) and a scene change every
    ``minutes * 60 / 6`` seconds: a job that keeps the video pipeline busy for a while (load tests)."""
    seconds = minutes * 60
    voice = speech_samples()
    speech = np.tile(voice, int(np.ceil(seconds * 16_000 / len(voice))))[: int(seconds * 16_000)]
    times = [i / fps for i in range(int(seconds * fps))]
    return write_video(
        path, codec="libx264", size=(160, 90), fps=max(1, round(fps)), scenes=6, frame_times=times, audio=speech
    )
