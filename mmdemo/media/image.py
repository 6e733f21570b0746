"""Turn an image (a path or :class:`~mmdemo.media.files.Upload`, bytes, PIL, numpy) into one safe RGB image.

Every bad input raises :class:`~mmdemo.errors.InputError` with a message the user can act on. Pixel
limits are checked from the header before any pixel data is decoded, per call (no process-wide lock or warning
filter: decodes run side by side); truncated files are rejected (``ImageFile.LOAD_TRUNCATED_IMAGES`` is never
touched); transparency is composited over white.

Slow decoders get a smaller pixel budget (:attr:`ImageLimits.max_slow_pixels`): JPEG 2000 (whose decoder holds
Python's GIL, so a large one stalls every thread of the app) is decoded at a reduced resolution that fits, and
formats Pillow decodes in Python (QOI, uncompressed DDS, RLE BMP, plain and 16-bit PPM) are refused above it.
The slow decodes that remain run in a worker process (:mod:`~mmdemo.media.decode_worker`), so the app's other threads
keep running meanwhile, within a time budget (:data:`~mmdemo.media.decode_worker.TIME_BUDGET_S`); fast formats are
decoded in the calling thread.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..messages import Message
from . import decode_worker
from .files import check_file_size, display_name, location, looks_like, read_limited, sniff, what_it_is

__all__ = ["ImageLimits", "load_image"]


@dataclass(frozen=True)
class ImageLimits:
    """Largest upload accepted: file size in bytes and width × height in pixels."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_slow_pixels: int = 4_000_000
    """Width × height decoded by a slow decoder (:data:`SLOW_DECODERS`): JPEG 2000 larger than this is decoded
    at a reduced resolution that fits, other slow formats are refused. At most :attr:`max_pixels`."""

    @classmethod
    def from_settings(cls, settings: Any) -> ImageLimits:
        """The limits configured in :class:`mmdemo.settings.Settings`."""
        return cls(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)


_FORMATS_HINT = Message("image.formats")
_DAMAGED = Message("image.damaged")
_SVG = Message("image.svg")
_HEIC = Message("image.heic")
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa"}
# Formats a user may reasonably upload. Left out on purpose: EPS (PIL runs Ghostscript on it),
# WMF, and scientific/game/video containers PIL only half-reads.
_FORMATS = {
    "PNG", "JPEG", "GIF", "WEBP", "AVIF", "HEIF", "BMP", "DIB", "TIFF", "ICO", "CUR", "ICNS",
    "JPEG2000", "PPM", "TGA", "PSD", "QOI", "SGI", "PCX", "DDS", "XBM", "XPM",
}  # fmt: skip
SLOW_DECODERS = frozenset({"jpeg2k"})
"""Pillow's C decoders that are slow per pixel and hold the GIL (JPEG 2000: ~0.7 s per megapixel of noise here).
Decoders written in Python (``Image.DECODERS``: QOI, DDS, RLE BMP, PPM …) are slow too and count as well."""


NO_IMAGE = Message("image.missing")

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray
"""What :func:`load_image` takes (a ``str`` may also be a ``data:`` URL)."""


def require_image(source: Any) -> None:
    """Refuse a missing image (checked before any work starts: nothing else is decoded here)."""
    if source is None or (isinstance(source, str) and not source):
        raise InputError(NO_IMAGE)


