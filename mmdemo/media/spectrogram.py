"""The spectrogram picture: a pure function from mono samples to an RGB image with axes (no model, no UI).

:func:`spectrogram_image` draws the mel spectrogram of a recording with time in seconds along the bottom and
frequency in Hz/kHz on the mel scale up the left side; :func:`spectrogram_box`, :func:`time_ticks` and
:func:`frequency_ticks` say where the plot and its ticks are. The audio emotion tab shows it.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AXIS_COLOUR",
    "PlotBox",
    "frequency_ticks",
    "spectrogram_box",
    "spectrogram_image",
    "time_ticks",
]

# --- colours and the mel scale -------------------------------------------------------------------

_MAGMA = np.array(  # a few anchors of matplotlib's "magma" (CC0), interpolated below
    [[0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122], [229, 80, 100], [251, 135, 97],
     [254, 194, 135], [252, 253, 191]],
    dtype=np.float64,
)  # fmt: skip


def _hz_to_mel(hz: Any) -> Any:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel: Any) -> Any:
    return 700.0 * (10 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sample_rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (fft_hz - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - fft_hz) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling))


# --- the picture: time (s) along the bottom, frequency (Hz/kHz) on the mel scale up the side ----------

SPECTROGRAM_MARGINS = (52, 8, 12, 22)
"""Room around the plot for the axes, in pixels: (left, top, right, bottom)."""
AXIS_COLOUR = (110, 110, 110)
"""Axis lines and tick marks (exactly this colour; the labels are anti-aliased text in :data:`LABEL_COLOUR`)."""
LABEL_COLOUR = (40, 40, 40)
BACKGROUND = (255, 255, 255)
TICK_LENGTH = 4
MAX_TIME_TICKS = 10
"""At most about this many steps along the time axis (fewer when their labels would not fit)."""
_TIME_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200)
_FREQUENCY_TICKS = (100, 200, 500, 1000, 2000, 4000, 8000, 16000)


@dataclass(frozen=True)
class PlotBox:
    """Where the spectrogram sits in the picture: columns ``left`` … ``right - 1``, rows ``top`` … ``bottom - 1``."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def x_of(self, seconds: float, duration: float) -> int:
        """The column of a time: 0 s at the left edge, ``duration`` at the right one."""
        if duration <= 0:
            return self.left
        return min(self.left + round(seconds / duration * self.width), self.right - 1)

    def y_of(self, hz: float, sample_rate: int) -> int:
        """The row of a frequency on the mel scale: 0 Hz at the bottom edge, half the sample rate at the top."""
        fraction = float(_hz_to_mel(hz) / _hz_to_mel(sample_rate / 2))
        return min(max(self.bottom - round(fraction * self.height), self.top), self.bottom - 1)


def spectrogram_box(width: int, height: int) -> PlotBox:
    """The plot area of a ``width × height`` :func:`spectrogram_image` (the rest holds the axes)."""
    left, top, right, bottom = SPECTROGRAM_MARGINS
    box = PlotBox(left, top, width - right, height - bottom)
    if box.width < 16 or box.height < 16:
        raise ValueError(f"a {width}×{height} picture leaves no room for a spectrogram beside its axes")
    return box


@functools.lru_cache(maxsize=2)
def _font(size: int = 11) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError, ValueError):  # Pillow without FreeType: its small bitmap font
        return ImageFont.load_default()


