"""A real browser (headless Chromium via Playwright) uses the text-to-image tab like a person would."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout


@pytest.fixture(scope="module", autouse=True)
def _text_to_image_tab(page) -> None:
    page.get_by_role("tab", name="Text to image").click()
    page.get_by_role("button", name="Generate", exact=True).wait_for()


def _number(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} input").first.input_value()


def _set_slider(page, elem_id: str, value: str) -> None:
    """Type into a slider's number box until the slider has taken the value (it does so on change/blur)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    check = f"() => document.querySelector('#{elem_id} input[type=range]').value === '{value}'"
    for _ in range(5):
        box.fill(value)
        box.press("Enter")
        box.press("Tab")
        try:
            page.wait_for_function(check, timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the {elem_id} slider did not take the value {value}")


def test_generate_shows_gallery_and_seed(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert not page.locator("#t2i-seed-used").is_visible()  # no seed to show before a run
    page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    page.get_by_text("Advanced", exact=True).click()
    assert page.locator("#t2i-seed input").is_disabled()  # while Random seed is ticked
    page.locator("#t2i-randomize input[type=checkbox]").uncheck()
    page.wait_for_function("() => !document.querySelector('#t2i-seed input').disabled")
    page.locator("#t2i-seed input").fill("42")
    _set_slider(page, "t2i-steps", "2")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#t2i-gallery img").first.wait_for()
    page.wait_for_function(
        "() => { const t = document.querySelector('#t2i-info'); return t && t.innerText.includes('Seed 42'); }"
    )
    assert _number(page, "t2i-seed-used") == "42"
    info = page.locator("#t2i-info").inner_text()
    assert "2 steps" in info and "CLIP score" in info
    shot = tmp_path_factory.mktemp("screens") / "text_to_image.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_random_seed_is_shown(page) -> None:
    page.locator("#t2i-randomize input[type=checkbox]").check()
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function(
        "() => { const i = document.querySelector('#t2i-seed-used input');"
        " const t = document.querySelector('#t2i-info');"
        " return i && t && i.value !== '42' && t.innerText.includes('Seed ' + i.value); }"
    )


def test_reuse_seed_fills_the_seed_and_unticks_random(page) -> None:
    used = _number(page, "t2i-seed-used")
    page.locator("#t2i-reuse").click()
    page.wait_for_function(f"() => document.querySelector('#t2i-seed input').value === '{used}'")
    assert not page.locator("#t2i-randomize input[type=checkbox]").is_checked()
    # unticking "Random seed" enables the seed box through its own change event (a second round trip): wait for it
    page.wait_for_function("() => !document.querySelector('#t2i-seed input').disabled", timeout=10_000)


def test_empty_prompt_is_a_toast_and_the_images_stay(page) -> None:
    shown = page.locator("#t2i-gallery img").first.get_attribute("src")
    info = page.locator("#t2i-info").inner_text()
    page.locator("#t2i-prompt textarea").fill("")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text("Type a prompt first", exact=False).first.wait_for()
    assert page.locator("#t2i-gallery img").first.get_attribute("src") == shown
    assert page.locator("#t2i-info").inner_text() == info
    assert page.locator("#t2i-gallery .error").count() == 0
