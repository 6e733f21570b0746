"""End to end: the text-to-image endpoint of the real app on tiny models, over HTTP with gradio_client."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gradio_client.exceptions import AppError
from PIL import Image

PARAMS = [
    "prompt",
    "negative_prompt",
    "steps",
    "guidance_scale",
    "size",
    "num_images",
    "seed",
    "randomize_seed",
    "decoder",
    "clip_score",
]


def _generate(client, prompt: str = "a red bus", **overrides: Any) -> tuple[list[np.ndarray], int, str, list[str]]:
    args = {
        "prompt": prompt,
        "negative_prompt": "",
        "steps": 1,
        "guidance_scale": 1,
        "size": "64x64",
        "num_images": 1,
        "seed": 0,
        "randomize_seed": False,
        "decoder": "auto",
        "clip_score": True,
        **overrides,
    }
    gallery, seed, info = client.predict(*[args[p] for p in PARAMS], api_name="/generate")
    images = [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]
    return images, int(seed), info, [item["caption"] for item in gallery]


def test_generate_endpoint_parameters(client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = [p["parameter_name"] for p in endpoints["/generate"]["parameters"]]
    assert params == PARAMS


def test_images_of_the_requested_size_and_count(client) -> None:
    images, seed, info, captions = _generate(client, num_images=3, size="80x64", seed=5)
    assert len(images) == 3 and all(img.shape == (64, 80, 3) for img in images)
    assert seed == 5 and "Seed 5" in info and "CLIP score" in info
    assert [c.split(" · ")[0] for c in captions] == ["seed 5", "seed 6", "seed 7"]


def test_same_seed_same_image_different_seed_different(client) -> None:
    first, _, _, _ = _generate(client, seed=123)
    again, _, _, _ = _generate(client, seed=123)
    other, _, _, _ = _generate(client, seed=124)
    assert np.array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_random_seed_is_returned_and_reproduces(client) -> None:
    images, seed, info, _ = _generate(client, randomize_seed=True, decoder="full")
    assert f"Seed {seed}" in info and "full decoder" in info
    again, seed_again, _, _ = _generate(client, seed=seed, decoder="full")
    assert seed_again == seed and np.array_equal(images[0], again[0])


def test_model_defaults_when_left_empty(client) -> None:
    images, _, info, _ = _generate(client, steps=1, guidance_scale=0, size="auto", clip_score=False)
    assert images[0].shape == (64, 64, 3)  # the tiny model's native size
    assert "guidance 7.5" in info and "CLIP" not in info


def test_long_prompt_note(client) -> None:
    _, _, info, _ = _generate(client, prompt="a very long prompt about a garden " * 6)
    assert "The prompt is longer than the model reads: its end was left out" in info


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"prompt": "  "}, "prompt"),
        ({"size": "100x64"}, "multiple of 8"),
        ({"size": "64x4096"}, "Height"),
        ({"size": "big"}, "Size .size. must be 'auto' or WIDTHxHEIGHT"),
        ({"steps": 500}, "Steps|maximum value 100"),
        ({"num_images": 9}, "Images .num_images. must be a whole number from 1 to 4"),
        ({"guidance_scale": -3}, "Guidance|minimum value 0"),
        ({"seed": -5}, "Seed"),
        ({"decoder": "fastest"}, "Decoder|fastest"),
    ],
)
def test_bad_inputs_get_clear_errors_and_server_keeps_serving(client, overrides: dict, match: str) -> None:
    with pytest.raises(AppError, match=match) as info:
        _generate(client, **overrides)
    assert "Traceback" not in str(info.value)
    images, _, _, _ = _generate(client)
    assert len(images) == 1
