"""Images with known text in them, for OCR tests: the words are known, so tests can assert on them."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def render_text(
    lines: Sequence[str],
    path: str | Path | None = None,
    *,
    font_size: int = 40,
    background: str = "white",
    colour: str = "black",
) -> Image.Image:
    """Black text on white, one line per entry, in Pillow's bundled FreeType font (same on every machine)."""
    font = ImageFont.load_default(size=font_size)
    widths = [font.getbbox(line)[2] for line in lines] or [0]
    line_height = int(font_size * 1.8)
    image = Image.new("RGB", (max(widths) + 2 * font_size, line_height * len(lines) + 2 * font_size), background)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((font_size, font_size + i * line_height), line, fill=colour, font=font)
    if path is not None:
        image.save(path)
    return image


def ocr_set(folder: Path) -> Path:
    """A zipped OCR data set in Evaluate's format (``metadata.jsonl`` and the image): one rendered sign whose
    text is known."""
    render_text(["OPEN 24 HOURS"], folder / "open.png")
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "open.png", "text": "OPEN 24 HOURS"}) + "\n")
    with zipfile.ZipFile(folder / "signs.zip", "w") as zf:
        for name in ("metadata.jsonl", "open.png"):
            zf.write(folder / name, name)
    return folder / "signs.zip"
