"""Many photos, the video summary and the evaluation: each parameter declared once by its task, the API gate and
the command line refusing the same values with the same sentence, and what these tabs say (refusals, notes,
table headers, progress) in the visitor's language."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mmdemo.errors import InputError
from mmdemo.messages import Message
from mmdemo.settings import Settings

ZH = "zh-CN"
KEYFRAMES = 4
"""This server's MMDEMO_MAX_KEYFRAMES in these tests: the ceiling and the default of the page's slider."""


@pytest.fixture(scope="module")
def app() -> Any:
    from mmdemo.models.manager import ModelManager
    from mmdemo.ui import build_app

    return build_app(ModelManager(Settings(device="cpu", offline=True, max_keyframes=KEYFRAMES)))


def _inputs(app: Any, api_name: str) -> dict[str, Any]:
    from mmdemo.ui.gate import parameter_names

    (block_fn,) = [fn for fn in app.fns.values() if fn.api_name == api_name]
    return dict(zip(parameter_names(block_fn.fn), block_fn.inputs, strict=False))


def _gate(block: Any, value: Any) -> Any:
    """The gate's refusal of ``value`` for the widget ``block``."""
    from mmdemo.ui.gate import GateError, check_value

    with pytest.raises(GateError) as info:
        check_value(block, value, "ignored: a declared widget names its field")
    return info.value


def _cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    from mmdemo.cli import main

    code = main(argv)
    return code, capsys.readouterr().err.strip()


