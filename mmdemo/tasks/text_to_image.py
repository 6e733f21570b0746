"""Text to image with a diffusers pipeline, an optional fast decoder and a CLIP score per image.

Shape shared by every task module: inputs → preprocess (validate) → model (through the manager)
→ postprocess (decode, score) → a frozen result dataclass.

* Parameters: declared once, here (:data:`PROMPT`, :data:`STEPS`, :data:`SEED` …, see :mod:`mmdemo.params`);
  the page's widgets, the API gate, the command line's options and the API/MCP help are built from them, and
  :func:`check_inputs` checks a request with them (plus the server's own caps: ``max_generated_side``,
  ``max_generated_images``) before any model is loaded.
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
import re
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, MemoryBudgetError, ModelUnavailableError
from ..messages import Message
from ..models.manager import ModelManager, ProgressFn
from ..params import Choice, Flag, Number, Text, check_number, check_text, field
from ..runner import task
from ..runtime import get_manager
from ..settings import Settings
from .fast_decoder import decode_tiny as _decode_tiny
from .fast_decoder import decoder_family, pipeline_family  # noqa: F401  (the task's public names)
from .fast_decoder import safety_check as _safety_check
from .fast_decoder import tiny_decoder as _tiny_decoder

# --------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Size(Choice):
    """A picture's size as the page and the API take it: ``auto`` (the model's own size) or ``WIDTHxHEIGHT``,
    one of the presets (:attr:`choices`) or typed in. Each side is a whole number of pixels, a multiple of
    :attr:`multiple`, at least :attr:`smallest` and at most the server's ``max_generated_side`` setting: that
    cap is the task's to check (:func:`check_inputs`), since the gate checks without the server's settings."""

    smallest: int = 1
    multiple: int = 1

    def check(self, value: Any) -> str:
        """What the gate asks (it has no server settings: the task checks the largest side)."""
        self.sides(value)
        return value

    def sides(self, value: Any, largest: int | None = None) -> tuple[int | None, int | None]:
        """``value`` parsed and checked: (width, height), ``(None, None)`` for ``auto`` (or empty)."""
        width, height = self.parse(value)
        return self.side(width, WIDTH, largest), self.side(height, HEIGHT, largest)

    def parse(self, value: Any) -> tuple[int | None, int | None]:
        """``value`` read (the one parser of a size; :meth:`side` checks each side): ``(None, None)`` for auto."""
        text = check_text(value, self.field).strip().lower()
        if text in ("", "auto"):
            return None, None
        match = _SIZE_FORM.fullmatch(text)
        if match is None:
            shown = repr(value) if len(value) <= 24 else repr(value[:21]) + "…"
            raise InputError(Message("t2i.size_form", field=self.field, got=shown))
        return int(match[1]) or None, int(match[2]) or None

    def side(self, value: Any, which: Message, largest: int | None = None) -> int | None:
        """One side (``which``: :data:`WIDTH` or :data:`HEIGHT`); ``None`` or 0: the model's own size."""
        if value is None or (value == 0 and not isinstance(value, bool)):
            return None
        side = check_number(value, which, minimum=self.smallest, maximum=largest, integer=True)
        if side % self.multiple:
            raise InputError(Message("t2i.side_multiple", field=which, multiple=self.multiple, got=side))
        return side

    def limits(self) -> str:
        return (
            f'"auto" (the model\'s size) or WIDTHxHEIGHT such as "768x512", sides multiples of {self.multiple} '
            f"from {self.smallest} to the server's largest (MMDEMO_MAX_GENERATED_SIDE)"
        )

    def side_help(self, which: str) -> str:
        """What the command line says about ``--width``/``--height``."""
        return (
            f"image {which} in pixels, a multiple of {self.multiple} from {self.smallest} to the server's largest "
            "side (default: the model's own size)"
        )

    def offered(self, largest: int) -> list[tuple[str, str]]:
        """The choices (auto and the presets) whose sides are at most ``largest``."""
        return [(label, value) for label, value in self.choices if all((s or 0) <= largest for s in self.parse(value))]


