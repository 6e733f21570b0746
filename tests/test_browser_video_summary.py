"""A real browser (headless Chromium via Playwright) uses the video summary tab like a person would."""

from __future__ import annotations

import pytest

from mmdemo.testing.odd_videos import make_odd_videos


@pytest.fixture(scope="module", autouse=True)
def _video_tab(page) -> None:
    page.get_by_role("tab", name="Video").click()
    page.get_by_role("button", name="Summarise", exact=True).wait_for()


def test_summarise_an_example(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    page.locator("#video-examples .gallery-item, #video-examples button").first.click()
    page.locator("#video-input video").first.wait_for(state="attached")
    page.get_by_role("button", name="Summarise", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#video-summary textarea'); return t && t.value.trim().length > 0; }"
    )
    page.locator("#video-gallery img").first.wait_for()
    assert page.locator("#video-gallery img").count() >= 1
    assert "THANKS FOR WATCHING" in page.locator("#video-chapters").inner_text().upper()
    assert "keyframes" in page.locator("#video-notes").inner_text()
    for extension in (".md", ".json"):  # the file list shows name and extension apart
        page.locator("#video-files").get_by_text(extension, exact=True).first.wait_for()
    shot = tmp_path_factory.mktemp("screens") / "video-summary.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_bad_upload_shows_error_toast(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    files = make_odd_videos(tmp_path_factory.mktemp("odd-videos"))
    clear = page.locator("#video-input button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator("#video-input input[type=file]").set_input_files(str(files["random_bytes.mp4"]))
    page.get_by_role("button", name="Summarise", exact=True).click()
    page.get_by_text("damaged or incomplete", exact=False).first.wait_for()
