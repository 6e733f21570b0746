"""Text to image with a diffusers pipeline, an optional fast decoder and a CLIP score per image.

Shape shared by every task module: inputs → preprocess (validate) → model (through the manager)
→ postprocess (decode, score) → a frozen result dataclass.

* Reproducible: image ``i`` of a request is drawn from its own CPU ``torch.Generator`` seeded with
  ``seed + i`` (never the global RNG), so a request with that seed and one image gives it again, on
  any device. The seeds used are returned.
* Concurrency: a pipeline's scheduler and tokenizer hold per-call state, so calls of one pipeline
  run one at a time (the manager's per-model run lock); each call resets the scheduler's timesteps.
* Decoding: the pipeline's own VAE (``full``) or the tiny autoencoder role ``tiny_vae`` (TAESD,
  several times faster on a CPU); ``auto`` = tiny on CPU, full elsewhere. A missing tiny decoder
  falls back to the full VAE with a note.
* CLIP score: ``max(100 · cos(image embedding, text embedding), 0)`` as torchmetrics' ``CLIPScore``,
  from the ``clip`` role (text truncated to CLIP's 77 tokens); hidden with a note when unavailable.
"""

from __future__ import annotations

import inspect
import math
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, MemoryBudgetError, ModelUnavailableError
from ..models.hub import public_model_id
from ..models.manager import ModelManager, ProgressFn
from ..runtime import get_manager

DECODERS = ("auto", "tiny", "full")
MAX_PROMPT_CHARS = 2000
MAX_STEPS = 100
MAX_GUIDANCE = 30.0
MIN_SIDE = 64
SIZE_PRESETS = ((512, 512), (768, 768), (1024, 1024), (768, 512), (512, 768), (1024, 576), (576, 1024))
"""Width × height choices offered in the app (those within the ``max_generated_side`` setting)."""
CLIP_WORDS = ((30.0, "good match"), (25.0, "fair match"), (20.0, "weak match"), (float("-inf"), "poor match"))
"""CLIP score (100 × cosine of ViT-B/32 embeddings) in words: text-to-image papers report ~30 and above
for images that follow their prompt; unrelated image–text pairs score around 15–20."""


def clip_words(score: float) -> str:
    """A CLIP score in words (see :data:`CLIP_WORDS`)."""
    return next(words for floor, words in CLIP_WORDS if score >= floor)


def size_choices(max_side: int) -> list[tuple[str, str]]:
    """(label, value) pairs for the size picker: ``auto`` (the model's native size) and the presets."""
    presets = [(w, h) for w, h in SIZE_PRESETS if max(w, h) <= max_side]
    return [("Auto (the model's size)", "auto"), *((f"{w} × {h}", f"{w}x{h}") for w, h in presets)]


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    """``"768x512"`` → (768, 512); ``auto``/empty → (None, None): the model's native size."""
    if not size or size == "auto":
        return None, None
    width, _, height = str(size).partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise InputError(f"Size must be 'auto' or WIDTHxHEIGHT such as 768x512 (got {str(size)[:40]!r}).") from None


MAX_SEED = 2**32 - 1
FEW_STEP_MARKERS = ("turbo", "lightning", "lcm", "schnell", "hyper")
"""Model ids with these words are distilled few-step models: no classifier-free guidance."""


@dataclass(frozen=True)
class GeneratedImage:
    image: Any
    """A ``PIL.Image.Image`` (RGB)."""
    seed: int
    """Generate with this seed and one image to get this image again."""
    clip_score: float | None
    """``max(100 · cosine, 0)`` between the image and the prompt; None when CLIP was not available."""


@dataclass(frozen=True)
class Preview:
    """The images as they are after ``step`` of ``steps`` denoising steps, decoded by the tiny decoder."""

    images: tuple[Any, ...]
    step: int
    steps: int
    seed: int


PreviewFn = Callable[[Preview], None]


def preview_steps(steps: int, previews: int = 4) -> set[int]:
    """The steps after which a preview is shown: about ``previews`` of them, evenly spaced, never the last
    one (the finished images follow) — none for a 1-step model."""
    every = max(1, math.ceil(steps / (previews + 1)))
    return set(range(every, steps, every))