_SIZE_FORM = re.compile(r"(\d{1,5})\s*[x×]\s*(\d{1,5})")
WIDTH = field("Width", "width")
HEIGHT = field("Height", "height")
"""How refusals name the two sides (the library's and the command line's parameter names)."""

SIZE_PRESETS = ((512, 512), (768, 768), (1024, 1024), (768, 512), (512, 768), (1024, 576), (576, 1024))
"""Width × height choices offered on the page (those within the ``max_generated_side`` setting)."""

PROMPT = Text(
    "prompt",
    "Prompt",
    None,  # none: a client must send one (the API and MCP mark it required)
    max_length=1000,
    placeholder="Describe the image, e.g. a lighthouse on a cliff at sunset, oil painting",
    doc="what the image should show; the text encoders read about its first 77 tokens",
)
NEGATIVE_PROMPT = Text(
    "negative_prompt",
    "Negative prompt",
    "",
    max_length=PROMPT.max_length,
    info="What to avoid. Used only when guidance is above 1.",
    placeholder="e.g. blurry, text, watermark",
    doc="what to avoid; used only when guidance is above 1",
)
STEPS = Number(
    "steps",
    "Steps",
    0,
    minimum=0,
    maximum=100,
    integer=True,
    info="0 = Auto (the model's recommendation)",
    doc="denoising steps; 0 = the model's recommendation",
)
GUIDANCE_SCALE = Number(
    "guidance_scale",
    "Guidance",
    0,
    minimum=0,
    maximum=30,
    step=0.5,
    info="How closely to follow the prompt. 0 = Auto; 1 = off.",
    doc="how closely to follow the prompt; 0 = the model's recommendation, 1 = off",
)
SIZE = Size(
    "size",
    "Size",
    "auto",
    info="Or type WIDTHxHEIGHT (multiples of {multiple}).",
    doc="the size of the images",
    choices=(("Auto (the model's size)", "auto"), *((f"{w} × {h}", f"{w}x{h}") for w, h in SIZE_PRESETS)),
    smallest=64,
    multiple=8,
)
NUM_IMAGES = Number(
    "num_images",
    "Images",
    1,
    minimum=1,
    maximum=4,
    integer=True,
    doc="how many images (a server sets its own most: MMDEMO_MAX_GENERATED_IMAGES)",
)


def images_param(settings: Settings) -> Number:
    """:data:`NUM_IMAGES` on a server with ``settings``: at most its ``max_generated_images`` setting
    (``MMDEMO_MAX_GENERATED_IMAGES``), which may be more or fewer than the declared 4. The page's slider is built
    from it, so the API gate refuses what the task refuses, with the same sentence."""
    return NUM_IMAGES.on_server(maximum=settings.max_generated_images)


SEED = Number(
    "seed",
    "Seed",
    None,
    minimum=0,
    maximum=2**32 - 1,
    integer=True,
    optional=True,
    info="Empty: a random seed.",
    doc="seed of the first image (image i uses seed + i); empty = random (the one used is returned)",
)
RANDOMIZE_SEED = Flag(
    "randomize_seed",
    "Random seed",
    True,
    info="Untick to choose the seed yourself.",
    doc="pick a random seed (returned, so the images can be made again); false: use seed",
)
DECODER = Choice(
    "decoder",
    "Image decoder",
    "auto",
    choices=(
        ("Automatic (fast decoder on CPU)", "auto"),
        ("Fast tiny decoder (TAESD)", "tiny"),
        ("Full VAE (best quality)", "full"),
    ),
    doc="what turns the result into pixels: tiny (TAESD, fast), full (the model's own VAE), auto (tiny on a CPU)",
)
CLIP_SCORE = Flag(
    "clip_score",
    "CLIP score",
    True,
    info="How well each image matches the prompt.",
    doc="also score how well each image matches the prompt",
)
MAX_SEED = SEED.maximum
DECODERS = tuple(DECODER.values)
CLIP_WORDS = ((30.0, "good"), (25.0, "fair"), (20.0, "weak"), (float("-inf"), "poor"))
"""CLIP score (100 × cosine of ViT-B/32 embeddings) in words (``t2i.clip.<word>``): text-to-image papers report
~30 and above for images that follow their prompt; unrelated image–text pairs score around 15–20."""


