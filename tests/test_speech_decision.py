"""The emotion path decides "is there speech" once per clip and measures loudness once; every step reads that.

Before, one request measured loudness three times (25 ms frames at 16 kHz for a whole-clip gate, 25 ms at the
voice model's rate for the windows, 20 ms for prosody) and decided speech in each place, so a clip could pass
one test and fail another: which answer it got depended on which models were installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media import audio as audio_module
from mmdemo.media.audio import FRAME_SECONDS, Audio, Loudness, frame_levels_db, voiced_frames
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks import audio_emotion, transcription
from mmdemo.tasks.audio_emotion import (
    AnalysisOptions,
    SpeechDecision,
    analyze_emotion,
    decide_speech,
    window_bounds,
)
from mmdemo.testing.odd_audio import speech

RATE = 16_000


def _count_everywhere(monkeypatch: pytest.MonkeyPatch, original: Callable[..., Any]) -> list[tuple[Any, ...]]:
    """Replace ``original`` in every loaded module that holds it by a wrapper that records its arguments."""
    calls: list[tuple[Any, ...]] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, original.__name__, None) is original:
            monkeypatch.setattr(module, original.__name__, counted)
    return calls


def _clicks(seconds: float = 10.0) -> np.ndarray:
    """Silence with two 60 ms bursts of speech 5 s apart: 0.12 s of sound in all, under 0.1 s in any window."""
    clip = np.zeros(int(seconds * RATE), np.float32)
    burst = speech(RATE)[RATE : RATE + int(0.06 * RATE)]
    for start in (2.0, 7.0):
        clip[int(start * RATE) : int(start * RATE) + len(burst)] = burst
    return clip


def test_one_request_measures_loudness_once_and_decides_speech_once(
    shared_manager: ModelManager, odd_audio: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions = _count_everywhere(monkeypatch, decide_speech)
    levels = _count_everywhere(monkeypatch, frame_levels_db)
    sound = _count_everywhere(monkeypatch, voiced_frames)
    silero = _count_everywhere(monkeypatch, transcription.speech_windows)
    options = AnalysisOptions(window_seconds=1.0, hop_seconds=0.5)
    result = analyze_emotion(odd_audio["speech_gap.wav"], options=options, manager=shared_manager)

    n = len(result.audio.samples)
    assert len(decisions) == len(levels) == len(sound) == 1
    assert len([args for args in silero if len(args[0]) == n]) == 1  # Silero on the whole clip: once
    decision = result.speech
    assert isinstance(decision, SpeechDecision) and decision.found
    # every step read that one decision: the voice windows, prosody and the loudness plot
    assert tuple(w.voiced for w in result.windows) == decision.voiced
    assert [(w.start, w.end) for w in result.windows] == [
        (round(a / RATE, 3), round(b / RATE, 3)) for a, b in decision.windows
    ]
    frames = len(result.prosody.loudness_db)
    np.testing.assert_array_equal(result.prosody.loudness_db, decision.loudness.levels_db[:frames])
    voiced_pitch = ~np.isnan(result.prosody.pitch_hz)
    assert not (voiced_pitch & ~decision.loudness.sound[:frames]).any()  # pitch only where the decision heard sound


def test_a_clip_the_old_detectors_disagreed_on_gets_one_answer(tiny_settings: Settings) -> None:
    """The whole-clip gate passed this clip (0.12 s of sound) but no window had speech: with the voice model it
    was refused, without it the rest was analysed. Now it is refused either way, before any model loads."""
    clip = _clicks()
    decision = decide_speech(Audio(clip, RATE, RATE, 1, "array"), AnalysisOptions())
    old_gate = voiced_frames(frame_levels_db(clip, RATE)).sum() * FRAME_SECONDS >= 0.1
    assert old_gate and not decision.found and not any(decision.voiced)
    full = ModelManager(tiny_settings)
    without_voice = ModelManager(
        Settings(models={k: v for k, v in tiny_settings.models.items() if k != "emotion"}, device="cpu", offline=True)
    )
    for manager in (full, without_voice):
        with pytest.raises(InputError, match="No speech detected"):
            analyze_emotion((RATE, clip), manager=manager)
        assert not any(manager.load_count.values())  # refused before any model was loaded


def test_speech_recognition_asks_the_decision_so_silero_runs_once_when_transcription_runs_twice(
    tiny_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CTranslate2 failing at run time makes transcription start again with transformers, on the same clip:
    the speech windows come from the clip's decision, not from a second Silero run."""
    from faster_whisper import WhisperModel

    from mmdemo.models import ctranslate2 as ct2
    from mmdemo.tasks.transcription import RUNTIME_FALLBACK_NOTE

    def broken(self: WhisperModel, audio: np.ndarray, **kwargs: object) -> tuple[Any, Any]:
        raise RuntimeError("kernel exploded")

    monkeypatch.setenv(ct2.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(WhisperModel, "transcribe", broken)
    silero = _count_everywhere(monkeypatch, transcription.speech_windows)
    manager = ModelManager(tiny_settings.replace(cpu_fast_path=True, dtype="float32"))
    clip = speech(RATE)
    result = analyze_emotion((RATE, clip), options=AnalysisOptions(), manager=manager)
    assert RUNTIME_FALLBACK_NOTE in result.notes and result.transcript is not None
    assert len([args for args in silero if len(args[0]) == len(clip)]) == 1


def test_transcribe_uses_the_speech_it_is_given(shared_manager: ModelManager) -> None:
    clip = speech(RATE)
    found = transcription.transcribe(clip, RATE, manager=shared_manager)
    assert found.chunks == 1
    given = transcription.transcribe(clip, RATE, manager=shared_manager, find_speech=lambda s, r, m: ([], "none"))
    assert given.chunks == 0 and given.text == ""


def test_the_decision_remembers_where_the_words_are(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_everywhere(monkeypatch, transcription.speech_windows)
    audio = Audio(speech(RATE), RATE, RATE, 1, "array")
    decision = decide_speech(audio, AnalysisOptions())
    first = decision.speech_windows(audio.samples, RATE, 30.0)
    first[0].clear()  # a caller changing its copy changes nothing
    again = decision.speech_windows(audio.samples, RATE, 30.0)
    assert len(calls) == 1 and again == transcription.speech_windows(audio.samples, RATE, 30.0)
    decision.speech_windows(audio.samples, RATE, 10.0)  # another window length is another question
    assert len(calls) == 3


@pytest.mark.parametrize("rate", [RATE, 8_000, 44_100])
def test_sound_seconds_counts_the_frames_a_window_overlaps(rate: int) -> None:
    rng = np.random.default_rng(1)
    samples = (rng.standard_normal(5 * RATE) * np.repeat(rng.random(250) ** 4, RATE // 50)).astype(np.float32)
    loudness = Loudness.measure(samples, RATE, 0.02)
    bounds16 = [*window_bounds(len(samples), RATE, 0.5, 0.25), (0, len(samples)), (100, 101), (319, 321)]
    expected = [loudness.sound[a // 320 : -(-b // 320)].sum() * 0.02 for a, b in bounds16]  # the old rule
    bounds = [(a * rate // RATE, -(-b * rate // RATE)) for a, b in bounds16]  # the same spans at ``rate``
    assert list(loudness.sound_seconds(bounds, rate)) == pytest.approx(expected)
    assert loudness.sound_seconds([], rate).size == 0


def test_windows_at_the_voice_models_rate() -> None:
    audio = Audio(speech(RATE), RATE, RATE, 1, "array")
    decision = decide_speech(audio, AnalysisOptions(window_seconds=2.0, hop_seconds=1.0))
    n = len(audio.samples)
    assert decision.windows_at(RATE, n) == list(decision.windows) == window_bounds(n, RATE, 2.0, 1.0)
    at_8k = decision.windows_at(8_000, (n + 1) // 2)
    assert at_8k[0] == (0, 16_000) and at_8k[-1][1] == (n + 1) // 2  # the last window ends where the audio does
    assert len(at_8k) == len(decision.windows) == len(decision.voiced)


def test_the_decision_needs_no_model_and_matches_the_loudness(odd_audio: dict[str, Path]) -> None:
    audio = audio_module.load_audio(odd_audio["speech_gap.wav"], sample_rate=RATE)
    decision = decide_speech(audio, AnalysisOptions(window_seconds=1.0, hop_seconds=0.5))
    np.testing.assert_array_equal(decision.loudness.levels_db, frame_levels_db(audio.samples, RATE, 0.02))
    np.testing.assert_array_equal(decision.loudness.sound, voiced_frames(decision.loudness.levels_db))
    assert decision.loudness.frame_seconds == 0.02
    silent = decide_speech(Audio(np.zeros(3 * RATE, np.float32), RATE, RATE, 1, "array"), AnalysisOptions())
    assert not silent.found and audio_emotion.SPEECH_RATE == RATE
