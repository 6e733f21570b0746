"""The text-to-image tab: prompt and controls → a gallery, the seed used and notes (CLIP scores)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks.text_to_image import MAX_GUIDANCE, MAX_SEED, MAX_STEPS, MIN_SIDE, GenerationResult, generate_images
from .common import model_event, progress_to

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
    """Markdown under the gallery: what was used (to reproduce it), the CLIP scores and any notes."""
    lines = [
        f"**Seed {result.seed}**"
        + (f" (images use {result.seed}–{result.seed + len(result.images) - 1})" if len(result.images) > 1 else "")
        + f" · {result.steps} steps · guidance {result.guidance_scale:g} · {result.width}×{result.height}"
        + f" · {result.decoder} decoder · `{public_model_id(result.model_id)}` · {result.seconds:.1f} s"
    ]
    scores = [g.clip_score for g in result.images if g.clip_score is not None]
    if scores:
        lines.append(
            "CLIP score (image–prompt similarity, 100 × cosine, 0–100; about 30+ is a good match): "
            + ", ".join(f"{s:.1f}" for s in scores)
        )
    lines += [f"⚠️ {note}" for note in result.notes]
    return "\n\n".join(lines)


def gpu_seconds(
    prompt: str,
    negative_prompt: str = "",
    steps: float | None = 0,
    guidance_scale: float | None = 0,
    width: float | None = 0,
    height: float | None = 0,
    num_images: float = 1,
    *_: Any,
    **__: Any,
) -> float:
    """ZeroGPU time to ask for: ~0.25 s per step per megapixel-image on an A100-class GPU, plus loading slack."""
    pixels = (float(width or 1024) * float(height or 1024)) / 2**20
    return min(20 + 0.25 * float(steps or 30) * max(float(num_images or 1), 1) * max(pixels, 0.25), 300)


def build_text_to_image_tab(manager: ModelManager, after: Callable[[Any], Any]) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    settings = manager.settings

    def generate(
        prompt: str,
        negative_prompt: str = "",
        steps: int = 0,
        guidance_scale: float = 0,
        width: int | None = 0,
        height: int | None = 0,
        num_images: int = 1,
        seed: int | None = 0,
        randomize_seed: bool = True,
        decoder: str = "auto",
        clip_score: bool = True,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[list[tuple[Any, str]], int, str]:
        result = generate_images(
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
            progress=progress_to(progress),
        )
        gallery = [
            (g.image, f"seed {g.seed}" + (f" · CLIP {g.clip_score:.1f}" if g.clip_score is not None else ""))
            for g in result.images
        ]
        return gallery, result.seed, describe(result)

    gr.Markdown(
        "Describe an image and generate it. Steps, guidance and size at 0 mean the model's "
        "recommendation. Each result shows its seed: untick *Random seed* and reuse it to get the same image."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            prompt = gr.Textbox(
                label="Prompt",
                lines=3,
                placeholder="e.g. a lighthouse on a cliff at sunset, oil painting",
                max_length=MAX_PROMPT_CHARS,
                elem_id="t2i-prompt",
            )
            negative = gr.Textbox(
                label="Negative prompt (what to avoid; needs guidance > 1)",
                lines=1,
                placeholder="e.g. blurry, text, watermark",
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
                    label="Images",
                    elem_id="t2i-count",
                )
                seed = gr.Number(
                    label=f"Seed (0–{MAX_SEED})", value=0, precision=0, minimum=0, maximum=MAX_SEED, elem_id="t2i-seed"
                )
                randomize = gr.Checkbox(label="Random seed", value=True, elem_id="t2i-randomize")
            with gr.Accordion("Steps, guidance, size, decoder", open=False):
                with gr.Row():
                    steps = gr.Slider(
                        0,
                        MAX_STEPS,
                        value=0,
                        step=1,
                        precision=0,
                        label="Steps (0 = model's choice)",
                        elem_id="t2i-steps",
                    )
                    guidance = gr.Slider(
                        0,
                        MAX_GUIDANCE,
                        value=0,
                        step=0.5,
                        label="Guidance scale (0 = model's choice; 1 = no guidance)",
                        elem_id="t2i-guidance",
                    )
                with gr.Row():
                    side = f"{MIN_SIDE}–{settings.max_generated_side}, multiple of 8; 0 = model's size"
                    size = {"value": 0, "precision": 0, "minimum": 0, "maximum": settings.max_generated_side}
                    width = gr.Number(label=f"Width ({side})", elem_id="t2i-width", **size)
                    height = gr.Number(label=f"Height ({side})", elem_id="t2i-height", **size)
                decoder = gr.Radio(DECODER_CHOICES, value="auto", label="Image decoder", elem_id="t2i-decoder")
                clip = gr.Checkbox(label="CLIP score (how well each image matches the prompt)", value=True)
            button = gr.Button("Generate", variant="primary", elem_id="t2i-button")
            gr.Examples(examples=[[p] for p in EXAMPLES], inputs=[prompt], label="Example prompts")
        with gr.Column(scale=1):
            gallery = gr.Gallery(
                label="Images",
                columns=2,
                height=520,
                format="png",
                buttons=["download", "fullscreen"],
                interactive=False,
                elem_id="t2i-gallery",
            )
            seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="t2i-seed-used")
            info = gr.Markdown(elem_id="t2i-info")

    after(
        model_event(
            [button.click, prompt.submit],
            generate,
            [prompt, negative, steps, guidance, width, height, num_images, seed, randomize, decoder, clip],
            [gallery, seed_used, info],
            api_name="generate",
            lane="generate",
            gpu_duration=gpu_seconds,
        )
    )
