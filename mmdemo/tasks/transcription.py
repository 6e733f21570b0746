"""Speech recognition (Whisper family, role ``asr``) with segment timestamps, for any length of audio.

Reused by the audio emotion tab and the video tab. How long audio is cut (chosen by measuring, on real
Whisper tiny.en weights and real or synthesised speech: ``benchmarks/whisper_long_form.py``):

* **where the speech is**: Silero VAD (the ONNX model that ships with faster-whisper) finds speech regions;
  music, noise and silence are skipped, so Whisper cannot invent text on them (an energy gate let pink
  noise through, and Whisper wrote 9 words on it). Quiet speech down to about −40 dBFS is kept.
* **windows**: consecutive speech regions are grouped into windows of at most the model's 30 s, cut only
  in pauses (≥ 0.5 s) or, in speech that runs on longer, at the quietest point Silero finds; windows run
  through the model in small batches, so memory stays bounded and GPUs are used well.
* **language** (multilingual models): detected once per file, on the window with the most speech, and
  used for every window (it was detected per chunk: short or musical chunks were misdetected, and the
  encoder ran twice for every chunk). Detection costs one more encoder pass per file: handing its output
  to ``generate`` would save it, but transformers 5.24 then decodes wrongly (it restarts the sequence).
* timestamps come from Whisper's timestamp tokens (read by :func:`_parse`, from the generation config's
  ``no_timestamps_token_id``), offset by each window's start. The tokenizer's own ``output_offsets``
  decoding put every segment of Whisper tiny.en 2.12 s late (it counts timestamps from the id after the
  last special token, and ``<|endoftext|>`` sorts last), so it is not used.

Measured in one run (``benchmarks/whisper_long_form.py``, 2 CPU cores, espeak-ng speaking three known
paragraphs: 93 s with pauses, and 84 s without punctuation): Silero windows WER 13.0 % and 19.9 % in 4.7 s
and 5.4 s, no words on pink noise or a music clip (one on another); transformers' own long-form decoding
(sequential windows moved to the last complete segment) 12.1 % and 20.2 % but in 8.4 s each, it cannot
batch one file's windows on a GPU, and it wrote 9 words on the noise; the previous energy-gated cuts
17.1 % and 22.7 %, and the same 9 invented words.

Two runtimes, one path (:func:`_transcribe_role`): the model as loaded is either transformers' or
faster-whisper's (CTranslate2 int8: the offline model, and the ``asr`` model on the CPU with the CPU fast
path on, converted once by :mod:`mmdemo.models.ctranslate2`). Both share the Silero windows (for the chunk
count, skipping silent files and language detection), the language rules, progress, cancellation and the
:class:`Transcript`; only decoding differs (:class:`_Runtime`):

* transformers decodes the windows in batches, greedily (each batch a shared pass, :func:`whisper_tokens`, which
  other visitors' windows join on a Ray Serve replica); a window whose output ends before its speech does
  (tiny.en writes end-of-text after the first of two sentences; moving the window's start by 0.05–0.2 s
  flips it) is decoded again from the end of its last complete segment, Whisper's long-form "seek";
* faster-whisper decodes the speech long-form as :data:`CT2_DECODING` says (see :func:`_ctranslate2_runtime`);
  when CTranslate2 fails at run time, transformers transcribes instead, with a note
  (:data:`RUNTIME_FALLBACK_NOTE`), and stays in use.

Measured on 2 cores with real Whisper tiny.en (``benchmarks/whisper_decoding.py``, the table in
``benchmarks/README.md``): over every gradio clip with sound and espeak-ng's sentences and talks, WER 12.3 % for
CTranslate2 int8 against 16.0 % for transformers float32, in 1.06× its time (faster on short clips, slower on
long speech: beam search).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError, MMDemoError, ModelUnavailableError
from ..media.audio import FRAME_SECONDS, Audio, AudioLimits, AudioSource, frame_levels_db, load_audio, voiced_frames
from ..messages import Message
from ..models.ctranslate2 import TransformersFallback, max_decoding_length
from ..models.hub import public_model_id
from ..models.manager import ModelHandle, ModelManager, ProgressFn
from ..params import Text
from ..runner import shared_pass, task
from ..runtime import get_manager

log = logging.getLogger(__name__)

LANGUAGE = Text(
    "language",
    "Language",
    None,
    max_length=16,
    doc="speech language code such as en or zh (default: detected; an English-only model takes en)",
)
"""The language of the speech (a code Whisper knows); empty or None: detected. Which codes a model takes is
checked when it is loaded (:func:`_check_language`)."""
MAX_BATCH_SIZE = 32

SEARCH_SECONDS = 5.0
"""Fallback cuts (no VAD): a chunk ends at the quietest 25 ms within this many seconds before the window ends."""
VAD_OPTIONS = {"threshold": 0.5, "min_silence_duration_ms": 500, "speech_pad_ms": 200}
"""Silero VAD settings: a pause of half a second ends a speech region; regions keep 0.2 s of margin."""
DEFAULT_TIME_PRECISION = 0.02
"""Seconds per Whisper timestamp token (30 s / 1500 encoder positions)."""
SEEK_MIN_SECONDS = 1.0
"""Transformers path: a window whose segments end at least this long after it starts and before it ends, with
speech after them, is decoded again from their end (Whisper's long-form "seek")."""


class TranscriptSegment(NamedTuple):
    """One stretch of speech: ``(start, end, text)`` in seconds from the start of the audio."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[TranscriptSegment, ...]
    language: str | None
    """Language code Whisper detected (or was given), e.g. ``en``; None for English-only models."""
    model_id: str
    seconds: float = 0.0
    """Model time (loading excluded)."""
    chunks: int = 0
    """How many chunks were run through the model (silent ones are skipped)."""
    notes: tuple[Message, ...] = ()
    """What the user should know, e.g. that the offline model stood in for an unavailable one."""


def chunk_bounds(samples: np.ndarray, sample_rate: int, max_seconds: float) -> list[tuple[int, int]]:
    """Cut points ``[(start, end), …]`` covering ``samples`` in chunks of at most ``max_seconds``, each
    long chunk ending at the quietest frame of its last :data:`SEARCH_SECONDS`."""
    n = len(samples)
    limit = max(1, int(max_seconds * sample_rate))
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < n:
        end = start + limit
        if end >= n:
            bounds.append((start, n))
            break
        search_from = max(start + frame, end - int(min(SEARCH_SECONDS, max_seconds / 2) * sample_rate))
        levels = frame_levels_db(samples[search_from:end], sample_rate)
        if levels.size > 1:
            end = search_from + int(np.argmin(levels[:-1])) * frame + frame // 2  # the middle of the quietest frame
        bounds.append((start, end))
        start = end
    return bounds


def speech_windows(samples: np.ndarray, sample_rate: int, max_seconds: float) -> tuple[list[tuple[int, int]], str]:
    """Windows ``[(start, end), …]`` of at most ``max_seconds`` that cover the speech in ``samples`` (16 kHz),
    cut in pauses; and which detector found it (``Silero VAD`` or, if it cannot run, ``energy``)."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(**VAD_OPTIONS, max_speech_duration_s=max(1.0, max_seconds - 1))
        regions = get_speech_timestamps(samples.astype(np.float32, copy=False), options, sampling_rate=sample_rate)
    except Exception as err:  # not installed, or its model cannot load: the energy gate instead
        import logging

        logging.getLogger(__name__).warning("Silero VAD unavailable (%s): using the energy gate", err)
        voiced = voiced_frames(frame_levels_db(samples, sample_rate))
        frame = max(1, round(FRAME_SECONDS * sample_rate))
        chunks = [
            (a, b)
            for a, b in chunk_bounds(samples, sample_rate, max_seconds)
            if voiced[a // frame : max(a // frame + 1, -(-b // frame))].any()
        ]
        return chunks, "energy"
    limit = int(max_seconds * sample_rate)
    windows: list[tuple[int, int]] = []
    for region in regions:
        start, end = int(region["start"]), min(int(region["end"]), len(samples))
        if windows and end - windows[-1][0] <= limit:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, min(end, start + limit)))
    return windows, "Silero VAD"


