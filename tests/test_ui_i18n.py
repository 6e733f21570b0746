"""English and Simplified Chinese: the catalogues are complete and consistent, the page's every string is a
translation key, the API stays English, and messages from the server follow the request's Accept-Language."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest
from gradio.i18n import I18nData

from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.ui import i18n
from mmdemo.ui.i18n import (
    CATALOGUES,
    I18N,
    MESSAGES,
    UI,
    english,
    locale_from_header,
    placeholders,
    request_locale,
    say,
    tr,
    translate,
)

ZH = "zh-CN"
HAN = re.compile(r"[\u4e00-\u9fff]")


def zh_request(header: str = "zh-CN,zh;q=0.9,en;q=0.8") -> Any:
    return SimpleNamespace(headers={"accept-language": header})


@pytest.fixture(scope="module")
def offline_app() -> gr.Blocks:
    """The app on a fresh offline install (nothing installed, nothing loaded: built in a second)."""
    from mmdemo.ui import build_app

    return build_app(ModelManager(Settings(device="cpu", offline=True)))


# --- the catalogues ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CATALOGUES))
def test_every_entry_has_both_languages_and_the_same_placeholders(name: str) -> None:
    english_entries = UI if name == "ui" else MESSAGES
    for locale, translated in CATALOGUES[name].items():
        assert set(translated) == set(english_entries), locale
        for text, other in translated.items():
            assert text.strip() and other.strip(), (locale, text)
            assert placeholders(text) == placeholders(other), (locale, text, other)
            # only {name} placeholders: no other braces (Gradio's browser side reads ICU message syntax)
            assert "{" not in re.sub(r"\{[a-z_]+\}", "", text + other), (locale, text)
            if locale == ZH and HAN.search(text) is None:
                assert HAN.search(other) or other == text, (text, other)  # Chinese wherever there are words


def test_gradio_gets_every_key_in_every_language_with_nothing_its_parser_misreads() -> None:
    assert list(I18N.translations) == ["en", ZH]
    assert set(I18N.translations["en"]) == set(I18N.translations[ZH])
    assert len({i18n._key(text) for text in UI}) == len(UI)  # no two strings share a key
    for locale, texts in I18N.translations.items():
        for key, text in texts.items():
            assert re.fullmatch(r"mmdemo\.[a-z0-9_]*\.[0-9a-f]{6}(\.[0-9a-f]{8})?", key)
            assert text.strip() and not set(text) & set("{}<>"), (locale, key, text)


def test_tr_gives_keys_only_for_catalogue_entries_and_fills_values() -> None:
    key = tr("Run")
    assert isinstance(key, I18nData) and english(key) == "Run" and I18N.translations[ZH][key.key] == "运行"
    filled = tr("0–{max_seed}; untick Random seed to use it.", max_seed=99)
    assert english(filled) == "0–99; untick Random seed to use it."
    assert I18N.translations[ZH][filled.key] == "0–99；取消勾选“随机种子”后生效。"
    assert english(str(filled)) == "0–99; untick Random seed to use it."  # the serialised form too
    with pytest.raises(KeyError):
        tr("Not in the catalogue")
    with pytest.raises(KeyError):
        tr("0–{max_seed}; untick Random seed to use it.")  # a value left out


def _texts(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return [value]


def test_every_string_on_the_page_is_translated(offline_app: gr.Blocks) -> None:
    """Labels, info lines, placeholders, buttons, Markdown, accordions, tabs, choices and examples: each one a
    translation key; a table's headers (translated on the server) and numbers (sizes) are the only plain text."""
    plain = []
    for block in offline_app.blocks.values():
        for prop in ("label", "info", "placeholder", "x_title", "y_title"):
            value = getattr(block, prop, None)
            if isinstance(value, str) and value.strip():
                plain.append((type(block).__name__, prop, value))
        value = getattr(block, "value", None) if isinstance(block, (gr.Button, gr.Markdown)) else None
        if isinstance(value, str) and value.strip() and not re.fullmatch(r"__i18n__\{[^}]*\}", value):
            plain.append((type(block).__name__, "value", value))  # a button's or Markdown's key is kept as text
        for label, _ in getattr(block, "choices", None) or []:
            if isinstance(label, str) and not re.fullmatch(r"\d+ × \d+", label):
                plain.append((type(block).__name__, "choice", label))
    assert plain == []
    tabs = [english(b.label) for b in offline_app.blocks.values() if isinstance(b, gr.Tab)]
    assert tabs == ["Image", "Text to image", "Emotion", "Video", "Round trip", "Evaluate"]
    assert {I18N.translations[ZH][b.label.key] for b in offline_app.blocks.values() if isinstance(b, gr.Tab)} == {
        "图像",
        "文生图",
        "情绪",
        "视频",
        "往返",
        "评测",
    }


