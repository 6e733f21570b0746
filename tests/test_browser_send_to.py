""" "Send to" between tabs in a real browser: a caption or a transcript becomes the text-to-image prompt,
a generated image or a video keyframe goes to the image tab."""

from __future__ import annotations

import re

import pytest

from mmdemo.ui.send_to import gallery_item


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


def test_a_caption_becomes_the_prompt_and_the_image_comes_back(page) -> None:
    page.get_by_role("tab", name="Image", exact=True).click()
    page.locator("#caption-task").get_by_text("Caption", exact=True).click()
    page.locator(".gallery-item:visible").nth(1).click()  # the cheetah
    page.locator("#caption-image img").first.wait_for()
    page.locator("#caption-button").click()
    # The caption streams in: wait for its first words, then for the run to end (the status tracker hides).
    page.wait_for_function("() => (document.querySelector('#caption-output textarea') || {}).value?.length > 0")
    page.wait_for_function("() => document.querySelector('#caption-output .wrap')?.classList.contains('hide')")
    caption = page.locator("#caption-output textarea").input_value()
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
