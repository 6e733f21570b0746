"""Every task as an MCP tool (Gradio's MCP server, ``--mcp``, as :mod:`mmdemo.ui.mcp` adapts it), called with the
official MCP Python SDK: the tools and their schemas, every tool with its files sent both ways (a ``data:`` URL
and this app's URL of an upload), with and without a progress callback, the content it returns, and the same gate,
rate limit and sign-in as the API. The first tests need no app: they check that the Gradio internals
:mod:`mmdemo.ui.mcp` overrides still have the shape it relies on."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import http.server
import inspect
import io
import json
import logging
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from mmdemo.messages import say
from mmdemo.settings import Settings
from mmdemo.testing import aio
from mmdemo.testing.hostile import ENDPOINTS, generate_args, mcp_call_body, mcp_tool_call, password_guesses
from mmdemo.testing.http import browser_call, call_raw
from mmdemo.testing.http import upload as upload_file
from mmdemo.testing.text_images import ocr_set
from mmdemo.ui.gate import MAX_FILES
from mmdemo.ui.mcp import (
    AppMCPServer,
    ToolInputError,
    adopt,
    data_url_file,
    describe_file_parameters,
    file_help,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SIGN = ASSETS / "images" / "thanks-for-watching.jpg"
TOOLS = {
    *("caption", "describe", "vqa", "ocr", "generate", "emotion", "summarize"),
    *("caption_batch", "evaluate", "round_trip"),
}
FILE_PARAMETERS = {
    "caption": "image",
    "describe": "image",
    "vqa": "image",
    "ocr": "image",
    "round_trip": "image",
    "emotion": "audio",
    "summarize": "video",
    "evaluate": "dataset",
    "caption_batch": "files",
}
REFUSED = "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again."
FILE_URL = re.compile(r"https?://[^\s)]+/gradio_api/file=\S+")
SECONDS = re.compile(r"\b\d+(?:\.\d+)? s\b")


# --- the MCP SDK as a client ------------------------------------------------------------------------------------


@dataclass
class Result:
    """One tool call's result: error flag, content as ("text", text) / ("image", mime, bytes), progress reports."""

    error: bool
    content: list[tuple[Any, ...]]
    progress: list[str | None] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [c[1] for c in self.content if c[0] == "text"]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def images(self) -> list[tuple[str, bytes]]:
        return [(c[1], c[2]) for c in self.content if c[0] == "image"]

    def shape(self) -> list[tuple[Any, ...]]:
        """The content without file URLs (a request's output files get their own folder) and timings."""
        return [(c[0], timeless(FILE_URL.sub("URL", c[1]))) if c[0] == "text" else c for c in self.content]

    def labelled(self, label: str) -> str:
        """The text of the output labelled ``label`` (a tool with several outputs labels each)."""
        return next(t[len(label) + 2 :] for t in self.texts if t.startswith(label + ": "))


def mcp(
    url: str, *calls: tuple[str, dict[str, Any], bool], headers: dict[str, str] | None = None, source: str = "127.0.0.1"
) -> tuple[list[Any], list[Result]]:
    """List the tools of the app at ``url``, then make ``calls`` (tool, arguments, with a progress callback);
    (tools, results). ``headers``: sent with every request (how an MCP client signs in); ``source``: the address
    the client connects from (any 127.x.y.z: another client on this machine)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> tuple[list[Any], list[Result]]:
        async with (
            httpx.AsyncClient(
                headers=headers or {},
                timeout=httpx.Timeout(30, read=300),
                transport=httpx.AsyncHTTPTransport(local_address=source),
            ) as http,
            streamable_http_client(url + "/gradio_api/mcp/", http_client=http) as (read, write, _),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            tools = (await s.list_tools()).tools
            results = []
            for name, arguments, with_progress in calls:
                reports: list[str | None] = []

                async def progress(
                    _step: float, _total: float | None, message: str | None, reports: list[str | None] = reports
                ) -> None:
                    reports.append(message)

                result = await s.call_tool(name, arguments, progress_callback=progress if with_progress else None)
                content = [
                    ("text", c.text) if c.type == "text" else (c.type, c.mimeType, base64.b64decode(c.data))
                    for c in result.content
                ]
                results.append(Result(bool(result.isError), content, reports))
            return tools, results

    return aio.run(run())


def upload(url: str, path: Path) -> str:
    """This app's URL of ``path`` after uploading it (what an MCP client sends)."""
    with path.open("rb") as f:
        stored = httpx.post(url + "/gradio_api/upload", files={"files": (path.name, f)}).json()[0]
    return f"{url}/gradio_api/file={stored}"


def timeless(text: str) -> str:
    return SECONDS.sub("# s", text)


def data_url(path: Path, mime: str, name: str | None = None) -> str:
    return f"data:{mime}{f';name={name}' if name else ''};base64," + base64.b64encode(path.read_bytes()).decode()


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- Gradio's internals that mmdemo.ui.mcp overrides -----------------------------------------------------------


