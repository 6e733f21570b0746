"""The Image tab and Many photos as a first-time visitor meets them, at desktop (1440×900) and phone (390×844) size,
in English and Chinese, on the tiny-model app and on a fresh offline install (issue 23: items 2, 4, 9, 10, 12, 15).

Runs are watched through the page only: what the visitor sees (the busy button, the Stop button, the one line
under the button, where the progress is drawn, the table's columns), colours as the browser renders them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from mmdemo.testing.browser import BUTTON_JS, CONTRAST_JS, DESKTOP, IN_VIEW_JS, PHONE, open_page

VISIBLE_ERROR_BADGES_JS = """() => [...document.querySelectorAll('[data-testid="status-tracker"] .error')]
  .filter((e) => e.getBoundingClientRect().width > 0).length"""


@pytest.fixture(scope="module")
def desktop(browser, app_url: str):
    page = open_page(browser, app_url, DESKTOP)
    page.locator("#caption-button").wait_for()
    yield page
    page.close()


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve different small photos (distinct content: a batch keeps each one)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("ux-photos")
    paths = []
    for i in range(12):
        path = folder / f"photo-{i:02d}.png"
        Image.new("RGB", (64, 48), (20 * i, 255 - 20 * i, 90)).save(path)
        paths.append(path)
    return paths


# --- item 2: offline, the first click works --------------------------------------------------------------------


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_offline_the_image_tab_opens_on_a_task_that_works(browser, offline_url: str, size: dict[str, int]) -> None:
    page = open_page(browser, offline_url, size)
    try:
        # Drawn with the page: the notice and the chosen task are there before the page's first request returns.
        notice = page.locator("#caption-availability")
        notice.wait_for()
        page.locator("#read-button").wait_for()
        assert page.locator("#caption-task input:checked").get_attribute("value") == "read"
        assert page.locator("#read-button").is_visible() and page.locator("#read-button").is_enabled()
        labels = page.locator("#caption-task label").all_inner_texts()
        assert labels == [
            "Caption (not on this server)",
            "Detailed caption (not on this server)",
            "Ask a question (not on this server)",
            "Read text",
        ]
        # One line, the rest folded: the models' names are not on the first screen.
        summary = notice.locator("summary").first
        assert summary.inner_text() == "Not available on this server: Caption, Detailed caption, Ask a question."
        assert notice.locator("details").first.get_attribute("open") is None
        assert "Salesforce" not in notice.inner_text()
        assert notice.bounding_box()["height"] < (90 if size is PHONE else 50)
        # It stays as drawn (no shift when the page load's refresh arrives).
        top = page.locator("#caption-image").bounding_box()["y"]
        page.wait_for_timeout(2500)
        assert page.locator("#caption-image").bounding_box()["y"] == top
        # The first click works: read the text of the first example.
        page.locator("#caption-examples .gallery-item").first.click()
        page.locator("#caption-image img").first.wait_for()
        page.locator("#read-button").click()
        page.wait_for_function(
            "() => (document.querySelector('#caption-output textarea') || {}).value?.includes('THANKS FOR WATCHING')"
        )
    finally:
        page.close()


def test_offline_notice_in_chinese_is_drawn_in_chinese(browser, offline_url: str) -> None:
    page = open_page(browser, offline_url, DESKTOP, chinese=True)
    try:
        summary = page.locator("#caption-availability summary").first
        summary.wait_for()
        assert summary.inner_text() == "本服务器不可用：描述、详细描述、提问。"
        labels = page.locator("#caption-task label").all_inner_texts()
        assert labels[0] == "描述（本服务器不可用）" and labels[3] == "识别文字"
    finally:
        page.close()


# --- item 4 and 12: the button is busy, the progress shows, Stop stops ---------------------------------------------


def test_on_a_phone_run_is_under_the_photo_and_a_tap_shows_progress(phone) -> None:
    page = phone
    boxes = {e: page.locator(f"#{e}").bounding_box() for e in ("caption-image", "caption-button", "caption-examples")}
    assert boxes["caption-image"]["y"] < boxes["caption-button"]["y"] < boxes["caption-examples"]["y"], boxes
    assert boxes["caption-button"]["y"] + boxes["caption-button"]["height"] < PHONE["height"] * 1.25
    page.locator("#caption-examples .gallery-item").nth(1).click()  # the cheetah
    page.locator("#caption-image img").first.wait_for()
    # The visitor has scrolled so that the Run button is at the bottom edge: the result is below the fold.
    page.evaluate(
        "() => { const b = document.querySelector('#caption-button').getBoundingClientRect();"
        " scrollBy(0, b.bottom - innerHeight + 4); }"
    )
    assert not page.evaluate(IN_VIEW_JS, "#caption-output textarea")
    page.locator("#caption-button").click()
    page.wait_for_function(BUTTON_JS, arg=["#caption-button", "Working…", True])
    page.wait_for_function(IN_VIEW_JS, arg="#caption-output")  # brought into view when the run started
    assert page.locator("#caption-stop").is_visible()
    page.wait_for_function("() => document.querySelector('#caption-output textarea').value.trim().length > 0")
    page.wait_for_function(BUTTON_JS, arg=["#caption-button", "Run", False])
    assert not page.locator("#caption-stop").is_visible()


# --- item 9: an error is one line, the outputs stay ------------------------------------------------------------


def test_an_error_is_one_line_under_the_button_and_the_result_stays(desktop, odd_images: dict[str, Path]) -> None:
    page = desktop
    page.locator("#caption-examples .gallery-item").nth(2).click()  # the lion
    page.locator("#caption-image img").first.wait_for()
    page.locator("#caption-button").click()
    page.wait_for_function(
        "() => { const b = document.querySelector('#caption-button'); return !b.disabled && b.innerText === 'Run'"
        " && document.querySelector('#caption-output textarea').value.trim().length > 0; }",
        timeout=180_000,
    )
    before = page.locator("#caption-output textarea").input_value()
    page.locator("#caption-image input[type=file]").set_input_files(str(odd_images["truncated.jpg"]))
    page.locator("#caption-button").click()
    line = page.locator("#caption-message")
    line.get_by_text("damaged or incomplete", exact=False).wait_for()
    assert page.evaluate(VISIBLE_ERROR_BADGES_JS) == 0  # no red "Error" badge on any output
    assert page.get_by_test_id("toast-body").filter(has_text="damaged").count() == 0  # said once, in its line
    assert page.locator("#caption-output textarea").input_value() == before
    page.wait_for_function("() => !document.querySelector('#caption-button').disabled")


# --- item 10: Many photos shows every column --------------------------------------------------------------------


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_many_photos_shows_every_column_and_the_failed_row(
    browser, app_url: str, size: dict[str, int], photos: list[Path], odd_images: dict[str, Path]
) -> None:
    page = open_page(browser, app_url, size)
    try:
        page.locator("#batch-section").get_by_text("Many photos: a table of captions").click()
        files = [str(photos[0]), str(photos[1]), str(odd_images["truncated.jpg"])]
        page.locator("#batch-files input[type=file]").set_input_files(files)
        page.get_by_label("Also read the text in each photo").check()
        page.locator("#batch-question input, #batch-question textarea").first.fill("What colour is it?")
        page.locator("#batch-button").click()
        page.locator("#batch-notes").get_by_text("3 photo(s)", exact=False).wait_for(timeout=180_000)
        headers = [h.strip() for h in page.locator("#batch-table thead th").all_inner_texts()]
        assert [h for h in headers if h] == ["file", "caption", "text", "question", "answer", "error"], headers
        table = page.locator("#batch-table").bounding_box()
        failed = page.locator("#batch-table .body-cell").filter(has_text="damaged or incomplete").first
        for cell in [*page.locator("#batch-table thead th").all(), failed]:  # every column on screen, no scrolling
            box = cell.bounding_box()
            assert box["x"] >= table["x"] - 1 and box["x"] + box["width"] <= table["x"] + table["width"] + 1
        assert failed.is_visible()
        notes = page.locator("#batch-notes").inner_text()
        assert notes.startswith("3 photo(s): 2 done, 1 could not be read.")
        assert not re.search(r"batches of|model time|server log", notes)  # folded under Details
        assert page.locator("#batch-notes details summary").inner_text() == "Details"
        assert page.locator("#batch-downloads input[type=file]").count() == 0  # a result, never a drop zone
    finally:
        page.close()


# --- item 15: contrast -----------------------------------------------------------------------------------------


def test_media_labels_and_the_upload_hint_are_readable(browser, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP)  # the photo input empty: its upload zone shows
    try:
        page.locator("#caption-image .or").wait_for()
        page.mouse.move(0, 0)
        ratios = {
            selector: page.evaluate(CONTRAST_JS, selector)
            for selector in ('#caption-image [data-testid="block-label"]', "#caption-image .or", "#caption-image .wrap")
        }
        assert all(r is not None and r >= 4.5 for r in ratios.values()), ratios
    finally:
        page.close()


# --- items 5/6: Chinese all through --------------------------------------------------------------------------------


def test_the_image_tab_in_chinese_after_its_example_run_has_no_english_of_the_apps_own(browser, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP, chinese=True)
    try:
        page.locator("#caption-examples .gallery-item").first.click()
        page.locator("#caption-image img").first.wait_for()
        page.locator("#caption-button").click()
        page.wait_for_function(
            "() => { const b = document.querySelector('#caption-button'); return !b.disabled && b.innerText === '运行'"
            " && document.querySelector('#caption-output textarea').value.trim().length > 0; }"
        )
        tab = page.locator("#caption-row").inner_text() + page.locator("#batch-section").inner_text()
        words = set(re.findall(r"[A-Za-z]{2,}", tab))
        assert not words, words  # model output (the caption) is a textarea's value, not the page's text
    finally:
        page.close()


def test_stop_stops_a_many_photos_job(desktop, photos: list[Path], caplog: pytest.LogCaptureFixture) -> None:
    """Stop, shown while the job runs, ends it on the page at once and on the server at its next step."""
    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")
    page = desktop
    page.locator("#batch-section").get_by_text("Many photos: a table of captions").click()
    page.locator("#batch-files input[type=file]").set_input_files([str(p) for p in photos])
    page.get_by_label("Also read the text in each photo").check()
    page.locator("#batch-button").click()
    stop = page.locator("#batch-stop")
    stop.wait_for(state="visible")
    assert page.locator("#batch-button").is_disabled()
    stop.click()
    page.locator("#batch-message").get_by_text("Stopped. What was done before is kept.").wait_for()
    page.wait_for_function(BUTTON_JS, arg=["#batch-button", "Caption all", False])
    assert not stop.is_visible()
    assert page.locator("#batch-table tbody tr").count() <= 1  # no table of twelve rows came back
    for _ in range(300):  # the server's work ends at its next step (the log says so)
        if any("caption_batch stopped" in r.getMessage() for r in caplog.records):
            break
        page.wait_for_timeout(1000)
    else:
        raise AssertionError("the job went on after Stop")
    page.get_by_label("Also read the text in each photo").uncheck()
