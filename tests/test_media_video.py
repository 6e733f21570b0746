"""Video decoding with PyAV: header checks, frame sampling, scene-aware keyframes, sound track."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media.files import Upload
from mmdemo.media.video import (
    SampledFrame,
    VideoLimits,
    candidate_times,
    format_time,
    frame_change,
    open_video,
    select_keyframes,
)
from mmdemo.testing.odd_videos import BAD_VIDEO_WORDS, BAD_VIDEOS, GOOD_VIDEOS, WITH_SPEECH

REAL_VIDEOS = ("a.mp4", "b.mp4", "muted_b.mp4", "b.avi")


@pytest.fixture(scope="module")
def real_videos() -> dict[str, str]:
    from gradio.media import get_video

    return {name: get_video(name) for name in REAL_VIDEOS}


def _keyframes(path: str | Path, cap: int = 6):
    video = open_video(path)
    frames, notes = video.sample(candidate_times(video.info.duration, cap, video.info.frame_count))
    keyframes, _ = select_keyframes(frames, video.info.duration, cap)
    return video, frames, keyframes, notes


def _check_timeline(video, frames, keyframes) -> None:
    duration = video.info.duration
    times = [f.time for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(0 <= t <= duration + 1e-6 for t in times)
    k_times = [k.time for k in keyframes]
    assert k_times == sorted(k_times) and len(set(k_times)) == len(k_times)
    assert keyframes[0].start == 0 and keyframes[-1].end == pytest.approx(duration)
    for a, b in itertools.pairwise(keyframes):
        assert a.end == pytest.approx(b.start)  # scenes tile the video
    for k in keyframes:
        assert k.start <= k.time <= k.end + 1e-6
        assert k.image.mode == "RGB" and max(k.image.size) <= 960


@pytest.mark.parametrize("name", REAL_VIDEOS)
def test_real_videos(real_videos: dict[str, str], name: str) -> None:
    video, frames, keyframes, notes = _keyframes(real_videos[name])
    assert video.info.duration == pytest.approx(5 if "b" in name else 6.97, abs=0.1)
    assert video.info.has_audio == (name != "muted_b.mp4")
    assert notes == ()
    _check_timeline(video, frames, keyframes)
    audio = video.audio()
    if name == "muted_b.mp4":
        assert audio is None
    else:
        assert audio is not None and audio.sample_rate == 16_000 and audio.samples.dtype == np.float32
        assert audio.duration == pytest.approx(video.info.duration, abs=0.1)


def test_large_video_is_scaled_down_and_the_cut_found(real_videos: dict[str, str]) -> None:
    video, frames, keyframes, _ = _keyframes(real_videos["a.mp4"])
    assert (video.info.width, video.info.height) == (1920, 1080)
    assert frames[0].image.size == (960, 540)
    assert keyframes[-1].change > 0.5  # the cut to a dark frame at the very end


@pytest.mark.parametrize("name", GOOD_VIDEOS)
def test_odd_videos(odd_videos: dict[str, Path], name: str) -> None:
    video, frames, keyframes, notes = _keyframes(odd_videos[name])
    assert notes == ()
    _check_timeline(video, frames, keyframes)
    if name == "one_frame.mp4":
        assert len(frames) == len(keyframes) == 1 and frames[0].time == 0
    else:  # three scenes of about a second each: red, a white sign, blue stripes
        assert len(keyframes) == 3
        if name != "vfr.mkv":  # scene changes at 1 s and 2 s (VFR: its bursts shift them)
            assert [round(k.start) for k in keyframes] == [0, 1, 2]
        red, sign, blue = (np.asarray(k.image, dtype=float).mean(axis=(0, 1)) for k in keyframes)
        assert red[0] > red[2] and blue[2] > blue[0] and sign.min() > 200
    if name == "vertical.mp4":
        assert (video.info.width, video.info.height, video.info.orientation) == (180, 320, "portrait")
        assert keyframes[0].image.size == (180, 320)
    audio = video.audio()
    assert (audio is not None) == (name in WITH_SPEECH)
    if audio is not None:
        assert audio.duration == pytest.approx(3.0, abs=0.15) and np.abs(audio.samples).max() > 0.05


def test_vfr_times_come_from_the_frames(odd_videos: dict[str, Path]) -> None:
    video = open_video(odd_videos["vfr.mkv"])
    frames, _ = video.sample([0.0, 0.2, 0.5, 0.52, 1.0])
    # bursts of 5 frames at 30 fps every half second: 0.2 s falls in a pause, so the next burst (0.5) answers
    assert [round(f.time, 2) for f in frames] == [0.0, 0.5, 0.53, 1.0]


@pytest.mark.parametrize("name", BAD_VIDEOS)
def test_bad_files_are_refused_clearly(odd_videos: dict[str, Path], name: str) -> None:
    with pytest.raises(InputError) as info:
        open_video(odd_videos[name])
    assert BAD_VIDEO_WORDS[name] in str(info.value).lower()


def test_limits_and_inputs(odd_videos: dict[str, Path], tmp_path: Path) -> None:
    path = odd_videos["scenes.mp4"]
    with pytest.raises(InputError, match="too long"):
        open_video(path, VideoLimits(max_seconds=2))
    with pytest.raises(InputError, match="too large"):
        open_video(path, VideoLimits(max_bytes=100))
    with pytest.raises(InputError, match="No video"):
        open_video(None)
    with pytest.raises(InputError, match="could not be found"):
        open_video(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="Links"):
        open_video("https://example.com/v.mp4")
    # a path, an Upload (named as the visitor named it) and raw bytes all work
    for source in (str(path), Upload(path, "holiday.mp4"), path.read_bytes()):
        assert open_video(source).info.duration == pytest.approx(3.0)
    assert open_video(Upload(path, "holiday.mp4")).name == "holiday.mp4"
    # Gradio's file dict and gr.Video's {"video": …} payload are unwrapped at the page's gate, not here
    for wrapped in ({"path": str(path)}, {"video": {"path": str(path)}, "subtitles": None}):
        with pytest.raises(InputError, match="Unsupported video input"):
            open_video(wrapped)


def test_truncated_video_keeps_what_decodes(odd_videos: dict[str, Path], tmp_path: Path) -> None:
    whole = odd_videos["scenes.mkv"].read_bytes()  # Matroska: the header comes first, so a cut file opens
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole[: len(whole) // 2])
    video = open_video(cut)
    frames, notes = video.sample(candidate_times(video.info.duration, 6))
    assert frames and frames[-1].time < 2.5
    assert len(notes) == 1 and "only that part was analysed" in str(notes[0])


def test_candidate_times_spread_over_the_whole_length() -> None:
    assert candidate_times(5.0, 12) == pytest.approx([0.25 + 0.5 * i for i in range(10)])
    long = candidate_times(3600.0, 12)
    assert len(long) == 48 and long[0] < 60 and long[-1] > 3540
    assert candidate_times(0.04, 12, frame_count=1) == pytest.approx([0.02])
    assert len(candidate_times(100.0, 12, frame_count=7)) == 7


def _frame(t: float, colour: tuple[int, int, int]) -> SampledFrame:
    from PIL import Image

    thumb = np.ones((32, 32, 3), dtype=np.float32) * np.array(colour, dtype=np.float32) / 255
    return SampledFrame(t, Image.new("RGB", (8, 8), colour), thumb)


def test_scene_selection_caps_and_keeps_the_biggest_cuts() -> None:
    colours = [(0, 0, 0), (0, 0, 0), (255, 255, 255), (250, 250, 250), (128, 0, 0), (0, 0, 255), (0, 0, 250)]
    frames = [_frame(i * 1.0, c) for i, c in enumerate(colours)]
    assert frame_change(frames[0].thumb, frames[1].thumb) == 0
    assert frame_change(frames[0].thumb, frames[2].thumb) > 0.9
    all_scenes, notes = select_keyframes(frames, 7.0, 12)
    assert [round(k.start, 1) for k in all_scenes] == [0, 1.5, 3.5, 4.5] and notes == ()
    capped, notes = select_keyframes(frames, 7.0, 2)
    assert len(capped) == 2 and capped[0].start == 0 and "keyframe limit" in str(notes[0])
    assert capped[1].start == 1.5  # black → white is the biggest change
    assert capped[-1].end == 7.0


def test_format_time() -> None:
    assert [format_time(s) for s in (0, 59.9, 75.3, 3725)] == ["0:00", "0:59", "1:15", "1:02:05"]
