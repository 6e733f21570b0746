"""A real browser (Debian's headless Chromium via Playwright) uses the image tab like a person would.

The ``page`` fixture (conftest) is one browser tab on the shared app; each tab's tests open their own tab.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def _captioning_tab_ready(page) -> None:
    page.locator("#caption-button").wait_for()


def _pick(page, task: str) -> None:
    page.locator("#caption-task").get_by_text(task, exact=True).click()
    page.locator(f"#{TASK_BUTTON[task]}").wait_for()


TASK_BUTTON = {"Caption": "caption-button", "Ask a question": "ask-button", "Read text": "read-button"}


def _textbox_value(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first.input_value()


def test_caption_an_example_and_ask(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Click the first example photo: it fills the image input.
    page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button").first.click()
    page.locator("#caption-image img").first.wait_for()
    assert page.get_by_role("button", name="Run", exact=True).count() == 1  # one Run button for the task
    page.evaluate(  # every text the result box shows while the caption streams in
        "() => { window.seen = []; window.watch = setInterval(() => {"
        " const v = document.querySelector('#caption-output textarea')?.value;"
        " if (v && v !== window.seen.at(-1)) window.seen.push(v); }, 2); }"
    )
    page.locator("#caption-button").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#caption-output textarea'); return t && t.value.trim().length > 0; }"
    )
    page.wait_for_function("() => document.querySelector('#caption-output .wrap')?.classList.contains('hide')")
    # The run is over when its button is Run again (between streamed updates the tracker may already be hidden).
    page.wait_for_function(
        "() => { const b = document.querySelector('#caption-button'); return !b.disabled && b.innerText === 'Run'; }"
    )
    caption = _textbox_value(page, "caption-output")
    seen = page.evaluate("() => { clearInterval(window.watch); return window.seen; }")
    assert caption.strip() and len(seen) >= 2 and seen[-1] == caption  # it grew on the page, then settled
    assert not page.locator("#vqa-question").is_visible()

    _pick(page, "Ask a question")
    assert page.get_by_role("button", name="Run", exact=True).count() == 1
    page.locator("#vqa-question textarea, #vqa-question input").first.fill("What animal is this?")
    page.locator("#ask-button").click()
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('#caption-output textarea');"
        f" return t && t.value.trim().length > 0 && t.value !== {caption!r}; }}"
    )
    shot = tmp_path_factory.mktemp("screens") / "caption.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_status_panel_shows_loaded_models(page) -> None:
    page.get_by_text("Models: what is loaded, where, how big").click()
    page.get_by_role("button", name="Refresh", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#model-status');"
        " return t && t.innerText.includes('Image captioning') && t.innerText.includes('ready'); }"
    )
    headers = page.locator("#model-status th").all_inner_texts()
    assert all("\n" not in h.strip() for h in headers)  # no header broken mid-word


def test_bad_upload_is_said_in_one_line_under_the_button(page, odd_images: dict[str, Path]) -> None:
    _pick(page, "Caption")
    page.locator("#caption-image input[type=file]").set_input_files(str(odd_images["truncated.jpg"]))
    page.locator("#caption-button").click()
    page.locator("#caption-message").get_by_text("damaged or incomplete", exact=False).wait_for()
    assert page.locator("#caption-output .error >> visible=true").count() == 0  # no "Error" badge on the result


def test_read_text_shows_words(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    from mmdemo.testing.text_images import render_text

    path = tmp_path_factory.mktemp("ocr") / "sign.png"
    render_text(["Quarterly Sales Report"], path)
    page.locator("#caption-image input[type=file]").set_input_files(str(path))
    page.locator("#caption-image img").first.wait_for()
    _pick(page, "Read text")
    page.locator("#read-button").click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#caption-output textarea');"
        " return t && t.value.toLowerCase().includes('quarterly'); }"
    )
    page.locator("#ocr-image img").first.wait_for()  # the boxes drawn on the photo, beside it


def test_an_empty_question_is_a_toast_and_the_result_stays(page) -> None:
    before = _textbox_value(page, "caption-output")
    assert "quarterly" in before.lower()
    _pick(page, "Ask a question")
    page.locator("#vqa-question input, #vqa-question textarea").first.fill("")
    page.locator("#ask-button").click()
    page.get_by_text("Type a question about the image first", exact=False).first.wait_for()
    assert _textbox_value(page, "caption-output") == before
    assert page.locator("#caption-output .error").count() == 0