SpeechFinder = Callable[[np.ndarray, int, float], tuple[list[tuple[int, int]], str]]
"""Where the speech is: ``(samples, sample_rate, max_seconds) → (windows, detector)``, as :func:`speech_windows`."""


def _parse(
    ids: Sequence[int], tokenizer: Any, timestamp_begin: int, eos: int | None, duration: float, precision: float
) -> list[TranscriptSegment]:
    """Whisper's output ``<|t0|> words <|t1|><|t1|> words <|t2|> …`` → segments within ``[0, duration]``.

    Robust to any token order (tiny random models emit anything): unclosed text ends at ``duration``,
    times are clamped into the chunk and made non-decreasing.
    """
    special = set(tokenizer.all_special_ids)
    segments: list[TranscriptSegment] = []
    start: float | None = None
    words: list[int] = []

    def close(end: float) -> None:
        text = " ".join(tokenizer.decode(words, skip_special_tokens=True).split())
        begin = min(max(start or 0.0, 0.0), duration)
        if segments:
            begin = max(begin, segments[-1].end)  # segments follow each other; they do not overlap
        if text:
            segments.append(TranscriptSegment(begin, min(max(end, begin), duration), text))
        words.clear()

    for token in ids:
        token = int(token)
        if token == eos:
            break
        if token >= timestamp_begin:
            time_ = (token - timestamp_begin) * precision
            if words:
                close(time_)
                start = None
            else:
                start = time_
        elif token not in special:
            words.append(token)
    if words:
        close(duration)
    return segments


