"""Every refusal of an odd upload is a keyed message (mmdemo/locales/*.json): the same English sentence as before for
the API and the CLI, and the visitor's own language on the page (here Simplified Chinese), values included (the kind
of file, its length)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from mmdemo.errors import InputError
from mmdemo.messages import Message
from mmdemo.testing.odd_audio import BAD_AUDIO
from mmdemo.testing.odd_images import BAD_IMAGES
from mmdemo.testing.odd_videos import BAD_VIDEOS

HAN = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b[a-z]{2,} [a-z]{2,} [a-z]{2,}\b")
"""Three English words in a row: a sentence left untranslated (format names such as "M4A/AAC" are not)."""


def _in_chinese(err: InputError) -> str:
    assert isinstance(err.message, Message), f"not keyed: {err}"
    chinese = err.text("zh-CN")
    assert HAN.search(chinese) and not ENGLISH.search(chinese), chinese
    return chinese


@pytest.mark.parametrize("name", BAD_IMAGES)
def test_every_refused_image_reads_in_chinese(odd_images: dict[str, Path], name: str) -> None:
    from mmdemo.media.image import ImageLimits, load_image

    with pytest.raises(InputError) as err:
        load_image(odd_images[name], ImageLimits(max_pixels=1_000_000))
    _in_chinese(err.value)


@pytest.mark.parametrize("name", BAD_AUDIO)
def test_every_refused_recording_reads_in_chinese(odd_audio: dict[str, Path], name: str) -> None:
    """Refused before any model loads (the silent ones by the one speech decision)."""
    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.tasks.audio_emotion import analyze_emotion

    manager = ModelManager(Settings(device="cpu", offline=True))
    with pytest.raises(InputError) as err:
        analyze_emotion(odd_audio[name], manager=manager)
    _in_chinese(err.value)
    assert not any(manager.load_count.values())


@pytest.mark.parametrize("name", BAD_VIDEOS)
def test_every_refused_video_reads_in_chinese(odd_videos: dict[str, Path], name: str) -> None:
    from mmdemo.media.video import open_video

    with pytest.raises(InputError) as err:
        open_video(odd_videos[name])
    _in_chinese(err.value)


def test_sizes_and_lengths_are_said_in_chinese_too(tmp_path: Path, odd_audio: dict[str, Path]) -> None:
    from mmdemo.media.audio import AudioLimits, load_audio
    from mmdemo.media.image import load_image

    with pytest.raises(InputError) as err:
        load_audio(odd_audio["speech.wav"], AudioLimits(max_seconds=1.0))
    assert str(err.value).startswith("The recording is too long (")
    assert _in_chinese(err.value).startswith("录音太长（") and "上限为 1 秒" in err.value.text("zh-CN")
    with pytest.raises(InputError) as err:
        load_audio(b"\0" * 100, AudioLimits(max_bytes=10))
    assert str(err.value) == "The audio file is too large (9.54e-05 MB; the limit is 9.54e-06 MB): " + (
        "upload a shorter or more compressed recording."
    )
    assert err.value.text("zh-CN").startswith("音频文件太大（") and "请上传更短或压缩率更高的录音。" in err.value.text(
        "zh-CN"
    )
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "gone.png")
    assert err.value.text("zh-CN") == "找不到上传的图片：请重新上传。"
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    with pytest.raises(InputError) as err:
        load_image(tmp_path / "doc.pdf")
    assert str(err.value) == "This file is a PDF document, not an image: upload a PNG, JPEG, WebP or GIF image."
    assert err.value.text("zh-CN") == "此文件是PDF 文档，不是图片：请上传 PNG、JPEG、WebP 或 GIF 图片。"


def test_zip_refusals_read_in_chinese(tmp_path: Path) -> None:
    from mmdemo.media.archive import ArchiveError, ArchiveLimits, extract_zip

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"{i}.bin", b"\0" * 2**20)
    with pytest.raises(ArchiveError) as err:
        extract_zip(bomb, tmp_path / "out", ArchiveLimits(max_ratio=10, ratio_floor_bytes=2**21))
    assert "所有文件合计" in _in_chinese(err.value)
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(ArchiveError) as err:
        extract_zip(tmp_path / "not.zip", tmp_path / "out2")
    assert _in_chinese(err.value) == "此文件不是 zip 压缩包，或已损坏：请上传 .zip 文件。"
