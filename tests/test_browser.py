"""A real browser (Debian's headless Chromium via Playwright) uses the captioning tab like a person would.

The ``page`` fixture (conftest) is one browser tab on the shared app; each tab's tests open their own tab.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def _captioning_tab_ready(page) -> None:
    page.get_by_role("button", name="Caption", exact=True).wait_for()


def _textbox_value(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first.input_value()


def test_caption_an_example_and_ask(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Click the first example photo: it fills the image input.
    page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button").first.click()
    page.locator("#caption-image img").first.wait_for()
    page.get_by_role("button", name="Caption", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#caption-output textarea, #caption-output input');"
        " return t && t.value.trim().length > 0; }"
    )
    assert isinstance(_textbox_value(page, "caption-output"), str)

    page.locator("#vqa-question textarea, #vqa-question input").first.fill("What animal is this?")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#vqa-output textarea, #vqa-output input');"
        " return t && t.value.trim().length > 0; }"
    )
    shot = tmp_path_factory.mktemp("screens") / "caption.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_status_panel_shows_loaded_models(page) -> None:
    page.get_by_text("Models: what is loaded, where, how big").click()
    page.get_by_role("button", name="Refresh", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#model-status');"
        " return t && t.innerText.includes('captioner') && t.innerText.includes('ready'); }"
    )


def test_bad_upload_shows_error_toast(page, odd_images: dict[str, Path]) -> None:
    page.locator("#caption-image input[type=file]").set_input_files(str(odd_images["truncated.jpg"]))
    page.get_by_role("button", name="Caption", exact=True).click()
    page.get_by_text("damaged or incomplete", exact=False).first.wait_for()


def test_read_text_shows_words(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    from mmdemo.testing.text_images import render_text

    path = tmp_path_factory.mktemp("ocr") / "sign.png"
    render_text(["Quarterly Sales Report"], path)
    page.locator("#caption-image input[type=file]").set_input_files(str(path))
    page.locator("#caption-image img").first.wait_for()
    page.get_by_role("button", name="Read text", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#ocr-text textarea');"
        " return t && t.value.toLowerCase().includes('quarterly'); }"
    )