def _last_timestamp(ids: Sequence[int], timestamp_begin: int, precision: float) -> float | None:
    """The time of the last timestamp in Whisper's output, where its segments end; None when its timestamps go
    back in time (tiny.en sometimes restarts at ``<|0.00|>`` for its last sentence: then nothing is certain)."""
    times = [(int(t) - timestamp_begin) * precision for t in ids if int(t) >= timestamp_begin]
    if not times or any(b < a for a, b in itertools.pairwise(times)):
        return None
    return times[-1]


@task("speech", files=("audio",))
def transcribe(
    audio: AudioSource | Audio | np.ndarray,
    sample_rate: int | None = None,
    *,
    language: str | None = None,
    chunk_seconds: float | None = None,
    batch_size: int = 4,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    find_speech: SpeechFinder | None = None,
) -> Transcript:
    """Transcribe speech of any length with segment timestamps.

    ``audio``: mono samples (``np.ndarray``, with ``sample_rate``), an :class:`~mmdemo.media.audio.Audio`,
    or anything :func:`~mmdemo.media.audio.load_audio` accepts (a path or :class:`~mmdemo.media.files.Upload`, bytes).
    ``language``: a code such as ``"en"`` to skip detection (:data:`LANGUAGE`; multilingual models only).
    ``chunk_seconds``: at most the model's window (30 s for Whisper; the default).
    ``find_speech``: where the speech of the whole recording is (default: :func:`speech_windows`); the audio
    emotion path passes its decision for the clip (:class:`~mmdemo.tasks.audio_emotion.SpeechDecision`), which
    runs Silero once per clip.
    """
    manager = manager or get_manager()
    language = LANGUAGE.check(language).strip() or None
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise InputError(Message("asr.no_sample_rate"))
        audio = Audio(np.asarray(audio, dtype=np.float32).reshape(-1), int(sample_rate), int(sample_rate), 1, "array")
    elif not isinstance(audio, Audio):
        audio = load_audio(audio, AudioLimits.from_settings(manager.settings))
    if not 1 <= int(batch_size) <= MAX_BATCH_SIZE:
        raise InputError(Message("asr.batch_size", limit=MAX_BATCH_SIZE))
    try:
        return _transcribe_role("asr", audio, language, chunk_seconds, int(batch_size), manager, progress, find_speech)
    except ModelUnavailableError as err:
        if OFFLINE_ROLE not in manager.specs:
            raise
        try:
            result = _transcribe_role(
                OFFLINE_ROLE, audio, language, chunk_seconds, int(batch_size), manager, progress, find_speech
            )
        except ModelUnavailableError:
            raise err from None
        note = Message("asr.offline_instead", reason=err.message, model=public_model_id(result.model_id))
        return dataclasses.replace(result, notes=(*result.notes, note))