def test_the_gradio_internals_mmdemo_overrides_keep_their_shape() -> None:
    """mmdemo/ui/mcp.py replaces methods of Gradio 6.31's GradioMCPServer and adopts the server in the app's
    lifespan; if Gradio renames, re-signs or stops calling them, this fails before a tool silently loses its fix."""
    from gradio import routes
    from gradio.mcp import GradioMCPServer
    from gradio_client import Client
    from gradio_client.utils import OutputUpdate, StatusUpdate

    expected = {
        "get_input_schema": ["self", "tool_name", "parameters"],
        "convert_strings_to_filedata": ["self", "value", "filedata_positions"],
        "_prepare_tool_call_args": ["self", "name", "arguments"],
        "_execute_tool_without_progress": ["self", "job"],
        "_execute_tool_with_progress": ["self", "job", "progress_token"],
        "postprocess_output_data": ["self", "data", "root_url"],
        "_format_progress_message": ["update"],
        "get_block_fn_from_endpoint_name": ["self", "endpoint_name"],
        "_get_or_create_client": ["self"],
    }
    for name, params in expected.items():
        assert list(inspect.signature(getattr(GradioMCPServer, name)).parameters) == params, name
        assert name.startswith(("_format", "get_block")) or name in AppMCPServer.__dict__, name
    assert isinstance(inspect.getattr_static(GradioMCPServer, "_file_data_tool_description"), property)
    server = inspect.getsource(GradioMCPServer.create_mcp_server)
    for call in (
        "self._prepare_tool_call_args(name, arguments)",
        "self._execute_tool_without_progress(job)",
        "self._execute_tool_with_progress(",
        "self.postprocess_output_data(output_data, root_url)",
        "self.get_input_schema(tool_name, parameters)",
        "self.get_fn_description(block_fn, tool_name)",
        "run_sync(self._get_or_create_client)",
        "@server.call_tool()",  # the SDK's tools/call handler, which AppMCPServer.admit_calls wraps
    ):
        assert call in server, call
    from mcp.server.lowlevel import Server

    assert "self.request_handlers[types.CallToolRequest] = handler" in inspect.getsource(Server.call_tool)
    prepare = inspect.getsource(GradioMCPServer._prepare_tool_call_args)
    assert "self.get_input_schema(name)" in prepare and "self.convert_strings_to_filedata(" in prepare
    assert "self._file_data_tool_description" in inspect.getsource(GradioMCPServer.get_fn_description)
    setup = inspect.getsource(routes.App.setup_mcp_server)
    assert "blocks.mcp_server_obj = gradio.mcp.GradioMCPServer(blocks)" in setup and "user_lifespan" in setup
    assert "as credentials were not provided" in inspect.getsource(Client)  # the loopback client's sign-in error
    assert {"code", "log", "progress_data"} <= set(StatusUpdate.__dataclass_fields__)
    from gradio.queueing import Queue
    from gradio_client.utils import Communicator

    assert list(inspect.signature(Queue.clean_events).parameters) == ["self", "session_hash", "event_id"]
    assert {"lock", "should_cancel", "event_id"} <= set(Communicator.__dataclass_fields__)  # how a call is abandoned
    assert 'cancel_tasks({f"{body.session_hash}_{body.fn_index}"})' in inspect.getsource(routes.App.create_app)
    assert {"outputs", "success", "final"} <= set(OutputUpdate.__dataclass_fields__)


def test_adopt_turns_only_gradios_own_server_into_the_apps() -> None:
    import gradio as gr
    from gradio.mcp import GradioMCPServer
    from mcp import types

    class Blocks:
        mcp_server_obj: Any = None

    blocks = Blocks()
    adopt(blocks)  # type: ignore[arg-type]  # no MCP server: nothing to do
    with gr.Blocks() as demo:
        text = gr.Textbox()

        def echo(text: str) -> str:
            """Say ``text`` back."""
            return text

        text.submit(echo, text, text, api_name="echo")
    blocks.mcp_server_obj = server = GradioMCPServer(demo)
    gradios = server.mcp_server.request_handlers[types.CallToolRequest]
    adopt(blocks)  # type: ignore[arg-type]
    admitted = server.mcp_server.request_handlers[types.CallToolRequest]
    assert type(server) is AppMCPServer and admitted is not gradios  # tool calls pass the job limit first
    adopt(blocks)  # type: ignore[arg-type]  # an app's server already: nothing to do
    assert server.mcp_server.request_handlers[types.CallToolRequest] is admitted


def test_data_urls_become_files_in_gradios_cache(tmp_path: Path) -> None:
    from gradio.utils import get_upload_folder

    path = Path(data_url_file(data_url(SIGN, "image/jpeg", name="../../etc/sign.jpg"), "Photo (image)", 10**6))
    assert path.name == "sign.jpg" and path.read_bytes() == SIGN.read_bytes()
    assert Path(get_upload_folder()).resolve() in path.resolve().parents
    assert Path(data_url_file(data_url(SIGN, "image/jpeg"), "Photo (image)", None)).suffix in (".jpg", ".jpeg")
    for bad, words in [
        ("data:image/png,abc", "data:<type>;base64,<data>"),
        ("data:image/png;base64,@@@@", "not valid base64"),
        ("data:image/png;base64,", "holds no data"),
        (data_url(SIGN, "image/jpeg"), "this file is too large ("),
    ]:
        with pytest.raises(ToolInputError) as info:
            data_url_file(bad, "Photo (image)", 10_000)
        assert str(info.value).startswith("Photo (image): ") and words in str(info.value), str(info.value)


