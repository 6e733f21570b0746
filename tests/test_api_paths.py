"""What the API and the MCP tools answer holds no server path of the app's making: texts, Markdown, tables,
captions, error sentences and the reports a client downloads name files by their own names only.

The one place a server path remains is Gradio's file object, ``{"path": "/tmp/gradio/<hash>/image.png", "url":
"http://HOST/gradio_api/file=/tmp/gradio/<hash>/image.png", …}`` (and over MCP that URL): Gradio serves a file at
``/gradio_api/file=<its path>``, so the URL is the path, and gradio_client downloads an output from
``ROOT/file=<path>`` and takes only objects with a ``path`` as files. It stays, limited to Gradio's cache folder
(checked here); :func:`test_gradio_client_downloads_an_output_by_its_path` pins why."""

from __future__ import annotations

import base64
import inspect
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmdemo.settings import Settings
from mmdemo.testing import aio
from mmdemo.testing.http import call_raw, upload
from mmdemo.testing.text_images import ocr_set

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
SIGN = ASSETS / "images" / "thanks-for-watching.jpg"
TEXT_FILES = (".md", ".json", ".jsonl", ".csv", ".srt", ".txt")


def server_folders() -> list[str]:
    """Where the server keeps things (its temp and cache folders, the code, the models, the Python packages): none
    of it may appear in an answer outside a file object."""
    from gradio.utils import get_upload_folder

    folders = {get_upload_folder(), tempfile.gettempdir(), str(ROOT), str(Path.home()), sys.prefix}
    return sorted({str(Path(f).resolve()) for f in folders} | folders, key=len, reverse=True)


def leaks(text: str) -> list[str]:
    return [folder for folder in server_folders() if folder in text]


def is_file(value: Any) -> bool:
    return isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData"


def unwrap(url: str, value: Any, where: str, found: list[str]) -> None:
    """Every string of an API answer checked (``found`` gets where a server path showed); each file object's path
    must be in Gradio's cache, its URL that path on this app, and a text file it names is read and checked too."""
    from gradio.utils import get_upload_folder

    if is_file(value):
        path, cache = value["path"], Path(get_upload_folder()).resolve()
        assert cache in Path(path).resolve().parents, (where, path)
        assert value["url"] == f"{url}/gradio_api/file={path}", (where, value)
        assert "/" not in (value.get("orig_name") or ""), (where, value)
        if path.endswith(TEXT_FILES):
            text = httpx.get(value["url"]).text
            found += [f"{where} ({Path(path).name}): {leak}" for leak in leaks(text)]
    elif isinstance(value, dict):
        for key, item in value.items():
            unwrap(url, item, f"{where}.{key}", found)
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            unwrap(url, item, f"{where}[{n}]", found)
    elif isinstance(value, str):
        found += [f"{where}: {leak} in {value[:200]!r}" for leak in leaks(value)]


def test_the_check_finds_a_path_outside_file_objects() -> None:
    from gradio.utils import get_upload_folder

    stored = str(Path(get_upload_folder()) / "abc" / "image.png")
    url = "http://127.0.0.1:1"
    good = {"path": stored, "url": f"{url}/gradio_api/file={stored}", "meta": {"_type": "gradio.FileData"}}
    found: list[str] = []
    unwrap(url, [good, {"caption": "seed 1"}, 3, None], "ok", found)
    assert found == []
    unwrap(url, [good, {"headers": ["file"], "data": [[f"{tempfile.gettempdir()}/x.jpg"]]}], "table", found)
    unwrap(url, f"Could not read {ROOT}/assets/x.mp4", "error", found)
    # (a checkout under /tmp is named by two of the checked folders: one finding per place is enough)
    assert list(dict.fromkeys(f.split(":")[0] for f in found)) == ["table[1].data[0][0]", "error"]
    with pytest.raises(AssertionError):  # a file object outside Gradio's cache
        unwrap(url, {**good, "path": "/etc/passwd", "url": f"{url}/gradio_api/file=/etc/passwd"}, "file", found)


