"""English and Simplified Chinese: the page's catalogue is complete and consistent, the page's every string is a
translation key, the API stays English, and messages from the server follow the request's Accept-Language.
(The message catalogues' completeness, read from the source, is ``tests/test_messages.py``.)"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest
from gradio.i18n import I18nData

from mmdemo.errors import InputError, MMDemoError
from mmdemo.messages import Message, Page
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.ui import i18n
from mmdemo.ui.i18n import (
    I18N,
    LOCALE_COOKIE,
    LOCALE_JS,
    UI,
    english,
    locale_from_header,
    locale_of_headers,
    localized,
    placeholders,
    request_locale,
    tr,
    user_error,
)

ZH = "zh-CN"
HAN = re.compile(r"[\u4e00-\u9fff]")


def zh_request(header: str = "zh-CN,zh;q=0.9,en;q=0.8") -> Any:
    return SimpleNamespace(headers={"accept-language": header})


def run_coroutine(coroutine: Any) -> Any:
    """``asyncio.run(coroutine)`` in a thread of its own: a browser test earlier in the session may leave an event
    loop running in this one."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def offline_app() -> gr.Blocks:
    """The app on a fresh offline install (nothing installed, nothing loaded: built in a second)."""
    from mmdemo.ui import build_app

    return build_app(ModelManager(Settings(device="cpu", offline=True)))


# --- the catalogues ------------------------------------------------------------------------------


def test_every_page_entry_has_chinese_and_the_same_placeholders() -> None:
    for text, other in UI.items():
        assert text.strip() and other.strip(), text
        assert placeholders(text) == placeholders(other), (text, other)
        # only {name} placeholders: no other braces (Gradio's browser side reads ICU message syntax)
        assert "{" not in re.sub(r"\{[a-z_]+\}", "", text + other), text
        if HAN.search(text) is None:
            assert HAN.search(other) or other == text, (text, other)  # Chinese wherever there are words


def test_gradio_gets_every_key_in_every_language_with_nothing_its_parser_misreads() -> None:
    assert list(I18N.translations) == ["en", ZH]
    assert set(I18N.translations["en"]) == set(I18N.translations[ZH])
    assert len({i18n._key(text) for text in UI}) == len(UI)  # no two strings share a key
    for locale, texts in I18N.translations.items():
        for key, text in texts.items():
            assert re.fullmatch(r"mmdemo\.[a-z0-9_]*\.[0-9a-f]{6}(\.[0-9a-f]{8})?", key) or key in i18n.GRADIO_GAPS
            # Braces are ICU placeholders to Gradio's parser; tags only in values the server renders as HTML
            # (``page_value``: the availability notice, drawn by the browser tests in both languages).
            forbidden = "{}" if key.startswith("mmdemo.value.") else "{}<>"
            assert text.strip() and not set(text) & set(forbidden), (locale, key, text)


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
        assert request_locale() == ZH and Message("title.slow_down").text(request_locale()) == "请稍候"
    finally:
        i18n.current_request.reset(token)
    assert request_locale(SimpleNamespace()) == "en"


def gradio_request(**headers: str) -> gr.Request:
    """A ``gr.Request`` as Gradio makes it for an event, around the HTTP request with ``headers``."""
    from starlette.requests import Request

    raw = [(name.replace("_", "-").encode(), value.encode("latin-1")) for name, value in headers.items()]
    return gr.Request(Request({"type": "http", "method": "POST", "path": "/", "headers": raw}))


@pytest.mark.parametrize(
    ("cookie", "accept_language", "locale"),
    [
        ("mmdemo-locale=zh-CN", "en-US,en;q=0.9", ZH),  # English browser, page switched to Chinese in Settings
        ("mmdemo-locale=en", "zh-CN,zh;q=0.9", "en"),  # and the reverse
        ("other=1; mmdemo-locale=zh-CN; theme=dark", "en-US", ZH),  # among other cookies
        ("mmdemo-locale=zh-CN", "", ZH),
        ("mmdemo-locale=fr", "zh-CN", ZH),  # not a locale of the app: Accept-Language
        ("mmdemo-locale=zh", "en-US", "en"),  # only LOCALES exactly, not tags (the page sends the locale)
        ("mmdemo-locale=ZH-cn", "en-US", "en"),
        ("mmdemo-locale=<script>", "zh-CN", ZH),
        ("mmdemo-locale=", "zh-CN", ZH),
        ("other-locale=zh-CN", "en-US", "en"),  # absent
        ("", "zh-CN", ZH),
        ("", "", "en"),
    ],
)
def test_the_pages_language_comes_first_from_its_cookie(cookie: str, accept_language: str, locale: str) -> None:
    headers = {"cookie": cookie, "accept-language": accept_language}
    assert request_locale(gradio_request(**headers)) == locale
    assert request_locale(SimpleNamespace(headers=headers)) == locale  # a request kept as its headers
    assert locale_of_headers(headers) == locale


