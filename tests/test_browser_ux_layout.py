"""Layout leftovers of issue 23 (items 1, 10 and 14): after each tab's example run, at desktop (1440×900) and phone
(390×844) size and in a Chinese browser, every result is drawn whole inside its box: the Evaluate plot inside its
gallery, the Evaluate tables inside a phone's width, the Image tab's "Text found" label clear of its icon buttons,
every keyframe and its caption without scrolling the gallery, and the round trip's small generated picture scaled up
to its box.

Each page runs each tab's example once (module-scoped pages); the tests measure what the browser drew.
"""

from __future__ import annotations

from typing import Any

import pytest

from mmdemo.testing.browser import DESKTOP, PHONE, open_page, pictures
from mmdemo.testing.browser import SCREENS as BROWSER_SCREENS

TABS = {
    "image": ("Image", "图像"),
    "video": ("Video", "视频"),
    "trip": ("Round trip", "往返"),
    "eval": ("Evaluate", "评测"),
}
"""Each tab this module uses: its name in English and in Chinese."""

TABLE_JS = """(selector) => {
  const root = document.querySelector(selector);
  const width = document.documentElement.clientWidth;
  root.querySelectorAll('*').forEach((e) => { e.scrollLeft = 0; });
  const cells = [...root.querySelectorAll('th, td')].filter((c) => c.getBoundingClientRect().width > 0);
  const name = (e) => e.innerText.trim().slice(0, 24);
  const table = root.querySelector('table');
  const scroller = table.closest('.table-wrap') || table.parentElement;
  return {
    cells: cells.length,
    width,
    out: cells.filter((c) => c.getBoundingClientRect().right > width + 0.5)
      .map((c) => [name(c), Math.round(c.getBoundingClientRect().right)]),
    table: [scroller.scrollWidth, scroller.clientWidth],
    scrolls: [...root.querySelectorAll('*')].filter((e) => e.scrollWidth > e.clientWidth + 1
      && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map((e) => e.className.toString().slice(0, 40)),
  };
}"""
"""Where the table ``selector`` is drawn: its cells whose right edge is past the viewport's, its scroll box's
scroll and client widths, and any element in it that scrolls sideways."""

LABEL_JS = """(selector) => {
  const block = document.querySelector(selector);
  const label = block.querySelector('[data-testid=block-label]');
  const r = label.getBoundingClientRect();
  const rect = (b) => ({x: b.x, y: b.y, right: b.right, bottom: b.bottom});
  const apart = (a, b) => a.right <= b.x + 0.5 || a.x >= b.right - 0.5 || a.bottom <= b.y + 0.5
    || a.y >= b.bottom - 0.5;
  // its icon buttons (the picture itself is drawn in a button too: not one of them)
  const buttons = [...block.querySelectorAll('button')].filter((b) => !b.querySelector('img'))
    .map((b) => b.getBoundingClientRect()).filter((b) => b.width > 0 && b.height > 0);
  // the label's text: drawn whole (no ellipsis, nothing cut) when its content fits its box
  const inner = [label, ...label.querySelectorAll('*')];
  return {
    text: label.innerText,
    label: rect(r),
    whole: inner.every((e) => e.scrollWidth <= e.clientWidth + 1),
    in_view: r.x >= -0.5 && r.right <= document.documentElement.clientWidth + 0.5,
    buttons: buttons.length,
    apart: buttons.every((b) => apart(r, b)),
    overlapping: buttons.filter((b) => !apart(r, b)).map(rect),
  };
}"""
"""The label of the media block ``selector``: its text, whether it is drawn whole inside the viewport, and whether its
box is apart from every icon button of the block."""

