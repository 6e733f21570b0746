"""Captioning many photos (mmdemo/tasks/batch_caption.py) on the tiny seeded models: exact captions (the same as
one at a time), the real OCR's words, a bad file among good ones, zips and folders, batch sizes from the memory
budget, and the CSV and JSONL files word for word."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from mmdemo.errors import InputError, ModelUnavailableError
from mmdemo.media.archive import ArchiveError
from mmdemo.media.files import Upload
from mmdemo.models.manager import ModelManager, estimate_weight_bytes
from mmdemo.settings import Settings
from mmdemo.tasks.batch_caption import FAILED, BatchCaptionResult, PhotoRow, caption_batch
from mmdemo.tasks.captioning import caption_image
from mmdemo.testing.text_images import render_text

# What the tiny seeded captioner says about Gradio's photos (random weights, so no real words: what matters is
# that a batch gives each photo exactly its own caption).
LION = (
    "Boat playing boat 0 0 0 0 0 boat boat 0 boat boat 0 boat 0 boat boat boat 0 boat 0 boat boat boat boat 0 0 boat "
    "playing"
)
TOWER = (
    "Playing playing playing playing playing playing playing playing playing playing playing how playing playing "
    "playing playing playing playing playing playing playing playing playing more garden playing more running more "
    "elephant"
)
SIGN = " ".join(["Playing"] + ["playing"] * 29)
NOT_AN_IMAGE = "This file is not an image, or its format isn't supported: upload a PNG, JPEG, WebP or GIF image."


def copies(photo: str | Path, count: int, folder: Path) -> list[Path]:
    """``count`` different files of the same photo (the same pixels; a JPEG's trailing bytes differ): a request
    counts a file sent twice once, so a test of several photos sends different files."""
    data = Path(photo).read_bytes()
    paths = [folder / f"copy-{i}{Path(photo).suffix}" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_bytes(data + b"\0" * i)
    return paths


@pytest.fixture(scope="module")
def sign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sign") / "sign.png"
    render_text(["Quarterly Sales Report"], path)
    return path


def test_a_bad_file_among_good_ones_is_recorded_and_the_rest_are_captioned(
    shared_manager: ModelManager, real_photos: dict[str, str], odd_images: dict[str, Path], sign: Path
) -> None:
    messages: list[tuple[float, str]] = []
    files = [real_photos["lion.jpg"], str(odd_images["random_bytes.jpg"]), str(sign), real_photos["tower.jpg"]]
    result = caption_batch(
        files,
        read_text=True,
        batch_size=2,
        manager=shared_manager,
        progress=lambda f, m: messages.append((f, str(m))),
    )
    assert isinstance(result, BatchCaptionResult) and result.batch_size == 2
    assert result.rows == (
        PhotoRow("lion.jpg", LION, text=""),
        PhotoRow("random_bytes.jpg", error=NOT_AN_IMAGE),
        PhotoRow("sign.png", SIGN, text="Quarterly Sales Report"),
        PhotoRow("tower.jpg", TOWER, text=""),
    )
    assert [row.file for row in result.failed] == ["random_bytes.jpg"]
    assert result.columns == ["file", "caption", "text", "error"]
    assert result.model_ids == (shared_manager.model_id("captioner"), "pip:rapidocr/models")
    # a photo's caption in a batch is its caption alone
    assert caption_image(real_photos["tower.jpg"], manager=shared_manager).text == TOWER
    steps = [m for _, m in messages if not m.startswith(("Loading", "Reading the weights", "Image captioning"))]
    assert steps == [
        "Captioning photos 1–2 of 4",
        "Reading the text in photo 1 of 4",
        "2 of 4 photos done (1 failed)",
        "Captioning photos 3–4 of 4",
        "Reading the text in photo 3 of 4",
        "Reading the text in photo 4 of 4",
        "4 of 4 photos done (1 failed)",
    ]
    assert [f for f, m in messages if " photos done" in m] == [0.5, 1.0]


def test_one_question_for_every_photo(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    result = caption_batch(
        [Upload(Path(real_photos["lion.jpg"]), "my lion.jpg")],  # as the page's gate hands it on
        question="  What   animal is this? ",
        manager=shared_manager,
    )
    (row,) = result.rows
    assert row.file == "my lion.jpg" and row.caption == LION and row.text is None
    assert row.answer == "Are are are are are are are are are are"  # the tiny VQA model's answer
    assert result.question == "What animal is this?"
    assert result.columns == ["file", "caption", "question", "answer", "error"]
    assert result.records() == [
        {
            "file": "my lion.jpg",
            "caption": LION,
            "question": "What animal is this?",
            "answer": row.answer,
            "error": None,
        }
    ]


def test_csv_and_jsonl_word_for_word(tmp_path: Path) -> None:
    result = BatchCaptionResult(
        rows=(
            PhotoRow("a.jpg", "A dog, running", text="EXIT\nStairs B"),
            PhotoRow("=HYPERLINK(evil).jpg", "-5 degrees", text="@home"),
            PhotoRow("b.png", error="The image could not be read."),
        ),
        read_text=True,
        question=None,
        batch_size=8,
        model_ids=("m",),
        notes=(),
        seconds=1.0,
    )
    csv_path, jsonl_path = result.write(tmp_path / "out")
    assert (csv_path.name, jsonl_path.name) == ("captions.csv", "captions.jsonl")
    assert csv_path.read_bytes().decode("utf-8") == (
        "file,caption,text,error\r\n"
        'a.jpg,"A dog, running","EXIT\nStairs B",\r\n'
        "'=HYPERLINK(evil).jpg,'-5 degrees,'@home,\r\n"  # no formula runs when a spreadsheet opens it
        "b.png,,,The image could not be read.\r\n"
    )
    assert [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()] == [
        {"file": "a.jpg", "caption": "A dog, running", "text": "EXIT\nStairs B", "error": None},
        {"file": "=HYPERLINK(evil).jpg", "caption": "-5 degrees", "text": "@home", "error": None},
        {"file": "b.png", "caption": None, "text": None, "error": "The image could not be read."},
    ]


def test_a_zip_and_a_folder_of_photos(
    shared_manager: ModelManager, real_photos: dict[str, str], tmp_path: Path, odd_images: dict[str, Path]
) -> None:
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(real_photos["tower.jpg"], "paris/tower.jpg")
        zf.write(real_photos["lion.jpg"], "lion.JPG")
        zf.writestr("notes.txt", "not a photo")
        zf.writestr("__MACOSX/._lion.JPG", "resource fork")
    folder = tmp_path / "more"
    folder.mkdir()
    shutil.copy(odd_images["truncated.jpg"], folder / "broken.jpg")
    shutil.copy(real_photos["lion.jpg"], folder / "b.png")
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    result = caption_batch([Upload(archive, "holiday.zip"), folder], unpack_to=unpack, manager=shared_manager)
    assert [(r.file, r.caption) for r in result.rows] == [
        ("holiday.zip/lion.JPG", LION),
        ("holiday.zip/paris/tower.jpg", TOWER),
        ("more/b.png", LION),
        ("more/broken.jpg", None),
    ]
    assert "damaged or incomplete" in str(result.rows[3].error)
    assert result.notes == ("1 file(s) in holiday.zip are not photos and were skipped: notes.txt.",)
    assert list(unpack.iterdir()) == []  # what was unpacked is gone


def test_a_refused_zip_stops_the_request(shared_manager: ModelManager, tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.jpg", b"x")
    with pytest.raises(ArchiveError, match=r"leads out of its folder with '\.\.' \(\.\./\.\./evil\.jpg\)"):
        caption_batch([archive], manager=shared_manager)


def test_the_batch_size_comes_from_the_memory_left(
    tiny_model_dirs: dict[str, Path], real_photos: dict[str, str], tmp_path: Path
) -> None:
    from mmdemo.tasks import batch_caption

    folder = tiny_model_dirs["captioner"]
    weights = estimate_weight_bytes(folder, 4)
    budget = weights + 2.5 * batch_caption.CAPTION_ITEM_BYTES  # room for two photos' working memory
    settings = Settings(models={"captioner": str(folder)}, device="cpu", offline=True, memory_budget_gb=budget / 2**30)
    messages: list[str] = []
    result = caption_batch(
        copies(real_photos["lion.jpg"], 3, tmp_path),
        manager=ModelManager(settings),
        progress=lambda f, m: messages.append(m),
    )
    assert result.batch_size == 2 and [r.caption for r in result.rows] == [LION] * 3
    assert "Captioning photos 3–3 of 3" in messages


def test_limits_and_missing_models_are_refused_before_any_work(
    shared_manager: ModelManager, real_photos: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"Too many photos \(more than 2\): split them into smaller batches\."):
        caption_batch(copies(real_photos["lion.jpg"], 3, tmp_path), max_photos=2, manager=shared_manager)
    with pytest.raises(InputError, match="No photos to caption"):
        caption_batch([], manager=shared_manager)
    with pytest.raises(
        InputError, match=r"Also ask each photo \(question\) is too long \(400 characters; at most 300\)"
    ):
        caption_batch([real_photos["lion.jpg"]], question="x" * 400, manager=shared_manager)
    with pytest.raises(InputError, match=r"Photos per batch \(batch_size\) must be a whole number from 1 to 64"):
        caption_batch([real_photos["lion.jpg"]], batch_size=0, manager=shared_manager)
    without_vqa = ModelManager(shared_manager.settings.replace(models={"vqa": str(tmp_path / "no-such-model")}))
    with pytest.raises(ModelUnavailableError) as err:
        caption_batch([real_photos["lion.jpg"]], question="What?", manager=without_vqa)
    assert str(err.value).startswith("Visual question answering is not available on this server")
    assert without_vqa.status()[0].state == "not loaded"  # not even the captioner was loaded


def test_an_unexpected_failure_on_one_photo_is_recorded(
    shared_manager: ModelManager, real_photos: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mmdemo.tasks import ocr

    real = ocr.read_texts
    calls = iter([RuntimeError("boom"), None])

    def flaky(images, **kwargs):
        failure = next(calls)
        if failure:
            raise failure
        return real(images, **kwargs)

    monkeypatch.setattr(ocr, "read_texts", flaky)
    result = caption_batch(copies(real_photos["lion.jpg"], 2, tmp_path), read_text=True, manager=shared_manager)
    assert [(r.caption, r.text, r.error) for r in result.rows] == [(LION, None, FAILED), (LION, "", None)]


def test_a_client_that_leaves_stops_the_batch_and_the_unpacked_photos_go(
    shared_manager: ModelManager, real_photos: dict[str, str], tmp_path: Path
) -> None:
    """The app's progress step raises Cancelled when the client has gone: the batch stops there (it is not
    recorded as a photo's error) and what was unpacked is removed."""
    from mmdemo.errors import Cancelled

    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(4):
            zf.write(real_photos["lion.jpg"], f"{i}.jpg")
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    seen: list[str] = []

    def leave(fraction: float, message: object) -> None:
        message = str(message)  # (a keyed message)
        seen.append(message)
        if message.startswith("Captioning photos 3"):
            raise Cancelled

    with pytest.raises(Cancelled):
        caption_batch([archive], batch_size=2, unpack_to=unpack, manager=shared_manager, progress=leave)
    assert "2 of 4 photos done" in seen and not any(m.startswith("4 of 4") for m in seen)
    assert list(unpack.iterdir()) == []


def test_without_the_captioner_a_batch_reads_text_and_nothing_else_is_refused(
    tiny_settings: Settings, real_photos: dict[str, str], sign: Path, tmp_path: Path
) -> None:
    """Offline without the captioning model, Many photos still reads the text of every photo (the table has no
    captions, and says why); a batch that asks for nothing else is refused, naming the missing model."""
    manager = ModelManager(tiny_settings.replace(models={**tiny_settings.models, "captioner": str(tmp_path / "none")}))
    result = caption_batch([str(sign), real_photos["lion.jpg"]], read_text=True, manager=manager)
    assert result.rows == (PhotoRow("sign.png", text="Quarterly Sales Report"), PhotoRow("lion.jpg", text=""))
    assert [note.key for note in result.notes] == ["batch.no_captioner"]
    with pytest.raises(ModelUnavailableError) as info:
        caption_batch([str(sign)], manager=manager)
    assert info.value.role == "captioner"
