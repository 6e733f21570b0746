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
    assert all(row["status"].startswith("failed") for row in report)
    assert "Traceback" not in proc.stderr


def test_prefetch_skips_local_folders(tiny_env: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["prefetch"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report and all("local folder" in row["status"] for row in report)