def clip_words(score: float) -> Message:
    """A CLIP score in words (see :data:`CLIP_WORDS`)."""
    return Message("t2i.clip." + next(words for floor, words in CLIP_WORDS if score >= floor))


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
    notes: tuple[Message, ...]
    """Things the user should know: truncated prompt, decoder fallback, CLIP score hidden …"""
    seconds: float
    """Generation time (denoising + decoding; model loading and CLIP scoring excluded)."""


# --------------------------------------------------------------------------------------- inputs


MEGAPIXEL = 2**20
"""The unit of the work budgets: 2**20 pixels (a 1024 × 1024 image)."""


@dataclass(frozen=True)
class Work:
    """The denoising work of one request, from its parameters (:data:`SIZE`, :data:`NUM_IMAGES`, :data:`STEPS`,
    :data:`GUIDANCE_SCALE`): every step runs the denoiser on ``images`` latents of ``width × height``, twice as many
    with classifier-free guidance (guidance above 1, as diffusers decides). The server's caps on it are settings:
    ``t2i_step_megapixels`` (one step: how long an abandoned request keeps its lane, since it stops between
    steps), ``t2i_request_megapixel_steps`` (one request) and ``t2i_client_megapixel_steps_per_hour`` (one client,
    :mod:`mmdemo.ui.admission`)."""

    width: int
    height: int
    images: int
    steps: int
    guided: bool

    @property
    def step_megapixels(self) -> float:
        return self.width * self.height * self.images * (2 if self.guided else 1) / MEGAPIXEL

    @property
    def megapixel_steps(self) -> float:
        return self.step_megapixels * self.steps

    def check(self, settings: Settings, device: str | None = None) -> None:
        """Refuse (:class:`~mmdemo.errors.InputError`) work beyond the server's per-step cap on ``device`` (None: not
        known yet) or its per-request cap."""
        step_limit = settings.step_megapixels_on(device)
        if self.step_megapixels > step_limit:
            raise InputError(
                Message(
                    "t2i.step_too_large",
                    width=self.width,
                    height=self.height,
                    images=self.images,
                    guided=Message("t2i.guided") if self.guided else "",
                    work=f"{self.step_megapixels:.3g}",
                    limit=f"{step_limit:g}",
                )
            )
        if self.megapixel_steps > settings.t2i_request_megapixel_steps:
            raise InputError(
                Message(
                    "t2i.request_too_large",
                    work=f"{self.megapixel_steps:.3g}",
                    step=f"{self.step_megapixels:.3g}",
                    steps=self.steps,
                    limit=f"{settings.t2i_request_megapixel_steps:g}",
                )
            )


def budget_info(settings: Settings, device: str | None = None) -> Message:
    """The work budgets of a server whose models run on ``device`` in one line (the page states them)."""
    per_client = settings.t2i_client_megapixel_steps_per_hour
    return Message(
        "t2i.budget_info",
        step=f"{settings.step_megapixels_on(device):g}",
        request=f"{settings.t2i_request_megapixel_steps:g}",
        client=Message("t2i.budget_info_client", limit=f"{per_client:g}") if per_client > 0 else "",
    )


ChargeFn = Callable[[float], None]
"""Charges a request's planned work (megapixel-steps) to its client before denoising; raises to refuse it."""


@dataclass(frozen=True)
class Inputs:
    """A request's inputs as :func:`check_inputs` passes them: ``None`` where the model's own choice applies
    (steps, guidance, sides) or a random seed is wanted."""

    prompt: str
    negative_prompt: str
    steps: int | None
    guidance_scale: float | None
    width: int | None
    height: int | None
    num_images: int
    seed: int | None
    decoder: str


def check_prompt(prompt: str | None) -> str:
    """The prompt (:data:`PROMPT`), whitespace normalised; refused when empty or too long."""
    prompt = " ".join(PROMPT.check(prompt).split())
    if not prompt:
        raise InputError(Message("t2i.no_prompt"))
    return prompt


