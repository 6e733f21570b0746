"""The README's code examples run against the app (tiny models), so they cannot drift from its API:
a wrong parameter count, a renamed endpoint or an unpacking of the wrong number of outputs fails here."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.fixture
def media_here(tmp_path: Path, odd_videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file names the examples use, as real media, in the working folder."""
    shutil.copy(ASSETS / "images" / "lion.jpg", tmp_path / "photo.jpg")
    shutil.copy(ASSETS / "images" / "thanks-for-watching.jpg", tmp_path / "sign.jpg")
    shutil.copy(ASSETS / "audio" / "cate_blanch.mp3", tmp_path / "speech.mp3")
    shutil.copy(odd_videos["speech.mov"], tmp_path / "talk.mp4")
    shutil.copy(ASSETS / "audio" / "cate_blanch.mp3", tmp_path / "talk.m4a")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as zf:  # a zip of photos (Many photos)
        zf.write(ASSETS / "images" / "tower.jpg", "paris/tower.jpg")
    with zipfile.ZipFile(tmp_path / "signs.zip", "w") as zf:  # a zipped OCR data set (Evaluate)
        zf.writestr("signs/metadata.jsonl", json.dumps({"file_name": "open.png", "text": "OPEN 24 HOURS"}) + "\n")
        zf.writestr("signs/open.png", _png(["OPEN 24 HOURS"]))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _png(lines: list[str]) -> bytes:
    import io

    from mmdemo.testing.text_images import render_text

    buffer = io.BytesIO()
    render_text(lines).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_endpoint_labels_its_outputs_and_defaults_its_options(client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {
        *("/caption", "/describe", "/vqa", "/ocr", "/generate", "/emotion", "/summarize", "/round_trip"),
        *("/caption_batch", "/evaluate"),
    }
    for name, endpoint in endpoints.items():
        labels = [r["label"] for r in endpoint["returns"]]
        assert all(label and not label.startswith("value_") for label in labels), (name, labels)
        # Every option has a default, but a choice the caller must make (/evaluate's task: a wrong one scores 0)
        chosen = {"/evaluate": {"task"}}.get(name, set())
        options = [p for p in endpoint["parameters"][1:] if p["parameter_name"] not in chosen]
        assert all(p["parameter_has_default"] for p in options), name
        assert all(p.get("parameter_default") is None for p in endpoint["parameters"] if p["parameter_name"] in chosen)


def test_the_readme_client_example_runs(app_url: str, media_here: Path) -> None:
    (code,) = [block for block in _python_blocks() if "Client(" in block]
    assert 'Client("http://127.0.0.1:7860/")' in code
    scope: dict[str, Any] = {}
    exec(compile(code.replace("http://127.0.0.1:7860/", app_url), "README.md", "exec"), scope)
    assert isinstance(scope["caption"], str) and scope["caption"]
    assert len(scope["detailed"].split()) > 20 and "The text in it reads" not in scope["detailed"]  # a lion
    assert "THANKS FOR WATCHING" in scope["text"] and scope["table"]["data"][0][1] == "THANKS FOR WATCHING"
    assert len(scope["gallery"]) == 2 and scope["seed"] == 1234 and "Seed 1234" in scope["info"]
    assert "dagger" in scope["transcript"].lower() or scope["transcript"].startswith("[0:")
    assert scope["files"] and scope["keyframes"]
    assert scope["trip_caption"] and scope["trip_caption_back"] and Path(scope["trip_image"]).is_file()
    assert "How much survived the trip:" in scope["trip_scores"] and "Seed 1234" in scope["trip_scores"]
    captions = scope["captions"]
    assert captions["headers"] == ["file", "caption", "text", "question", "answer", "error"]
    assert [row[0] for row in captions["data"]] == ["photo.jpg", "photos.zip/paris/tower.jpg"]
    assert sorted(Path(p).name for p in scope["downloads"]) == ["captions.csv", "captions.jsonl"]
    assert ["CER", "0.00 %"] in scope["metrics"]["data"]
    assert scope["items"]["data"][0][:3] == ["open.png", "OPEN 24 HOURS", "OPEN 24 HOURS"]
    assert json.loads(Path(scope["results_json"]).read_text())["aggregates"]["cer"] == 0.0


def test_the_readme_library_example_runs(app_settings, media_here: Path) -> None:
    """As a user runs it: the library's default settings (the environment's, CPU fast path included)."""
    from mmdemo.runtime import configure

    (code,) = [block for block in _python_blocks() if "import mmdemo" in block]
    configure(app_settings)
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (media_here / "lighthouse.png").is_file()
    assert [row.file for row in scope["batch"].rows] == ["photo.jpg", "photos.zip/paris/tower.jpg"]
    assert sorted(p.name for p in (media_here / "captions").iterdir()) == ["captions.csv", "captions.jsonl"]
    assert sorted(p.name for p in (media_here / "out").iterdir() if p.suffix in {".md", ".json", ".srt"}) == [
        "talk.srt",
        "talk.summary.json",
        "talk.summary.md",
    ]
