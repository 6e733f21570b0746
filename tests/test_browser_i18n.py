"""The app in a Chinese browser (headless Chromium, locale zh-CN): every tab in Chinese, server messages in
Chinese, and the Settings panel's language switch back to English. Screenshots of each tab go to
``$MMDEMO_SCREENSHOTS`` (default ``test-artifacts/screenshots``).

The session's browser is one persistent context (its locale fixed at launch, and a second Playwright cannot
start beside it), so this module's tab gets the zh-CN locale as Playwright's own ``locale`` option sets it:
through the DevTools protocol, the browser language (``navigator.language``, ``Accept-Language``) and ICU
locale of this tab only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mmdemo.testing.browser import DESKTOP, PHONE, open_page, run_to_the_end

ROOT = Path(__file__).resolve().parents[1]
HAN = re.compile(r"[\u4e00-\u9fff]")
TABS = {
    # tab: (its Chinese name, its main button, Chinese labels shown in it, the same labels in English)
    "image": ("图像", "运行", ["照片", "任务", "结果", "示例照片（第一张含有可识别的文字）"], ["Photo", "Result"]),
    "text-to-image": ("文生图", "生成", ["图片", "示例提示词", "高级选项"], ["Example prompts", "Advanced"]),
    "emotion": ("情绪", "分析", ["语音", "示例录音", "总体情绪", "转写文本"], ["Speech", "Overall emotion"]),
    "video": ("视频", "总结", ["示例视频", "摘要", "关键帧", "章节"], ["Keyframes", "Chapters"]),
    "round-trip": (
        *("往返", "开始往返", ["照片的描述", "根据描述生成的图片", "生成图片的描述"]),
        ["Caption of the photo", "Generated from the caption"],
    ),
    "evaluate": (
        *("评测", "评测", ["试一个示例（点一下即开始）：", "标牌与便条：文字识别", "数据集（zip）"]),
        ["Metrics", "Signs and notes: reading text"],
    ),
}


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("MMDEMO_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def zh_page(browser, app_url: str):
    page = open_page(browser, app_url, chinese=True)
    assert page.evaluate("navigator.language") == "zh-CN"
    yield page
    page.close()


def _visible_text(page) -> str:
    return page.locator(".gradio-container").first.inner_text()


def test_every_tab_is_in_chinese(zh_page) -> None:
    page = zh_page
    page.get_by_text("看图说话、文字生成图片、语音情绪分析和视频摘要", exact=False).first.wait_for()  # the intro
    for name, (tab, button, labels, english_labels) in TABS.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        page.get_by_role("button", name=button, exact=True).first.wait_for()
        for label in labels:
            page.get_by_text(label, exact=True).first.wait_for(state="visible")
        text = _visible_text(page)
        assert "__i18n__" not in text  # no key shown as such
        for label in english_labels:
            assert not re.search(rf"(?m)^{re.escape(label)}$", text), (name, label)
        page.screenshot(path=str(screenshot_dir() / f"i18n-zh-CN-{name}.png"), full_page=True)
    assert page.get_by_role("button", name="Run", exact=True).count() == 0


def test_a_refused_request_says_why_in_chinese(zh_page) -> None:
    page = zh_page
    page.get_by_role("tab", name="文生图", exact=True).click()
    page.locator("#t2i-prompt textarea").fill("")
    page.get_by_role("button", name="生成", exact=True).click()
    toast = page.get_by_test_id("toast-body").filter(has_text="请先输入提示词").first
    toast.wait_for()
    assert "请先输入提示词：描述你想要的图片。" in toast.inner_text()  # (its header, "Error", is Gradio's own word)
    page.screenshot(path=str(screenshot_dir() / "i18n-zh-CN-error.png"), full_page=True)
    toast.get_by_test_id("toast-close").click()


def test_the_models_panel_is_in_chinese(zh_page) -> None:
    page = zh_page
    page.get_by_text("模型：加载了哪些、在哪里、占多大").click()
    page.get_by_role("button", name="刷新", exact=True).click()
    page.wait_for_function(
        "() => { const t = document.querySelector('#model-status');"
        " return t && t.innerText.includes('图像描述') && t.innerText.includes('上次使用'); }"
    )
    headers = [h.strip() for h in page.locator("#model-status th").all_inner_texts()]
    assert headers == ["任务", "用于", "模型", "状态", "位置 · 精度 · 大小", "文件", "上次使用", "问题"], headers
    table = page.locator("#model-status").inner_text()
    assert "本地文件夹“captioner”" in table and "local folder" not in table  # the values too
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_timeout(300)
    for header in page.locator("#model-status thead th span.header").all():  # no header a letter per line
        line = float(header.evaluate("s => parseFloat(getComputedStyle(s).lineHeight)"))
        assert header.bounding_box()["height"] < 2.5 * line, header.inner_text()
    problem = page.locator("#model-status thead th").last.bounding_box()
    assert problem is not None and problem["x"] + problem["width"] <= 1440, problem
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.get_by_text("模型：加载了哪些、在哪里、占多大").click()  # folded again


ENGLISH_WORDS_JS = r"""(skip) => {
  // Words in Latin letters the visitor sees, outside model output and data (code, text boxes, the items table,
  // plots, file names of uploads and examples): the app's own words must be Chinese.
  const words = [];
  const walker = document.createTreeWalker(document.querySelector('.gradio-container'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility()) continue;
    // a file name (data: "meeting-note.png") is not a word of the app's
    const text = node.textContent.replace(/[\w.-]+\.(png|jpe?g|wav|mp3|flac|mp4|zip|jsonl?|csv|md|srt)\b/gi, ' ');
    words.push(...(text.match(/[A-Za-z][A-Za-z'-]{2,}/g) || []));
  }
  return words;
}"""
SKIPPED = ", ".join(
    [
        "code, textarea, svg, img, footer, #model-panel",  # (the Models panel: model ids and devices, its data)
        "#emotion-audio, #emotion-examples",  # the recording's and the examples' file names
        "#eval-zip, #eval-json, #eval-plots, #eval-items",  # the data set: file names, references, predictions
        ".sr-only",  # Gradio 6.31's own screen-reader line after a run: its untranslated key "common.complete"
    ]
)
NAMES = {"mmdemo", "API", "Gradio", "zip", "metadata", "jsonl", "JSON", "BLEU", "CIDEr", "OCR", "VQA", "CLIP", "CER"}
NAMES |= {"CIDEr-D", "WER", "Hz"}
"""Names that are the same in every language: the app, file formats, metrics."""


def _english_words(page) -> list[str]:
    for details in page.locator(".gradio-container details").all():  # Details sections opened: read them too
        if details.is_visible():
            details.evaluate("d => d.open = true")
    return [word for word in page.evaluate(ENGLISH_WORDS_JS, SKIPPED) if word not in NAMES]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_emotion_result_is_in_chinese(zh_page, size: dict[str, int]) -> None:
    """The headline emotion word, the notes, the label matching and the models: all Chinese (the transcript,
    model output, stays as the model wrote it)."""
    page = zh_page
    page.set_viewport_size(size)
    page.get_by_role("tab", name="情绪", exact=True).click()
    page.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
    page.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
    run_to_the_end(page, "#emotion-button")
    headline = page.locator("#emotion-overall h2, #emotion-overall .output-class").first.inner_text().strip()
    assert headline in {"中性", "开心", "悲伤", "愤怒"}, headline  # the Label's big word
    notes = page.locator("#emotion-notes").inner_text()
    assert re.match(r"^(中性|开心|悲伤|愤怒)（\d+%），依据", notes), notes
    assert (english := _english_words(page)) == [], english
    page.screenshot(path=str(screenshot_dir() / f"i18n-zh-CN-emotion-result-{size['width']}.png"), full_page=True)


def test_the_evaluate_example_and_its_results_are_in_chinese(zh_page) -> None:
    page = zh_page
    page.set_viewport_size(DESKTOP)
    page.get_by_role("tab", name="评测", exact=True).click()
    page.locator("#eval-options").get_by_text("选项", exact=True).click()
    page.locator("#eval-limit input").fill("2")
    page.locator("#eval-example-text-images").click()
    page.wait_for_function(
        "() => (document.querySelector('#eval-summary') || {}).innerText?.includes('示例“标牌与便条：文字识别”')",
        timeout=180_000,
    )
    page.locator("#eval-metrics").get_by_text("已计分条目", exact=True).wait_for()
    headers = [h.strip() for h in page.locator("#eval-metrics th").all_inner_texts()]
    assert headers == ["指标", "数值"], headers
    assert (english := _english_words(page)) == [], english
    page.screenshot(path=str(screenshot_dir() / "i18n-zh-CN-evaluate-result.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_the_settings_switch_the_page_to_english(zh_page) -> None:
    page = zh_page
    page.get_by_role("tab", name="图像", exact=True).click()
    page.locator("footer").get_by_text("设置", exact=True).click()
    language = page.get_by_label("Language").or_(page.locator(".settings input[role=listbox]")).first
    language.click()
    page.get_by_role("option", name="English", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Image", exact=True).wait_for()
    page.get_by_role("button", name="Run", exact=True).wait_for()
    assert page.get_by_text("Photo", exact=True).count() >= 1
    assert not HAN.search(page.get_by_role("tab", name="Text to image", exact=True).inner_text())


SWITCHES = {
    # browser: (Chinese browser, the footer's Settings, the language picked, Text to image's button, the Models
    #           panel, its Refresh, the refusal of an empty prompt and the panel's first header in the language picked)
    "en-to-zh": (
        *(False, "Settings", "简体中文", "生成", "模型：加载了哪些、在哪里、占多大", "刷新"),
        *("请先输入提示词：描述你想要的图片。", "任务"),
    ),
    "zh-to-en": (
        *(True, "设置", "English", "Generate", "Models: what is loaded, where, how big", "Refresh"),
        *("Type a prompt first: a description of the image you want.", "Task"),
    ),
}


@pytest.mark.parametrize("switch", list(SWITCHES))
def test_the_server_answers_in_the_language_picked_in_settings(browser, app_url: str, switch: str) -> None:
    """Gradio's Settings → Language switches the page in the browser only; the server's messages (a refusal, the
    Models panel's table) follow it, not the browser's language (``Accept-Language``)."""
    chinese, settings, language, button, panel, refresh, refusal, header = SWITCHES[switch]
    page = open_page(browser, app_url, chinese=chinese)
    try:
        page.locator("footer").get_by_text(settings, exact=True).click()
        page.get_by_label("Language").or_(page.locator(".settings input[role=listbox]")).first.click()
        page.get_by_role("option", name=language, exact=True).click()
        page.get_by_role("dialog").locator("button").first.click()  # its close button (Escape does not close it)
        page.locator("button[role=tab][data-tab-id=generate]").click()
        page.locator("#t2i-prompt textarea").fill("")
        page.get_by_role("button", name=button, exact=True).click()  # the page is in the language picked
        said = page.locator("[data-testid=toast-body], .mmdemo-message").filter(has_text=refusal).first
        said.wait_for()
        assert refusal in said.inner_text()
        assert bool(HAN.search(said.inner_text())) == (not chinese)
        page.get_by_text(panel, exact=True).click()
        page.get_by_role("button", name=refresh, exact=True).click()
        page.wait_for_function(
            "(header) => [...document.querySelectorAll('#model-status th')].some(th => th.innerText.trim() === header)",
            arg=header,
        )
        assert page.locator("#model-status th").first.inner_text().strip() == header
    finally:
        page.close()
