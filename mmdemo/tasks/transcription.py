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
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError, ModelUnavailableError
from ..media.audio import FRAME_SECONDS, Audio, AudioLimits, frame_levels_db, load_audio, voiced_frames
from ..models.hub import public_model_id
from ..models.manager import ModelManager, ProgressFn
from ..runtime import get_manager

SEARCH_SECONDS = 5.0
"""Fallback cuts (no VAD): a chunk ends at the quietest 25 ms within this many seconds before the window ends."""
VAD_OPTIONS = {"threshold": 0.5, "min_silence_duration_ms": 500, "speech_pad_ms": 200}
"""Silero VAD settings: a pause of half a second ends a speech region; regions keep 0.2 s of margin."""
DEFAULT_TIME_PRECISION = 0.02
"""Seconds per Whisper timestamp token (30 s / 1500 encoder positions)."""


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
    notes: tuple[str, ...] = ()
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


def transcribe(
    audio: Any,
    sample_rate: int | None = None,
    *,
    language: str | None = None,
    chunk_seconds: float | None = None,
    batch_size: int = 4,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> Transcript:
    """Transcribe speech of any length with segment timestamps.

    ``audio``: mono samples (``np.ndarray``, with ``sample_rate``), an :class:`~mmdemo.media.audio.Audio`,
    or anything :func:`~mmdemo.media.audio.load_audio` accepts (a path, Gradio's file dict, bytes).
    ``language``: a code such as ``"en"`` to skip detection (multilingual models only).
    ``chunk_seconds``: at most the model's window (30 s for Whisper; the default).
    """
    manager = manager or get_manager()
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise InputError("A sample rate is needed with raw audio samples.")
        audio = Audio(np.asarray(audio, dtype=np.float32).reshape(-1), int(sample_rate), int(sample_rate), 1, "array")
    elif not isinstance(audio, Audio):
        audio = load_audio(audio, AudioLimits.from_settings(manager.settings))
    if not 1 <= int(batch_size) <= 32:
        raise InputError("The batch size must be between 1 and 32 chunks.")
    try:
        return _transcribe_whisper(audio, language, chunk_seconds, int(batch_size), manager, progress)
    except ModelUnavailableError as err:
        if OFFLINE_ROLE not in manager.specs:
            raise
        try:
            result = _transcribe_ctranslate2(audio, language, manager, progress)
        except ModelUnavailableError:
            raise err from None
        note = (
            f"{err} The offline model {public_model_id(result.model_id)} transcribed instead "
            "(smaller: expect more mistakes)."
        )
        return dataclasses.replace(result, notes=(*result.notes, note))


def _transcribe_whisper(
    audio: Audio,
    language: str | None,
    chunk_seconds: float | None,
    batch_size: int,
    manager: ModelManager,
    progress: ProgressFn | None,
) -> Transcript:
    """Whisper through transformers (role ``asr``), chunked and batched as described above."""
    with manager.use("asr", progress) as handle:
        extractor = handle.processor.feature_extractor
        tokenizer = handle.processor.tokenizer
        rate = int(extractor.sampling_rate)
        samples = audio.at_rate(rate).samples
        window = float(getattr(extractor, "chunk_length", 30) or 30)
        if chunk_seconds is not None:
            if not 1 <= chunk_seconds <= window:
                raise InputError(f"Chunks must be between 1 and {window:g} seconds long for this model.")
            window = float(chunk_seconds)
        chunks, _detector = speech_windows(samples, rate, window)
        generation = handle.model.generation_config
        multilingual = bool(getattr(generation, "is_multilingual", False)) and hasattr(generation, "lang_to_id")
        id_to_language = {i: t.strip("<|>") for t, i in getattr(generation, "lang_to_id", {}).items()}
        if language:
            language = language.strip().lower()
            shown = public_model_id(handle.model_id)
            if not multilingual:
                raise InputError(f"The speech model {shown} is English-only: leave the language unset.")
            if language not in id_to_language.values():
                known = ", ".join(sorted(id_to_language.values()))
                raise InputError(f"Unknown language code {language!r} for {shown}; use one of: {known}.")
        timestamp_begin = int(generation.no_timestamps_token_id) + 1
        hop = getattr(extractor, "hop_length", 160)
        precision = 2 * hop / rate if hop else DEFAULT_TIME_PRECISION  # Whisper's encoder halves the frame rate

        began = time.perf_counter()
        segments: list[TranscriptSegment] = []
        if multilingual and not language and chunks:  # once per file, on the window with the most speech
            a, b = max(chunks, key=lambda c: c[1] - c[0])
            features = handle.prepare(extractor([samples[a:b]], sampling_rate=rate, return_tensors="pt"))
            detected = handle.model.detect_language(input_features=features["input_features"])
            language = id_to_language.get(int(detected[0]), "en")
        batches = [chunks[i : i + int(batch_size)] for i in range(0, len(chunks), int(batch_size))]
        done = 0
        for batch in batches:
            if progress:
                progress(
                    done / len(chunks),
                    f"Transcribing {_clock(batch[0][0] / rate)}–{_clock(batch[-1][1] / rate)} "
                    f"of {_clock(len(samples) / rate)}",
                )
            inputs = extractor([samples[a:b] for a, b in batch], sampling_rate=rate, return_tensors="pt")
            kwargs: dict[str, Any] = {
                "input_features": handle.prepare(inputs)["input_features"],
                "return_timestamps": True,
            }
            if multilingual:
                kwargs["task"] = "transcribe"
                kwargs["language"] = language
            output = handle.model.generate(**kwargs)
            sequences = output if not hasattr(output, "sequences") else output.sequences
            for (a, b), ids in zip(batch, sequences.tolist(), strict=True):
                found = _parse(ids, tokenizer, timestamp_begin, generation.eos_token_id, (b - a) / rate, precision)
                segments.extend(_shift(x, a / rate) for x in found)
            done += len(batch)
        segments.sort(key=lambda seg: seg.start)
        seconds = time.perf_counter() - began
        if progress and chunks:
            progress(1.0, "Transcribed")
        detected_language = language
        return Transcript(
            text=" ".join(s.text for s in segments),
            segments=tuple(segments),
            language=detected_language,
            model_id=handle.model_id,
            seconds=seconds,
            chunks=len(chunks),
        )


OFFLINE_ROLE = "asr_offline"
"""Whisper converted to CTranslate2, shipped in a wheel: transcribes when the ``asr`` model cannot be had."""


def _transcribe_ctranslate2(
    audio: Audio, language: str | None, manager: ModelManager, progress: ProgressFn | None
) -> Transcript:
    """faster-whisper (role ``asr_offline``): it chunks long audio itself (30 s windows, with timestamps)."""
    samples = audio.at_rate(16_000).samples
    with manager.use(OFFLINE_ROLE, progress) as handle:
        model = handle.model
        if language and not model.model.is_multilingual and language.strip().lower() != "en":
            shown = public_model_id(handle.model_id)
            raise InputError(f"The speech model {shown} is English-only: leave the language unset.")
        began = time.perf_counter()
        found, info = model.transcribe(
            samples,
            language=(language or None) if model.model.is_multilingual else None,
            beam_size=1,
            vad_filter=True,  # the same Silero VAD and settings as the transformers path (no text on music/noise)
            vad_parameters=VAD_OPTIONS,
            condition_on_previous_text=False,  # avoids the repetition loops Whisper falls into on noise
        )
        segments: list[TranscriptSegment] = []
        duration = len(samples) / 16_000
        for segment in found:  # a generator: decoding happens here
            text = " ".join(segment.text.split())
            if text:
                segments.append(TranscriptSegment(round(segment.start, 2), round(min(segment.end, duration), 2), text))
            if progress and duration:
                progress(min(segment.end / duration, 1.0), f"Transcribing {_clock(segment.end)} of {_clock(duration)}")
        return Transcript(
            text=" ".join(s.text for s in segments),
            segments=tuple(segments),
            language=info.language if model.model.is_multilingual else "en",
            model_id=handle.model_id,
            seconds=time.perf_counter() - began,
            chunks=max(1, -(-round(duration) // 30)) if segments else 0,
        )


def _shift(segment: TranscriptSegment, offset: float) -> TranscriptSegment:
    return TranscriptSegment(round(segment.start + offset, 2), round(segment.end + offset, 2), segment.text)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
