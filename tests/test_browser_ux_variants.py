"""Issue 23's points checked where the other browser suites do not: at desktop (1440×900) and phone (390×844) size
and in a Chinese browser (zh-CN, phone size; tests/test_browser_i18n.py has zh-CN at desktop size).

- point 3: no output is a drop target (no file input, no "Drop" zone, no remove button, a photo dropped on it changes
  nothing), every tab, before and after its example run; Gradio's read-only tables keep an inert CSV file input
  (its container "disable_click"), allowed as long as a drop on them changes nothing;
- point 6: no engineering words in front of visitors after each tab's example run (outside the folded Details
  sections and the Models panel; the Chinese page at desktop size too);
- point 7: Evaluate's one-click example on a phone;
- point 9: an unexpected error is one line, the result before is kept, no red "Error" badge (phone);
- point 11: no visible character the page cannot draw (the 👁/🔤 icons were empty boxes without an emoji font: the app
  now writes "Seen:"/"Read:"), no pictograph in buttons, tabs and labels (the Chinese page at desktop size too);
- point 12: Stop shows while a long job runs and its progress is drawn once (Video, Evaluate);
- point 14: the Models panel's headers are not drawn a letter per line, its Problem column can be seen;
- point 15: labels, "- or -", hints at 4.5:1 or more; a photo given as a recording refused in plain words; the same
  in the dark theme (phone, and the Chinese phone);
- the points the other suites check in an English browser only, on the Chinese phone: 1 (every generated image
  whole), 4 (a tap on the main button: busy, its progress on the screen), 8 (offline, the missing emotion model said
  once in place), 10 (Many photos: every column and the failed row), 13 (send buttons only after a result).

Each page (module-scoped, one per screen) runs each tab's example once (:func:`_ran`); the tests read what the
browser drew.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from gradio.media import get_audio
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import mmdemo.ui.captioning
from mmdemo.messages import Message, Page
from mmdemo.models.specs import SPECS
from mmdemo.testing.browser import (
    BUTTON_JS,
    CONTRAST_JS,
    DESKTOP,
    IN_VIEW_JS,
    PHONE,
    STOP_WHEN_RUNNING_JS,
    pictures,
    run_to_the_end,
    screen_page,
)
from mmdemo.testing.browser import SCREENS as BROWSER_SCREENS
from mmdemo.testing.odd_videos import long_talk
from tests.test_browser_audio_emotion import EMOTION_BOXES
from tests.test_browser_i18n import ENGLISH_WORDS_JS
from tests.test_browser_i18n import NAMES as I18N_NAMES
from tests.test_browser_i18n import SKIPPED as I18N_SKIPPED
from tests.test_browser_send_to import SENDERS
from tests.test_browser_text_to_image import _set_size, _set_slider
from tests.test_browser_ux_tabs import BUTTON_AT_THE_BOTTOM_JS, Tab
from tests.test_browser_ux_tabs import TABS as TAP_TABS

SCREENS = list(BROWSER_SCREENS)
"""Desktop and phone in an English browser, and a phone in a Chinese one (tests/conftest.py's page fixtures)."""

TABS = {
    # tab: its name in English and in Chinese, an element that shows it has been laid out
    "image": ("Image", "图像", "#caption-image"),
    "t2i": ("Text to image", "文生图", "#t2i-prompt"),
    "emotion": ("Emotion", "情绪", "#emotion-audio"),
    "video": ("Video", "视频", "#video-input"),
    "trip": ("Round trip", "往返", "#trip-image"),
    "eval": ("Evaluate", "评测", "#eval-zip"),
}
RUNS = ["image", "batch", "t2i", "emotion", "video", "trip", "eval"]
"""Each example run :func:`_ran` knows ("batch": Many photos, in the Image tab)."""
UPLOADS = {"caption-image", "batch-files", "emotion-audio", "video-input", "trip-image", "eval-zip"}
"""The inputs that take a file (as in tests/test_browser_video_summary.py): any other file input is an output's."""


def _locale(page: Any) -> str:
    return "zh-CN" if page.mmdemo_chinese else "en"


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("variant-photos")
    paths = []
    for i in range(2):
        path = folder / f"photo-{i}.png"
        Image.new("RGB", (64, 48), (40 + 90 * i, 200 - 90 * i, 90)).save(path)
        paths.append(path)
    return paths


def _screen(request: pytest.FixtureRequest, screen: str) -> Any:
    page = request.getfixturevalue(screen)
    page.bring_to_front()
    page.set_viewport_size(page.mmdemo_size)
    return page


def _tab(page: Any, tab: str) -> None:
    name, chinese, shown = TABS[tab]
    page.get_by_role("tab", name=chinese if page.mmdemo_chinese else name, exact=True).click()
    page.locator(shown).wait_for()


def _eval_limit(page: Any, limit: str) -> None:
    """Evaluate's item limit (Options) set to ``limit`` and committed (typed again if the page's load refresh put
    the default back, as it did on a loaded machine)."""
    options = page.locator("#eval-options")
    if not page.locator("#eval-limit input").is_visible():
        options.locator(".label-wrap").first.click()
    field = page.locator("#eval-limit input")
    for _ in range(3):
        field.fill(limit)
        field.press("Tab")
        page.wait_for_timeout(1000)
        if field.input_value() == limit:
            return
    assert field.input_value() == limit


def _ran(page: Any, run: str, photos: list[Path]) -> Any:
    """``page`` after the example run ``run`` (made once per page), on the tab it ran in."""
    _tab(page, "image" if run == "batch" else run)
    if run in page.mmdemo_ran:
        page.wait_for_timeout(300)  # the layout settles when a tab is shown again
        return page
    if run == "image":
        page.locator("#caption-examples .gallery-item").first.click()
        page.locator("#caption-image img").first.wait_for()
        run_to_the_end(page, "#caption-button")
        page.wait_for_function("() => document.querySelector('#caption-output textarea').value.trim().length > 0")
    elif run == "batch":
        if not page.locator("#batch-files").is_visible():
            page.locator("#batch-section .label-wrap").first.click()
        page.locator("#batch-files input[type=file]").set_input_files([str(p) for p in photos])
        page.locator("#batch-files .file-preview").first.wait_for()
        run_to_the_end(page, "#batch-button")
        page.locator("#batch-downloads").get_by_text(".csv", exact=True).first.wait_for()
    elif run == "t2i":
        page.locator("#t2i-examples .gallery-item, #t2i-examples button").first.click()
        page.wait_for_function("() => document.querySelector('#t2i-prompt textarea').value.trim().length > 0")
        run_to_the_end(page, "#t2i-button")
        page.locator("#t2i-gallery img").first.wait_for()
    elif run == "emotion":
        page.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
        page.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
        run_to_the_end(page, "#emotion-button")
    elif run == "video":
        page.locator("#video-examples .gallery-item, #video-examples button").first.click()
        page.locator("#video-input video").first.wait_for(state="attached")
        run_to_the_end(page, "#video-button")
        page.locator("#video-gallery img").first.wait_for()
    elif run == "trip":
        page.locator("#trip-image").locator("xpath=../../..").locator(".gallery-item:visible").first.click()
        page.locator("#trip-image img").first.wait_for()
        run_to_the_end(page, "#trip-button")
        page.locator("#trip-generated img").first.wait_for()
    elif run == "eval":
        _eval_limit(page, "2")  # two of the set's images: the run stays short
        run_to_the_end(page, "#eval-example-text-images")
        page.locator("#eval-json").get_by_text(".json", exact=True).first.wait_for()
    page.wait_for_timeout(500)
    page.mmdemo_ran.add(run)
    return page


def _all_ran(request: pytest.FixtureRequest, screen: str, photos: list[Path]) -> Any:
    page = _screen(request, screen)
    for run in RUNS:
        _ran(page, run, photos)
    return page


# --- point 15: labels, "- or -" and hints readable (4.5:1); the audio warning in plain words ------------------------

READABLE = {
    # tab: the texts the Soft theme drew lighter, as tests/test_browser_accessibility.py and test_browser_ux_image.py
    # measure them at desktop size in English
    "image": (
        '#caption-image [data-testid="block-label"]',
        "#caption-image .or",
        "#caption-image .wrap",
        "#caption-task [data-testid=block-info]",
        "#vqa-question .info-text",
        "#vqa-question input::placeholder",
        "#caption-task label.selected",
        "button[role=tab].selected",
        "#ask-button",
        "footer a",
    ),
    "emotion": (
        '#emotion-audio [data-testid="block-label"]',
        "#emotion-audio .or",
        "#emotion-audio .wrap",
        "#emotion-transcript [data-testid=block-info]",
        "button[role=tab].selected",
    ),
}


def _contrasts(page: Any, selectors: tuple[str, ...]) -> dict[str, float | None]:
    page.mouse.move(0, 0)  # measured at rest, not under the pointer (hover colours differ)
    page.wait_for_timeout(300)
    ratios = {}
    for selector in selectors:
        page.locator(selector.split("::")[0]).first.scroll_into_view_if_needed()
        ratios[selector] = page.evaluate(CONTRAST_JS, selector)
    return ratios


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
@pytest.mark.parametrize("tab", list(READABLE))
def test_labels_or_and_hints_are_readable(request: pytest.FixtureRequest, screen: str, tab: str) -> None:
    """Before any run (the inputs empty: their upload zones, "- or -" and hint, show)."""
    page = _screen(request, screen)
    _tab(page, tab)
    if tab == "image":
        page.locator("#caption-task label").nth(2).click()  # Ask a question
        page.locator("#vqa-question").wait_for()
    page.locator(f"#{tab if tab == 'emotion' else 'caption'}-{'audio' if tab == 'emotion' else 'image'} .or").wait_for()
    try:
        ratios = _contrasts(page, READABLE[tab])
    finally:
        if tab == "image":
            page.locator("#caption-task label").nth(0).click()  # Caption
    unreadable = {selector: r for selector, r in ratios.items() if r is None or r < 4.5}
    assert not unreadable, unreadable


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_a_photo_given_as_a_recording_is_refused_in_plain_words(
    request: pytest.FixtureRequest, screen: str, photos: list[Path]
) -> None:
    page = _screen(request, screen)
    _tab(page, "emotion")
    page.locator("#emotion-audio input[type=file]").set_input_files(str(photos[0]))
    toast = page.get_by_test_id("toast-body").first
    toast.wait_for()
    said = toast.inner_text()
    try:
        expected = Message("audio.not_audio", formats=Message("audio.formats")).text(_locale(page))
        assert expected in said and "audio/" not in said and "Invalid file type" not in said, said
        assert page.locator("#emotion-audio a[data-testid='download-link']").count() == 0  # not taken
        box = toast.bounding_box()
        assert box is not None and box["x"] >= -0.5 and box["x"] + box["width"] <= page.mmdemo_size["width"] + 0.5
    finally:
        for close in page.get_by_test_id("toast-close").all():
            close.click()


# --- point 3: no output takes a dropped file ---------------------------------------------------------------------

RESULT_FILES = ("#video-files", "#batch-downloads", "#eval-json")
"""The outputs that hold files to download."""
OUTPUTS = (
    *("#ocr-image", "#batch-table", "#batch-downloads", "#t2i-gallery", "#emotion-overall", "#emotion-timeline"),
    *("#video-gallery", "#video-files", "#trip-generated", "#eval-metrics", "#eval-plots", "#eval-json", "#eval-items"),
)
"""Every tab's outputs that could hold a file or a picture (galleries, images, files, tables)."""
FILE_INPUTS_JS = """() => [...document.querySelectorAll('input[type=file]')].map((input) => {
  const owner = input.closest('[id]');
  // Gradio's read-only Dataframe keeps a CSV upload container with its clicks and drops turned off ("disable_click")
  return {id: owner?.id || '', inert: !!input.closest('.disable_click') && !!owner?.querySelector('table')};
})"""
"""The file inputs of the page: the element (with an id) each is in, and whether it is a read-only table's inert one."""
DROP_JS = """async (selector) => {
  // A photo dropped on the output as a visitor drags one from their desktop: on its file input's drop zone if it has
  // one, else on the output itself. Returns what changed (nothing, for an output).
  const el = document.querySelector(selector);
  if (!el || !el.checkVisibility()) return null;
  const state = () => [el.innerText, [...el.querySelectorAll('img, video')].map((m) => m.currentSrc || m.src)]
    .join('|');
  const before = state();
  const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ'
    + 'AAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0));  // a 1×1 PNG
  const data = new DataTransfer();
  data.items.add(new File([png], 'dropped-photo.png', {type: 'image/png'}));
  const input = el.querySelector('input[type=file]');
  const target = input ? input.parentElement : (el.querySelector('.grid-wrap, .image-container, table') || el);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data}));
  }
  await new Promise((done) => setTimeout(done, 1500));
  return state() === before ? '' : state().slice(0, 200);
}"""
"""What a photo dropped on the output ``selector`` changed in it ('': nothing; null: not shown on this tab)."""


def _drop_targets(page: Any) -> list[Any]:
    """On every tab: file inputs outside the inputs that take a file (but a read-only table's inert one), "Drop"
    zones and remove buttons in outputs, and outputs that change when a photo is dropped on them."""
    found = []
    for tab in TABS:
        _tab(page, tab)
        page.wait_for_timeout(300)
        for name in page.evaluate(FILE_INPUTS_JS):
            if name["id"] not in UPLOADS and not name["inert"]:
                found.append((tab, "file input", name["id"]))
        for block in OUTPUTS:
            if not (page.locator(block).count() and page.locator(block).is_visible()):
                continue
            if re.search(r"Drop|拖放|Click to Upload|点击上传", page.locator(block).inner_text()):
                found.append((tab, "drop zone", block))
            remove = ", ".join(f"{block} {b}" for b in (".label-clear-button", "button[aria-label='Clear']",
                                                        "button[aria-label='清除']", "button[aria-label='Remove']",
                                                        "button[aria-label='移除']"))  # fmt: skip
            if page.locator(remove).filter(visible=True).count():
                found.append((tab, "remove button", block))
            if changed := page.evaluate(DROP_JS, block):
                found.append((tab, "took a dropped photo", block, changed))
    return found


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_no_output_takes_a_dropped_file_before_a_run(request: pytest.FixtureRequest, screen: str) -> None:
    page = _screen(request, screen)
    assert _drop_targets(page) == []


@pytest.mark.parametrize("screen", SCREENS)
def test_no_output_takes_a_dropped_file_after_the_runs(
    request: pytest.FixtureRequest, screen: str, photos: list[Path]
) -> None:
    """Every tab's outputs filled (galleries, keyframes, the result files, the batch downloads): still no file input
    but the inputs', no "Drop" zone, no remove button on a result's files."""
    page = _all_ran(request, screen, photos)
    for files in RESULT_FILES:  # each of them holds files now
        _tab(page, {"#video-files": "video", "#batch-downloads": "image", "#eval-json": "eval"}[files])
        assert page.locator(f"{files} a, {files} .file-preview").count() >= 1, files
    assert _drop_targets(page) == []


# --- point 14: the Models panel ---------------------------------------------------------------------------------------

HEADERS_JS = """() => [...document.querySelectorAll('#model-status thead th')].map((th) => {
  const span = th.querySelector('span.header') || th;
  const line = parseFloat(getComputedStyle(span).lineHeight) || 20;
  return {text: span.innerText.trim(), lines: Math.round(span.getBoundingClientRect().height / line)};
})"""
"""Each header of the Models panel's table: its text and how many lines it is drawn on."""


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_the_models_panel_headers_are_words_and_its_problem_column_shows(
    request: pytest.FixtureRequest, screen: str
) -> None:
    """Every header on one line or wrapped between words (a Chinese one: at most one line per two characters), and
    the last column (Problem) inside the screen once the table is scrolled to it."""
    page = _screen(request, screen)
    title = Page("Models: what is loaded, where, how big").text(_locale(page))
    page.get_by_text(title, exact=True).click()
    try:
        page.locator("#model-status thead th").last.wait_for()
        page.wait_for_function("() => document.querySelectorAll('#model-status thead th').length >= 8")
        headers = page.evaluate(HEADERS_JS)
        assert len(headers) == 8, headers
        for header in headers:
            words = len(header["text"].split()) if not page.mmdemo_chinese else max(1, len(header["text"]) // 2)
            assert 1 <= header["lines"] <= words, header
        problem = page.locator("#model-status thead th").last
        assert Page("Problem").text(_locale(page)) in problem.inner_text() or page.mmdemo_chinese
        problem.scroll_into_view_if_needed()
        box = problem.bounding_box()
        width = page.mmdemo_size["width"]
        assert box is not None and box["width"] >= 40 and box["x"] >= -0.5 and box["x"] + box["width"] <= width + 0.5
        assert problem.is_visible()
    finally:
        page.evaluate("() => document.querySelectorAll('#model-status *').forEach((e) => { e.scrollLeft = 0; })")
        page.get_by_text(title, exact=True).click()  # folded again


# --- point 7: Evaluate's one-click example on a phone ---------------------------------------------------------------


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_on_a_phone_one_tap_runs_the_evaluate_example(request: pytest.FixtureRequest, screen: str) -> None:
    """The example is on the first screen of the tab; one tap scores it, its summary and metrics show."""
    page = _screen(request, screen)
    _tab(page, "eval")
    page.evaluate("() => scrollTo(0, 0)")
    page.wait_for_timeout(300)
    example = page.locator("#eval-example-text-images")
    box = example.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"] and box["x"] >= 0, box
    assert box["x"] + box["width"] <= PHONE["width"], box
    _eval_limit(page, "2")
    page.evaluate("() => scrollTo(0, 0)")
    run_to_the_end(page, "#eval-example-text-images")
    locale = _locale(page)
    name = Page("Signs and notes: reading text").text(locale)
    summary = page.locator("#eval-summary")
    assert name in summary.inner_text(), summary.inner_text()
    scored = "已计分条目" if page.mmdemo_chinese else "items scored"
    page.locator("#eval-metrics").get_by_text(scored, exact=True).wait_for()
    assert summary.is_visible() and page.locator("#eval-metrics").is_visible()
    assert page.locator("#eval-task input:checked").get_attribute("value") == "ocr"
    page.mmdemo_ran.add("eval")


# --- point 11: no character the page cannot draw, no pictograph on buttons and labels -------------------------------

GLYPHS_JS = r"""() => {
  // Every distinct character of the visible text with the font it is drawn in, drawn on a canvas: the same pixels
  // as a character no font has (U+0378, unassigned) is the empty box a visitor sees.
  const canvas = document.createElement('canvas'); canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (font, ch) => { ctx.clearRect(0, 0, 48, 48); ctx.font = `32px ${font}`; ctx.textBaseline = 'top';
    ctx.fillText(ch, 4, 4); const d = ctx.getImageData(0, 0, 48, 48).data; let h = 0;
    for (let i = 3; i < d.length; i += 4) h = (h * 31 + d[i]) | 0; return h; };
  const seen = new Map(), boxes = [], pictographs = [];
  const root = document.querySelector('.gradio-container');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const controls = 'button, [role=tab], label, [data-testid=block-label], [data-testid=block-info], summary, '
    + '.caption-label, th';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !el.checkVisibility() || el.closest('textarea, code, svg')) continue;
    const where = el.closest('[id]')?.id || el.tagName;
    if (el.closest(controls) && /\p{Extended_Pictographic}/u.test(node.textContent)
        && !/^[\s\d©®™#*]*$/.test(node.textContent.replace(/[^\p{Extended_Pictographic}]/gu, ''))) {
      pictographs.push([where, node.textContent.trim().slice(0, 60)]);
    }
    const font = getComputedStyle(el).fontFamily;
    for (const ch of new Set(node.textContent)) {
      if (ch.codePointAt(0) < 0x80 || /[\p{M}\p{Cf}\p{Z}\s\uFE00-\uFE0F]/u.test(ch)) continue;
      const key = font + '\u0000' + ch;
      if (!seen.has(key)) seen.set(key, draw(font, ch) === draw(font, '\u0378'));
      if (seen.get(key)) boxes.push([where, ch, 'U+' + ch.codePointAt(0).toString(16).toUpperCase()]);
    }
  }
  return {boxes, pictographs, checked: seen.size};
}"""
"""What of the page's visible text is drawn as an empty box (a character no font of the page has), and the buttons,
tabs and labels that carry a pictograph (an emoji: a box without an emoji font)."""


def _glyphs(page: Any) -> dict[str, Any]:
    """:data:`GLYPHS_JS` on every tab of ``page``."""
    found: dict[str, Any] = {"boxes": [], "pictographs": [], "checked": 0}
    for tab in TABS:
        _tab(page, tab)
        page.wait_for_timeout(300)
        drawn = page.evaluate(GLYPHS_JS)
        found["boxes"] += [[tab, *b] for b in drawn["boxes"]]
        found["pictographs"] += [[tab, *p] for p in drawn["pictographs"]]
        found["checked"] += drawn["checked"]
    return found


@pytest.mark.parametrize("screen", SCREENS)
def test_every_character_shown_can_be_drawn(request: pytest.FixtureRequest, screen: str, photos: list[Path]) -> None:
    """On every tab after its example run (the keyframes' captions, the notes, the tables too). This machine has no
    emoji font, as the issue's had: 👁 and 🔤 were drawn as empty boxes here."""
    page = _all_ran(request, screen, photos)
    sizes = [page.mmdemo_size] + ([DESKTOP] if page.mmdemo_chinese else [])  # the Chinese page at desktop size too
    try:
        for size in sizes:
            page.set_viewport_size(size)
            found = _glyphs(page)
            assert found["checked"] > 10, found  # (the page's own characters: ·, “”, Chinese …)
            assert found["boxes"] == [] and found["pictographs"] == [], (size, found)
    finally:
        page.set_viewport_size(page.mmdemo_size)


# --- point 6: no engineering words in front of visitors ------------------------------------------------------------

HUB_ORGS = sorted({model_id.split("/")[0] + "/" for spec in SPECS.values() for model_id in spec.defaults.values()
                   if "/" in model_id and not model_id.startswith("pip:")})  # fmt: skip
"""The Hub organisations of the app's default models ("Salesforce/", "openai/" …): a Hub id shown."""
ROLES = sorted(SPECS)
"""The models' role names ("captioner", "tiny_vae" …): the app's configuration, not a visitor's words."""
ENGINEERING = [
    r"local folder",
    r"本地文件夹",
    r"pip:",
    *(re.escape(org) for org in HUB_ORGS),
    *(rf"\b{re.escape(role)}\b" for role in ROLES if "_" in role or role.endswith("er")),  # ("ocr", "clip": names)
    *(rf"[“\"]{re.escape(role)}[”\"]" for role in ROLES),  # a role in quotes, as a local folder's name
    r"batches of",
    r"每批",
    r"model time",
    r"模型用时",
    r"tiny decoder",
    r"fast decoder",
    r"full decoder",
    r"解码器",
    r"\b[a-z]{2,5}(?:/[a-z]{2,5})* → (?:neutral|happy|sad|angry|中性|开心|悲伤|愤怒)",  # a label map: "neu → neutral"
    r"LABEL_\d",
    r"fast CPU path",
    r"extractive",
    r"抽取式",
    r"server log",
    r"服务器日志",
    r"sentence embeddings",
    r"句子嵌入",
    r"OpenVINO|CTranslate2|transformers|bf16|bfloat16|float32|float16|int8",
]
"""How the app words its engineering (mmdemo/locales, mmdemo/model_ids.py, mmdemo/models/specs.py), in English and
Chinese: for its Details sections and the Models panel only."""
ENGINEERING_RE = re.compile("|".join(f"(?:{word})" for word in ENGINEERING), re.IGNORECASE)
VISIBLE_TEXT_JS = r"""(skip) => {
  // The visible text, per element with an id (where it is): a folded Details section's or accordion's text is not
  // drawn (checkVisibility), the Models panel is left out; text boxes' values (model output) are no text nodes.
  const out = {};
  const walker = document.createTreeWalker(document.querySelector('.gradio-container'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility() || !node.textContent.trim()) continue;
    const where = el.closest('[id]')?.id || el.tagName;
    out[where] = (out[where] || '') + ' ' + node.textContent.trim();
  }
  return out;
}"""
SKIPPED = "#model-panel, details[open]"
"""The Models panel (model ids, runtimes: its data) and an opened Details section (none is opened by these tests)."""


def _engineering_words(page: Any) -> list[tuple[str, str, str]]:
    found = []
    for tab in TABS:
        _tab(page, tab)
        page.wait_for_timeout(300)
        for where, shown in page.evaluate(VISIBLE_TEXT_JS, SKIPPED).items():
            found += [(tab, where, match.group(0)) for match in ENGINEERING_RE.finditer(shown)]
    return found


def test_the_engineering_words_are_the_apps_own() -> None:
    """The list is the app's wording: each English phrase is in the English catalogue or the model ids."""
    catalogue = Path(mmdemo.__file__).parent / "locales"
    english = (catalogue / "en.json").read_text(encoding="utf-8")
    chinese = (catalogue / "zh-CN.json").read_text(encoding="utf-8")
    for phrase in ("local folder", "Batches of", "model time", "fast decoder", "extractive", "server log"):
        assert phrase in english, phrase
    for phrase in ("本地文件夹", "每批", "模型用时", "解码器", "抽取式", "服务器日志", "句子嵌入"):
        assert phrase in chinese, phrase
    assert "Salesforce/" in HUB_ORGS and "captioner" in ROLES and "tiny_vae" in ROLES


@pytest.mark.parametrize("screen", SCREENS)
def test_no_engineering_words_after_each_tabs_example_run(
    request: pytest.FixtureRequest, screen: str, photos: list[Path]
) -> None:
    """After every tab's example run, the page outside the folded Details sections and the Models panel names no
    model folder, Hub or package id, role, batch size, model time, decoder, label map, runtime or server log (the
    Chinese page at desktop size too)."""
    page = _all_ran(request, screen, photos)
    details = page.locator(".gradio-container details")
    assert details.count() >= 3  # the Details sections are there (Image, Video, Round trip, Evaluate …), folded
    assert page.locator(".gradio-container details[open]").count() == 0
    sizes = [page.mmdemo_size] + ([DESKTOP] if page.mmdemo_chinese else [])
    try:
        for size in sizes:
            page.set_viewport_size(size)
            assert (found := _engineering_words(page)) == [], (size, found)
    finally:
        page.set_viewport_size(page.mmdemo_size)


# --- point 9: an unexpected error is one line, the result kept ------------------------------------------------------

VISIBLE_ERROR_BADGES_JS = """() => [...document.querySelectorAll('[data-testid="status-tracker"] .error')]
  .filter((e) => e.getBoundingClientRect().width > 0).length"""


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_an_unexpected_error_is_one_line_and_the_result_stays(
    request: pytest.FixtureRequest, screen: str, photos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _ran(_screen(request, screen), "image", photos)
    locale = _locale(page)
    run = Page("Run").text(locale)
    before = page.locator("#caption-output textarea").input_value()
    assert before.strip()

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in the captioning")

    monkeypatch.setattr(mmdemo.ui.captioning, "caption_image", broken)  # the app runs in this process
    page.locator("#caption-button").click()
    unexpected = Message("request.unexpected").text(locale)
    message = page.locator("#caption-message")
    message.get_by_text(unexpected, exact=True).wait_for(timeout=180_000)
    page.wait_for_function(BUTTON_JS, arg=["#caption-button", run, False])
    assert page.evaluate(VISIBLE_ERROR_BADGES_JS) == 0  # no red "Error" badge on any output
    assert page.get_by_test_id("toast-body").count() == 0  # said once, in its line
    assert page.locator("#caption-output textarea").input_value() == before
    assert message.inner_text().strip() == unexpected
    box = message.bounding_box()
    assert box is not None and box["x"] >= -0.5 and box["x"] + box["width"] <= PHONE["width"] + 0.5, box


# --- point 12: Stop while a long job runs, its progress drawn once ---------------------------------------------------


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-minute talk: a summary long enough to see Stop (the example's is over within a click on tiny models)."""
    return long_talk(tmp_path_factory.mktemp("talk") / "talk.mp4", minutes=2)


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
@pytest.mark.parametrize("tab", ["video", "eval"])
def test_stop_shows_while_a_long_job_runs_and_its_progress_is_drawn_once(
    request: pytest.FixtureRequest, screen: str, tab: str, talk: Path
) -> None:
    page = _screen(request, screen)
    locale = _locale(page)
    _tab(page, tab)
    if tab == "video":
        button, label = "#video-button", Page("Summarise").text(locale)
        clear = page.locator("#video-input button[aria-label='Clear'], #video-input button[aria-label='清除']")
        if clear.count():
            clear.first.click()
        page.locator("#video-input input[type=file]").set_input_files(str(talk))
        page.locator("#video-input video").first.wait_for(state="attached")
        page.locator(button).click()
    else:
        button, label = "#eval-example-text-images", Page("Signs and notes: reading text").text(locale)
        _eval_limit(page, "0")  # the whole set (18 images)
        page.locator(button).click()
    stop = page.locator(f"#{tab}-stop")
    stop.wait_for(state="visible")
    assert page.locator(button).is_disabled()
    box = stop.bounding_box()
    assert box is not None and box["x"] >= -0.5 and box["x"] + box["width"] <= page.mmdemo_size["width"] + 0.5, box
    clicked = page.wait_for_function(STOP_WHEN_RUNNING_JS, arg=f"{tab}-stop", timeout=180_000).json_value()
    assert clicked["hit"], clicked  # nothing over Stop: a tap lands on it
    assert len(clicked["shown"]) == 1, clicked  # the progress drawn once
    stopped = Message("request.stopped").text(locale)
    page.locator(f"#{tab}-message").get_by_text(stopped, exact=True).wait_for()
    page.wait_for_function(BUTTON_JS, arg=[button, label, False])
    assert not stop.is_visible()
    if tab == "eval":
        _eval_limit(page, "2")


# --- the points the other suites check in English only, in the Chinese browser (and the dark theme on a phone) -------


def _fresh(browser: Any, url: str, screen: str) -> Any:
    """A new page of the app at ``url`` as ``screen`` is opened (its tab not yet used: no run made in it)."""
    return screen_page(browser, url, screen, ready=False, timeout_ms=60_000)


# --- point 1: text to image draws every generated image whole ----------------------------------------------------

T2I_CASES = {
    # as tests/test_browser_text_to_image.py::test_every_image_is_shown_whole: count, size, natural size
    "one-square": (1, "256x256", (256, 256)),
    "four-square": (4, "192x192", (192, 192)),
    "two-landscape": (2, "320x192", (320, 192)),
    "one-portrait": (1, "192x320", (192, 320)),
}


@pytest.mark.parametrize("case", list(T2I_CASES))
@pytest.mark.parametrize("screen", ["zh_page"])
def test_every_generated_image_is_shown_whole(request: pytest.FixtureRequest, screen: str, case: str) -> None:
    """Each generated image drawn whole inside the part of the gallery that shows, apart from its caption and the
    gallery's label, not a thumbnail (desktop and phone in English: tests/test_browser_text_to_image.py)."""
    count, size, natural = T2I_CASES[case]
    page = _screen(request, screen)
    _tab(page, "t2i")
    if not page.locator("#t2i-steps").is_visible():
        page.locator("#t2i-advanced").get_by_text(Page("Advanced").text(_locale(page)), exact=True).click()
        page.locator("#t2i-steps").wait_for()
    _set_slider(page, "t2i-steps", "2")
    _set_slider(page, "t2i-count", str(count))
    _set_size(page, size)
    page.locator("#t2i-prompt textarea").fill("a lighthouse on a cliff at sunset")
    seed = "种子" if page.mmdemo_chinese else "seed "  # each image's caption (its alt): "seed 42", "种子 42"
    run_to_the_end(page, "#t2i-button")
    page.wait_for_function(
        "([n, seed]) => { const s = [...document.querySelectorAll('#t2i-gallery .grid-container img')];"
        " return s.length === n && s.every(i => i.alt.startsWith(seed)); }",
        arg=[count, seed],
    )
    shown = pictures(page, "#t2i-gallery")
    assert len(shown) == count
    for picture in shown:
        assert tuple(picture["natural"]) == natural, picture
        assert picture["whole"] and picture["in_cell"] and picture["in_view"], picture
        assert picture["caption_apart"] and picture["label_apart"], picture
        assert picture["drawn"][2] >= 100 and picture["drawn"][3] >= 100, picture  # not a thumbnail
    page.mmdemo_ran.add("t2i")


# --- point 4: on a phone a tap on the main button shows it busy and the progress -----------------------------------

IMAGE_TAB = Tab(
    # as tests/test_browser_ux_image.py::test_on_a_phone_run_is_under_the_photo_and_a_tap_shows_progress
    "Image",
    "#caption-button",
    "Run",
    "#caption-output textarea",  # (its label sits at the screen's bottom edge with the button)
    "caption",
    "#caption-examples .gallery-item",
    "() => !!document.querySelector('#caption-image img')",
)
WHERE_JS = """(selectors) => ({scrollY, innerHeight, height: document.documentElement.scrollHeight,
  boxes: selectors.map((s) => { const r = document.querySelector(s).getBoundingClientRect();
    return [r.top, r.bottom]; })})"""
"""Where the page is scrolled to and where the elements ``selectors`` are drawn (for a failure's message)."""
PROGRESS_WATCH_JS = """([selector, stop]) => {
  // Each frame while a run's progress is drawn over the output ``selector``: whether its texts (time, percentage)
  // lie wholly inside the screen (an output whose top edge peeks onto the screen leaves them below it).
  const seen = window.__mmdemoProgress = {frames: 0, inView: 0, last: null, stop: false, done: false};
  const frame = () => {
    if (seen.done) return;
    if (document.querySelector(stop)?.checkVisibility()) seen.stop = true;
    const block = document.querySelector(selector)?.closest('.block');
    const tracker = block && [...block.querySelectorAll('[data-testid="status-tracker"]')]
      .find((t) => !t.classList.contains('hide') && t.getBoundingClientRect().height > 0);
    const texts = tracker ? [...tracker.querySelectorAll('*')].filter((e) => !e.children.length
      && e.textContent.trim() && e.getBoundingClientRect().height > 0) : [];
    if (texts.length) {
      seen.frames += 1;
      const boxes = texts.map((e) => e.getBoundingClientRect());
      seen.last = boxes.map((r) => [Math.round(r.top), Math.round(r.bottom)]).concat([[innerHeight]]);
      if (boxes.every((r) => r.top >= 0 && r.bottom <= innerHeight)) seen.inView += 1;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""
"""Watches, frame by frame, whether the progress drawn over the output ``selector`` is inside the screen:
``window.__mmdemoProgress`` counts the frames it is drawn and those it is wholly in view, and notes whether Stop
(``stop``) showed."""
MIN_FRAMES = 3
"""Frames the progress must be drawn in for the frame checks to judge (the bug they catch showed it in 4–17)."""
TAPS = {"image": IMAGE_TAB, **{tab.controls: tab for tab in TAP_TABS}}
"""Each tab's main button (tests/test_browser_ux_tabs.py's table, and the Image tab's)."""


@pytest.mark.parametrize("tab", ["image", "t2i", "emotion", "video", "trip"])
@pytest.mark.parametrize("screen", ["zh_page"])
def test_on_a_phone_a_tap_shows_the_button_busy_and_the_progress(
    request: pytest.FixtureRequest, screen: str, tab: str
) -> None:
    """As tests/test_browser_ux_tabs.py checks it on an English phone: the visitor scrolls the button to the bottom
    edge and taps it; it reads "Working…" (处理中…) and is disabled, the output that carries the progress is brought
    into view, Stop shows; then the button is given back and the run has not failed. The Chinese page is shorter: an
    output that starts below the fold in English may peek onto the first screen by its top edge, so the progress
    drawn over it is watched frame by frame: some frame draws it wholly inside the screen."""
    page = _screen(request, screen)
    locale = _locale(page)
    spec = TAPS[tab]
    _tab(page, tab)
    button = page.locator(spec.button)
    if spec.example is not None:
        page.locator(spec.example).first.click()
        page.wait_for_function(spec.filled)
    page.wait_for_timeout(500)  # the tab's layout settles
    assert page.evaluate(BUTTON_AT_THE_BOTTOM_JS, spec.button), button.bounding_box()
    where = page.evaluate(WHERE_JS, [spec.button, spec.progress])
    if not page.mmdemo_chinese:  # (the Chinese page is shorter: its outputs' top edge can peek onto the first screen)
        assert page.evaluate(IN_VIEW_JS, spec.progress) is not spec.below, (spec.progress, spec.below, where)
    page.evaluate(PROGRESS_WATCH_JS, [spec.progress, f"#{spec.controls}-stop"])
    button.click()
    page.wait_for_function(BUTTON_JS, arg=[spec.button, Page("Working…").text(locale), True])
    try:
        page.wait_for_function(IN_VIEW_JS, arg=spec.progress)  # brought into view when the run started
    except PlaywrightTimeout:
        pytest.fail(f"{spec.progress} stays out of view after the tap: {page.locator(spec.progress).bounding_box()}")
    page.wait_for_function(BUTTON_JS, arg=[spec.button, Page(spec.label).text(locale), False], timeout=240_000)
    assert not page.locator(f"#{spec.controls}-stop").is_visible()
    assert not page.locator(f"#{spec.controls}-message").get_by_role("alert").count()  # the run did not fail
    page.mmdemo_ran.add(tab)
    seen = page.evaluate("() => { window.__mmdemoProgress.done = true; return window.__mmdemoProgress; }")
    if seen["frames"] < MIN_FRAMES:  # a warm tiny model can finish within a frame or two: nothing to judge
        return
    assert seen["stop"], (spec.controls, "Stop never showed while the run worked")  # (a fast run: seen per frame)
    if spec.below:  # an output that started below the fold, or peeked onto the screen by its top edge only
        assert seen["inView"] > 0, (spec.progress, "its progress never drawn inside the screen", seen, where)


# --- point 10: Many photos shows every column and the failed row ----------------------------------------------------


BATCH_HEADERS = {
    "en": ["file", "caption", "text", "question", "answer", "error"],
    "zh-CN": ["文件", "描述", "文字", "问题", "回答", "错误"],
}


@pytest.mark.parametrize("screen", ["zh_page"])
def test_many_photos_shows_every_column_and_the_failed_row(
    request: pytest.FixtureRequest, screen: str, photos: list[Path], odd_images: dict[str, Path]
) -> None:
    """Two photos and a damaged one, with text reading and a question: every column of the table and the failed
    row inside the table's box without scrolling, the notes one sentence (desktop and phone in English:
    tests/test_browser_ux_image.py)."""
    page = _screen(request, screen)
    locale = _locale(page)
    _tab(page, "image")
    if not page.locator("#batch-files").is_visible():
        page.locator("#batch-section .label-wrap").first.click()
    files = [str(photos[0]), str(photos[1]), str(odd_images["truncated.jpg"])]
    page.locator("#batch-files input[type=file]").set_input_files(files)
    read = page.get_by_label(Page("Also read the text in each photo").text(locale))
    question = page.locator("#batch-question input, #batch-question textarea").first
    read.check()
    question.fill("What colour is it?")
    try:
        run_to_the_end(page, "#batch-button")
        said = Message("batch.result", count=3, captioned=2, failed=1).text(locale)
        page.locator("#batch-notes").get_by_text(said, exact=False).wait_for()
        headers = [h.strip() for h in page.locator("#batch-table thead th").all_inner_texts()]
        assert [h for h in headers if h] == BATCH_HEADERS[locale], headers
        table = page.locator("#batch-table").bounding_box()
        damaged = Message("image.damaged").text(locale)
        failed = page.locator("#batch-table .body-cell").filter(has_text=re.split("[:：]", damaged)[0]).first
        for cell in [*page.locator("#batch-table thead th").all(), failed]:  # every column on screen, no scrolling
            box = cell.bounding_box()
            assert box is not None and table is not None
            assert box["x"] >= table["x"] - 1 and box["x"] + box["width"] <= table["x"] + table["width"] + 1, box
        assert failed.is_visible()
        notes = page.locator("#batch-notes").inner_text()
        assert notes.startswith(said), notes
        assert not ENGINEERING_RE.search(notes), notes  # batches, model time … folded under Details
        assert page.locator("#batch-downloads input[type=file]").count() == 0  # a result, never a drop zone
    finally:
        read.uncheck()
        question.fill("")


# --- point 13: no send button before a result, the send buttons after one -------------------------------------------

SENDING_TABS = {name: tab for tab, (name, _, _) in TABS.items() if name in SENDERS}
"""The tabs with send buttons (tests/test_browser_send_to.py's :data:`SENDERS`, by their English names)."""


def _unfold_transcript(page: Any) -> None:
    """The Video tab's Transcript section (folded by default) unfolded: its "Use as a prompt" can be seen."""
    if page.locator("#video-input").is_visible() and not page.locator("#video-transcript").is_visible():
        page.locator(".label-wrap:visible").filter(has_text=Page("Transcript").text(_locale(page))).first.click()
        page.locator("#video-transcript").wait_for()


@pytest.mark.parametrize("screen", ["zh_page"])
def test_no_send_button_before_a_result_and_each_after_one(
    request: pytest.FixtureRequest, browser: Any, app_url: str, screen: str, photos: list[Path]
) -> None:
    """On a page before any run every send button waits for a result (desktop and phone in English:
    tests/test_browser_send_to.py); after each tab's example run its send buttons show."""
    assert len(SENDING_TABS) == len(SENDERS) == 4
    fresh = _fresh(browser, app_url, screen)
    try:
        for name, (_, buttons) in SENDERS.items():
            _tab(fresh, SENDING_TABS[name])
            _unfold_transcript(fresh)
            fresh.wait_for_timeout(300)
            assert not [b for b in buttons if fresh.locator(b).is_visible()], name
    finally:
        fresh.close()
    page = _screen(request, screen)
    for name, (_, buttons) in SENDERS.items():
        _ran(page, SENDING_TABS[name], photos)
        _unfold_transcript(page)
        page.wait_for_timeout(300)
        transcript = page.locator("#video-transcript textarea").input_value().strip() if name == "Video" else ""
        expected = [b for b in buttons if b != "#video-to-prompt" or transcript]  # (nothing said: nothing to send)
        hidden = [b for b in expected if not page.locator(b).is_visible()]
        assert expected and not hidden, (name, hidden)


# --- point 15: the dark theme's labels, hints and lines readable ------------------------------------------------------


def _unreadable(page: Any, selectors: tuple[str, ...]) -> dict[str, float | None]:
    return {selector: r for selector, r in _contrasts(page, selectors).items() if r is None or r < 4.5}


@pytest.mark.parametrize("screen", ["phone", "zh_page"])
def test_in_the_dark_theme_labels_hints_and_lines_are_readable(
    browser: Any, app_url: str, offline_url: str, screen: str, odd_images: dict[str, Path]
) -> None:
    """What tests/test_browser_accessibility.py measures in Gradio's dark theme at desktop size in English (the
    light theme's texts of :data:`READABLE`, the error line, a fresh install's notice), at 4.5:1 or more."""
    page = _fresh(browser, f"{app_url}/?__theme=dark", screen)
    try:
        assert page.evaluate("() => !!document.querySelector('.dark .gradio-container')")
        page.locator("#caption-image .or").wait_for()  # the photo input empty: its upload zone shows
        page.locator("#caption-task label").nth(2).click()  # Ask a question
        page.locator("#vqa-question").wait_for()
        unreadable = _unreadable(page, READABLE["image"])
        page.locator("#caption-task label").nth(0).click()  # Caption
        page.locator("#caption-image input[type=file]").set_input_files(str(odd_images["truncated.jpg"]))
        page.locator("#caption-button").click()  # a damaged photo: the error line
        page.locator("#caption-message .mmdemo-message").wait_for()
        unreadable |= _unreadable(page, ("#caption-message .mmdemo-message",))
        _tab(page, "emotion")
        page.locator("#emotion-audio .or").wait_for()
        unreadable |= _unreadable(page, READABLE["emotion"])
    finally:
        page.close()
    page = _fresh(browser, f"{offline_url}/?__theme=dark", screen)
    try:
        notice = page.locator("#caption-availability")
        notice.locator("summary").first.click()  # unfolded: what is missing, and the operator's fix
        notice.locator("li").first.wait_for()
        unreadable |= _unreadable(page, ("#caption-availability summary", "#caption-availability li"))
    finally:
        page.close()
    assert not unreadable, unreadable


# --- point 8: offline, the missing emotion model said once, in place ----------------------------------------------


@pytest.mark.parametrize("screen", ["zh_page"])
def test_offline_the_missing_emotion_is_said_once_in_place(browser: Any, offline_url: str, screen: str) -> None:
    """No emotion model: no empty emotion box and no collapsed timeline, before a run or after it; one sentence
    right under the button says what is missing (once on the page), which models in Details (desktop and phone in
    English: tests/test_browser_audio_emotion.py)."""
    page = _fresh(browser, offline_url, screen)
    locale = _locale(page)
    try:
        _tab(page, "emotion")
        page.locator("#emotion-button").wait_for()  # the tab is drawn: its boxes are there or left out
        for box in EMOTION_BOXES:
            assert page.locator(box).is_hidden(), box  # no box is drawn empty before a run either
        page.locator("#emotion-audio input[type=file]").set_input_files(get_audio("cate_blanch.mp3"))
        page.locator("#emotion-audio a[data-testid='download-link']").wait_for(state="attached")
        page.locator("#emotion-button").click()
        page.wait_for_function(
            "() => (document.querySelector('#emotion-transcript textarea') || {}).value?.includes('dagger')",
            timeout=120_000,
        )
        head = re.match(r"\*\*(.+?)\*\*", Message("emotion.summary.no_estimate").text(locale))
        assert head is not None
        page.wait_for_function(
            "(h) => document.querySelector('#emotion-notes')?.innerText.includes(h)", arg=head.group(1)
        )
        page.wait_for_timeout(500)  # the boxes' visibility follows the results
        headline = page.locator("#emotion-notes strong").first
        assert headline.count() and headline.inner_text() == head.group(1), page.locator("#emotion-notes").inner_text()
        for box in EMOTION_BOXES:
            assert page.locator(box).is_hidden(), box
        text = page.locator(".gradio-container").first.inner_text()
        heads = {head.group(1).rstrip(":："), re.split("[:：]", Message("emotion.no_estimate").text(locale))[0]}
        assert sum(text.count(h) for h in heads) == 1, (heads, text)  # said once ("No emotion estimate", twice)
        unavailable = Message("model.not_installed", title="").text(locale)
        assert unavailable[: unavailable.index("：" if page.mmdemo_chinese else ":")] not in text, text
        notes = page.locator("#emotion-notes").inner_text()
        assert "superb/wav2vec2-base-superb-er" not in notes and "pip:" not in notes, notes
        button = page.locator("#emotion-button").bounding_box()
        said = page.locator("#emotion-notes").bounding_box()
        assert button and said and 0 <= said["y"] - (button["y"] + button["height"]) < 80, (button, said)
        page.locator("#emotion-notes summary").first.click()
        details = page.locator("#emotion-notes details").inner_text()
        pitch = Message("emotion.summary.median_pitch", hz=0).text(locale).split("0")[0].strip()
        assert "superb/wav2vec2-base-superb-er" in details and pitch in details, details
    finally:
        page.close()


# --- point 5 on a phone: after each tab's example run, no English of the app's own ----------------------------------

DATA = ", ".join(
    [
        I18N_SKIPPED,  # tests/test_browser_i18n.py's: code, text boxes, the Evaluate data, file names …
        "#batch-table :is(td, [role=gridcell]), #batch-files, #batch-downloads, [id$=examples]",  # captions, files
        "#video-gallery .caption-label, #video-files, #video-input",  # what the models saw; the files
    ]
)
"""What is data on the page after the example runs: model output, file names, example prompts, model ids."""
NAMES = {"CPU", "TAESD", "VAE"}
"""Names the Chinese page keeps (Text to image's decoder choices, shown once its Advanced options are open)."""
CHAPTER_DATA = ("#video-gallery .caption-label", "#video-chapters strong")
"""The video's chapters quote what the models saw in a line of the app's: those words are data wherever shown."""


@pytest.mark.parametrize("run", RUNS)
def test_on_a_chinese_phone_each_example_run_leaves_no_english_of_the_apps(
    request: pytest.FixtureRequest, run: str, photos: list[Path]
) -> None:
    """Point 5 at phone size (tests/test_browser_i18n.py and the tabs' own modules check a Chinese desktop): the
    words of tests/test_browser_i18n.py's check, outside data; words the app quotes (“…”: the end of a prompt cut
    off) and the keyframes' captions, which the chapters quote, are data too."""
    page = _ran(_screen(request, "zh_page"), run, photos)
    data = [*re.findall(r"“(.*?)”", page.inner_text("body"))]
    for selector in CHAPTER_DATA:
        data += page.locator(selector).all_inner_texts()
    words = set(re.findall(r"[A-Za-z][A-Za-z'-]*", " ".join(data)))
    left = {word for word in page.evaluate(ENGLISH_WORDS_JS, DATA) if word not in I18N_NAMES | NAMES | words}
    assert left == set(), (run, left)