def test_a_data_url_is_stored_once_and_removed_with_the_uploads() -> None:
    """Issue 26 (#5): a data: URL's file was stored, uploaded again by the loopback client, and never deleted. It is
    now stored once, passed on as this app's URL of it, and listed with the page's uploads, which Gradio's cache
    clean-up (``delete_cache``) removes."""
    from types import SimpleNamespace

    from gradio.route_utils import delete_files_created_by_app

    uploads: set[str] = set()
    server = _bare_server(uploads)
    value = server._file(data_url(SIGN, "image/jpeg", name="sign.jpg"), "Photo (image)")
    (path,) = uploads
    assert value == {
        "path": f"http://127.0.0.1/gradio_api/file={path}",
        "orig_name": "sign.jpg",
        "meta": {"_type": "gradio.FileData"},
    }
    assert Path(path).read_bytes() == SIGN.read_bytes()
    delete_files_created_by_app(SimpleNamespace(blocks={}, temp_file_sets=[uploads]), age=None)  # type: ignore[arg-type]
    assert not Path(path).exists() and not uploads


def _bare_server(uploads: set[str], admission: Any = None, peer: str = "10.0.0.9") -> AppMCPServer:
    """An MCP server with only what ``_file`` reads: its app's uploads and budgets, and the request it answers."""
    from types import SimpleNamespace

    server = object.__new__(AppMCPServer)
    blocks = SimpleNamespace(upload_file_set=uploads, max_file_size=None, admission=admission)
    server.blocks = blocks  # type: ignore[assignment]
    request = SimpleNamespace(scope={"type": "http", "client": (peer, 5000), "headers": []})
    server.mcp_server = SimpleNamespace(request_context=SimpleNamespace(request=request))  # type: ignore[assignment]
    return server


def test_data_urls_count_against_the_callers_upload_budget() -> None:
    """Issue 26 (#14): a ``data:`` URL is stored by the MCP server itself, not through the upload route, so the
    per-client upload budget never saw it. It is charged to the caller now, and refused past the budget before it
    is decoded or stored (another caller keeps its own budget)."""
    from mmdemo.ui.admission import Admission

    size = SIGN.stat().st_size
    admission = Admission(upload_bytes_per_minute=int(size * 2.5))
    uploads: set[str] = set()
    server = _bare_server(uploads, admission)
    inline = data_url(SIGN, "image/jpeg")
    server._file(inline, "Photo (image)")
    server._file(inline, "Photo (image)")
    with pytest.raises(ToolInputError) as refused:
        server._file(inline, "Photo (image)")
    assert str(refused.value).startswith("Too much uploaded: at most "), str(refused.value)
    assert admission.uploads.used("10.0.0.9") == 2 * size
    assert _bare_server(uploads, admission, peer="10.0.0.10")._file(inline, "Photo (image)")["path"]  # another client


def test_the_api_page_says_what_a_file_parameter_takes(shared_manager: Any) -> None:
    from mmdemo.ui import build_app

    info = describe_file_parameters(build_app(shared_manager).get_api_info())
    described = {
        (name, p["parameter_name"]): p
        for name, endpoint in info["named_endpoints"].items()
        for p in endpoint["parameters"]
        if p["component"] in ("Image", "Audio", "Video", "File")
    }
    assert set(described) == {(f"/{tool}", parameter) for tool, parameter in FILE_PARAMETERS.items()}
    for (name, _), parameter in described.items():
        text = parameter["python_type"]["description"]
        assert text == file_help(name == "/caption_batch", mcp=False)
        assert "handle_file(" in text and "/gradio_api/upload" in text and "never fetched" in text
        assert "publicly available URL" not in text
        examples = parameter["example_input"]
        for example in examples if isinstance(examples, list) else [examples]:  # a local file, not a URL on GitHub
            assert example["path"] == example["url"] == example["orig_name"] and "/" not in example["path"]
    assert described["/ocr", "image"]["example_input"]["path"] == "bus.png"


# --- the app as an MCP server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mcp_url(app_settings: Settings, launch_app) -> Iterator[str]:
    with launch_app(app_settings.replace(mcp_server=True, max_upload_mb=1)) as url:
        yield url


@pytest.fixture(scope="module")
def api(mcp_url: str) -> Any:
    from gradio_client import Client

    return Client(mcp_url, verbose=False)


def test_the_api_page_shows_what_a_file_parameter_takes(mcp_url: str) -> None:
    """The "Use via API" page (served from /gradio_api/info) says what the app accepts, not Gradio's "a local
    filepath or publicly available URL" (URLs are refused), and its Python snippet sends a local file."""
    ocr = httpx.get(mcp_url + "/gradio_api/info").json()["named_endpoints"]["/ocr"]
    assert ocr["parameters"][0]["python_type"]["description"] == file_help(mcp=False)
    assert "handle_file('bus.png')" in ocr["code_snippets"]["python"]


