"""The cross-modal round trip on the tiny models: backend (seeded, exact) and over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import handle_file
from PIL import Image

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.captioning import caption_image
from mmdemo.tasks.round_trip import round_trip
from mmdemo.tasks.text_to_image import generate_images

LION = str(Path(__file__).resolve().parents[1] / "assets" / "images" / "lion.jpg")


def test_the_trip_is_the_three_tasks_in_a_row(shared_manager: ModelManager) -> None:
    """Each leg equals the task it stands for, run on its own with the same inputs; the scores are CLIP
    cosines of those exact pictures and texts."""
    steps: list[tuple[float, str]] = []
    result = round_trip(LION, steps=2, seed=7, manager=shared_manager, progress=lambda f, m: steps.append((f, m)))
    caption = caption_image(LION, manager=shared_manager).text
    assert result.caption.text == caption
    alone = generate_images(caption, steps=2, seed=7, clip_score=False, manager=shared_manager).images[0].image
    assert list(result.generated.getdata()) == list(alone.getdata())
    assert result.caption_back.text == caption_image(alone, manager=shared_manager).text
    assert result.seed == 7
    s = result.similarities
    assert s is not None and all(0 <= v <= 100 for v in vars(s).values())
    assert s.generated_caption == pytest.approx(
        generate_images(caption, steps=2, seed=7, manager=shared_manager).images[0].clip_score, abs=0.05
    )
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert {"captioner", "text_to_image", "clip"} <= set(result.model_ids)


def test_without_clip_the_trip_stands_with_a_note(tiny_settings: Settings) -> None:
    manager = ModelManager(tiny_settings.replace(models={"clip": "/nonexistent/clip"}))
    result = round_trip(LION, steps=1, seed=1, manager=manager)
    assert result.similarities is None and result.caption_back.text
    assert any(str(note).startswith("No similarity scores:") for note in result.notes)


def test_round_trip_endpoint(client) -> None:
    caption, generated, caption_back, scores = client.predict(handle_file(LION), 2, 7, api_name="/round_trip")
    assert caption and caption_back and Image.open(generated).size == (64, 64)
    assert "How much survived the trip:" in scores and "Seed 7" in scores