CAPTIONS_JS = """(selector) => {
  const gallery = document.querySelector(selector);
  const wrap = gallery.querySelector('.grid-wrap') || gallery;
  wrap.scrollTop = 0;
  const s = wrap.getBoundingClientRect();
  return {
    scroll: [wrap.scrollHeight, wrap.clientHeight],
    outside: [...gallery.querySelectorAll('.caption-label')].map((c) => c.getBoundingClientRect())
      .filter((c) => c.y < s.y - 0.5 || c.bottom > s.bottom + 0.5).map((c) => [Math.round(c.y), Math.round(c.bottom)]),
    shown: [Math.round(s.y), Math.round(s.bottom)],
  };
}"""
"""Whether the gallery ``selector`` has anything to scroll to, and its captions not inside its visible box."""

GENERATED_JS = """(selector) => {
  const img = document.querySelector(selector + ' img');
  const box = img.getBoundingClientRect();
  const fit = getComputedStyle(img).objectFit;
  const scale = ['contain', 'scale-down'].includes(fit) && fit !== 'fill'
    ? Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight, fit === 'scale-down' ? 1 : Infinity)
    : 1;
  const drawn = fit === 'fill' ? [box.width, box.height] : [img.naturalWidth * scale, img.naturalHeight * scale];
  const frame = (img.closest('.image-frame') || img.parentElement).parentElement.getBoundingClientRect();
  return {natural: [img.naturalWidth, img.naturalHeight], img: [box.width, box.height], fit,
          drawn: drawn.map(Math.round), box: [Math.round(frame.width), Math.round(frame.height)]};
}"""
"""The picture of the image output ``selector``: its natural size, the size the browser draws it at, and the size
of the box it is drawn in."""


def _tab(page: Any, tab: str) -> None:
    page.get_by_role("tab", name=TABS[tab][page.mmdemo_chinese], exact=True).click()


def _ran(page: Any, tab: str) -> Any:
    """``page`` on ``tab``, after that tab's example run (run once per page)."""
    _tab(page, tab)
    if tab in page.mmdemo_ran:
        page.wait_for_timeout(300)  # the layout settles when a tab is shown again
        return page
    if tab == "eval":
        page.locator("#eval-options .label-wrap").first.click()
        page.locator("#eval-limit input").fill("4")  # four of the set's images: the run stays short
        page.locator("#eval-limit input").press("Tab")  # committed before the example's click
        page.locator("#eval-example-text-images").click()
        page.locator("#eval-plots .grid-container img").first.wait_for(timeout=180_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#eval-items td')].some((c) => c.getBoundingClientRect().width > 0)"
        )
    elif tab == "image":
        page.locator("#caption-task label").nth(3).click()  # Read text
        page.locator("#caption-examples .gallery-item").first.click()  # the photo with text
        page.locator("#caption-image img").first.wait_for()
        page.locator("#read-button").click()
        page.locator("#ocr-image img").first.wait_for(timeout=180_000)
    elif tab == "video":
        page.locator("#video-examples .gallery-item, #video-examples button").first.click()
        page.locator("#video-input video").first.wait_for(state="attached")
        page.locator("#video-button").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#video-gallery .grid-container img').length > 1", timeout=180_000
        )
    elif tab == "trip":
        page.locator("#trip-image").locator("xpath=../../..").locator(".gallery-item:visible").first.click()
        page.locator("#trip-image img").first.wait_for()
        page.locator("#trip-button").click()
        page.locator("#trip-generated img").first.wait_for(timeout=180_000)
    page.wait_for_timeout(500)
    page.mmdemo_ran.add(tab)
    return page


def _pages(request: pytest.FixtureRequest, screen: str) -> Any:
    page = request.getfixturevalue(screen)
    page.bring_to_front()
    return page


SCREENS = list(BROWSER_SCREENS)
"""Desktop, phone, and a phone in a Chinese browser (tests/conftest.py's page fixtures)."""


