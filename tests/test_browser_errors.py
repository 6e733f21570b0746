"""What the page says when something goes wrong (issue 23, items 9 and 15), in English and in Chinese: a file of the
wrong type dropped on a media input, refusals that would pile up as toasts, and an error nobody expected (a bug):
one plain sentence, in place, and the results already on the page kept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import mmdemo.ui.captioning
from mmdemo.messages import Message, Page
from mmdemo.testing.browser import BUTTON_JS, DESKTOP, open_page

VISIBLE_ERROR_BADGES_JS = """() => [...document.querySelectorAll('[data-testid="status-tracker"] .error')]
  .filter((e) => e.getBoundingClientRect().width > 0).length"""
"""How many of Gradio's red "Error" badges show on the outputs."""
RUN = {locale: Page("Run").text(locale) for locale in ("en", "zh-CN")}
"""The Image tab's Run button, as each page reads it."""
DONE_JS = """(run) => { const b = document.querySelector('#caption-button');
  return !b.disabled && b.innerText === run && document.querySelector('#caption-output textarea').value.trim(); }"""
"""Whether a caption is there and the Run button (``run``: its label) is ready again."""
TOAST_EXPIRY_S = 10
"""How long Gradio 6.31 shows an error toast before it closes it by itself."""


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("error-photos") / "photo.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)
    return path


# --- item 15: a file of the wrong type, said plainly ----------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_photo_given_as_a_recording_is_refused_in_plain_words(
    browser, app_url: str, photo: Path, locale: str
) -> None:
    """Gradio refuses the file in its page ("Invalid file type: photo.png. Only audio/aac,audio/midi,… allowed.",
    English only); the page says instead what the server would: not a recording, and which files are."""
    chinese = locale == "zh-CN"
    page = open_page(browser, app_url, DESKTOP, chinese=chinese)
    try:
        page.get_by_role("tab", name="情绪" if chinese else "Emotion", exact=True).click()
        page.locator("#emotion-audio input[type=file]").set_input_files(str(photo))
        toast = page.get_by_test_id("toast-body")
        toast.first.wait_for()
        said = toast.first.inner_text()
        expected = Message("audio.not_audio", formats=Message("audio.formats")).text(locale)
        assert expected in said and "audio/" not in said and "Invalid file type" not in said, said
        assert page.locator("#emotion-audio a[data-testid='download-link']").count() == 0  # not taken
    finally:
        page.close()


# --- item 15: the toasts of earlier refusals do not stay once a run starts ----------------------------------------


def test_old_toasts_close_when_a_run_starts(browser, app_url: str, photo: Path) -> None:
    """Run twice without a photo (two refusals, two toasts), then with one: once the run has started, no toast of
    the earlier refusals is left on the page (well before Gradio would close them by itself)."""
    page = open_page(browser, app_url, DESKTOP)
    try:
        page.locator("#caption-button").wait_for()
        texts = page.get_by_test_id("toast-text")
        count_is = "(n) => document.querySelectorAll('[data-testid=toast-text]').length === n"
        page.locator("#caption-button").click()
        page.wait_for_function(count_is, arg=1)
        refused = time.monotonic()
        page.locator("#caption-button").click()
        page.wait_for_function(count_is, arg=2)
        assert texts.count() == 2, texts.all_inner_texts()
        page.locator("#caption-image input[type=file]").set_input_files(str(photo))
        page.locator("#caption-image img").first.wait_for()
        page.locator("#caption-button").click()
        page.wait_for_function("() => !document.querySelector('[data-testid=toast-body]')", timeout=3_000)
        assert time.monotonic() - refused < TOAST_EXPIRY_S  # closed by the run's start, not by their own timer
        page.wait_for_function(DONE_JS, arg=RUN["en"], timeout=180_000)  # it was the run that started
    finally:
        page.close()


# --- item 9: an unexpected error is one line; the outputs keep what they showed -------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_an_unexpected_error_is_one_line_and_the_result_stays(
    browser, app_url: str, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """A bug in the captioning (not a problem with the input): the line under Run says that something unexpected
    went wrong, in the visitor's language; no red "Error" badge on any output, no toast; the caption of the run
    before stays."""
    page = open_page(browser, app_url, DESKTOP, chinese=locale == "zh-CN")
    try:
        page.locator("#caption-examples .gallery-item").first.click()
        page.locator("#caption-image img").first.wait_for()
        page.locator("#caption-button").click()
        page.wait_for_function(DONE_JS, arg=RUN[locale], timeout=180_000)
        before = page.locator("#caption-output textarea").input_value()
        assert before.strip()

        def broken(*_: object, **__: object) -> None:
            raise RuntimeError("a bug in the captioning")

        monkeypatch.setattr(mmdemo.ui.captioning, "caption_image", broken)  # the app runs in this process
        page.locator("#caption-button").click()
        unexpected = Message("request.unexpected").text(locale)
        page.locator("#caption-message").get_by_text(unexpected, exact=True).wait_for(timeout=180_000)
        page.wait_for_function(BUTTON_JS, arg=["#caption-button", RUN[locale], False])
        assert page.evaluate(VISIBLE_ERROR_BADGES_JS) == 0  # no red "Error" badge on any output
        assert page.get_by_test_id("toast-body").count() == 0  # said once, in its line
        assert page.locator("#caption-output textarea").input_value() == before
        assert page.locator("#caption-message").inner_text().strip() == unexpected
    finally:
        page.close()