OFFLINE_ROLE = "asr_offline"
"""Whisper converted to CTranslate2, shipped in a wheel: transcribes when the ``asr`` model cannot be had."""
CT2_DECODING: Mapping[str, Any] = MappingProxyType(
    {"beam_size": 5, "temperature": 0.0, "condition_on_previous_text": True}
)
"""How CTranslate2 decodes (faster-whisper's arguments): beam search over 5, conditioned on the previous text,
without the temperature fallback. Chosen by measurement (``benchmarks/whisper_decoding.py``; see
:func:`_ctranslate2_runtime`)."""
CT2_VAD_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"threshold": 0.5, "min_silence_duration_ms": 2000, "speech_pad_ms": 400}
)
"""Silero VAD settings of CTranslate2's long-form decoding (faster-whisper's own): only pauses of 2 s or more
are taken out of the speech it decodes."""
LOOP_COMPRESSION = 2.4
"""A CTranslate2 segment whose text compresses more than this (faster-whisper's own threshold for windows) is a
repetition loop: conditioned on the previous text, the loop feeds itself; the file is decoded again without it."""
NO_SPEECH = 0.6
"""A CTranslate2 window decoded after previous text, whose no-speech probability passes this (faster-whisper's
``no_speech_threshold``) but whose text the previous text made likely enough to keep (faster-whisper skips it only
below −1 average log probability), keeps that text only if its stretch, decoded alone without the previous text,
is heard as speech too: else it is the previous text continued (one sentence said seven times, on AMD's int8
kernels: an eighth "I sleep with a dagger." in the last 1.3 s, the end of the seventh "You understand?")."""
RUNTIME_FALLBACK_NOTE = Message("asr.runtime_fallback")
"""Said with a transcript when CTranslate2 failed at run time (the operator detail goes to the log)."""


class _Runtime(NamedTuple):
    """What differs between the two Whisper runtimes. Everything else — the windows, batches, language rules,
    progress, cancellation and the :class:`Transcript` — is shared (:func:`_transcribe_loaded`)."""

    rate: int
    window: float
    """The model's window in seconds (30 for Whisper)."""
    languages: tuple[str, ...]
    """Language codes a multilingual model knows; empty for English-only models."""
    detect: Callable[[np.ndarray], str]
    """The language of some speech (samples at ``rate``)."""
    decode: Callable[[np.ndarray, list[tuple[int, int]], str | None, Callable[[float], None]], list[TranscriptSegment]]
    """``decode(samples, windows, language, reached)``: one batch of windows → segments in seconds from the
    start; ``reached(seconds)`` reports progress within the batch."""
    whole_file: bool = False
    """Decode every window in one call (long-form decoding that moves on from the last complete segment)."""


def _transcribe_role(
    role: str,
    audio: Audio,
    language: str | None,
    chunk_seconds: float | None,
    batch_size: int,
    manager: ModelManager,
    progress: ProgressFn | None,
    find_speech: SpeechFinder | None = None,
) -> Transcript:
    """The one dispatch point: the model of ``role`` as loaded — transformers, or CTranslate2 (the offline
    model, and the ``asr`` model on the CPU fast path) — through the same windows and checks."""

    def run(handle: ModelHandle, runtime: _Runtime) -> Transcript:
        return _transcribe_loaded(handle, runtime, audio, language, chunk_seconds, batch_size, progress, find_speech)

    with manager.use(role, progress) as handle:
        if is_ctranslate2(handle.model):
            try:
                return run(handle, _ctranslate2_runtime(handle, long_form=chunk_seconds is None))
            except MMDemoError:
                raise
            except Exception as err:  # CTranslate2 failed on this recording
                handle = _transformers_instead(handle, err)
                result = run(handle, _transformers_runtime(handle))
                return dataclasses.replace(result, notes=(*result.notes, RUNTIME_FALLBACK_NOTE))
        runtime = _transformers_runtime(handle, shared=(manager, role))
    # The model is not held while the windows are decoded: each pass takes it (a shared pass, which other
    # visitors' windows may join on a Ray Serve replica, must not wait while this request holds the model).
    return run(handle, runtime)


