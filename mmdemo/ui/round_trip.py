"""The round-trip tab: photo → caption → image generated from it → its caption, side by side, with CLIP
similarities (how much survived the trip between words and pictures)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.image import require_image
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks.round_trip import RoundTripResult
from ..tasks.round_trip import round_trip as run_round_trip
from ..tasks.text_to_image import MAX_SEED, MAX_STEPS, clip_words
from .availability import AvailabilityView
from .common import model_event, photo_input, progress_to, steps_slider
from .i18n import tr

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "images"
EXAMPLES = ["lion.jpg", "tower.jpg", "cheetah.jpg"]


def describe(result: RoundTripResult) -> str:
    """Markdown: the similarities in numbers and words, what ran, the notes."""
    lines = []
    s = result.similarities
    if s is not None:
        lines.append(
            f"**Cycle consistency: {s.photo_generated:.1f}** (CLIP similarity of the photo and the generated "
            "image, 0–100; two pictures of the same kind of scene score 80 and above)"
        )
        lines.append(
            f"Photo ↔ its caption {s.photo_caption:.1f} ({clip_words(s.photo_caption)}) · generated image ↔ the "
            f"caption {s.generated_caption:.1f} ({clip_words(s.generated_caption)}) · caption ↔ caption back "
            f"{s.caption_caption_back:.1f} (text to text)"
        )
    models = " · ".join(f"{role}: `{public_model_id(m)}`" for role, m in result.model_ids.items())
    lines.append(f"Seed {result.seed} · {result.seconds:.1f} s · {models}")
    lines += [f"⚠️ {note}" for note in result.notes]
    return "\n\n".join(lines)


def build_round_trip_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""

    def round_trip(
        image: Any,
        steps: int = 0,
        seed: int | None = None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[str, Any, str, str]:
        """Photo → caption → an image generated from the caption → its caption, with CLIP similarities
        (the cycle-consistency score is photo vs generated image).

        Args:
            image: the photo (JPEG, PNG, WebP, GIF …).
            steps: denoising steps of the generated image; 0 = the model's recommendation.
            seed: seed of the generated image; empty = random (the one used is reported).
        """
        result = run_round_trip(image, steps=steps or None, seed=seed, manager=manager, progress=progress_to(progress))
        return result.caption.text, result.generated, result.caption_back.text, describe(result)

    gr.Markdown(
        tr("Photo → caption → a picture made from the caption → its caption: what survives the trip?"),
        elem_classes="tab-intro",
    )
    view.notice("round_trip")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            photo = photo_input("trip-image", height=300)
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[photo],
                label=tr("Example photos"),
            )
            with gr.Accordion(tr("Advanced"), open=False):
                steps = steps_slider(MAX_STEPS)
                seed = gr.Number(
                    label=tr("Seed"),
                    info=tr("Empty: a random seed."),
                    value=None,
                    precision=0,
                    minimum=0,
                    maximum=MAX_SEED,
                )
            button = gr.Button(tr("Run the round trip"), variant="primary", elem_id="trip-button")
            caption = gr.Textbox(
                label=tr("Caption of the photo"), lines=2, interactive=False, buttons=["copy"], elem_id="trip-caption"
            )
        with gr.Column(scale=1, min_width=280):
            generated = gr.Image(
                label=tr("Generated from the caption"),
                type="pil",
                format="png",
                interactive=False,
                height=300,
                elem_id="trip-generated",
            )
            caption_back = gr.Textbox(
                label=tr("Caption of the generated image"),
                lines=2,
                interactive=False,
                buttons=["copy"],
                elem_id="trip-caption-back",
            )
            scores = gr.Markdown(label=tr("Similarities"), elem_id="trip-scores")

    def image_given(image: Any, *_: Any) -> None:
        require_image(image)

    view.gate("round_trip", "Round trip", button)
    after(
        model_event(
            button.click,
            round_trip,
            [photo, steps, seed],
            [caption, generated, caption_back, scores],
            api_name="round_trip",
            lane="generate",
            gpu_duration=60,
            manager=manager,
            needs=("captioner", "text_to_image"),
            check=image_given,
        )
    )
