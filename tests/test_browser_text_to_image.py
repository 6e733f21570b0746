"""A real browser (headless Chromium via Playwright) uses the text-to-image tab like a person would: on a desktop
(1440 × 900), on a phone (390 × 844) and in Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mmdemo.testing.browser import DESKTOP, PHONE, english_left, open_page, pictures, stop_the_run


@pytest.fixture(scope="module", autouse=True)
def _text_to_image_tab(page) -> None:
    page.set_viewport_size(DESKTOP)
    page.get_by_role("tab", name="Text to image").click()
    page.get_by_role("button", name="Generate", exact=True).wait_for()


@pytest.fixture(scope="module")
def phone(browser, app_url: str):
    page = open_page(browser, app_url, PHONE)
    page.get_by_role("tab", name="Text to image").click()
    page.get_by_role("button", name="Generate", exact=True).wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def zh_page(browser, app_url: str):
    """This module's tab in a Chinese browser (as tests/test_browser_i18n.py sets it: DevTools overrides)."""
    page = open_page(browser, app_url, DESKTOP, chinese=True)
    page.get_by_role("tab", name="文生图", exact=True).click()
    page.get_by_role("button", name="生成", exact=True).wait_for()
    yield page
    page.close()


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


def _set_size(page, size: str) -> None:
    """Type a size into the picker (it takes a typed value on Enter)."""
    box = page.locator("#t2i-size input")
    box.fill(size)
    box.press("Enter")
    box.press("Tab")
    page.wait_for_function(f"() => document.querySelector('#t2i-size input').value === '{size}'")


def _open_advanced(page) -> None:
    if not page.locator("#t2i-steps").is_visible():
        page.locator("#t2i-advanced").get_by_text("Advanced", exact=True).click()
        page.locator("#t2i-steps").wait_for()


def _generate(page, count: int, size: str) -> list[dict]:
    """Generate ``count`` images of ``size`` (2 steps) and measure how each is drawn."""
    page.bring_to_front()  # the desktop case opens the phone page: see tests/conftest.py, _in_front
    _open_advanced(page)
    _set_slider(page, "t2i-steps", "2")
    _set_slider(page, "t2i-count", str(count))
    _set_size(page, size)
    page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    page.locator("#t2i-button").click()
    page.wait_for_function(
        "(n) => { const s = [...document.querySelectorAll('#t2i-gallery .grid-container img')];"
        " return s.length === n && s.every(i => i.alt.startsWith('seed ')); }",
        arg=count,
        timeout=120_000,
    )
    return pictures(page, "#t2i-gallery")


def test_the_examples_are_on_the_first_screen(page) -> None:
    """Before a run the example prompts are above the fold (an empty gallery pushed them below it)."""
    examples = page.locator("#t2i-examples").bounding_box()
    gallery = page.locator("#t2i-gallery").bounding_box()
    assert examples["y"] + examples["height"] <= DESKTOP["height"], examples
    assert examples["y"] < gallery["y"], (examples, gallery)  # under the prompt, above the result


def test_no_send_button_before_a_result(page) -> None:
    assert not page.locator("#t2i-to-image").is_visible()
    assert not page.locator("#t2i-seed-used").is_visible()  # no seed to show before a run


@pytest.mark.parametrize(
    ("count", "size", "natural"),
    # small sizes: within the CPU's work budget per step (and scaled up to fill the box, which is harder to fit)
    [(1, "256x256", (256, 256)), (4, "192x192", (192, 192)), (2, "320x192", (320, 192)), (1, "192x320", (192, 320))],
    ids=["one-square", "four-square", "two-landscape", "one-portrait"],
)
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_image_is_shown_whole(page, phone, screen: str, count: int, size: str, natural: tuple) -> None:
    """Each generated image is drawn whole inside the part of the gallery that shows (a square one was drawn
    1198 px tall in a 560 px box: its bottom half hidden), with its caption and the gallery's label beside it."""
    shown = _generate(page if screen == "desktop" else phone, count, size)
    assert len(shown) == count
    for picture in shown:
        assert tuple(picture["natural"]) == natural, picture
        assert picture["whole"] and picture["in_cell"] and picture["in_view"], picture
        assert picture["caption_apart"] and picture["label_apart"], picture
        assert picture["drawn"][2] >= 100 and picture["drawn"][3] >= 100, picture  # not a thumbnail