def test_the_page_tells_the_server_its_language(offline_app: gr.Blocks) -> None:
    """The script that keeps the cookie in step with the page is in every page's head."""
    from mmdemo.ui import launch_kwargs

    head = launch_kwargs(ModelManager(Settings(device="cpu", offline=True)), offline_app)["head"]
    assert head.count(LOCALE_JS) == 1 and head.startswith(LOCALE_JS)
    assert '{"locales": ["en", "zh-CN"], "cookie": "mmdemo-locale"}' in LOCALE_JS
    assert "document.documentElement.lang" in LOCALE_JS and "MutationObserver(keep)" in LOCALE_JS


def test_the_queue_refuses_in_the_pages_language() -> None:
    """A refusal before the event runs (too many jobs: a toast on the page) follows the page, too."""
    import json

    from mmdemo.ui.access import AccessPolicy
    from mmdemo.ui.admission import Admission, JobAdmissionMiddleware

    waiting = SimpleNamespace(username=None, request=SimpleNamespace(client=SimpleNamespace(host="10.0.0.5")))
    queue = SimpleNamespace(event_queue_per_concurrency_id={"lane": SimpleNamespace(queue=[waiting])}, active_jobs=[])
    app = JobAdmissionMiddleware(None, SimpleNamespace(admission=Admission(max_jobs=1), _queue=queue), AccessPolicy())

    def refusal(cookie: str) -> str:
        headers = [(b"accept-language", b"en-US,en"), (b"cookie", cookie.encode())]
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "client": ("10.0.0.5", 1)}
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        run_coroutine(app({**scope, "headers": headers}, None, send))
        assert sent[0]["status"] == 429
        return json.loads(sent[1]["body"])["detail"]

    chinese = "你已有 1 个请求在排队或运行（每位用户最多 1 个）。请等其中一个完成后再试。"
    assert refusal("mmdemo-locale=zh-CN") == chinese
    assert refusal("mmdemo-locale=xx").startswith("You already have 1 request")


# --- messages from the server --------------------------------------------------------------------


def chinese(value: Any) -> str:
    """``value`` (an error, a message, page text) as a Chinese browser reads it."""
    if isinstance(value, MMDemoError):
        value = value.message
    assert isinstance(value, (Message, Page)), f"not keyed: {value!r}"
    return value.text(ZH)


def test_the_backend_messages_users_meet_most_are_in_chinese() -> None:
    from mmdemo.errors import ModelUnavailableError
    from mmdemo.media.audio import require_audio
    from mmdemo.media.image import require_image
    from mmdemo.media.video import require_video
    from mmdemo.models.specs import SPECS
    from mmdemo.tasks.captioning import check_question
    from mmdemo.tasks.text_to_image import check_prompt
    from mmdemo.ui.events import UNEXPECTED

    messages: list[Any] = [UNEXPECTED, ModelUnavailableError("vqa", "Salesforce/blip-vqa-base", "not cached")]
    for check in (
        lambda: require_image(None),
        lambda: require_audio(None),
        lambda: require_video(None),
        lambda: check_prompt(""),
        lambda: check_question(" "),
        lambda: check_question("x" * 1000),
    ):
        with pytest.raises(InputError) as err:
            check()
        messages.append(err.value)
    messages += [Page(spec.title) for spec in SPECS.values()]
    for message in messages:
        assert HAN.search(chinese(message)), message


def test_keyed_errors_and_their_titles_are_rendered_in_the_requests_language() -> None:
    error = user_error(Message("caption.no_question"), Message("title.slow_down"))
    assert (error.message, error.title) == ("Type a question about the image first.", "Slow down")  # English
    assert localized(error, "en") is error
    chinese_error = localized(error, ZH)
    assert (chinese_error.message, chinese_error.title) == ("请先输入一个关于这张图片的问题。", "请稍候")
    assert chinese_error.args == (chinese_error.message,) and error.message.startswith("Type")  # a copy


def test_errors_of_model_events_are_in_the_browsers_language() -> None:
    from mmdemo.ui.events import guarded

    def handler(text: str) -> str:
        if text == "bug":
            raise RuntimeError("internal detail")
        raise InputError(Message("caption.no_question"))

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


def test_the_rate_limit_refuses_in_the_browsers_language() -> None:
    from mmdemo.ui.access import AccessPolicy
    from mmdemo.ui.events import guarded

    wrapped = guarded(lambda text: text, policy=AccessPolicy(rate_limit_per_minute=1))
    assert wrapped("x", request=zh_request()) == "x"
    with pytest.raises(gr.Error) as err:
        wrapped("x", request=zh_request())
    assert re.fullmatch(r"请求过多：每位用户每分钟最多 1 次。请在 \d+ 秒后再试。", err.value.message), err.value.message
    assert err.value.title == "请稍候"
    with pytest.raises(gr.Error) as err:
        wrapped("x", request=zh_request("en-US"))
    assert err.value.message.startswith("Too many requests: at most 1 a minute") and err.value.title == "Slow down"


