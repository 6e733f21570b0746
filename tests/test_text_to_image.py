"""Text-to-image backend on tiny random-weight models loaded through the manager: sizes, seeds,
decoders, progress, CLIP scores, truncation, bad input, missing models and concurrent calls."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.text_to_image import (
    MAX_SEED,
    GeneratedImage,
    GenerationResult,
    generate_images,
    is_few_step,
    recommended_steps,
)

FAST = {"steps": 1, "guidance_scale": 1.0, "width": 64, "height": 64}  # 1 = no classifier-free guidance


def _pixels(result: GenerationResult) -> list[np.ndarray]:
    return [np.asarray(g.image) for g in result.images]


def test_images_of_the_requested_size_count_and_seeds(shared_manager: ModelManager) -> None:
    result = generate_images(
        "a red bus on a bridge",
        steps=2,
        guidance_scale=1.0,
        width=72,
        height=64,
        num_images=2,
        seed=41,
        manager=shared_manager,
    )
    assert isinstance(result, GenerationResult) and len(result.images) == 2
    for i, generated in enumerate(result.images):
        assert isinstance(generated, GeneratedImage) and isinstance(generated.image, Image.Image)
        assert generated.image.size == (72, 64) and generated.image.mode == "RGB"
        assert generated.seed == 41 + i
        assert isinstance(generated.clip_score, float) and 0.0 <= generated.clip_score <= 100.0
    assert (result.seed, result.steps, result.guidance_scale, result.width, result.height) == (41, 2, 1.0, 72, 64)
    assert result.decoder == "tiny"  # auto on CPU
    assert result.model_id == shared_manager.model_id("text_to_image")
    assert result.decoder_model_id == shared_manager.model_id("tiny_vae")
    assert result.clip_model_id == shared_manager.model_id("clip")
    assert result.notes == () and result.seconds > 0


def test_same_seed_same_images_other_seed_other_images(shared_manager: ModelManager) -> None:
    first = generate_images("a cat", seed=7, manager=shared_manager, **FAST)
    again = generate_images("a cat", seed=7, manager=shared_manager, **FAST)
    other = generate_images("a cat", seed=8, manager=shared_manager, **FAST)
    assert np.array_equal(_pixels(first)[0], _pixels(again)[0])
    assert not np.array_equal(_pixels(first)[0], _pixels(other)[0])
    assert first.images[0].clip_score == again.images[0].clip_score


def test_each_image_is_reproducible_from_its_own_seed(shared_manager: ModelManager) -> None:
    batch = generate_images("a dog", seed=100, num_images=3, manager=shared_manager, **FAST)
    alone = generate_images("a dog", seed=batch.images[2].seed, manager=shared_manager, **FAST)
    assert alone.seed == 102
    # The same image, not necessarily the same bytes: CPU kernels pick their blocking by batch size, so a
    # batch of 3 and a batch of 1 can round differently (seen here: one level in one pixel of 64×64×3).
    difference = np.abs(_pixels(batch)[2].astype(int) - _pixels(alone)[0].astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.01, (difference.max(), difference.mean())
    assert not np.array_equal(_pixels(batch)[0], _pixels(batch)[1])


def test_random_seed_is_returned_and_reproduces(shared_manager: ModelManager) -> None:
    a = generate_images("a tree", manager=shared_manager, **FAST)
    b = generate_images("a tree", manager=shared_manager, **FAST)
    assert 0 <= a.seed <= MAX_SEED and a.seed != b.seed
    again = generate_images("a tree", seed=a.seed, manager=shared_manager, **FAST)
    assert np.array_equal(_pixels(a)[0], _pixels(again)[0])


def test_full_and_tiny_decoders(shared_manager: ModelManager) -> None:
    full = generate_images("a boat", seed=3, decoder="full", manager=shared_manager, **FAST)
    tiny = generate_images("a boat", seed=3, decoder="tiny", manager=shared_manager, **FAST)
    assert (full.decoder, full.decoder_model_id) == ("full", None)
    assert tiny.decoder == "tiny" and tiny.decoder_model_id
    assert full.images[0].image.size == tiny.images[0].image.size == (64, 64)
    assert not np.array_equal(_pixels(full)[0], _pixels(tiny)[0])  # same latents, other decoder


def test_model_defaults_and_native_size(shared_manager: ModelManager) -> None:
    result = generate_images("a lake", steps=1, seed=1, clip_score=False, manager=shared_manager)
    assert (result.width, result.height) == (64, 64)  # tiny UNet sample size 32 × VAE scale factor 2
    assert result.guidance_scale == 7.5  # StableDiffusionPipeline's own default (not a few-step model id)
    zeros = generate_images("a lake", steps=1, guidance_scale=0, width=0, height=0, seed=1, manager=shared_manager)
    assert (zeros.guidance_scale, zeros.width, zeros.height) == (7.5, 64, 64)  # 0 = the model's choice
    assert np.array_equal(_pixels(result)[0], _pixels(zeros)[0])
    assert is_few_step("stabilityai/sd-turbo") and is_few_step("ByteDance/SDXL-Lightning")
    assert not is_few_step("stabilityai/stable-diffusion-xl-base-1.0")
    assert recommended_steps("stabilityai/sd-turbo") == 1
    assert recommended_steps("latent-consistency/lcm-sdxl") == 4
    assert recommended_steps("stabilityai/stable-diffusion-xl-base-1.0") == 30


def test_progress_once_per_denoising_step(shared_manager: ModelManager) -> None:
    messages: list[tuple[float, str]] = []
    generate_images(
        "a sunny beach",
        steps=3,
        guidance_scale=2.0,
        width=64,
        height=64,
        seed=5,
        manager=shared_manager,
        progress=lambda f, m: messages.append((f, m)),
    )
    steps = [str(m) for _, m in messages if str(m).startswith("Step ")]  # keyed: shown in the visitor's language
    assert steps == ["Step 1 of 3", "Step 2 of 3", "Step 3 of 3"]
    assert all(0.0 <= f <= 1.0 for f, _ in messages)


def test_guidance_and_negative_prompt_change_the_image(shared_manager: ModelManager) -> None:
    base = {"steps": 1, "width": 64, "height": 64, "seed": 9, "clip_score": False, "manager": shared_manager}
    plain = generate_images("a horse", guidance_scale=4.0, **base)
    negative = generate_images("a horse", guidance_scale=4.0, negative_prompt="blurry", **base)
    assert not np.array_equal(_pixels(plain)[0], _pixels(negative)[0])
    assert negative.negative_prompt == "blurry" and negative.notes == ()
    ignored = generate_images("a horse", guidance_scale=1.0, negative_prompt="blurry", **base)
    assert any("negative prompt has no effect" in str(n) for n in ignored.notes)


def test_long_prompt_is_truncated_with_a_note(shared_manager: ModelManager) -> None:
    prompt = "a small red house next to a tall green tree " * 5  # ~200 character tokens, limit 77
    result = generate_images(prompt, seed=2, manager=shared_manager, **FAST)
    assert len(result.images) == 1
    (note,) = result.notes
    assert (note.key, note.values["limit"]) == ("t2i.prompt_truncated", 77) and "its end was left out" in str(note)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n "}, "prompt"),
        ({"prompt": "x" * 1001}, "too long"),
        ({"negative_prompt": "x" * 1001}, "Negative prompt .negative_prompt. is too long"),
        ({"steps": -1}, "Steps"),
        ({"steps": 101}, "Steps"),
        ({"steps": 2.5}, "Steps"),
        ({"width": 65}, "multiple of 8"),
        ({"height": 32}, "Height"),
        ({"width": 1032}, "Width"),
        ({"num_images": 0}, "num_images"),
        ({"num_images": 5}, "num_images"),
        ({"guidance_scale": -1}, "Guidance"),
        ({"guidance_scale": float("nan")}, "Guidance"),
        ({"seed": -1}, "Seed"),
        ({"seed": MAX_SEED + 1}, "Seed"),
        ({"seed": "abc"}, "Seed"),
        ({"decoder": "best"}, "decoder"),
    ],
)
def test_bad_input_is_refused_before_any_work(kwargs: dict, match: str) -> None:
    manager = ModelManager(Settings(device="cpu", offline=True))  # defaults unavailable: nothing may load
    kwargs = {"prompt": "a cat", **kwargs}
    with pytest.raises(InputError, match=match):
        generate_images(**kwargs, manager=manager)
    assert manager.load_count.get("text_to_image", 0) == 0


def test_size_cap_follows_the_setting(shared_manager: ModelManager) -> None:
    manager = ModelManager(shared_manager.settings.replace(max_generated_side=128, max_generated_images=1))
    with pytest.raises(InputError, match="128"):
        generate_images("a cat", width=136, manager=manager)
    with pytest.raises(InputError, match="from 1 to 1"):
        generate_images("a cat", num_images=2, manager=manager)


def test_missing_clip_and_tiny_decoder_give_notes_not_errors(shared_manager: ModelManager, tmp_path: Path) -> None:
    settings = shared_manager.settings.replace(
        models={"clip": str(tmp_path / "no-clip"), "tiny_vae": str(tmp_path / "no-taesd")}
    )
    manager = ModelManager(settings)
    result = generate_images("a cat", seed=4, manager=manager, **FAST)
    assert len(result.images) == 1 and result.images[0].clip_score is None
    assert result.decoder == "full" and result.clip_model_id is None
    assert any("full VAE" in str(n) and "no-taesd" in str(n) for n in result.notes)
    assert any("CLIP score not shown" in str(n) and "no-clip" in str(n) for n in result.notes)
    # The fallback decodes exactly as choosing the full VAE does.
    full = generate_images("a cat", seed=4, decoder="full", manager=shared_manager, **FAST)
    assert np.array_equal(_pixels(result)[0], _pixels(full)[0])


def test_clip_score_can_be_skipped(shared_manager: ModelManager) -> None:
    result = generate_images("a cat", seed=4, clip_score=False, manager=shared_manager, **FAST)
    assert result.images[0].clip_score is None and result.clip_model_id is None and result.notes == ()


def test_concurrent_requests_match_running_alone(shared_manager: ModelManager) -> None:
    """Two simultaneous calls on one pipeline share no scheduler or RNG state: same images as alone."""
    requests = [
        {"prompt": "a red car", "seed": 11, "num_images": 2, "steps": 2},
        {"prompt": "a blue bird", "seed": 12, "num_images": 1, "steps": 3},
    ]
    common = {"guidance_scale": 1.5, "width": 64, "height": 64, "manager": shared_manager}
    alone = [_pixels(generate_images(**r, **common)) for r in requests]
    together: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(requests))

    def run(i: int) -> None:
        try:
            barrier.wait()
            together[i] = _pixels(generate_images(**requests[i], **common))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i, images in enumerate(alone):
        assert len(together[i]) == len(images)
        assert all(np.array_equal(a, b) for a, b in zip(images, together[i], strict=True))


def test_tiny_decoder_must_be_made_for_the_pipeline_family(shared_manager: ModelManager) -> None:
    """taesd and taesdxl have the same config (4 latent channels): only the family tells them apart, and
    the wrong one decodes garbage without an error. A mismatch falls back to the full VAE, said in a note,
    without loading the wrong decoder."""
    from contextlib import ExitStack

    from mmdemo.tasks.text_to_image import _tiny_decoder, decoder_family, pipeline_family

    assert decoder_family("madebyollin/taesd") == "sd" and decoder_family("madebyollin/taesdxl") == "sdxl"
    assert decoder_family("madebyollin/taesd3") == "sd3" and decoder_family("madebyollin/taef1") == "flux"
    assert decoder_family("/models/my-decoder") is None

    class StableDiffusionXLPipeline:  # what AutoPipelineForText2Image gives for SDXL (by class name)
        vae = None

    manager = ModelManager(shared_manager.settings)  # its own load counts
    assert pipeline_family(StableDiffusionXLPipeline()) == "sdxl"
    with ExitStack() as stack:
        tiny, why = _tiny_decoder(manager, stack, StableDiffusionXLPipeline(), None)
    assert tiny is None and "for Stable Diffusion 1/2 models, and this is SDXL" in str(why)
    assert "madebyollin/taesdxl" in str(why) and manager.load_count["tiny_vae"] == 0
    odd = ModelManager(shared_manager.settings.replace(models={"tiny_vae": "/models/my-decoder"}))
    result = generate_images("a cat", seed=4, decoder="tiny", manager=odd, **FAST)
    assert result.decoder == "full" and any("cannot tell which models" in str(n) for n in result.notes)
    assert odd.load_count["tiny_vae"] == 0
    assert generate_images("a cat", seed=4, decoder="tiny", manager=shared_manager, **FAST).decoder == "tiny"


def test_few_step_defaults_come_from_metadata_then_name_then_settings() -> None:
    from types import SimpleNamespace

    from diffusers import EulerDiscreteScheduler, LCMScheduler

    from mmdemo.tasks.text_to_image import sampling_defaults

    class StableDiffusionPipeline:
        def __init__(self, scheduler: object) -> None:
            self.scheduler = scheduler

        def __call__(self, prompt: str, guidance_scale: float = 7.5) -> None: ...

    class FluxPipeline:
        scheduler = None
        transformer = SimpleNamespace(config=SimpleNamespace(guidance_embeds=False))

        def __call__(self, prompt: str, guidance_scale: float = 3.5) -> None: ...

    lcm = sampling_defaults(StableDiffusionPipeline(LCMScheduler()), "/models/my-finetune")  # no hint in the name
    assert (lcm.steps, lcm.guidance) == (4, 0.0) and "LCMScheduler" in lcm.source
    flux = sampling_defaults(FluxPipeline(), "/models/flux")
    assert (flux.steps, flux.guidance) == (4, 0.0) and "guidance embedding" in flux.source
    turbo = sampling_defaults(StableDiffusionPipeline(EulerDiscreteScheduler()), "stabilityai/sd-turbo")
    assert (turbo.steps, turbo.guidance) == (1, 0.0) and "name" in turbo.source
    base = sampling_defaults(StableDiffusionPipeline(EulerDiscreteScheduler()), "stabilityai/stable-diffusion-2-1")
    assert (base.steps, base.guidance) == (30, 7.5)
    mine = sampling_defaults(StableDiffusionPipeline(EulerDiscreteScheduler()), "/models/x", steps=8, guidance=2.0)
    assert (mine.steps, mine.guidance, mine.source) == (8, 2.0, "the settings")


def test_settings_override_the_model_defaults(shared_manager: ModelManager) -> None:
    manager = ModelManager(shared_manager.settings.replace(t2i_steps=2, t2i_guidance=1.0))
    result = generate_images("a lake", seed=1, clip_score=False, manager=manager)
    assert (result.steps, result.guidance_scale) == (2, 1.0)