def test_the_api_description_is_english(offline_app: gr.Blocks) -> None:
    info = offline_app.get_api_info()
    assert "__i18n__" not in str(info)
    vqa = info["named_endpoints"]["/vqa"]
    assert [p["label"] for p in vqa["parameters"]] == ["Photo", "Question", "Beams"]
    assert [r["label"] for r in info["named_endpoints"]["/ocr"]["returns"]] == [
        "Text found (boxes on the photo)",
        "Result",
        "Lines found",
    ]


def test_launch_gets_the_translations(offline_app: gr.Blocks) -> None:
    from mmdemo.ui import launch_kwargs

    assert launch_kwargs(ModelManager(Settings(device="cpu", offline=True)))["i18n"] is I18N


# --- the request's language ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH),
        ("zh", ZH),
        ("zh-Hans-SG", ZH),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh;q=0.5", ZH),  # French is not offered: the next language wanted is
        ("de;q=0.9, zh-CN;q=0.3, en;q=0.7", "en"),
        ("zh-TW,zh-HK;q=0.9", "en"),  # Traditional Chinese is not offered
        ("zh-CN;q=0", "en"),
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("zh;q=abc, en;q=0.5", "en"),
    ],
)
def test_the_language_comes_from_accept_language(header: str | None, locale: str) -> None:
    assert locale_from_header(header) == locale


def test_the_request_is_found_where_gradio_and_the_gate_keep_it() -> None:
    assert request_locale() == "en"  # no request: English
    assert request_locale(zh_request()) == ZH
    assert request_locale([zh_request()]) == ZH  # batched events get a list
    token = i18n.current_request.set(zh_request())
    try:
        assert request_locale() == ZH and say("Cancelled") == "已取消"
    finally:
        i18n.current_request.reset(token)
    assert request_locale(SimpleNamespace()) == "en"


# --- messages from the server --------------------------------------------------------------------


def test_messages_are_translated_with_their_values_and_unknown_ones_stay_english() -> None:
    assert translate("No image was provided: upload one.", ZH) == "没有提供图片：请上传一张。"
    assert translate("No image was provided: upload one.", "en") == "No image was provided: upload one."
    assert (
        translate("The question is too long (400 characters; at most 300).", ZH)
        == "问题太长（400 个字符；最多 300 个）。"
    )
    # a field named by its label: the label translated, the API name kept
    assert (
        translate("Steps (steps) must be a whole number from 0 to 50 (got str 'x').", ZH)
        == "步数（steps）必须是介于 0 和 50 之间的整数（收到的是 str 'x'）。"
    )
    assert translate("Size (size) must be text (got int 5).", ZH) == "尺寸（size）必须是文本（收到的是 int 5）。"
    unknown = "The moon is made of cheese (got 3)."
    assert translate(unknown, ZH) == unknown
    assert (
        translate("Somebody (x) must be true or false (got 3).", ZH)
        == "Somebody (x)必须是 true 或 false（收到的是 3）。"
    )
    assert (
        say("{seconds} s ago", ZH, seconds=12) == "12 秒前" and say("{seconds} s ago", "en", seconds=12) == "12 s ago"
    )
    with pytest.raises(KeyError):
        say("Not in any catalogue")