def test_the_sign_in_throttle_refuses_in_the_sign_in_pages_language() -> None:
    import json

    from mmdemo.ui.access import AccessPolicy, LoginThrottleMiddleware

    policy = AccessPolicy()
    for _ in range(policy.logins.pair_free):
        policy.logins.record("10.0.0.7", "", success=False)
    assert policy.logins.message(60) == (
        "Too many wrong sign-in attempts: try again in 60 s (after 5 wrong passwords for a name, each further try "
        "waits twice as long, up to 5 minutes)."
    )
    assert policy.logins.message(60, ZH) == (
        "登录失败次数过多：请在 60 秒后再试（同一用户名密码错误 5 次后，每次再试的等待时间加倍，最长 5 分钟）。"
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a throttled sign-in never reaches Gradio")

    def refusal(language: str, cookie: str = "") -> tuple[int, dict[str, str]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/login",
            "client": ("10.0.0.7", 5000),
            "headers": [(b"accept-language", language.encode()), (b"cookie", cookie.encode())],
        }

        async def receive() -> dict[str, Any]:  # an empty form: the name "" (the one counted above)
            return {"type": "http.request", "body": b"", "more_body": False}

        run_coroutine(LoginThrottleMiddleware(app, policy)(scope, receive, send))
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        length = dict(sent[0]["headers"])[b"content-length"]
        assert int(length) == len(body)
        return sent[0]["status"], json.loads(body.decode("utf-8"))

    status, body = refusal("zh-CN,zh;q=0.9")
    assert status == 429 and body["detail"].startswith("登录失败次数过多：请在 ")
    status, body = refusal("en")
    assert status == 429 and body["detail"].startswith("Too many wrong sign-in attempts: try again in ")
    status, body = refusal("en", f"{LOCALE_COOKIE}=zh-CN")  # the page switched to Chinese in its Settings
    assert status == 429 and body["detail"].startswith("登录失败次数过多：请在 ")


def test_prechecks_notices_and_the_models_panel_follow_the_language() -> None:
    from mmdemo.ui.availability import tab_availability
    from mmdemo.ui.events import precheck
    from mmdemo.ui.models_panel import status_rows

    offline = ModelManager(Settings(device="cpu", offline=True))
    token = i18n.current_request.set(zh_request())
    try:
        with pytest.raises(gr.Error) as err:
            precheck(offline, ("vqa",))(None, "")
        assert err.value.message.startswith("本服务器无法使用视觉问答") and err.value.title == "此处不可用"

        def no_image(image: Any) -> None:
            raise InputError(Message("caption.no_image"))

        with pytest.raises(gr.Error) as err:
            precheck(offline, (), no_image)(None)
        assert err.value.message == "没有要描述的图片：请上传一张。" and err.value.title == "请检查输入"
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


def test_cancelled_and_unexpected_work_is_said_in_the_browsers_language() -> None:
    from mmdemo.errors import Cancelled
    from mmdemo.ui.events import guarded

    def gone(text: str) -> str:
        raise Cancelled

    with pytest.raises(gr.Error) as err:
        guarded(gone)("x", request=zh_request())
    assert (err.value.message, err.value.title) == ("此请求已取消。", "已取消")
    with pytest.raises(gr.Error) as err:
        guarded(gone)("x", request=zh_request("en"))
    assert (err.value.message, err.value.title) == ("This request was cancelled.", "Cancelled")


def test_the_models_panel_is_in_the_requests_language() -> None:
    """Its headers, states, file sources, "… s ago" and the memory line: a table is rendered on the server."""
    from mmdemo.ui.models_panel import STATUS_HEADERS, memory_summary, status_panel, status_rows

    offline = ModelManager(Settings(device="cpu", offline=True))
    rows = {row[2]: row for row in status_rows(offline, ZH)}
    assert rows["Salesforce/blip-vqa-base"][5] == "缺失（离线）"
    assert status_rows(offline)[0][3:6:2] == ["not loaded", "missing (offline)"]  # English: the data as it is
    assert memory_summary(offline, ZH).startswith("模型在首次使用时加载；") and "GiB" in memory_summary(offline, ZH)
    assert memory_summary(offline).startswith("Models load on first use") and "**cpu**: 0.00 of" in (
        memory_summary(offline)
    )
    with gr.Blocks():
        _, _, refresh = status_panel(offline)
    token = i18n.current_request.set(zh_request())
    try:
        table, _ = refresh()
    finally:
        i18n.current_request.reset(token)
    assert table["headers"][:4] == ["任务", "用于", "模型", "状态"] and len(table["headers"]) == len(STATUS_HEADERS)
    assert STATUS_HEADERS[:4] == ["Task", "Used in", "Model", "State"]


def test_progress_lines_and_model_loading_are_shown_in_the_requests_language(tiny_model_dirs: Any) -> None:
    """What a task reports (text, or keyed) reaches Gradio's progress bar in the visitor's language, the model
    manager's loading lines too; the backend's callbacks still get English text."""
    from mmdemo.ui.events import progress_to

    shown: list[str] = []

    def bar(fraction: float, desc: str = "") -> None:
        shown.append(desc)

    token = i18n.current_request.set(zh_request())
    try:
        report = progress_to(bar)
    finally:
        i18n.current_request.reset(token)
    folder = tiny_model_dirs["captioner"]
    manager = ModelManager(Settings(models={"captioner": str(folder)}, device="cpu", offline=True))
    with manager.use("captioner", report):
        pass
    report(0.5, Message("title.slow_down"))
    report(0.6, Page("Image"))
    report(0.7, "Decoding the images…")  # plain text: as it is
    assert shown == [
        "正在加载图像描述模型…",
        "正在读取图像描述模型的权重…",
        "图像描述模型已就绪",
        "请稍候",
        "图像",
        "Decoding the images…",
    ]
    assert all(isinstance(line, str) for line in shown)
    english_bar: list[str] = []
    progress_to(lambda fraction, desc="": english_bar.append(desc), "en")(0.1, Message("title.slow_down"))
    assert english_bar == ["Slow down"]


def test_read_text_says_nothing_was_found_and_heads_its_table_in_the_requests_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PIL import Image

    from mmdemo.tasks.ocr import OcrResult, TextLine
    from mmdemo.ui import captioning

    found: list[Any] = []
    shown: list[str] = []
    monkeypatch.setattr(
        captioning, "read_text", lambda image, **_: OcrResult(tuple(found), "ocr", 0.1, Image.new("RGB", (8, 8)))
    )
    monkeypatch.setattr(captioning, "annotate", lambda result: result.image)
    monkeypatch.setattr(captioning.gr, "Info", shown.append)
    token = i18n.current_request.set(zh_request())
    try:
        _, _, table = captioning.ocr(None, "photo.png", progress=lambda *a, **k: None)
        assert shown == ["这张图片中没有找到文字。"] and table["headers"] == ["#", "文字", "置信度"]
        found.append(TextLine("OPEN", 0.98, ((0, 0), (4, 0), (4, 4), (0, 4))))
        _, _, table = captioning.ocr(None, "photo.png", progress=lambda *a, **k: None)
        assert table["data"] == [[1, "OPEN", 0.98]] and len(shown) == 1
    finally:
        i18n.current_request.reset(token)
    _, _, table = captioning.ocr(None, "photo.png", progress=lambda *a, **k: None)
    assert table["headers"] == captioning.LINE_HEADERS == ["#", "Text", "Confidence"]


def test_the_sign_in_page_says_how_sign_in_is_throttled_in_the_visitors_language() -> None:
    """Gradio reads the app's ``auth_message`` while it answers the sign-in page's request: its language is the
    request's (noted by the page-language middleware)."""

    from mmdemo.ui.access import PageLanguageMiddleware
    from mmdemo.ui.app import AppBlocks, launch_kwargs

    with AppBlocks() as demo:
        pass
    demo.auth_message = launch_kwargs(ModelManager(Settings(device="cpu", offline=True)), demo)["auth_message"]
    assert demo.auth_message == (
        "Sign in to use this app. After 5 wrong passwords for a name, each further try waits twice as long as the "
        "last, up to 5 minutes."
    )
    read: list[str | None] = []

    async def gradio(scope: Any, receive: Any, send: Any) -> None:
        read.append(demo.auth_message)

    chosen = f"{LOCALE_COOKIE}=zh-CN".encode()
    for headers in ([(b"accept-language", b"zh-CN,zh;q=0.9")], [(b"accept-language", b"en-GB")], [(b"cookie", chosen)]):
        scope = {"type": "http", "method": "GET", "path": "/config", "headers": headers}
        run_coroutine(PageLanguageMiddleware(gradio)(scope, None, None))
    chinese = "登录后即可使用本应用。同一用户名密码错误 5 次后，每次再试的等待时间加倍，最长 5 分钟。"
    assert read == [
        chinese,
        "Sign in to use this app. After 5 wrong passwords for a name, each further try waits twice as long as "
        "the last, up to 5 minutes.",
        chinese,  # signed out of a page switched to Chinese in its Settings
    ]
    demo.auth_message = "Ask Ann for a password."  # the operator's own text: as it is
    assert demo.auth_message == "Ask Ann for a password."


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
