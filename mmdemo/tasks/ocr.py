"""Reading the text in an image (OCR): where each line is, what it says, how sure the model is.

Same shape as the other task modules: inputs → preprocess (decode + validate) → model (through the
manager) → postprocess (confidence filter, reading order) → a frozen result dataclass. The default
model is PP-OCR (detector + angle classifier + recogniser, ONNX) shipped inside the ``rapidocr``
wheel, so this works on a machine that has never reached the Hugging Face Hub.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from ..errors import InputError
from ..media.image import ImageLimits, load_image
from ..messages import Message
from ..models.manager import ModelManager
from ..params import Number
from ..progress import ProgressFn
from ..runner import task
from ..runtime import get_manager

Point = tuple[float, float]
MIN_SCORE = Number(
    "min_score",
    "Minimum confidence",
    0.5,
    minimum=0,
    maximum=1,
    step=0.05,
    info="Lines read less surely are left out.",
    doc="leave out lines read with less confidence than this",
)


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float
    """Recogniser confidence, 0–1."""
    box: tuple[Point, Point, Point, Point]
    """Corners clockwise from top-left, in pixels of the (EXIF-rotated) image."""


@dataclass(frozen=True)
class OcrResult:
    lines: tuple[TextLine, ...]
    model_id: str
    seconds: float
    image: Image.Image
    """The image the boxes refer to (decoded, EXIF-rotated, RGB)."""

    @property
    def text(self) -> str:
        """All lines in reading order, one per line."""
        return "\n".join(line.text for line in self.lines)


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Top to bottom; lines whose vertical centres are within half a line height count as one row."""

    def centre_y(line: TextLine) -> float:
        return sum(y for _, y in line.box) / 4

    def height(line: TextLine) -> float:
        ys = [y for _, y in line.box]
        return max(ys) - min(ys)

    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=centre_y):
        if rows and abs(centre_y(line) - centre_y(rows[-1][0])) < max(height(rows[-1][0]), 1) / 2:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: min(x for x, _ in ln.box))]


MAX_ASPECT = 4
"""Thinner images are padded to this aspect ratio before reading. The OCR engine scales the long side down
to 2000 px (a 10×3000 strip's short side then rounds to nothing: an error) and the short side *up* to
736 px for its detector (a 2000×100 banner becomes 14720×736: ~20 s of CPU on one request). Padded,
every detector input is at most about 2000×2000 or 736×2944."""


def ocr_canvas(image: Image.Image) -> Image.Image:
    """``image`` padded at the right or bottom (with its median border colour) to at most :data:`MAX_ASPECT`
    : 1, so degenerate shapes can be read; boxes keep the original coordinates."""
    width, height = image.size
    target_w = max(width, -(-height // MAX_ASPECT))
    target_h = max(height, -(-width // MAX_ASPECT))
    if (target_w, target_h) == (width, height):
        return image
    import numpy as np

    pixels = np.asarray(image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    colour = tuple(int(c) for c in np.median(border, axis=0))
    canvas = Image.new("RGB", (target_w, target_h), colour)  # type: ignore[arg-type]
    canvas.paste(image, (0, 0))
    return canvas


def read_texts(
    images: Sequence[Any],
    *,
    min_score: float = MIN_SCORE.default,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> list[OcrResult]:
    """Read the text in several images (the video task uses this for keyframes)."""
    import numpy as np

    manager = manager or get_manager()
    min_score = MIN_SCORE.check(min_score)
    if not images:
        raise InputError(Message("ocr.no_image"))
    limits = ImageLimits.from_settings(manager.settings)
    pil_images = [load_image(image, limits) for image in images]

    results: list[OcrResult] = []
    for i, image in enumerate(pil_images):
        if progress and len(pil_images) > 1:
            progress(i / len(pil_images), f"Reading text in image {i + 1} of {len(pil_images)}")
        # Taken per image: a quick request for the same model waits for one image, not for the whole job.
        with manager.use("ocr", progress if i == 0 else None) as handle:
            began = time.perf_counter()
            output = handle.model(np.asarray(ocr_canvas(image)))
            seconds = time.perf_counter() - began
        found: list[TextLine] = []
        if output.boxes is not None and output.txts is not None:
            for box, text, score in zip(output.boxes.tolist(), output.txts, output.scores, strict=True):
                text = " ".join(str(text).split())
                if text and float(score) >= min_score:
                    corners = tuple((float(x), float(y)) for x, y in box)
                    found.append(TextLine(text, round(float(score), 4), corners))  # type: ignore[arg-type]
        results.append(OcrResult(tuple(_reading_order(found)), handle.model_id, seconds, image))
    return results


@task("ocr", files=("image",))
def read_text(
    image: Any,
    *,
    min_score: float = MIN_SCORE.default,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> OcrResult:
    """Read the text in one image. See :func:`read_texts`."""
    return read_texts([image], min_score=min_score, manager=manager, progress=progress)[0]


def annotate(result: OcrResult) -> Image.Image:
    """A copy of the image with each text line's box drawn and numbered in reading order."""
    image = result.image.copy()
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 400))
    for number, line in enumerate(result.lines, start=1):
        points = [*line.box, line.box[0]]
        draw.line(points, fill=(255, 40, 40), width=width)
        x, y = line.box[0]
        draw.text((x, max(y - 12 * width, 0)), str(number), fill=(255, 40, 40), font_size=10 * width)
    return image
