"""The first screen tells the truth, results come first on phones, and the page is readable and usable
from the keyboard: headless Chromium on the shared app (tiny models) and on a fresh install with no
Hub models. Screenshots go to ``$MMDEMO_SCREENSHOTS`` (default ``test-artifacts/screenshots``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gradio.media import get_audio

from mmdemo.testing.browser import CONTRAST_JS, DESKTOP, PHONE, open_page

ROOT = Path(__file__).resolve().parents[1]


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("MMDEMO_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def bare(browser, offline_url: str):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(offline_url)
    page.locator(".gradio-container").first.wait_for()
    yield page
    page.close()


def test_labels_placeholders_and_footer_are_readable(page) -> None:
    """WCAG AA (4.5:1) for text the Soft theme draws lighter: block labels, info lines, placeholders, the
    selected tab and choice, the primary button and the footer (3.6:1, 2.5:1 and 2.4:1 before)."""
    page.locator("#caption-task").get_by_text("Ask a question", exact=True).click()
    page.locator("#vqa-question").wait_for()
    page.mouse.move(0, 0)  # measured at rest, not under the pointer (hover colours differ)
    page.wait_for_timeout(300)
    selectors = (
        "#caption-task [data-testid=block-info]",
        "#vqa-question .info-text",
        "#vqa-question input::placeholder",
        "#caption-task label.selected",
        "button[role=tab].selected",
        "#ask-button",
        "footer a",
    )
    ratios = {selector: page.evaluate(CONTRAST_JS, selector) for selector in selectors}
    assert all(r is not None and r >= 4.5 for r in ratios.values()), ratios
    page.locator("#caption-task").get_by_text("Caption", exact=True).click()


def _unreadable(page, selectors: tuple[str, ...]) -> dict[str, float | None]:
    """The contrast of each of ``selectors`` measured at rest (not under the pointer) that is under 4.5:1 or missing."""
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    ratios = {selector: page.evaluate(CONTRAST_JS, selector) for selector in selectors}
    return {selector: r for selector, r in ratios.items() if r is None or r < 4.5}


def test_in_the_dark_theme_labels_hints_and_lines_are_readable(
    browser, app_url: str, offline_url: str, odd_images: dict[str, Path]
) -> None:
    """The same texts as in the light theme (above, and tests/test_browser_ux_image.py) at 4.5:1 or more in Gradio's
    dark theme, on the Image and Emotion tabs: block and media labels, the upload zone's "- or -" and hint, info
    lines, placeholders, the selected tab and choice, the footer, the error line; and a fresh install's notice."""
    page = open_page(browser, f"{app_url}/?__theme=dark", DESKTOP)
    try:
        assert page.evaluate("() => !!document.querySelector('.dark .gradio-container')")
        page.locator("#caption-image .or").wait_for()  # the photo input empty: its upload zone shows
        page.locator("#caption-task").get_by_text("Ask a question", exact=True).click()
        page.locator("#vqa-question").wait_for()
        unreadable = _unreadable(
            page,
            (
                "#caption-task [data-testid=block-info]",
                '#caption-image [data-testid="block-label"]',
                "#caption-image .or",
                "#caption-image .wrap",
                "#vqa-question .info-text",
                "#vqa-question input::placeholder",
                "#caption-task label.selected",
                "button[role=tab].selected",
                "footer a",
            ),
        )
        page.locator("#caption-task").get_by_text("Caption", exact=True).click()
        page.locator("#caption-image input[type=file]").set_input_files(str(odd_images["truncated.jpg"]))
        page.locator("#caption-button").click()  # a damaged photo: the error line
        page.locator("#caption-message .mmdemo-message").wait_for()
        unreadable |= _unreadable(page, ("#caption-message .mmdemo-message",))
        page.get_by_role("tab", name="Emotion", exact=True).click()
        page.locator("#emotion-audio .or").wait_for()
        unreadable |= _unreadable(
            page,
            (
                '#emotion-audio [data-testid="block-label"]',
                "#emotion-audio .or",
                "#emotion-audio .wrap",
                "#emotion-transcript [data-testid=block-info]",
                "button[role=tab].selected",
            ),
        )
    finally:
        page.close()
    page = open_page(browser, f"{offline_url}/?__theme=dark", DESKTOP)
    try:
        notice = page.locator("#caption-availability")
        notice.locator("summary").first.click()  # unfolded: what is missing, and the operator's fix
        notice.locator("li").first.wait_for()
        unreadable |= _unreadable(page, ("#caption-availability summary", "#caption-availability li"))
    finally:
        page.close()
    assert not unreadable, unreadable