def _transformers_instead(handle: ModelHandle, err: Exception) -> ModelHandle:
    """``handle`` with the transformers model behind its CTranslate2 model, which failed at run time with ``err``
    (:class:`~mmdemo.models.ctranslate2.TransformersFallback`); a clear error where there is none (the offline
    model) or it cannot load. The operator detail goes to the log."""
    failure = f"CTranslate2 failed at run time on {handle.model_id} ({type(err).__name__}: {err})"
    backup = handle.processor if isinstance(handle.processor, TransformersFallback) else None
    cause: Exception = err
    if backup is not None:
        log.warning("%s; transcribing with transformers", failure, exc_info=err)
        try:
            loaded = backup.switch()
        except Exception as load_err:
            failure += f"; loading transformers failed too ({type(load_err).__name__}: {load_err})"
            cause = load_err
        else:
            return dataclasses.replace(handle, model=loaded.model, processor=loaded.processor)
    log.error("%s", failure, exc_info=cause)
    shown = public_model_id(handle.model_id)
    raise MMDemoError(Message("asr.failed", model=shown), detail=failure) from cause


def is_ctranslate2(model: Any) -> bool:
    """Whether ``model`` is faster-whisper's (CTranslate2) rather than a transformers module."""
    return type(model).__module__.split(".")[0] == "faster_whisper"


def _transcribe_loaded(
    handle: ModelHandle,
    runtime: _Runtime,
    audio: Audio,
    language: str | None,
    chunk_seconds: float | None,
    batch_size: int,
    progress: ProgressFn | None,
    find_speech: SpeechFinder | None = None,
) -> Transcript:
    """Silero windows of the speech (``find_speech``, default :func:`speech_windows`), language checked (or
    detected once per file), windows decoded in batches with progress between them (a progress callback that
    raises cancels)."""
    rate = runtime.rate
    samples = audio.at_rate(rate).samples
    window = runtime.window
    if chunk_seconds is not None:
        if not 1 <= chunk_seconds <= window:
            raise InputError(Message("asr.chunk_seconds", limit=f"{window:g}"))
        window = float(chunk_seconds)
    chunks, _detector = (find_speech or speech_windows)(samples, rate, window)
    language = _check_language(language, runtime.languages, public_model_id(handle.model_id))

    began = time.perf_counter()
    segments: list[TranscriptSegment] = []
    if runtime.languages and not language and chunks:  # once per file, on the window with the most speech
        a, b = max(chunks, key=lambda c: c[1] - c[0])
        language = runtime.detect(samples[a:b])
    done, duration = 0, len(samples) / rate
    step = max(1, len(chunks)) if runtime.whole_file else batch_size

    def reached(seconds: float) -> None:
        if progress and duration:
            progress(min(seconds / duration, 1.0), f"Transcribing {_clock(seconds)} of {_clock(duration)}")

    for i in range(0, len(chunks), step):
        batch = chunks[i : i + step]
        if progress:
            progress(
                done / len(chunks),
                f"Transcribing {_clock(batch[0][0] / rate)}–{_clock(batch[-1][1] / rate)} of {_clock(duration)}",
            )
        segments.extend(runtime.decode(samples, batch, language, reached))
        done += len(batch)
    segments.sort(key=lambda seg: seg.start)
    segments = [s._replace(start=min(s.start, duration), end=min(s.end, duration)) for s in segments]  # (rounding)
    seconds = time.perf_counter() - began
    if progress and chunks:
        progress(1.0, "Transcribed")
    return Transcript(
        text=" ".join(s.text for s in segments),
        segments=tuple(segments),
        language=language,
        model_id=handle.model_id,
        seconds=seconds,
        chunks=len(chunks),
    )


def _check_language(language: str | None, languages: tuple[str, ...], shown: str) -> str | None:
    """The language code to use (None: detect, or an English-only model), or a clear refusal. An English-only
    model takes ``en`` (it is what it transcribes: the same request works whichever Whisper is configured and
    whichever runtime runs it) and refuses any other language."""
    if not language:
        return None
    language = language.strip().lower()
    if not languages:
        if language == "en":
            return None
        raise InputError(Message("asr.english_only", model=shown))
    if language not in languages:
        raise InputError(
            Message("asr.unknown_language", code=repr(language), model=shown, codes=", ".join(sorted(languages)))
        )
    return language