def load_image(source: ImageSource, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Load ``source`` as a fully decoded RGB image, detached from any file.

    ``source``: a file path (``str``, ``Path``, an :class:`~mmdemo.media.files.Upload` or any ``os.PathLike``),
    a ``data:`` URL, ``bytes``, a ``PIL.Image.Image`` or a numpy array (H×W or H×W×1/2/3/4 of uint8, uint16,
    other ints, float in [0, 1] or [0, 255], or bool). Animated images give their first frame; EXIF orientation
    is applied. Gradio's file objects are not taken: the page's gate unwraps them (into an ``Upload``).
    """
    require_image(source)
    if isinstance(source, Image.Image):
        return _from_pil(source, limits)
    if isinstance(source, np.ndarray):
        return _from_array(source, limits)
    if isinstance(source, str) and source.startswith("data:"):
        data = _read_data_url(source, limits)
        _check_bytes(len(data), limits)
        return _decode(data, limits)
    if isinstance(source, str) and re.match(r"(?i)https?://", source):
        raise InputError(Message("image.link"))
    where = location(source, NO_IMAGE, Message("image.unsupported", type=type(source).__name__))
    if isinstance(where, bytes):
        _check_bytes(len(where), limits)  # a path's size is checked before it is read (read_limited)
        return _decode(where, limits)
    if _is_svg_name(display_name(source) or "") or _is_svg_name(where.name):
        raise InputError(_SVG)
    return _decode(read_limited(where, limits.max_bytes, "image"), limits)


# --- getting the bytes ---------------------------------------------------------------------------


def _read_data_url(url: str, limits: ImageLimits) -> bytes:
    header, comma, payload = url.partition(",")
    if not comma:
        raise InputError(Message("image.data_url"))
    params = [p.strip().lower() for p in header[5:].split(";")]
    if params[0] == "image/svg+xml":
        raise InputError(_SVG)
    _check_bytes(len(payload) * 3 // 4, limits)  # the decoded size, before decoding
    try:
        if "base64" in params[1:]:
            return base64.b64decode("".join(payload.split()), validate=True)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise InputError(Message("image.data_url")) from exc


def _is_svg_name(name: str) -> bool:
    return name.lower().endswith((".svg", ".svgz"))


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in head


# --- checks --------------------------------------------------------------------------------------


def _mp(n: float) -> str:
    """Megapixels, as the messages show them (their unit is in the message)."""
    return f"{n / 1e6:.3g}"


def _check_bytes(size: int, limits: ImageLimits) -> None:
    check_file_size(size, limits.max_bytes, "image")


def _max_pixels(limits: ImageLimits) -> int:
    """The pixel limit: ``limits``, and PIL's own ``MAX_IMAGE_PIXELS`` where that is lower (it is read, never set:
    a process-wide value, where a warning becomes an error only through a process-wide filter)."""
    return min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise InputError(Message("image.no_pixels", width=width, height=height))
    limit = _max_pixels(limits)
    if width * height > limit:
        raise InputError(
            Message("image.too_large", width=width, height=height, pixels=_mp(width * height), limit=_mp(limit))
        )


def _is_slow(im: Image.Image) -> bool:
    """Whether decoding ``im`` runs a slow decoder (:data:`SLOW_DECODERS` or one written in Python)."""
    return any(tile[0] in SLOW_DECODERS or tile[0] in Image.DECODERS for tile in getattr(im, "tile", None) or ())


def _limit_slow_decode(im: Image.Image, limits: ImageLimits, slow: bool) -> int:
    """Keep a slow decoder within :attr:`ImageLimits.max_slow_pixels`: a large JPEG 2000 is set to decode at the
    largest reduced resolution that fits (its wavelet levels make that cheap), anything else is refused. Returns
    the reduction set (0: none). ``slow``: :func:`_is_slow` of ``im``."""
    width, height = im.size
    limit = min(limits.max_slow_pixels, _max_pixels(limits))
    if width * height <= limit or not slow:
        return 0
    if im.format == "JPEG2000":
        reduce = 1
        while math.ceil(width / 2**reduce) * math.ceil(height / 2**reduce) > limit:
            reduce += 1
        im.reduce = reduce  # type: ignore[assignment,method-assign]  # the plugin's setter
        return reduce
    raise _slow_error(im, limit)


def _slow_error(im: Image.Image, limit: int) -> InputError:
    width, height = im.size
    return InputError(
        Message(
            "image.slow_format",
            format=im.format or "?",
            width=width,
            height=height,
            pixels=_mp(width * height),
            limit=_mp(limit),
        )
    )


def _bomb_error(exc: Exception, limits: ImageLimits) -> InputError:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    limit = _mp(min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels))
    if found:
        return InputError(Message("image.bomb_size", pixels=_mp(int(found.group(1))), limit=limit))
    return InputError(Message("image.bomb", limit=limit))


@contextmanager
def _bomb_guard(limits: ImageLimits) -> Iterator[None]:
    """Turn PIL's decompression-bomb error (and its warning, where warnings are errors) into :class:`InputError`.
    Nothing global is changed or locked: the pixel limit itself is checked per call (:func:`_check_size`)."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(exc, limits) from exc


def _not_an_image(data: bytes) -> InputError:
    """Explain an unidentified file: damaged image, SVG, HEIC, PDF, video … or just not an image."""
    head = data[:64]
    if looks_like(data, "image"):
        return InputError(_DAMAGED)
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return InputError(_HEIC)
    kind = sniff(data, ("pdf", "video", "audio", "eps", "zip"))
    if kind:
        return InputError(Message("image.is_other", kind=what_it_is(kind), formats=_FORMATS_HINT))
    return InputError(Message("image.not_image", formats=_FORMATS_HINT))


# --- decoding and conversion ---------------------------------------------------------------------


def _decode(data: bytes, limits: ImageLimits) -> Image.Image:
    """Bytes whose size was checked (:func:`~mmdemo.media.files.read_limited` or :func:`_check_bytes`) → RGB."""
    if _looks_like_svg(data):
        raise InputError(_SVG)
    with _bomb_guard(limits):
        try:
            im = Image.open(io.BytesIO(data), formats=_formats())
        except UnidentifiedImageError:
            raise _not_an_image(data) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise
        except Exception as exc:  # any other parser error on untrusted bytes: a damaged file
            raise InputError(_DAMAGED) from exc
        try:
            _check_size(*im.size, limits)  # from the header: nothing decoded yet
            slow = _is_slow(im)
            reduce = _limit_slow_decode(im, limits, slow)
            if slow:
                decoded = _decode_in_worker(data, im, reduce, limits)
                if decoded is not None:
                    im.close()
                    return decoded
            _load(im, limits)  # the full decode of the first frame; a truncated file fails here
        except BaseException:
            im.close()
            raise
    with im:
        return _to_rgb(_exif_transpose(im))


