"""The evaluation data set reader (ImageFolder/AudioFolder ``metadata.jsonl``) and the built-in sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdemo.errors import InputError
from mmdemo.evaluation import datasets
from mmdemo.evaluation.datasets import DatasetError, builtin_dataset, read_dataset, resolve_dataset


def _folder(tmp_path: Path, lines: list[str | dict], files: tuple[str, ...] = ("a.jpg",)) -> Path:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    text = "\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines)
    (tmp_path / "metadata.jsonl").write_text(text + "\n", encoding="utf-8")
    return tmp_path


def test_caption_references_string_or_list(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [{"file_name": "a.jpg", "text": "a cat"}, {"file_name": "sub/b.png", "text": ["one", "two"], "extra": 1}],
        files=("a.jpg", "sub/b.png"),
    )
    data = read_dataset(folder, "caption")
    assert [i.reference for i in data.items] == [("a cat",), ("one", "two")]
    assert data.items[1].path == folder / "sub" / "b.png" and data.items[1].id == "sub/b.png"
    assert data.items[1].line == 2 and data.name == folder.name and data.task == "caption"


def test_vqa_answers_as_strings_objects_or_one_string(tmp_path: Path) -> None:
    rows = [
        {"file_name": "a.jpg", "question": "What?", "answers": ["x", "y"]},
        {"file_name": "a.jpg", "question": "How many?", "answers": [{"answer": "2", "answer_id": 1}]},
        {"file_name": "a.jpg", "question": "Colour?", "answers": "red"},
    ]
    data = read_dataset(_folder(tmp_path, rows), "vqa")
    assert [(i.question, i.reference) for i in data.items] == [
        ("What?", ("x", "y")),
        ("How many?", ("2",)),
        ("Colour?", ("red",)),
    ]


def test_ocr_lines_asr_emotion_and_prompts(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [{"file_name": "a.jpg", "text": ["Line one", "Line two"]}])
    assert read_dataset(folder, "ocr").items[0].reference == "Line one\nLine two"
    folder = _folder(tmp_path, [{"file_name": "a.jpg", "text": ""}])
    assert read_dataset(folder, "asr").items[0].reference == ""  # silence: an empty transcript is allowed
    folder = _folder(tmp_path, [{"file_name": "a.jpg", "label": " hap "}])
    assert read_dataset(folder, "emotion").items[0].reference == "hap"
    folder = _folder(tmp_path, [{"prompt": "a red cube"}, {"prompt": "a boat", "file_name": "a.jpg"}])
    items = read_dataset(folder, "t2i").items
    assert [(i.reference, i.path) for i in items] == [("a red cube", None), ("a boat", folder / "a.jpg")]


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    row = json.dumps({"file_name": "a.jpg", "text": "hi"})
    (tmp_path / "metadata.jsonl").write_bytes(("\ufeff" + row + "\r\n\r\n  \r\n" + row + "\r\n").encode("utf-8"))
    data = read_dataset(tmp_path, "asr")
    assert [i.line for i in data.items] == [1, 4]


@pytest.mark.parametrize(
    ("lines", "task", "message"),
    [
        (
            ['{"file_name": "a.jpg", "text": "x"', '{"file_name": "a.jpg", "text": "y"}'],
            "asr",
            "line 1 is not valid JSON",
        ),
        (['["a.jpg", "x"]'], "asr", "line 1 is not a JSON object"),
        ([{"text": "x"}], "asr", "line 1 has no 'file_name'"),
        (
            [{"file_name": "a.jpg", "caption": "x"}],
            "caption",
            "line 1 has no 'text' column (it has: caption, file_name)",
        ),
        ([{"file_name": "a.jpg", "question": "q"}], "vqa", "has no 'answers' column"),
        ([{"file_name": "a.jpg", "question": "q", "answers": []}], "vqa", "'answers' must be a list"),
        ([{"file_name": "a.jpg", "question": " ", "answers": ["x"]}], "vqa", "'question' must be a non-empty"),
        ([{"file_name": "a.jpg", "text": ["ok", ""]}], "caption", "non-empty list of captions"),
        ([{"file_name": "a.jpg", "text": 3}], "ocr", "'text' must be the text in the image"),
        ([{"file_name": "a.jpg", "text": ["a"]}], "asr", "'text' must be the transcript"),
        ([{"file_name": "a.jpg", "label": ""}], "emotion", "'label' must be a non-empty string"),
        ([{"prompt": ""}], "t2i", "'prompt' must be a non-empty string"),
        ([{"file_name": "/etc/passwd", "text": "x"}], "asr", "must be a relative path inside the folder"),
        ([{"file_name": "../a.jpg", "text": "x"}], "asr", "must be a relative path inside the folder"),
        ([{"file_name": 5, "text": "x"}], "asr", "has no 'file_name'"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, lines: list, task: str, message: str) -> None:
    with pytest.raises(DatasetError) as caught:
        read_dataset(_folder(tmp_path, lines), task)
    assert message in str(caught.value)
    assert isinstance(caught.value, InputError)  # the CLI's exit code 2


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    lines = ["not json", *[{"file_name": "a.jpg"} for _ in range(12)], {"file_name": "a.jpg", "text": "ok"}]
    with pytest.raises(DatasetError) as caught:
        read_dataset(_folder(tmp_path, lines), "asr")
    text = str(caught.value)
    assert "13 bad line(s)" in text and "line 1 is not valid JSON" in text and "line 10 has no 'text'" in text
    assert "… and 3 more" in text


def test_missing_files_are_listed(tmp_path: Path) -> None:
    lines = [
        {"file_name": "a.jpg", "text": "x"},
        {"file_name": "gone.wav", "text": "y"},
        {"file_name": "b.wav", "text": "z"},
    ]
    with pytest.raises(DatasetError) as caught:
        read_dataset(_folder(tmp_path, lines), "asr")
    assert "2 file(s) named in" in str(caught.value)
    assert "gone.wav (line 2), b.wav (line 3)" in str(caught.value)


def test_folder_and_metadata_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="Dataset folder not found"):
        read_dataset(tmp_path / "nope", "asr")
    with pytest.raises(DatasetError, match=r"has no metadata\.jsonl\. .*'file_name' and question, answers"):
        read_dataset(tmp_path, "vqa")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "metadata.jsonl").write_text("")
    with pytest.raises(DatasetError, match="split folders with one: test"):
        read_dataset(tmp_path, "asr")
    with pytest.raises(DatasetError, match="lists no items"):
        read_dataset(tmp_path / "test", "asr")
    (tmp_path / "metadata.jsonl").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_dataset(tmp_path, "asr")
    with pytest.raises(DatasetError, match=r"Task \(task\) must be one of 'caption'"):
        read_dataset(tmp_path, "translate")


def test_resolve_names_folders_and_builtins(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no built-in caption set"):
        resolve_dataset("caption", None, tmp_path)
    with pytest.raises(DatasetError, match="'speech' is for asr, not ocr"):
        resolve_dataset("ocr", "speech", tmp_path)
    with pytest.raises(DatasetError, match="Dataset folder not found: no-such-set"):
        resolve_dataset("asr", "no-such-set", tmp_path)
    folder = _folder(tmp_path / "mine", [{"file_name": "a.jpg", "text": "x"}])
    assert resolve_dataset("asr", str(folder), tmp_path).folder == folder


def test_builtin_text_images_are_built_once(tmp_path: Path) -> None:
    folder = builtin_dataset("text-images", tmp_path)
    assert folder == tmp_path / "text-images-v1"
    data = read_dataset(folder, "ocr")
    assert len(data.items) == len(datasets.TEXT_IMAGES) >= 15
    assert data.items[0].reference == "Quarterly Sales Report"
    assert any("\n" in item.reference for item in data.items)  # multi-line text
    from PIL import Image

    assert Image.open(folder / "lion-poster.png").size[0] >= 400
    stamp = (folder / "metadata.jsonl").stat().st_mtime_ns
    assert builtin_dataset("text-images", tmp_path) == folder
    assert (folder / "metadata.jsonl").stat().st_mtime_ns == stamp  # not rebuilt
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_builtin_speech_without_espeak_keeps_the_real_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets.shutil, "which", lambda name: None)
    data = resolve_dataset("asr", None, tmp_path)
    assert [i.id for i in data.items] == list(datasets.GRADIO_SPEECH)
    assert data.notes and "espeak-ng is not installed" in str(data.notes[0])  # keyed (NOTES.txt keeps the key)
    assert data.name == "speech (built-in)"


def test_builtin_speech_with_espeak(tmp_path: Path) -> None:
    import soundfile as sf

    from mmdemo.testing.tts import espeak_available

    if not espeak_available():
        pytest.fail("espeak-ng is missing: `apt-get install espeak-ng` (scripts/test.sh does it).")
    data = resolve_dataset("asr", "speech", tmp_path)
    assert len(data.items) == len(datasets.GRADIO_SPEECH) + len(datasets.SPOKEN) and not data.notes
    spoken = [i for i in data.items if i.id.startswith("espeak-")]
    assert [i.reference for i in spoken] == [text for _, _, text in datasets.SPOKEN]
    info = sf.info(spoken[0].path)
    assert info.samplerate == 16_000 and 1.5 < info.duration < 6


def test_an_overlong_line_is_a_bad_line_and_the_next_lines_keep_their_numbers(tmp_path: Path) -> None:
    long = json.dumps({"file_name": "a.jpg", "text": "x" * (datasets.MAX_LINE_BYTES + 10)})
    folder = _folder(tmp_path, [{"file_name": "a.jpg", "text": "x"}, long, "[" * 50_000, '{"file_name": "a.jpg"'])
    with pytest.raises(DatasetError) as caught:
        read_dataset(folder, "asr")
    assert str(caught.value).splitlines()[1:] == [
        f"  line 2 is longer than {datasets.MAX_LINE_BYTES} bytes",
        "  line 3 is nested too deeply (lists or objects inside each other) to be read",
        "  line 4 is not valid JSON (Expecting ',' delimiter, column 22)",
    ]


def test_a_folder_read_by_the_cli_has_no_item_cap_but_may_be_given_one(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [{"file_name": "a.jpg", "text": str(i)} for i in range(5)])
    assert len(read_dataset(folder, "asr").items) == 5
    with pytest.raises(DatasetError, match="lists more than 4 items"):
        read_dataset(folder, "asr", max_items=4)


def test_not_utf8_names_the_byte_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    row = json.dumps({"file_name": "a.jpg", "text": "hi"}).encode()
    (tmp_path / "metadata.jsonl").write_bytes(b"\xef\xbb\xbf" + row + b"\n" + row[:5] + b"\xff" + row[5:] + b"\n")
    with pytest.raises(DatasetError, match=rf"at byte {3 + len(row) + 1 + 5}\)"):
        read_dataset(tmp_path, "asr")
