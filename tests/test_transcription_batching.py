"""Whisper windows of different requests in one pass (issue 24): the transformers runtime decodes its batches of
windows, and detects a file's language, through :func:`~mmdemo.runner.shared_pass`; on a Ray Serve replica (or the
test kit's :class:`~mmdemo.testing.sharing.Batcher`) windows of other visitors' files in the same language join the
pass. Each is padded to Whisper's 30 s and decoded on its own row: every visitor gets the transcript they get alone.
Ray Serve's side: tests/test_ray_serve.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmdemo.media.audio import load_audio
from mmdemo.models.manager import ModelManager
from mmdemo.runner import Part, run_parts, sharing
from mmdemo.tasks import transcription
from mmdemo.tasks.transcription import MAX_BATCH_SIZE, Transcript, transcribe, whisper_languages, whisper_tokens
from mmdemo.testing.odd_audio import speech
from mmdemo.testing.sharing import Batcher

TOKENS = "mmdemo.tasks.transcription:whisper_tokens"
LANGUAGES = "mmdemo.tasks.transcription:whisper_languages"


@pytest.fixture(scope="module")
def clips() -> list[str]:
    from gradio.media import get_audio

    return [get_audio(name) for name in ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3")]


def _alone_and_together(
    manager: ModelManager, clips: list[str], **options: object
) -> tuple[list[Transcript], list[Transcript], Batcher]:
    alone = [transcribe(clip, manager=manager, **options) for clip in clips]
    batcher = Batcher()

    def shared(clip: str) -> Transcript:
        with sharing(batcher):
            return transcribe(clip, manager=manager, **options)

    try:
        with ThreadPoolExecutor(len(clips)) as pool:
            together = list(pool.map(shared, clips, timeout=300))
    finally:
        batcher.close()
    return alone, together, batcher


def test_windows_of_concurrent_transcriptions_share_passes_with_the_results_they_get_alone(
    shared_manager: ModelManager, clips: list[str]
) -> None:
    """Three visitors' recordings, cut into 5 s windows, transcribed at once in English: their windows share
    Whisper passes, and each visitor gets the segments, text and language of their transcription alone."""
    options = {"language": "en", "chunk_seconds": 5.0, "batch_size": 2}
    alone, together, batcher = _alone_and_together(shared_manager, clips, **options)
    assert [t.chunks for t in alone] == [3, 1, 1]
    for result, expected in zip(together, alone, strict=True):
        assert (result.segments, result.text, result.language) == (expected.segments, expected.text, expected.language)
        assert result.chunks == expected.chunks and result.notes == expected.notes
    shared = [size for name, size in batcher.passes if name == TOKENS]
    assert max(shared) > 1, batcher.passes  # (a pass of several visitors' windows)


def test_language_detection_of_concurrent_transcriptions_shares_a_pass(
    shared_manager: ModelManager, clips: list[str]
) -> None:
    """With the language detected (once per file), the detections of files transcribed at once share a pass, and
    each file gets the language and transcript it gets alone; windows share passes only within one language."""
    alone, together, batcher = _alone_and_together(shared_manager, clips, batch_size=4)
    for result, expected in zip(together, alone, strict=True):
        assert (result.language, result.segments) == (expected.language, expected.segments)
    detections = [size for name, size in batcher.passes if name == LANGUAGES]
    assert sum(detections) == len(clips) and max(detections) > 1, batcher.passes
    languages = {t.language for t in alone}
    windows = [size for name, size in batcher.passes if name == TOKENS]
    assert len(windows) >= len(languages), batcher.passes


def test_the_passes_give_each_window_its_own_tokens(shared_manager: ModelManager) -> None:
    """:func:`whisper_tokens` on windows of several lengths at once gives each the tokens it gets alone; windows in
    two languages do not share a pass (they differ in the pass's key, and the pass refuses them)."""
    with shared_manager.use("asr") as handle:
        rate = int(handle.processor.feature_extractor.sampling_rate)
        model_id = handle.model_id
        ends = {handle.model.generation_config.pad_token_id, handle.model.generation_config.eos_token_id}

    def text(ids: list[int]) -> list[int]:  # a row of a batch goes on with padding after its end of text
        while ids and ids[-1] in ends:
            ids = ids[:-1]
        return ids

    clip = np.tile(speech(rate), 2)
    pieces = [clip[: rate * 2], clip[rate : rate * 5], clip[rate // 2 : rate * 3]]
    together = whisper_tokens([(p, "en") for p in pieces], manager=shared_manager, role="asr")
    alone = [whisper_tokens([(p, "en")], manager=shared_manager, role="asr")[0] for p in pieces]
    assert [text(ids) for ids in together] == [text(ids) for ids in alone]
    assert len({len(ids) for ids in alone}) > 1  # (rows of different lengths: the padding is checked)
    assert whisper_languages(pieces, manager=shared_manager, role="asr") == [
        whisper_languages([p], manager=shared_manager, role="asr")[0] for p in pieces
    ]
    with pytest.raises(ValueError, match="one language"):
        whisper_tokens([(pieces[0], "en"), (pieces[1], "de")], manager=shared_manager, role="asr")

    common = {"manager": shared_manager, "role": "asr"}
    parts = [
        Part(whisper_tokens, [(pieces[0], "en")], (model_id, "en"), common, MAX_BATCH_SIZE),
        Part(whisper_tokens, [(pieces[1], "de")], (model_id, "de"), common, MAX_BATCH_SIZE),
        Part(whisper_tokens, [(pieces[2], "en")], (model_id, "en"), common, MAX_BATCH_SIZE),
    ]
    passes: list[int] = []
    results = run_parts(parts, on_pass=lambda name, size: passes.append(size))
    assert sorted(passes) == [1, 2]
    assert [text(ids) for ids in results[0] + results[2]] == [text(alone[0]), text(alone[2])]
    assert results[1] == whisper_tokens([(pieces[1], "de")], manager=shared_manager, role="asr")


def test_a_pass_takes_at_most_its_tasks_own_limit(shared_manager: ModelManager) -> None:
    """Parts join a pass up to their :attr:`~mmdemo.runner.Part.limit` (the task's batch limit), and a ``cap``
    given to :func:`run_parts` lowers it further."""
    seen: list[int] = []

    def count(items: list[int]) -> list[int]:
        seen.append(len(items))
        return items

    parts = [Part(count, list(range(n)), "k", {}, 5) for n in (3, 2, 4, 1)]
    assert run_parts(parts) == [[0, 1, 2], [0, 1], [0, 1, 2, 3], [0]]
    assert seen == [5, 5]
    seen.clear()
    run_parts(parts, cap=3)
    assert seen == [3, 2, 4, 1]


def test_the_fallback_model_behind_ctranslate2_decodes_on_its_own_handle(
    shared_manager: ModelManager, clips: list[str]
) -> None:
    """The transformers runtime without ``shared`` (the model behind a failed CTranslate2 one, which the caller
    holds) decodes on that handle and never hands a pass to the sharer: no request may wait for a pass that needs
    the model it holds itself."""

    def refuse(part: Part) -> list[object]:
        raise AssertionError(f"{part.name} was handed to the sharer")

    audio = load_audio(clips[2])
    expected = transcribe(audio, language="en", manager=shared_manager)
    with sharing(refuse), shared_manager.use("asr") as handle:
        result = transcription._transcribe_loaded(
            handle, transcription._transformers_runtime(handle), audio, "en", None, 4, None
        )
    assert result.segments == expected.segments and result.segments