def check_inputs(
    prompt: str | None,
    *,
    negative_prompt: str | None = "",
    steps: int | None = None,
    guidance_scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    size: str | None = None,
    num_images: int = NUM_IMAGES.default,
    seed: int | None = None,
    decoder: str = DECODER.default,
    settings: Settings,
) -> Inputs:
    """Every input of :func:`generate_images` checked by its declaration — the same checks and sentences as the
    API gate's — and by the server's caps (``settings``): sides at most ``max_generated_side``, images at most
    ``max_generated_images`` (when it is below :data:`NUM_IMAGES`'s maximum). ``size`` (:data:`SIZE`, as the page
    and the API send it) gives both sides instead of ``width`` and ``height``. Loads nothing."""
    prompt = check_prompt(prompt)
    negative_prompt = " ".join(NEGATIVE_PROMPT.check(negative_prompt).split())
    steps = None if steps is None else STEPS.check(steps) or None
    guidance_scale = None if guidance_scale is None else GUIDANCE_SCALE.check(guidance_scale) or None
    largest = settings.max_generated_side
    if size is not None:
        width, height = SIZE.sides(size, largest)
    else:
        width, height = SIZE.side(width, WIDTH, largest), SIZE.side(height, HEIGHT, largest)
    count = images_param(settings).check(num_images)
    seed, decoder = SEED.check(seed), DECODER.check(decoder)
    if steps and guidance_scale and width and height:  # everything explicit: the work is known before any loading
        Work(width, height, count, steps, guidance_scale > 1).check(
            settings, None if settings.device == "auto" else settings.device
        )
    return Inputs(prompt, negative_prompt, steps, guidance_scale, width, height, count, seed, decoder)


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


def _truncation_note(tokenizer: Any, text: str, key: str) -> Message | None:
    """A note (``key``: ``t2i.prompt_truncated`` or ``t2i.negative_truncated``) saying where the text encoder stops
    reading ``text``, or None when it reads all of it."""
    limit = getattr(tokenizer, "model_max_length", None)
    if not text or not isinstance(limit, int) or limit > 100_000:
        return None
    ids = tokenizer(text, truncation=False).input_ids
    if len(ids) <= limit:
        return None
    dropped = tokenizer.decode(ids[limit - 1 : -1], skip_special_tokens=True).strip()
    if len(dropped) > 80:
        dropped = dropped[:77] + "…"
    return Message(key, count=len(ids), limit=limit, dropped=dropped)


# ------------------------------------------------------------------------------------ the task


