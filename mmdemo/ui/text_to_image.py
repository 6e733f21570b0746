"""The text-to-image tab: prompt and Run on one row, a large result, everything else under Advanced.

Every input is built from its declaration in :mod:`mmdemo.tasks.text_to_image` (range, default, label, help:
the gate checks it with that declaration too); the handlers are module-level functions, the model manager (or
its settings) bound with ``functools.partial``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from ..errors import InputError
from ..messages import Message
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from ..settings import Settings
from ..tasks.text_to_image import (
    CLIP_SCORE,
    DECODER,
    GUIDANCE_SCALE,
    NEGATIVE_PROMPT,
    NUM_IMAGES,
    PROMPT,
    RANDOMIZE_SEED,
    SEED,
    SIZE,
    STEPS,
    GeneratedImage,
    GenerationResult,
    Preview,
    budget_info,
    check_inputs,
    clip_words,
    generate_images,
    images_param,
)
from .admission import work_charge
from .availability import AvailabilityView
from .events import model_event, progress_to, run_controls
from .i18n import LOCALES, page_value, request_locale, tr, tr_choices
from .notes import details_block, technical, warnings
from .send_to import Ports, track_selection
from .streaming import Partial, streamed
from .widgets import PARAM, checkbox, number, radio, slider, textbox

EXAMPLES = [
    "a cozy wooden cabin in a snowy forest at dusk, warm light in the windows, photograph",
    "a red double-decker bus crossing a bridge in the rain, cinematic",
    "an astronaut riding a horse on the moon, digital art",
    "a bowl of ramen on a wooden table, studio lighting, top view",
]
GALLERY_HEIGHT = "min(480px, 55vh)"
"""The result's box: a square image large on a desktop, and the whole box on the first screen of a 1440 × 900 one
(under the prompt and the example prompts) and within a phone's screen."""
PARAMS = (PROMPT, NEGATIVE_PROMPT, STEPS, GUIDANCE_SCALE, SIZE, NUM_IMAGES, SEED, RANDOMIZE_SEED, DECODER, CLIP_SCORE)
"""The inputs of ``/generate``, in order."""


def describe(result: GenerationResult, locale: str = "en") -> str:
    """Markdown under the result: one plain sentence (the seed, to make it again, and how well the images match the
    prompt), the notes a visitor needs, and a folded Details section (steps, guidance, size, decoder, model, time,
    the CLIP scores in numbers, the technical notes)."""
    count = len(result.images)
    images = Message("t2i.info_images", first=result.seed, last=result.seed + count - 1) if count > 1 else ""
    scores = [g.clip_score for g in result.images if g.clip_score is not None]
    if scores:  # the best image's match in words (each image's score is in its caption and in the details)
        headline = Message("t2i.summary_match", seed=result.seed, images=images, words=clip_words(max(scores)))
    else:
        headline = Message("t2i.summary", seed=result.seed, images=images)
    info = Message(
        "t2i.info",
        steps=result.steps,
        guidance=f"{result.guidance_scale:g}",
        width=result.width,
        height=result.height,
        decoder=Message(f"t2i.decoder_used.{result.decoder}"),
        model=public_model_id(result.model_id),
        seconds=f"{result.seconds:.1f}",
    )
    details = [info.text(locale)]
    if scores:
        items = ", ".join(Message("t2i.clip_score", score=f"{s:.1f}", words=clip_words(s)).text(locale) for s in scores)
        details.append(Message("t2i.clip_scores", scores=items).text(locale))
    lines = [headline.text(locale), *warnings(result.notes, locale)]
    lines.append(details_block([*details, *technical(result.notes, locale)], locale))
    return "\n\n".join(lines)


def image_caption(image: GeneratedImage, locale: str = "en") -> str:
    """The caption of a finished image in the gallery: its seed, and its CLIP score when there is one."""
    if image.clip_score is None:
        return Message("t2i.image_caption", seed=image.seed).text(locale)
    return Message("t2i.image_caption_clip", seed=image.seed, score=f"{image.clip_score:.1f}").text(locale)


