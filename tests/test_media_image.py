"""load_image: every image a browser can send becomes one RGB image; everything else a clear InputError.

The odd files come from the session fixture ``odd_images`` (conftest.py → mmdemo.testing.odd_images).
"""

from __future__ import annotations

import base64
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio.media
import numpy as np
import pytest
from PIL import Image, ImageFile

from mmdemo.errors import InputError
from mmdemo.media.files import Upload
from mmdemo.media.image import ImageLimits, load_image
from mmdemo.testing import odd_images as odd
from mmdemo.testing.odd_images import BAD_IMAGES, GOOD_IMAGES

MEDIA_ROOT = Path(gradio.media.MEDIA_ROOT)
EXPECTED_SIZE = {
    "gray16.png": odd.GRADIENT_SIZE,
    "rgb16.png": odd.GRADIENT_SIZE,
    "exif_rotated.jpg": odd.EXIF_STORED_SIZE[::-1],
    "tiny_1x1.png": (1, 1),
    "wide.png": (4000, 20),
    "tall.png": (20, 4000),
    "icon.ico": (64, 64),
}
BAD_WORDS = {
    "empty.png": "empty",
    "not_an_image.png": "not an image",
    "random_bytes.jpg": "not an image",
    "document.pdf": "pdf document, not an image",
    "clip.mp4": "video, not an image",
    "photo.heic": "heic",
    "truncated.jpg": "damaged or incomplete",
    "truncated.png": "damaged or incomplete",
    "corrupt.png": "damaged or incomplete",
    "zero_width.png": "could not be read",
    "bomb.png": "too large",
    "bomb_warning.png": "too large",
    "drawing.svg": "svg images aren't supported",
    "drawing.eps": "postscript (eps) file, not an image",
}
WHITE = (255, 255, 255)


def _assert_clean_message(err: InputError) -> str:
    """The message is for a person: no traceback, exception repr or server temp path."""
    msg = str(err)
    assert msg and msg[0].isupper() and len(msg) < 300, msg
    for bad in ("Traceback", "Error(", "Exception", "/tmp", "\\", "site-packages", "PIL"):
        assert bad not in msg, msg
    assert ":" in msg  # "what was wrong: what to do"
    return msg.lower()


def _rejects(source, limits: ImageLimits | None = None) -> str:
    with pytest.raises(InputError) as info:
        load_image(source, limits or ImageLimits())
    return _assert_clean_message(info.value)


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _mean_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


@pytest.fixture(scope="module")
def base() -> Image.Image:
    return odd._base()


# --- good files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_IMAGES)
def test_good_image_loads_as_rgb(odd_images: dict[str, Path], name: str) -> None:
    im = load_image(odd_images[name])
    assert isinstance(im, Image.Image)
    assert im.mode == "RGB"
    assert im.size == EXPECTED_SIZE.get(name, (256, 256))
    assert getattr(im, "fp", None) is None  # fully loaded, no file handle behind it
    np.asarray(im)  # pixel data really there


def test_good_and_bad_names_match_the_files(odd_images: dict[str, Path]) -> None:
    assert set(odd_images) == set(GOOD_IMAGES) | set(BAD_IMAGES)
    assert all(path.is_file() for path in odd_images.values())
    assert {"rgba.png", "cmyk.jpg", "animated.gif", "exif_rotated.jpg", "icon.ico"} <= set(GOOD_IMAGES)
    assert {"empty.png", "truncated.jpg", "bomb.png", "huge_pixels.png", "drawing.svg"} <= set(BAD_IMAGES)


def test_bomb_file_is_small(odd_images: dict[str, Path]) -> None:
    assert odd_images["bomb.png"].stat().st_size < 1_000_000
    with Image.open(odd_images["huge_pixels.png"]) as im:  # valid, just big
        assert im.size == odd.HUGE_PIXELS_SIZE


