"""The Evaluate tab's and Many photos' server side without a server: which models a task needs before it runs,
and every message they can refuse with, in Chinese for a Chinese browser."""

from __future__ import annotations

import re

import pytest

from mmdemo.errors import ModelUnavailableError
from mmdemo.evaluation import upload
from mmdemo.media import archive
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks import batch_caption
from mmdemo.ui.evaluate import require_models
from mmdemo.ui.i18n import translate

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
    assert HAN.search(translate(str(err.value), "zh-CN"))


def test_every_refusal_is_in_chinese() -> None:
    messages = [
        archive.NOT_A_ZIP,
        archive.EMPTY,
        *(
            template.format(name="../x.png")
            for template in (archive.ABSOLUTE, archive.CLIMBS_OUT, archive.LINK, archive.SPECIAL, archive.ENCRYPTED)
        ),
        archive.TWICE.format(name="a.png"),
        archive.TOO_MANY.format(count=2001, limit=2000),
        archive.TOO_LARGE.format(limit="512 MB"),
        archive.BOMB.format(limit="100", name=archive.ALL_FILES),
        archive.UNREADABLE.format(name="a.png"),
        upload.NO_METADATA.format(columns="'text'"),
        upload.SEVERAL.format(names="test, train"),
        "metadata.jsonl has 2 bad line(s):\n  line 2 is not valid JSON\n  line 3 has no 'text' column",
        "2 file(s) named in metadata.jsonl are not in the zip: a.png (line 1), b.png (line 2)",
        "metadata.jsonl lists no items.",
        "metadata.jsonl is not UTF-8 text (invalid start byte at byte 3).",
        "No photos to caption: upload photos, or a zip of photos.",
        f"Too many photos (more than {batch_caption.MAX_PHOTOS}): split them into smaller batches.",
        batch_caption.FAILED,
        "Photos, or zips of photos (files): at most 500 files at once (got 501).",
    ]
    for message in messages:
        chinese = translate(message, "zh-CN")
        assert HAN.search(chinese) and chinese != message, message
    assert "所有文件合计" in translate(archive.BOMB.format(limit="100", name=archive.ALL_FILES), "zh-CN")
