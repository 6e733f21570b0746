"""End to end over HTTP (gradio_client): /evaluate on a zipped OCR set gives what `python -m mmdemo eval` gives on
the same folder; hostile and broken zips get their messages; /caption_batch captions many photos and a zip of
photos on the tiny models, a bad file among them, with CSV and JSONL downloads."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from mmdemo.cli import main
from mmdemo.testing.text_images import render_text

SIGNS = {"open.png": ["OPEN 24 HOURS"], "exit.png": ["Exit via Stairwell B"], "note.png": ["Meeting moved", "Room 204"]}


@pytest.fixture(scope="module")
def ocr_set(tmp_path_factory: pytest.TempPathFactory, odd_images: dict[str, Path]) -> Path:
    """Three rendered signs (one reference with a typo, so the error rates are not all 0) and a broken file."""
    folder = tmp_path_factory.mktemp("ocr-set") / "signs"
    folder.mkdir()
    rows = []
    for name, lines in SIGNS.items():
        render_text(lines, folder / name)
        rows.append({"file_name": name, "text": lines if name != "exit.png" else "Exit via Stairwel B"})
    shutil.copy(odd_images["random_bytes.jpg"], folder / "broken.png")
    rows.append({"file_name": "broken.png", "text": "whatever"})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def _zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def test_evaluate_a_zip_gives_what_the_cli_gives_on_the_folder(
    client, ocr_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cli_json = tmp_path / "cli.json"
    assert main(["eval", "ocr", str(ocr_set), "--json", str(cli_json), "--no-progress"]) == 0
    cli_out = capsys.readouterr().out
    cli = json.loads(cli_json.read_text())

    archive = _zip(ocr_set, tmp_path / "signs.zip", prefix="signs/")
    metrics, summary, plots, items, results = client.predict(
        handle_file(str(archive)), "ocr", 0, "voice", 0, api_name="/evaluate"
    )
    app = json.loads(Path(results).read_text())
    assert app["aggregates"] == cli["aggregates"]
    assert app["aggregates"]["failed"] == 1 and app["aggregates"]["cer"] > 0
    keep = ("id", "reference", "prediction", "scores", "error", "model")
    assert [{k: i.get(k) for k in keep} for i in app["items"]] == [{k: i.get(k) for k in keep} for i in cli["items"]]
    assert [i["prediction"] for i in app["items"][:3]] == [
        "OPEN 24 HOURS",
        "Exit via Stairwell B",
        "Meeting moved\nRoom 204",
    ]
    # the page's table is the CLI's table
    assert metrics["headers"] == ["Metric", "Value"]
    for label, value in metrics["data"]:
        assert f"{label}" in cli_out and f"{value}" in cli_out, (label, value)
    assert ["CER", f"{cli['aggregates']['cer']:.2f} %"] in metrics["data"]
    assert items["headers"] == ["item", "reference", "prediction", "CER %", "WER %", "error"]
    assert [row[0] for row in items["data"]] == ["open.png", "exit.png", "note.png", "broken.png"]
    assert items["data"][3][5].startswith("InputError: ")
    assert "Reading text (OCR)" in summary and "1 failed" in summary
    (plot,) = plots
    assert Path(plot["image"]).name == "cer-histogram.png"
    assert Image.open(plot["image"]).size == (720, 420)
    # no server folder in what the client gets
    assert app["folder"] == "signs.zip" and app["dataset"] == "signs" and app["models"] == ["pip:rapidocr/models"]
    text = Path(results).read_text()
    assert str(tmp_path) not in text and str(ocr_set) not in text and "gradio" not in text


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"../../escape.png": b"x"}, "a path that leads out of its folder with '..' (../../escape.png)"),
        ({"zeros.png": bytes(4 * 2**20)}, "compressed more than 100 times (zeros.png): it looks like a zip bomb"),
        ({"a.png": b"x"}, "The zip has no metadata.jsonl (at its top or in its one folder)"),
        ({"metadata.jsonl": "{oops\n"}, "metadata.jsonl has 1 bad line(s):\n  line 1 is not valid JSON"),
    ],
)  # fmt: skip
def test_bad_zips_get_their_message(client, tmp_path: Path, entries: dict, message: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(AppError) as err:
        client.predict(handle_file(str(archive)), "ocr", 0, "voice", 0, api_name="/evaluate")
    assert message in str(err.value) and str(tmp_path) not in str(err.value)
    not_a_zip = tmp_path / "photo.zip"
    shutil.copy(archive, not_a_zip)
    not_a_zip.write_bytes(b"\x89PNG not a zip")
    with pytest.raises(AppError, match="This file is not a zip archive, or it is damaged"):
        client.predict(handle_file(str(not_a_zip)), "ocr", api_name="/evaluate")


def test_caption_batch_of_photos_and_a_zip_with_a_bad_file(
    client, app_manager, real_photos: dict[str, str], odd_images: dict[str, Path], tmp_path: Path
) -> None:
    from mmdemo.tasks.captioning import caption_image

    # the app runs the same tiny seeded captioner: each photo's caption is its caption alone
    lion, tower = (caption_image(real_photos[n], manager=app_manager).text for n in ("lion.jpg", "tower.jpg"))
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(real_photos["tower.jpg"], "paris/tower.jpg")
        zf.writestr("readme.txt", "not a photo")
    files = [
        handle_file(real_photos["lion.jpg"]),
        handle_file(str(odd_images["truncated.jpg"])),
        handle_file(str(archive)),
    ]
    table, downloads, notes = client.predict(files, False, "", api_name="/caption_batch")
    assert table["headers"] == ["file", "caption", "error"]
    assert [row[:2] for row in table["data"]] == [
        ["lion.jpg", lion],
        ["truncated.jpg", ""],
        ["holiday.zip/paris/tower.jpg", tower],
    ]
    assert "damaged or incomplete" in table["data"][1][2]
    assert "3 photo(s): 2 done, 1 could not be read." in notes and "readme.txt" in notes
    by_name = {Path(p).name: Path(p) for p in downloads}
    assert sorted(by_name) == ["captions.csv", "captions.jsonl"]
    with by_name["captions.csv"].open(encoding="utf-8", newline="") as f:
        assert [row[:2] for row in csv.reader(f)] == [["file", "caption"], *[row[:2] for row in table["data"]]]
    records = [json.loads(line) for line in by_name["captions.jsonl"].read_text(encoding="utf-8").splitlines()]
    assert [r["caption"] for r in records] == [lion, None, tower]


def test_caption_batch_refuses_what_it_cannot_take(client, real_photos: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(AppError, match="no file was provided"):
        client.predict([], False, "", api_name="/caption_batch")
    with pytest.raises(AppError, match=r"question\) is too long \(301 characters; at most 300\)"):
        client.predict([handle_file(real_photos["lion.jpg"])], False, "x" * 301, api_name="/caption_batch")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("/etc/cron.d/evil.jpg", b"x")
    with pytest.raises(AppError, match=r"absolute path \(/etc/cron\.d/evil\.jpg\)"):
        client.predict([handle_file(str(evil))], api_name="/caption_batch")