@task("text_to_image")
def generate_images(
    prompt: str,
    *,
    negative_prompt: str = "",
    steps: int | None = None,
    guidance_scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    size: str | None = None,
    num_images: int = NUM_IMAGES.default,
    seed: int | None = None,
    decoder: str = DECODER.default,
    clip_score: bool = CLIP_SCORE.default,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    on_preview: PreviewFn | None = None,
    charge: ChargeFn | None = None,
) -> GenerationResult:
    """Generate ``num_images`` images for ``prompt``.

    ``None`` or 0 for steps, guidance and sizes means "the model's recommendation": 1 step and no
    guidance for turbo models, 30 steps and the pipeline's default guidance otherwise; the model's
    native size (guidance 1 switches classifier-free guidance off explicitly); ``size`` (``"768x512"``,
    ``"auto"``) instead of ``width`` and ``height``. The inputs are checked first (:func:`check_inputs`: the
    declarations, :data:`SIZE` for the sides, and the server's caps). ``seed=None``
    picks a random seed; image ``i`` uses ``seed + i``. ``decoder``: ``auto``, ``tiny`` or ``full`` (see module
    doc).
    ``on_preview`` receives a :class:`Preview` every few steps (:func:`preview_steps`) when the tiny decoder
    decodes: the latents so far, still noisy in early steps.

    Work: the request's :class:`Work` (known once the model's defaults are) is checked against the server's
    per-step and per-request caps, then handed to ``charge`` (the client's budget) before denoising.
    Cancellation: ``progress`` is called after every denoising step and before each image is decoded; a request
    whose client has gone stops there (the UI's ``progress`` raises :class:`~mmdemo.errors.Cancelled`).
    """
    manager = manager or get_manager()
    settings = manager.settings
    inputs = check_inputs(
        prompt,
        negative_prompt=negative_prompt,
        steps=steps,
        guidance_scale=guidance_scale,
        width=width,
        height=height,
        size=size,
        num_images=num_images,
        seed=seed,
        decoder=decoder,
        settings=settings,
    )
    prompt, negative_prompt, num_images, decoder = (
        inputs.prompt,
        inputs.negative_prompt,
        inputs.num_images,
        inputs.decoder,
    )
    seed = secrets.randbelow(MAX_SEED + 1) if inputs.seed is None else inputs.seed

    notes: list[Message] = []
    with ExitStack() as stack:
        handle = stack.enter_context(manager.use("text_to_image", progress))
        pipe = handle.model
        model_id = handle.model_id
        defaults = sampling_defaults(pipe, model_id, settings.t2i_steps, settings.t2i_guidance)
        steps = inputs.steps or defaults.steps
        guidance_scale = defaults.guidance if inputs.guidance_scale is None else inputs.guidance_scale
        default_side = min(native_side(pipe), settings.max_generated_side) // SIZE.multiple * SIZE.multiple
        width, height = inputs.width or default_side, inputs.height or default_side
        work = Work(width, height, num_images, steps, guidance_scale > 1)
        work.check(settings, str(handle.device))
        if charge is not None:
            charge(work.megapixel_steps)
        tokenizer = getattr(pipe, "tokenizer", None)
        if tokenizer is not None:
            for text, key in ((prompt, "t2i.prompt_truncated"), (negative_prompt, "t2i.negative_truncated")):
                if note := _truncation_note(tokenizer, text, key):
                    notes.append(note)
        params = _call_parameters(pipe)
        if negative_prompt and ("negative_prompt" not in params or guidance_scale <= 1):
            notes.append(Message("t2i.negative_unused"))

        tiny = None
        use_tiny = decoder == "tiny" or (decoder == "auto" and handle.device.type == "cpu")
        if use_tiny:
            tiny, why_not = _tiny_decoder(manager, stack, pipe, progress)
            if tiny is None:
                notes.append(Message("t2i.full_vae", reason=why_not))

        previews = preview_steps(steps) if tiny is not None and on_preview is not None else set()

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if progress is not None:
                progress((step + 1) / steps, Message("t2i.progress.step", step=step + 1, steps=steps))
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
            progress(1.0, Message("t2i.progress.decoding"))
        if tiny is None:
            images = list(output.images)
        else:  # one image at a time: a request whose client has gone stops between them
            images = []
            for i in range(num_images):
                if progress is not None and num_images > 1:
                    progress(1.0, Message("t2i.progress.decoding_one", number=i + 1, total=num_images))
                images += _decode_tiny(pipe, tiny, output.images[i : i + 1], handle.device)
        flagged = getattr(output, "nsfw_content_detected", None) or []
        if tiny is not None:
            images, flagged = _safety_check(pipe, images, handle.device, handle.dtype)
        if any(flagged):
            notes.append(Message("t2i.safety", count=sum(map(bool, flagged))))
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
            notes.append(Message("t2i.no_clip", reason=err.message))

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


def _clip_scores(
    manager: ModelManager, images: list[Any], prompt: str, progress: ProgressFn | None
) -> tuple[list[float | None], str]:
    import torch

    with manager.use("clip", progress) as clip:
        if progress is not None:
            progress(1.0, Message("t2i.progress.scoring"))
        inputs = clip.processor(text=[prompt], images=images, return_tensors="pt", padding=True, truncation=True)
        output = clip.model(**clip.prepare(inputs))
        image_embeds = torch.nn.functional.normalize(output.image_embeds.float(), dim=-1)
        text_embeds = torch.nn.functional.normalize(output.text_embeds.float(), dim=-1)
        scores = (100 * image_embeds @ text_embeds.T).clamp(min=0).squeeze(-1)
        return [round(float(s), 2) for s in scores], clip.model_id
