"""What browser tests (Playwright) measure on the page: whether each picture of a gallery is drawn whole, inside
the part of the gallery that shows, with nothing over it; which English words a translated page still shows; and what
Stop does to a run."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENS = {"desktop": (DESKTOP, False), "phone": (PHONE, False), "zh_page": (PHONE, True)}
"""The screens the UX tests look at (tests/conftest.py's page fixtures of those names): size, whether Chinese."""
CONTRAST_JS = """(selector) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (rgb) => { const [r, g, b] = rgb.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = (el) => { for (; el; el = el.parentElement) {
    const c = parse(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c; } return [255, 255, 255]; };
  const el = document.querySelector(selector.split('::')[0]);
  if (!el) return null;
  const fg = parse(getComputedStyle(el, selector.includes('::') ? '::placeholder' : null).color);
  const [a, b] = [lum(fg), lum(background(el))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""
"""The contrast ratio (WCAG) of an element's text on the first opaque background behind it (``sel::placeholder``:
its placeholder's)."""

PICTURES_JS = """(selector) => {
  const gallery = document.querySelector(selector);
  const wrap = gallery.querySelector('.grid-wrap') || gallery;
  wrap.scrollTop = 0;  // what shows before anyone scrolls the gallery
  const shown = wrap.getBoundingClientRect();
  const label = gallery.querySelector('[data-testid=block-label]');
  const apart = (a, b) => !a || !b || a.right <= b.x + 0.5 || a.x >= b.x + b.w - 0.5 || a.bottom <= b.y + 0.5
    || a.y >= b.y + b.h - 0.5;
  return [...gallery.querySelectorAll('.grid-container img')].map((img) => {
    const box = img.getBoundingClientRect();
    const fit = getComputedStyle(img).objectFit;
    // what object-fit draws of the picture inside the img box (contain: scaled down whole, centred)
    const scale = fit === 'contain' ? Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight)
      : Math.max(box.width / img.naturalWidth, box.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const drawn = {x: box.x + (box.width - w) / 2, y: box.y + (box.height - h) / 2, w, h};
    const cell = img.closest('.thumbnail-item') || img.parentElement;
    const c = cell.getBoundingClientRect();
    const caption = cell.querySelector('.caption-label');
    const within = (r) => drawn.x >= r.x - 0.5 && drawn.y >= r.y - 0.5 && drawn.x + w <= r.right + 0.5
      && drawn.y + h <= r.bottom + 0.5;
    return {
      natural: [img.naturalWidth, img.naturalHeight],
      drawn: [drawn.x, drawn.y, w, h].map(Math.round),
      shown: [shown.x, shown.y, shown.width, shown.height].map(Math.round),
      whole: fit === 'contain' || (Math.abs(w - box.width) < 1 && Math.abs(h - box.height) < 1),
      in_cell: within(c),
      in_view: within(shown),
      caption_apart: apart(caption && caption.getBoundingClientRect(), drawn),
      label_apart: apart(label && label.getBoundingClientRect(), drawn),
      caption: caption ? caption.innerText : '',
    };
  });
}"""
"""Per picture of the gallery ``selector``: its drawn rectangle, and whether it is drawn whole (not cropped by
object-fit), inside its cell and inside the gallery's visible box, apart from its caption and the gallery's label."""


def pictures(page: Any, selector: str) -> list[dict[str, Any]]:
    """:data:`PICTURES_JS` on ``page`` for the gallery ``selector`` (once every picture has loaded: each scrolled to,
    as a person would, since Gradio's gallery loads its pictures lazily)."""
    for img in page.locator(f"{selector} .grid-container img").all():
        img.scroll_into_view_if_needed()
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s + ' .grid-container img')].every(i => i.complete && i.naturalWidth)",
        arg=selector,
    )
    return page.evaluate(PICTURES_JS, selector)


WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
NOT_THE_APPS = frozenset({"mmdemo", "AI", "API", "Gradio", "Runs", "KB", "MB", "CLIP", "Markdown", "JSON", "SRT"})
"""English on a Chinese page that is not the app's own words: the app's name, Gradio's footer (its "Runs" has no
Chinese in Gradio 6.31) and file sizes, and names (CLIP, file formats)."""


def words(text: str) -> set[str]:
    return set(WORD.findall(text))


def english_left(page_text: str, data: Iterable[str] = ()) -> set[str]:
    """The English words of ``page_text`` that are not in ``data`` (model output, file names, example prompts: shown
    as they are) nor in :data:`NOT_THE_APPS`: the app's own words left untranslated."""
    allowed = {w.lower() for w in set(NOT_THE_APPS).union(*(words(t) for t in data))}
    return {w for w in words(page_text) if w.lower() not in allowed}  # (a tokenizer may give model output lowered)


def open_page(browser: Any, url: str, size: dict[str, int] | None = None, *, chinese: bool = False,
              timeout_ms: int = 60_000) -> Any:  # fmt: skip
    """A new page of the app at ``url`` (``size``: its viewport), in a Chinese browser when ``chinese``: the
    browser's language and its ``Accept-Language`` set through DevTools, as a zh-CN visitor's are."""
    page = browser.new_page()
    page.set_default_timeout(timeout_ms)
    if size is not None:
        page.set_viewport_size(size)
    if chinese:
        devtools = browser.new_cdp_session(page)
        agent = page.evaluate("navigator.userAgent")
        devtools.send("Network.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": "zh-CN,zh"})
        devtools.send("Emulation.setLocaleOverride", {"locale": "zh-CN"})
    page.goto(url)
    page.locator(".gradio-container").first.wait_for()
    return page


