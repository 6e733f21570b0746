"""Plots for the evaluation report, drawn with Pillow (no plotting library): a histogram of per-item scores
and a confusion matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

INK = (34, 34, 34)
GRID = (220, 220, 220)
BAR = (66, 110, 180)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


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
    """A bar per bin with its count on top; ``labels`` name the bins (default: the lower edges)."""
    counts = bin_counts(values, edges)
    labels = list(labels) if labels is not None else [f"{e:g}" for e in edges[:-1]]
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    title_font, font = _font(20), _font(14)
    _centred(draw, (width / 2, 22), title, title_font)
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
        _centred(draw, ((x0 + x1) / 2, bottom + 14), labels[i], font)
    draw.line([(left, bottom), (right, bottom)], fill=INK, width=2)
    draw.line([(left, top), (left, bottom)], fill=INK, width=2)
    _centred(draw, ((left + right) / 2, height - 22), xlabel, font)
    return image


def confusion_image(labels: Sequence[str], matrix: Sequence[Sequence[int]], *, title: str) -> Image.Image:
    """Rows: reference; columns: predicted. Each cell shows its count, shaded by its share of the row."""
    n = len(labels)
    font, title_font = _font(14), _font(20)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = int(max((probe.textlength(label, font=font) for label in labels), default=0)) + 16
    cell = max(56, label_width // 2)
    left, top = label_width + 40, 90
    width, height = left + n * cell + 20, top + n * cell + 50
    image = Image.new("RGB", (max(width, 360), height), "white")
    draw = ImageDraw.Draw(image)
    _centred(draw, (image.width / 2, 20), title, title_font)
    _centred(draw, (left + n * cell / 2, 52), "predicted", font)
    draw.text((8, top + n * cell + 16), "rows: reference", font=font, fill=INK)
    for j, label in enumerate(labels):
        _centred(draw, (left + j * cell + cell / 2, top - 14), label, font)
    for i, label in enumerate(labels):
        row_total = sum(matrix[i]) or 1
        y = top + i * cell
        draw.text((left - 8 - draw.textlength(label, font=font), y + cell / 2 - 8), label, font=font, fill=INK)
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