@pytest.mark.parametrize("name", ["rgba.png", "la.png", "palette_transparent.png", "palette_transparent.gif"])
def test_transparency_is_composited_over_white(odd_images: dict[str, Path], name: str) -> None:
    im = load_image(odd_images[name])
    assert im.getpixel((8, 8)) == WHITE  # fully transparent over black RGB
    assert im.getpixel((63, 63)) == WHITE
    assert im.getpixel((128, 128)) != WHITE  # the opaque photo is untouched


def test_half_transparent_pixels_are_blended_with_white(odd_images: dict[str, Path], base: Image.Image) -> None:
    im = load_image(odd_images["rgba.png"])
    x, y = 200, 10
    expected = tuple((c * 128 + 255 * 127) // 255 for c in base.getpixel((x, y)))
    assert _close(im.getpixel((x, y)), expected, tol=2)
    assert load_image(odd_images["rgba.png"]).getpixel((128, 128)) == base.getpixel((128, 128))


def test_16_bit_gradient_is_scaled_not_clipped(odd_images: dict[str, Path]) -> None:
    row = np.asarray(load_image(odd_images["gray16.png"]))[5, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert abs(row[len(row) // 2] - 128) <= 2
    assert np.all(np.diff(row) >= 0) and len(set(row)) > 200  # a smooth ramp, not a step to white


def test_16_bit_rgb_png(odd_images: dict[str, Path]) -> None:
    im = np.asarray(load_image(odd_images["rgb16.png"]))
    assert tuple(im[0, 0]) == (0, 0, 255) and tuple(im[0, -1]) == (255, 0, 0)
    assert abs(int(im[0, 128, 0]) - 128) <= 2


@pytest.mark.parametrize("name", ["float32.tiff", "gray.png", "palette.png"])
def test_gray_float_and_palette_look_like_the_photo(odd_images: dict[str, Path], base: Image.Image, name: str) -> None:
    reference = base if name == "palette.png" else base.convert("L").convert("RGB")
    assert _mean_diff(load_image(odd_images[name]), reference) < 8


def test_1_bit_is_black_and_white_with_the_photo_s_brightness(odd_images: dict[str, Path], base: Image.Image) -> None:
    im = np.asarray(load_image(odd_images["bw_1bit.png"]))
    assert set(np.unique(im)) == {0, 255}
    assert abs(im.mean() - np.asarray(base.convert("L")).mean()) < 12


@pytest.mark.parametrize(
    "name",
    ["cmyk.jpg", "lab.tiff", "photo.webp", "photo.bmp", "photo.tiff", "photo_progressive.jpg", "photo.avif"],
)
def test_colors_survive(odd_images: dict[str, Path], base: Image.Image, name: str) -> None:
    if name not in odd_images:
        pytest.skip(f"{name}: this Pillow cannot write it")
    assert _mean_diff(load_image(odd_images[name]), base) < 8  # CMYK (Adobe-inverted) is not a negative


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp", "animated.png"])
def test_animation_gives_first_frame(odd_images: dict[str, Path], name: str) -> None:
    with Image.open(odd_images[name]) as im:
        assert getattr(im, "n_frames", 1) >= 3
        im.seek(1)
        second = im.convert("RGB").getpixel((16, 16))
    first = load_image(odd_images[name]).getpixel((16, 16))
    assert _close(first, odd.FRAME_COLORS[0], tol=30)
    assert _close(second, odd.FRAME_COLORS[1], tol=30)
    assert first != second


def test_exif_orientation_is_applied(odd_images: dict[str, Path]) -> None:
    im = load_image(odd_images["exif_rotated.jpg"])
    width, height = im.size
    assert (width, height) == (180, 320)
    assert _close(im.getpixel((width - 10, 10)), (255, 0, 0), tol=40)  # stored top-left → upright top-right
    assert not _close(im.getpixel((10, 10)), (255, 0, 0), tol=40)
    assert 0x0112 not in im.getexif()


def test_tiny_wide_and_icon(odd_images: dict[str, Path]) -> None:
    assert load_image(odd_images["tiny_1x1.png"]).getpixel((0, 0)) == (200, 100, 50)
    icon = load_image(odd_images["icon.ico"])
    assert icon.getpixel((0, 0)) == WHITE  # the logo's transparent corner


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in BAD_IMAGES if n != "huge_pixels.png"])
def test_bad_image_is_rejected_clearly(odd_images: dict[str, Path], name: str) -> None:
    msg = _rejects(odd_images[name])
    assert BAD_WORDS[name] in msg, msg
    assert odd_images[name].name.lower() not in msg


def test_huge_pixels_over_a_small_limit(odd_images: dict[str, Path]) -> None:
    msg = _rejects(odd_images["huge_pixels.png"], ImageLimits(max_pixels=1_000_000))
    assert "too large" in msg and "3000 × 2000" in msg and "6 megapixels" in msg and "limit is 1 megapixels" in msg
    assert load_image(odd_images["huge_pixels.png"]).size == odd.HUGE_PIXELS_SIZE  # fine by default


def test_pixel_limit_is_checked_before_decoding(odd_images: dict[str, Path]) -> None:
    truncated = odd_images["huge_pixels.png"].read_bytes()[:200]  # IHDR and the start of IDAT only
    assert "megapixels" in _rejects(truncated, ImageLimits(max_pixels=1_000_000))
    assert "damaged" in _rejects(truncated)  # with a big enough limit it is decoded → truncated


def test_decompression_bombs_are_refused_even_with_a_huge_limit(odd_images: dict[str, Path]) -> None:
    limits = ImageLimits(max_bytes=10**9, max_pixels=10**10)
    assert "too large" in _rejects(odd_images["bomb.png"], limits)
    assert "too large" in _rejects(odd_images["bomb_warning.png"], limits)  # PIL only *warns* for this one
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # PIL's global limit is left alone


def test_concurrent_loads_are_safe_and_leave_warning_filters_alone(odd_images: dict[str, Path]) -> None:
    before = list(warnings.filters)

    def one(name: str) -> object:
        try:
            return load_image(odd_images[name]).size
        except InputError as err:
            return "too large" in str(err)

    names = ["bomb_warning.png", "photo.bmp", "bomb.png", "rgba.png"] * 6
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, names))
    assert results == [True, (256, 256), True, (256, 256)] * 6
    assert warnings.filters == before


