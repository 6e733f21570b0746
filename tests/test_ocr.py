"""OCR ("read text") on the real PP-OCR model that ships in the rapidocr wheel: known text in, same words out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo.errors import InputError, ModelUnavailableError
from mmdemo.models.hub import packaged_folder
from mmdemo.models.manager import NATIVE_DTYPE, ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.ocr import OcrResult, annotate, read_text, read_texts
from mmdemo.testing.text_images import render_text


@pytest.fixture(scope="module")
def manager() -> ModelManager:
    return ModelManager(Settings(device="cpu", offline=True))


def test_reads_rendered_text_in_reading_order(manager: ModelManager, tmp_path: Path) -> None:
    path = tmp_path / "report.png"
    render_text(["Quarterly Sales Report", "Revenue grew in March"], path)
    result = read_text(str(path), manager=manager)
    assert isinstance(result, OcrResult)
    words = result.text.lower()
    assert "quarterly" in words and "report" in words and "revenue" in words
    assert words.index("quarterly") < words.index("revenue")  # top line first
    for line in result.lines:
        assert 0.5 <= line.score <= 1
        xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
        assert 0 <= min(xs) <= max(xs) <= result.image.width + 1
        assert 0 <= min(ys) <= max(ys) <= result.image.height + 1


def test_blank_image_has_no_text(manager: ModelManager) -> None:
    from PIL import Image

    result = read_text(Image.new("RGB", (320, 200), "white"), manager=manager)
    assert result.lines == () and result.text == ""


def test_real_photos_and_batch(manager: ModelManager, real_photos: dict[str, str]) -> None:
    results = read_texts(list(real_photos.values()), manager=manager)
    assert len(results) == len(real_photos)
    assert all(isinstance(r.text, str) and r.seconds >= 0 for r in results)


def test_annotate_draws_boxes(manager: ModelManager) -> None:
    result = read_text(render_text(["STOP"], font_size=60), manager=manager)
    assert [line.text for line in result.lines] == ["STOP"]
    drawn = annotate(result)
    assert drawn.size == result.image.size and drawn.tobytes() != result.image.tobytes()


def test_bad_input(manager: ModelManager, odd_images: dict[str, Path]) -> None:
    with pytest.raises(InputError):
        read_text(str(odd_images["random_bytes.jpg"]), manager=manager)
    with pytest.raises(InputError, match="confidence"):
        read_text(render_text(["x"]), min_score=2, manager=manager)
    with pytest.raises(InputError):
        read_texts([], manager=manager)


def test_status_shows_packaged_cpu_model(manager: ModelManager) -> None:
    read_text(render_text(["status"]), manager=manager)
    row = next(s for s in manager.status() if s.role == "ocr")
    assert row.model_id == "pip:rapidocr/models"
    assert row.source == "pip package (offline)"
    assert (row.state, row.device, row.dtype) == ("ready", "cpu", NATIVE_DTYPE)
    assert row.bytes > 1_000_000  # the ONNX files' size


def test_missing_package_names_it() -> None:
    with pytest.raises(ModelUnavailableError, match="no_such_package_xyz"):
        packaged_folder("ocr", "pip:no_such_package_xyz/models")
    with pytest.raises(ModelUnavailableError, match=r"^Text reading \(OCR\) is not available") as info:
        packaged_folder("ocr", "pip:rapidocr/no_such_folder")
    assert "no folder" in info.value.detail
    broken = ModelManager(Settings(device="cpu", models={"ocr": "pip:no_such_package_xyz/models"}))
    with pytest.raises(ModelUnavailableError) as info:
        read_text(render_text(["x"]), manager=broken)
    assert "pip install" in info.value.detail


@pytest.mark.parametrize("size", [(10, 3000), (3000, 12), (5000, 8), (8, 5000), (1, 1), (100, 3)])
def test_degenerate_shapes_are_read_without_error(manager: ModelManager, size: tuple[int, int]) -> None:
    from PIL import Image

    result = read_text(Image.new("RGB", size, "white"), manager=manager)
    assert result.lines == () and result.image.size == size


def test_text_on_a_long_strip_keeps_its_coordinates(manager: ModelManager) -> None:
    from PIL import Image

    word = render_text(["EXIT 12"])
    word = word.crop((0, 40, word.width, word.height - 40))  # 72 px high
    strip = Image.new("RGB", (1500, word.height), "white")  # a 21:1 banner: padded to 4:1 before reading
    strip.paste(word, (700, 0))
    result = read_text(strip, manager=manager)
    assert result.text == "EXIT 12"
    xs = [x for x, _ in result.lines[0].box]
    assert 700 <= min(xs) and max(xs) <= 700 + word.width and result.image.size == strip.size


@pytest.mark.parametrize("size", [(2000, 100), (100, 2000), (3000, 10), (640, 480), (1, 1)])
def test_detector_input_stays_bounded(size: tuple[int, int]) -> None:
    """Padded to at most 4:1, so the engine's 736 px minimum side never blows a banner up to ~15000 px."""
    from PIL import Image

    from mmdemo.tasks.ocr import MAX_ASPECT, ocr_canvas

    canvas = ocr_canvas(Image.new("RGB", size, "white"))
    assert max(canvas.size) / min(canvas.size) <= MAX_ASPECT + 0.05
    assert canvas.size[0] >= size[0] and canvas.size[1] >= size[1]
    if max(size) / min(size) <= MAX_ASPECT:
        assert canvas.size == size  # ordinary images are read as they are