def whisper_tokens(pieces: list[tuple[np.ndarray, str | None]], *, manager: ModelManager, role: str) -> list[list[int]]:
    """The transformers runtime's pass: Whisper's tokens, timestamps included, for each ``(window, language)`` in
    ``pieces`` (samples at the model's rate; one language for all, the pass's key) in one ``generate``. A
    :func:`~mmdemo.runner.shared_pass`: on a Ray Serve replica, windows of other visitors' files in the same language
    join it. Each window is padded to Whisper's 30 s and decoded on its own row, so the others change nothing in
    its tokens."""
    languages = {language for _, language in pieces}
    if len(languages) > 1:
        raise ValueError(f"one Whisper pass decodes one language, not {sorted(map(str, languages))}")
    with manager.use(role) as handle:
        return _generate(handle, [piece for piece, _ in pieces], pieces[0][1])


def whisper_languages(speeches: list[np.ndarray], *, manager: ModelManager, role: str) -> list[str]:
    """The transformers runtime's language detection for each stretch of speech in ``speeches``, in one pass (a
    :func:`~mmdemo.runner.shared_pass`, as :func:`whisper_tokens`)."""
    with manager.use(role) as handle:
        return _detect(handle, speeches)


def _generate(handle: ModelHandle, pieces: list[np.ndarray], language: str | None) -> list[list[int]]:
    """Whisper's tokens for each window of ``pieces``: one ``generate``, at most the model's own number of tokens."""
    extractor = handle.processor.feature_extractor
    generation = handle.model.generation_config
    inputs = extractor(pieces, sampling_rate=int(extractor.sampling_rate), return_tensors="pt")
    kwargs: dict[str, Any] = {
        "input_features": handle.prepare(inputs)["input_features"],
        "return_timestamps": True,
        "max_length": max_decoding_length(
            getattr(handle.model.config, "max_target_positions", None), getattr(generation, "max_length", None)
        ),
    }
    if _multilingual(generation):
        kwargs["task"] = "transcribe"
        kwargs["language"] = language
    output = handle.model.generate(**kwargs)
    sequences = output if not hasattr(output, "sequences") else output.sequences
    return sequences.tolist()


def _detect(handle: ModelHandle, speeches: list[np.ndarray]) -> list[str]:
    extractor = handle.processor.feature_extractor
    generation = handle.model.generation_config
    features = handle.prepare(extractor(speeches, sampling_rate=int(extractor.sampling_rate), return_tensors="pt"))
    detected = handle.model.detect_language(input_features=features["input_features"])
    codes = _language_codes(generation)
    return [codes.get(int(i), "en") for i in detected.reshape(-1).tolist()]


def _multilingual(generation: Any) -> bool:
    return bool(getattr(generation, "is_multilingual", False)) and hasattr(generation, "lang_to_id")


def _language_codes(generation: Any) -> dict[int, str]:
    """Whisper's language token id → its code (``<|de|>`` → ``de``)."""
    return {i: t.strip("<|>") for t, i in getattr(generation, "lang_to_id", {}).items()}


