"""Every task as an MCP tool (Gradio's MCP server, ``--mcp``): the tools an MCP client lists, a call with
an uploaded file, and the same gate, rate limit and sign-in as the API."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmdemo.settings import Settings
from mmdemo.testing.server import launched_app

pytestmark = pytest.mark.e2e

SIGN = Path(__file__).resolve().parents[1] / "assets" / "images" / "thanks-for-watching.jpg"
TOOLS = {
    *("caption", "describe", "vqa", "ocr", "generate", "emotion", "summarize"),
    *("caption_batch", "evaluate", "round_trip"),
}
REFUSED = "Photo (image): this image is not a file uploaded to this app (or it expired). Upload it again."


def mcp(url: str, *calls: tuple[str, dict[str, Any]]) -> tuple[list[Any], list[tuple[bool, str]]]:
    """List the tools of the app at ``url``, then make ``calls``; (tools, [(is_error, text)])."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def run() -> tuple[list[Any], list[tuple[bool, str]]]:
        async with streamablehttp_client(url + "/gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            tools = (await s.list_tools()).tools
            results = []
            for name, arguments in calls:
                result = await s.call_tool(name, arguments)
                results.append((bool(result.isError), " ".join(getattr(c, "text", "") for c in result.content)))
            return tools, results

    # In its own thread: a test before may have left an event loop running in this one (Playwright's sync API).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def mcp_url(tiny_settings: Settings) -> Iterator[str]:
    with launched_app(tiny_settings.replace(mcp_server=True, rate_limit_per_minute=3)) as url:
        yield url


def test_every_task_is_a_documented_tool(mcp_url: str) -> None:
    tools, _ = mcp(mcp_url)
    assert {t.name for t in tools} == TOOLS  # the UI's helpers (prechecks, refreshes) are not tools
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        properties = tool.inputSchema["properties"]
        assert all(p.get("description") for p in properties.values()), (tool.name, properties)
    ocr = next(t for t in tools if t.name == "ocr")
    assert ocr.inputSchema["properties"]["min_score"]["default"] == 0.5


def test_calls_pass_the_gate_and_the_rate_limit(mcp_url: str) -> None:
    uploaded = httpx.post(mcp_url + "/gradio_api/upload", files={"files": SIGN.open("rb")}).json()[0]
    inline = "data:image/jpeg;base64," + base64.b64encode(SIGN.read_bytes()).decode()
    _, results = mcp(
        mcp_url,
        ("ocr", {"image": f"{mcp_url}/gradio_api/file={uploaded}"}),  # the app's own URL of an upload
        ("ocr", {"image": inline}),  # inline data
        ("ocr", {"image": "http://127.0.0.1:9/secret.png"}),  # any other URL: refused, never fetched
        ("ocr", {"image": f"{mcp_url}/gradio_api/file=/etc/passwd"}),  # outside the uploads: refused
        ("ocr", {"image": inline}),  # the third model call of this minute …
        ("ocr", {"image": inline}),  # … and the fourth: over the limit of 3
    )
    assert [error for error, _ in results] == [False, False, True, True, False, True]
    assert all("THANKS FOR WATCHING" in text for error, text in results if not error)
    assert results[2][1] == results[3][1] == REFUSED
    assert results[5][1].startswith("Too many requests: at most 3 a minute per user.")


def test_sign_in_applies_to_tool_calls(tiny_settings: Settings) -> None:
    with launched_app(tiny_settings.replace(mcp_server=True), auth=[("ann", "pw")]) as url:
        _, results = mcp(url, ("ocr", {"image": "data:image/png;base64," + base64.b64encode(b"x").decode()}))
    ((error, text),) = results
    assert error and "credentials were not provided" in text
