"""What a file parameter of the app takes, said once for the MCP tools (:mod:`.mcp`) and for the API page
(:meth:`.gate.GatedBlocks.get_api_info`): :func:`file_help`, and :func:`describe_file_parameters`, which puts it in
Gradio's API info. The gate (:mod:`.gate`) enforces what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_FILES = 500
"""Files at most in one input that takes several (``gr.File(file_count="multiple")``)."""
MAX_DATA_URL_MB = 3
"""About the largest file a ``data:`` URL can carry: the MCP SDK refuses request bodies over 4 MB."""
FILE_COMPONENTS = ("Image", "Audio", "Video", "File")
"""The components whose values are files (as the API info names them); the gate checks each one."""

# --- what a file parameter takes: one text for MCP and for the API page ---------------------------------------

UPLOAD = (
    "upload it first (POST it to /gradio_api/upload, multipart field `files`: the answer is the path it was stored at)"
)


def file_help(multiple: bool = False, *, mcp: bool = True) -> str:
    """What a file parameter takes, for agents (``mcp``) or for API clients (the API page)."""
    if mcp:
        return (
            f"Send the file inline as a data: URL (data:<type>;base64,<data>, up to about {MAX_DATA_URL_MB} MB; "
            f";name=<file name> after the type keeps its name), or {UPLOAD} and send this app's URL of the upload, "
            "http://HOST/gradio_api/file=<that path>."
            + (f" Several files: a list of such URLs (at most {MAX_FILES})." if multiple else "")
            + " A path, or any other URL, is refused; nothing is fetched."
        )
    return (
        "A file uploaded to this app: gradio_client's handle_file(<local file>) uploads it. Over HTTP, "
        f'{UPLOAD} and send {{"path": <that path>, "meta": {{"_type": "gradio.FileData"}}}}; this app\'s URL of '
        "the upload (http://HOST/gradio_api/file=<that path>) also works as the path."
        + (f" Several files: a list of those (at most {MAX_FILES})." if multiple else "")
        + " Any other URL, and any path outside this app's uploads, is refused and never fetched."
    )


def describe_file_parameters(api_info: dict[str, Any]) -> dict[str, Any]:
    """``api_info`` (``Blocks.get_api_info``) with every file parameter described as :func:`file_help` says,
    instead of Gradio's "A local filepath or publicly available URL" (URLs are refused) or its ``FileData``
    docstring, and its example a local file (the page's snippets: ``handle_file('bus.png')``, which uploads it,
    not Gradio's URL on GitHub, which would be refused). The API page ("Use via API") shows both."""
    for endpoint in [*api_info.get("named_endpoints", {}).values(), *api_info.get("unnamed_endpoints", {}).values()]:
        for parameter in endpoint.get("parameters", []):
            if parameter.get("component") in FILE_COMPONENTS:
                multiple = str(parameter.get("python_type", {}).get("type", "")).startswith("list[")
                parameter.setdefault("python_type", {})["description"] = file_help(multiple, mcp=False)
                parameter["example_input"] = _local_example(parameter.get("example_input"))
    return api_info


def _local_example(example: Any) -> Any:
    """Gradio's example file (a URL) as a local file of the same name."""
    if isinstance(example, list):
        return [_local_example(item) for item in example]
    if not isinstance(example, dict) or not isinstance(example.get("url") or example.get("path"), str):
        return example
    from urllib.parse import urlparse

    name = Path(urlparse(example.get("url") or example["path"]).path).name or "file"
    return {**example, "path": name, "url": name, "orig_name": name}