def gallery_columns(count: int) -> int:
    """Columns that leave no empty cell: 1, 2, 3 in a row; 4 as 2 × 2."""
    return 2 if count == 4 else max(1, min(count, 3))


def gpu_seconds(
    prompt: str,
    negative_prompt: str = "",
    steps: float | None = 0,
    guidance_scale: float | None = 0,
    size: str = "auto",
    num_images: float = 1,
    *_: Any,
    **__: Any,
) -> float:
    """ZeroGPU time to ask for: ~0.25 s per step per megapixel-image on an A100-class GPU, plus loading slack."""
    try:
        width, height = SIZE.parse(size)  # an estimate, not a check
    except InputError:  # the handler reports a bad size
        width = height = None
    pixels = (float(width or 1024) * float(height or 1024)) / 2**20
    return min(20 + 0.25 * float(steps or 30) * max(float(num_images or 1), 1) * max(pixels, 0.25), 300)


@documented(PARAMS)
def generate(
    manager: ModelManager,
    prompt: str,
    negative_prompt: str = NEGATIVE_PROMPT.default,
    steps: int = STEPS.default,
    guidance_scale: float = GUIDANCE_SCALE.default,
    size: str = SIZE.default,
    num_images: int = NUM_IMAGES.default,
    seed: int | None = SEED.default,
    randomize_seed: bool = RANDOMIZE_SEED.default,
    decoder: str = DECODER.default,
    clip_score: bool = CLIP_SCORE.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> Iterator[tuple[list[tuple[Any, str]], int, str]]:
    """Generate images from a text prompt; each comes with its seed (to make it again) and a CLIP score.
    With several steps and the fast decoder, previews stream every few steps before the finished images."""
    locale = request_locale()
    report = progress_to(progress)
    charge = work_charge()  # the client's text-to-image budget (mmdemo/ui/admission.py)
    for item in streamed(
        lambda on_preview: generate_images(
            prompt,
            negative_prompt=negative_prompt,
            steps=steps,
            guidance_scale=guidance_scale,
            size=size,
            num_images=num_images,
            seed=None if randomize_seed else seed,
            decoder=decoder,
            clip_score=clip_score,
            manager=manager,
            progress=report,
            on_preview=on_preview,
            charge=charge,
        )
    ):
        if isinstance(item, Partial):
            preview: Preview = item.value
            line = Message("t2i.preview", step=preview.step, steps=preview.steps).text(locale)
            yield [(image, line) for image in preview.images], preview.seed, line
            continue
        yield [(g.image, image_caption(g, locale)) for g in item.images], item.seed, describe(item, locale)


def check_request(
    settings: Settings,
    prompt: str,
    negative_prompt: str,
    steps: Any,
    guidance_scale: Any,
    size: str,
    num_images: Any,
    seed: Any,
    randomize_seed: bool,
    decoder: str,
    *_: Any,
) -> None:
    """The browser's quick check before the request queues: the task's own checks (:func:`check_inputs`)."""
    check_inputs(
        prompt,
        negative_prompt=negative_prompt,
        steps=steps,
        guidance_scale=guidance_scale,
        size=size,
        num_images=num_images,
        seed=None if randomize_seed else seed,
        decoder=decoder,
        settings=settings,
    )


def size_picker(largest: int, **layout: Any) -> gr.Dropdown:
    """The size picker, built from :data:`SIZE` (the gate checks a value sent to it with ``SIZE.check``): the
    presets within the server's ``largest`` side, or any size typed in."""
    picker = gr.Dropdown(
        tr_choices(SIZE.offered(largest)),
        value=SIZE.default,
        label=tr(SIZE.label),
        info=tr(SIZE.info, multiple=SIZE.multiple),
        allow_custom_value=True,
        **layout,
    )
    setattr(picker, PARAM, SIZE)  # as mmdemo.ui.widgets binds the widgets it builds
    return picker


def seed_box(randomize_seed: bool) -> Any:
    """The seed box takes a seed only while "Random seed" is unticked."""
    return gr.update(interactive=not randomize_seed)


def gallery_grid(num_images: Any) -> Any:
    return gr.update(columns=gallery_columns(int(num_images or 1)))


def reuse_seed(used: Any) -> tuple[Any, Any]:
    """The seed used goes to the seed box, "Random seed" unticked (nothing changes before a run)."""
    return (used, False) if used is not None else (gr.update(), gr.update())


def shown() -> Any:
    return gr.update(visible=True)


def build_text_to_image_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    settings = manager.settings
    gr.Markdown(
        tr("Describe a picture and generate it. Each image shows its seed: reuse it to make the same image again."),
        elem_classes="tab-intro",
    )
    view.notice("generate")
    with gr.Row(equal_height=True):
        prompt = textbox(PROMPT, show_label=False, lines=1, max_lines=4, scale=5, elem_id="t2i-prompt")
        button = gr.Button(tr("Generate"), variant="primary", scale=1, min_width=120, elem_id="t2i-button")
    controls = run_controls("t2i")  # under the prompt and its Generate button
    # The example prompts under the prompt, not below an empty gallery; the gallery fits the screen and every
    # image fits its cell whole, its caption under it (CSS: .mmdemo-gallery and #t2i-gallery in mmdemo/ui/app.py).
    gr.Examples(examples=[[p] for p in EXAMPLES], inputs=[prompt], label=tr("Example prompts"), elem_id="t2i-examples")
    gallery = gr.Gallery(
        label=tr("Images"),
        columns=1,
        height=GALLERY_HEIGHT,
        object_fit="contain",
        format="png",
        buttons=["download", "fullscreen"],
        interactive=False,
        elem_id="t2i-gallery",
        elem_classes="mmdemo-gallery",
    )
    with gr.Row(equal_height=False, visible=False) as seed_row:  # shown once there is a seed to show
        seed_used = gr.Number(
            label=tr("Seed used"),
            value=None,
            precision=0,
            interactive=False,
            scale=3,
            elem_id="t2i-seed-used",
        )
        reuse = gr.Button(tr("Reuse this seed"), size="sm", scale=1, min_width=140, elem_id="t2i-reuse")
        to_image = gr.Button(tr("Describe this image"), size="sm", scale=1, min_width=140, elem_id="t2i-to-image")
    info = gr.Markdown(label=tr("Notes"), elem_id="t2i-info")
    with gr.Accordion(tr("Advanced"), open=False, elem_id="t2i-advanced"):
        negative = textbox(NEGATIVE_PROMPT, lines=1, elem_id="t2i-negative")
        with gr.Row():
            num_images = slider(images_param(settings), elem_id="t2i-count")
            size = size_picker(settings.max_generated_side, elem_id="t2i-size")
        with gr.Row():
            randomize = checkbox(RANDOMIZE_SEED, elem_id="t2i-randomize")
            seed = number(SEED, interactive=False, elem_id="t2i-seed")
        with gr.Row():
            steps = slider(STEPS, elem_id="t2i-steps")
            guidance = slider(GUIDANCE_SCALE, elem_id="t2i-guidance")
        decoder = radio(DECODER, elem_id="t2i-decoder")
        clip = checkbox(CLIP_SCORE)
        # the work budgets (settings; the step's depends on the device type, known without importing torch)
        limits = budget_info(settings, manager.device_type)
        gr.Markdown(page_value({locale: limits.text(locale) for locale in LOCALES}), elem_id="t2i-limits")

    quiet: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    randomize.change(seed_box, randomize, seed, **quiet)
    # the grid fits the count (columns set before the run: API results stay plain values)
    num_images.change(gallery_grid, num_images, gallery, **quiet)
    reuse.click(reuse_seed, seed_used, [seed, randomize], **quiet)
    view.gate("generate", "Generate", button)
    event = model_event(
        [button.click, prompt.submit],
        functools.partial(generate, manager),
        [prompt, negative, steps, guidance, size, num_images, seed, randomize, decoder, clip],
        [gallery, seed_used, info],
        api_name="generate",
        lane="generate",
        gpu_duration=gpu_seconds,
        manager=manager,
        check=functools.partial(check_request, settings),
        controls=controls,
    )
    event.success(shown, None, seed_row, **quiet)
    after(event)
    return Ports(prompt=prompt, images=[(to_image, gallery, track_selection(gallery))])
