"""Many photos budgeted per request, not per file (issue 26, items 1 and 3): a file sent many times is one file,
the zips of a request are counted together from their directories before anything is unpacked (and only their
photos are written), and decoded pixels are budgeted per request and per batch, one photo decoded at a time.
The attack payloads come from :mod:`mmdemo.testing.hostile`, scaled down with the limits lowered here."""

from __future__ import annotations

import weakref
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mmdemo.media import archive
from mmdemo.media.archive import ArchiveError, ZipBudget
from mmdemo.media.files import Upload
from mmdemo.models.manager import ModelManager
from mmdemo.tasks import batch_caption
from mmdemo.tasks.batch_caption import caption_batch, expand_inputs, plan_inputs
from mmdemo.testing.hostile import huge_png, many_references, zip_of_empty_files, zip_without_photos


@pytest.fixture
def unpacked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What every ``extract_zip`` call of the batch task wrote (the names), in order."""
    calls: list[list[str]] = []
    real = archive.extract_zip

    def spy(*args: Any, **kwargs: Any) -> list[str]:
        written = real(*args, **kwargs)
        calls.append(written)
        return written

    monkeypatch.setattr(batch_caption, "extract_zip", spy)
    return calls


def _photo_and_notes_zip(path: Path, photo: Path, notes_bytes: int) -> Path:
    """A zip with one photo and ``notes_bytes`` of text that is not a photo."""
    zip_without_photos(path, notes_bytes)
    with zipfile.ZipFile(path, "a") as zf:
        zf.write(photo, "photo.png")
    return path


def _written(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_a_zip_named_many_times_is_checked_and_unpacked_once(tmp_path: Path, unpacked: list[list[str]]) -> None:
    photo = huge_png(tmp_path / "p.png", 16)
    payload = _photo_and_notes_zip(tmp_path / "holiday.zip", photo, 2 * 2**20)
    notes: list[Any] = []
    (tmp_path / "out").mkdir()
    photos = expand_inputs(many_references(Upload(payload, "holiday.zip"), 50), tmp_path / "out", notes)
    assert [name for name, _ in photos] == ["holiday.zip/photo.png"]
    assert unpacked == [["photo.png"]]  # once, and only the photo: the 2 MiB of notes never reach the disk
    assert [str(n) for n in notes] == [
        "49 file(s) were sent more than once (the same file, or the same content under another name) and are "
        "captioned once: holiday.zip.",
        "1 file(s) in holiday.zip are not photos and were skipped: notes/part-0000.txt.",
    ]


def test_the_same_content_under_another_name_is_one_photo(tmp_path: Path) -> None:
    first = huge_png(tmp_path / "a.png", 16)
    second = tmp_path / "b.png"
    second.write_bytes(first.read_bytes())
    other = huge_png(tmp_path / "c.png", 16, seed=1)
    notes: list[Any] = []
    photos = expand_inputs([first, second, other, first], tmp_path, notes)
    assert [name for name, _ in photos] == ["a.png", "c.png"]
    assert [str(n) for n in notes] == [
        "2 file(s) were sent more than once (the same file, or the same content under another name) and are "
        "captioned once: b.png = a.png, a.png."
    ]


def test_zips_are_budgeted_together_before_any_is_unpacked(tmp_path: Path, unpacked: list[list[str]]) -> None:
    """Each zip passes every check on its own; together they are over the request's budget: refused, the limit
    named, nothing unpacked (the first zip, within the budget alone, is not unpacked either)."""
    photo = huge_png(tmp_path / "p.png", 16)
    zips = [_photo_and_notes_zip(tmp_path / f"z{i}.zip", photo, 2 * 2**20) for i in range(3)]
    for i, path in enumerate(zips):  # different files (a file sent twice would count once)
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("id.txt", str(i))
    out = tmp_path / "out"
    out.mkdir()
    budget = ZipBudget(max_entries=10_000, max_bytes=5 * 2**20)
    with pytest.raises(ArchiveError) as err:
        expand_inputs(zips, out, [], budget=budget)
    assert str(err.value) == (
        "The zips sent together are too large once unpacked (6 MB; at most 5 MB per request): send fewer zips at once."
    )
    assert (
        err.value.text("zh-CN") == "一起发送的 zip 压缩包解压后太大（6 MB；每个请求最多 5 MB）：请一次少发几个压缩包。"
    )
    assert unpacked == [] and list(out.iterdir()) == []
    entries = [zip_of_empty_files(tmp_path / f"e{i}.zip", 60, seed=i) for i in range(2)]
    with pytest.raises(ArchiveError, match=r"hold too many entries \(120; at most 100 per request\)"):
        plan_inputs(entries, [], budget=ZipBudget(max_entries=100, max_bytes=2**30))
    assert unpacked == []


def test_photos_in_zips_are_counted_before_unpacking(tmp_path: Path, unpacked: list[list[str]]) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(3):
            zf.write(huge_png(tmp_path / f"{i}.png", 16, seed=i), f"{i}.png")
    with pytest.raises(Exception, match=r"Too many photos \(more than 2\)"):
        expand_inputs([many], tmp_path / "out", [], max_photos=2)
    assert unpacked == []


def test_the_request_budget_comes_from_the_settings(shared_manager: ModelManager, tmp_path: Path) -> None:
    settings = shared_manager.settings.replace(max_request_unpacked_mb=3, max_request_zip_entries=50)
    budget = ZipBudget.from_settings(settings)
    assert (budget.max_bytes, budget.max_entries) == (3 * 2**20, 50)
    zips = [zip_without_photos(tmp_path / f"n{i}.zip", 2 * 2**20, seed=i) for i in range(2)]
    with pytest.raises(ArchiveError, match=r"\(4 MB; at most 3 MB per request\)"):
        caption_batch(zips, manager=ModelManager(settings), unpack_to=tmp_path)


# --- decoded pixels: item 3 -------------------------------------------------------------------------------------


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Events of the batch task: ("load", live decoded photos after it) and ("caption", photos, pixels)."""
    events: list[Any] = []
    alive: list[weakref.ref] = []
    real_load, real_caption = batch_caption.load_image, batch_caption.caption_images

    def load(source: Any, limits: Any) -> Any:
        image = real_load(source, limits)
        alive.append(weakref.ref(image))
        import gc

        gc.collect()
        events.append(("load", sum(ref() is not None for ref in alive)))
        return image

    def caption(images: list[Any], **kwargs: Any) -> Any:
        events.append(("caption", len(images), sum(i.width * i.height for i in images)))
        return real_caption(images, **kwargs)

    monkeypatch.setattr(batch_caption, "load_image", load)
    monkeypatch.setattr(batch_caption, "caption_images", caption)
    return events


