"""The round-trip tab: photo → caption → image generated from it → its caption, side by side, with CLIP
similarities (how much survived the trip between words and pictures).

Steps and seed are the text-to-image declarations (:data:`~mmdemo.tasks.text_to_image.STEPS`,
:data:`~mmdemo.tasks.text_to_image.SEED`); the handlers are module-level functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.image import require_image
from ..messages import Message
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from ..tasks.round_trip import RoundTripResult
from ..tasks.round_trip import round_trip as run_round_trip
from ..tasks.text_to_image import SEED, STEPS, clip_words
from .admission import work_charge
from .availability import AvailabilityView
from .events import model_event, progress_to, run_controls
from .i18n import request_locale, tr
from .notes import details_block, technical, warnings
from .widgets import number, photo_input, slider

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "images"
EXAMPLES = ["lion.jpg", "tower.jpg", "cheetah.jpg"]
PHOTO = "the photo (JPEG, PNG, WebP, GIF …)"
"""What the image parameter is, for the API page and MCP."""


def describe(result: RoundTripResult, locale: str = "en") -> str:
    """Markdown: one plain sentence (how much survived the trip, or that it cannot be measured here), the notes a
    visitor needs, and a folded Details section (the similarity of each pair, seed, time, models, technical notes)."""
    s = result.similarities
    if s is None:
        lines = [Message("round_trip.unmeasured").text(locale)]
        details = []
    else:
        lines = [Message("round_trip.cycle", score=f"{s.photo_generated:.1f}").text(locale)]
        pairs = Message(
            "round_trip.pairs",
            photo_caption=f"{s.photo_caption:.1f}",
            photo_words=clip_words(s.photo_caption),
            generated_caption=f"{s.generated_caption:.1f}",
            generated_words=clip_words(s.generated_caption),
            captions=f"{s.caption_caption_back:.1f}",
        )
        details = [pairs.text(locale)]
    models = " · ".join(f"{role}: `{public_model_id(m)}`" for role, m in result.model_ids.items())
    details.append(
        Message("round_trip.run", seed=result.seed, seconds=f"{result.seconds:.1f}", models=models).text(locale)
    )
    lines += warnings(result.notes, locale)
    lines.append(details_block([*details, *technical(result.notes, locale)], locale))
    return "\n\n".join(lines)


@documented([STEPS, SEED], image=PHOTO)
def round_trip(
    manager: ModelManager,
    image: Any,
    steps: int = STEPS.default,
    seed: int | None = SEED.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> tuple[str, Any, str, str]:
    """Photo → caption → an image generated from the caption → its caption, with CLIP similarities
    (the cycle-consistency score is photo vs generated image)."""
    # ``image``: the uploaded file as the gate hands it on (a path-like Upload), passed on as it is.
    charge = work_charge()  # the generated image counts against the client's text-to-image budget
    result = run_round_trip(
        image, steps=steps, seed=seed, manager=manager, progress=progress_to(progress), charge=charge
    )
    return result.caption.text, result.generated, result.caption_back.text, describe(result, request_locale())


def image_given(image: Any, *_: Any) -> None:
    """The browser's quick check before the request queues: a photo is there."""
    require_image(image)


def build_round_trip_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
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
                steps = slider(STEPS, elem_id="trip-steps")
                seed = number(SEED)
            button = gr.Button(tr("Run the round trip"), variant="primary", elem_id="trip-button")
            controls = run_controls("trip")
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

    view.gate("round_trip", "Round trip", button)
    after(
        model_event(
            button.click,
            functools.partial(round_trip, manager),
            [photo, steps, seed],
            [caption, generated, caption_back, scores],
            api_name="round_trip",
            lane="generate",
            gpu_duration=60,
            manager=manager,
            check=image_given,
            controls=controls,
        )
    )
