"""Speech on the CPU through CTranslate2 (the CPU fast path of ``asr``): the configured transformers Whisper is
converted once to int8 and cached, gives the transformers path's output shape and accuracy on real weights
(Whisper tiny.en) and real or synthesised speech, falls back to transformers when conversion fails, and is
never used on a GPU or with the fast path off."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gradio.media import get_audio

import mmdemo.models.ctranslate2 as ct2
from mmdemo.errors import Cancelled, InputError
from mmdemo.media.audio import load_audio
from mmdemo.models import conversion
from mmdemo.models.manager import ModelManager, ModelStatus
from mmdemo.settings import Settings
from mmdemo.tasks.transcription import Transcript, is_ctranslate2, transcribe
from mmdemo.testing.tts import TALKS
from mmdemo.testing.wer import word_error_rate

HEATH = "If you're good at something, never do it for free."


@pytest.fixture(scope="module")
def ct2_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh conversion cache for this module (else beside the model, kept between runs)."""
    root = tmp_path_factory.mktemp("ct2-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ct2.CACHE_ENV, str(root))
        yield root


def _settings(folder: Path, **changes: object) -> Settings:
    return Settings(models={"asr": str(folder)}, device="cpu", offline=True, dtype="float32", **changes)


@pytest.fixture(scope="module")
def fast(real_whisper: Path, ct2_cache: Path) -> ModelManager:
    return ModelManager(_settings(real_whisper, cpu_fast_path=True))


@pytest.fixture(scope="module")
def reference(real_whisper: Path) -> ModelManager:
    """The transformers float32 path on the same weights."""
    return ModelManager(_settings(real_whisper))


def _asr_row(manager: ModelManager, role: str = "asr") -> ModelStatus:
    return next(row for row in manager.status() if row.role == role)


def _never(*args: object) -> None:
    raise AssertionError("converted although a conversion should not happen")


def _check_shape(result: Transcript, duration: float) -> None:
    assert result.segments and all(s.text and s.text == " ".join(s.text.split()) for s in result.segments)
    assert all(0 <= s.start <= s.end <= duration + 1e-6 for s in result.segments)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(result.segments, result.segments[1:], strict=False))
    assert result.text == " ".join(s.text for s in result.segments)


# --------------------------------------------------------------------------------- conversion and cache


def test_converts_once_then_reads_the_cache(
    fast: ModelManager, ct2_cache: Path, real_whisper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fast.use("asr") as handle:
        assert is_ctranslate2(handle.model)
    assert _asr_row(fast).dtype == "int8 (CTranslate2)"
    (converted,) = ct2_cache.glob("*/whisper-*-int8-*")
    assert all((converted / name).is_file() for name in ("model.bin", "tokenizer.json", "preprocessor_config.json"))
    assert not list(ct2_cache.glob("*/.*.tmp"))  # the scratch folder was renamed into place
    monkeypatch.setattr(ct2, "convert_whisper", _never)
    again = ModelManager(_settings(real_whisper, cpu_fast_path=True))  # a second start: the cache, no conversion
    assert transcribe(get_audio("heath_ledger.mp3"), manager=again).text == HEATH
    assert _asr_row(again).dtype == "int8 (CTranslate2)"


def test_cache_lives_beside_the_model_and_follows_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ct2.CACHE_ENV, raising=False)
    repo = tmp_path / "hub" / "models--openai--whisper-base"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    assert ct2.cache_root(snapshot) == repo / "mmdemo-ctranslate2"  # outside snapshots/: the cache layout stays
    assert ct2.model_revision(snapshot) == "0123abcd"
    plain = tmp_path / "my-whisper"
    plain.mkdir()
    (plain / "model.safetensors").write_bytes(b"weights")
    assert ct2.cache_root(plain) == plain / "ctranslate2"
    before = ct2.cache_key(plain)
    assert before.endswith(f"-int8-ct2-{__import__('ctranslate2').__version__}-f{ct2.FORMAT}")
    (plain / "model.safetensors").write_bytes(b"new weights")  # a fine-tune saved over it: a new conversion
    assert ct2.cache_key(plain) != before
    monkeypatch.setattr(conversion, "writable", lambda path: False)  # a read-only model folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ct2.cache_root(plain).parent == tmp_path / "xdg" / "mmdemo" / "ctranslate2"


