"""Plots for the evaluation report, drawn with Pillow (no plotting library): a histogram of per-item scores
and a confusion matrix.

They draw the words they are given (the caller says them in a language): Latin text in Pillow's bundled font,
text with Chinese (CJK) characters in a system font that has them (:func:`cjk_font_path`: Debian's
fonts-wqy-microhei, Noto CJK …). Without one such text is still drawn, in the bundled font (boxes for the
characters it lacks); :func:`can_draw` tells the caller beforehand, so that it can choose English words."""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

INK = (34, 34, 34)
GRID = (220, 220, 220)
BAR = (66, 110, 180)

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch, Fedora
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",  # macOS
    "C:/Windows/Fonts/msyh.ttc",  # Windows: Microsoft YaHei
)
"""Where fonts with Chinese glyphs usually are, tried in order before asking fontconfig."""


def needs_cjk(text: str) -> bool:
    """Whether ``text`` has characters of the CJK blocks (from U+2E80: radicals, punctuation, kana, ideographs,
    full-width forms) that Pillow's bundled font does not draw."""
    return any(ord(ch) >= 0x2E80 for ch in text)


def _fontconfig_cjk_fonts() -> list[str]:
    """The font files ``fc-list :lang=zh`` names (none without fontconfig)."""
    if not shutil.which("fc-list"):
        return []
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in listed.splitlines() if line.strip())


@functools.cache
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs that Pillow can open: the first of :data:`CJK_FONTS` on this machine,
    else the first that fontconfig lists for Chinese; None when this machine has none."""

    def opens(path: str) -> bool:
        try:
            ImageFont.truetype(path, 12)
        except OSError:
            return False
        return True

    found = next((path for path in CJK_FONTS if Path(path).is_file() and opens(path)), None)
    return found or next((path for path in _fontconfig_cjk_fonts() if opens(path)), None)


def can_draw(*texts: str) -> bool:
    """Whether every text can be drawn with its glyphs here (Chinese text needs :func:`cjk_font_path`)."""
    return not any(needs_cjk(text) for text in texts) or cjk_font_path() is not None


@functools.cache
def _font(size: int, path: str | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font file at ``path`` at ``size``; None: Pillow's bundled font."""
    return ImageFont.truetype(path, size) if path is not None else ImageFont.load_default(size=size)


def font_for(text: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font ``text`` is drawn in at ``size``: one with Chinese glyphs if it needs them and this machine has
    one, else Pillow's bundled font."""
    return _font(size, cjk_font_path() if needs_cjk(text) else None)


def _centred(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font, fill=INK) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text((xy[0] - (right - left) / 2, xy[1] - (bottom - top) / 2 - top), text, font=font, fill=fill)


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many values fall in each bin ``[edges[i], edges[i+1])``; the last bin also takes values ≥ its
    lower edge (so "100 % and more" for error rates above 100 %)."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        for i in range(len(counts)):
            last = i == len(counts) - 1
            if value >= edges[i] and (last or value < edges[i + 1]):
                counts[i] += 1
                break
    return counts


def histogram(
    values: Sequence[float],
    edges: Sequence[float],
    *,
    title: str,
    xlabel: str,
    labels: Sequence[str] | None = None,
    size: tuple[int, int] = (720, 420),
) -> Image.Image:
    """A bar per bin with its count on top; ``labels`` name the bins (default: the lower edges). The words
    (``title``, ``xlabel``, ``labels``) are drawn as given, in a font with their glyphs (:func:`font_for`)."""
    counts = bin_counts(values, edges)
    labels = list(labels) if labels is not None else [f"{e:g}" for e in edges[:-1]]
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = _font(14)
    _centred(draw, (width / 2, 22), title, font_for(title, 20))
    left, right, top, bottom = 60, width - 20, 55, height - 70
    top_count = max(max(counts, default=0), 1)
    step = max(1, math.ceil(top_count / 5))
    axis_top = step * math.ceil(top_count / step)
    scale = (bottom - top) / axis_top
    for tick in range(0, axis_top + 1, step):
        y = bottom - tick * scale
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 8 - draw.textlength(str(tick), font=font), y - 8), str(tick), font=font, fill=INK)
    slot = (right - left) / len(counts)
    for i, count in enumerate(counts):
        x0, x1 = left + i * slot + slot * 0.1, left + (i + 1) * slot - slot * 0.1
        if count:
            draw.rectangle([x0, bottom - count * scale, x1, bottom], fill=BAR)
            _centred(draw, ((x0 + x1) / 2, bottom - count * scale - 10), str(count), font)
        _centred(draw, ((x0 + x1) / 2, bottom + 14), labels[i], font_for(labels[i], 14))
    draw.line([(left, bottom), (right, bottom)], fill=INK, width=2)
    draw.line([(left, top), (left, bottom)], fill=INK, width=2)
    _centred(draw, ((left + right) / 2, height - 22), xlabel, font_for(xlabel, 14))
    return image


def confusion_image(
    labels: Sequence[str],
    matrix: Sequence[Sequence[int]],
    *,
    title: str,
    predicted: str = "predicted",
    reference: str = "rows: reference",
) -> Image.Image:
    """Rows: reference; columns: predicted. Each cell shows its count, shaded by its share of the row. The words
    (``title``, the ``labels``, the columns' heading ``predicted`` and the note on the rows ``reference``) are
    drawn as given, in a font with their glyphs (:func:`font_for`)."""
    n = len(labels)
    font = _font(14)
    label_fonts = [font_for(label, 14) for label in labels]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [probe.textlength(label, font=f) for label, f in zip(labels, label_fonts, strict=True)]
    label_width = int(max(widths, default=0)) + 16
    cell = max(56, label_width // 2)
    left, top = label_width + 40, 90
    title_font, reference_font = font_for(title, 20), font_for(reference, 14)
    needed = max(probe.textlength(title, font=title_font) + 20, probe.textlength(reference, font=reference_font) + 16)
    width, height = left + n * cell + 20, top + n * cell + 50
    image = Image.new("RGB", (max(width, 360, math.ceil(needed)), height), "white")
    draw = ImageDraw.Draw(image)
    _centred(draw, (image.width / 2, 20), title, title_font)
    _centred(draw, (left + n * cell / 2, 52), predicted, font_for(predicted, 14))
    draw.text((8, top + n * cell + 16), reference, font=reference_font, fill=INK)
    for j, label in enumerate(labels):
        _centred(draw, (left + j * cell + cell / 2, top - 14), label, label_fonts[j])
    for i, label in enumerate(labels):
        row_total = sum(matrix[i]) or 1
        y = top + i * cell
        label_x = left - 8 - draw.textlength(label, font=label_fonts[i])
        draw.text((label_x, y + cell / 2 - 8), label, font=label_fonts[i], fill=INK)
        for j in range(n):
            share = matrix[i][j] / row_total
            shade = round(255 - 190 * share)
            fill = (shade, round(255 - 150 * share), 255) if matrix[i][j] else (250, 250, 250)
            x = left + j * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=fill, outline=(200, 200, 200))
            colour = "white" if share > 0.6 else INK
            _centred(draw, (x + cell / 2, y + cell / 2), str(matrix[i][j]), font, fill=colour)
            if i == j:
                draw.rectangle([x + 1, y + 1, x + cell - 1, y + cell - 1], outline=INK, width=2)
    return image
