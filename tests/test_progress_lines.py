"""What a visitor reads while a model loads names the model by its title, never by its id (a Hub id, ``pip:…``, a
local folder); the server log keeps the id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mmdemo.messages import text
from mmdemo.models import hub
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings

HUB_ID = "mmdemo-tests/captioner-not-on-this-machine"
"""A Hub id in no local cache: loading it downloads it."""


def test_a_download_is_said_with_the_models_title_and_logged_with_its_id(
    tiny_model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fetched: list[str] = []

    def download(model_id: str, allow_patterns: object, local_dir: Path | None = None) -> Path:
        fetched.append(model_id)  # the Hub, which the tests cannot reach, serves the tiny captioner
        return tiny_model_dirs["captioner"]

    monkeypatch.setattr(hub, "download", download)
    caplog.set_level(logging.INFO, logger="mmdemo.models.manager")
    manager = ModelManager(Settings(models={"captioner": HUB_ID}, device="cpu", offline=False))
    seen: list[tuple[float, str]] = []
    with manager.use("captioner", lambda fraction, message: seen.append((fraction, message))):
        pass
    assert fetched == [HUB_ID]
    assert seen == [
        (0.0, "Loading the image captioning model…"),
        (0.05, "Downloading the image captioning model (first use only)…"),
        (0.3, "Reading the weights of the image captioning model…"),
        (1.0, "Image captioning model ready"),
    ]
    assert [text(message, "zh-CN") for _, message in seen] == [
        "正在加载图像描述模型…",
        "正在下载图像描述模型（仅首次使用时）…",
        "正在读取图像描述模型的权重…",
        "图像描述模型已就绪",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "mmdemo.models.manager"]
    assert f"downloading captioner ({HUB_ID}) from the Hugging Face Hub" in logged
    assert any(m.startswith(f"loaded captioner ({HUB_ID}) on cpu") for m in logged), logged


def test_no_line_names_a_local_folder(tiny_model_dirs: dict[str, Path]) -> None:
    """A model from a local folder: its name ("captioner") is not in any line, in either language (it was:
    "Loading the image captioning model (local folder “captioner”)…")."""
    folder = tiny_model_dirs["captioner"]
    manager = ModelManager(Settings(models={"captioner": str(folder)}, device="cpu", offline=True))
    seen: list[str] = []
    with manager.use("captioner", lambda _fraction, message: seen.append(message)):
        pass
    shown = [text(line, locale) for line in seen for locale in ("en", "zh-CN")]
    assert len(shown) == 6 and shown[:2] == ["Loading the image captioning model…", "正在加载图像描述模型…"]
    assert not [line for line in shown if folder.name in line or "folder" in line or "/" in line], shown
