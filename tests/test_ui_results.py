"""What the Emotion and Evaluate tabs and the Models panel show, without a server: one plain sentence and a folded
Details section, a warning when every score is 0, the task read from a data set zip, no empty emotion box and no
timeline of one window, and a Models panel that fits the page, in English and Chinese."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mmdemo.evaluation.report import nothing_right
from mmdemo.evaluation.runner import EvalResult
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.ui.audio_emotion import shown_results
from mmdemo.ui.evaluate import summary_markdown, task_of_zip
from mmdemo.ui.models_panel import COLUMN_WIDTHS, COLUMNS, model_name, status_rows

ZH = "zh-CN"


def _result(task: str, aggregates: dict[str, Any], models: list[str] | None = None) -> EvalResult:
    base = {"items": 2, "scored": 2, "failed": 0}
    return EvalResult(task, "signs", "signs", [], {**base, **aggregates}, models or [], [], 1.5)


CAPTION_ZERO = {"bleu_1": 0.0, "bleu_2": 0.0, "bleu_3": 0.0, "bleu_4": 0.0, "cider_d": 0.0}


@pytest.mark.parametrize(
    ("task", "aggregates", "expected"),
    [
        ("caption", CAPTION_ZERO, True),
        ("caption", {**CAPTION_ZERO, "bleu_1": 12.5}, False),
        ("caption", {**CAPTION_ZERO, "scored": 0}, False),  # nothing scored: the failed items say why
        ("vqa", {"accuracy": 0.0}, True),
        ("ocr", {"cer": 100.0, "wer": 100.0, "exact": 0.0}, True),
        ("ocr", {"cer": 4.0, "wer": 20.0, "exact": 0.0}, False),  # small mistakes everywhere: not the wrong task
        ("asr", {"cer": 80.0, "wer": 100.0, "exact": 0.0}, True),
        ("emotion", {"accuracy": 0.0, "unweighted_accuracy": 0.0}, True),
        ("t2i", {"clip_score": 21.3}, False),
    ],
)
def test_nothing_right_is_every_score_at_its_worst(task: str, aggregates: dict[str, Any], expected: bool) -> None:
    assert nothing_right(_result(task, aggregates)) is expected


def test_the_summary_is_one_sentence_the_warning_and_folded_details() -> None:
    result = _result("caption", CAPTION_ZERO, ["/srv/models/captioner"])
    english = summary_markdown(result)
    head, warning, details = english.split("\n\n", 2)
    assert head == "**Image captioning** on **signs**: 2 of 2 items scored, 0 failed."
    assert warning.startswith("⚠️ Every score is 0: no prediction matches its reference. Check that the task fits")
    assert details.startswith("<details><summary>Details</summary>") and "`local folder “captioner”`" in details
    assert "/srv" not in english and "*How it is measured.*" in details
    chinese = summary_markdown(result, ZH)
    assert chinese.startswith("在 **signs** 上评测**图像描述**：2 条中评分 2 条，失败 0 条。\n\n⚠️ 所有得分都是 0")
    assert "<summary>详细信息</summary>" in chinese and "`本地文件夹“captioner”`" in chinese
    assert "Every score" not in summary_markdown(_result("caption", {**CAPTION_ZERO, "cider_d": 3.0}))


def _zip(path: Path, rows: list[dict[str, Any]], files: tuple[str, ...]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("set/metadata.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
        for name in files:
            zf.writestr(f"set/{name}", b"x")
    return path


@pytest.mark.parametrize(
    ("rows", "files", "task"),
    [
        ([{"file_name": "a.png", "question": "What?", "answers": ["x"]}], ("a.png",), "vqa"),
        ([{"file_name": "a.wav", "label": "happy"}], ("a.wav",), "emotion"),
        ([{"prompt": "a red bus"}], (), "t2i"),
        ([{"file_name": "a.wav", "text": "hello"}], ("a.wav",), "asr"),
        ([{"file_name": "a.png", "text": "OPEN 24 HOURS"}], ("a.png",), None),  # captions or text reading: asked
    ],
)
def test_the_task_is_read_from_the_zip_when_it_can_be_told(
    tmp_path: Path, rows: list[dict[str, Any]], files: tuple[str, ...], task: str | None
) -> None:
    assert task_of_zip(_zip(tmp_path / "set.zip", rows, files)) == task


def test_a_zip_that_cannot_be_read_tells_no_task(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_bytes(b"\x89PNG not a zip")
    assert task_of_zip(tmp_path / "fake.zip") is None
    with zipfile.ZipFile(tmp_path / "bare.zip", "w") as zf:
        zf.writestr("a.png", b"x")
    assert task_of_zip(tmp_path / "bare.zip") is None


def _label(confidences: list[tuple[str, float]]) -> dict[str, Any]:
    return {"label": confidences[0][0], "confidences": [{"label": k, "confidence": v} for k, v in confidences]}


def _plot(rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": ["time", "emotion", "probability"], "data": rows}


def test_only_the_results_there_are_are_shown() -> None:
    fused = _label([("sad", 0.6), ("happy", 0.4)])
    one_window = _plot([[0.0, "sad", 0.6], [0.0, "happy", 0.4], [3.0, "sad", 0.6], [3.0, "happy", 0.4]])
    two_windows = _plot([[1.5, "sad", 0.6], [1.5, "happy", 0.4], [3.0, "sad", 0.3], [3.0, "happy", 0.7]])
    pitch = {"columns": ["time", "pitch"], "data": [[0.5, 180.0]]}
    shown = [update["visible"] for update in shown_results(fused, two_windows, fused, fused, pitch)]
    assert shown == [True, True, True, True, True]
    one = shown_results(fused, one_window, None, fused, {"columns": ["time", "pitch"], "data": []})
    assert [u["visible"] for u in one] == [True, False, False, True, False]  # (no voiced frame: no pitch plot)
    nothing = shown_results(None, _plot([]), {}, None, pitch)  # offline: no emotion model, an empty timeline
    assert [u["visible"] for u in nothing] == [False, False, False, False, True]


def test_the_models_panel_has_eight_columns_in_the_visitors_language(tmp_path: Path) -> None:
    assert len(COLUMNS) == len(COLUMN_WIDTHS) == 8
    assert sum(float(w.rstrip("%")) for w in COLUMN_WIDTHS) == 100
    folder = tmp_path / "captioner"
    folder.mkdir()
    assert model_name(str(folder)) == "local folder “captioner”"
    assert model_name(str(folder), ZH) == "本地文件夹“captioner”"
    assert model_name("Salesforce/blip-vqa-base", ZH) == "Salesforce/blip-vqa-base"
    manager = ModelManager(Settings(device="cpu", offline=True, models={"captioner": str(folder)}))
    rows = {row[0]: row for row in status_rows(manager, ZH)}
    assert all(len(row) == len(COLUMNS) for row in rows.values())
    assert rows["图像描述"][2] == "本地文件夹“captioner”" and rows["图像描述"][3] == "未加载"
