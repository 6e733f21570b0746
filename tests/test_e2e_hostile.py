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
