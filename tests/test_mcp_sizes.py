"""``generate``'s size takes any WIDTHxHEIGHT, and the API info and the MCP tool schema say so: a string whose
presets are examples, not an ``enum`` (Gradio's schema for a dropdown listed only the presets, so MCP clients that
validate arguments against it, and API clients reading it, refused "192x128" although the app makes it).
:func:`mmdemo.ui.gate.describe_typed_choices` says it once, for both."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from mmdemo.settings import Settings
from mmdemo.tasks.text_to_image import SIZE
from mmdemo.testing import aio

PRESETS = ["auto", "512x512", "768x768", "1024x1024", "768x512", "512x768", "1024x576", "576x1024"]
"""The size picker's choices at the default largest side (1024)."""
HELP = (
    'the size of the images ("auto" (the model\'s size) or WIDTHxHEIGHT such as "768x512", sides multiples of 8 '
    "from 64 to the server's largest (MMDEMO_MAX_GENERATED_SIDE))"
)


def size_parameter(info: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in info["named_endpoints"]["/generate"]["parameters"] if p["parameter_name"] == "size")


def assert_described(size: dict[str, Any]) -> None:
    """The size parameter of the API info: any string, the presets as examples, the form in its description."""
    assert size["type"] == {"type": "string", "examples": PRESETS, "description": HELP}
    assert size["python_type"] == {"type": "str", "description": HELP}
    assert "enum" not in json.dumps(size) and "Literal" not in json.dumps(size)
    assert size["parameter_default"] == "auto" and size["component"] == "Dropdown"


def test_the_api_info_lists_the_presets_as_examples(shared_manager: Any) -> None:
    from mmdemo.ui import build_app

    assert SIZE.help() == HELP and shared_manager.settings.max_generated_side == 1024
    info = build_app(shared_manager).get_api_info()
    assert_described(size_parameter(info))
    decoder = next(p for p in info["named_endpoints"]["/generate"]["parameters"] if p["parameter_name"] == "decoder")
    assert decoder["type"]["enum"] == ["auto", "tiny", "full"]  # a choice that takes nothing else keeps its enum


@pytest.fixture(scope="module")
def mcp_url(app_settings: Settings, launch_app) -> Iterator[str]:
    with launch_app(app_settings.replace(mcp_server=True)) as url:
        yield url


def test_the_served_api_info_has_no_enum_for_size(mcp_url: str) -> None:
    assert_described(size_parameter(httpx.get(mcp_url + "/gradio_api/info").json()))


def test_an_mcp_client_generates_a_size_of_its_own(mcp_url: str) -> None:
    """The official MCP SDK: the tool's schema admits "192x128" (checked as a validating client checks it), and
    the call makes one 192×128 PNG in 2 steps; a size the app refuses gets the user's sentence."""
    import jsonschema
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    arguments = {"prompt": "a red bus", "steps": 2, "size": "192x128", "seed": 5, "randomize_seed": False}

    async def run() -> tuple[dict[str, Any], Any, Any]:
        async with (
            streamable_http_client(mcp_url + "/gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            made = await session.call_tool("generate", arguments)
            refused = await session.call_tool("generate", {**arguments, "size": "100x96"})
            return tools["generate"].inputSchema, made, refused

    schema, made, refused = aio.run(run())
    assert schema["properties"]["size"] == {
        "type": "string",
        "examples": PRESETS,
        "description": HELP,
        "default": "auto",
    }
    jsonschema.validate(arguments, schema)  # what a client that validates its arguments does first
    assert not made.isError, made.content
    images = [c for c in made.content if c.type == "image"]
    assert [c.mimeType for c in images] == ["image/png"]
    image = Image.open(io.BytesIO(base64.b64decode(images[0].data)))
    assert (image.format, image.size) == ("PNG", (192, 128))
    notes = next(c.text for c in made.content if c.type == "text" and c.text.startswith("Notes: "))
    assert "2 steps" in notes and "192×128" in notes
    assert refused.isError
    assert [c.text for c in refused.content] == ["Width (width) must be a multiple of 8 (got 100)."]
