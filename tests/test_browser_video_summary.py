"""A real browser (headless Chromium via Playwright) uses the video summary tab like a person would: on a desktop
(1440 × 900), on a phone (390 × 844) and in Chinese; and no output of any tab is a place to drop a file."""

from __future__ import annotations

import pytest

from mmdemo.testing.browser import BUTTON_JS, DESKTOP, PHONE, english_left, open_page, pictures, stop_the_run
from mmdemo.testing.odd_videos import long_talk, make_odd_videos

TABS = {
    "Image": "#caption-image",
    "Text to image": "#t2i-prompt",
    "Emotion": "#emotion-audio",
    "Video": "#video-input",
    "Round trip": "#trip-image",
    "Evaluate": "#eval-zip",
}
"""Each tab, and an element that shows it has been laid out."""
UPLOADS = {"caption-image", "batch-files", "emotion-audio", "video-input", "trip-image", "eval-zip"}
"""The inputs that take a file (every other file input on the page would be an output one can drop a file on)."""
RESULT_FILES = ("#video-files", "#batch-downloads", "#eval-json")


@pytest.fixture(scope="module", autouse=True)
def _video_tab(page) -> None:
    page.set_viewport_size(DESKTOP)
    page.get_by_role("tab", name="Video").click()
    page.get_by_role("button", name="Summarise", exact=True).wait_for()


@pytest.fixture(scope="module")
def phone(browser, app_url: str):
    page = open_page(browser, app_url, PHONE)
    page.get_by_role("tab", name="Video").click()
    page.get_by_role("button", name="Summarise", exact=True).wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def zh_page(browser, app_url: str):
    """This module's tab in a Chinese browser (as tests/test_browser_i18n.py sets it: DevTools overrides)."""
    page = open_page(browser, app_url, DESKTOP, chinese=True)
    page.get_by_role("tab", name="视频", exact=True).click()
    page.get_by_role("button", name="总结", exact=True).wait_for()
    yield page
    page.close()


def _file_inputs(page) -> set[str]:
    """The element ids of every file input on the page (each named by its closest element with an id)."""
    found = page.evaluate("() => [...document.querySelectorAll('input[type=file]')].map(e => e.closest('[id]')?.id)")
    return set(found)


def _clear_the_video(page) -> None:
    """Empty the video input (a video in it hides its file input)."""
    clear = page.locator("#video-input button[aria-label='Clear']")
    if clear.count():
        clear.first.click()


def _summarise_example(page) -> None:
    page.locator("#video-examples .gallery-item, #video-examples button").first.click()
    page.locator("#video-input video").first.wait_for(state="attached")
    page.locator("#video-button").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#video-summary textarea'); return t && t.value.trim().length > 0; }",
        timeout=180_000,
    )
    page.locator("#video-gallery img").first.wait_for()


def test_no_output_takes_a_dropped_file(page) -> None:
    """Every tab, before and after: only the inputs that take a file have a file input (the keyframes were an upload
    zone: "Drop Media Here", and a dropped photo went on to the image tab)."""
    for tab, shown in TABS.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        page.locator(shown).wait_for()
        assert _file_inputs(page) <= UPLOADS, (tab, _file_inputs(page))
    page.get_by_role("tab", name="Video", exact=True).click()
    assert "Drop" not in page.locator("#video-gallery").inner_text()


def test_no_send_button_before_a_result(page) -> None:
    page.locator("#video-button").wait_for()
    assert not page.locator("#video-to-image").is_visible() and not page.locator("#video-to-prompt").is_visible()