# --- item 1 (Evaluate): the plot drawn whole inside its gallery ----------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_the_evaluate_plot_is_drawn_whole_in_its_box(request: pytest.FixtureRequest, screen: str) -> None:
    """At desktop and phone size; the Chinese page at desktop size (where the plot was cut: a wide column)."""
    page = _ran(_pages(request, screen), "eval")
    if screen == "zh_page":
        page.set_viewport_size(DESKTOP)
        page.wait_for_timeout(500)  # the layout settles at the new size
    try:
        shown = pictures(page, "#eval-plots")
    finally:
        page.set_viewport_size(page.mmdemo_size)
    assert shown
    for plot in shown:
        assert plot["whole"] and plot["in_cell"] and plot["in_view"], plot
        assert plot["drawn"][2] >= 0.5 * plot["shown"][2] or plot["drawn"][3] >= 0.5 * plot["shown"][3], plot


# --- item 10 (Evaluate on a phone): every column of the tables on screen --------------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("table", ["#eval-metrics", "#eval-items"])
def test_the_evaluate_tables_fit_the_screen(request: pytest.FixtureRequest, screen: str, table: str) -> None:
    page = _ran(_pages(request, screen), "eval")
    drawn = page.evaluate(TABLE_JS, table)
    assert drawn["cells"] >= 4, drawn
    assert drawn["out"] == [], drawn
    assert drawn["table"][0] <= drawn["table"][1] + 1, drawn
    assert drawn["scrolls"] == [], drawn


# --- item 14 (Image tab): the output picture's label clear of its icon buttons --------------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_the_text_found_label_is_whole_and_clear_of_the_icons(request: pytest.FixtureRequest, screen: str) -> None:
    page = _ran(_pages(request, screen), "image")
    label = page.evaluate(LABEL_JS, "#ocr-image")
    assert label["text"].strip(), label
    assert label["buttons"] >= 1, label
    assert label["whole"] and label["in_view"] and label["apart"], label


# --- item 14 (Video): every keyframe and its caption without scrolling the gallery ---------------------------------


@pytest.mark.parametrize("screen", SCREENS)
def test_every_keyframe_and_caption_shows_without_scrolling(request: pytest.FixtureRequest, screen: str) -> None:
    page = _ran(_pages(request, screen), "video")
    shown = pictures(page, "#video-gallery")
    assert len(shown) > 1
    for keyframe in shown:
        assert keyframe["whole"] and keyframe["in_cell"] and keyframe["in_view"], keyframe
        assert keyframe["caption_apart"] and keyframe["label_apart"], keyframe
    captions = page.evaluate(CAPTIONS_JS, "#video-gallery")
    assert captions["outside"] == [] and captions["scroll"][0] <= captions["scroll"][1] + 1, captions


# --- item 1 (Round trip): a small generated picture scaled up to its box -------------------------------------------


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_a_small_generated_picture_fills_its_box(request: pytest.FixtureRequest, screen: str) -> None:
    page = _ran(_pages(request, screen), "trip")
    page.locator("#trip-generated").scroll_into_view_if_needed()
    drawn = page.evaluate(GENERATED_JS, "#trip-generated")
    assert max(drawn["natural"]) <= 128, drawn  # the tiny model's picture: smaller than its box
    assert min(drawn["drawn"]) >= 0.8 * min(drawn["box"]), drawn
    assert drawn["drawn"][0] <= drawn["box"][0] + 1 and drawn["drawn"][1] <= drawn["box"][1] + 1, drawn


# --- Text to image on a phone: Generate is a button under the prompt, not a tall block beside it ------------------


def test_on_a_phone_generate_is_a_full_width_button_under_the_prompt(browser, app_url: str) -> None:
    page = open_page(browser, app_url, PHONE)
    try:
        page.get_by_role("tab", name="Text to image", exact=True).click()
        button, prompt = page.locator("#t2i-button"), page.locator("#t2i-prompt")
        button.wait_for()
        b, p = button.bounding_box(), prompt.bounding_box()
        assert b["y"] >= p["y"] + p["height"] - 1, (b, p)  # under the prompt
        assert b["width"] >= 0.8 * PHONE["width"] and b["height"] <= 60, b
    finally:
        page.close()
