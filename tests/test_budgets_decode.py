"""Decoding budgets (issue 26): small files that are large or slow to decode — a wide, fast FLAC, a video with
one keyframe, a JPEG 2000 that holds the GIL, a video of huge frames — are bounded before or while decoding,
with a message that names the limit. Payloads come from :mod:`mmdemo.testing.hostile`, scaled down, with the
limits lowered to match."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media.audio import AudioLimits, load_audio
from mmdemo.testing.hostile import wide_flac


def _refusal(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    return str(info.value)


def _peak_bytes(call) -> int:
    """Most bytes Python and numpy held at once during ``call`` (numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- audio ---------------------------------------------------------------------------------------------------


def test_a_fast_wide_flac_is_refused_by_its_header(tmp_path: Path) -> None:
    path = wide_flac(tmp_path / "wide.flac", 1.0)  # the file, 1 s of it: 8 channels at 655,350 Hz
    assert path.stat().st_size < 20_000
    assert _refusal(lambda: load_audio(path)) == (
        "The recording's sample rate (655350 Hz) is outside 1000–192000 Hz: convert it (for example to 48,000 Hz) "
        "and upload it again."
    )


def test_too_many_channels_are_refused_before_decoding(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "nine.wav"  # FLAC stops at 8 channels
    sf.write(path, np.zeros((24_000, 9), np.int16), 48_000, subtype="PCM_16")
    assert _refusal(lambda: load_audio(path)) == (
        "The recording has 9 channels; the limit is 8: mix it down to stereo or mono and upload it again."
    )
    assert load_audio(path, AudioLimits(max_channels=9)).source_channels == 9


def test_decoded_samples_are_budgeted(tmp_path: Path) -> None:
    path = wide_flac(tmp_path / "wide.flac", 2.0, channels=8, rate=48_000)  # 3.07 MB of float32 samples
    small = AudioLimits(max_decoded_bytes=2_000_000)
    assert _refusal(lambda: load_audio(path, small)) == (
        "The recording is too large to decode (8 channels at 48000 Hz for 2 s: 3 MB of samples; the limit is 2 MB): "
        "upload it in mono, at a lower sample rate or shorter."
    )
    assert load_audio(path, AudioLimits(max_decoded_bytes=4_000_000)).duration == pytest.approx(2.0)


def test_the_array_input_has_the_same_limits() -> None:
    nine = np.zeros((1000, 9), np.int16)
    assert "has 9 channels; the limit is 8" in _refusal(lambda: load_audio((16_000, nine)))
    assert "(400000 Hz) is outside 1000–192000 Hz" in _refusal(lambda: load_audio((400_000, np.zeros(4000))))
    assert "the limit is 1 MB" in _refusal(
        lambda: load_audio((48_000, np.zeros((48_000, 8), np.int16)), AudioLimits(max_decoded_bytes=1_000_000))
    )


def _mkv_pcm(path: Path, seconds: float, channels: int, rate: int) -> Path:
    """Float PCM in Matroska: libsndfile cannot read it, so FFmpeg (PyAV) decodes it."""
    import av

    layout = {2: "stereo", 6: "5.1", 8: "7.1"}[channels]
    with av.open(str(path), mode="w", format="matroska") as out:
        stream = out.add_stream("pcm_f32le", rate=rate, layout=layout)
        block = np.full((1, channels * 4096), 0.25, np.float32)  # interleaved
        for i in range(round(seconds * rate / 4096)):
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout=layout)
            frame.sample_rate, frame.pts = rate, i * 4096
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize("decoder", ["soundfile", "pyav"])
def test_decoding_streams_to_mono_without_holding_every_channel(tmp_path: Path, decoder: str) -> None:
    """8 channels at 192 kHz for 5 s are 30.7 MB as float32; decoded block by block to mono at 48 kHz (0.96 MB),
    never more than a few MB are held."""
    if decoder == "soundfile":
        path = wide_flac(tmp_path / "wide.flac", 5.0, channels=8, rate=192_000)
    else:
        path = _mkv_pcm(tmp_path / "wide.mkv", 5.0, channels=8, rate=192_000)
    data = path.read_bytes()
    audio = load_audio(data)
    assert (audio.decoder, audio.source_channels, audio.source_rate, audio.sample_rate) == (
        decoder,
        8,
        192_000,
        48_000,
    )
    assert audio.duration == pytest.approx(5.0, abs=0.03)
    peak = _peak_bytes(lambda: load_audio(data))
    assert peak < 8_000_000, peak
    at16 = load_audio(data, sample_rate=16_000)  # straight to the model's rate, resampled while decoding
    assert at16.sample_rate == 16_000 and len(at16.samples) == pytest.approx(80_000, abs=500)
    if decoder == "pyav":  # every channel holds 0.25: the mono mix does too
        assert np.abs(at16.samples[1000:-1000] - 0.25).max() < 1e-3


def test_resampling_while_decoding_matches_resampling_after(tmp_path: Path) -> None:
    """The streamed resampler gives the samples the one-shot one gives (same soxr filter)."""
    import soundfile as sf

    from mmdemo.media.audio import resample

    rng = np.random.default_rng(0)
    stereo = (rng.standard_normal((150_001, 2)) * 0.1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 96_000, format="WAV", subtype="FLOAT")
    decoded = load_audio(buffer.getvalue(), sample_rate=16_000).samples
    expected = resample(stereo.mean(axis=1, dtype=np.float32), 96_000, 16_000)
    assert len(decoded) == len(expected) and np.abs(decoded - expected).max() < 1e-6


# --- images --------------------------------------------------------------------------------------------------


def test_image_decoding_takes_no_process_wide_lock() -> None:
    """One decode that does not finish (a picture whose ``load`` waits) must not hold up another visitor's."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from mmdemo.media.image import load_image

    started, release = threading.Event(), threading.Event()
    stuck = Image.new("RGB", (64, 64), "red")
    stuck.load = lambda: (started.set(), release.wait(30))[0]  # type: ignore[method-assign]
    other = io.BytesIO()
    Image.new("RGB", (32, 16), "blue").save(other, "PNG")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(load_image, stuck)
        assert started.wait(10)
        try:
            assert pool.submit(load_image, other.getvalue()).result(timeout=10).size == (32, 16)
        finally:
            release.set()
        assert first.result(timeout=10).size == (64, 64)


def test_a_large_jpeg2000_is_decoded_at_a_reduced_resolution(tmp_path: Path) -> None:
    """Pillow's JPEG 2000 decoder holds the GIL (the issue's 1.5 KB file: 4.3 s): above the slow-decoder budget it
    decodes the largest reduced level that fits (1000² → 250², as 500² is over 0.1 MP)."""
    from mmdemo.media.image import ImageLimits, load_image
    from mmdemo.testing.hostile import slow_jpeg2000

    path = slow_jpeg2000(tmp_path / "slow.jp2", side=1000)
    assert load_image(path, ImageLimits(max_slow_pixels=100_000)).size == (250, 250)
    assert load_image(path, ImageLimits(max_slow_pixels=250_000)).size == (500, 500)
    assert load_image(path, ImageLimits(max_slow_pixels=1_000_000)).size == (1000, 1000)
    assert "the limit is 0.2 megapixels" in _refusal(lambda: load_image(path, ImageLimits(max_pixels=200_000)))


def test_images_decoded_in_python_are_refused_above_the_slow_budget(tmp_path: Path) -> None:
    from PIL import Image

    from mmdemo.media.image import ImageLimits, load_image

    qoi = io.BytesIO()
    Image.new("RGB", (400, 300), "green").save(qoi, "QOI")
    small = ImageLimits(max_slow_pixels=100_000)
    assert _refusal(lambda: load_image(qoi.getvalue(), small)) == (
        "This QOI image is too large to decode here (400 × 300 pixels, 0.12 megapixels; the limit for QOI images is "
        "0.1 megapixels): save it as PNG or JPEG and upload it again."
    )
    plain_ppm = b"P3\n400 300\n255\n" + b"1 2 3\n" * 120_000  # a text PPM: decoded by Python code, pixel by pixel
    assert "This PPM image is too large to decode here" in _refusal(lambda: load_image(plain_ppm, small))
    png = io.BytesIO()
    Image.new("RGB", (400, 300), "green").save(png, "PNG")  # a fast decoder: only the general limit applies
    assert load_image(png.getvalue(), small).size == (400, 300)
    assert load_image(qoi.getvalue()).size == (400, 300)


# --- video ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_keyframe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes, 5 fps (600 frames), one keyframe: the 48 candidate times are 2.5 s apart, so each was sought,
    and every seek landed on the first frame (48 × 300 frames decoded on average)."""
    from mmdemo.testing.hostile import single_keyframe_video

    return single_keyframe_video(tmp_path_factory.mktemp("video") / "one.mp4", 120, width=64, height=48, fps=5)