def test_the_backend_messages_users_meet_most_are_in_the_catalogue() -> None:
    """The catalogue holds these sentences word for word: a changed message would silently stay English."""
    from mmdemo.errors import ModelUnavailableError
    from mmdemo.media import audio, image, video
    from mmdemo.tasks.captioning import check_question
    from mmdemo.tasks.text_to_image import check_prompt
    from mmdemo.ui.common import UNEXPECTED

    messages = [UNEXPECTED, image.NO_IMAGE, audio.NO_AUDIO, video.NO_VIDEO, image._DAMAGED, audio._DAMAGED]
    messages += [video._DAMAGED, image._SVG, image._HEIC, video._AUDIO_ONLY_HINT]
    for check in (lambda: check_prompt(""), lambda: check_question(" "), lambda: check_question("x" * 1000)):
        with pytest.raises(InputError) as err:
            check()
        messages.append(str(err.value))
    messages.append(str(ModelUnavailableError("vqa", "Salesforce/blip-vqa-base", "not cached")))
    from mmdemo.models.specs import SPECS

    messages += [spec.title for spec in SPECS.values()]
    for message in messages:
        assert HAN.search(translate(message, ZH)), message


def test_errors_of_model_events_are_in_the_browsers_language() -> None:
    from mmdemo.ui.common import guarded

    def handler(text: str) -> str:
        if text == "bug":
            raise RuntimeError("internal detail")
        raise InputError("Type a question about the image first.")

    wrapped = guarded(handler)
    with pytest.raises(gr.Error) as err:
        wrapped("x", request=zh_request())
    assert err.value.message == "请先输入一个关于这张图片的问题。" and err.value.title == "无法完成"
    with pytest.raises(gr.Error) as err:
        wrapped("bug", request=zh_request())
    assert err.value.message.startswith("处理此请求时发生了意外错误") and err.value.title == "意外错误"
    with pytest.raises(gr.Error) as err:
        wrapped("x", request=zh_request("en-GB"))
    assert err.value.message == "Type a question about the image first." and err.value.title == "Cannot do that"


def test_prechecks_notices_and_the_models_panel_follow_the_language() -> None:
    from mmdemo.ui.availability import tab_availability
    from mmdemo.ui.common import precheck, status_rows

    offline = ModelManager(Settings(device="cpu", offline=True))
    token = i18n.current_request.set(zh_request())
    try:
        with pytest.raises(gr.Error) as err:
            precheck(offline, ("vqa",))(None, "")
        assert err.value.message.startswith("本服务器无法使用视觉问答") and err.value.title == "此处不可用"

        def no_image(image: Any) -> None:
            raise InputError("No image was provided: upload one.")

        with pytest.raises(gr.Error) as err:
            precheck(offline, (), no_image)(None)
        assert err.value.message == "没有提供图片：请上传一张。" and err.value.title == "请检查输入"
    finally:
        i18n.current_request.reset(token)
    notice = tab_availability(offline, "generate", ZH).notice
    assert "本服务器无法使用<strong>生成</strong>：其模型（<code>stabilityai/sd-turbo</code>）未安装。" in notice
    assert "<summary>运维信息</summary>" in notice and "python -m mmdemo prefetch" in notice  # the fix stays English
    emotion = tab_availability(offline, "emotion", ZH).notice
    assert "此处未安装语音情绪（声学）：无法从声音判断情绪（时间线保持为空）。" in emotion
    rows = {row[2]: row for row in status_rows(offline, ZH)}
    assert (
        rows["Salesforce/blip-vqa-base"][:2] == ["视觉问答", "图像"] and rows["Salesforce/blip-vqa-base"][3] == "未加载"
    )
    assert status_rows(offline)[0][0] == "Image captioning"


# --- over HTTP -----------------------------------------------------------------------------------


def test_a_chinese_browser_gets_chinese_errors_and_an_api_client_english_ones(app_url: str) -> None:
    from mmdemo.testing.http import call_raw, upload

    photo = str(Path(__file__).resolve().parents[1] / "assets" / "images" / "lion.jpg")
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    empty_question = call_raw(app_url, "vqa", [upload(app_url, photo), "", 1], headers=chinese)
    assert empty_question.message == "请先输入一个关于这张图片的问题。"
    refused = call_raw(app_url, "vqa", [upload(app_url, photo), "What?", "x"], headers=chinese)  # the gate
    assert refused.message == "束宽（num_beams）必须是介于 1 和 8 之间的整数（收到的是 str 'x'）。"
    assert refused.data.get("title") == "请检查输入"
    english_client = call_raw(app_url, "vqa", [upload(app_url, photo), "", 1])
    assert english_client.message == "Type a question about the image first."
