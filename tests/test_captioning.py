"""Captioning and VQA backend on tiny BLIP models: every input kind, options, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.tasks.captioning import (
    AnswerResult,
    CaptionResult,
    DecodingOptions,
    answer_question,
    caption_image,
    caption_images,
)
from mmdemo.testing.odd_images import BAD_IMAGES, GOOD_IMAGES


def test_caption_real_photos(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    results = caption_images(list(real_photos.values()), manager=shared_manager, batch_size=4)
    assert len(results) == len(real_photos)
    for r in results:
        assert isinstance(r, CaptionResult) and r.text.strip()
        assert r.model_id == shared_manager.model_id("captioner") and r.seconds > 0
    captions = dict(zip(real_photos, (r.text for r in results), strict=True))
    # The seeded tiny captioner (float32 reference path): pinned, so a change in preprocessing or decoding shows.
    assert captions["lion.jpg"] == (
        "Boat playing boat 0 0 0 0 0 boat boat 0 boat boat 0 boat 0 boat boat boat 0 boat 0 boat boat boat boat 0 0 "
        "boat playing"
    )
    assert len(set(captions.values())) == len(captions)  # each photo reaches the model: six photos, six captions


def test_caption_with_prefix_and_options(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    r = caption_image(
        real_photos["lion.jpg"],
        prefix="  a   photo of ",
        options=DecodingOptions(max_new_tokens=5, min_new_tokens=2, num_beams=1),
        manager=shared_manager,
    )
    assert r.prefix == "a photo of"
    assert r.text == "A photo of boat boat boat trees boat"  # the prefix continued by at most 5 new tokens


def test_progress_messages(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    messages: list[tuple[float, str]] = []
    caption_images(
        [real_photos["lion.jpg"]] * 3,
        batch_size=2,
        manager=shared_manager,
        progress=lambda f, m: messages.append((f, m)),
    )
    assert any("Captioning images 3–3 of 3" in m for _, m in messages)
    assert all(0.0 <= f <= 1.0 for f, _ in messages)


def test_every_good_odd_image(shared_manager: ModelManager, odd_images: dict[str, Path]) -> None:
    results = caption_images([odd_images[name] for name in GOOD_IMAGES], manager=shared_manager)
    captions = {name: r.text for name, r in zip(GOOD_IMAGES, results, strict=True)}
    assert all(text.strip() for text in captions.values())
    # The same pixels in lossless containers are decoded alike, so the captions agree exactly; an animation is
    # captioned from its first frame whatever the container.
    assert captions["photo.bmp"] == captions["photo.tiff"]
    assert captions["palette_transparent.png"] == captions["palette_transparent.gif"]
    assert captions["animated.webp"] == captions["animated.png"]


@pytest.mark.parametrize("name", BAD_IMAGES)
def test_bad_images_get_input_errors(shared_manager: ModelManager, odd_images: dict[str, Path], name: str) -> None:
    manager = shared_manager
    if name == "huge_pixels.png":
        manager = ModelManager(shared_manager.settings.replace(max_image_pixels=1_000_000))
    with pytest.raises(InputError) as info:
        caption_image(odd_images[name], manager=manager)
    assert "Traceback" not in str(info.value) and len(str(info.value)) > 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prefix": "x" * 201}, "too long"),
        ({"options": DecodingOptions(max_new_tokens=0)}, "Maximum length"),
        ({"options": DecodingOptions(max_new_tokens=5, min_new_tokens=6)}, "Minimum length"),
        ({"options": DecodingOptions(num_beams=9)}, "Beams"),
    ],
)
def test_caption_option_errors(shared_manager: ModelManager, real_photos: dict[str, str], kwargs, match) -> None:
    with pytest.raises(InputError, match=match):
        caption_image(real_photos["lion.jpg"], manager=shared_manager, **kwargs)


def test_no_image(shared_manager: ModelManager) -> None:
    with pytest.raises(InputError, match="upload"):
        caption_image(None, manager=shared_manager)
    with pytest.raises(InputError):
        caption_images([], manager=shared_manager)


def test_vqa(shared_manager: ModelManager, real_photos: dict[str, str], odd_images: dict[str, Path]) -> None:
    answers = []
    for image in (real_photos["cheetah1.jpg"], odd_images["cmyk.jpg"], odd_images["animated.gif"]):
        r = answer_question(image, "What animal is this?", manager=shared_manager)
        assert isinstance(r, AnswerResult)
        assert r.question == "What animal is this?" and r.model_id == shared_manager.model_id("vqa")
        answers.append(r.answer)
    # The seeded tiny VQA model (at most 10 new tokens by default), pinned.
    assert answers == ["That " + "that " * 8 + "that", "That " + "that " * 8 + "that", "Lion " + "lion " * 8 + "lion"]


@pytest.mark.parametrize(("question", "match"), [("", "question"), ("   ", "question"), ("why " * 100, "too long")])
def test_vqa_question_errors(shared_manager: ModelManager, real_photos: dict[str, str], question, match) -> None:
    with pytest.raises(InputError, match=match):
        answer_question(real_photos["lion.jpg"], question, manager=shared_manager)