@dataclass(frozen=True)
class GenerationResult:
    images: tuple[GeneratedImage, ...]
    prompt: str
    negative_prompt: str
    seed: int
    """The first image's seed (image ``i`` used ``seed + i``)."""
    steps: int
    guidance_scale: float
    width: int
    height: int
    decoder: str
    """``tiny`` or ``full``: the decoder actually used."""
    model_id: str
    decoder_model_id: str | None
    """The tiny autoencoder's id when ``decoder == "tiny"``."""
    clip_model_id: str | None
    notes: tuple[str, ...]
    """Things the user should know: truncated prompt, decoder fallback, CLIP score hidden …"""
    seconds: float
    """Generation time (denoising + decoding; model loading and CLIP scoring excluded)."""


# --------------------------------------------------------------------------------------- inputs


def _whole(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a whole number between {low} and {high}.") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise InputError(f"{name} must be a whole number between {low} and {high} (got {value}).")
    return int(number)


def _side(value: Any, name: str, max_side: int) -> int | None:
    if value is None or value == 0:
        return None  # the model's native size
    side = _whole(value, name, MIN_SIDE, max_side)
    if side % 8:
        raise InputError(f"{name} must be a multiple of 8 (got {side}).")
    return side


def _guidance(value: Any) -> float | None:
    if value is None or value == 0:
        return None  # the model's recommendation (guidance 1 switches guidance off explicitly)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not 0 <= number <= MAX_GUIDANCE:
        raise InputError(f"Guidance scale must be between 0 and {MAX_GUIDANCE:g} (got {value}).")
    return number


def _text(value: str | None, name: str) -> str:
    text = " ".join((value or "").split())
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(f"The {name} is too long ({len(text)} characters; at most {MAX_PROMPT_CHARS}).")
    return text


# ------------------------------------------------------------------------------ model defaults


def is_few_step(model_id: str) -> bool:
    """Distilled few-step models (SD-Turbo, SDXL-Lightning, LCM, FLUX schnell …), judged by their id."""
    name = model_id.lower()
    return any(marker in name for marker in FEW_STEP_MARKERS)


def recommended_steps(model_id: str) -> int:
    """By name only: 1 for turbo models, 4 for other few-step models, 30 otherwise."""
    if "turbo" in model_id.lower():
        return 1
    return 4 if is_few_step(model_id) else 30


def _call_parameters(pipe: Any) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(pipe.__call__).parameters)


def _pipeline_guidance(pipe: Any) -> float:
    default = _call_parameters(pipe).get("guidance_scale")
    return float(default.default) if default is not None and isinstance(default.default, (int, float)) else 7.5


@dataclass(frozen=True)
class SamplingDefaults:
    """Steps and guidance a request gets when it leaves them at 0 (auto), and what they rest on."""

    steps: int
    guidance: float
    source: str


FEW_STEP_SCHEDULERS = {"LCMScheduler": 4, "TCDScheduler": 4}
"""Schedulers that only distilled few-step models use: their class is the model's own metadata."""


def sampling_defaults(
    pipe: Any, model_id: str, steps: int | None = None, guidance: float | None = None
) -> SamplingDefaults:
    """The model's recommended steps and guidance: from its own metadata where it has some (a few-step
    scheduler such as LCM/TCD; a FLUX transformer without a guidance embedding, i.e. schnell), else from
    its name (turbo, lightning, lcm, schnell, hyper), else 30 steps and the pipeline's default guidance.
    ``steps``/``guidance`` (the operator's settings) override either."""
    scheduler = type(getattr(pipe, "scheduler", None)).__name__
    denoiser = getattr(getattr(pipe, "transformer", None), "config", None)
    if scheduler in FEW_STEP_SCHEDULERS:
        found = SamplingDefaults(FEW_STEP_SCHEDULERS[scheduler], 0.0, f"its scheduler ({scheduler})")
    elif type(pipe).__name__.startswith("Flux") and getattr(denoiser, "guidance_embeds", True) is False:
        found = SamplingDefaults(4, 0.0, "its transformer (no guidance embedding: a distilled FLUX)")
    elif is_few_step(model_id):
        found = SamplingDefaults(recommended_steps(model_id), 0.0, "its name (a few-step model)")
    else:
        found = SamplingDefaults(30, _pipeline_guidance(pipe), "the pipeline's defaults")
    if steps or guidance is not None:
        return SamplingDefaults(steps or found.steps, found.guidance if guidance is None else guidance, "the settings")
    return found


