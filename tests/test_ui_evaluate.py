"""The Evaluate tab's and Many photos' server side without a server: which models a task needs before it runs,
and every message they can refuse with, in Chinese for a Chinese browser."""

from __future__ import annotations

import re

import pytest

from mmdemo.errors import ModelUnavailableError
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.ui.evaluate import require_models

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def bare() -> ModelManager:
    """A fresh offline install: only the models that ship in pip packages (OCR, Whisper tiny.en) are there."""
    return ModelManager(Settings(device="cpu", offline=True))


@pytest.mark.parametrize(("task", "source"), [("ocr", "voice"), ("asr", "voice")])
def test_tasks_whose_models_ship_with_the_app_may_run(bare: ModelManager, task: str, source: str) -> None:
    require_models(bare, task, source)  # asr: the packaged offline recogniser stands in for the Hub one


@pytest.mark.parametrize(
    ("task", "source", "title"),
    [
        ("caption", "voice", "Image captioning"),
        ("vqa", "voice", "Visual question answering"),
        ("t2i", "voice", "Text to image"),
        ("emotion", "voice", "Speech emotion (acoustic)"),
        ("emotion", "words", "Text emotion"),
    ],
)
def test_a_missing_model_is_named_before_the_run(bare: ModelManager, task: str, source: str, title: str) -> None:
    with pytest.raises(ModelUnavailableError) as err:
        require_models(bare, task, source)
    assert str(err.value).startswith(f"{title} is not available on this server (its model ")
    assert HAN.search(err.value.text("zh-CN"))


def test_every_refusal_is_in_chinese() -> None:
    """Every refusal of a zip (mmdemo/media/archive.py) and of too many files has its Chinese sentence."""
    from mmdemo.messages import Message, catalogue, placeholders

    keys = [key for key in catalogue("en") if key.startswith("archive.")] + ["gate.too_many_files"]
    assert len(keys) > 10
    for key in keys:
        message = Message(key, **dict.fromkeys(placeholders(catalogue("en")[key]), "a.png"))
        assert HAN.search(message.text("zh-CN")) and message.text("zh-CN") != str(message), key
    bomb = Message("archive.bomb", limit="100", name=Message("archive.all_files"))
    assert "所有文件合计" in bomb.text("zh-CN")


def _zip(path, files: dict[str, bytes | str]):
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("files", "english", "chinese"),
    [
        ({"a.png": b"x"}, "The zip has no metadata.jsonl", "zip 中没有 metadata.jsonl"),
        ({"a/metadata.jsonl": "", "b/metadata.jsonl": ""}, "several data sets (a, b)", "zip 中有多个数据集（a, b）"),
        (
            {"metadata.jsonl": '{"file_name": "a.png", "text": "A"}\n{oops\n{"file_name": "b.png"}\n', "a.png": b"x"},
            "metadata.jsonl has 2 bad line(s):\n  line 2 is not valid JSON",
            "metadata.jsonl 中有 2 行有问题：\n  第 2 行不是有效的 JSON",
        ),
        (
            {"metadata.jsonl": '{"file_name": "a.png", "text": "A"}\n'},
            "are not in the zip: a.png (line 1)",
            "不在 zip 压缩包 中",
        ),
        ({"metadata.jsonl": "\n"}, "metadata.jsonl lists no items.", "metadata.jsonl 中没有列出任何条目。"),
        ({"metadata.jsonl": b"\xff\xfe\x00bad"}, "metadata.jsonl is not UTF-8 text", "metadata.jsonl 不是 UTF-8 文本"),
    ],
)
def test_a_zipped_data_set_is_refused_in_the_visitors_language(
    tmp_path, files: dict, english: str, chinese: str
) -> None:
    """What the Evaluate tab refuses a zip with is keyed: English for the API, Chinese for a Chinese browser, and
    neither names the server's folders."""
    from mmdemo.evaluation.datasets import DatasetError
    from mmdemo.evaluation.upload import read_zipped_dataset

    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(_zip(tmp_path / "set.zip", files), "ocr", tmp_path / "out", name="set")
    assert english in str(err.value) and chinese in err.value.text("zh-CN")
    assert str(tmp_path) not in str(err.value) + err.value.text("zh-CN")


def test_many_photos_refusals_and_rows_are_in_the_visitors_language(tmp_path) -> None:
    from mmdemo.errors import InputError
    from mmdemo.tasks.batch_caption import FAILED, expand_inputs

    with pytest.raises(InputError) as err:
        expand_inputs([], tmp_path, [])
    assert err.value.text("zh-CN") == "没有要描述的照片：请上传照片，或照片的 zip 压缩包。"
    photos = [tmp_path / f"{name}.png" for name in "abc"]
    for i, photo in enumerate(photos):
        photo.write_bytes(b"x" * (i + 1))  # three different files (a file sent twice counts once)
    with pytest.raises(InputError) as err:
        expand_inputs(photos, tmp_path, [], max_photos=2)
    assert str(err.value) == "Too many photos (more than 2): split them into smaller batches."
    assert err.value.text("zh-CN") == "照片太多（超过 2 张）：请分成几批上传。"
    assert FAILED.text("zh-CN") == "描述这张照片时出错。"