def test_the_image_tab_works_from_the_keyboard(page) -> None:
    page.locator(".gallery-item").first.click()  # an example photo (text to read)
    page.locator("#caption-image img").first.wait_for()
    page.locator("#caption-task input[value='read']").focus()
    page.keyboard.press("Space")  # choose Read text
    page.locator("#read-button").wait_for()
    for _ in range(12):  # Tab to the Run button, then Enter
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id === 'read-button'"):
            break
    else:
        raise AssertionError("the Run button cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => (document.querySelector('#caption-output textarea') || {}).value?.includes('THANKS FOR WATCHING')"
    )


ANNOUNCED_JS = """() => { window.__announced = []; const seen = window.__announced;
  const watch = () => document.querySelectorAll('[aria-live]').forEach((region) => {
    new MutationObserver(() => { if (region.innerText.trim()) seen.push(region.innerText.trim()); })
      .observe(region, { childList: true, subtree: true, characterData: true }); });
  watch(); }"""
"""Record what the page's live regions announce to a screen reader (``window.__announced``)."""


@pytest.mark.parametrize(("chinese", "finished"), [(False, "Complete"), (True, "完成")], ids=["en", "zh-CN"])
def test_a_finished_run_is_announced_in_words(browser, app_url: str, chinese: bool, finished: str) -> None:
    """Gradio's status tracker tells a screen reader that a run finished with ``i18n("common.complete")``, a key
    its dictionaries lack: "common.complete" was read out (and shown as page text) in every language
    (``GRADIO_GAPS`` in mmdemo/ui/i18n.py)."""
    page = open_page(browser, app_url, chinese=chinese)
    try:
        page.get_by_role("tab", name="往返" if chinese else "Round trip", exact=True).click()
        page.locator("#trip-image").locator("xpath=../../..").locator(".gallery-item:visible").first.click()
        page.locator("#trip-image img").first.wait_for()
        page.evaluate(ANNOUNCED_JS)
        page.locator("#trip-button").click()
        page.wait_for_function("(word) => window.__announced.includes(word)", arg=finished, timeout=120_000)
        announced = page.evaluate("() => window.__announced")
        assert not [text for text in announced if text.startswith(("common.", "status."))], announced
    finally:
        page.close()


def test_generated_images_have_alt_text(page) -> None:
    page.get_by_role("tab", name="Text to image").click()
    page.locator("#t2i-prompt textarea").fill("a red bus")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#t2i-gallery img").first.wait_for()
    alt = page.locator("#t2i-gallery img").first.get_attribute("alt") or ""
    assert alt.startswith(("seed ", "Preview after step ")), alt  # previews stream first (30 steps here)
    page.wait_for_function("() => document.querySelector('#t2i-gallery img')?.alt.startsWith('seed ')")
    page.get_by_role("tab", name="Image", exact=True).click()