def test_byte_limit(odd_images: dict[str, Path]) -> None:
    path = odd_images["photo.bmp"]  # 197 kB
    for source in (path, str(path), path.read_bytes(), Upload(path, "photo.bmp")):
        msg = _rejects(source, ImageLimits(max_bytes=100_000))
        assert "too large" in msg and "limit is 0.0954 mb" in msg, msg
    assert "(60 mb; the limit is 50 mb)" in _rejects(b"\0" * (60 * 2**20))  # the default limit
    data_url = "data:image/bmp;base64," + base64.b64encode(path.read_bytes()).decode()
    assert "too large" in _rejects(data_url, ImageLimits(max_bytes=100_000))


def test_truncated_images_flag_is_never_set(odd_images: dict[str, Path]) -> None:
    _rejects(odd_images["truncated.jpg"])
    load_image(odd_images["photo_progressive.jpg"])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("source", [None, ""])
def test_nothing_uploaded(source) -> None:
    assert "upload one" in _rejects(source)


@pytest.mark.parametrize("source", [{}, {"path": None, "url": None}, {"path": "/etc/hosts"}])
def test_gradio_file_objects_are_unwrapped_at_the_gate_not_here(source) -> None:
    """The page's gate hands on an Upload (a path); a file dict below the UI is a bug, refused as any odd type."""
    assert "unsupported image input (dict)" in _rejects(source)


