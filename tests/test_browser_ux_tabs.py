"""Every tab but Image (tests/test_browser_ux_image.py has it) as a first-time visitor on a phone (390×844) meets
it (issue 23, item 4): a tap on the main button shows the button busy and brings the run's progress into view.

Watched through the page only: the button's text and state, where the output that carries the progress is drawn
(``model_event``'s ``progress_on``, its first output by default; ``RUN_JS`` in mmdemo/ui/app.py scrolls it into view
when the run starts), the Stop button.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mmdemo.testing.browser import BUTTON_JS, IN_VIEW_JS, PHONE


@dataclass(frozen=True)
class Tab:
    name: str  # the tab's title
    button: str  # the main button: a tap on it starts the run
    label: str  # its text when idle
    progress: str  # the output the run's progress is drawn on
    controls: str  # run_controls' name: its Stop is #<controls>-stop
    example: str | None  # the tab's first example (clicked to fill the input), None: the button is the example
    filled: str | None  # shows once the example is in the input
    below: bool = True  # its progress's output starts below the fold (False: on the first screen, with the button)


TABS = [
    Tab(
        "Text to image",
        "#t2i-button",
        "Generate",
        "#t2i-gallery",
        "t2i",
        "#t2i-examples .gallery-item, #t2i-examples button",
        "() => document.querySelector('#t2i-prompt textarea')?.value.trim().length > 0",
        below=False,
    ),
    Tab(
        "Emotion",
        "#emotion-button",
        "Analyse",
        "#emotion-overall",
        "emotion",
        "#emotion-examples .gallery-item, #emotion-examples button",
        "() => !!document.querySelector(\"#emotion-audio a[data-testid='download-link'][href*='cate_blanch']\")",
        below=False,
    ),
    Tab(
        "Video",
        "#video-button",
        "Summarise",
        "#video-summary",
        "video",
        "#video-examples .gallery-item, #video-examples button",
        "() => !!document.querySelector('#video-input video')",
    ),
    Tab(
        "Round trip",
        "#trip-button",
        "Run the round trip",
        "#trip-caption",
        "trip",
        "xpath=//*[@id='trip-image']/../../..//*[contains(@class, 'gallery-item')]",  # its Examples have no id
        "() => !!document.querySelector('#trip-image img')",
    ),
    # Evaluate's examples are buttons that run at once (a zip of one's own comes later): its first example is the tap.
    Tab("Evaluate", "#eval-example-text-images", "Signs and notes: reading text", "#eval-summary", "eval", None, None),
]

BUTTON_AT_THE_BOTTOM_JS = """(selector) => { const b = document.querySelector(selector).getBoundingClientRect();
  scrollBy(0, b.bottom - innerHeight + 4); const r = document.querySelector(selector).getBoundingClientRect();
  return r.top >= 0 && r.bottom <= innerHeight; }"""
"""The visitor scrolls so that the button ``selector`` sits at the bottom edge of the screen (as near as the page
allows: one on the first screen stays where it is); whether the button is on the screen."""


@pytest.mark.parametrize("tab", TABS, ids=[t.name for t in TABS])
def test_on_a_phone_a_tap_on_the_main_button_shows_it_busy_and_the_progress(phone, tab: Tab) -> None:
    page = phone
    page.get_by_role("tab", name=tab.name, exact=True).click()
    button = page.locator(tab.button)
    button.wait_for()
    if tab.example is not None:
        page.locator(tab.example).first.click()
        page.wait_for_function(tab.filled)
    page.wait_for_timeout(500)  # the tab's layout settles
    assert page.evaluate(BUTTON_AT_THE_BOTTOM_JS, tab.button), button.bounding_box()
    assert page.evaluate(IN_VIEW_JS, tab.progress) is not tab.below, f"{tab.progress}: below the fold is {tab.below}?"
    button.click()
    page.wait_for_function(BUTTON_JS, arg=[tab.button, "Working…", True])
    try:
        page.wait_for_function(IN_VIEW_JS, arg=tab.progress)  # brought into view when the run started
    except PlaywrightTimeout:
        box = page.locator(tab.progress).bounding_box()
        pytest.fail(f"{tab.progress} stays out of view after the tap: {box}, the viewport {PHONE}")
    assert page.locator(f"#{tab.controls}-stop").is_visible()
    page.wait_for_function(BUTTON_JS, arg=[tab.button, tab.label, False], timeout=240_000)
    assert not page.locator(f"#{tab.controls}-stop").is_visible()
    assert not page.locator(f"#{tab.controls}-message").get_by_role("alert").count()  # the run did not fail
