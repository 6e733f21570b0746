"""Batching across visitors without a cluster: the batch VQA function gives each question the answer it gets
alone, and the replicas' grouping (:func:`mmdemo.serve.run_together`) keeps one visitor's bad input to itself."""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.tasks import captioning
from mmdemo.tasks.captioning import DecodingOptions, answer_question, answer_questions, caption_image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted(str(p) for p in (ROOT / "assets" / "images").glob("*.jp*g"))
QUESTIONS = ("What animal is this?", "What is in the picture?", "How many?", "Where was this photo taken?")
"""7, 8, 5 and 8 tokens: three lengths, two questions of one."""


@pytest.mark.parametrize("options", [DecodingOptions(max_new_tokens=10), DecodingOptions(8, 3, num_beams=1)])
def test_a_batch_of_questions_gets_the_answers_each_gets_alone(
    shared_manager: ModelManager, monkeypatch: pytest.MonkeyPatch, options: DecodingOptions
) -> None:
    pairs = list(itertools.product(PHOTOS[:3], QUESTIONS))
    alone = [answer_question(photo, question, options=options, manager=shared_manager) for photo, question in pairs]
    passes: list[tuple[int, bool]] = []  # (rows, padded) of each generate

    def spy(handle: Any, inputs: Any, *args: Any) -> Any:
        passes.append((len(inputs["input_ids"]), not bool(inputs["attention_mask"].all())))
        return generate(handle, inputs, *args)

    generate = captioning._generate
    monkeypatch.setattr(captioning, "_generate", spy)
    batched = answer_questions(
        [p for p, _ in pairs], [q for _, q in pairs], options=options, batch_size=64, manager=shared_manager
    )
    assert [(r.question, r.answer) for r in batched] == [(r.question, r.answer) for r in alone]
    assert len({r.answer for r in alone}) > 3  # the answers depend on both photo and question
    assert sorted(passes) == [(3, False), (3, False), (6, False)]  # one pass per question length, none padded
    assert all(r.model_id == shared_manager.model_id("vqa") for r in batched)


def test_a_padded_question_gets_another_answer(shared_manager: ModelManager) -> None:
    """Why a batch never pads (:func:`answer_questions`): BLIP VQA's decoder attends to the padding. Should a
    transformers release mask it, questions of different lengths could share a pass."""
    questions = ["How many?"] * (len(PHOTOS) - 1) + ["What colour is the big car on the left side?"]
    limits = captioning.ImageLimits.from_settings(shared_manager.settings)
    with shared_manager.use("vqa") as handle:
        pictures = [captioning.load_image(p, limits) for p in PHOTOS]
        inputs = handle.processor(images=pictures, text=questions, return_tensors="pt", padding=True)
        padded = captioning._decode(handle, captioning._generate(handle, inputs, captioning.ANSWER_OPTIONS))
    alone = [answer_question(p, "How many?", manager=shared_manager).answer for p in PHOTOS[:-1]]
    assert all(a != b for a, b in zip(padded, alone, strict=False))  # each of the 5-token questions, padded to 13


def test_batch_refusals(shared_manager: ModelManager) -> None:
    with pytest.raises(InputError, match="upload"):
        answer_questions([], [], manager=shared_manager)
    with pytest.raises(InputError, match="question"):
        answer_questions(PHOTOS[:2], ["What is it?", "  "], manager=shared_manager)
    with pytest.raises(ValueError, match="2 images for 1 questions"):
        answer_questions(PHOTOS[:2], ["What is it?"], manager=shared_manager)


def test_replicas_group_calls_and_keep_a_bad_input_to_itself(
    shared_manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica's batch (:func:`mmdemo.serve.run_together`, no Ray needed): captions grouped by prefix and
    options, questions by options; a bad photo, an empty question or an unknown argument fails only its call."""
    pytest.importorskip("ray", reason="ray[serve] is a development requirement (requirements-dev.txt)")
    from mmdemo.ray_runner import Failed
    from mmdemo.serve import run_together

    caption, answer = "mmdemo.tasks.captioning:caption_image", "mmdemo.tasks.captioning:answer_question"
    short = DecodingOptions(max_new_tokens=5, num_beams=1)
    prefixed = {"prefix": "a photo of", "options": short}
    captions = [
        (caption, (PHOTOS[0],), {}),
        (caption, (str(ROOT / "README.md"),), prefixed),
        (caption, (PHOTOS[1],), prefixed),
        (caption, (PHOTOS[2],), {"colour": "red"}),
        (caption, (PHOTOS[3],), {"options": DecodingOptions()}),  # the default, given: with the first
    ]
    questions = [
        (answer, (PHOTOS[0], "What is in the picture?"), {}),
        (answer, (PHOTOS[1], " "), {}),
        (answer, (PHOTOS[2],), {"question": "How many?", "options": short}),
    ]
    sizes: list[int] = []  # images per caption_images call

    def spy(images: list[Any], **kwargs: Any) -> Any:
        sizes.append(len(images))
        return caption_images(images, **kwargs)

    caption_images = captioning.caption_images
    monkeypatch.setattr(captioning, "caption_images", spy)
    with ThreadPoolExecutor(2) as pool:
        got = asyncio.run(run_together(captions, shared_manager, pool))
        answers = asyncio.run(run_together(questions, shared_manager, pool))

    # The first and last photo in one pass; the prefixed pair failed together (README.md), then ran one by one.
    assert sizes == [2, 2, 1, 1]
    assert [type(r).__name__ for r in got] == ["CaptionResult", "Failed", "CaptionResult", "Failed", "CaptionResult"]
    assert isinstance(got[1].error, InputError) and isinstance(got[3].error, TypeError)
    assert [got[0].text, got[2].text, got[4].text] == [
        caption_image(PHOTOS[0], manager=shared_manager).text,
        caption_image(PHOTOS[1], prefix="a photo of", options=short, manager=shared_manager).text,
        caption_image(PHOTOS[3], manager=shared_manager).text,
    ]
    assert isinstance(answers[1], Failed) and isinstance(answers[1].error, InputError)
    assert [answers[0].answer, answers[2].answer] == [
        answer_question(PHOTOS[0], "What is in the picture?", manager=shared_manager).answer,
        answer_question(PHOTOS[2], "How many?", options=short, manager=shared_manager).answer,
    ]
