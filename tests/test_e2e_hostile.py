"""The app as a hostile client sees it: raw HTTP calls with file payloads that point anywhere and API values
of every wrong type, on every endpoint (gradio_client only sends well-formed values)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from mmdemo.testing.hostile import (
    ENDPOINTS,
    Outcome,
    hostile_files,
    recording_server,
    run_file_matrix,
    run_value_fuzz,
    valid_call,
)
from mmdemo.testing.http import call_raw
from mmdemo.testing.text_images import render_text

REFUSED = {
    "caption": "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again.",
    "round_trip": "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again.",
    "describe": "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again.",
    "vqa": "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again.",
    "ocr": "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again.",
    "emotion": "Speech (audio): this recording is not a file uploaded to this app (or it expired). Upload it again.",
    "summarize": "Video (video): this video is not a file uploaded to this app (or it expired). Upload it again.",
}


@pytest.fixture(scope="module")
def media() -> dict[str, str]:
    from gradio.media import get_audio, get_image, get_video

    return {"image": get_image("lion.jpg"), "audio": get_audio("recording1.wav"), "video": get_video("a.mp4")}


def test_every_file_input_refuses_files_it_was_not_sent(app_url: str, media: dict[str, str], tmp_path: Path) -> None:
    from gradio.utils import get_upload_folder

    secret = tmp_path / "private-scan.png"
    render_text(["ACCOUNT 4711 SECRET"]).save(secret)  # what OCR would leak if the file were opened
    with recording_server() as (server_url, hits):
        payloads = hostile_files(secret, Path(get_upload_folder()), app_url, server_url)
        outcomes = run_file_matrix(app_url, media, payloads)
        assert hits == []  # no payload made the server fetch a URL
    assert {o.endpoint for o in outcomes} == set(REFUSED)
    for o in outcomes:
        # One message whatever the payload, whether the file exists or not: nothing to learn about the server.
        assert o.result.event == "error" and o.result.message == REFUSED[o.endpoint], (o.endpoint, o.param, o.result)
        assert "ACCOUNT" not in str(o.result.data) and str(tmp_path) not in str(o.result.data)
    # The same endpoints still serve files that were uploaded to them.
    for endpoint in ENDPOINTS:
        if endpoint.file_kind:
            result = call_raw(app_url, endpoint.name, valid_call(endpoint, app_url, media))
            assert result.event == "complete", (endpoint.name, result)


def test_uploaded_file_is_decoded_from_its_original_bytes(app_url: str, tmp_path: Path) -> None:
    from mmdemo.testing.http import upload

    sign = tmp_path / "sign.png"
    render_text(["OPEN DAILY"]).save(sign)
    result = call_raw(app_url, "ocr", [upload(app_url, str(sign)), 0.5])
    assert result.event == "complete" and result.data[1] == "OPEN DAILY"


def test_api_value_fuzz_gives_only_clear_errors(app_url: str, media: dict[str, str]) -> None:
    outcomes = run_value_fuzz(app_url, media)
    verdicts = collections.Counter(o.verdict for o in outcomes)
    unclear = [(o.endpoint, o.param, o.value, o.result.message) for o in outcomes if o.verdict == "unclear"]
    assert unclear == [] and len(outcomes) > 250, verdicts
    for o in outcomes:  # each refusal names the field and what it takes
        if o.verdict == "clear":
            assert f"({o.param})" in (o.result.message or ""), (o.endpoint, o.param, o.value, o.result.message)


def test_wrong_number_of_values_is_a_clear_error(app_url: str, media: dict[str, str]) -> None:
    caption = next(e for e in ENDPOINTS if e.name == "caption")
    args = valid_call(caption, app_url, media)
    few = call_raw(app_url, "caption", args[:2])
    assert few.event == "error" and "takes 5 values (image, prefix, max_new_tokens" in (few.message or "")
    many = call_raw(app_url, "caption", [*args, 1])
    assert many.event == "error" and "the request sent 6" in (many.message or "")
    assert Outcome("caption", "-", "-", call_raw(app_url, "caption", args)).verdict == "ok"


def test_a_small_wide_flac_is_refused_before_it_is_decoded(client, tmp_path: Path) -> None:
    """Issue 26, item 2: a silent 8-channel FLAC at 655,350 Hz (56 KB for 10 s; 210 MB of float32 when decoded
    all at once) is refused from its header, and the same endpoint still serves the next recording."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from mmdemo.testing.hostile import wide_flac

    path = wide_flac(tmp_path / "wide.flac", 10.0)
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(path)), 3.0, 1.5, False, 0.5, api_name="/emotion")
    assert "The recording's sample rate (655350 Hz) is outside 1000–192000 Hz" in str(info.value)
    from gradio.media import get_audio

    fused = client.predict(handle_file(get_audio("recording1.wav")), 3.0, 1.5, False, 0.5, api_name="/emotion")[0]
    assert sum(c["confidence"] for c in fused["confidences"]) == pytest.approx(1.0, abs=1e-4)


def test_many_photos_budgets_the_whole_request_before_unpacking(app_url: str, tmp_path: Path) -> None:
    """Issue 26, item 1, through the running app: one zip named 40 times in one /caption_batch call is one zip
    (checked and unpacked once, its notes never written); zips that pass every check alone but hold more entries
    together than a request may (10,000 by default) are refused, the limit named, before any is unpacked."""
    import zipfile

    from mmdemo.testing.hostile import huge_png, many_references, zip_of_empty_files, zip_without_photos
    from mmdemo.testing.http import upload

    holiday = zip_without_photos(tmp_path / "holiday.zip", 2 * 2**20)
    with zipfile.ZipFile(holiday, "a") as zf:
        zf.write(huge_png(tmp_path / "p.png", 32), "photo.png")
    result = call_raw(app_url, "caption_batch", [many_references(upload(app_url, str(holiday)), 40), False, ""])
    assert result.event == "complete", result
    table, _, notes = result.data
    assert [row[0] for row in table["data"]] == ["holiday.zip/photo.png"]
    assert "39 file(s) were sent more than once" in notes and "notes/part-0000.txt" in notes
    zips = [upload(app_url, str(zip_of_empty_files(tmp_path / f"e{i}.zip", 1900, seed=i))) for i in range(6)]
    refused = call_raw(app_url, "caption_batch", [zips, False, ""])
    assert refused.event == "error" and refused.message == (
        "The zips sent together hold too many entries (11400; at most 10000 per request): send fewer zips at once."
    ), refused


def test_evaluate_caps_items_and_names_a_bad_line(app_url: str, tmp_path: Path) -> None:
    """Issue 26, item 8 and a low item, through the running app: a metadata.jsonl naming one photo more times
    than a data set may hold (2000 items by default) is refused at the cap, and JSON nested too deeply is a bad
    line named by its number, not "Something unexpected"."""
    from mmdemo.testing.hostile import deep_json_metadata, huge_metadata
    from mmdemo.testing.http import upload

    many = upload(app_url, str(huge_metadata(tmp_path / "many.zip", 2001)))
    refused = call_raw(app_url, "evaluate", [many, "caption", 0, "voice", 0])
    assert refused.event == "error" and (refused.message or "").startswith(
        "metadata.jsonl lists more than 2000 items: this server evaluates at most 2000 per data set."
    ), refused
    deep = upload(app_url, str(deep_json_metadata(tmp_path / "deep.zip", 100_000)))
    bad = call_raw(app_url, "evaluate", [deep, "caption", 0, "voice", 0])
    assert bad.event == "error" and "line 2 is nested too deeply" in (bad.message or ""), bad
