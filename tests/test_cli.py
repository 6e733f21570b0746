"""``python -m mmdemo``: the command line runs the same backend functions and reports errors by exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.cli import main


@pytest.fixture
def tiny_env(monkeypatch: pytest.MonkeyPatch, tiny_model_dirs: dict[str, Path]) -> None:
    for role, folder in tiny_model_dirs.items():
        monkeypatch.setenv(f"MMDEMO_{role.upper()}_MODEL", str(folder))
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")


def test_caption_prints_json(tiny_env: None, real_photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert main(["caption", real_photos["lion.jpg"], "--prefix", "a photo of", "--max-new-tokens", "5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert isinstance(result["text"], str) and result["text"]
    assert result["prefix"] == "a photo of"
    assert result["seconds"] >= 0


def test_vqa_prints_json(tiny_env: None, real_photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert main(["vqa", real_photos["tower.jpg"], "What is this?", "--num-beams", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["question"] == "What is this?"
    assert isinstance(result["answer"], str)


def test_bad_image_exits_2(tiny_env: None, odd_images: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["caption", str(odd_images["random_bytes.jpg"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_bad_options_exit_2(tiny_env: None, real_photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert main(["caption", real_photos["lion.jpg"], "--num-beams", "0"]) == 2
    assert "beam" in capsys.readouterr().err.lower()


def test_missing_model_offline_exits_1_naming_it(
    monkeypatch: pytest.MonkeyPatch, real_photos: dict[str, str], capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    assert main(["caption", real_photos["lion.jpg"]]) == 1
    err = capsys.readouterr().err
    assert "Salesforce/blip-image-captioning-base" in err
    assert "prefetch" in err


def test_prefetch_offline_reports_each_model_and_fails() -> None:
    """A real subprocess through ``python -m mmdemo``: offline, every download fails, with the model named."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")}
    env.update(HF_HUB_OFFLINE="1", MMDEMO_DEVICE="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "mmdemo", "prefetch"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert {row["model"] for row in report} >= {"Salesforce/blip-image-captioning-base", "Salesforce/blip-vqa-base"}
    hub_rows = [row for row in report if not row["model"].startswith("pip:")]
    assert hub_rows and all(row["status"].startswith("failed") for row in hub_rows)
    assert any("pip package" in row["status"] for row in report)  # OCR ships in its wheel
    assert "Traceback" not in proc.stderr


def test_prefetch_skips_local_folders(tiny_env: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["prefetch"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report and all(("local folder" in row["status"]) != row["model"].startswith("pip:") for row in report)


def test_ocr_prints_words_and_saves_boxes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from mmdemo.testing.text_images import render_text

    render_text(["Quarterly Sales Report"], tmp_path / "sign.png")
    boxes = tmp_path / "boxes.png"
    assert main(["ocr", str(tmp_path / "sign.png"), "--boxes", str(boxes)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "quarterly" in result["text"].lower()
    assert result["lines"][0]["box"] and 0.5 <= result["lines"][0]["score"] <= 1
    assert boxes.stat().st_size > 0


def test_generate_writes_pngs_and_json(tiny_env: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    args = ["generate", "a red cube", "--steps", "2", "--width", "64", "--height", "64", "--num-images", "2"]
    assert main([*args, "--seed", "5", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [img["seed"] for img in result["images"]] == [5, 6]
    for img in result["images"]:
        assert Image.open(img["file"]).size == (64, 64)
    assert result["width"] == 64 and result["prompt"] == "a red cube"
    assert main(["generate", "   ", "--out", str(tmp_path)]) == 2  # empty prompt: bad input


def test_summarize_writes_reports(tiny_env: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from gradio.media import get_video

    assert main(["summarize", get_video("world.mp4"), "--max-keyframes", "3", "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] and report["chapters"]
    assert json.loads((tmp_path / "world.summary.json").read_text())["summary"] == report["summary"]
    assert (tmp_path / "world.summary.md").read_text().startswith("#")
    assert sorted(tmp_path.glob("keyframe-*.jpg"))
    assert main(["summarize", str(tmp_path / "world.summary.md")]) == 2  # not a video


def test_emotion_prints_probabilities(tiny_env: None, capsys: pytest.CaptureFixture) -> None:
    from gradio.media import get_audio

    assert main(["emotion", get_audio("cate_blanch.mp3")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert abs(sum(result["fused"].values()) - 1) < 1e-4 and result["top"] in result["fused"]
    assert result["windows"] and isinstance(result["transcript"]["text"], str)
    assert result["renamed"]["words"]["joy"] == "happy" and "joy → happy" in result["labels_note"]
    assert set(result["text"]) == {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"}
    assert main(["emotion", get_audio("cate_blanch.mp3"), "--text-weight", "3"]) == 2