def _sample(path: Path, limits) -> tuple[list, tuple]:
    from mmdemo.media.video import candidate_times, open_video

    clip = open_video(path, limits)
    return clip.sample(candidate_times(clip.info.duration, 12, clip.info.frame_count))


def test_a_video_with_one_keyframe_is_decoded_once_not_once_per_target(one_keyframe: Path) -> None:
    from mmdemo.media.video import VideoLimits

    frames, notes = _sample(one_keyframe, VideoLimits(max_decoded_frames=620))  # the video's 600 and a few
    assert len(frames) == 48 and notes == ()
    assert frames[-1].time == pytest.approx(118.8, abs=0.3)


def test_the_frame_budget_keeps_the_frames_found_and_says_how_far_it_read(one_keyframe: Path) -> None:
    from mmdemo.media.video import VideoLimits

    frames, notes = _sample(one_keyframe, VideoLimits(max_decoded_frames=200))  # 40 s of 120
    assert [str(n) for n in notes] == [
        "The video is slow to decode (few keyframes): frames were read up to 0:39 of 2:00, the limit being 200 "
        "decoded frames at 64 × 48; the rest of the video was not looked at."
    ]
    assert len(frames) == 17 and frames[-1].time == pytest.approx(39.8, abs=0.01)  # 16 targets before 40 s + the last
    assert VideoLimits(max_decoded_frames=100).frame_budget(3840, 2160) == 25  # 4K frames count 4 times


