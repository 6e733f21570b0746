"""A cross-modal round trip: photo → caption → image generated from the caption → caption of that image,
with CLIP similarities that say how much survived the trip (cycle consistency).

Shape shared by every task module: inputs → preprocess (decode + validate) → models (through the
manager, each task's own function) → postprocess (similarities) → a frozen result dataclass.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import MMDemoError
from ..media.image import ImageLimits, load_image
from ..messages import Message
from ..models.manager import ModelManager
from ..progress import ProgressFn, sub_range
from ..runner import task
from ..runtime import get_manager
from .captioning import CaptionResult, caption_images
from .text_to_image import ChargeFn, generate_images


@dataclass(frozen=True)
class Similarities:
    """CLIP cosine similarities × 100 (0–100; unrelated pairs score ~15–20, close ones 30+ across
    modalities, 80+ between two images of the same scene)."""

    photo_generated: float
    """Photo vs the generated image: the cycle-consistency score."""
    photo_caption: float
    """Photo vs its caption (how well the caption describes it)."""
    generated_caption: float
    """Generated image vs the caption it was made from (the text-to-image CLIP score)."""
    caption_caption_back: float
    """The two captions, text vs text."""


@dataclass(frozen=True)
class RoundTripResult:
    caption: CaptionResult
    """The photo's caption (the prompt of the generated image)."""
    generated: Image.Image
    seed: int
    """Seed of the generated image (pass it again to make the same image)."""
    caption_back: CaptionResult
    """The generated image's caption."""
    similarities: Similarities | None
    """None when the CLIP model is not available (see ``notes``)."""
    model_ids: dict[str, str]
    notes: tuple[Message, ...]
    seconds: float


def clip_similarities(
    images: list[Image.Image], texts: list[str], manager: ModelManager, progress: ProgressFn | None = None
) -> tuple[Any, Any, str]:
    """Unit-length CLIP embeddings of ``images`` and ``texts`` (one forward pass) and the model id."""
    import torch

    with manager.use("clip", progress) as clip:
        inputs = clip.processor(text=texts, images=images, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            output = clip.model(**clip.prepare(inputs))
        image_embeds = torch.nn.functional.normalize(output.image_embeds.float(), dim=-1)
        text_embeds = torch.nn.functional.normalize(output.text_embeds.float(), dim=-1)
        return image_embeds.cpu(), text_embeds.cpu(), clip.model_id


@task("text_to_image", files=("image",))
def round_trip(
    image: str | os.PathLike[str] | bytes | Image.Image,
    *,
    steps: int | None = None,
    seed: int | None = None,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
    charge: ChargeFn | None = None,
) -> RoundTripResult:
    """Caption ``image`` (a path — an uploaded file as the page hands it on —, its bytes or a picture), generate an
    image from that caption (``steps``/``seed`` as :func:`~mmdemo.tasks.text_to_image.generate_images` takes and
    checks them: None or 0 steps: the model's choice; None: a random seed), caption the generated image, and
    measure with CLIP how close each step stayed. ``charge``: the generated image's work, as
    :func:`~mmdemo.tasks.text_to_image.generate_images` charges it (the client's budget)."""
    manager = manager or get_manager()
    began = time.perf_counter()
    photo = load_image(image, ImageLimits.from_settings(manager.settings))
    caption = caption_images([photo], manager=manager, progress=sub_range(progress, 0.0, 0.15))[0]
    generation = generate_images(
        caption.text,
        steps=steps,
        seed=seed,
        clip_score=False,
        manager=manager,
        progress=sub_range(progress, 0.15, 0.8),
        charge=charge,
    )
    generated = generation.images[0]
    back = caption_images([generated.image], manager=manager, progress=sub_range(progress, 0.8, 0.9))[0]
    notes = list(generation.notes)
    similarities = None
    model_ids = {"captioner": caption.model_id, "text_to_image": generation.model_id}
    try:
        if progress is not None:
            progress(0.9, Message("round_trip.progress.comparing"))
        images, texts, clip_id = clip_similarities(
            [photo, generated.image], [caption.text, back.text], manager, sub_range(progress, 0.9, 1.0)
        )
        cosine = (100 * images @ texts.T).clamp(min=0)
        similarities = Similarities(
            photo_generated=round(float(100 * images[0] @ images[1]), 2),
            photo_caption=round(float(cosine[0, 0]), 2),
            generated_caption=round(float(cosine[1, 0]), 2),
            caption_caption_back=round(float(100 * texts[0] @ texts[1]), 2),
        )
        model_ids["clip"] = clip_id
    except MMDemoError as err:  # the trip itself stands without the scores
        notes.append(Message("round_trip.no_scores", reason=err.message))
    if progress is not None:
        progress(1.0, Message("round_trip.progress.done"))
    return RoundTripResult(
        caption=caption,
        generated=generated.image,
        seed=generated.seed,
        caption_back=back,
        similarities=similarities,
        model_ids=model_ids,
        notes=tuple(notes),
        seconds=time.perf_counter() - began,
    )