def recommended_guidance(pipe: Any, model_id: str) -> float:
    """0 for few-step models (trained without guidance), else the pipeline's own default."""
    return sampling_defaults(pipe, model_id).guidance


def native_side(pipe: Any) -> int:
    """The size the model was trained at: latent sample size × VAE scale factor (512 for SD 2, 1024 for SDXL)."""
    sample = getattr(pipe, "default_sample_size", None)
    if not isinstance(sample, int):
        denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
        sample = getattr(getattr(denoiser, "config", None), "sample_size", None)
    factor = getattr(pipe, "vae_scale_factor", 8)
    return int(sample * factor) if isinstance(sample, int) and isinstance(factor, int) else 512


def _truncation_note(tokenizer: Any, text: str, what: str) -> str | None:
    """A note saying where the text encoder stops reading ``text``, or None when it reads all of it."""
    limit = getattr(tokenizer, "model_max_length", None)
    if not text or not isinstance(limit, int) or limit > 100_000:
        return None
    ids = tokenizer(text, truncation=False).input_ids
    if len(ids) <= limit:
        return None
    dropped = tokenizer.decode(ids[limit - 1 : -1], skip_special_tokens=True).strip()
    if len(dropped) > 80:
        dropped = dropped[:77] + "…"
    return (
        f"The {what} is longer than the text encoder reads ({len(ids)} tokens; {limit} at most): "
        f"it was truncated, dropping “{dropped}”."
    )


# ------------------------------------------------------------------------------------ the task


def check_size(size: str | None, max_side: int) -> tuple[int | None, int | None]:
    """``size`` parsed (:func:`parse_size`) and checked: sides multiples of 8 within the limits."""
    width, height = parse_size(size)
    return _side(width, "Width", max_side), _side(height, "Height", max_side)


def check_prompt(prompt: str | None) -> str:
    """The prompt, checked: not empty (text checks as for every prompt field)."""
    prompt = _text(prompt, "prompt")
    if not prompt:
        raise InputError("Type a prompt first: a description of the image you want.")
    return prompt


