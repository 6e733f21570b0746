"""End to end: the video summary endpoint of the real app on tiny models, over HTTP with gradio_client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from mmdemo.testing.odd_videos import BAD_VIDEO_WORDS

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "videos"


def _video(path: str | Path) -> dict:
    return handle_file(str(path))  # Gradio 6's gr.Video takes a plain file


def test_summarize_endpoint_is_named(client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = [p["parameter_name"] for p in endpoints["/summarize"]["parameters"]]
    assert params == ["video", "max_keyframes", "describe", "read_text", "transcribe", "summary_method"]


def test_example_video_end_to_end(client) -> None:
    summary, chapters, gallery, transcript, files, notes = client.predict(
        _video(ASSETS / "thanks-for-watching.mp4"), 3, api_name="/summarize"
    )
    assert isinstance(summary, str) and summary.strip()
    assert "0:00–" in chapters and "THANKS FOR WATCHING" in chapters.upper()
    assert 1 <= len(gallery) <= 3 and all(Path(item["image"]).is_file() for item in gallery)
    assert all(item["caption"].startswith("0:0") for item in gallery)
    assert transcript == ""  # the sound track is silent
    names = sorted(Path(f).name for f in files)
    assert names == ["thanks-for-watching.summary.json", "thanks-for-watching.summary.md"]
    report = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert report["summary"] == summary and report["keyframes"]
    assert "keyframes" in notes and "No speech" in notes


def test_speech_video_with_options_gives_subtitles(client, odd_videos: dict[str, Path]) -> None:
    summary, _, gallery, transcript, files, notes = client.predict(
        _video(odd_videos["speech.mov"]), 2, False, False, True, "extractive", api_name="/summarize"
    )
    assert summary and transcript.startswith("[0:0") and len(gallery) == 2
    assert any(f.endswith(".srt") for f in files)
    assert all(" · " not in item["caption"] for item in gallery)  # no captions asked for: times only
    assert "picked by sentence embeddings" in notes


@pytest.mark.parametrize("name", ["random_bytes.mp4", "text.mp4", "sound_only.m4a"])
def test_bad_videos_get_clear_errors_and_server_keeps_serving(client, odd_videos: dict[str, Path], name: str) -> None:
    with pytest.raises(AppError) as info:
        client.predict(_video(odd_videos[name]), 1, api_name="/summarize")
    message = str(info.value)
    assert BAD_VIDEO_WORDS[name] in message.lower() and "Traceback" not in message
    summary, *_ = client.predict(_video(odd_videos["one_frame.mp4"]), 1, False, False, False, api_name="/summarize")
    assert summary