def _transformers_runtime(handle: ModelHandle, shared: tuple[ModelManager, str] | None = None) -> _Runtime:
    """Whisper through transformers: ``generate`` on a batch of windows (:func:`whisper_tokens`), timestamps read
    by :func:`_parse`. A window whose timestamps end at least :data:`SEEK_MIN_SECONDS` before it does, with speech
    after them (Silero), is decoded again from there, batched with the others still going; not when the timestamps
    go back in time (:func:`_last_timestamp`), where the end is not known.

    ``shared``: the manager and role whose model ``handle`` is: each pass then takes the model itself, as a
    :func:`~mmdemo.runner.shared_pass` (windows of other visitors may join it on a Ray Serve replica). None (the
    transformers model behind a failed CTranslate2 one, which the manager does not hold as the role's): the passes
    run on ``handle``, which the caller holds."""
    extractor = handle.processor.feature_extractor
    tokenizer = handle.processor.tokenizer
    rate = int(extractor.sampling_rate)
    generation = handle.model.generation_config
    multilingual = _multilingual(generation)
    timestamp_begin = int(generation.no_timestamps_token_id) + 1
    hop = getattr(extractor, "hop_length", 160)
    precision = 2 * hop / rate if hop else DEFAULT_TIME_PRECISION  # Whisper's encoder halves the frame rate
    window = float(getattr(extractor, "chunk_length", 30) or 30)

    def detect(speech: np.ndarray) -> str:
        if shared is None:
            return _detect(handle, [speech])[0]
        manager, role = shared
        return shared_pass(
            whisper_languages, [speech], key=(handle.model_id,), limit=MAX_BATCH_SIZE, manager=manager, role=role
        )[0]

    def tokens(pieces: list[np.ndarray], language: str | None) -> list[list[int]]:
        if shared is None:
            return _generate(handle, pieces, language)
        manager, role = shared
        items = [(piece, language) for piece in pieces]
        key = (handle.model_id, language)
        return shared_pass(whisper_tokens, items, key=key, limit=MAX_BATCH_SIZE, manager=manager, role=role)

    seek_min = int(SEEK_MIN_SECONDS * rate)

    def decode(
        samples: np.ndarray, batch: list[tuple[int, int]], language: str | None, reached: Callable[[float], None]
    ) -> list[TranscriptSegment]:
        found: list[TranscriptSegment] = []
        while batch:
            sequences = tokens([samples[a:b] for a, b in batch], language if multilingual else None)
            unfinished: list[tuple[int, int]] = []
            for (a, b), ids in zip(batch, sequences, strict=True):
                parsed = _parse(ids, tokenizer, timestamp_begin, generation.eos_token_id, (b - a) / rate, precision)
                found.extend(_shift(x, a / rate) for x in parsed)
                end = _last_timestamp(ids, timestamp_begin, precision) if parsed else None
                seek = b if end is None else a + round(end * rate)
                if seek - a >= seek_min and b - seek >= seek_min and speech_windows(samples[seek:b], rate, window)[0]:
                    unfinished.append((seek, b))  # speech after the last segment: decode again from its end
            batch = unfinished
        return found

    languages = tuple(_language_codes(generation).values()) if multilingual else ()
    return _Runtime(rate, window, languages, detect, decode)