def generate_images(
    prompt: str,
    *,
    negative_prompt: str = "",
    steps: int | None = None,
    guidance_scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    seed: int | None = None,
    decoder: str = "auto",
    clip_score: bool = True,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_preview: PreviewFn | None = None,
) -> GenerationResult:
    """Generate ``num_images`` images for ``prompt``.

    ``None`` or 0 for steps, guidance and sizes means "the model's recommendation": 1 step and no
    guidance for turbo models, 30 steps and the pipeline's default guidance otherwise; the model's
    native size (guidance 1 switches classifier-free guidance off explicitly). Sizes
    are multiples of 8 between 64 and the ``max_generated_side`` setting. ``seed=None`` picks a random
    seed; image ``i`` uses ``seed + i``. ``decoder``: ``auto``, ``tiny`` or ``full`` (see module doc).
    ``on_preview`` receives a :class:`Preview` every few steps (:func:`preview_steps`) when the tiny decoder
    decodes: the latents so far, still noisy in early steps.
    """
    manager = manager or get_manager()
    settings = manager.settings
    prompt = check_prompt(prompt)
    negative_prompt = _text(negative_prompt, "negative prompt")
    num_images = _whole(num_images, "Number of images", 1, settings.max_generated_images)
    steps = None if steps is None or steps == 0 else _whole(steps, "Steps", 1, MAX_STEPS)
    guidance_scale = _guidance(guidance_scale)
    width = _side(width, "Width", settings.max_generated_side)
    height = _side(height, "Height", settings.max_generated_side)
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else _whole(seed, "Seed", 0, MAX_SEED)
    if decoder not in DECODERS:
        raise InputError(f"Decoder must be one of {', '.join(DECODERS)} (got {decoder!r}).")

    notes: list[str] = []
    with ExitStack() as stack:
        handle = stack.enter_context(manager.use("text_to_image", progress))
        pipe = handle.model
        model_id = handle.model_id
        defaults = sampling_defaults(pipe, model_id, settings.t2i_steps, settings.t2i_guidance)
        steps = steps or defaults.steps
        guidance_scale = defaults.guidance if guidance_scale is None else guidance_scale
        default_side = min(native_side(pipe), settings.max_generated_side) // 8 * 8
        width, height = width or default_side, height or default_side
        tokenizer = getattr(pipe, "tokenizer", None)
        if tokenizer is not None:
            for text, what in ((prompt, "prompt"), (negative_prompt, "negative prompt")):
                if note := _truncation_note(tokenizer, text, what):
                    notes.append(note)
        params = _call_parameters(pipe)
        if negative_prompt and ("negative_prompt" not in params or guidance_scale <= 1):
            notes.append("The negative prompt has no effect without classifier-free guidance (guidance scale > 1).")

        tiny = None
        use_tiny = decoder == "tiny" or (decoder == "auto" and handle.device.type == "cpu")
        if use_tiny:
            tiny, why_not = _tiny_decoder(manager, stack, pipe, progress)
            if tiny is None:
                notes.append(f"Decoded with the full VAE (slower): {why_not}")

        previews = preview_steps(steps) if tiny is not None and on_preview is not None else set()

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if progress is not None:
                progress((step + 1) / steps, f"Denoising step {step + 1} of {steps}")
            if step + 1 in previews and "latents" in tensors:
                shown = _decode_tiny(pipe, tiny, tensors["latents"], handle.device)
                on_preview(Preview(tuple(img.convert("RGB") for img in shown), step + 1, steps, seed))
            return tensors

        import torch

        began = time.perf_counter()
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "num_inference_steps": steps,
            "guidance_scale": guidance_scale,
            "width": width,
            "height": height,
            "num_images_per_prompt": num_images,
            "generator": [torch.Generator("cpu").manual_seed(seed + i) for i in range(num_images)],
            "output_type": "latent" if tiny is not None else "pil",
        }
        if negative_prompt and "negative_prompt" in params:
            kwargs["negative_prompt"] = negative_prompt
        if "callback_on_step_end" in params:
            kwargs["callback_on_step_end"] = on_step
        output = pipe(**kwargs)
        if progress is not None:
            progress(1.0, "Decoding the images…")
        images = list(output.images) if tiny is None else _decode_tiny(pipe, tiny, output.images, handle.device)
        flagged = getattr(output, "nsfw_content_detected", None) or []
        if tiny is not None:
            images, flagged = _safety_check(pipe, images, handle.device, handle.dtype)
        if any(flagged):
            notes.append(f"The model's safety checker blacked out {sum(map(bool, flagged))} image(s).")
        images = [img.convert("RGB") for img in images]
        seconds = time.perf_counter() - began
        decoder_used = "tiny" if tiny is not None else "full"
        decoder_model_id = tiny.model_id if tiny is not None else None

    scores: list[float | None] = [None] * len(images)
    clip_model_id = None
    if clip_score:
        try:
            scores, clip_model_id = _clip_scores(manager, images, prompt, progress)
        except (ModelUnavailableError, MemoryBudgetError) as err:
            notes.append(f"CLIP score not shown: {err}")

    return GenerationResult(
        images=tuple(
            GeneratedImage(img, seed + i, score) for i, (img, score) in enumerate(zip(images, scores, strict=True))
        ),
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        steps=steps,
        guidance_scale=guidance_scale,
        width=width,
        height=height,
        decoder=decoder_used,
        model_id=model_id,
        decoder_model_id=decoder_model_id,
        clip_model_id=clip_model_id,
        notes=tuple(notes),
        seconds=seconds,
    )


TINY_DECODER_FAMILIES = {"taesdxl": "sdxl", "taesd3": "sd3", "taef1": "flux", "taesd": "sd"}
"""TAESD decoders by the name their authors give them (madebyollin/taesd …) → the pipeline family they
decode for. Their configs are identical (taesd and taesdxl both have 4 latent channels), so the name is
the only way to tell; a decoder of the wrong family decodes wrongly without any error."""
FAMILY_NAMES = {"sd": "Stable Diffusion 1/2", "sdxl": "SDXL", "sd3": "SD3", "flux": "FLUX"}


