"""A real browser (Debian's headless Chromium via Playwright) uses the app like a person would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def page(app_url: str, tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (scripts/test.sh does it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a new, empty profile
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            viewport={"width": 1280, "height": 1000},
        )
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(app_url)
        page.get_by_role("button", name="Caption", exact=True).wait_for()
        yield page
        browser.close()


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
