"""Screenshots of every tab at desktop and phone size, with the tiny test models (each tab's example run) and
with no Hub models (a fresh offline install: the Image tab reads the text of its example), for README and closing
notes.

    PYTHONPATH=. python scripts/screenshots.py OUT_DIR [--models tiny|none] [--locale en|zh-CN]

Files are named MODELS-[LOCALE-]SIZE-TAB.jpg (LOCALE only when not English).

Needs Playwright and Chromium (scripts/test.sh installs both).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TABS = (
    ("Image", "image"),
    ("Text to image", "text-to-image"),
    ("Emotion", "emotion"),
    ("Video", "video"),
    ("Round trip", "round-trip"),
    ("Evaluate", "evaluate"),
)
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def _tab_names(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('button[role=tab]')].map(b => b.innerText.trim())")


LOADED = {
    "image": "#caption-image img",
    "emotion": "#emotion-audio audio, #emotion-audio a[data-testid='download-link']",
    "video": "#video-input video",
    "round-trip": "#trip-image img",
}
"""What shows once a tab's example has filled its input (Run before that would run on nothing)."""
WAVEFORM = "#emotion-audio [data-testid=waveform-controls]"
"""The Emotion tab's recording, loaded and drawn (Gradio shows a bare 0:00 player while it cannot draw it)."""
TITLED_JS = """() => [...document.querySelectorAll('#emotion-timeline svg, #emotion-timeline .vega-embed')]
  .every((el) => !el.textContent.includes('__i18n__'))"""
"""Whether the Emotion timeline's titles are drawn as text (an SVG plot; a canvas one has no text to read)."""
BUTTONS = {
    "image": "#caption-button",  # the selected task's (offline: Read text's): see run_examples
    "text-to-image": "#t2i-button",
    "emotion": "#emotion-button",
    "video": "#video-button",
    "round-trip": "#trip-button",
    "evaluate": "#eval-example-text-images",  # the first built-in data set, run with one click
}


def run_examples(page, tab: str) -> None:
    """Fill the tab's first example and run it to the end, so the screenshot shows its results."""
    from mmdemo.testing.browser import run_to_the_end

    if tab == "text-to-image":
        page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    elif tab != "evaluate":
        for attempt in range(3):
            page.locator(".gallery-item:visible").first.click()  # only the open tab's examples are visible
            page.locator(LOADED[tab]).first.wait_for(state="attached")
            if tab != "emotion":
                break
            try:  # the recording's waveform drawn: Analyse before that (a busy machine) may never start a run
                page.locator(WAVEFORM).first.wait_for(state="visible", timeout=30_000)
                break
            except Exception:
                print(f"emotion: the example's waveform did not show (try {attempt + 1})")
    button = BUTTONS[tab]
    if tab == "image":  # one Run button per task, the selected one's shown
        runs = "#caption-right button[id$=-button]"
        shown = f"() => [...document.querySelectorAll('{runs}')].find(b => b.offsetParent)?.id"
        button = f"#{page.evaluate(shown)}"
    run_to_the_end(page, button)
    page.wait_for_timeout(1000)  # the follow-up updates (plots, send buttons) after the run
    if tab == "emotion":  # the plots' titles come in a follow-up after the run (their __i18n__ keys until then)
        try:
            page.wait_for_function(TITLED_JS, timeout=30_000)
        except Exception:  # the run is done: the screenshot shows what a visitor sees
            print("emotion: the timeline still shows an __i18n__ key 30 s after the run")
        page.wait_for_timeout(2000)


SELECTED_JS = "(i) => document.querySelectorAll('button[role=tab]')[i].getAttribute('aria-selected') === 'true'"


def _open_tab(page, i: int, slug: str) -> None:
    """Open the ``i``-th tab and check that it opened (tried again if not): a screenshot of the wrong tab under the
    right tab's name is worse than a warning."""
    for attempt in range(3):
        page.evaluate("window.scrollTo(0, 0)")
        page.locator("button[role=tab]").nth(i).click(force=True)
        try:
            page.wait_for_function(SELECTED_JS, arg=i, timeout=10_000)
            break
        except Exception:
            print(f"{slug}: its tab did not open (try {attempt + 1})")
    page.wait_for_timeout(800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--models", choices=["tiny", "none"], default="tiny")
    parser.add_argument("--locale", default="en", help="the browser's language (the page follows it)")
    slugs = [slug for _, slug in TABS]
    parser.add_argument("--tabs", nargs="+", choices=slugs, default=slugs, help="only these tabs' screenshots")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES), help="only these sizes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from mmdemo.settings import Settings
    from mmdemo.testing.server import launched_app

    if args.models == "tiny":
        from mmdemo.testing.tiny_models import build_tiny_models

        dirs = build_tiny_models(Path(".pytest_cache/d/tiny-models"))
        settings = Settings(models={r: str(p) for r, p in dirs.items()}, device="cpu", offline=True)
    else:
        settings = Settings(device="cpu", offline=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with launched_app(settings) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium")
        for size, viewport in ((size, SIZES[size]) for size in args.sizes):
            page = browser.new_page(viewport=viewport, locale=args.locale)
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator(".gradio-container").first.wait_for()
            page.locator("button[role=tab]").first.wait_for()  # a busy machine drew them after 2 s: no tab was opened
            page.wait_for_timeout(2000)
            names = _tab_names(page)
            for i, (_, slug) in enumerate(TABS):
                if slug not in args.tabs:
                    continue
                if i < len(names):
                    _open_tab(page, i, slug)
                if args.models == "tiny" or slug == "image":  # offline: Read text works (a model in a wheel)
                    try:
                        run_examples(page, slug)
                    except Exception as err:  # a screenshot of what is there beats none
                        print(f"{slug}: could not run the example ({type(err).__name__}: {err})")
                prefix = args.models if args.locale == "en" else f"{args.models}-{args.locale}"
                page.screenshot(path=str(out / f"{prefix}-{size}-{slug}.jpg"), full_page=True, type="jpeg", quality=80)
            page.close()
        browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