def test_summarise_an_example(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    _summarise_example(page)
    assert page.locator("#video-gallery img").count() >= 1
    assert "THANKS FOR WATCHING" in page.locator("#video-chapters").inner_text().upper()
    notes = page.locator("#video-notes")
    assert "keyframes and" in notes.inner_text() and "Details" in notes.inner_text()
    assert "model" not in notes.inner_text()  # how the summary was made is folded under Details
    for extension in (".md", ".json"):  # the file list shows name and extension apart
        page.locator("#video-files").get_by_text(extension, exact=True).first.wait_for()
    # results: no file input, no "Remove this file" on the report's files, and the send buttons now shown
    assert _file_inputs(page) <= UPLOADS
    assert page.locator("#video-files .label-clear-button:visible").count() == 0
    page.locator("#video-to-image").wait_for()
    shot = tmp_path_factory.mktemp("screens") / "video-summary.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_keyframe_captions_are_under_the_keyframes(page, phone, screen: str) -> None:
    """Each keyframe is drawn whole in its cell, its caption (time, what is seen and read) under it, not over it,
    and the gallery's label above the first row."""
    shown_on = page if screen == "desktop" else phone
    if shown_on.locator("#video-gallery img").count() == 0:  # (the desktop page has run it already)
        _summarise_example(shown_on)
    shown = pictures(shown_on, "#video-gallery")
    assert shown
    for keyframe in shown:
        assert keyframe["whole"] and keyframe["in_cell"], keyframe
        assert keyframe["caption"].startswith("0:0") and keyframe["caption_apart"], keyframe
        assert keyframe["label_apart"], keyframe
        assert keyframe["drawn"][2] >= 100, keyframe  # two a row on a phone, four on a desktop


def test_stop_stops_a_summary(page, caplog: pytest.LogCaptureFixture, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Stop, shown while the summary is made, ends it on the page at once (the results shown stay) and on the server
    at its next step. (A two-minute talk: the example summarises in about 3 s on tiny models, over before a click.)"""
    talk = long_talk(tmp_path_factory.mktemp("talk") / "talk.mp4", minutes=2)
    _clear_the_video(page)
    page.locator("#video-input input[type=file]").set_input_files(str(talk))
    page.locator("#video-input video").first.wait_for(state="attached")
    before = page.locator("#video-summary textarea").input_value()
    page.locator("#video-button").click()
    stop_the_run(page, "video", "#video-button", "Summarise", caplog, "summarize")
    assert page.locator("#video-summary textarea").input_value() == before


def test_a_bad_upload_is_one_line_under_the_button(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A damaged file is said once, in the line under the button (no toast, no "Error" badge); the results stay."""
    files = make_odd_videos(tmp_path_factory.mktemp("odd-videos"))
    before = page.locator("#video-summary textarea").input_value()
    _clear_the_video(page)
    page.locator("#video-input input[type=file]").set_input_files(str(files["random_bytes.mp4"]))
    page.locator("#video-button").click()
    page.locator("#video-message").get_by_text("damaged or incomplete", exact=False).wait_for()
    assert page.get_by_test_id("toast-body").filter(has_text="damaged").count() == 0
    assert page.locator("[data-testid=status-tracker] .error >> visible=true").count() == 0
    assert page.locator("#video-summary textarea").input_value() == before
    page.wait_for_function(BUTTON_JS, arg=["#video-button", "Summarise", False])


def test_in_chinese_the_example_run_leaves_no_english_of_the_apps(zh_page) -> None:
    """After the example's run the page is Chinese but for data: what the models saw, read and heard (captions,
    on-screen text, the summary, chapter titles), file names, names of formats and Gradio's own footer words."""
    page = zh_page
    _summarise_example(page)
    page.locator("#video-notes").get_by_text("详细信息", exact=True).click()  # the Details too
    page.get_by_text("转写文本", exact=True).first.click()  # the transcript (folded)
    data = [
        *page.locator("#video-gallery .caption-label").all_inner_texts(),
        page.locator("#video-summary textarea").input_value(),
        page.locator("#video-transcript textarea").input_value(),  # what is said, in the chapters too
        *page.locator("#video-chapters p strong").all_inner_texts(),
        page.locator("#video-files").inner_text(),
        page.locator("#video-input").inner_text(),
        *page.locator("#video-notes code").all_inner_texts(),  # model ids
    ]
    left = english_left(page.locator(".gradio-container").first.inner_text(), data)
    assert left == set(), left
