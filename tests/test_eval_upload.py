"""Data sets uploaded as zips (mmdemo/evaluation/upload.py) and the evaluation's progress steps: the zip is unpacked
safely, read by the CLI's reader, and its messages name metadata.jsonl and the zip, never the server's folders."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mmdemo.errors import Cancelled
from mmdemo.evaluation.datasets import DatasetError
from mmdemo.evaluation.report import item_table
from mmdemo.evaluation.runner import evaluate
from mmdemo.evaluation.upload import read_zipped_dataset
from mmdemo.media.archive import ArchiveError
from mmdemo.models.manager import ModelManager
from mmdemo.testing.text_images import render_text


def zipped(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def png(text: str) -> bytes:
    import io

    buffer = io.BytesIO()
    render_text([text]).save(buffer, format="PNG")
    return buffer.getvalue()


def lines(*rows: dict | str) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def test_a_zipped_set_in_a_folder_is_read_like_a_folder(tmp_path: Path) -> None:
    source = zipped(
        tmp_path / "signs.zip",
        {
            "signs/metadata.jsonl": lines(
                {"file_name": "images/open.png", "text": "OPEN"}, {"file_name": "images/exit.png", "text": "EXIT"}
            ),
            "signs/images/open.png": png("OPEN"),
            "signs/images/exit.png": png("EXIT"),
        },
    )
    dataset = read_zipped_dataset(source, "ocr", tmp_path / "unpacked", name="signs")
    assert dataset.name == "signs" and dataset.task == "ocr"
    assert [(i.id, i.reference) for i in dataset.items] == [("images/open.png", "OPEN"), ("images/exit.png", "EXIT")]
    assert all(i.path is not None and i.path.is_relative_to(tmp_path / "unpacked") for i in dataset.items)


def test_no_metadata_and_several_sets(tmp_path: Path) -> None:
    source = zipped(tmp_path / "photos.zip", {"a.png": png("A")})
    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(source, "vqa", tmp_path / "one", name="photos")
    assert str(err.value) == (
        "The zip has no metadata.jsonl (at its top or in its one folder): add one, with a JSON object per line "
        "naming a file ('file_name') and its reference ('question' and 'answers')."
    )
    source = zipped(tmp_path / "splits.zip", {"train/metadata.jsonl": "", "test/metadata.jsonl": ""})
    with pytest.raises(DatasetError, match=r"^The zip holds several data sets \(test, train\): zip one of them\.$"):
        read_zipped_dataset(source, "ocr", tmp_path / "two", name="splits")


def test_bad_lines_and_missing_files_name_no_server_folder(tmp_path: Path) -> None:
    source = zipped(
        tmp_path / "bad.zip",
        {
            "metadata.jsonl": lines({"file_name": "a.png", "text": "A"}, "{not json", {"file_name": "b.png"}),
            "a.png": png("A"),
        },
    )
    target = tmp_path / "bad"
    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(source, "ocr", target, name="bad")
    assert str(err.value) == (
        "metadata.jsonl has 2 bad line(s):\n"
        "  line 2 is not valid JSON (Expecting property name enclosed in double quotes, column 2)\n"
        "  line 3 has no 'text' column (it has: file_name)"
    )
    assert str(target) in err.value.detail  # the operator's log keeps the real path
    source = zipped(
        tmp_path / "missing.zip",
        {"metadata.jsonl": lines({"file_name": "a.png", "text": "A"}, {"file_name": "b.png", "text": "B"})},
    )
    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(source, "ocr", tmp_path / "missing", name="missing")
    assert str(err.value) == "2 file(s) named in metadata.jsonl are not in the zip: a.png (line 1), b.png (line 2)"


def test_a_hostile_or_broken_zip_is_refused_by_the_safe_extraction(tmp_path: Path) -> None:
    source = zipped(tmp_path / "evil.zip", {"metadata.jsonl": "", "/etc/evil.png": b"x"})
    with pytest.raises(ArchiveError, match=r"absolute path \(/etc/evil\.png\)"):
        read_zipped_dataset(source, "ocr", tmp_path / "evil", name="evil")
    assert list((tmp_path / "evil").iterdir()) == []
    (tmp_path / "not.zip").write_bytes(b"%PDF-1.4")
    with pytest.raises(ArchiveError, match="not a zip archive"):
        read_zipped_dataset(tmp_path / "not.zip", "ocr", tmp_path / "pdf", name="not")


def test_evaluate_reports_each_item_and_stops_when_told(tmp_path: Path, shared_manager: ModelManager) -> None:
    source = zipped(
        tmp_path / "signs.zip",
        {
            "metadata.jsonl": lines(
                {"file_name": "open.png", "text": "OPEN"}, {"file_name": "exit.png", "text": "EXT"}
            ),
            "open.png": png("OPEN"),
            "exit.png": png("EXIT"),
        },
    )
    dataset = read_zipped_dataset(source, "ocr", tmp_path / "signs", name="signs")
    steps: list[tuple[float, str]] = []
    result = evaluate(dataset, shared_manager, progress=False, step=lambda f, m: steps.append((f, m)))
    assert steps == [(0.0, "Item 1 of 2: open.png"), (0.5, "Item 2 of 2: exit.png"), (1.0, "Scoring")]
    assert [r.prediction for r in result.items] == ["OPEN", "EXIT"] and result.aggregates["cer"] == 14.29  # 1 of 7
    assert item_table(result) == (
        ["item", "reference", "prediction", "CER %", "WER %", "error"],
        [["open.png", "OPEN", "OPEN", "0.00", "0.00", ""], ["exit.png", "EXT", "EXIT", "33.33", "100.00", ""]],
    )

    def leave(fraction: float, message: str) -> None:
        if fraction > 0:
            raise Cancelled

    with pytest.raises(Cancelled):  # not recorded as an item's error: the run stops
        evaluate(dataset, shared_manager, progress=False, step=leave)


def test_an_upload_lists_at_most_max_items_and_reading_stops_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26, item 8: metadata.jsonl naming one photo 50,000 times (the issue's 2 M lines, scaled) is refused
    at the first line past the cap, without reading the rest."""
    from mmdemo.evaluation import datasets
    from mmdemo.testing.hostile import huge_metadata

    payload = huge_metadata(tmp_path / "set.zip", 50_000)
    parsed: list[str] = []
    real = datasets.json.loads
    monkeypatch.setattr(datasets.json, "loads", lambda text: parsed.append(text) or real(text))
    reports: list[str] = []
    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(
            payload, "caption", tmp_path / "out", name="set", max_items=2500, progress=lambda f, m: reports.append(m)
        )
    assert str(err.value) == (
        "metadata.jsonl lists more than 2500 items: this server evaluates at most 2500 per data set. "
        "Split it into smaller sets."
    )
    assert "每个数据集最多评测 2500 个" in err.value.text("zh-CN")
    assert sum("white square" in text for text in parsed) == 2500 and [str(m) for m in reports] == [
        f"Reading metadata.jsonl: line {n}" for n in (1000, 2000)
    ]
    data = read_zipped_dataset(huge_metadata(tmp_path / "small.zip", 3), "caption", tmp_path / "out2", name="s")
    assert len(data.items) == 3


def test_reading_a_long_metadata_stops_when_the_client_has_gone(tmp_path: Path) -> None:
    from mmdemo.testing.hostile import huge_metadata

    def gone(fraction: float, message: object) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        read_zipped_dataset(
            huge_metadata(tmp_path / "set.zip", 1500), "caption", tmp_path / "out", name="set", progress=gone
        )


def test_deeply_nested_json_is_a_bad_line(tmp_path: Path) -> None:
    from mmdemo.testing.hostile import deep_json_metadata

    with pytest.raises(DatasetError) as err:
        read_zipped_dataset(deep_json_metadata(tmp_path / "deep.zip", 100_000), "caption", tmp_path / "out", name="d")
    assert str(err.value) == (
        "metadata.jsonl has 1 bad line(s):\n"
        "  line 2 is nested too deeply (lists or objects inside each other) to be read"
    )
    assert "第 2 行嵌套过深" in err.value.text("zh-CN")
