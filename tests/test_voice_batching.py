"""Voice windows of different requests in one forward pass (issue 24): the voice step of
:func:`~mmdemo.tasks.audio_emotion.analyze_emotion` runs its batches of windows through
:func:`~mmdemo.runner.shared_pass`, and :func:`~mmdemo.runner.run_parts` puts several requests' windows of the same
model and length into one pass. Locally nothing changes (the probabilities of before, exactly); combined, each
request gets the rows it gets alone. Ray Serve's side: tests/test_ray_serve.py."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.messages import Message
from mmdemo.models.manager import ModelManager
from mmdemo.runner import Part, run_parts, shared_pass, sharing
from mmdemo.tasks import audio_emotion
from mmdemo.tasks.audio_emotion import (
    MAX_WINDOWS,
    AnalysisOptions,
    EmotionResult,
    WindowEmotion,
    _distribution,
    analyze_emotion,
    in_plain_words,
    model_labels,
    voice_rows,
)
from mmdemo.testing.odd_audio import speech
from mmdemo.testing.sharing import Batcher

VOICE_ONLY = AnalysisOptions(use_transcript=False)


@pytest.fixture(scope="module")
def real_speech() -> dict[str, str]:
    from gradio.media import get_audio

    return {name: get_audio(name) for name in ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3")}


def _acoustic_at_head(audio, speech, options, manager, progress, notes):
    """The voice step as it was before the windows could share passes (commit f61736d), verbatim: the reference."""
    with manager.use("emotion", progress) as handle:
        extractor = handle.processor
        rate = int(extractor.sampling_rate)
        samples = audio.at_rate(rate).samples
        labels = model_labels(handle.model.config.id2label)
        if len(speech.windows) > MAX_WINDOWS:
            raise InputError(Message("emotion.too_many_windows", count=len(speech.windows), limit=MAX_WINDOWS))
        bounds = speech.windows_at(rate, len(samples))
        todo = [i for i, v in enumerate(speech.voiced) if v]  # not empty: a clip without speech was refused
        minimum = audio_emotion.min_input_samples(handle.model.config)
        began = time.perf_counter()
        probabilities: dict[int, np.ndarray] = {}
        for first in range(0, len(todo), options.batch_size):
            batch = todo[first : first + options.batch_size]
            if progress and len(todo) > options.batch_size:
                progress(first / len(todo), f"Voice emotion: windows {first + 1}–{first + len(batch)} of {len(todo)}")
            arrays = []
            for i in batch:
                a, b = bounds[i]
                piece = samples[a:b]
                if len(piece) < minimum:
                    pad = minimum - len(piece)
                    piece = np.pad(piece, (pad // 2, pad - pad // 2))
                    notes.append(Message("emotion.padded"))
                arrays.append(piece)
            inputs = extractor(arrays, sampling_rate=rate, return_tensors="pt", padding=True)
            logits = handle.model(**handle.prepare(inputs)).logits
            for i, row in zip(batch, _distribution(logits, handle.model.config), strict=True):
                probabilities[i] = row
        seconds = time.perf_counter() - began
        windows = tuple(
            WindowEmotion(
                round(a / rate, 3),
                round(b / rate, 3),
                in_plain_words(zip(labels, map(float, probabilities[i]), strict=True)) if i in probabilities else None,
            )
            for i, (a, b) in enumerate(bounds)
        )
        mean = np.mean([probabilities[i] for i in todo], axis=0)
        overall = in_plain_words(zip(labels, map(float, mean / mean.sum()), strict=True))
        return overall, windows, handle.model_id, seconds, labels


PINNED = {  # HEAD's voice step (f61736d) on the tiny models, this machine
    "cate": {"neutral": 0.2500472366809845, "happy": 0.25252866744995117, "sad": 0.24940122663974762,
             "angry": 0.2480228990316391},
    "heath": {"neutral": 0.25438880920410156, "happy": 0.25701531767845154, "sad": 0.24533630907535553,
              "angry": 0.24325962364673615},
    "padded": {"neutral": 0.2647535800933838, "happy": 0.23245489597320557, "sad": 0.24972087144851685,
               "angry": 0.2530707120895386},
}  # fmt: skip


def _run(audio: Any, options: AnalysisOptions, manager: ModelManager) -> tuple[EmotionResult, list[tuple[float, str]]]:
    steps: list[tuple[float, str]] = []
    result = analyze_emotion(audio, options=options, manager=manager, progress=lambda f, m: steps.append((f, m)))
    return result, steps


@pytest.mark.parametrize(
    ("case", "options", "voice_steps"),
    [
        ("cate", AnalysisOptions(window_seconds=2.0, hop_seconds=1.0, use_transcript=False, batch_size=3),
         ["windows 1–3 of 7", "windows 4–6 of 7", "windows 7–7 of 7"]),
        ("heath", AnalysisOptions(use_transcript=False, batch_size=1), ["windows 1–1 of 2", "windows 2–2 of 2"]),
        ("padded", VOICE_ONLY, []),
    ],
)  # fmt: skip
def test_the_voice_step_gives_the_probabilities_of_before(
    shared_manager: ModelManager,
    real_speech: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    options: AnalysisOptions,
    voice_steps: list[str],
) -> None:
    """The voice step, its batches now passes of their own (:func:`voice_rows` outside the model's lock), gives
    exactly what it gave: the overall and every window's probabilities, the progress steps, the padding note."""
    if case == "padded":  # a window shorter than the model's minimum input is padded, with a note
        audio: Any = (16_000, speech(16_000)[:1600])
        monkeypatch.setattr(audio_emotion, "min_input_samples", lambda config: 2000)
    else:
        audio = real_speech["cate_blanch.mp3" if case == "cate" else "heath_ledger.mp3"]
    with shared_manager.use("emotion"):  # loaded before both runs: the same progress steps
        pass
    now, steps = _run(audio, options, shared_manager)
    monkeypatch.setattr(audio_emotion, "_acoustic", _acoustic_at_head)
    before, steps_before = _run(audio, options, shared_manager)
    assert now.acoustic == before.acoustic and now.fused == before.fused  # exactly
    assert now.windows == before.windows and now.notes == before.notes and steps == steps_before
    assert now.acoustic == pytest.approx(PINNED[case], rel=1e-5, abs=0)
    assert [m.removeprefix("Voice emotion: ") for _, m in steps if m.startswith("Voice emotion")] == voice_steps
    assert (Message("emotion.padded") in now.notes) == (case == "padded")


def _windows(manager: ModelManager, seconds: float, counts: list[int], seed: int) -> list[list[np.ndarray]]:
    """Real speech cut into windows of ``seconds`` at random places (seeded): a list of ``counts[i]`` for each
    request, at the voice model's rate."""
    with manager.use("emotion") as handle:
        rate = int(handle.processor.sampling_rate)
    clip = np.tile(speech(rate), 3)
    size = round(seconds * rate)
    rng = np.random.default_rng(seed)
    return [[clip[s : s + size] for s in rng.integers(0, len(clip) - size, count)] for count in counts]


def _key(manager: ModelManager, pieces: list[np.ndarray]) -> tuple[Any, ...]:
    return manager.model_id("emotion"), tuple(sorted({len(p) for p in pieces}))


def test_windows_of_several_requests_in_one_pass_get_the_rows_they_get_alone(shared_manager: ModelManager) -> None:
    """Three requests' windows of one length in one pass, a fourth request's of another length in a pass of its own:
    each request gets its rows alone within 1e-6, and the same plain words (most likely emotion of each window)."""
    requests = _windows(shared_manager, 1.0, [3, 2, 5], seed=0) + _windows(shared_manager, 1.5, [4], seed=1)
    parts = [Part(voice_rows, pieces, _key(shared_manager, pieces), {"manager": shared_manager}) for pieces in requests]
    passes: list[tuple[str, int]] = []
    together = run_parts(parts, cap=64, on_pass=lambda name, size: passes.append((name, size)))
    assert passes == [("mmdemo.tasks.audio_emotion:voice_rows", 3), ("mmdemo.tasks.audio_emotion:voice_rows", 1)]
    with shared_manager.use("emotion") as handle:
        labels = model_labels(handle.model.config.id2label)
    for pieces, rows in zip(requests, together, strict=True):
        alone = voice_rows(pieces, manager=shared_manager)
        assert not isinstance(rows, BaseException) and len(rows) == len(pieces)
        np.testing.assert_allclose(np.stack(rows), np.stack(alone), rtol=0, atol=1e-6)
        words = [in_plain_words(zip(labels, map(float, row), strict=True)) for row in rows]
        words_alone = [in_plain_words(zip(labels, map(float, row), strict=True)) for row in alone]
        assert [max(w, key=w.__getitem__) for w in words] == [max(w, key=w.__getitem__) for w in words_alone]

    passes.clear()  # at most `cap` windows a pass: 3 + 2, then 5
    run_parts(parts[:3], cap=5, on_pass=lambda name, size: passes.append((name, size)))
    assert [size for _, size in passes] == [2, 1]


def test_a_failing_pass_runs_each_request_alone(shared_manager: ModelManager) -> None:
    """A request whose window the voice model cannot take (not samples, under the same key here) fails alone, with
    its own error: the others sharing its pass get their rows."""
    good = _windows(shared_manager, 1.0, [2, 3], seed=2)
    bad = [good[0][0], None]
    key = _key(shared_manager, good[0])
    parts = [Part(voice_rows, pieces, key, {"manager": shared_manager}) for pieces in (good[0], bad, good[1])]
    passes: list[int] = []
    first, failed, last = run_parts(parts, cap=64, on_pass=lambda name, size: passes.append(size))
    with pytest.raises(type(failed)):
        voice_rows(bad, manager=shared_manager)
    assert isinstance(failed, Exception) and passes == [1, 1]  # the shared pass failed: each alone, two ran
    np.testing.assert_allclose(np.stack(first), np.stack(voice_rows(good[0], manager=shared_manager)), atol=1e-6)
    np.testing.assert_allclose(np.stack(last), np.stack(voice_rows(good[1], manager=shared_manager)), atol=1e-6)


def test_concurrent_requests_sharing_passes_get_their_own_results(
    shared_manager: ModelManager, real_speech: dict[str, str]
) -> None:
    """Three visitors' analyses at once, their windows sharing passes through a sharer: each gets the result it gets
    alone (probabilities within 1e-6, the same plain words, notes and progress steps)."""
    options = AnalysisOptions(window_seconds=1.0, hop_seconds=0.5, use_transcript=False, batch_size=2)
    clips = list(real_speech.values())
    alone = [_run(clip, options, shared_manager) for clip in clips]
    batcher = Batcher()

    def shared(clip: str) -> tuple[EmotionResult, list[tuple[float, str]]]:
        with sharing(batcher):
            return _run(clip, options, shared_manager)

    try:
        with ThreadPoolExecutor(len(clips)) as pool:
            together = list(pool.map(shared, clips, timeout=300))
    finally:
        batcher.close()
    assert max(batcher.sizes) > 1 and len(batcher.sizes) < sum(len(r.windows) for r, _ in alone) / 2, batcher.sizes
    for (result, steps), (expected, expected_steps) in zip(together, alone, strict=True):
        assert result.acoustic == pytest.approx(expected.acoustic, abs=1e-6)
        assert result.top == expected.top and result.notes == expected.notes and steps == expected_steps
        assert [(w.start, w.end) for w in result.windows] == [(w.start, w.end) for w in expected.windows]
        for window, expected_window in zip(result.windows, expected.windows, strict=True):
            assert window.probabilities == pytest.approx(expected_window.probabilities, abs=1e-6)


def test_without_a_sharer_a_pass_is_the_plain_call() -> None:
    """Locally (no runner, no sharer) :func:`shared_pass` calls the pass directly, in the caller's thread."""
    seen: list[str] = []

    def double(items: list[int], *, tag: str) -> list[int]:
        seen.append(threading.current_thread().name + tag)
        return [2 * i for i in items]

    assert shared_pass(double, [1, 2], key="k", limit=2, tag="!") == [2, 4]
    assert seen == [threading.current_thread().name + "!"]