def test_photos_are_decoded_lazily_in_batches_of_bounded_pixels(
    shared_manager: ModelManager, tmp_path: Path, decoded: list[Any]
) -> None:
    """Six 100×100 photos, a batch of at most 20,000 decoded pixels (the largest photo allowed): batches of two,
    and never more than one batch (and the next photo) decoded at once."""
    photos = [huge_png(tmp_path / f"{i}.png", 100, seed=i) for i in range(6)]
    manager = ModelManager(shared_manager.settings.replace(max_image_pixels=20_000))
    result = caption_batch(photos, batch_size=8, manager=manager)
    assert [r.ok for r in result.rows] == [True] * 6
    assert [e for e in decoded if e[0] == "caption"] == [("caption", 2, 20_000)] * 3
    assert max(n for kind, n, *_ in decoded if kind == "load") <= 3


def test_decoded_pixels_are_budgeted_per_request(shared_manager: ModelManager, tmp_path: Path) -> None:
    """16 different 100×100 photos (the issue's 16 × 49 MP, scaled), 50,000 pixels per request: five are read,
    the others say why they were not (and are not decoded)."""
    photos = [huge_png(tmp_path / f"{i}.png", 100, seed=i) for i in range(16)]
    manager = ModelManager(shared_manager.settings.replace(max_request_pixels=50_000))
    result = caption_batch(photos, manager=manager)
    assert [r.ok for r in result.rows] == [True] * 5 + [False] * 11
    assert result.rows[5].error.text() == (
        "Not read: the photos of this request add up to more than 0.05 megapixels (at most 0.05 MP per request); "
        "caption this one in another request."
    )
    assert "0.05" in result.rows[15].error.text("zh-CN")
    local = caption_batch(photos[:6], manager=manager, budgeted=False)  # the command line, on the user's own files
    assert [r.ok for r in local.rows] == [True] * 6


def test_sixteen_references_to_one_large_photo_decode_it_once(
    shared_manager: ModelManager, tmp_path: Path, decoded: list[Any]
) -> None:
    big = huge_png(tmp_path / "big.png", 700)  # the 49 MP PNG, scaled down 100 times
    result = caption_batch(many_references(big, 16), manager=shared_manager)
    assert len(result.rows) == 1 and result.rows[0].ok
    assert [e[0] for e in decoded] == ["load", "caption"]
