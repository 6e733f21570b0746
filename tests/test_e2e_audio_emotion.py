"""End to end: the audio emotion tab of the real app on tiny models, called over HTTP with gradio_client."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from mmdemo.media.audio import load_audio
from mmdemo.tasks.audio_emotion import window_bounds
from mmdemo.testing.odd_audio import BAD_AUDIO_WORDS

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "audio"
VOICE_LABELS = {"neutral", "happy", "angry", "sad"}


def _confidences(label: dict) -> dict[str, float]:
    return {c["label"]: c["confidence"] for c in label["confidences"]}


def _analyse(client, path: Path | str, *args):
    return client.predict(handle_file(str(path)), *args, api_name="/emotion")


def test_endpoint_is_listed_with_its_parameters(client) -> None:
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/emotion"]
    params = [p["parameter_name"] for p in endpoint["parameters"]]
    assert params == ["audio", "window_seconds", "hop_seconds", "use_transcript", "text_weight"]
    assert len(endpoint["returns"]) == 9


@pytest.mark.parametrize("name", ["cate_blanch.mp3", "heath_ledger.mp3", "recording1.wav"])
def test_examples_return_every_output(client, name: str) -> None:
    path = ASSETS / name
    fused, timeline, transcript, text, voice, spectrogram, pitch, loudness, summary = _analyse(client, path)

    probabilities = _confidences(fused)
    assert set(probabilities) == VOICE_LABELS and fused["label"] in VOICE_LABELS
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-4)
    words = name != "recording1.wav"  # a cheer, not speech: the voice has an emotion, there are no words
    for part, labels in ((voice, VOICE_LABELS), (text, None))[: 2 if words else 1]:
        values = _confidences(part)
        assert math.isclose(sum(values.values()), 1.0, abs_tol=1e-4)
        assert labels is None or set(values) == labels

    # the timeline: one point per window and label (real speech: every window has speech)
    samples = load_audio(path, sample_rate=16_000).samples
    windows = window_bounds(len(samples), 16_000, 3.0, 1.5)
    assert timeline["columns"] == ["time", "emotion", "probability"]
    times = sorted({row[0] for row in timeline["data"]})
    assert len(times) == len(windows) and len(timeline["data"]) == len(windows) * len(VOICE_LABELS)
    assert times == [round((a + b) / 2 / 16_000, 3) for a, b in windows]
    for time in times:
        total = sum(row[2] for row in timeline["data"] if row[0] == time)
        assert math.isclose(total, 1.0, abs_tol=1e-3)

    assert Path(spectrogram).is_file() and Path(spectrogram).stat().st_size > 1000
    if words:
        assert isinstance(transcript, str) and transcript.startswith("[0:")
        assert "from the voice and the words" in summary
    else:
        assert transcript == "" and not text and "from the voice" in summary and "No words" in summary

    # prosody: a pitch contour in the range of human voices, loudness for every 20 ms frame
    assert pitch["columns"] == ["time", "pitch"] and loudness["columns"] == ["time", "loudness"]
    pitches = [row[1] for row in pitch["data"]]
    assert pitches and all(65 <= p <= 400 for p in pitches)
    assert abs(len(loudness["data"]) - len(samples) / 320) <= 60  # one row per frame (64 ms frame edge)
    assert "median pitch" in summary and ("words a minute" in summary) == words


def test_options_change_the_windows(client) -> None:
    path = ASSETS / "cate_blanch.mp3"
    fused, timeline, transcript, text, voice, _, _, _, summary = _analyse(client, path, 1.0, 1.0, False, 0.5)
    samples = load_audio(path, sample_rate=16_000).samples
    assert len({row[0] for row in timeline["data"]}) == len(window_bounds(len(samples), 16_000, 1.0, 1.0))
    headline = summary.split("\n\n")[0]  # an empty Label arrives as {}
    assert transcript == "" and not text and headline.endswith(") from the voice"), headline
    assert _confidences(fused) == pytest.approx({k: v for k, v in _confidences(voice).items()}, abs=1e-4)


@pytest.mark.parametrize("name", ["empty.wav", "silence.wav", "corrupt.wav", "not_audio.txt", "too_short.wav"])
def test_bad_audio_gets_a_clear_error_and_the_server_keeps_serving(
    client, odd_audio: dict[str, Path], name: str
) -> None:
    with pytest.raises(AppError) as info:
        _analyse(client, odd_audio[name])
    message = str(info.value)
    assert BAD_AUDIO_WORDS[name].lower() in message.lower(), message
    assert "Traceback" not in message and "/tmp" not in message
    assert isinstance(_analyse(client, odd_audio["short_0.1s.wav"])[2], str)


def test_browser_formats(client, odd_audio: dict[str, Path]) -> None:
    for name in ("speech.webm", "speech.m4a", "speech_opus.ogg", "stereo_48k.wav", "speech_8k.wav"):
        fused = _analyse(client, odd_audio[name])[0]
        assert math.isclose(sum(_confidences(fused).values()), 1.0, abs_tol=1e-4), name


def test_bad_options(client) -> None:
    with pytest.raises(AppError, match="hop"):
        _analyse(client, ASSETS / "heath_ledger.mp3", 2.0, 3.0, True, 0.5)
    with pytest.raises(AppError, match="no recording was provided"):
        client.predict(None, api_name="/emotion")


def test_window_and_hop_limits_are_the_tasks_and_refusals_speak_the_visitors_language(client, app_url: str) -> None:
    """A 20 s window (refused by the page's old 10 s slider, taken by the CLI) is taken; the hop longer than the
    window is refused by the task, in Chinese for a Chinese browser and in English for an API client."""
    from mmdemo.testing.http import call_raw, upload

    path = ASSETS / "cate_blanch.mp3"
    timeline = _analyse(client, path, 20.0, 5.0, False, 0.5)[1]
    samples = load_audio(path, sample_rate=16_000).samples
    assert window_bounds(len(samples), 16_000, 20.0, 5.0) == [(0, len(samples))]  # one window: the whole 7.9 s
    assert sorted({row[0] for row in timeline["data"]}) == [0.0, round(len(samples) / 16_000, 3)]

    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    speech = upload(app_url, str(path))
    refused = call_raw(app_url, "emotion", [speech, 2.0, 5.0, True, 0.5], headers=chinese)
    assert refused.message == "步长（秒）（hop_seconds）不能大于窗口（秒）（window_seconds）（收到的是 5；最多 2）。"
    gate = call_raw(app_url, "emotion", [speech, 31, 1.5, True, 0.5], headers=chinese)
    assert gate.message == "窗口（秒）（window_seconds）必须是介于 0.5 和 30 之间的数字（收到的是 31）。"
    english = call_raw(app_url, "emotion", [speech, 2.0, 5.0, True, 0.5])
    assert english.message == (
        "Hop (s) (hop_seconds) must not be more than Window (s) (window_seconds) (got 5; at most 2)."
    )


def test_wav_whose_header_understates_its_length_is_analysed_whole_and_said(client, tmp_path: Path) -> None:
    from mmdemo.testing.odd_audio import lying_wav

    outputs = _analyse(client, lying_wav(tmp_path / "recorder.wav", seconds=6.0, stated_seconds=1.5))
    timeline, summary = outputs[1], outputs[-1]
    assert max(row[0] for row in timeline["data"]) > 4  # windows over all 6 s, not the 1.5 s the header states
    assert "6.0 s of audio" in summary and "header says it holds 1.5 s of audio, but it holds 6 s" in summary


def test_a_clip_as_short_as_one_window_is_drawn_over_its_length(client, tmp_path: Path) -> None:
    """One window would be a single point (a line plot draws nothing): it is a flat segment from its start
    to its end, and the plots' time axes then run from 0 to the end of the recording."""
    from types import SimpleNamespace

    import soundfile as sf
    from gradio.media import get_audio

    from mmdemo.ui.audio_emotion import time_axes

    audio = load_audio(get_audio("cate_blanch.mp3"))
    sf.write(tmp_path / "three.wav", audio.samples[: audio.sample_rate * 3], audio.sample_rate)
    outputs = _analyse(client, tmp_path / "three.wav", 3.0, 1.5, False, 0.5)
    timeline, loudness = outputs[1], outputs[7]
    assert sorted({row[0] for row in timeline["data"]}) == [0.0, 3.0]
    end = max(row[0] for row in loudness["data"])
    assert 2.9 <= end <= 3.0
    axes = time_axes(SimpleNamespace(columns=loudness["columns"], data=loudness["data"]))
    assert [a["x_lim"] for a in axes] == [[0, round(end, 2)]] * 3
    assert time_axes(None) == [{"__type__": "update"}] * 3
