"""A real browser (headless Chromium via Playwright) uses the Evaluate tab and the image tab's "Many photos"."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mmdemo.testing.text_images import render_text


def _signs_zip(folder: Path) -> Path:
    signs = {"open.png": "OPEN 24 HOURS", "exit.png": "Exit via Stairwell B"}
    archive = folder / "signs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        lines = "".join(json.dumps({"file_name": name, "text": text}) + "\n" for name, text in signs.items())
        zf.writestr("signs/metadata.jsonl", lines)
        for name, text in signs.items():
            render_text([text], folder / name)
            zf.write(folder / name, f"signs/{name}")
    return archive


def _open_evaluate(page) -> None:
    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-button").wait_for()


def test_evaluate_a_zipped_ocr_set_from_the_tab(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    _open_evaluate(page)
    archive = _signs_zip(tmp_path_factory.mktemp("eval"))
    page.locator("#eval-zip input[type=file]").set_input_files(str(archive))
    page.locator("#eval-zip .file-preview").first.wait_for()
    page.locator("#eval-task").get_by_text("Reading text (OCR: CER, WER)", exact=True).click()
    page.locator("#eval-button").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#eval-metrics');"
        " return t && t.innerText.includes('items scored'); }",
        timeout=120_000,
    )
    metrics = page.locator("#eval-metrics").inner_text()
    assert "CER" in metrics and "0.00 %" in metrics and "2 of 2 (0 failed)" in metrics
    items = page.locator("#eval-items").inner_text()
    assert "open.png" in items and "Exit via Stairwell B" in items
    page.locator("#eval-plots img").first.wait_for()
    page.locator("#eval-json").get_by_text(".json", exact=True).first.wait_for()
    assert "Reading text (OCR)" in page.locator("#eval-summary").inner_text()
    shot = tmp_path_factory.mktemp("screens") / "evaluate.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_file_that_is_not_a_zip_is_a_toast_and_the_results_stay(
    page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _open_evaluate(page)
    before = page.locator("#eval-metrics").inner_text()
    assert "items scored" in before
    fake = tmp_path_factory.mktemp("fake") / "photos.zip"
    fake.write_bytes(b"\x89PNG not a zip")
    page.locator("#eval-zip button[aria-label='Clear']").first.click()
    page.locator("#eval-zip input[type=file]").set_input_files(str(fake))
    page.locator("#eval-zip .file-preview").first.wait_for()
    page.locator("#eval-button").click()
    page.get_by_text("This file is not a zip archive, or it is damaged", exact=False).first.wait_for()
    assert page.locator("#eval-metrics").inner_text() == before


def test_many_photos_in_the_image_tab(page, real_photos: dict[str, str], odd_images: dict[str, Path]) -> None:
    page.get_by_role("tab", name="Image", exact=True).click()
    page.get_by_text("Many photos: a table of captions", exact=True).click()
    page.locator("#batch-files input[type=file]").set_input_files(
        [real_photos["lion.jpg"], str(odd_images["truncated.jpg"])]
    )
    page.locator("#batch-files .file-preview").first.wait_for()
    page.locator("#batch-button").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#batch-notes'); return t && t.innerText.includes('captioned'); }",
        timeout=120_000,
    )
    assert "2 photo(s): 1 captioned, 1 could not be read" in page.locator("#batch-notes").inner_text()
    table = page.locator("#batch-table").inner_text()
    assert "lion.jpg" in table and "damaged or incomplete" in table
    for extension in (".csv", ".jsonl"):
        page.locator("#batch-downloads").get_by_text(extension, exact=True).first.wait_for()
