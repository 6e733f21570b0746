"""A fresh install with no Hub does real work: the models that ship in wheels (OCR, Whisper tiny.en,
MiniLM) read, transcribe and summarise real inputs end to end over HTTP. Known inputs, so real words
are asserted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio.media import get_audio
from gradio_client import Client, handle_file

from mmdemo.settings import Settings
from mmdemo.testing.text_images import render_text


@pytest.fixture(scope="module")
def offline_client(app_settings: Settings, launch_app) -> Iterator[Client]:
    """The app as a fresh offline install has it: the Hub-only models (speech recognition, both emotion
    classifiers, the summariser) are unavailable (their Hub defaults, offline)."""
    hub_only = {
        "asr": "openai/whisper-base",
        "summarizer": "sshleifer/distilbart-cnn-12-6",
        "emotion": "superb/wav2vec2-base-superb-er",
        "text_emotion": "j-hartmann/emotion-english-distilroberta-base",
    }
    with launch_app(app_settings.replace(models=hub_only)) as url:
        yield Client(url, verbose=False)


def test_ocr_reads_rendered_text(offline_client: Client, tmp_path: Path) -> None:
    render_text(["Quarterly Sales Report"], tmp_path / "sign.png")
    _boxes, text, _table = offline_client.predict(handle_file(str(tmp_path / "sign.png")), 0.5, api_name="/ocr")
    assert "Quarterly Sales Report" in text


def test_audio_tab_without_emotion_models_keeps_transcript_and_prosody(offline_client: Client) -> None:
    """No emotion model can run, so no estimate; everything that needs none is still there, and the
    notes name every missing model."""
    outputs = offline_client.predict(handle_file(get_audio("cate_blanch.mp3")), 3, 1.5, True, 0.5, api_name="/emotion")
    fused, timeline, transcript, text, voice, spectrogram, pitch, loudness, notes = outputs
    assert not text and not voice and not timeline["data"]  # (an empty gr.Label reads as {})
    assert "dagger" in transcript.lower() and "touch me" in transcript.lower()
    assert "offline model" in notes
    assert "No emotion estimate" in notes
    for model_id in ("superb/wav2vec2-base-superb-er", "j-hartmann/emotion-english-distilroberta-base"):
        assert model_id in notes
    assert "openai/whisper-base" in notes  # replaced by the offline model, and said so
    assert fused is None or not fused.get("confidences")
    assert Path(spectrogram).is_file()
    assert len(pitch["data"]) > 20 and len(loudness["data"]) > 20
    assert "median pitch" in notes and "words a minute" in notes


def test_video_gets_transcript_on_screen_text_and_extractive_summary(offline_client: Client, odd_videos) -> None:
    video = handle_file(str(odd_videos["speech.mov"]))  # Gradio 6 gr.Video takes a plain file
    summary, chapters, _gallery, transcript, files, notes = offline_client.predict(
        video, 3, True, True, True, "auto", api_name="/summarize"
    )
    assert "dagger" in transcript.lower()
    assert "dagger" in (summary + chapters).lower()  # the extractive summary picks spoken sentences
    assert "sentence" in notes.lower() or "extractive" in notes.lower()
    assert files
