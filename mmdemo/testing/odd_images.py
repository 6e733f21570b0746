"""Awkward image files for tests: every format/mode a browser may upload, and files that must be refused.

``make_odd_images(directory)`` writes them (PIL and numpy only, from Gradio's bundled photos) and
returns ``{name: path}``; files already there are reused. The constants below say what the tests
may rely on (where the transparent pixels are, which colors the animation frames carry …).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, features

TRANSPARENT_BOX = (0, 0, 64, 64)
"""Fully transparent (with black RGB underneath) in rgba/la/palette_transparent images."""
HALF_TRANSPARENT_BOX = (192, 0, 256, 64)
"""Alpha 128 in rgba.png and la.png."""
FRAME_COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
"""The top-left TRANSPARENT_BOX of each frame of animated.* is filled with these colors."""
EXIF_STORED_SIZE = (320, 180)
"""exif_rotated.jpg is stored 320×180 with orientation 6; upright it is 180×320. The stored top-left
corner is red, so upright the red corner is the top-right."""
GRADIENT_SIZE = (256, 32)
"""gray16.png and rgb16.png: a left-to-right ramp from 0 to 65535."""
BOMB_SIZE = (30_000, 30_000)
BOMB_WARNING_SIZE = (10_000, 10_000)
"""Above PIL's default MAX_IMAGE_PIXELS (≈89.5 M, which only warns) but below twice that (an error)."""
HUGE_PIXELS_SIZE = (3000, 2000)
"""A valid, small all-black PNG of 6 megapixels: over any limit below that."""


def _photo(name: str = "cheetah1.jpg") -> Image.Image:
    from gradio.media import get_image

    with Image.open(get_image(name)) as im:
        return im.convert("RGB") if im.mode != "RGBA" else im.copy()


def _base() -> Image.Image:
    return _photo().resize((256, 256))


def _with_alpha(im: Image.Image) -> Image.Image:
    """``im`` plus an alpha channel: TRANSPARENT_BOX fully transparent (black below), HALF_… at 128."""
    alpha = Image.new("L", im.size, 255)
    alpha.paste(0, TRANSPARENT_BOX)
    alpha.paste(128, HALF_TRANSPARENT_BOX)
    im = im.copy()
    im.paste(0, TRANSPARENT_BOX)
    im.putalpha(alpha)
    return im


def _frames() -> list[Image.Image]:
    frames = []
    for color in FRAME_COLORS:
        frame = _base()
        frame.paste(color, TRANSPARENT_BOX)
        frames.append(frame)
    return frames


def _save_all(path: Path, fmt: str, **kwargs: object) -> None:
    first, *rest = _frames()
    first.save(path, fmt, save_all=True, append_images=rest, duration=100, loop=0, **kwargs)


def _palette_transparent(path: Path, fmt: str) -> None:
    im = _base().quantize(255)  # indices 0..254; 255 (black) is the transparent one
    im.putpalette([*im.getpalette()[: 255 * 3], 0, 0, 0])
    im.paste(255, TRANSPARENT_BOX)
    im.save(path, fmt, transparency=255)


def _exif_rotated(path: Path) -> None:
    im = _photo("groot.jpeg").resize(EXIF_STORED_SIZE)
    im.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    im.save(path, "JPEG", exif=exif, quality=95)


def _gradient16() -> np.ndarray:
    ramp = np.linspace(0, 65535, GRADIENT_SIZE[0]).round().astype(np.uint16)
    return np.tile(ramp, (GRADIENT_SIZE[1], 1))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(width: int, height: int, bit_depth: int, color_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _zero_png(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A real, valid all-black grayscale PNG, compressed row block by row block (never all in memory)."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)  # filter byte 0, then zero pixels
    compressor = zlib.compressobj(9)
    parts, rows_per_block = [], 256
    for start in range(0, height, rows_per_block):
        parts.append(compressor.compress(row * min(rows_per_block, height - start)))
    parts.append(compressor.flush())
    return _png(width, height, bit_depth, 0, b"".join(parts))


def _rgb16_png() -> bytes:
    """16-bit-per-channel RGB (PIL cannot write these): the gradient in R, its reverse in B."""
    g = _gradient16()
    rgb = np.stack([g, np.zeros_like(g), 65535 - g], axis=-1).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)
    return _png(GRADIENT_SIZE[0], GRADIENT_SIZE[1], 16, 2, zlib.compress(raw))


def _jpeg_bytes(size: tuple[int, int] = (512, 512)) -> bytes:
    buf = io.BytesIO()
    _base().resize(size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    _base().save(buf, "PNG")
    return buf.getvalue()


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


_SVG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\n'
    '  <circle cx="32" cy="32" r="24" fill="orange"/>\n</svg>\n'
)
_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)

