"""A real browser (headless Chromium via Playwright) uses the round-trip tab: one plain sentence under the result,
the numbers and models folded under Details, and in Chinese no English of the app's own; Stop stops a trip."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mmdemo.testing.browser import DESKTOP, english_left, open_page, stop_the_run


@pytest.fixture(scope="module")
def zh_page(browser, app_url: str):
    """The tab in a Chinese browser (as tests/test_browser_i18n.py sets it: DevTools overrides)."""
    page = open_page(browser, app_url, DESKTOP, chinese=True, timeout_ms=120_000)
    page.get_by_role("tab", name="往返", exact=True).click()
    page.locator("#trip-button").wait_for()
    yield page
    page.close()


def test_in_chinese_the_example_trip_is_one_plain_sentence(zh_page) -> None:
    page = zh_page
    page.locator("#trip-image").locator("xpath=../../..").locator(".gallery-item:visible").first.click()
    page.locator("#trip-image img").first.wait_for()
    page.locator("#trip-button").click()
    page.wait_for_function("() => document.querySelector('#trip-scores')?.innerText.startsWith('往返后保留了多少')")
    scores = page.locator("#trip-scores")
    assert "CLIP" not in scores.inner_text() and "captioner" not in scores.inner_text()  # folded: Details
    scores.get_by_text("详细信息", exact=True).click()
    scores.get_by_text("种子", exact=False).first.wait_for()
    data = [
        page.locator("#trip-caption textarea").input_value(),
        page.locator("#trip-caption-back textarea").input_value(),
        *scores.locator("code").all_inner_texts(),  # model ids
        "captioner text_to_image clip",  # role names, in the folded Details
        *re.findall(r"“(.*?)”", scores.inner_text()),  # the end of a long caption, as the tokenizer gives it back
    ]
    left = english_left(page.locator(".gradio-container").first.inner_text(), data)
    assert left == set(), left


def test_stop_stops_a_trip(page, caplog: pytest.LogCaptureFixture) -> None:
    """Stop, shown while a trip of 100 steps runs, ends it on the page at once and on the server at its next step."""
    page.get_by_role("tab", name="Round trip", exact=True).click()
    page.locator("#trip-image").locator("xpath=../../..").locator(".gallery-item:visible").first.click()
    page.locator("#trip-image img").first.wait_for()
    page.get_by_text("Advanced", exact=True).locator("visible=true").first.click()  # this tab's (the others hidden)
    box = page.locator("#trip-steps input[type=number]")
    box.wait_for(state="visible")  # the accordion has opened
    for attempt in range(3):  # on a loaded machine a value typed while the accordion opens can be lost: type again
        box.fill("100")
        box.press("Enter")
        try:
            page.wait_for_function(
                "() => document.querySelector('#trip-steps input[type=range]').value === '100'", timeout=20_000
            )
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.locator("#trip-button").click()
    stop_the_run(page, "trip", "#trip-button", "Run the round trip", caplog, "round_trip")
