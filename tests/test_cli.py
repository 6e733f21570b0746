"""``python -m mmdemo``: the command line runs the same backend functions and reports errors by exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.cli import build_parser, main
from mmdemo.launcher import settings_from_args
from mmdemo.models.manager import ModelManager
from mmdemo.tasks.captioning import DecodingOptions, answer_question, caption_image


@pytest.fixture
def tiny_env(monkeypatch: pytest.MonkeyPatch, tiny_model_dirs: dict[str, Path]) -> None:
    for role, folder in tiny_model_dirs.items():
        monkeypatch.setenv(f"MMDEMO_{role.upper()}_MODEL", str(folder))
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")


def _backend() -> ModelManager:
    """A manager of the configuration the command line runs (its defaults and the environment)."""
    return ModelManager(settings_from_args(build_parser().parse_args(["caption", "x"])))


def test_caption_prints_json(tiny_env: None, real_photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    """The command prints what the backend function returns for the same options."""
    photo = real_photos["lion.jpg"]
    assert main(["caption", photo, "--prefix", "a photo of", "--max-new-tokens", "5"]) == 0
    result = json.loads(capsys.readouterr().out)
    options = DecodingOptions(max_new_tokens=5)
    expected = caption_image(photo, prefix="a photo of", options=options, manager=_backend())
    assert result["text"] == expected.text and result["text"].strip()
    assert result["prefix"] == "a photo of"
    assert result["seconds"] >= 0


def test_vqa_prints_json(tiny_env: None, real_photos: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    photo = real_photos["tower.jpg"]
    assert main(["vqa", photo, "What is this?", "--num-beams", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["question"] == "What is this?"
    expected = answer_question(
        photo, "What is this?", options=DecodingOptions(max_new_tokens=10, num_beams=1), manager=_backend()
    )
    assert result["answer"] == expected.answer


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


def test_caption_a_folder_writes_a_csv_and_jsonl(
    tiny_env: None,
    app_manager,
    real_photos: dict[str, str],
    odd_images: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    """`python -m mmdemo caption FOLDER --csv OUT.csv`: one row per photo (subfolders too), a bad file recorded
    in its row; each caption is the photo's caption alone."""
    import csv
    import shutil

    from mmdemo.tasks.captioning import caption_image

    folder = tmp_path / "photos"
    (folder / "paris").mkdir(parents=True)
    shutil.copy(real_photos["lion.jpg"], folder / "lion.jpg")
    shutil.copy(real_photos["tower.jpg"], folder / "paris" / "tower.jpg")
    shutil.copy(odd_images["truncated.jpg"], folder / "broken.jpg")
    (folder / "notes.txt").write_text("not a photo")
    out_csv, out_jsonl = tmp_path / "out" / "captions.csv", tmp_path / "out" / "captions.jsonl"
    code = main(["caption", str(folder), "--csv", str(out_csv), "--jsonl", str(out_jsonl), "--batch-size", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # the CLI runs the app's configuration (Settings.from_env: the CPU fast path included), as app_manager does
    lion, tower = (caption_image(real_photos[n], manager=app_manager).text for n in ("lion.jpg", "tower.jpg"))
    with out_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert [row[:2] for row in rows] == [
        ["file", "caption"],
        ["photos/broken.jpg", ""],
        ["photos/lion.jpg", lion],
        ["photos/paris/tower.jpg", tower],
    ]
    assert rows[0] == ["file", "caption", "error"] and "damaged or incomplete" in rows[1][2]
    assert [json.loads(line)["caption"] for line in out_jsonl.read_text().splitlines()] == [None, lion, tower]
    printed = json.loads(captured.out)
    assert printed["batch_size"] == 2 and [r["file"] for r in printed["rows"]] == [r[0] for r in rows[1:]]
    assert printed["notes"] == ["1 file(s) in photos are not photos and were skipped: notes.txt."]
    assert "2 of 3 photos done (1 failed)" in captured.err and f"wrote {out_csv}" in captured.err
    # the last line counts what worked: 2 of the 3 photos, not "3 of 3" (the broken one failed)
    assert captured.err.splitlines()[-1] == "2 of 3 photos done; 1 failed (their errors are in the table)"


def test_caption_a_zip_with_text_and_a_question(
    tiny_env: None, real_photos: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import zipfile

    from mmdemo.testing.text_images import render_text

    render_text(["OPEN DAILY"], tmp_path / "sign.png")
    archive = tmp_path / "shop.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(tmp_path / "sign.png", "sign.png")
    code = main(["caption", str(archive), real_photos["lion.jpg"], "--read-text", "--question", "What is it?"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["file"], r["text"], r["question"]) for r in rows] == [
        ("shop.zip/sign.png", "OPEN DAILY", "What is it?"),
        ("lion.jpg", "", "What is it?"),
    ]
    assert all(r["caption"] and r["answer"] and r["error"] is None for r in rows)


def test_caption_batch_with_no_readable_photo_exits_2(
    tiny_env: None, odd_images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["caption", str(odd_images["truncated.jpg"]), str(odd_images["random_bytes.jpg"])])
    assert code == 2
    assert "no photo could be captioned" in capsys.readouterr().err
    (tmp_path / "evil.zip").write_bytes(b"PK\x03\x04 broken")
    assert main(["caption", str(tmp_path / "evil.zip")]) == 2
    assert "not a zip archive" in capsys.readouterr().err


def test_offline_emotion_exits_1_and_says_why(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """No emotion model here (offline, nothing configured): exit 1 with the reasons on stderr, not silently."""
    from gradio.media import get_audio

    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    assert main(["emotion", get_audio("cate_blanch.mp3"), "--no-transcript"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: No emotion estimate: neither the voice nor the words could be classified")
    assert "superb/wav2vec2-base-superb-er is not installed" in err and "Traceback" not in err


def test_settings_flags_are_the_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `python -m mmdemo --no-cpu-fast-path …` works: the CLI takes app.py's settings flags."""
    from mmdemo.cli import build_parser
    from mmdemo.launcher import build_parser as app_parser
    from mmdemo.launcher import settings_from_args

    args = build_parser().parse_args(["--no-cpu-fast-path", "--dtype", "float32", "--model", "vqa=/x", "ocr", "a.png"])
    settings = settings_from_args(args)
    assert (settings.cpu_fast_path, settings.dtype, settings.models["vqa"]) == (False, "float32", "/x")
    shared = {a.dest for a in app_parser()._actions} & {a.dest for a in build_parser()._actions}
    assert {
        "device",
        "dtype",
        "cpu_fast_path",
        "model",
        "model_dir",
        "offline",
        "profile",
        "memory_budget_gb",
    } <= shared