_GOOD: dict[str, Callable[[Path], None]] = {
    "rgba.png": lambda p: _with_alpha(_base()).save(p),
    "la.png": lambda p: _with_alpha(_base().convert("L")).save(p),
    "palette.png": lambda p: _base().quantize(64).save(p),
    "palette_transparent.png": lambda p: _palette_transparent(p, "PNG"),
    "palette_transparent.gif": lambda p: _palette_transparent(p, "GIF"),
    "gray.png": lambda p: _base().convert("L").save(p),
    "bw_1bit.png": lambda p: _base().convert("1").save(p),
    "gray16.png": lambda p: Image.fromarray(_gradient16()).save(p),  # mode I;16
    "rgb16.png": _bytes(_rgb16_png),
    "float32.tiff": lambda p: Image.fromarray(np.asarray(_base().convert("L"), np.float32) / 255).save(p),
    "cmyk.jpg": lambda p: _base().convert("CMYK").save(p, "JPEG", quality=95),  # PIL writes Adobe (inverted)
    "lab.tiff": lambda p: _base().convert("LAB").save(p),
    "animated.gif": lambda p: _save_all(p, "GIF"),
    "animated.webp": lambda p: _save_all(p, "WEBP", lossless=True),
    "animated.png": lambda p: _save_all(p, "PNG"),  # APNG
    "exif_rotated.jpg": _exif_rotated,
    "tiny_1x1.png": lambda p: Image.new("RGB", (1, 1), (200, 100, 50)).save(p),
    "wide.png": lambda p: _base().resize((4000, 20)).save(p),
    "tall.png": lambda p: _base().resize((20, 4000)).save(p),
    "photo.webp": lambda p: _base().save(p, "WEBP", quality=90),
    "photo.bmp": lambda p: _base().save(p, "BMP"),
    "photo.tiff": lambda p: _base().save(p, "TIFF"),
    "photo_progressive.jpg": lambda p: _base().save(p, "JPEG", quality=90, progressive=True),
    "icon.ico": lambda p: _photo("hf-logo_transpng.png").save(p, "ICO", sizes=[(16, 16), (32, 32), (64, 64)]),
}
if features.check("avif"):
    _GOOD["photo.avif"] = lambda p: _base().save(p, "AVIF", quality=80)

_BAD: dict[str, Callable[[Path], None]] = {
    "empty.png": _bytes(b""),
    "not_an_image.png": _bytes(b"Hello! This is a plain text file, not a picture.\n" * 20),
    "random_bytes.jpg": _bytes(lambda: b"\x13" + np.random.default_rng(0).bytes(4095)),
    "document.pdf": _bytes(_PDF),
    "clip.mp4": _bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08mdat" * 64),
    "photo.heic": _bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 256),  # header only
    "truncated.jpg": _bytes(lambda: (data := _jpeg_bytes())[: len(data) // 2]),
    "truncated.png": _bytes(lambda: (data := _png_bytes())[: len(data) // 2]),
    "corrupt.png": _bytes(_png(64, 64, 8, 2, b"this is not deflate data" * 8)),
    "zero_width.png": _bytes(lambda: _png(0, 16, 8, 0, zlib.compress(b"\x00" * 16))),
    "bomb.png": _bytes(lambda: _zero_png(*BOMB_SIZE)),
    "bomb_warning.png": _bytes(lambda: _zero_png(*BOMB_WARNING_SIZE)),
    "huge_pixels.png": _bytes(lambda: _zero_png(*HUGE_PIXELS_SIZE, bit_depth=8)),
    "drawing.svg": _bytes(_SVG.encode()),
    "drawing.eps": lambda p: _base().save(p, "EPS"),  # PIL would run Ghostscript to read it
}

GOOD_IMAGES: tuple[str, ...] = tuple(_GOOD)
BAD_IMAGES: tuple[str, ...] = tuple(_BAD)


def make_odd_images(directory: str | Path) -> dict[str, Path]:
    """Write every GOOD_IMAGES and BAD_IMAGES file into ``directory`` (existing files are kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, write in {**_GOOD, **_BAD}.items():
        path = directory / name
        if not path.exists():
            tmp = directory / f".tmp-{os.getpid()}-{name}"  # keeps the extension PIL picks the format by
            write(tmp)
            os.replace(tmp, path)  # atomic: an interrupted run never leaves a half-written cache entry
        paths[name] = path
    return paths
