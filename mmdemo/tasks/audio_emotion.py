"""Emotion in speech: from the voice (acoustic classifier over sliding windows), from the words
(speech recognition + a text emotion classifier) and both fused.

Shape shared by every task module: inputs → preprocess (decode, validate, decide once whether and where
there is speech: :class:`SpeechDecision`) → models (through the manager: ``emotion``, then ``asr``, then
``text_emotion``) → postprocess (model labels in plain words, averaging, fusion) → a frozen :class:`EmotionResult`.

Labels always come from each model's ``config.id2label`` and are put into plain words *once*, by the data
in :data:`~mmdemo.tasks.emotion_labels.LABEL_WORDS` (``neu`` → ``neutral``, ``joy`` → ``happy``, ``sadness`` →
``sad`` …): the voice result, its timeline, the words result and the fused estimate all use the same words (see
:mod:`mmdemo.tasks.emotion_labels`), so "sad" and "sadness" never appear side by side. Synonyms from one model add up;
a label the map does not know keeps its own (lower-cased) name. What was renamed is stated to the user:
:attr:`EmotionResult.renamed` and :attr:`EmotionResult.labels_note`. The words are identifiers in the results
(API, CLI, evaluation); where a person reads one, :func:`emotion_word` says it in their language.

The options are declared here, once (:data:`WINDOW_SECONDS`, :data:`HOP_SECONDS`, :data:`USE_TRANSCRIPT`,
:data:`TEXT_WEIGHT`, and the speech language :data:`~mmdemo.tasks.transcription.LANGUAGE`): the page's widgets,
the API gate, the command line's options and the API/MCP help are built from them, and
:meth:`AnalysisOptions.validated` checks them, with the one check between them (the hop at most the window).

Late fusion: both distributions are restricted to the words *both* models have, renormalised, and averaged
with weight ``text_weight`` for the text side. Probability the text model gives to words the voice model
lacks (e.g. ``fearful``, ``disgusted``, ``surprised`` for the default four-class voice model) is left out of
the fused estimate but shown in the text result.

When a model cannot be loaded (offline, missing) the analysis keeps everything that does not depend on
it and names *every* missing model in ``notes``: without the voice model there is no timeline, without
speech recognition or the text model no emotion of the words, and with neither emotion model no estimate
at all (``fused`` is None) — the transcript, pitch, loudness and the decoded audio are still returned.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, ModelUnavailableError
from ..media.audio import Audio, AudioLimits, AudioSource, Loudness, load_audio
from ..messages import Message
from ..models.manager import ModelManager
from ..params import Flag, Number
from ..progress import ProgressFn, sub_range
from ..runner import shared_pass, task
from ..runtime import get_manager
from . import prosody, transcription
from .emotion_labels import (  # noqa: F401 (the labels' words are named from here too)
    EMOTION_WORDS,
    LABEL_WORDS,
    emotion_word,
    in_plain_words,
    labels_note,
    model_labels,
    plain_word,
    renamed_labels,
    word_list,
)
from .prosody import Prosody, analyze_prosody
from .transcription import LANGUAGE, Transcript, transcribe

WINDOW_SECONDS = Number(
    "window_seconds",
    "Window (s)",
    3.0,
    minimum=0.5,
    maximum=30,
    step=0.5,
    info="Seconds of voice per estimate.",
    doc="seconds of voice per estimate",
)
HOP_SECONDS = Number(
    "hop_seconds",
    "Hop (s)",
    1.5,
    minimum=0.1,
    maximum=30,
    step=0.1,
    info="Seconds between windows; at most the window.",
    doc="seconds between window starts (at most the window)",
)
USE_TRANSCRIPT = Flag(
    "use_transcript",
    "Also judge the words",
    True,
    info="Transcribe and fuse.",
    doc="also transcribe the speech and judge the words",
)
TEXT_WEIGHT = Number(
    "text_weight",
    "Weight of the words in the overall estimate",
    0.5,
    minimum=0,
    maximum=1,
    step=0.05,
    doc="weight of the words in the overall estimate (0 = voice only, 1 = words only)",
)
OPTIONS = (WINDOW_SECONDS, HOP_SECONDS, USE_TRANSCRIPT, TEXT_WEIGHT)
"""What the page and the API take, in their order (the language is detected there)."""

MIN_VOICED_SECONDS = 0.1
"""A window counts as speech when it has this much sound (or sound in half of it, if shorter)."""
MAX_WINDOWS = 2000
MAX_BATCH_SIZE = 64
SPEECH_RATE = 16_000
"""Speech is decided at 16 kHz, the rate of every default model (and of Whisper)."""


@dataclass(frozen=True)
class AnalysisOptions:
    """Sliding windows for the voice, whether to use the words, and how much they weigh."""

    window_seconds: float = WINDOW_SECONDS.default
    hop_seconds: float = HOP_SECONDS.default
    use_transcript: bool = USE_TRANSCRIPT.default
    text_weight: float = TEXT_WEIGHT.default
    """Weight of the text emotion in the fused estimate (0 = voice only, 1 = words only)."""
    language: str | None = LANGUAGE.default
    """Language code for speech recognition; None = detect."""
    batch_size: int = 8
    """Windows per forward pass of the voice model (bounds memory on long audio)."""

    def validated(self) -> AnalysisOptions:
        """Each option checked by its declaration (:data:`WINDOW_SECONDS` …: the API gate runs the same checks),
        and the one check between two of them, here only: the hop at most the window. Refusals are keyed
        (:class:`~mmdemo.errors.InputError` with a :class:`~mmdemo.messages.Message`): English for the CLI and API
        clients, the visitor's language on the page."""
        window, hop = WINDOW_SECONDS.check(self.window_seconds), HOP_SECONDS.check(self.hop_seconds)
        if hop > window:
            raise InputError(
                Message(
                    "value.not_above",
                    field=HOP_SECONDS.field,
                    other=WINDOW_SECONDS.field,
                    got=f"{hop:g}",
                    limit=f"{window:g}",
                )
            )
        weight, use_transcript = TEXT_WEIGHT.check(self.text_weight), USE_TRANSCRIPT.check(self.use_transcript)
        if not 1 <= int(self.batch_size) <= MAX_BATCH_SIZE:  # the library's only (memory per forward pass)
            raise InputError(Message("emotion.batch_size", limit=MAX_BATCH_SIZE))
        language = LANGUAGE.check(self.language).strip() or None
        return AnalysisOptions(window, hop, use_transcript, weight, language, int(self.batch_size))