def test_the_video_summary_reports_the_budget_and_summarises_what_was_read(
    one_keyframe: Path, shared_manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmdemo.tasks import video_summary

    monkeypatch.setattr(
        video_summary.VideoLimits, "from_settings", classmethod(lambda cls, s: cls(max_decoded_frames=200))
    )
    result = video_summary.summarize_video(
        one_keyframe, describe=False, read_text=False, transcribe=False, manager=shared_manager
    )
    assert any("the rest of the video was not looked at" in str(n) for n in result.notes)
    assert result.keyframes and all(k.time < 40 for k in result.keyframes)


def test_video_frames_have_the_image_pixel_limit(tmp_path: Path) -> None:
    from mmdemo.media.video import VideoLimits, open_video
    from mmdemo.settings import Settings
    from mmdemo.testing.hostile import huge_frame_video

    path = huge_frame_video(tmp_path / "big.mkv", 400, 300)  # the were 16,000 × 16,000
    assert _refusal(lambda: open_video(path, VideoLimits(max_frame_pixels=100_000))) == (
        "The video's frames are too large (400 × 300 pixels = 0.12 megapixels; the limit is 0.1 megapixels): scale "
        "it down and upload it again."
    )
    assert open_video(path, VideoLimits(max_frame_pixels=120_000)).info.width == 400
    assert VideoLimits.from_settings(Settings(max_image_pixels=123_456)).max_frame_pixels == 123_456


def test_a_video_sound_track_has_the_audio_rate_and_channel_limits(tmp_path: Path) -> None:
    import av

    from mmdemo.media.video import open_video

    path = tmp_path / "fast_sound.mkv"
    with av.open(str(path), mode="w", format="matroska") as out:
        video = out.add_stream("ffv1", rate=1)
        video.width, video.height, video.pix_fmt = 64, 48, "gray"
        sound = out.add_stream("pcm_s16le", rate=400_000, layout="mono")
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64), np.uint8), format="gray")
        frame.pts = 0
        for packet in [*video.encode(frame), *video.encode(None)]:
            out.mux(packet)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 40_000), np.int16), format="s16", layout="mono")
        samples.sample_rate, samples.pts = 400_000, 0
        for packet in [*sound.encode(samples), *sound.encode(None)]:
            out.mux(packet)
    clip = open_video(path)
    assert "(400000 Hz) is outside 1000–192000 Hz" in _refusal(clip.audio)