def test_every_task_is_a_documented_tool(mcp_url: str) -> None:
    import jsonschema

    tools, _ = mcp(mcp_url)
    assert {t.name for t in tools} == TOOLS  # the UI's helpers (prechecks, refreshes) are not tools
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        assert "upload_file_to_gradio" not in tool.description and "returned path" not in tool.description
        schema = tool.inputSchema
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)  # no pointer to nowhere
        properties = schema["properties"]
        assert all(p.get("description") for p in properties.values()), (tool.name, properties)
        for name, prop in properties.items():
            if name == FILE_PARAMETERS.get(tool.name):
                one = {"type": "string", "format": "uri"}
                assert prop == {
                    **(
                        {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_FILES}
                        if name == "files"
                        else one
                    ),
                    "description": prop["description"],
                }, tool.name
                assert prop["description"].endswith(file_help(name == "files")), tool.name
                assert "/gradio_api/upload" in prop["description"] and "data:" in prop["description"]
    schemas = {t.name: t.inputSchema["properties"] for t in tools}
    defaults = {name: {k: p.get("default", "—") for k, p in props.items()} for name, props in schemas.items()}
    assert defaults["ocr"] == {"image": "—", "min_score": 0.5}
    assert defaults["caption"] == {
        "image": "—",
        "prefix": "",
        "max_new_tokens": 30,
        "min_new_tokens": 0,
        "num_beams": 3,
    }
    assert defaults["caption_batch"] == {"files": "—", "read_text": False, "question": ""}
    assert defaults["evaluate"] == {
        "dataset": "—",
        "task": None,  # no task chosen: the caller says what the data set is for
        "limit": 0,
        "emotion_source": "voice",
        "seed": 0,
    }
    assert defaults["generate"] == {
        "prompt": "—",
        "negative_prompt": "",
        "steps": 0,
        "guidance_scale": 0,
        "size": "auto",
        "num_images": 1,
        "seed": None,
        "randomize_seed": True,
        "decoder": "auto",
        "clip_score": True,
    }
    assert schemas["generate"]["seed"]["type"] == ["integer", "null"]
    assert "enum" not in schemas["generate"]["size"]  # "auto" or any WIDTHxHEIGHT
    assert schemas["generate"]["decoder"]["enum"] == ["auto", "tiny", "full"]
    page = httpx.get(mcp_url + "/gradio_api/mcp/schema").json()  # the API page's MCP section shows these
    assert {t["name"]: t["inputSchema"] for t in page} == {t.name: t.inputSchema for t in tools}
    assert {t.name: t.inputSchema.get("required") for t in tools} == {
        **{tool: [parameter] for tool, parameter in FILE_PARAMETERS.items()},
        "generate": ["prompt"],
    }


def _photos_zip(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "photos.zip", "w") as zf:
        for name in ("lion.jpg", "tower.jpg"):
            zf.write(ASSETS / "images" / name, name)
    return folder / "photos.zip"


