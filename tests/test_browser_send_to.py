""" "Send to" between tabs in a real browser: a caption or a transcript becomes the text-to-image prompt,
a generated image or a video keyframe goes to the image tab."""

from __future__ import annotations

import re

import pytest

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.testing.browser import DESKTOP, PHONE
from mmdemo.ui.send_to import gallery_item, sendable

SENDERS = {
    "Image": ("#caption-image", ["#caption-to-prompt"]),
    "Text to image": ("#t2i-prompt", ["#t2i-to-image"]),
    "Emotion": ("#emotion-audio", ["#emotion-to-prompt"]),
    "Video": ("#video-input", ["#video-to-image", "#video-to-prompt"]),
}
"""Each tab with send buttons: an element that shows it is laid out, and its send buttons."""


def _selected_tab(page) -> str:
    return page.locator("button[role=tab][aria-selected=true]").inner_text().strip()


def _prompt(page) -> str:
    return page.locator("#t2i-prompt textarea").input_value()


def test_gallery_item_picks_the_clicked_one_or_the_first() -> None:
    items = [("/a.png", "seed 1"), ("/b.png", "seed 2")]
    assert gallery_item(items, 1) == "/b.png" and gallery_item(items, 7) == "/a.png"
    assert gallery_item(["/c.png"], None) == "/c.png"
    with pytest.raises(Exception, match="no image to send yet"):
        gallery_item([], 0)


def test_sendable_only_with_a_result_and_a_target_that_can_run(tiny_settings: Settings) -> None:
    everything = ModelManager(tiny_settings)
    no_generator = ModelManager(tiny_settings.replace(models={"text_to_image": "/nonexistent/text_to_image"}))
    assert sendable(everything, "generate", "a cat") == {"__type__": "update", "visible": True}
    assert sendable(everything, "generate", "") == {"__type__": "update", "visible": False}
    assert sendable(everything, "caption", []) == {"__type__": "update", "visible": False}
    assert sendable(no_generator, "generate", "a cat") == {"__type__": "update", "visible": False}
    assert sendable(no_generator, "caption", [("/a.png", "seed 1")]) == {"__type__": "update", "visible": True}


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_send_button_before_a_result(browser, app_url: str, size: dict) -> None:
    """ "Use as a prompt" before any result jumped to an empty prompt: every send button waits for a result."""
    page = browser.new_page()
    try:
        page.set_viewport_size(size)
        page.goto(app_url)
        for tab, (shown, buttons) in SENDERS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            page.locator(shown).wait_for()
            assert not any(page.locator(b).is_visible() for b in buttons), tab
    finally:
        page.close()


def test_offline_nothing_offers_to_go_to_a_tab_that_cannot_run(browser, offline_url: str) -> None:
    """Without the text-to-image model a text result offers no "Use as a prompt" (it landed on a disabled
    Generate)."""
    page = browser.new_page()
    pending: set = set()
    page.on("request", lambda r: pending.add(r) if "/run/predict" in r.url else None)
    page.on("requestfinished", lambda r: pending.discard(r))
    page.on("requestfailed", lambda r: pending.discard(r))
    try:
        page.set_viewport_size(DESKTOP)
        page.goto(offline_url)
        page.locator("#caption-task").get_by_text("Read text", exact=True).click()
        page.locator(".gallery-item:visible").first.click()  # the example with text to read
        page.locator("#caption-image img").first.wait_for()
        page.locator("#read-button").click()
        page.wait_for_function(
            "() => (document.querySelector('#caption-output textarea') || {}).value?.includes('THANKS FOR WATCHING')"
        )
        for _ in range(100):  # the result's change event (which decides the button) has been answered
            if not pending:
                break
            page.wait_for_timeout(100)
        assert not page.locator("#caption-to-prompt").is_visible()
    finally:
        page.close()


def test_a_caption_becomes_the_prompt_and_the_image_comes_back(page) -> None:
    page.get_by_role("tab", name="Image", exact=True).click()
    page.locator("#caption-task").get_by_text("Caption", exact=True).click()
    page.locator(".gallery-item:visible").nth(1).click()  # the cheetah
    page.locator("#caption-image img").first.wait_for()
    page.locator("#caption-button").click()
    # The caption streams in: wait for its first words, then for the run to end (the status tracker hides).
    page.wait_for_function("() => (document.querySelector('#caption-output textarea') || {}).value?.length > 0")
    page.wait_for_function("() => document.querySelector('#caption-output .wrap')?.classList.contains('hide')")
    page.wait_for_function("() => !document.querySelector('#caption-button')?.disabled")  # (busy while it runs)
    caption = ""
    while caption != page.locator("#caption-output textarea").input_value():  # the last words have arrived
        caption = page.locator("#caption-output textarea").input_value()
        page.wait_for_timeout(500)
    page.locator("#caption-to-prompt").wait_for()  # shown now: there is a caption, and Generate can run
    page.locator("#caption-to-prompt").click()
    page.wait_for_function("() => document.querySelector('#t2i-prompt textarea')?.value.length > 0")
    assert _selected_tab(page) == "Text to image" and _prompt(page) == caption

    page.locator("#t2i-button").click()
    page.locator("#t2i-gallery img").first.wait_for()
    page.locator("#t2i-to-image").click()
    page.wait_for_function("() => document.querySelector('#caption-image img')?.src.includes('image.png')")
    assert _selected_tab(page) == "Image"


def test_a_transcript_becomes_the_prompt_without_its_timestamps(page) -> None:
    page.get_by_role("tab", name="Emotion", exact=True).click()
    page.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
    page.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
    page.locator("#emotion-button").click()
    page.wait_for_function(
        "() => (document.querySelector('#emotion-transcript textarea') || {}).value?.startsWith('[0:')",
        timeout=180_000,
    )
    transcript = page.locator("#emotion-transcript textarea").input_value()
    page.locator("#emotion-to-prompt").click()
    page.wait_for_function("(t) => document.querySelector('#t2i-prompt textarea')?.value !== t", arg=transcript)
    prompt = _prompt(page)
    assert _selected_tab(page) == "Text to image"
    lines = [re.sub(r"^\[[0-9:.]+[–-][0-9:.]+\]\s*", "", line).strip() for line in transcript.splitlines()]
    assert prompt == " ".join(line for line in lines if line) and "[0:" not in prompt


def test_a_keyframe_goes_to_the_image_tab(page) -> None:
    page.get_by_role("tab", name="Video", exact=True).click()
    page.locator("#video-examples .gallery-item, #video-examples button").first.click()
    page.locator("#video-input video").first.wait_for(state="attached")
    page.locator("#video-button").click()
    page.locator("#video-gallery img").first.wait_for(timeout=180_000)
    before = page.locator("#caption-image img").first.get_attribute("src")
    page.locator("#video-to-image").click()  # (no keyframe clicked: the first one)
    page.wait_for_function("(b) => document.querySelector('#caption-image img')?.src !== b", arg=before)
    assert _selected_tab(page) == "Image"