def _text_size(font: Any, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom - top


def _seconds_label(seconds: float) -> str:
    return f"{seconds:g} s"


def time_ticks(duration: float, plot_width: int) -> list[tuple[float, str]]:
    """``(seconds, label)`` every round step (0.5 s, 1 s, 5 s, 30 s …) from 0: the densest step with at most
    about :data:`MAX_TIME_TICKS` steps whose labels fit side by side along ``plot_width`` pixels."""
    font = _font()
    for step in _TIME_STEPS:
        count = int(duration / step + 1e-9) + 1
        widest = _text_size(font, _seconds_label(round((count - 1) * step, 6)))[0]
        if duration > 0 and step / duration * plot_width >= max(widest + 14, plot_width / MAX_TIME_TICKS):
            return [(round(k * step, 6), _seconds_label(round(k * step, 6))) for k in range(count)]
    return [(0.0, _seconds_label(0))]


def frequency_ticks(sample_rate: int, plot_height: int) -> list[tuple[float, str]]:
    """``(Hz, label)`` at 100 Hz … 16 kHz up to half the sample rate, highest first, skipping those whose labels
    would touch the one above (the mel scale crowds the low ones together)."""
    gap = _text_size(_font(), "8 kHz")[1] + 3
    box = PlotBox(0, 0, 1, plot_height)
    ticks: list[tuple[float, str]] = []
    for hz in sorted((f for f in _FREQUENCY_TICKS if f <= sample_rate / 2), reverse=True):
        if ticks and box.y_of(hz, sample_rate) - box.y_of(ticks[-1][0], sample_rate) < gap:
            continue
        ticks.append((float(hz), f"{hz // 1000} kHz" if hz >= 1000 else f"{hz} Hz"))
    return ticks


def spectrogram_image(
    samples: np.ndarray, sample_rate: int, *, width: int = 800, height: int = 200, n_mels: int = 64
) -> np.ndarray:
    """A mel spectrogram with axes as an RGB ``height × width × 3`` uint8 picture: the plot (low pitches at the
    bottom, 80 dB range; where: :func:`spectrogram_box`), time in seconds along the bottom and frequency in
    Hz/kHz on the mel scale up the left side (ticks: :func:`time_ticks`, :func:`frequency_ticks`)."""
    from PIL import Image, ImageDraw

    box = spectrogram_box(width, height)
    duration = len(samples) / sample_rate
    n_fft = 512 if sample_rate <= 24_000 else 1024
    hop = max(n_fft // 4, math.ceil(len(samples) / box.width))
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    n_frames = 1 + (len(samples) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        samples, shape=(n_frames, n_fft), strides=(samples.strides[0] * hop, samples.strides[0]), writeable=False
    )
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    mel = _mel_filters(sample_rate, n_fft, n_mels) @ spectrum.T  # n_mels × frames, low frequencies first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.clip((db - (db.max() - 80.0)) / 80.0, 0.0, 1.0)
    # every plot row shows the mel band centred nearest its height (linear in mel, 0 Hz at the bottom edge) …
    mel_fraction = 1 - (np.arange(box.height) + 0.5) / box.height
    rows = np.clip(np.round(mel_fraction * (n_mels + 1) - 1), 0, n_mels - 1).astype(int)
    # … and every column the frame centred nearest its time (linear in time, 0 s at the left edge)
    times = (np.arange(box.width) + 0.5) / box.width * duration
    columns = np.clip(np.round((times * sample_rate - n_fft / 2) / hop), 0, n_frames - 1).astype(int)
    position = db[rows][:, columns] * (len(_MAGMA) - 1)
    low = np.floor(position).astype(int).clip(0, len(_MAGMA) - 2)
    frac = (position - low)[..., None]
    plot = (_MAGMA[low] * (1 - frac) + _MAGMA[low + 1] * frac).round().astype(np.uint8)

    picture = Image.new("RGB", (width, height), BACKGROUND)
    picture.paste(Image.fromarray(plot), (box.left, box.top))
    draw = ImageDraw.Draw(picture)
    font = _font()
    draw.line([(box.left - 1, box.top), (box.left - 1, box.bottom)], fill=AXIS_COLOUR)
    draw.line([(box.left - 1, box.bottom), (box.right - 1, box.bottom)], fill=AXIS_COLOUR)
    for seconds, label in time_ticks(duration, box.width):
        x = box.x_of(seconds, duration)
        draw.line([(x, box.bottom + 1), (x, box.bottom + TICK_LENGTH)], fill=AXIS_COLOUR)
        w, _ = _text_size(font, label)
        draw.text((min(max(x - w // 2, 0), width - w - 1), box.bottom + TICK_LENGTH + 2), label, LABEL_COLOUR, font)
    for hz, label in frequency_ticks(sample_rate, box.height):
        y = box.y_of(hz, sample_rate)
        draw.line([(box.left - 1 - TICK_LENGTH, y), (box.left - 2, y)], fill=AXIS_COLOUR)
        left, top, right, bottom = font.getbbox(label)
        y_text = min(max(y - (top + bottom) // 2, -top), height - bottom)
        draw.text((box.left - TICK_LENGTH - 4 - (right - left), y_text), label, LABEL_COLOUR, font)
    return np.asarray(picture)