def test_every_tool_takes_its_files_both_ways_and_returns_the_same_with_or_without_progress(
    mcp_url: str, api: Any, tmp_path: Path
) -> None:
    """Each tool twice: its file as a data: URL without a progress callback (the SDK's default), then as this
    app's URL of an upload with one. Same results (images as image content), progress reported to the second,
    the values the API gives for the same file, and no server path anywhere but in file URLs."""
    from gradio.utils import get_upload_folder
    from gradio_client import handle_file

    audio, video = ASSETS / "audio" / "heath_ledger.mp3", ASSETS / "videos" / "thanks-for-watching.mp4"
    dataset, photos = ocr_set(tmp_path), _photos_zip(tmp_path)
    files = {  # tool: (its file, MIME type, other arguments)
        "caption": (SIGN, "image/jpeg", {"max_new_tokens": 8}),
        "describe": (SIGN, "image/jpeg", {}),
        "vqa": (SIGN, "image/jpeg", {"question": "What does it say?"}),
        "ocr": (SIGN, "image/jpeg", {}),
        "round_trip": (SIGN, "image/jpeg", {"steps": 1, "seed": 3}),
        "emotion": (audio, "audio/mpeg", {}),
        "summarize": (video, "video/mp4", {"max_keyframes": 2}),
        "evaluate": (dataset, "application/zip", {"task": "ocr"}),
    }
    calls = []
    for tool, (path, mime, options) in files.items():
        name = FILE_PARAMETERS[tool]
        calls += [
            (tool, {name: data_url(path, mime, name=path.name), **options}, False),
            (tool, {name: upload(mcp_url, path), **options}, True),
        ]
    batch = [(SIGN, "image/jpeg"), (photos, "application/zip")]
    calls += [
        ("caption_batch", {"files": [data_url(p, m, name=p.name) for p, m in batch]}, False),
        ("caption_batch", {"files": [upload(mcp_url, p) for p, _ in batch]}, True),
    ]
    _, results = mcp(mcp_url, *calls)
    by_tool = {tool: results[2 * i : 2 * i + 2] for i, tool in enumerate([*files, "caption_batch"])}

    cache = str(Path(get_upload_folder()).resolve())
    for tool, (inline, uploaded) in by_tool.items():
        assert not inline.error and not uploaded.error, (tool, inline.content, uploaded.content)
        assert inline.shape() == uploaded.shape(), tool  # the same whichever way, with progress or without
        assert not inline.progress and uploaded.progress, tool  # progress reports only when asked for
        for text in inline.texts + uploaded.texts:
            assert cache not in FILE_URL.sub("URL", text) and "'path'" not in text, (tool, text)
        for mime, data in inline.images:
            assert mime in ("image/png", "image/jpeg") and picture(data).format == mime.split("/")[1].upper()

    def api_call(tool: str, *args: Any) -> Any:
        return api.predict(handle_file(str(files[tool][0])), *args, api_name=f"/{tool}")

    caption, described, answer = by_tool["caption"][0], by_tool["describe"][0], by_tool["vqa"][0]
    assert caption.content == [("text", api_call("caption", "", 8))]
    assert described.texts[0] == api_call("describe") and not described.images
    assert answer.content == [("text", api_call("vqa", "What does it say?"))]

    ocr = by_tool["ocr"][0]
    assert [c[0] for c in ocr.content] == ["image", "text", "text", "text"]
    assert picture(ocr.images[0][1]).size == Image.open(SIGN).size  # the photo with the boxes drawn
    assert ocr.texts[0].startswith(f"Text found (boxes on the photo): {mcp_url}/gradio_api/file=")
    assert ocr.labelled("Result") == "THANKS FOR WATCHING"
    lines = json.loads(ocr.labelled("Lines found"))
    assert lines["headers"] == ["#", "Text", "Confidence"] and [r[1] for r in lines["data"]] == ["THANKS FOR WATCHING"]

    trip = by_tool["round_trip"][0]
    api_caption, _, api_back, api_scores = api_call("round_trip", 1, 3)
    assert [c[0] for c in trip.content] == ["text", "image", "text", "text", "text"]
    assert trip.labelled("Caption of the photo") == api_caption
    assert trip.labelled("Caption of the generated image") == api_back
    assert timeless(trip.labelled("Similarities")) == timeless(api_scores) and "Seed 3" in api_scores
    assert trip.images[0][0] == "image/png" and picture(trip.images[0][1]).size == (64, 64)

    emotion = by_tool["emotion"][0]
    fused, *_ = api_call("emotion")
    assert json.loads(emotion.labelled("Overall emotion")) == fused
    timeline = json.loads(emotion.labelled("Voice emotion over time"))
    assert timeline["columns"] == ["time", "emotion", "probability"] and timeline["data"]
    assert emotion.labelled("Transcript").startswith("[0:0")
    assert [m for m, _ in emotion.images] == ["image/jpeg"]  # the spectrogram (Gradio stores it as WebP)
    assert emotion.texts[5].startswith(f"Spectrogram (mel scale): {mcp_url}/gradio_api/file=")

    summary = by_tool["summarize"][0]
    api_summary, api_chapters, api_gallery, *_ = api_call("summarize", 2)
    assert summary.labelled("Summary") == api_summary and summary.labelled("Chapters") == api_chapters
    assert len(summary.images) == len(api_gallery) == 2  # the keyframes, each as an image
    keyframes = [t for t in summary.texts if t.startswith("Keyframes ")]
    assert [k.split(" (")[0] for k in keyframes] == ["Keyframes 1", "Keyframes 2"]
    assert all(" (0:0" in k and f"): {mcp_url}/gradio_api/file=" in k for k in keyframes)
    reports = [t for t in summary.texts if t.startswith("Report (Markdown, JSON, SRT) ")]
    assert [r.split(": ")[1].split(" ")[0] for r in reports] == [
        "thanks-for-watching.summary.md",
        "thanks-for-watching.summary.json",
    ]
    report_url = reports[1].split(" ")[-1]
    assert json.loads(httpx.get(report_url).text)["summary"] == api_summary  # a URL the client can fetch

    evaluation = by_tool["evaluate"][0]
    metrics = json.loads(evaluation.labelled("Metrics"))
    assert ["CER", "0.00 %"] in metrics["data"] and ["items scored", "1 of 1 (0 failed)"] in metrics["data"]
    assert [m for m, _ in evaluation.images] == ["image/png"]  # the CER histogram
    assert json.loads(evaluation.labelled("Items"))["data"][0][:3] == ["open.png", "OPEN 24 HOURS", "OPEN 24 HOURS"]
    assert evaluation.labelled("Results (JSON)").startswith(f"signs.ocr.json {mcp_url}/gradio_api/file=")

    inline_batch, uploaded_batch = by_tool["caption_batch"]
    table = json.loads(inline_batch.labelled("Captions"))
    assert [row[0] for row in table["data"]] == [
        "thanks-for-watching.jpg",
        "photos.zip/lion.jpg",
        "photos.zip/tower.jpg",
    ]
    api_table, *_ = api.predict([handle_file(str(p)) for p, _ in batch], api_name="/caption_batch")
    assert table == json.loads(uploaded_batch.labelled("Captions")) == {k: api_table[k] for k in ("headers", "data")}
    assert [t.split(": ")[1].split(" ")[0] for t in inline_batch.texts if t.startswith("Download")] == [
        "captions.csv",
        "captions.jsonl",
    ]


