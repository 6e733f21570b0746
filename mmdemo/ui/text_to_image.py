"""The text-to-image tab: prompt and Run on one row, a large result, everything else under Advanced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks.text_to_image import (
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    GenerationResult,
    Preview,
    check_prompt,
    check_size,
    clip_words,
    generate_images,
    parse_size,
    size_choices,
)
from .availability import AvailabilityView
from .common import Partial, model_event, progress_to, steps_slider, streamed
from .i18n import say, tr, tr_choices
from .send_to import Ports, track_selection

EXAMPLES = [
    "a cozy wooden cabin in a snowy forest at dusk, warm light in the windows, photograph",
    "a red double-decker bus crossing a bridge in the rain, cinematic",
    "an astronaut riding a horse on the moon, digital art",
    "a bowl of ramen on a wooden table, studio lighting, top view",
]
MAX_PROMPT_CHARS = 1000
"""Longer prompts are refused (the text encoders read the first 77 tokens anyway)."""
DECODER_CHOICES = [
    ("Automatic (fast decoder on CPU)", "auto"),
    ("Fast tiny decoder (TAESD)", "tiny"),
    ("Full VAE (best quality)", "full"),
]


def describe(result: GenerationResult) -> str:
    """Markdown under the result: what was used (to reproduce it), the CLIP scores in words, the notes."""
    lines = [
        f"**Seed {result.seed}**"
        + (f" (images use {result.seed}–{result.seed + len(result.images) - 1})" if len(result.images) > 1 else "")
        + f" · {result.steps} steps · guidance {result.guidance_scale:g} · {result.width}×{result.height}"
        + f" · {result.decoder} decoder · `{public_model_id(result.model_id)}` · {result.seconds:.1f} s"
    ]
    scores = [g.clip_score for g in result.images if g.clip_score is not None]
    if scores:
        lines.append(
            "CLIP score (how well the image matches the prompt, 0–100): "
            + ", ".join(f"{s:.1f} ({clip_words(s)})" for s in scores)
        )
    lines += [f"⚠️ {note}" for note in result.notes]
    return "\n\n".join(lines)


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
        width, height = parse_size(size)
    except Exception:  # the handler reports a bad size
        width = height = None
    pixels = (float(width or 1024) * float(height or 1024)) / 2**20
    return min(20 + 0.25 * float(steps or 30) * max(float(num_images or 1), 1) * max(pixels, 0.25), 300)


def build_text_to_image_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    settings = manager.settings

    def generate(
        prompt: str,
        negative_prompt: str = "",
        steps: int = 0,
        guidance_scale: float = 0,
        size: str = "auto",
        num_images: int = 1,
        seed: int | None = None,
        randomize_seed: bool = True,
        decoder: str = "auto",
        clip_score: bool = True,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> Iterator[tuple[list[tuple[Any, str]], int, str]]:
        """Generate images from a text prompt; each comes with its seed (to make it again) and a CLIP score.
        With several steps and the fast decoder, previews stream every few steps before the finished images.

        Args:
            prompt: what the image should show.
            negative_prompt: what to avoid (used only when guidance is above 1).
            steps: denoising steps; 0 = the model's recommendation.
            guidance_scale: how closely to follow the prompt; 0 = the model's recommendation, 1 = off.
            size: "auto" (the model's size) or WIDTHxHEIGHT in multiples of 8, e.g. "768x512".
            num_images: how many images.
            seed: the seed of the first image (image i uses seed + i); used when randomize_seed is false.
            randomize_seed: pick a random seed (returned, so the images can be made again).
            decoder: "auto", "tiny" (fast, TAESD) or "full" (the model's own decoder).
            clip_score: also score how well each image matches the prompt.
        """
        width, height = check_size(size, settings.max_generated_side)
        report = progress_to(progress)
        for item in streamed(
            lambda on_preview: generate_images(
                prompt,
                negative_prompt=negative_prompt,
                steps=steps,
                guidance_scale=guidance_scale,
                width=width,
                height=height,
                num_images=num_images,
                seed=None if randomize_seed or seed is None else seed,
                decoder=decoder,
                clip_score=clip_score,
                manager=manager,
                progress=report,
                on_preview=on_preview,
            )
        ):
            if isinstance(item, Partial):
                preview: Preview = item.value
                line = say("Preview after step {step} of {steps}", step=preview.step, steps=preview.steps)
                yield [(image, line) for image in preview.images], preview.seed, line
                continue
            images = [
                (g.image, f"seed {g.seed}" + (f" · CLIP {g.clip_score:.1f}" if g.clip_score is not None else ""))
                for g in item.images
            ]
            yield images, item.seed, describe(item)

    def checked(prompt: str, negative_prompt: str, steps: Any, guidance: Any, size: str, *_: Any) -> None:
        check_prompt(prompt)
        check_size(size, settings.max_generated_side)

    gr.Markdown(
        tr("Describe a picture and generate it. Each image shows its seed: reuse it to make the same image again."),
        elem_classes="tab-intro",
    )
    view.notice("generate")
    with gr.Row(equal_height=True):
        prompt = gr.Textbox(
            label=tr("Prompt"),
            show_label=False,
            lines=1,
            max_lines=4,
            placeholder=tr("Describe the image, e.g. a lighthouse on a cliff at sunset, oil painting"),
            max_length=MAX_PROMPT_CHARS,
            scale=5,
            elem_id="t2i-prompt",
        )
        button = gr.Button(tr("Generate"), variant="primary", scale=1, min_width=120, elem_id="t2i-button")
    gallery = gr.Gallery(
        label=tr("Images"),
        columns=1,
        height=560,
        object_fit="contain",
        format="png",
        buttons=["download", "fullscreen"],
        interactive=False,
        elem_id="t2i-gallery",
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
    gr.Examples(examples=[[p] for p in EXAMPLES], inputs=[prompt], label=tr("Example prompts"))
    with gr.Accordion(tr("Advanced"), open=False, elem_id="t2i-advanced"):
        negative = gr.Textbox(
            value="",
            label=tr("Negative prompt"),
            info=tr("What to avoid. Used only when guidance is above 1."),
            lines=1,
            placeholder=tr("e.g. blurry, text, watermark"),
            max_length=MAX_PROMPT_CHARS,
            elem_id="t2i-negative",
        )
        with gr.Row():
            num_images = gr.Slider(
                1,
                max(settings.max_generated_images, 2),  # (a slider needs two values; the backend caps it)
                value=1,
                step=1,
                precision=0,
                label=tr("Images"),
                elem_id="t2i-count",
            )
            size = gr.Dropdown(
                tr_choices(size_choices(settings.max_generated_side)),
                value="auto",
                label=tr("Size"),
                info=tr("Or type WIDTHxHEIGHT (multiples of 8)."),
                allow_custom_value=True,
                elem_id="t2i-size",
            )
        with gr.Row():
            randomize = gr.Checkbox(label=tr("Random seed"), value=True, elem_id="t2i-randomize")
            seed = gr.Number(
                label=tr("Seed"),
                info=tr("0–{max_seed}; untick Random seed to use it.", max_seed=MAX_SEED),
                value=None,
                precision=0,
                minimum=0,
                maximum=MAX_SEED,
                interactive=False,
                elem_id="t2i-seed",
            )
        with gr.Row():
            steps = steps_slider(MAX_STEPS, elem_id="t2i-steps")
            guidance = gr.Slider(
                0,
                MAX_GUIDANCE,
                value=0,
                step=0.5,
                label=tr("Guidance"),
                info=tr("How closely to follow the prompt. 0 = Auto; 1 = off."),
                elem_id="t2i-guidance",
            )
        decoder = gr.Radio(tr_choices(DECODER_CHOICES), value="auto", label=tr("Image decoder"), elem_id="t2i-decoder")
        clip = gr.Checkbox(label=tr("CLIP score"), info=tr("How well each image matches the prompt."), value=True)

    randomize.change(
        lambda r: gr.update(interactive=not r),
        randomize,
        seed,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    num_images.change(  # the grid fits the count (columns set before the run: API results stay plain values)
        lambda n: gr.update(columns=gallery_columns(int(n or 1))),
        num_images,
        gallery,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    reuse.click(
        lambda used: (used, False) if used is not None else (gr.update(), gr.update()),
        seed_used,
        [seed, randomize],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    view.gate("generate", "Generate", button)
    event = model_event(
        [button.click, prompt.submit],
        generate,
        [prompt, negative, steps, guidance, size, num_images, seed, randomize, decoder, clip],
        [gallery, seed_used, info],
        api_name="generate",
        lane="generate",
        gpu_duration=gpu_seconds,
        manager=manager,
        needs=("text_to_image",),
        check=checked,
    )
    event.success(
        lambda: gr.update(visible=True), None, seed_row, queue=False, show_progress="hidden", api_visibility="private"
    )
    after(event)
    return Ports(prompt=prompt, images=[(to_image, gallery, track_selection(gallery))])
