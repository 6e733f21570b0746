"""The gate's file checks for an input that takes several files (gr.File(file_count="multiple"), the image tab's
"Many photos"): a list of files uploaded to this app, each checked like a single file, and a limit on the count."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from mmdemo.ui.gate import FILE_META, GateError, check_value

REFUSED = "Photos (files): this file is not a file uploaded to this app (or it expired). Upload it again."


@pytest.fixture
def uploaded() -> list[Path]:
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / f"gate-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    paths = [folder / "a.jpg", folder / "b.zip"]
    for path in paths:
        path.write_bytes(b"data")
    return paths


def _files(paths: list[Path]) -> list[dict]:
    return [{"path": str(p), "orig_name": f"my {p.name}", "meta": FILE_META, "url": "http://x/"} for p in paths]


def test_a_list_of_uploaded_files_is_admitted_one_by_one(uploaded: list[Path]) -> None:
    block = gr.File(label="Photos", file_count="multiple")
    admitted = check_value(block, _files(uploaded), "Photos (files)")
    assert admitted == [
        {"path": str(uploaded[0].resolve()), "orig_name": "my a.jpg", "meta": FILE_META},
        {"path": str(uploaded[1].resolve()), "orig_name": "my b.zip", "meta": FILE_META},
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "Photos (files): no file was provided. Upload one."),
        ([], "Photos (files): no file was provided. Upload one."),
        ({"path": "/etc/passwd", "meta": FILE_META}, REFUSED),  # one file where a list belongs
        ("/etc/passwd", REFUSED),
    ],
)
def test_nothing_or_something_else_than_a_list_is_refused(value, message: str) -> None:
    with pytest.raises(GateError) as err:
        check_value(gr.File(label="Photos", file_count="multiple"), value, "Photos (files)")
    assert err.value.message == message


def test_one_foreign_file_in_the_list_refuses_the_request(uploaded: list[Path], tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private")
    files = [*_files(uploaded), {"path": str(secret), "meta": FILE_META}]
    with pytest.raises(GateError) as err:
        check_value(gr.File(label="Photos", file_count="multiple"), files, "Photos (files)")
    assert err.value.message == REFUSED


def test_at_most_so_many_files(uploaded: list[Path]) -> None:
    from mmdemo.ui.gate import MAX_FILES

    with pytest.raises(GateError) as err:
        check_value(gr.File(label="Photos", file_count="multiple"), _files(uploaded[:1]) * (MAX_FILES + 1), "P (f)")
    assert err.value.message == f"P (f): at most {MAX_FILES} files at once (got {MAX_FILES + 1})."
    single = check_value(gr.File(label="Zip"), _files(uploaded[1:])[0], "Zip (dataset)")  # one file: as before
    assert single["orig_name"] == "my b.zip"


# --- what the handler receives: files unwrapped once ------------------------------------------------------------


def _event(demo: gr.Blocks, name: str) -> Any:
    return next(fn for fn in demo.fns.values() if fn.api_name == name)


def _preprocess(demo: gr.Blocks, name: str, values: list[Any]) -> list[Any]:
    from mmdemo.testing.aio import run

    return run(demo.preprocess_data(_event(demo, name), values, None))


def test_a_handler_receives_each_admitted_file_as_an_upload(uploaded: list[Path]) -> None:
    """A model event (raw values, ``preprocess=False``) gets an Upload per file — a path-like with the visitor's own
    file name — and a list of Upload for several files; Gradio had the file objects to read first."""
    import os

    from mmdemo.media.files import Upload
    from mmdemo.ui.gate import GatedBlocks

    with GatedBlocks() as demo:
        photo = gr.Image(label="Photo", type="filepath")
        photos = gr.File(label="Photos", file_count="multiple")
        video = gr.Video(label="Video")
        text = gr.Textbox(label="Question")
        out = gr.Textbox()
        gr.on(None, lambda *_: "", [photo, photos, video, text], out, preprocess=False, api_name="raw")
    one, many = _files(uploaded[:1])[0], _files(uploaded)
    image, files, clip, question = _preprocess(demo, "raw", [one, many, _files(uploaded[1:])[0], "What?"])
    assert image == Upload(uploaded[0].resolve(), "my a.jpg") and os.fspath(image) == str(uploaded[0].resolve())
    assert files == [Upload(uploaded[0].resolve(), "my a.jpg"), Upload(uploaded[1].resolve(), "my b.zip")]
    assert clip == Upload(uploaded[1].resolve(), "my b.zip") and question == "What?"
    assert open(image, "rb").read() == b"data"  # anything that opens a path opens it


def test_an_event_gradio_preprocesses_gets_what_its_component_makes(uploaded: list[Path]) -> None:
    from mmdemo.ui.gate import GatedBlocks

    with GatedBlocks() as demo:
        files = gr.File(label="Files", file_count="multiple", type="filepath")
        out = gr.Textbox()
        gr.on(None, lambda f: "", [files], out, api_name="cooked")  # Gradio preprocesses (the default)
    (paths,) = _preprocess(demo, "cooked", [_files(uploaded)])
    assert [Path(p).read_bytes() for p in paths] == [b"data", b"data"] and all(isinstance(p, str) for p in paths)