def damaged(folder: Path) -> dict[str, Path]:
    """One damaged file per kind: the decoders' own errors (which name the file they read) must not come through."""
    files = {
        "bad.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2,
        "bad.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12,
        "bad.mp3": b"ID3" + bytes(range(256)) * 12,
        "bad.zip": b"PK\x03\x04" + bytes(range(256)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


@pytest.fixture(scope="module")
def app(app_settings: Settings, launch_app) -> Iterator[str]:
    with launch_app(app_settings.replace(mcp_server=True)) as url:
        yield url


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("path-inputs")
    return {"signs.zip": ocr_set(folder), **damaged(folder)}


def defaults(url: str, tool: str, **given: Any) -> list[Any]:
    """A tool's arguments for a raw call: its defaults from the API info, with ``given`` by name."""
    parameters = httpx.get(f"{url}/gradio_api/info").json()["named_endpoints"][f"/{tool}"]["parameters"]
    return [given.get(p["parameter_name"], p.get("parameter_default")) for p in parameters]


def test_raw_api_answers_name_no_server_path(app: str, files: dict[str, Path]) -> None:
    """``/gradio_api/call/<tool>`` and its event stream, as any HTTP client reads them: results, file objects,
    the reports they name, and the sentences of refused calls."""
    image = upload(app, str(SIGN))
    calls = {
        "generate": {"prompt": "a red bus", "steps": 1, "size": "64x64"},
        "ocr": {"image": image},
        "caption_batch": {"files": [image, upload(app, str(files["signs.zip"]))]},
        "summarize": {"video": upload(app, str(ASSETS / "videos" / "thanks-for-watching.mp4")), "max_keyframes": 1},
        "evaluate": {"dataset": upload(app, str(files["signs.zip"])), "task": "ocr"},
        "emotion": {"audio": upload(app, str(ASSETS / "audio" / "heath_ledger.mp3"))},
    }
    found: list[str] = []
    kinds: dict[str, int] = {}
    for tool, given in calls.items():
        result = call_raw(app, tool, defaults(app, tool, **given), timeout=300)
        assert result.event == "complete", (tool, result.data)
        unwrap(app, result.data, tool, found)
        kinds[tool] = json.dumps(result.data).count('"gradio.FileData"')
    assert found == []
    assert kinds == {"generate": 1, "ocr": 1, "caption_batch": 2, "summarize": 3, "evaluate": 2, "emotion": 1}

    refused = {
        "caption": {"image": upload(app, str(files["bad.jpg"]))},
        "summarize": {"video": upload(app, str(files["bad.mp4"]))},
        "emotion": {"audio": upload(app, str(files["bad.mp3"]))},
        "evaluate": {"dataset": upload(app, str(files["bad.zip"])), "task": "ocr"},
        "ocr": {"image": {"path": str(files["bad.jpg"]), "meta": {"_type": "gradio.FileData"}}},
    }
    messages = {}
    for tool, given in refused.items():
        result = call_raw(app, tool, defaults(app, tool, **given))
        assert result.event == "error", (tool, result.data)
        messages[tool] = result.message
    assert [leaks(m or "") for m in messages.values()] == [[]] * len(refused)
    assert messages["ocr"] == (
        "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again."
    )
    assert messages["caption"].startswith("The image could not be read: the file is damaged")


FILE_URL = re.compile(r"https?://\S+/gradio_api/file=(\S+)")


def test_mcp_answers_name_no_server_path_outside_file_urls(app: str, files: dict[str, Path]) -> None:
    """The official MCP SDK: every text of a result or an error, with its file URLs taken out, names no server
    folder; each file URL is a file in Gradio's cache on the host the client called."""
    from gradio.utils import get_upload_folder
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    def inline(path: Path, mime: str) -> str:
        return f"data:{mime};name={path.name};base64," + base64.b64encode(path.read_bytes()).decode()

    calls = [
        ("generate", {"prompt": "a red bus", "steps": 1, "size": "64x64"}),
        ("ocr", {"image": inline(SIGN, "image/jpeg")}),
        (
            "summarize",
            {"video": inline(ASSETS / "videos" / "thanks-for-watching.mp4", "video/mp4"), "max_keyframes": 1},
        ),
        ("evaluate", {"dataset": inline(files["signs.zip"], "application/zip"), "task": "ocr"}),
        ("caption_batch", {"files": [inline(SIGN, "image/jpeg")]}),
        ("caption", {"image": inline(files["bad.jpg"], "image/jpeg")}),
        ("summarize", {"video": inline(files["bad.mp4"], "video/mp4")}),
        ("caption", {"image": f"{app}/gradio_api/file={files['bad.jpg']}"}),
    ]

    async def run() -> list[Any]:
        async with (
            streamable_http_client(app + "/gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return [await session.call_tool(tool, arguments) for tool, arguments in calls]

    results = aio.run(run())
    assert [r.isError for r in results] == [False] * 5 + [True] * 3
    cache = Path(get_upload_folder()).resolve()
    found, urls = [], []
    for (tool, _), result in zip(calls, results, strict=True):
        for item in result.content:
            if item.type != "text":
                continue
            urls += FILE_URL.findall(item.text)
            found += [f"{tool}: {leak}" for leak in leaks(FILE_URL.sub("URL", item.text))]
    assert found == []
    # generate 1, ocr 1, summarize 3 (a keyframe, two reports), evaluate 2 (plot, JSON), caption_batch 2 (CSV, JSONL)
    assert len(urls) == 9
    assert all(cache in Path(path).resolve().parents for path in urls), urls
    report = next(url for url in urls if url.endswith(".summary.json"))
    assert leaks(httpx.get(f"{app}/gradio_api/file={report}").text) == []


def test_gradio_client_downloads_an_output_by_its_path(app: str) -> None:
    """Why a file object keeps its server path: gradio_client (``download_files``, its default) fetches an output
    from ``ROOT/file=<path>`` (not its ``url``), and treats only objects with a ``path`` as files."""
    from gradio_client import Client
    from gradio_client.client import Endpoint
    from gradio_client.utils import is_file_obj_with_meta

    assert '"file=" + utils.encode_file_path(x["path"])' in inspect.getsource(Endpoint._download_file)
    assert not is_file_obj_with_meta({"url": f"{app}/gradio_api/file=/x.png", "meta": {"_type": "gradio.FileData"}})
    raw = call_raw(
        app,
        "generate",
        defaults(app, "generate", prompt="a red bus", steps=1, size="64x64", seed=3, randomize_seed=False),
    )
    gallery, *_ = Client(app, verbose=False).predict(
        "a red bus", "", 1, 0, "64x64", 1, 3, False, "auto", True, api_name="/generate"
    )
    assert Path(gallery[0]["image"]).read_bytes() == httpx.get(raw.data[0][0]["image"]["url"]).content