def test_generate_returns_its_images_as_image_content(mcp_url: str, api: Any) -> None:
    """generate takes no file: its images come back as PNG image content, the same with or without progress, each
    with its seed and a URL on the host the client called (not the loopback one the tool call ran on)."""
    from gradio_client import handle_file  # noqa: F401 - the API call below needs no file

    arguments = {"prompt": "a red bus", "steps": 1, "num_images": 2, "seed": 7, "randomize_seed": False}
    local = mcp_url.replace("127.0.0.1", "localhost")
    _, (plain, reported) = mcp(local, ("generate", arguments, False), ("generate", arguments, True))
    assert not plain.error and plain.shape() == reported.shape() and reported.progress
    assert [c[0] for c in plain.content] == ["image", "text", "image", "text", "text", "text"]
    gallery, seed, notes = api.predict("a red bus", "", 1, 0, "auto", 2, 7, False, "auto", True, api_name="/generate")
    assert [m for m, _ in plain.images] == ["image/png", "image/png"]
    for n, ((_, data), item) in enumerate(zip(plain.images, gallery, strict=True), start=1):
        assert data == Path(item["image"]).read_bytes()  # the PNG the API gives
        line = plain.texts[n - 1]
        assert line.startswith(f"Images {n} ({item['caption']}): {local}/gradio_api/file="), line
        assert httpx.get(line.split("): ")[1]).content == data  # and a URL the client can fetch
    assert plain.labelled("Seed used") == str(seed) == "7"
    assert timeless(plain.labelled("Notes")) == timeless(notes)


def test_bad_files_get_the_users_sentence_and_nothing_is_fetched(mcp_url: str) -> None:
    hits: list[str] = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

    trap = http.server.HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    too_large = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(3 * 2**19)).decode()
    try:
        _, results = mcp(
            mcp_url,
            ("ocr", {"image": f"http://127.0.0.1:{trap.server_port}/secret.png"}, False),  # any other URL
            ("ocr", {"image": f"{mcp_url}/gradio_api/file=/etc/passwd"}, False),  # outside the uploads
            ("ocr", {"image": f"{mcp_url}/gradio_api/file=/tmp/gradio/../../etc/passwd"}, True),
            ("ocr", {"image": "/etc/passwd"}, False),  # a path: Gradio's client would upload it
            ("ocr", {"image": "/etc/passwd"}, True),
            ("caption_batch", {"files": [data_url(SIGN, "image/jpeg"), "/etc/passwd"]}, False),
            ("ocr", {"image": "data:image/png;base64,@@@@"}, False),
            ("ocr", {"image": "data:image/png;base64,abc"}, False),  # Python's base64: "Incorrect padding"
            ("ocr", {"image": too_large}, False),  # over this app's upload limit (1 MB here)
            ("ocr", {"image": "data:text/plain;base64," + base64.b64encode(b"hello").decode()}, True),
        )
    finally:
        trap.shutdown()
    assert hits == []
    assert all(r.error and len(r.content) == 1 for r in results), [r.content for r in results]
    texts = [r.text for r in results]
    assert texts[0] == texts[1] == texts[2] == REFUSED
    path_refused = (
        "Photo (image): send this app's URL of an uploaded file (http://HOST/gradio_api/file=PATH, after POST "
        "/gradio_api/upload) or a data: URL; a path is not accepted."
    )
    assert texts[3] == texts[4] == path_refused
    assert texts[5] == path_refused.replace("Photo (image)", "Photos, or zips of photos (files)")
    assert texts[6] == texts[7] == "Photo (image): this data: URL is not valid base64."
    assert texts[8] == "Photo (image): this file is too large (1.5 MB; at most 1 MB)."
    assert "image" in texts[9].lower() and "Traceback" not in texts[9] and "/tmp" not in texts[9], texts[9]


def test_warnings_come_after_the_outputs(mcp_url: str) -> None:
    _, (plain, reported) = mcp(
        mcp_url, *[("ocr", {"image": data_url(ASSETS / "images" / "lion.jpg", "image/jpeg")}, p) for p in (False, True)]
    )
    assert plain.shape() == reported.shape() and not plain.error
    assert plain.labelled("Result") == "" and plain.texts[-1] == "Info: No text found in this image."


def test_the_readme_mcp_example_runs(mcp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL) if "ClientSession" in b]
    assert 'APP = "http://127.0.0.1:7860"' in code
    (tmp_path / "sign.jpg").write_bytes(SIGN.read_bytes())
    (tmp_path / "talk.mp4").write_bytes((ASSETS / "videos" / "thanks-for-watching.mp4").read_bytes())
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {"__name__": "readme"}
    program = compile(code.replace("http://127.0.0.1:7860", mcp_url), "README.md", "exec")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its asyncio.run in a thread (mmdemo.testing.aio)
        pool.submit(exec, program, scope).result()
    assert set(scope["tools"]) == TOOLS
    assert [c.type for c in scope["ocr"]] == ["image", "text", "text", "text"]
    assert scope["ocr"][2].text == "Result: THANKS FOR WATCHING"
    summary = scope["summary"]
    assert summary[0].type == "text" and summary[0].text.startswith("Summary: ")
    assert any(c.type == "image" and c.mimeType == "image/jpeg" for c in summary)  # the keyframes
    assert picture(scope["png"]).format == "PNG"


# --- the same rate limit and sign-in as the API ------------------------------------------------------------------