def screen_page(browser: Any, url: str, screen: str, *, ready: bool = True, timeout_ms: int = 180_000) -> Any:
    """A new page of the app at ``url`` as ``screen`` (:data:`SCREENS`) opens it; with ``ready``, once its first
    tab's button is drawn. It notes for the tests what they read back: ``mmdemo_size``, ``mmdemo_chinese`` and
    ``mmdemo_ran`` (the example runs made in it: a module's tests share its pages)."""
    size, chinese = SCREENS[screen]
    page = open_page(browser, url, size, chinese=chinese, timeout_ms=timeout_ms)
    if ready:
        page.locator("#caption-button").wait_for()
    page.mmdemo_size, page.mmdemo_chinese, page.mmdemo_ran = size, chinese, set()
    return page


PROGRESS_SHOWN_JS = """() => [...document.querySelectorAll('[data-testid="status-tracker"]')].filter((t) => {
  const r = t.getBoundingClientRect(); return !t.classList.contains('hide') && r.width > 0 && r.height > 0
    && /\\d%/.test(t.innerText); }).map((t) => t.closest('[id]')?.id)"""
"""The ids of the elements over which a run's progress (a percentage) is drawn where it can be seen."""
BUTTON_JS = """([selector, label, busy]) => { const b = document.querySelector(selector);
  return b && b.disabled === busy && b.innerText === label; }"""
"""Whether the button ``selector`` reads ``label`` and is disabled (``busy``) or not."""
IN_VIEW_JS = """(selector) => { const el = document.querySelector(selector); if (!el) return false;
  const r = el.getBoundingClientRect(); return r.height > 0 && r.bottom > 0 && r.top < innerHeight; }"""
"""Whether some of the element ``selector`` is inside the viewport (drawn, neither above nor below it)."""


STOP_WHEN_RUNNING_JS = f"""(id) => {{
  const shown = ({PROGRESS_SHOWN_JS})();
  if (!shown.length) return null;  // not yet running (queued, or loading its model)
  const stop = document.getElementById(id);
  stop.scrollIntoView({{block: 'center'}});
  const r = stop.getBoundingClientRect();
  const hit = stop.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
  if (hit) stop.click();
  return {{shown, hit}};
}}"""
"""Once a job's progress shows: Stop (the element ``id``) brought into view and clicked where nothing covers it, in
the same task of the page; returns the progress's places and whether it was clicked."""
RUN_WATCH_JS = """(selector) => {
  window.__mmdemoRun?.observer.disconnect();
  const run = window.__mmdemoRun = {state: 'asked'};
  run.observer = new MutationObserver(() => {
    const busy = document.querySelector(selector)?.disabled;
    if (busy) run.state = 'busy';
    else if (run.state === 'busy') { run.state = 'done'; run.observer.disconnect(); }
  });
  run.observer.observe(document.body, {attributes: true, attributeFilter: ['disabled'], subtree: true});
}"""
"""Watches the Run button ``selector``: ``window.__mmdemoRun.state`` becomes "busy" once it is, then "done"."""


def run_to_the_end(page: Any, button: str, timeout_ms: float = 180_000) -> None:
    """Click the Run button ``button`` and wait until its run has ended: the button was busy, then is given back.
    (Waiting for a result to change would wait forever for a run that gives the same result as the last one.)"""
    page.evaluate(RUN_WATCH_JS, button)
    page.locator(button).click()
    page.wait_for_function("() => window.__mmdemoRun.state === 'done'", timeout=timeout_ms)


def stop_the_run(page: Any, controls: str, button: str, label: str, caplog: Any, job: str | None) -> None:
    """Stop the run a click on ``button`` has just started, in a tab whose run controls are named ``controls``
    (``mmdemo.ui.events.run_controls``), and check what the visitor and the server see: while it works the button
    is busy, Stop shows and the progress is drawn once; Stop's click says so in the tab's line, gives the button back
    its ``label`` and hides Stop; the server's work ends at its next step (the log says "``job`` stopped", a streaming
    job too, whether Stop comes while it works on a partial result or Gradio closes it between two; None: the log is
    not checked)."""
    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")
    stop = page.locator(f"#{controls}-stop")
    stop.wait_for(state="visible")
    assert page.locator(button).is_disabled()
    # Clicked in the page's own task that sees the job's progress: a job of tiny models may end within the
    # round trips of a locator click (it did, on a slow machine), and Stop goes with it.
    clicked = page.wait_for_function(STOP_WHEN_RUNNING_JS, arg=f"{controls}-stop").json_value()
    assert clicked["hit"], clicked  # nothing over Stop: a person's click would land on it
    assert len(clicked["shown"]) == 1, clicked  # the progress drawn once
    page.locator(f"#{controls}-message").get_by_text("Stopped. What was done before is kept.").wait_for()
    page.wait_for_function(BUTTON_JS, arg=[button, label, False])
    assert not stop.is_visible()
    if job is None:
        return
    for _ in range(300):
        if any(f"{job} stopped" in record.getMessage() for record in caplog.records):
            return
        page.wait_for_timeout(1000)
    raise AssertionError(f"{job} went on after Stop")
