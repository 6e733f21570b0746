"""Prosody (no model): YIN pitch on signals of known pitch, and measures on real speech."""

from __future__ import annotations

import numpy as np
import pytest
from gradio.media import get_audio

from mmdemo.media.audio import Loudness, load_audio
from mmdemo.tasks.prosody import HOP_SECONDS, analyze_prosody

SR = 16_000
T = np.arange(2 * SR) / SR


@pytest.mark.parametrize("hz", [80.0, 147.0, 220.0, 350.0])
def test_pitch_of_pure_tones(hz: float) -> None:
    prosody = analyze_prosody((0.3 * np.sin(2 * np.pi * hz * T)).astype(np.float32), SR, words=4)
    assert prosody.median_pitch_hz == pytest.approx(hz, rel=0.01)
    assert prosody.pitch_range_semitones == pytest.approx(0, abs=0.2)
    assert prosody.voiced_fraction > 0.9
    assert prosody.speaking_rate_wpm == pytest.approx(4 / (2 / 60), rel=0.05)  # 4 words in 2 s of sound


def test_pitch_follows_a_glide_and_harmonics_do_not_fool_it() -> None:
    f0 = np.linspace(150, 300, len(T))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = 0.3 * np.sin(phase) + 0.2 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)  # a richer, voice-like tone
    prosody = analyze_prosody(voice.astype(np.float32), SR)
    pitch = prosody.pitch_hz[~np.isnan(prosody.pitch_hz)]
    assert 145 < pitch[0] < 165 and 285 < pitch[-1] < 305
    assert np.all(np.diff(pitch) > -3)  # rising, no octave jumps
    assert prosody.pitch_range_semitones == pytest.approx(12 * np.log2(285 / 165), abs=1.5)


def test_silence_and_noise_have_no_pitch() -> None:
    for signal in (np.zeros(SR, np.float32), np.random.default_rng(0).normal(0, 0.3, SR).astype(np.float32)):
        prosody = analyze_prosody(signal, SR, words=3)
        assert prosody.median_pitch_hz is None and np.isnan(prosody.pitch_hz).all()
    assert analyze_prosody(np.zeros(SR, np.float32), SR, words=3).speaking_rate_wpm is None  # no sound, no rate
    tiny = analyze_prosody(np.zeros(100, np.float32), SR)  # shorter than one pitch frame
    assert tiny.median_pitch_hz is None and len(tiny.times) == len(tiny.pitch_hz) == len(tiny.loudness_db)


def test_real_speech() -> None:
    audio = load_audio(get_audio("cate_blanch.mp3"), sample_rate=SR)
    prosody = analyze_prosody(audio.samples, SR, words=20)
    assert prosody.median_pitch_hz is not None and 120 < prosody.median_pitch_hz < 300  # an adult voice
    assert 2 < prosody.pitch_range_semitones < 24
    assert len(prosody.times) == len(prosody.pitch_hz) == len(prosody.loudness_db)
    assert np.all(np.diff(prosody.times) > 0) and prosody.times[-1] <= audio.duration
    assert 60 < prosody.speaking_rate_wpm < 400


def test_loudness_measured_once_is_used_as_given() -> None:
    """The emotion path hands in the clip's loudness (measured once): the same prosody as measuring it here;
    loudness of other frames or of other samples is refused rather than misread."""
    audio = load_audio(get_audio("cate_blanch.mp3"), sample_rate=SR)
    loudness = Loudness.measure(audio.samples, SR, HOP_SECONDS)
    given, measured = analyze_prosody(audio.samples, SR, 20, loudness), analyze_prosody(audio.samples, SR, 20)
    for name in ("times", "pitch_hz", "loudness_db"):
        np.testing.assert_array_equal(getattr(given, name), getattr(measured, name))
    assert (given.median_pitch_hz, given.speaking_rate_wpm) == (measured.median_pitch_hz, measured.speaking_rate_wpm)
    for wrong in (Loudness.measure(audio.samples, SR), Loudness.measure(audio.samples[:SR], SR, HOP_SECONDS)):
        with pytest.raises(ValueError, match="loudness of these samples"):
            analyze_prosody(audio.samples, SR, 20, wrong)