def test_calls_pass_the_rate_limit(app_settings: Settings, launch_app) -> None:
    inline = data_url(SIGN, "image/jpeg")
    with launch_app(app_settings.replace(mcp_server=True, rate_limit_per_minute=3)) as url:
        _, results = mcp(
            url,
            ("ocr", {"image": upload(url, SIGN)}, False),
            ("ocr", {"image": inline}, True),
            ("ocr", {"image": inline}, False),  # the third model call of this minute …
            ("ocr", {"image": inline}, True),  # … and the fourth: over the limit of 3
            ("ocr", {"image": inline}, False),
        )
        _, (elsewhere,) = mcp(url, ("ocr", {"image": inline}, False), source="127.0.0.2")  # another client
    assert [r.error for r in results] == [False, False, False, True, True]
    assert all(r.labelled("Result") == "THANKS FOR WATCHING" for r in results[:3])
    assert timeless(results[3].text) == timeless(results[4].text)
    assert results[3].text.startswith("Too many requests: at most 3 a minute")
    # each MCP client has its own limit (Gradio's loopback client submits every call: the caller's address rides
    # with it; before, every MCP client counted as the loopback address)
    assert not elsewhere.error and elsewhere.labelled("Result") == "THANKS FOR WATCHING", elsewhere.content