def test_two_loaders_at_once_convert_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file lock serialises conversions; the second waits, then reads the first one's folder."""
    monkeypatch.setenv(ct2.CACHE_ENV, str(tmp_path / "cache"))
    source = tmp_path / "model"
    source.mkdir()
    (source / "config.json").write_text("{}")
    calls: list[Path] = []

    def slow_convert(folder: Path, target: Path, quantization: str) -> None:
        calls.append(target)
        time.sleep(0.3)
        for name in ("model.bin", "config.json", "tokenizer.json", ct2.META):
            (target / name).write_text("x")

    found: list[tuple[Path, bool]] = []
    threads = [
        threading.Thread(target=lambda: found.append(ct2.converted_whisper(source, convert=slow_convert)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and sorted(converted for _, converted in found) == [False, True]
    assert found[0][0] == found[1][0] and (found[0][0] / "model.bin").is_file()


# ------------------------------------------------------------------------ the output on real weights


def test_same_output_shape_and_accuracy_as_transformers(
    fast: ModelManager, reference: ModelManager, synthesized_talks: dict[str, Path]
) -> None:
    audio = synthesized_talks["lighthouse"]
    duration = load_audio(audio).duration
    ours, theirs = transcribe(audio, manager=fast), transcribe(audio, manager=reference)
    _check_shape(ours, duration)
    assert (ours.language, ours.model_id, ours.chunks) == (theirs.language, theirs.model_id, theirs.chunks)
    assert ours.language is None  # English-only, as on the transformers path
    ours_wer, theirs_wer = (
        word_error_rate(TALKS["lighthouse"], ours.text),
        word_error_rate(TALKS["lighthouse"], theirs.text),
    )
    assert ours_wer <= 0.15 and ours_wer <= theirs_wer + 0.02, (ours_wer, theirs_wer, ours.text)
    short, short_reference = (transcribe(get_audio("heath_ledger.mp3"), manager=m) for m in (fast, reference))
    assert short.text == short_reference.text == HEATH
    times = [t for segment in short.segments for t in segment[:2]]
    assert times == pytest.approx([t for segment in short_reference.segments for t in segment[:2]], abs=0.1)


def test_long_speech_across_windows(fast: ModelManager, synthesized_talks: dict[str, Path]) -> None:
    """Three talks back to back (~1.5 minutes): several 30 s windows, batched, timestamps in order."""
    parts = [load_audio(synthesized_talks[name], sample_rate=16_000).samples for name in TALKS]
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    result = transcribe(audio, 16_000, manager=fast)
    assert result.chunks >= 3
    _check_shape(result, len(audio) / 16_000)
    assert word_error_rate(" ".join(TALKS.values()), result.text) <= 0.18, result.text


def test_repeated_sentence_is_decoded_greedily(fast: ModelManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip that made faster-whisper's default temperature fallback slow (one sentence seven times: its
    gzip compression ratio passes 2.4) is decoded once, greedily, over the speech Silero finds."""
    from faster_whisper import WhisperModel

    calls: list[dict[str, object]] = []
    original = WhisperModel.transcribe

    def spy(self: WhisperModel, audio: np.ndarray, **kwargs: object) -> tuple[Any, Any]:
        calls.append(kwargs)
        return original(self, audio, **kwargs)

    monkeypatch.setattr(WhisperModel, "transcribe", spy)
    cate = load_audio(get_audio("cate_blanch.mp3"), sample_rate=16_000).samples
    clip = np.concatenate([x for _ in range(7) for x in (cate, np.zeros(4800, np.float32))])
    result = transcribe(clip, 16_000, manager=fast)
    assert result.text.lower().count("dagger") == 7 and result.chunks >= 2
    _check_shape(result, len(clip) / 16_000)
    assert len(calls) == 1 and calls[0]["temperature"] == 0.0 and calls[0]["beam_size"] == 1
    assert calls[0]["vad_filter"] is True
    windows = transcribe(clip, 16_000, chunk_seconds=20, manager=fast)  # given windows: decoded as given
    assert calls[1]["vad_filter"] is False and len(calls[1]["clip_timestamps"]) == 2 * windows.chunks  # type: ignore[arg-type]
    assert windows.text.lower().count("dagger") == 7


def test_no_words_on_noise_or_music(fast: ModelManager) -> None:
    noise = (0.2 * np.random.default_rng(5).standard_normal(15 * 16_000)).astype(np.float32)
    assert transcribe(noise, 16_000, manager=fast).text == ""
    assert transcribe(get_audio("cantina.wav"), manager=fast).text == ""


def test_same_language_checks_progress_and_cancellation(fast: ModelManager, reference: ModelManager) -> None:
    clip = get_audio("heath_ledger.mp3")
    for language in ("de", "en"):  # English-only: the same refusal on both paths
        messages = []
        for manager in (fast, reference):
            with pytest.raises(InputError) as info:
                transcribe(clip, language=language, manager=manager)
            messages.append(str(info.value))
        assert messages[0] == messages[1] and messages[0].endswith(" is English-only: leave the language unset.")
    with pytest.raises(InputError, match="Chunks must be between 1 and 30 seconds"):
        transcribe(clip, chunk_seconds=45, manager=fast)
    reports: list[tuple[float, str]] = []
    transcribe(clip, manager=fast, progress=lambda f, m: reports.append((f, m)))
    assert any(m.startswith("Transcribing 0:00–") and m.endswith(" of 0:03") for _, m in reports), reports
    assert reports[-1] == (1.0, "Transcribed")

    def cancel(fraction: float, message: str) -> None:
        if message.startswith("Transcribing"):
            raise Cancelled()

    with pytest.raises(Cancelled):
        transcribe(clip, manager=fast, progress=cancel)
    assert _asr_row(fast).in_use == 0  # released: the next request runs
    assert transcribe(clip, manager=fast).text == HEATH


def test_offline_fallback_runs_through_the_same_function() -> None:
    """The packaged offline model (CTranslate2 too) when ``asr`` cannot be had: same windows and shape."""
    models = {"asr": "pip:mmdemo_not_installed/model"}
    manager = ModelManager(Settings(models=models, device="cpu", offline=True))
    result = transcribe(get_audio("heath_ledger.mp3"), language="en", manager=manager)  # it stands in: "en" is fine
    assert result.text == HEATH and result.chunks == 1 and result.language is None
    assert "offline model" in result.notes[-1]
    _check_shape(result, 3.1)
    assert _asr_row(manager, "asr_offline").dtype == "int8 (CTranslate2)"
    with pytest.raises(InputError, match="English-only"):
        transcribe(get_audio("heath_ledger.mp3"), language="de", manager=manager)


# ------------------------------------------------------------------------------------------ fallbacks


def test_failed_conversion_falls_back_to_transformers(
    real_whisper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(folder: Path, target: Path, quantization: str) -> None:
        (target / "model.bin").write_text("half written")
        raise RuntimeError("converter exploded")

    monkeypatch.setenv(ct2.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(ct2, "convert_whisper", broken)
    manager = ModelManager(_settings(real_whisper, cpu_fast_path=True))
    with caplog.at_level(logging.WARNING, logger="mmdemo.models.ctranslate2"):
        assert transcribe(get_audio("heath_ledger.mp3"), manager=manager).text == HEATH
    assert "CTranslate2 conversion failed" in caplog.text and "converter exploded" in caplog.text
    assert _asr_row(manager).dtype == "float32 (transformers: CTranslate2 conversion failed)"
    with manager.use("asr") as handle:
        assert isinstance(handle.model, torch.nn.Module)
    assert not list(tmp_path.rglob("model.bin"))  # nothing half-written is left to be read later


def test_gpu_and_fast_path_off_keep_transformers(real_whisper: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmdemo.testing.accelerator import SimulatedAccelerator

    monkeypatch.setattr(ct2, "convert_whisper", _never)
    gpu = ModelManager(_settings(real_whisper, cpu_fast_path=True), accelerator=SimulatedAccelerator(2**33, 2**33))
    off = ModelManager(_settings(real_whisper, cpu_fast_path=False))
    for manager in (gpu, off):
        with manager.use("asr") as handle:
            assert isinstance(handle.model, torch.nn.Module) and not is_ctranslate2(handle.model)
        assert _asr_row(manager).dtype == "float32"
    assert transcribe(get_audio("heath_ledger.mp3"), manager=gpu).text == HEATH