def test_missing_file_urls_and_odd_types(tmp_path: Path) -> None:
    assert "could not be found" in _rejects(tmp_path / "gone.png")
    assert "could not be found" in _rejects(str(tmp_path))  # a directory
    assert "links" in _rejects("https://example.com/cat.png")
    assert "links" in _rejects("http://127.0.0.1:7860/gradio_api/file=x.png")
    assert "could not be decoded" in _rejects("data:image/png;base64,@@@")
    assert "empty" in _rejects("data:image/png;base64,")
    assert "svg" in _rejects("data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode())
    assert "svg" in _rejects(Upload(tmp_path / "upload", "logo.SVG"))  # the visitor's own file name says it
    assert "unsupported image input" in _rejects(12345)


def test_real_non_images_from_gradio_media() -> None:
    for kind, name in [
        ("videos", "a.mp4"),
        ("videos", "b.avi"),
        ("audio", "audio_sample.wav"),
        ("data", "sample.txt"),
    ]:
        assert "not an image" in _rejects(MEDIA_ROOT / kind / name), name
    assert "not an image" in _rejects(MEDIA_ROOT / "audio" / "cate_blanch.mp3")


# --- every input type -------------------------------------------------------------------------------


def test_every_source_type_gives_the_same_image(odd_images: dict[str, Path]) -> None:
    path = odd_images["photo.bmp"]
    data = path.read_bytes()
    expected = load_image(path)
    sources = [
        path,
        str(path),
        Upload(path, "photo.bmp"),
        "data:image/bmp;base64," + base64.b64encode(data).decode(),
        data,
        bytearray(data),
        Image.open(io.BytesIO(data)),
        np.asarray(expected),
    ]
    for source in sources:
        im = load_image(source)
        assert im.mode == "RGB" and im.tobytes() == expected.tobytes(), type(source)


def test_gradio_filedata_object_is_refused(odd_images: dict[str, Path]) -> None:
    from gradio.data_classes import FileData

    assert "unsupported image input (filedata)" in _rejects(FileData(path=str(odd_images["photo.bmp"])))


def test_pil_input_is_not_modified() -> None:
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    out = load_image(rgba)
    assert out is not rgba and rgba.mode == "RGBA" and out.getpixel((0, 0)) == WHITE
    rgb = Image.new("RGB", (4, 4), (1, 2, 3))
    assert load_image(rgb) is not rgb


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("L", 128, (128, 128, 128)),
        ("1", 1, WHITE),
        ("P", 0, (0, 0, 0)),
        ("LA", (50, 0), WHITE),
        ("PA", (0, 0), WHITE),
        ("RGBa", (0, 0, 0, 0), WHITE),
        ("CMYK", (0, 0, 0, 0), WHITE),
        ("YCbCr", (255, 128, 128), WHITE),
        ("LAB", (255, 128, 128), (254, 255, 254)),
        ("HSV", (0, 255, 255), (255, 0, 0)),
        ("I;16", 32896, (128, 128, 128)),
        ("I;16B", 65535, WHITE),
        ("I", 65535, WHITE),
        ("I", 1000, (4, 4, 4)),  # 32-bit holding 16-bit data
        ("F", 0.5, (128, 128, 128)),
        ("F", 200.0, (200, 200, 200)),
    ],
)
def test_every_pil_mode(mode: str, color, expected: tuple[int, int, int]) -> None:
    im = load_image(Image.new(mode, (3, 2), color))
    assert im.mode == "RGB" and im.size == (3, 2)
    assert im.getpixel((1, 1)) == expected


def test_palette_with_alpha_in_the_palette() -> None:
    im = Image.new("P", (2, 2))
    im.putpalette([10, 20, 30, 0] * 256, "RGBA")
    assert load_image(im).getpixel((0, 0)) == WHITE