def test_an_abandoned_call_stops(mcp_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 26 (#6): a tool call whose client went away kept running to its end. Its client closes the connection
    once the generation has started; the generation stops at its next step, as the page's requests do."""
    caplog.set_level(logging.INFO, logger="mmdemo")
    arguments = {"prompt": "a bus", "steps": 50, "size": "256x256", "num_images": 4, "clip_score": False}
    assert mcp_tool_call(mcp_url, "generate", arguments, leave_after_progress=True) == "abandoned"
    deadline = time.monotonic() + 240  # not a timing check: how long to wait for a log line at most
    while time.monotonic() < deadline and not any("generate stopped" in r.getMessage() for r in caplog.records):
        time.sleep(0.5)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("MCP call abandoned by its client: event ") for m in messages), messages
    assert any(m == "generate stopped: its client went away" for m in messages), messages


@pytest.fixture(scope="module")
def signed_in_url(app_settings: Settings, launch_app) -> Iterator[str]:
    """The app with sign-in (``--auth``) and MCP: launched once for the sign-in tests."""
    with launch_app(app_settings.replace(mcp_server=True), auth=[("ann", "pw"), ("bob", "pw2")]) as url:
        yield url


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_without_a_sign_in_a_tool_call_is_refused_before_anything_is_stored(signed_in_url: str) -> None:
    """Issue 26 (#5): with --auth, a data: URL was written to the cache before the credentials were checked (and
    the call refused after). Now the MCP server answers nothing without a sign-in, and stores nothing."""
    from gradio.utils import get_upload_folder
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    name = f"unsigned-{uuid.uuid4().hex}.jpg"

    def stored() -> list[Path]:  # the data: URL's file, wherever Gradio's cache would keep it
        return list(Path(get_upload_folder()).rglob(name))

    inline = data_url(SIGN, "image/jpeg", name=name)
    for headers in ({}, basic("ann", "wrong"), {"Authorization": "Bearer made-up"}):
        accept = {"accept": "application/json, text/event-stream", **headers}
        body = mcp_call_body("ocr", {"image": inline})
        response = httpx.post(signed_in_url + "/gradio_api/mcp/", json=body, headers=accept)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
        detail = response.json()["detail"]
        expected = "Incorrect user name or password." if "Basic" in str(headers) else "This app requires sign-in"
        assert detail.startswith(expected), detail

    async def official_client() -> None:
        async with streamable_http_client(signed_in_url + "/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()

    with pytest.raises(BaseException) as refused:  # the SDK raises the HTTP error (in an exception group)
        aio.run(official_client())
    assert "401 Unauthorized" in repr(refused.value)
    assert stored() == []


def test_a_signed_in_client_calls_the_tools(signed_in_url: str) -> None:
    """Issue 26 (#12): with --auth the tools were refused even with a valid sign-in. An MCP client now signs in
    with a header on every request: an account (HTTP Basic), or a sign-in's token (Bearer, or its cookie)."""
    inline = data_url(SIGN, "image/jpeg")
    signed = httpx.post(signed_in_url + "/login", data={"username": "bob", "password": "pw2"})
    assert signed.status_code == 200
    token = next(v for k, v in signed.cookies.items() if k.startswith("access-token-unsecure-"))
    cookie = "; ".join(f"{k}={v}" for k, v in signed.cookies.items())
    for headers in (basic("ann", "pw"), {"Authorization": f"Bearer {token}"}, {"Cookie": cookie}):
        _, (plain, reported) = mcp(
            signed_in_url,
            ("ocr", {"image": inline}, False),
            ("ocr", {"image": upload_signed(signed_in_url, headers)}, True),
            headers=headers,
        )
        assert not plain.error and plain.labelled("Result") == "THANKS FOR WATCHING", (headers, plain.content)
        assert plain.shape() == reported.shape() and reported.progress
        url = FILE_URL.search(plain.text).group(0)  # the boxes drawn on the photo: fetched with the same header
        assert httpx.get(url, headers=headers).status_code == 200
        assert httpx.get(url).status_code in (401, 403)  # and not without it


def upload_signed(url: str, headers: dict[str, str]) -> str:
    """This app's URL of the sign after uploading it with ``headers`` (an upload needs a sign-in too)."""
    with SIGN.open("rb") as f:
        response = httpx.post(url + "/gradio_api/upload", files={"files": (SIGN.name, f)}, headers=headers)
    assert response.status_code == 200, response.text
    return f"{url}/gradio_api/file={response.json()[0]}"


def test_a_second_account_does_not_reset_the_sign_in_throttle(signed_in_url: str) -> None:
    """Issue 26 (#4), against the real sign-in: guesses at another user's password, each followed by a correct
    sign-in of the attacker's own account, were never held back (40 guesses, no 429)."""
    statuses = password_guesses(signed_in_url, "carol", ("ann", "pw"), 8)
    assert statuses[:5] == [400] * 5 and 429 in statuses[5:], statuses


# --- the per-client job limit (issue 26, #7 for MCP) --------------------------------------------------------------
# One count per client for its page, API and MCP jobs; a refusal is an MCP tool error in the limit's own sentence;
# the slot comes back when the call ends or its client goes away. The app is started with one job per client.

SLOW_GENERATION = {"prompt": "a bus", "steps": 50, "size": "256x256", "num_images": 4, "clip_score": False}
"""A generation that runs for minutes on the tiny models (it is abandoned once it has started)."""


@pytest.fixture(scope="module")
def one_job_url(app_settings: Settings, launch_app) -> Iterator[str]:
    with launch_app(app_settings.replace(mcp_server=True, max_jobs_per_client=1)) as url:
        yield url


@contextlib.contextmanager
def running_call(url: str, tool: str, arguments: dict[str, object]) -> Iterator[list[str]]:
    """An MCP ``tools/call`` (raw, from 127.0.0.1) held open from its first progress step of work until the block
    ends, when its connection is closed (its client goes away); yields the lines it received."""
    lines: list[str] = []
    started, leave = threading.Event(), threading.Event()

    def call() -> None:
        headers = {"accept": "application/json, text/event-stream"}
        with httpx.stream("POST", url + "/gradio_api/mcp/", json=mcp_call_body(tool, arguments), headers=headers,
                          timeout=600) as response:  # fmt: skip
            for line in response.iter_lines():
                lines.append(line)
                if "notifications/progress" in line and "Step" in line:
                    started.set()
                    leave.wait(600)
                    return
        started.set()  # it ended before its work started (refused): the assertions below say so

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        assert started.wait(300), "the slow call did not start"
        assert any("Step" in line for line in lines), lines
        yield lines
    finally:
        leave.set()
        thread.join(30)


def test_mcp_calls_count_against_the_per_client_job_limit(one_job_url: str) -> None:
    """Before, a refused call was "The request could not be completed" (the loopback client's submission got the
    429), after its data: URL had been stored."""
    from gradio.utils import get_upload_folder

    url = one_job_url
    inline = data_url(SIGN, "image/jpeg")
    name = f"refused-{uuid.uuid4().hex}.jpg"
    refusal = say("access.too_many_jobs", "en", count=1, limit=1)
    ocr_rest = list(next(e for e in ENDPOINTS if e.name == "ocr").valid[1:])
    with running_call(url, "generate", SLOW_GENERATION):
        _, (second,) = mcp(url, ("ocr", {"image": data_url(SIGN, "image/jpeg", name)}, False))  # the same client
        _, (reported,) = mcp(url, ("ocr", {"image": inline}, True))  # with a progress callback too
        api = call_raw(url, "generate", generate_args())  # the same client over the API
        _, (elsewhere,) = mcp(url, ("ocr", {"image": inline}, False), source="127.0.0.2")  # another client
    assert second.error and second.text == refusal, second.content
    assert list(Path(get_upload_folder()).rglob(name)) == []  # refused before its file was stored
    assert reported.error and reported.text == refusal, reported.content
    assert api.event == "http" and api.data[0] == 429 and refusal in str(api.data[1]), api
    assert not elsewhere.error and elsewhere.labelled("Result") == "THANKS FOR WATCHING", elsewhere.content

    # the abandoned call gives its slot back: the same client's next calls, MCP and API, are served
    deadline = time.monotonic() + 120  # not a timing check: how long the abandoned job may take to be dropped
    while True:
        _, (after,) = mcp(url, ("ocr", {"image": inline}, False))
        if not after.error or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not after.error and after.labelled("Result") == "THANKS FOR WATCHING", after.content
    image = upload_file(url, str(SIGN))
    assert call_raw(url, "ocr", [image, *ocr_rest]).event == "complete"


def test_a_page_job_holds_the_slot_of_its_clients_mcp_calls(one_job_url: str) -> None:
    """The other way round: while the client's job from the page runs, its MCP call is refused, same sentence."""
    url = one_job_url
    refusal = say("access.too_many_jobs", "en", count=1, limit=1)
    refused = None
    for message in browser_call(url, "generate", generate_args("256x256", steps=50, images=4), timeout=600):
        if message.get("msg") == "progress":  # running: ask over MCP, then leave (the tab is closed)
            _, (refused,) = mcp(url, ("ocr", {"image": data_url(SIGN, "image/jpeg")}, False))
            break
        assert message.get("msg") != "process_completed", message
    assert refused is not None and refused.error and refused.text == refusal, refused