def _ctranslate2_runtime(handle: ModelHandle, long_form: bool = True) -> _Runtime:
    """Whisper through faster-whisper (CTranslate2): sequential long-form decoding of the speech Silero VAD finds
    (:data:`CT2_VAD_OPTIONS`), each 30 s window starting after the last complete segment; with ``long_form``
    false (``chunk_seconds`` given) the app's windows instead.

    How it decodes was chosen by measurement (``benchmarks/whisper_decoding.py``: every gradio clip with sound,
    espeak-ng's eight sentences, three talks and three long clips; 2 cores, on Intel's int8 kernels (MKL) and on
    those of AMD and AVX2-only CPUs (oneDNN, emulated)); the rule: never worse than plain faster-whisper with
    its defaults on any clip. Beam search over 5, conditioned on the previous text, only pauses of 2 s taken
    out (faster-whisper's own settings), no temperature fallback is the one that met it on both kernels (WER
    12.3 % and 12.0 % against faster-whisper's 12.7 % and 14.2 %, in about half its time). Greedy decoding
    (before) mis-heard gradio's ``cate_blanch_2.mp3`` on oneDNN and was worse on the talks, as were beams of 2
    and 3, and decoding without the previous text; taking out half-second pauses made ``cate_blanch.mp3`` wrong.
    faster-whisper's temperature fallback (sampling at 0.2–1.0 when a window's text compresses more than 2.4×)
    fires on every window of one sentence said seven times (57 s: 22 s instead of 4 s) and makes results
    random; what it guards against is handled here instead: the VAD keeps Whisper off noise and music, and a
    repetition loop (a segment compressing more than :data:`LOOP_COMPRESSION`, which the previous text feeds) is
    decoded again without the previous text; text in a window where Whisper found no speech likely is kept only if
    it hears speech there without the previous text too (:data:`NO_SPEECH`). Decoding is bounded by the model's
    own limit (``max_length``, set by :func:`~mmdemo.models.ctranslate2.load_faster_whisper`).
    """
    model = handle.model
    rate = int(model.feature_extractor.sampling_rate)
    languages = tuple(model.supported_languages) if model.model.is_multilingual else ()

    def detect(speech: np.ndarray) -> str:
        return str(model.detect_language(audio=speech)[0])

    def decode(
        samples: np.ndarray, batch: list[tuple[int, int]], language: str | None, reached: Callable[[float], None]
    ) -> list[TranscriptSegment]:
        where: dict[str, Any] = {"vad_filter": True, "vad_parameters": dict(CT2_VAD_OPTIONS)}
        if not long_form:
            where = {"vad_filter": False, "clip_timestamps": [t for a, b in batch for t in (a / rate, b / rate)]}
        language = language if languages else None
        segments = run(samples, {**CT2_DECODING, **where, "language": language}, reached)
        looping = [s for s in segments if _compression_ratio(s.text) > LOOP_COMPRESSION]
        if looping and CT2_DECODING.get("condition_on_previous_text", True):
            start, _end, text = looping[0]
            log.info("a repetition loop at %.1f s (%r): decoding again without the previous text", start, text[:60])
            segments = run(
                samples, {**CT2_DECODING, **where, "language": language, "condition_on_previous_text": False}, reached
            )
        return segments

    def run(samples: np.ndarray, options: dict[str, Any], reached: Callable[[float], None]) -> list[TranscriptSegment]:
        found, _info = model.transcribe(samples, without_timestamps=False, **options)  # timestamps, as transformers
        duration = len(samples) / rate
        segments: list[TranscriptSegment] = []
        unsure: dict[int, list[int]] = {}  # a window (its seek) where no speech was likely → its segments
        seek, previous = -1, 0  # the window being read; how many segments came before it (its previous text)
        for segment in found:  # a generator: decoding happens here
            if segment.seek != seek:
                seek, previous = segment.seek, len(segments)
            text = " ".join(segment.text.split())
            if text:
                begin = min(max(segment.start, 0.0), duration)
                if segments:
                    begin = max(begin, segments[-1].end)  # segments follow each other; they do not overlap
                segments.append(
                    TranscriptSegment(round(begin, 2), round(min(max(segment.end, begin), duration), 2), text)
                )
                conditioned = previous and options.get("condition_on_previous_text", True)
                if conditioned and segment.no_speech_prob > NO_SPEECH:
                    unsure.setdefault(seek, []).append(len(segments) - 1)
            reached(segment.end)
        unheard = {
            i
            for found_in in unsure.values()
            if not heard(samples, segments[found_in[0]].start, segments[found_in[-1]].end, options["language"])
            for i in found_in
        }
        for i in sorted(unheard):
            log.info("no speech at %.1f s without the previous text: dropping %r", segments[i].start, segments[i].text)
        return [s for i, s in enumerate(segments) if i not in unheard]

    def heard(samples: np.ndarray, start: float, end: float, language: str | None) -> bool:
        """Whether Whisper hears speech from ``start`` to ``end`` (seconds) decoded alone, without the previous
        text (:data:`NO_SPEECH`)."""
        alone = {**CT2_DECODING, "language": language, "condition_on_previous_text": False}
        found, _info = model.transcribe(
            samples, without_timestamps=False, vad_filter=False, clip_timestamps=[start, end], **alone
        )
        return any(s.text.strip() and s.no_speech_prob <= NO_SPEECH for s in found)

    window = float(model.feature_extractor.chunk_length or 30)
    return _Runtime(rate, window, languages, detect, decode, whole_file=True)


def _compression_ratio(text: str) -> float:
    """How much ``text`` shrinks with zlib: a repetition loop ("the sea, and the sea, and …") shrinks a lot."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _shift(segment: TranscriptSegment, offset: float) -> TranscriptSegment:
    return TranscriptSegment(round(segment.start + offset, 2), round(segment.end + offset, 2), segment.text)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