def _decode_in_worker(data: bytes, im: Image.Image, reduce: int, limits: ImageLimits) -> Image.Image | None:
    """The slow decode of ``im`` (opened from ``data``, checked, set to ``reduce``) in a worker process, as
    :func:`_decode` would do it here: the RGB image; None where no worker can run (decode it here then)."""
    try:
        mode, size, pixels = decode_worker.run(_decode_slow, data, im.format or "", reduce, limits)
    except decode_worker.Unavailable:
        return None
    except decode_worker.TimedOut as exc:
        raise InputError(Message("image.decode_too_slow", format=im.format or "?", seconds=f"{exc.seconds:g}")) from exc
    except decode_worker.WorkerDied as exc:
        raise InputError(_DAMAGED) from exc
    return Image.frombytes(mode, size, pixels)


def _decode_slow(data: bytes, format: str, reduce: int, limits: ImageLimits) -> tuple[str, tuple[int, int], bytes]:
    """In a decode worker: what :func:`_decode` does with ``data`` once it is checked (``format``: what it was
    identified as; ``reduce``: the reduction :func:`_limit_slow_decode` set), as the RGB image's mode, size and
    pixels."""
    with _bomb_guard(limits):
        try:
            im = Image.open(io.BytesIO(data), formats=[format] if format in _formats() else _formats())
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise
        except Exception as exc:  # it opened in the app's process: not expected
            raise InputError(_DAMAGED) from exc
        with im:
            if reduce:
                im.reduce = reduce  # type: ignore[assignment,method-assign]  # the plugin's setter
            _load(im, limits)
            rgb = _to_rgb(_exif_transpose(im))
    return rgb.mode, rgb.size, rgb.tobytes()


def _formats() -> list[str]:
    Image.init()  # registers every plugin (HEIF too, where pillow-heif has registered itself)
    return [name for name in Image.ID if name in _FORMATS]


def _load(im: Image.Image, limits: ImageLimits) -> None:
    reduced = getattr(im, "_reduce", 0)
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except Exception as exc:
        if reduced:  # the file has fewer resolution levels than the reduction needs
            raise _slow_error(im, min(limits.max_slow_pixels, _max_pixels(limits))) from exc
        raise InputError(_DAMAGED) from exc


def _from_pil(im: Image.Image, limits: ImageLimits) -> Image.Image:
    _check_size(*im.size, limits)
    with _bomb_guard(limits):
        _limit_slow_decode(im, limits, _is_slow(im))
        _load(im, limits)
    return _to_rgb(_exif_transpose(im))


def _from_array(arr: np.ndarray, limits: ImageLimits) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise InputError(Message("image.array_shape", shape=arr.shape))
    if arr.dtype.kind not in "biuf":  # bool, signed or unsigned int, float
        raise InputError(Message("image.array_type", dtype=arr.dtype))
    _check_size(arr.shape[1], arr.shape[0], limits)
    return _to_rgb(Image.fromarray(np.ascontiguousarray(_to_uint8(arr))))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale pixel values to 0..255: 16-bit by /257, floats in [0, 1] by ×255, other ranges min–max."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # uint16, either byte order
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if np.issubdtype(arr.dtype, np.floating) and lo >= 0 and hi <= 1:
        values = values * 255
    elif lo >= 0 and hi <= 255:
        pass
    elif np.issubdtype(arr.dtype, np.integer) and lo >= 0 and hi <= 65535:
        values = values / 257
    else:  # anything else (negative, 32-bit, HDR): stretch its own range
        values = (values - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(values)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _exif_transpose(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block is ignored rather than rejecting the photo."""
    try:
        if im.getexif().get(0x0112, 1) not in (1, None):
            return ImageOps.exif_transpose(im)
    except Exception:  # malformed EXIF from some cameras/editors: keep the pixels as stored
        pass
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """A new RGB image: high bit depths scaled to 8 bits, transparency composited over white."""
    if im.mode in ("I", "F") or im.mode.startswith("I;"):
        im = Image.fromarray(_to_uint8(np.asarray(im)))
    try:
        palette_alpha = im.mode == "P" and getattr(im.palette, "mode", "") == "RGBA"
        if im.mode in _ALPHA_MODES or "transparency" in im.info or palette_alpha:
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        out = im.convert("RGB")
    except (ValueError, OSError) as exc:
        raise InputError(Message("image.colour_format", mode=im.mode, formats=_FORMATS_HINT)) from exc
    return out if out is not im else out.copy()
