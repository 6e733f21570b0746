"""Emotion labels in plain words: every model's labels are put into one set of words (``neu`` → ``neutral``,
``joy`` → ``happy``, ``sadness`` → ``sad`` …) once, by the data in :data:`LABEL_WORDS`, so that the voice result,
its timeline, the words result and the fused estimate all use the same words (:data:`EMOTION_WORDS`). The words are
identifiers in the results (API, CLI, evaluation); where a person reads one, :func:`emotion_word` says it in their
language, and :func:`labels_note` says what was renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..messages import KEY, Message, catalogue

EMOTION_WORDS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm")
"""The plain words every view uses, in the order results list them (words outside it follow, in model order)."""

LABEL_WORDS: dict[str, str] = {
    # the voice models: SUPERB emotion recognition (IEMOCAP codes), CREMA-D and RAVDESS codes
    "neu": "neutral",
    "hap": "happy",
    "exc": "happy",  # IEMOCAP practice: "excited" is merged into "happy"
    "sad": "sad",
    "ang": "angry",
    "fea": "fearful",
    "dis": "disgusted",
    "sur": "surprised",
    "cal": "calm",
    "fru": "frustrated",
    "oth": "other",
    # the words model (j-hartmann/emotion-english-distilroberta-base) and other spellings of the same words
    "neutral": "neutral",
    "joy": "happy",
    "joyful": "happy",
    "happiness": "happy",
    "happy": "happy",
    "excited": "happy",
    "sadness": "sad",
    "anger": "angry",
    "angry": "angry",
    "fear": "fearful",
    "fearful": "fearful",
    "disgust": "disgusted",
    "disgusted": "disgusted",
    "surprise": "surprised",
    "surprised": "surprised",
    "calm": "calm",
}
"""A model's label (any case) → the plain word shown everywhere. Labels it does not know keep their own name."""


def plain_word(label: str) -> str:
    """One model label in the shared plain words (:data:`LABEL_WORDS`); unknown labels lower-cased."""
    key = " ".join(str(label).split()).lower()
    return LABEL_WORDS.get(key, key)


def in_plain_words(probabilities: Mapping[str, float] | Iterable[tuple[str, float]]) -> dict[str, float]:
    """Probabilities per model label → per plain word (synonyms add up), in :data:`EMOTION_WORDS` order."""
    pairs = probabilities.items() if isinstance(probabilities, Mapping) else probabilities
    out: dict[str, float] = {}
    for label, p in pairs:
        word = plain_word(label)
        out[word] = out.get(word, 0.0) + float(p)
    order = {word: i for i, word in enumerate(EMOTION_WORDS)}
    return dict(sorted(out.items(), key=lambda item: order.get(item[0], len(order))))


def emotion_word(word: str) -> Message | str:
    """A plain word of the results (``happy``) as a person reads it, in their language (``emotion.word.happy``);
    a model's own label that the catalogue does not know stays as it is."""
    key = f"emotion.word.{word}"
    return Message(key) if KEY.match(key) and key in catalogue("en") else word


def word_list(words: Iterable[Any]) -> Message | str:
    """Words (messages or text) as one list a message shows: "fearful, disgusted" (Chinese: "恐惧、厌恶")."""
    items = list(words)
    if not items:
        return ""
    listed = items[-1]
    for item in reversed(items[:-1]):
        listed = Message("value.list", first=item, rest=listed)
    return listed


def model_labels(id2label: Mapping[Any, str]) -> list[str]:
    """The model's labels in id order, as its config spells them."""
    return [str(id2label[key]) for key in sorted(id2label, key=int)]


def renamed_labels(labels: Iterable[str]) -> dict[str, str]:
    """The labels whose plain word is not just their own name (``{"joy": "happy", "neu": "neutral"}``)."""
    return {label: plain_word(label) for label in labels if plain_word(label) != label.strip().lower()}


def labels_note(renamed: Mapping[str, Mapping[str, str]]) -> Message | str:
    """What was renamed, for the user: "Emotion names are shared by every view. Words model: joy → happy, …."
    ``renamed``: source (``voice``, ``words``) → :func:`renamed_labels`. Empty when nothing was renamed."""
    parts = [
        Message(
            f"emotion.renamed.{source}",
            names=word_list(Message("emotion.renamed.one", label=a, word=emotion_word(b)) for a, b in names.items()),
        )
        for source, names in renamed.items()
        if names
    ]
    if not parts:
        return ""
    both = parts[0] if len(parts) == 1 else Message("value.sentences", first=parts[0], rest=parts[1])
    return Message("emotion.renamed", parts=both)