@dataclass(frozen=True)
class WindowEmotion:
    """One window of the voice timeline; ``probabilities`` is None where there was no speech."""

    start: float
    end: float
    probabilities: Mapping[str, float] | None

    @property
    def voiced(self) -> bool:
        return self.probabilities is not None


@dataclass(frozen=True)
class EmotionResult:
    fused: dict[str, float] | None
    """The overall estimate in plain words (sums to 1): voice and words fused, or whichever is available;
    None when neither the voice nor the words could be classified (models missing)."""
    acoustic: dict[str, float] | None
    """From the voice, averaged over the windows with speech (plain words); None if unavailable."""
    text: dict[str, float] | None
    """From the transcript (plain words); None without a transcript or text model."""
    windows: tuple[WindowEmotion, ...]
    """The voice timeline, one entry per window (empty when the voice model is unavailable)."""
    transcript: Transcript | None
    duration: float
    sources: tuple[str, ...]
    """What the fused estimate rests on: ``("voice", "words")``, ``("voice",)``, ``("words",)`` or ``()``."""
    notes: tuple[Message, ...]
    """What the user should know: unavailable models, skipped steps, a truncated file …"""
    model_ids: dict[str, str]
    seconds: float
    """Model time of all steps (loading excluded)."""
    audio: Audio = field(repr=False, compare=False)
    """The decoded input (for a waveform or spectrogram view)."""
    prosody: Prosody | None = field(default=None, repr=False, compare=False)
    """Pitch contour, loudness and speaking rate: how it was said (no model needed)."""
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)
    """Which model labels were put into which plain words: ``{"voice": {"neu": "neutral", …}, "words": {"joy":
    "happy", …}}`` (only the models that ran, only the labels that changed)."""
    speech: SpeechDecision | None = field(default=None, repr=False, compare=False)
    """The clip's one speech decision: its loudness, the voice windows with speech, where the words are."""

    @property
    def labels_note(self) -> Message | str:
        """The renaming as one sentence for the user (see :func:`labels_note`); empty when nothing was renamed."""
        return labels_note(self.renamed)

    @property
    def top(self) -> str | None:
        """The most likely emotion, or None without an estimate."""
        return max(self.fused, key=self.fused.__getitem__) if self.fused else None


# --- labels and fusion ---------------------------------------------------------------------------