def test_keyframes_go_up_to_the_servers_setting_on_the_page_the_api_and_the_cli(
    app: Any, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page took 1-max(setting, 2) with 8 by default, the CLI up to the setting with the setting by default:
    now the setting is both, everywhere, and 5 is refused with one sentence."""
    from mmdemo.tasks.video_summary import MAX_KEYFRAMES, check_keyframes

    slider = _inputs(app, "summarize")["max_keyframes"]
    assert (slider.minimum, slider.maximum, slider.value) == (1, KEYFRAMES, KEYFRAMES)
    assert "MMDEMO_MAX_KEYFRAMES" in MAX_KEYFRAMES.help()  # what API, MCP and CLI users read
    sentence = f"Most keyframes (scenes) (max_keyframes) must be a whole number from 1 to {KEYFRAMES} (got 5)."
    refused = _gate(slider, 5)
    assert refused.message == sentence
    assert (
        refused.mmdemo_message.text(ZH)
        == f"关键帧上限（场景数）（max_keyframes）必须是介于 1 和 {KEYFRAMES} 之间的整数（收到的是 5）。"
    )
    monkeypatch.setenv("MMDEMO_MAX_KEYFRAMES", str(KEYFRAMES))
    assert _cli(["summarize", "no-such-video.mp4", "--max-keyframes", "5"], capsys) == (2, f"error: {sentence}")
    settings = Settings(max_keyframes=KEYFRAMES)
    assert check_keyframes(None, settings) == KEYFRAMES and check_keyframes(3, settings) == 3


def test_the_summary_method_and_the_switches_are_the_same_choices_everywhere(
    app: Any, capsys: pytest.CaptureFixture
) -> None:
    from mmdemo.cli import build_parser
    from mmdemo.tasks.video_summary import SUMMARY_METHOD

    inputs = _inputs(app, "summarize")
    assert [value for _, value in inputs["summary_method"].choices] == SUMMARY_METHOD.values == ["auto", "extractive"]
    refused = _gate(inputs["summary_method"], "abstractive")
    assert refused.message == "Summary (summary_method) must be one of 'auto', 'extractive' (got 'abstractive')."
    with pytest.raises(SystemExit):
        build_parser().parse_args(["summarize", "v.mp4", "--summary-method", "abstractive"])
    capsys.readouterr()
    args = build_parser().parse_args(["summarize", "v.mp4", "--no-describe", "--no-transcribe"])
    assert (args.describe, args.read_text, args.transcribe, args.summary_method) == (False, True, False, "auto")


def test_the_evaluations_limit_and_seed_agree_between_the_api_and_the_cli(
    app: Any, capsys: pytest.CaptureFixture
) -> None:
    """The page's limit was 0-100000 with 0 for all, the CLI's at least 1: now 0 is all in both, and there is no
    ceiling (a limit beyond the set's size evaluates the whole set). The seed is a text-to-image seed in both."""
    from mmdemo.evaluation.runner import LIMIT, SEED, EvalOptions

    inputs = _inputs(app, "evaluate")
    assert (inputs["limit"].minimum, inputs["limit"].maximum, inputs["limit"].value) == (0, None, 0)
    for name, value in (("limit", -1), ("seed", SEED.maximum + 1)):
        refused = _gate(inputs[name], value)
        code, err = _cli(["eval", "asr", f"--{name}", str(value), "--no-progress"], capsys)
        assert (code, err) == (2, f"error: {refused.message}"), name
        assert "（收到的是" in refused.mmdemo_message.text(ZH)
    assert EvalOptions(limit=0).validated().limit is None and EvalOptions(limit=10**9).validated().limit == 10**9
    with pytest.raises(InputError) as info:
        EvalOptions(limit=-1).validated()
    assert info.value.message.key == "value.number" and str(LIMIT.field) in str(info.value)


def test_the_old_spelling_of_the_emotion_source_still_works() -> None:
    from mmdemo.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["eval", "emotion", "--source", "words"]).emotion_source == "words"
    assert parse(["eval", "emotion", "--emotion-source", "fused"]).emotion_source == "fused"
    assert parse(["eval", "emotion"]).emotion_source == "voice"


def test_the_batch_question_and_batch_size_agree_between_the_api_and_the_cli(
    app: Any, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    question = _inputs(app, "caption_batch")["question"]
    refused = _gate(question, "x" * 301)
    assert refused.message == "Also ask each photo (question) is too long (301 characters; at most 300)."
    assert refused.mmdemo_message.text(ZH) == "同时向每张照片提同一个问题（question）太长（301 个字符；最多 300 个）。"
    code, err = _cli(["caption", "a.jpg", "b.jpg", "--question", "x" * 301], capsys)
    assert (code, err) == (2, f"error: {refused.message}")
    code, err = _cli(["caption", "a.jpg", "b.jpg", "--batch-size", "65"], capsys)
    assert (code, err) == (2, "error: Photos per batch (batch_size) must be a whole number from 1 to 64 (got 65).")


def test_many_photos_table_and_notes_are_in_the_visitors_language() -> None:
    from mmdemo.tasks.batch_caption import FAILED, BatchCaptionResult, PhotoRow
    from mmdemo.ui.batch_caption import notes_markdown, table

    result = BatchCaptionResult(
        rows=(PhotoRow("a.jpg", "a dog", answer="yes"), PhotoRow("b.jpg", error=FAILED)),
        read_text=False,
        question="Is it a dog?",
        batch_size=2,
        model_ids=(),
        notes=(Message("batch.skipped", count=1, folder="x.zip", names="notes.txt"),),
        seconds=1.0,
    )
    english, chinese = table(result), table(result, ZH)
    assert english["headers"] == ["file", "caption", "question", "answer", "error"]
    assert chinese["headers"] == ["文件", "描述", "问题", "回答", "错误"]
    assert chinese["data"][1][-1] == "描述这张照片时出错。"
    assert english["data"][1][-1] == str(FAILED)
    assert result.records()[1]["error"] == str(FAILED)  # the downloads: English
    notes = notes_markdown(result, ZH)
    sentence, _, details = notes.partition("<details>")
    assert sentence.startswith("2 张照片：1 张已完成，1 张无法读取。")  # one plain sentence, then the notes
    assert "每批 2 张" in details and "没有运行任何模型" in details  # the run's details, folded
    assert "x.zip 中有 1 个文件不是照片，已跳过：notes.txt。" in notes


def test_video_words_are_in_the_visitors_language() -> None:
    from mmdemo.tasks.chapters import chapter_title
    from mmdemo.tasks.video_report import Chapter, chapters_markdown

    chapters = [
        Chapter(0, 0.0, 2.0, chapter_title((), (), "", 0), (), (), "", ()),
        Chapter(1, 2.0, 4.0, "A dog", ("a dog",), ("EXIT",), "Hello there.", (0,)),
    ]
    assert chapters[0].title == "Part 1"
    english, chinese = chapters_markdown(chapters), chapters_markdown(chapters, locale=ZH)
    assert "**0:00–0:02 · Part 1**\n- (nothing recognised)" in english and "**Seen:** a dog" in english
    assert "**0:00–0:02 · 第 1 部分**\n- （没有识别到任何内容）" in chinese
    assert "- **画面：** a dog" in chinese and "- **语音：** Hello there." in chinese  # no emoji (boxes without a font)


def test_video_progress_stages_are_keyed() -> None:
    from mmdemo.tasks.video_summary import _stage

    seen: list[Any] = []
    step = _stage(lambda fraction, message: seen.append(message), "caption")
    assert step is not None
    step(0.5, Message("video_summary.batches", count=3))
    (message,) = seen
    assert str(message) == "2/5 Describing keyframes: 3 keyframes"
    assert message.text(ZH) == "2/5 描述关键帧：3 个关键帧"


def test_evaluation_tables_are_in_the_visitors_language() -> None:
    from mmdemo.evaluation.report import item_table, metric_rows
    from mmdemo.evaluation.runner import EvalResult, ItemResult, score
    from mmdemo.ui.evaluate import summary_markdown

    items = [
        ItemResult("a.png", 1, "OPEN", "OPEN"),
        ItemResult("b.png", 2, "EXIT", error=Message("eval.item_error", kind="InputError", reason="x")),
    ]
    result = EvalResult("ocr", "signs", "signs.zip", items, score("ocr", items), ["m"], [], 1.0)
    headers, rows = item_table(result, ZH)
    assert headers == ["条目", "参考答案", "预测", "CER %", "WER %", "错误"] and rows[1][-1] == "InputError：x"
    assert item_table(result)[0] == ["item", "reference", "prediction", "CER %", "WER %", "error"]
    assert ("已计分条目", "1 / 2（1 项失败）") in metric_rows(result, ZH)
    assert ("items scored", "1 of 2 (1 failed)") in metric_rows(result, "en")
    summary = summary_markdown(result, ZH)
    assert summary.startswith("在 **signs** 上评测**文字识别（OCR）**：2 条中评分 1 条")
    assert "*计算方法。* CER：" in summary
    assert "有 1 项无法评估" in summary


@pytest.mark.parametrize(("header", "chinese"), [(None, False), ("zh-CN,zh;q=0.9", True)], ids=["api", "zh-CN"])
def test_over_http_a_refusal_of_these_tabs_is_english_or_chinese(
    app_url: str, app_settings: Settings, header: Any, chinese: bool, tmp_path: Path
) -> None:
    """The running app: more keyframes than the server allows (its gate, from the task's declaration) and a
    negative evaluation limit, in English for API clients and in Chinese for a Chinese browser."""
    import zipfile

    from mmdemo.testing.http import call_raw, upload

    headers = {"accept-language": header} if header else None
    video = upload(app_url, str(Path(__file__).resolve().parents[1] / "assets/videos/thanks-for-watching.mp4"))
    most = app_settings.max_keyframes
    result = call_raw(app_url, "summarize", [video, most + 1, True, True, True, "auto"], headers=headers)
    said = (
        f"Most keyframes (scenes) (max_keyframes) must be a whole number from 1 to {most} (got {most + 1}).",
        f"关键帧上限（场景数）（max_keyframes）必须是介于 1 和 {most} 之间的整数（收到的是 {most + 1}）。",
    )
    assert result.event == "error" and result.message == said[chinese]
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("metadata.jsonl", "{oops\n")
    data = upload(app_url, str(archive))
    result = call_raw(app_url, "evaluate", [data, "ocr", 0, "voice", 0], headers=headers)
    said = (
        "metadata.jsonl has 1 bad line(s):\n  line 1 is not valid JSON",
        "metadata.jsonl 中有 1 行有问题：\n  第 1 行",
    )
    assert result.event == "error" and result.message.startswith(said[chinese])


def test_a_zh_cn_request_meets_the_tasks_own_refusal_in_chinese() -> None:
    """A refusal the task raises (the page's precheck and handlers turn it into an error) renders in the request's
    language: the evaluation's bad set and the photos' limit."""
    from mmdemo.tasks.batch_caption import expand_inputs
    from mmdemo.ui import i18n

    with pytest.raises(InputError) as info:
        expand_inputs([], Path("."), [])
    error = i18n.user_error(info.value.message, "Check the request")
    token = i18n.current_request.set(SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"}))
    try:
        assert i18n.localized(error).message == "没有要描述的照片：请上传照片，或照片的 zip 压缩包。"
    finally:
        i18n.current_request.reset(token)
