"""Image captioning (optionally conditioned on a text prefix) and visual question answering.

Shape shared by every task module: inputs → preprocess (decode + validate) → model (through the
manager) → postprocess (clean text) → a frozen result dataclass.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, MMDemoError
from ..media.image import ImageLimits, load_image
from ..messages import Message
from ..models.manager import ModelManager
from ..params import Number, Text
from ..progress import ProgressFn
from ..runner import task
from ..runtime import get_manager
from .chapters import worth_reading
from .ocr import read_texts

PREFIX = Text(
    "prefix",
    "Start the caption with",
    "",
    max_length=200,
    placeholder="e.g. a photograph of",
    doc='optional first words for the caption to continue, e.g. "a painting of"',
)
MAX_NEW_TOKENS = Number(
    "max_new_tokens",
    "Maximum length (tokens)",
    30,
    minimum=5,
    maximum=100,
    integer=True,
    doc="longest caption, in tokens",
)
MIN_NEW_TOKENS = Number(
    "min_new_tokens",
    "Minimum length (tokens)",
    0,
    minimum=0,
    maximum=40,
    integer=True,
    info="Raise for more detail.",
    doc="shortest caption, in tokens (at most the maximum); raise it for more detail",
)
NUM_BEAMS = Number(
    "num_beams",
    "Beams",
    3,
    minimum=1,
    maximum=8,
    integer=True,
    info="More: more careful, slower.",
    doc="beam-search width: more is more careful and slower",
)
QUESTION = Text(
    "question",
    "Question",
    "",
    max_length=300,
    placeholder="e.g. What animal is this?",
    info="Short answers: yes, two, red…",
    doc='the question, e.g. "What colour is the car?"',
)
MAX_PREFIX_CHARS = PREFIX.max_length
MAX_QUESTION_CHARS = QUESTION.max_length
# BLIP (large especially) was trained on web alt-text and sometimes opens with these non-words.
_ARTEFACTS = re.compile(r"^(?:arafed|araffe|arafe|araf)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class DecodingOptions:
    """How text is generated: beam search with a length window."""

    max_new_tokens: int = MAX_NEW_TOKENS.default
    min_new_tokens: int = MIN_NEW_TOKENS.default
    num_beams: int = NUM_BEAMS.default

    def validated(self) -> DecodingOptions:
        """Checked by the declarations (:data:`MAX_NEW_TOKENS` …), the minimum at most the maximum."""
        longest, shortest = MAX_NEW_TOKENS.check(self.max_new_tokens), MIN_NEW_TOKENS.check(self.min_new_tokens)
        if shortest > longest:
            raise InputError(
                Message(
                    "value.not_above",
                    field=MIN_NEW_TOKENS.field,
                    other=MAX_NEW_TOKENS.field,
                    got=shortest,
                    limit=longest,
                )
            )
        return DecodingOptions(longest, shortest, NUM_BEAMS.check(self.num_beams))

    def generate_kwargs(self) -> dict[str, int]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "num_beams": self.num_beams,
        }


@dataclass(frozen=True)
class CaptionResult:
    text: str
    prefix: str
    model_id: str
    seconds: float
    """Model time for the whole batch this caption was part of (loading excluded)."""


@dataclass(frozen=True)
class AnswerResult:
    question: str
    answer: str
    model_id: str
    seconds: float
    """Model time for the whole batch this answer was part of (loading excluded)."""


def _clean(text: str) -> str:
    text = _ARTEFACTS.sub("", " ".join(text.split()))
    return text[:1].upper() + text[1:]


def _decode(handle: Any, output_ids: Any) -> list[str]:
    return [_clean(t) for t in handle.processor.batch_decode(output_ids, skip_special_tokens=True)]


TextFn = Callable[[str], None]
"""Receives the text generated so far (streaming)."""


def _generate(handle: Any, inputs: Any, options: DecodingOptions, on_text: TextFn | None = None) -> Any:
    """``generate`` with ``options``; with ``on_text``, the first item's best hypothesis so far is handed to it
    at every step (see :func:`_text_so_far`)."""
    kwargs: dict[str, Any] = options.generate_kwargs()
    if on_text is not None:
        from transformers import StoppingCriteriaList

        kwargs["stopping_criteria"] = StoppingCriteriaList([_text_so_far(handle, on_text)])
    return handle.model.generate(**handle.prepare(inputs), **kwargs)


def _text_so_far(handle: Any, on_text: TextFn) -> Any:
    """A stopping criterion that never stops: it decodes the first row of what generation has so far and hands
    the text to ``on_text`` when it changed. That row is the first item's hypothesis: the only one in greedy
    decoding, the best-scoring continuation of this step in beam search (transformers passes the step's
    continuations best first), so with beams the text may still change before the end. Streamers cannot do
    this: transformers refuses them with beam search, which captions use."""
    import torch
    from transformers import StoppingCriteria

    class TextSoFar(StoppingCriteria):
        last = ""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            text = _decode(handle, input_ids[:1])[0]
            if text != self.last:
                self.last = text
                on_text(text)  # may raise Cancelled: generation stops there
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return TextSoFar()


def caption_images(
    images: Sequence[Any],
    *,
    prefix: str = "",
    options: DecodingOptions = DecodingOptions(),
    batch_size: int = 8,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_text: TextFn | None = None,
) -> list[CaptionResult]:
    """Caption several images in batches (the video task uses this for keyframes).

    ``images`` may hold paths, bytes, PIL images, numpy arrays or Gradio file dicts. A non-empty
    ``prefix`` conditions the caption ("a painting of" → "a painting of a …"). ``on_text`` receives the
    first image's caption as it is generated (its best hypothesis so far).
    """
    manager = manager or get_manager()
    options = options.validated()
    prefix = " ".join(PREFIX.check(prefix).split())
    if not images:
        raise InputError(Message("caption.no_image"))
    limits = ImageLimits.from_settings(manager.settings)
    pil_images = [load_image(image, limits) for image in images]

    results: list[CaptionResult] = []
    for start in range(0, len(pil_images), batch_size):
        batch = pil_images[start : start + batch_size]
        if progress and len(pil_images) > batch_size:
            progress(
                start / len(pil_images), f"Captioning images {start + 1}–{start + len(batch)} of {len(pil_images)}"
            )
        # Taken per batch: a quick request for the same model waits for one batch, not for the whole job.
        with manager.use("captioner", progress if start == 0 else None) as handle:
            began = time.perf_counter()
            inputs = handle.processor(
                images=batch, text=[prefix] * len(batch) if prefix else None, return_tensors="pt", padding=True
            )
            output = _generate(handle, inputs, options, on_text if start == 0 else None)
            seconds = time.perf_counter() - began
            results.extend(CaptionResult(t, prefix, handle.model_id, seconds) for t in _decode(handle, output))
    return results


@task("captioning", files=("image",))
def caption_image(
    image: Any,
    *,
    prefix: str = "",
    options: DecodingOptions = DecodingOptions(),
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_text: TextFn | None = None,
) -> CaptionResult:
    """Caption one image (``on_text``: the caption as it is generated). See :func:`caption_images`."""
    (result,) = caption_images(
        [image], prefix=prefix, options=options, manager=manager, progress=progress, on_text=on_text
    )
    return result


def check_question(question: str | None) -> str:
    """The question (:data:`QUESTION`), whitespace normalised; refused when empty or too long."""
    question = " ".join(QUESTION.check(question).split())
    if not question:
        raise InputError(Message("caption.no_question"))
    return question


DETAILED_OPTIONS = DecodingOptions(max_new_tokens=60, min_new_tokens=20, num_beams=5)
"""A detailed caption: at least 20 tokens (BLIP's captions are ~10 otherwise), searched more widely."""


@dataclass(frozen=True)
class DetailedCaption:
    """A longer caption plus the text the photo contains, as one paragraph."""

    text: str
    caption: CaptionResult
    text_in_image: tuple[str, ...]
    """Lines read in the photo worth reading (:func:`~mmdemo.tasks.chapters.worth_reading`), reading order."""
    notes: tuple[Message, ...] = ()


@task("captioning", files=("image",))
def describe_image(
    image: Any,
    *,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_text: TextFn | None = None,
) -> DetailedCaption:
    """A detailed description: the caption with :data:`DETAILED_OPTIONS`, then "The text in it reads: …"
    when the photo contains text. Without the text reader the caption alone is returned, with a note.
    ``on_text`` receives the caption as it is generated."""
    manager = manager or get_manager()
    picture = load_image(image, ImageLimits.from_settings(manager.settings))
    (caption,) = caption_images(
        [picture], options=DETAILED_OPTIONS, manager=manager, progress=progress, on_text=on_text
    )
    lines: tuple[str, ...] = ()
    notes: tuple[Message, ...] = ()
    try:
        (ocr,) = read_texts([picture], manager=manager)
        lines = tuple(line.text for line in ocr.lines if worth_reading(line.text))
    except MMDemoError as err:  # the caption stands on its own
        notes = (Message("caption.text_not_read", reason=err.message),)
    text = caption.text.rstrip(".") + "."
    if lines:
        text += " The text in it reads: " + " / ".join(f"“{line}”" for line in lines) + "."
    return DetailedCaption(text, caption, lines, notes)


ANSWER_OPTIONS = DecodingOptions(max_new_tokens=10)
"""Answers are short ("2", "red"): at most 10 new tokens unless the caller says otherwise."""


@task("captioning", files=("image",))
def answer_question(
    image: Any,
    question: str,
    *,
    options: DecodingOptions = ANSWER_OPTIONS,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_text: TextFn | None = None,
) -> AnswerResult:
    """Answer a free-form question about an image (BLIP VQA: short answers such as "2" or "red");
    ``on_text`` receives the answer as it is generated. See :func:`answer_questions`."""
    (result,) = answer_questions(
        [image], [question], options=options, manager=manager, progress=progress, on_text=on_text
    )
    return result


def answer_questions(
    images: Sequence[Any],
    questions: Sequence[str],
    *,
    options: DecodingOptions = ANSWER_OPTIONS,
    batch_size: int = 8,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_text: TextFn | None = None,
) -> list[AnswerResult]:
    """Answer several questions, ``questions[i]`` about ``images[i]`` (different visitors' questions that
    arrive together, :mod:`mmdemo.serve`), each answer the one :func:`answer_question` gives alone.

    Questions of the same length in tokens share a processor call and a ``generate`` (at most ``batch_size``
    at a time); questions of different lengths are never padded to one: BLIP VQA's answer decoder attends to
    every position of the encoded question, padding included (transformers' ``BlipForQuestionAnswering.generate``
    hands it an all-ones question mask, and its text layers drop a cross-attention mask anyway), so a padded
    question gets another answer, on whichever side it is padded (the text encoder's positions shift on the
    left). ``on_text`` receives the first question's answer as it is generated."""
    manager = manager or get_manager()
    options = options.validated()
    if len(images) != len(questions):
        raise ValueError(f"{len(images)} images for {len(questions)} questions")
    if not images:
        raise InputError(Message("caption.no_image"))
    questions = [check_question(q) for q in questions]
    limits = ImageLimits.from_settings(manager.settings)
    pictures = [load_image(image, limits) for image in images]

    results: list[Any] = [None] * len(questions)
    with manager.use("vqa", progress) as handle:
        same_length: dict[int, list[int]] = collections.defaultdict(list)
        for i, ids in enumerate(handle.processor.tokenizer(questions)["input_ids"]):
            same_length[len(ids)].append(i)
        for members in same_length.values():
            for start in range(0, len(members), batch_size):
                batch = members[start : start + batch_size]
                began = time.perf_counter()
                # one processor call and one generate: the batch's questions are of one length in tokens (above)
                inputs = handle.processor(
                    images=[pictures[i] for i in batch],
                    text=[questions[i] for i in batch],
                    return_tensors="pt",
                    padding=True,
                )
                streaming = on_text if batch[0] == 0 else None  # the first question's answer, as it is made
                answers = _decode(handle, _generate(handle, inputs, options, streaming))
                seconds = time.perf_counter() - began
                for i, answer in zip(batch, answers, strict=True):
                    results[i] = AnswerResult(questions[i], answer, handle.model_id, seconds)
    return results