def test_on_a_phone_the_tabs_fit_and_the_headline_result_is_under_the_button(phone) -> None:
    phone.get_by_role("tab", name="Video", exact=True).wait_for()
    for name in ("Image", "Text to image", "Emotion", "Video"):
        assert phone.get_by_role("tab", name=name, exact=True).is_visible(), name
    phone.get_by_role("tab", name="Emotion").click()
    phone.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
    phone.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
    phone.get_by_role("button", name="Analyse", exact=True).click()
    phone.locator("#emotion-overall").get_by_text("neutral").first.wait_for(timeout=120_000)
    top = {
        elem: phone.locator(f"#{elem}").bounding_box()["y"]
        for elem in ("emotion-button", "emotion-overall", "emotion-notes", "emotion-timeline")
    }
    assert top["emotion-button"] < top["emotion-overall"] < top["emotion-notes"] < top["emotion-timeline"], top
    assert top["emotion-overall"] - top["emotion-button"] < PHONE["height"] / 2  # right under it
    phone.screenshot(path=str(screenshot_dir() / "phone-emotion.png"), full_page=True)
    phone.get_by_role("tab", name="Video").click()
    phone.locator("#video-summary").wait_for()
    phone.locator("#video-gallery").wait_for()
    phone.wait_for_timeout(500)  # the tab's layout settles
    top = {
        elem: phone.locator(f"#{elem}").bounding_box()["y"]
        for elem in ("video-button", "video-summary", "video-gallery")
    }
    assert top["video-button"] < top["video-summary"] < top["video-gallery"], top
    phone.get_by_role("tab", name="Image", exact=True).click()
    phone.screenshot(path=str(screenshot_dir() / "phone-image.png"), full_page=True)


def test_a_fresh_install_says_what_works_before_anyone_clicks(bare) -> None:
    notice = bare.locator("#caption-availability")
    notice.wait_for()
    summary = notice.locator("summary").first  # one line; the models and the operator's fix folded under it
    assert summary.inner_text() == "Not available on this server: Caption, Detailed caption, Ask a question."
    summary.click()
    assert "Caption is not available on this server" in notice.inner_text()
    assert "For the operator" in notice.inner_text() and "prefetch" not in notice.locator("ul").first.inner_text()
    # Text reading ships with the app: the tab opens on it, ready to run.
    assert bare.locator("#caption-task input:checked").get_attribute("value") == "read"
    assert not bare.locator("#read-button").is_disabled()
    bare.locator("#caption-task").get_by_text("Caption (not on this server)", exact=True).click()
    assert bare.locator("#caption-button").is_disabled()
    bare.locator("#caption-task").get_by_text("Read text", exact=True).click()
    bare.screenshot(path=str(screenshot_dir() / "no-models-image.png"), full_page=True)
    bare.get_by_role("tab", name="Text to image").click()
    bare.locator("#generate-availability").wait_for()
    assert (
        bare.locator("#generate-availability summary").first.inner_text() == "Not available on this server: Generate."
    )
    assert bare.get_by_role("button", name="Generate", exact=True).is_disabled()
    bare.screenshot(path=str(screenshot_dir() / "no-models-text-to-image.png"), full_page=True)


def test_missing_models_mark_no_output_as_failed(bare) -> None:
    """Without the emotion models the tab still transcribes and measures the voice: the outputs that did
    not fail show their results, none shows an error badge, and the notes name what is missing."""
    bare.get_by_role("tab", name="Emotion").click()
    bare.locator("#emotion-availability summary").first.click()  # what each missing model takes away, unfolded
    assert "no emotion from the voice" in bare.locator("#emotion-availability").inner_text()
    bare.locator("#emotion-audio input[type=file]").set_input_files(get_audio("cate_blanch.mp3"))
    bare.locator("#emotion-audio a[data-testid='download-link']").wait_for(state="attached")
    bare.get_by_role("button", name="Analyse", exact=True).click()
    bare.wait_for_function(
        "() => (document.querySelector('#emotion-transcript textarea') || {}).value?.toLowerCase().includes('dagger')",
        timeout=120_000,
    )
    bare.locator("#emotion-notes").get_by_text("No emotion estimate").first.wait_for()
    assert bare.locator(".error").count() == 0
    bare.screenshot(path=str(screenshot_dir() / "no-models-emotion.png"), full_page=True)