def test_generate_shows_gallery_and_seed(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    _open_advanced(page)
    _set_slider(page, "t2i-count", "1")
    page.locator("#t2i-size input").fill("auto")
    page.locator("#t2i-size input").press("Enter")
    page.locator("#t2i-randomize input[type=checkbox]").check()
    page.wait_for_function("() => document.querySelector('#t2i-seed input').disabled")
    assert page.locator("#t2i-seed input").is_disabled()  # while Random seed is ticked
    page.locator("#t2i-randomize input[type=checkbox]").uncheck()
    page.wait_for_function("() => !document.querySelector('#t2i-seed input').disabled")
    page.locator("#t2i-seed input").fill("42")
    _set_slider(page, "t2i-steps", "2")
    page.locator("#t2i-button").click()
    page.locator("#t2i-gallery img").first.wait_for()
    page.wait_for_function(
        "() => { const t = document.querySelector('#t2i-info'); return t && t.innerText.startsWith('Seed 42:'); }"
    )
    assert _number(page, "t2i-seed-used") == "42"
    info = page.locator("#t2i-info")
    # one plain sentence; the settings, the model and the time folded under Details
    assert "steps" not in info.inner_text() and "decoder" not in info.inner_text()
    info.get_by_text("Details", exact=True).click()
    assert "2 steps" in info.inner_text() and "CLIP score" in info.inner_text()
    shot = tmp_path_factory.mktemp("screens") / "text_to_image.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_random_seed_is_shown(page) -> None:
    page.locator("#t2i-randomize input[type=checkbox]").check()
    page.locator("#t2i-button").click()
    page.wait_for_function(
        "() => { const i = document.querySelector('#t2i-seed-used input');"
        " const t = document.querySelector('#t2i-info');"
        " return i && t && i.value !== '42' && t.innerText.startsWith('Seed ' + i.value + ':'); }"
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
    page.locator("#t2i-button").click()
    page.get_by_text("Type a prompt first", exact=False).first.wait_for()
    assert page.locator("#t2i-gallery img").first.get_attribute("src") == shown
    assert page.locator("#t2i-info").inner_text() == info
    assert page.locator("#t2i-gallery .error").count() == 0


def test_stop_stops_a_generation(page, caplog: pytest.LogCaptureFixture) -> None:
    """Stop, shown while four images are made in 10 steps, ends the run on the page at once and on the server (the
    log says "generate stopped", also when Gradio closes the stream between two previews)."""
    _open_advanced(page)
    _set_slider(page, "t2i-steps", "10")
    _set_slider(page, "t2i-count", "4")
    _set_size(page, "256x256")
    page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    page.locator("#t2i-button").click()
    stop_the_run(page, "t2i", "#t2i-button", "Generate", caplog, "generate")


def test_in_chinese_the_example_run_leaves_no_english_of_the_apps(zh_page) -> None:
    """After an example prompt's run the whole page is Chinese but for data: the example prompts (the model's
    input, as written), names (CLIP) and Gradio's own footer words."""
    page = zh_page
    page.locator("#t2i-examples .gallery-item, #t2i-examples button").first.click()
    page.locator("#t2i-button").click()
    page.wait_for_function(
        "() => document.querySelector('#t2i-info')?.innerText.startsWith('种子')"
        " && document.querySelector('#t2i-gallery img')?.alt.startsWith('种子')",
        timeout=120_000,
    )
    page.locator("#t2i-info").get_by_text("详细信息", exact=True).click()  # the Details too
    data = [page.locator("#t2i-examples").inner_text(), *page.locator("#t2i-info code").all_inner_texts()]
    left = english_left(page.locator(".gradio-container").first.inner_text(), data)  # (model ids are data)
    assert left == set(), left