def decoder_family(model_id: str) -> str | None:
    """The pipeline family a tiny decoder is for, from its id or folder name; None when it does not say."""
    name = model_id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    for marker in sorted(TINY_DECODER_FAMILIES, key=len, reverse=True):
        if marker in name:
            return TINY_DECODER_FAMILIES[marker]
    return None


def pipeline_family(pipe: Any) -> str | None:
    """``sd``, ``sdxl``, ``sd3`` or ``flux`` from the pipeline's class; None for anything else."""
    name = type(pipe).__name__
    if name.startswith("StableDiffusionXL"):
        return "sdxl"
    if name.startswith("StableDiffusion3"):
        return "sd3"
    if name.startswith("Flux"):
        return "flux"
    if name.startswith("StableDiffusion"):
        return "sd"
    return None


def _tiny_decoder(manager: ModelManager, stack: ExitStack, pipe: Any, progress: ProgressFn | None) -> tuple[Any, str]:
    """The ``tiny_vae`` handle (entered on ``stack``), or None and why it cannot be used.

    The decoder must be made for this pipeline's family (checked from its name before it is loaded) and
    fit its latents (checked from both configs)."""
    shown = public_model_id(manager.model_id("tiny_vae"))
    wanted, offered = pipeline_family(pipe), decoder_family(manager.model_id("tiny_vae"))
    if wanted is None:
        return None, f"there is no fast decoder for this kind of model ({type(pipe).__name__})."
    if offered is None:
        return None, (
            f"cannot tell which models the fast decoder {shown} is for: its name should say "
            f"({', '.join(TINY_DECODER_FAMILIES)})."
        )
    if offered != wanted:
        return None, (
            f"the fast decoder {shown} is for {FAMILY_NAMES[offered]} models, and this is {FAMILY_NAMES[wanted]} "
            f"(set MMDEMO_TINY_VAE_MODEL to madebyollin/{_decoder_for(wanted)})."
        )
    vae = getattr(pipe, "vae", None)
    try:
        tiny = stack.enter_context(manager.use("tiny_vae", progress))
    except (ModelUnavailableError, MemoryBudgetError) as err:
        return None, str(err)
    channels = getattr(getattr(vae, "config", None), "latent_channels", None)
    if channels != tiny.model.config.latent_channels:
        return None, f"the fast decoder {shown} does not fit this model's latents ({channels} channels)."
    return tiny, ""


def _decoder_for(family: str) -> str:
    return next(marker for marker, f in TINY_DECODER_FAMILIES.items() if f == family)


def _decode_tiny(pipe: Any, tiny: Any, latents: Any, device: Any) -> list[Any]:
    """Latents → PIL images with the tiny autoencoder (as diffusers does with ``pipe.vae = AutoencoderTiny``)."""
    latents = latents.to(device=tiny.device, dtype=tiny.dtype) / tiny.model.config.scaling_factor
    decoded = tiny.model.decode(latents, return_dict=False)[0]
    return pipe.image_processor.postprocess(decoded, output_type="pil")


def _safety_check(pipe: Any, images: list[Any], device: Any, dtype: Any) -> tuple[list[Any], list[bool]]:
    """Run the pipeline's safety checker, if it has one, on images that bypassed it (tiny decoder)."""
    if getattr(pipe, "safety_checker", None) is None or not hasattr(pipe, "run_safety_checker"):
        return images, []
    import numpy as np

    array = np.stack([np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0 for img in images])
    checked, flagged = pipe.run_safety_checker(array, device, dtype)
    return pipe.image_processor.numpy_to_pil(checked), list(flagged or [])


def _clip_scores(
    manager: ModelManager, images: list[Any], prompt: str, progress: ProgressFn | None
) -> tuple[list[float | None], str]:
    import torch

    with manager.use("clip", progress) as clip:
        if progress is not None:
            progress(1.0, "Scoring the images against the prompt with CLIP…")
        inputs = clip.processor(text=[prompt], images=images, return_tensors="pt", padding=True, truncation=True)
        output = clip.model(**clip.prepare(inputs))
        image_embeds = torch.nn.functional.normalize(output.image_embeds.float(), dim=-1)
        text_embeds = torch.nn.functional.normalize(output.text_embeds.float(), dim=-1)
        scores = (100 * image_embeds @ text_embeds.T).clamp(min=0).squeeze(-1)
        return [round(float(s), 2) for s in scores], clip.model_id