def test_32_bit_and_float_ranges_are_stretched() -> None:
    ramp = np.linspace(-1000, 3000, 256).astype(np.int32)
    row = np.asarray(load_image(Image.fromarray(np.tile(ramp, (2, 1)))))[0, :, 0]
    assert row[0] == 0 and row[-1] == 255 and len(set(row)) > 200
    hdr = np.tile(np.linspace(0, 1000.0, 256, dtype=np.float32), (2, 1))
    row = np.asarray(load_image(hdr))[0, :, 0]
    assert row[0] == 0 and row[-1] == 255


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((2, 3), 7, np.uint8), (7, 7, 7)),
        (np.full((2, 3, 1), 7, np.uint8), (7, 7, 7)),
        (np.full((2, 3, 3), (1, 2, 3), np.uint8), (1, 2, 3)),
        (np.full((2, 3, 4), (1, 2, 3, 0), np.uint8), WHITE),
        (np.full((2, 3, 4), (1, 2, 3, 255), np.uint8), (1, 2, 3)),
        (np.full((2, 3, 2), (9, 0), np.uint8), WHITE),
        (np.full((2, 3), 65535, np.uint16), WHITE),
        (np.full((2, 3), 200, ">u2"), (1, 1, 1)),  # big-endian 16-bit is still 16-bit
        (np.full((2, 3, 3), (0, 32896, 65535), np.uint16), (0, 128, 255)),
        (np.full((2, 3, 3), (0.0, 0.5, 1.0), np.float32), (0, 128, 255)),
        (np.full((2, 3, 3), (0.0, 0.5, 1.0), np.float64), (0, 128, 255)),
        (np.full((2, 3, 3), (0.0, 100.0, 255.0), np.float32), (0, 100, 255)),
        (np.full((2, 3, 3), (0, 100, 255), np.int64), (0, 100, 255)),
        (np.full((2, 3), True), WHITE),
        (np.full((2, 3), False), (0, 0, 0)),
        (np.full((2, 3, 3), np.nan, np.float32), (0, 0, 0)),
    ],
)
def test_numpy_arrays(array: np.ndarray, expected: tuple[int, int, int]) -> None:
    im = load_image(array)
    assert im.mode == "RGB" and im.size == (3, 2)
    assert im.getpixel((2, 1)) == expected


def test_numpy_non_contiguous_view() -> None:
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[::2, ::-1, ::-1]
    assert np.array_equal(np.asarray(load_image(arr)), arr)


@pytest.mark.parametrize(
    "source",
    [
        np.zeros((0, 5, 3), np.uint8),
        np.zeros((5, 0), np.uint8),
        Image.new("RGB", (0, 5)),
        Image.new("L", (5, 0)),
    ],
)
def test_zero_sized_images(source) -> None:
    assert "no pixels" in _rejects(source)


@pytest.mark.parametrize(
    "source",
    [
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((2, 2, 2, 3), np.uint8),
        np.zeros(5, np.uint8),
        np.zeros((2, 2), complex),
    ],
)
def test_bad_arrays(source: np.ndarray) -> None:
    assert "array" in _rejects(source)


def test_pixel_limit_applies_to_arrays_and_pil() -> None:
    limits = ImageLimits(max_pixels=100)
    assert "too large" in _rejects(np.zeros((20, 20), np.uint8), limits)
    assert "20 × 20" in _rejects(Image.new("RGB", (20, 20)), limits)
    assert load_image(np.zeros((10, 10), np.uint8), limits).size == (10, 10)


# --- the real photos bundled with Gradio ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((MEDIA_ROOT / "images").iterdir()), ids=lambda p: p.name)
def test_real_gradio_images(path: Path) -> None:
    im = load_image(path)
    with Image.open(path) as original:
        assert im.mode == "RGB" and im.size == original.size


def test_real_photos_fixture(real_photos: dict[str, str]) -> None:
    for name, path in real_photos.items():
        assert load_image(path).mode == "RGB", name
    logo = load_image(real_photos["hf-logo_transpng.png"])
    assert logo.getpixel((0, 0)) == WHITE