def fuse(
    acoustic: Mapping[str, float] | None, text: Mapping[str, float] | None, text_weight: float
) -> dict[str, float]:
    """Late fusion on the plain words both sides have (see the module docstring). Sums to 1. Model labels
    are put into plain words first, so raw and plain distributions fuse alike."""
    if acoustic is None and text is None:
        raise ValueError("nothing to fuse")
    if text is None or (acoustic is not None and text_weight <= 0):
        return _normalised(in_plain_words(acoustic or {}))
    if acoustic is None or text_weight >= 1:
        return _normalised(in_plain_words(text))
    a, t = in_plain_words(acoustic), in_plain_words(text)
    shared = [label for label in a if label in t]
    if not shared:
        return _normalised(a)
    a_sum, t_sum = sum(a[k] for k in shared), sum(t[k] for k in shared)
    return _normalised(
        {k: (1 - text_weight) * a[k] / max(a_sum, 1e-12) + text_weight * t[k] / max(t_sum, 1e-12) for k in shared}
    )


def _normalised(probabilities: Mapping[str, float]) -> dict[str, float]:
    total = sum(probabilities.values())
    if total <= 0:
        return {k: 1 / len(probabilities) for k in probabilities}
    return {k: v / total for k, v in probabilities.items()}


def _distribution(logits: Any, config: Any) -> np.ndarray:
    """Class probabilities; multi-label models (sigmoid per label) are normalised to sum to 1."""
    import torch

    logits = logits.float()
    if getattr(config, "problem_type", None) == "multi_label_classification":
        scores = torch.sigmoid(logits)
        return (scores / scores.sum(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()
    return torch.softmax(logits, dim=-1).cpu().numpy()


# --- windows -------------------------------------------------------------------------------------


def window_bounds(n_samples: int, sample_rate: int, window_seconds: float, hop_seconds: float) -> list[tuple[int, int]]:
    """Sliding windows ``[(start, end), …]`` in samples: every ``hop``, each ``window`` long; the last one is
    aligned to the end of the audio, so the tail is covered by a full window. Audio shorter than one window
    is one window."""
    window = max(1, round(window_seconds * sample_rate))
    hop = max(1, round(hop_seconds * sample_rate))
    if n_samples <= window:
        return [(0, n_samples)]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return [(s, s + window) for s in starts]


def min_input_samples(config: Any) -> int:
    """The shortest input a wav2vec2-style model accepts: its convolutional front end's receptive field."""
    kernels, strides = getattr(config, "conv_kernel", None), getattr(config, "conv_stride", None)
    if not kernels or not strides:
        return 400
    field_, jump = 1, 1
    for kernel, stride in zip(kernels, strides, strict=False):
        field_ += (kernel - 1) * jump
        jump *= stride
    return field_


# --- speech: decided once per clip -----------------------------------------------------------------


@dataclass(frozen=True)
class SpeechDecision:
    """Whether and where a clip has speech, decided once (:func:`decide_speech`) and handed to every step that
    needs it, so that none decides again:

    * ``loudness``: measured once (20 ms frames, one per pitch hop); prosody and the loudness plot show it;
    * ``voiced``: the voice windows with at least :data:`MIN_VOICED_SECONDS` of sound; the voice model classifies
      these only, and a clip with none is refused ("No speech detected") whichever models are installed;
    * :meth:`speech_windows`: where the words are, for speech recognition: Silero VAD, run once per clip when
      transcription asks. Whisper needs that stricter test (it writes words on noise and music, which have sound);
      the voice does not (a cheer has an emotion but no words).
    """

    loudness: Loudness
    windows: tuple[tuple[int, int], ...]
    """The voice windows (:func:`window_bounds` of the options), in samples at ``loudness.sample_rate``."""
    voiced: tuple[bool, ...]
    """Which windows have speech."""
    _words: dict[tuple[int, float, int], tuple[list[tuple[int, int]], str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def found(self) -> bool:
        """Is there speech: at least one window has some."""
        return any(self.voiced)

    def windows_at(self, rate: int, n_samples: int) -> list[tuple[int, int]]:
        """The voice windows in samples at ``rate`` (a model's), the last one ending at ``n_samples``."""
        own = self.loudness.sample_rate
        if rate == own:
            return list(self.windows)
        end = self.windows[-1][1]
        return [
            (round(a * rate / own), n_samples if b == end else min(round(b * rate / own), n_samples))
            for a, b in self.windows
        ]

    def speech_windows(
        self, samples: np.ndarray, sample_rate: int, max_seconds: float
    ) -> tuple[list[tuple[int, int]], str]:
        """Where the words are (a :data:`~mmdemo.tasks.transcription.SpeechFinder` for :func:`transcribe`): Silero VAD
        (:func:`~mmdemo.tasks.transcription.speech_windows`) on this clip, run once per rate and window length."""
        key = (int(sample_rate), float(max_seconds), len(samples))
        if key not in self._words:
            self._words[key] = transcription.speech_windows(samples, sample_rate, max_seconds)
        windows, detector = self._words[key]
        return list(windows), detector


def decide_speech(audio: Audio, options: AnalysisOptions) -> SpeechDecision:
    """The one speech decision for ``audio`` (at :data:`SPEECH_RATE`) and the windows of ``options``."""
    rate = audio.sample_rate
    loudness = Loudness.measure(audio.samples, rate, prosody.HOP_SECONDS)
    bounds = window_bounds(len(audio.samples), rate, options.window_seconds, options.hop_seconds)
    seconds = loudness.sound_seconds(bounds, rate)
    voiced = tuple(
        bool(s >= min(MIN_VOICED_SECONDS, 0.5 * (b - a) / rate)) for s, (a, b) in zip(seconds, bounds, strict=True)
    )
    return SpeechDecision(loudness, tuple(bounds), voiced)


# --- the steps -----------------------------------------------------------------------------------


def _acoustic(
    audio: Audio,
    speech: SpeechDecision,
    options: AnalysisOptions,
    manager: ModelManager,
    progress: ProgressFn | None,
    notes: list[Message],
) -> tuple[dict[str, float], tuple[WindowEmotion, ...], str, float, list[str]]:
    """The voice on the windows ``speech`` found speech in: (overall, timeline, model id, model seconds, the
    model's own labels). The windows go through the model ``options.batch_size`` at a time, each batch a
    :func:`~mmdemo.runner.shared_pass` of :func:`voice_rows` (on a Ray Serve replica, with other visitors' windows
    of the same length): the model is taken here only to read what the windows need, and not held while a batch
    waits for its pass."""
    with manager.use("emotion", progress) as handle:
        rate = int(handle.processor.sampling_rate)
        labels = model_labels(handle.model.config.id2label)
        minimum = min_input_samples(handle.model.config)
        model_id = handle.model_id
    samples = audio.at_rate(rate).samples
    if len(speech.windows) > MAX_WINDOWS:
        raise InputError(Message("emotion.too_many_windows", count=len(speech.windows), limit=MAX_WINDOWS))
    bounds = speech.windows_at(rate, len(samples))
    todo = [i for i, v in enumerate(speech.voiced) if v]  # not empty: a clip without speech was refused
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
        # Windows of other requests share the pass only with the same model and window lengths: no window is
        # padded to another's length (wav2vec2-base has no attention mask: padding changes its probabilities).
        key = (model_id, tuple(sorted({len(piece) for piece in arrays})))
        rows = shared_pass(voice_rows, arrays, key=key, limit=MAX_BATCH_SIZE, manager=manager)
        for i, row in zip(batch, rows, strict=True):
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
    return overall, windows, model_id, seconds, labels


def voice_rows(pieces: list[np.ndarray], *, manager: ModelManager) -> list[np.ndarray]:
    """The voice model's probabilities (in its own labels' order) for each window in ``pieces`` (samples at its
    rate, at least its minimum input), in one forward pass; pieces of different lengths are padded to the longest."""
    with manager.use("emotion") as handle:
        extractor = handle.processor
        inputs = extractor(pieces, sampling_rate=int(extractor.sampling_rate), return_tensors="pt", padding=True)
        logits = handle.model(**handle.prepare(inputs)).logits
        return list(_distribution(logits, handle.model.config))


def _text_emotion(
    transcript: Transcript, manager: ModelManager, progress: ProgressFn | None, batch_size: int = 16
) -> tuple[dict[str, float], str, float, list[str]]:
    """Classify the transcript: in pieces of whole segments that fit the model, averaged by length.
    Returns (probabilities in plain words, model id, model seconds, the model's own labels)."""
    with manager.use("text_emotion", progress) as handle:
        tokenizer = handle.processor
        limit = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
        budget = max(8, limit - 2)  # room for the special tokens
        pieces: list[str] = []
        lengths: list[int] = []
        texts = [s.text for s in transcript.segments] or [transcript.text]
        counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        for text, count in zip(texts, counts, strict=True):
            if pieces and lengths[-1] + count <= budget:
                pieces[-1] += " " + text
                lengths[-1] += count
            else:
                pieces.append(text)
                lengths.append(count)
        labels = model_labels(handle.model.config.id2label)
        began = time.perf_counter()
        rows = []
        for first in range(0, len(pieces), batch_size):
            inputs = tokenizer(
                pieces[first : first + batch_size],
                truncation=True,  # a single segment longer than the model's limit
                max_length=limit,
                padding=True,
                return_tensors="pt",
            )
            rows.append(_distribution(handle.model(**handle.prepare(inputs)).logits, handle.model.config))
        weights = np.minimum(np.array(lengths, dtype=np.float64), budget) + 1
        mean = (np.concatenate(rows) * weights[:, None]).sum(axis=0) / weights.sum()
        probabilities = in_plain_words(zip(labels, map(float, mean / mean.sum()), strict=True))
        return probabilities, handle.model_id, time.perf_counter() - began, labels


_NO_SPEECH = Message("emotion.no_speech")


def _unavailable(err: ModelUnavailableError, consequence: str) -> Message:
    """A model that could not be loaded, and what the result lacks for it (``emotion.without.<consequence>``)."""
    return Message(f"emotion.without.{consequence}", reason=err.message)


@task("speech", files=("audio",))
def analyze_emotion(
    audio: AudioSource | Audio | tuple[int, np.ndarray],
    *,
    options: AnalysisOptions = AnalysisOptions(),
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> EmotionResult:
    """Estimate the emotion in a speech recording, overall and over time.

    ``audio``: a path (an :class:`~mmdemo.media.files.Upload` too), bytes, a ``(sample_rate, array)`` tuple or an
    :class:`~mmdemo.media.audio.Audio`. Raises :class:`~mmdemo.errors.InputError` for unusable input
    (empty, corrupt, unsupported, over the limits, or without speech).
    """
    manager = manager or get_manager()
    options = options.validated()
    audio = load_audio(audio, AudioLimits.from_settings(manager.settings))
    audio16 = audio.at_rate(SPEECH_RATE)  # the rate of every default model
    speech = decide_speech(audio16, options)  # the only place speech is decided; every step below reads it
    if not speech.found:
        raise InputError(_NO_SPEECH)

    notes: list[Message] = list(audio.warnings)
    model_ids: dict[str, str] = {}
    renamed: dict[str, dict[str, str]] = {}
    seconds = 0.0
    acoustic_end = 0.45 if options.use_transcript else 1.0
    acoustic: dict[str, float] | None = None
    windows: tuple[WindowEmotion, ...] = ()
    try:
        acoustic, windows, model_ids["emotion"], took, labels = _acoustic(
            audio16, speech, options, manager, sub_range(progress, 0.0, acoustic_end), notes
        )
        renamed["voice"] = renamed_labels(labels)
        seconds += took
    except ModelUnavailableError as err:
        notes.append(_unavailable(err, "voice"))

    transcript: Transcript | None = None
    text: dict[str, float] | None = None
    if options.use_transcript:
        try:
            transcript = transcribe(
                audio16,
                language=options.language,
                manager=manager,
                progress=sub_range(progress, acoustic_end, 0.9),
                find_speech=speech.speech_windows,
            )
            model_ids["asr"] = transcript.model_id
            seconds += transcript.seconds
            notes.extend(transcript.notes)
        except ModelUnavailableError as err:
            notes.append(_unavailable(err, "transcript"))
        if transcript is not None and not transcript.text.strip():
            notes.append(Message("emotion.no_words"))
        elif transcript is not None:
            try:
                text, model_ids["text_emotion"], took, labels = _text_emotion(
                    transcript, manager, sub_range(progress, 0.9, 1.0)
                )
                renamed["words"] = renamed_labels(labels)
                seconds += took
            except ModelUnavailableError as err:
                notes.append(_unavailable(err, "words"))
    if acoustic is None and text is None:
        notes.insert(len(audio.warnings), Message("emotion.no_estimate"))

    weight = options.text_weight
    sources = (
        tuple(
            name for name, part, used in (("voice", acoustic, weight < 1), ("words", text, weight > 0)) if part and used
        )
        or tuple(name for name, part in (("voice", acoustic), ("words", text)) if part)[:1]
    )
    if acoustic is not None and text is not None and 0 < weight < 1:
        a, t = acoustic, text
        left_out = sorted(set(t) - set(a))
        if not set(a) & set(t):
            notes.append(Message("emotion.no_shared_labels"))
            sources = ("voice",)
        elif left_out:
            notes.append(Message("emotion.left_out", labels=word_list(map(emotion_word, left_out))))
    if progress:
        progress(1.0, "Done")
    return EmotionResult(
        fused=fuse(acoustic, text, weight) if acoustic is not None or text is not None else None,
        acoustic=acoustic,
        text=text,
        windows=windows,
        transcript=transcript,
        duration=audio.duration,
        sources=sources,
        notes=tuple(dict.fromkeys(notes)),
        model_ids=model_ids,
        seconds=seconds,
        audio=audio16,
        renamed=renamed,
        prosody=analyze_prosody(
            audio16.samples,
            audio16.sample_rate,
            len(transcript.text.split()) if transcript is not None else None,
            loudness=speech.loudness,
        ),
        speech=speech,
    )
