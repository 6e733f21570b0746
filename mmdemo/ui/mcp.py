"""The app's tasks as MCP tools: Gradio's MCP server (``launch(mcp_server=True)``), with what it gets wrong for
this app put right. Every override of Gradio's internals is here (``tests/test_e2e_mcp.py`` checks that the
internals still have the shape this module relies on).

Gradio 6.31 builds one tool per named endpoint from the handler's docstring and type hints, and runs each call
through its own client over a loopback connection, so a tool call passes the same gate, rate limit, sign-in and
queue lane as an API call. :class:`AppMCPServer` changes these things:

* **files in**: a file parameter takes this app's URL of an upload (``http://HOST/gradio_api/file=PATH`` after
  ``POST /gradio_api/upload``; passed on as that URL, which the gate reads as the path it names, never fetched)
  or the file inline as a ``data:`` URL (decoded, size-checked, stored once in Gradio's cache and listed with the
  page's uploads, so that Gradio's cache clean-up removes it; then passed on as this app's URL of it and gated
  like any upload). A server path is refused here: Gradio's client would read and upload it. A tool
  that takes several files (``caption_batch``) takes a list of such URLs; Gradio's schema for it pointed at a
  ``$defs`` entry it had removed (``PointerToNowhere``) and its list items were never converted;
* **the schema**: each file parameter says what works (:func:`file_help`, the text the API page's
  :func:`describe_file_parameters` derives from too), and defaults of ``0``, ``""`` and ``false`` are listed;
* **results**: the same with or without a progress callback (Gradio returned one text holding a Python repr
  of every output without one); one content item per output, labelled when a tool has several; every image
  (a gallery's too) as MCP image content (PNG or JPEG) with a URL the client can fetch on the host it called;
  other files as that URL; tables, labels and plots as JSON; no server path outside those URLs;
* **errors**: the user's sentence (the gate's, the rate limit's, the backend's), the same both ways;
* **who calls**: each call is submitted as its MCP caller's (its address, or its sign-in), so the per-client
  limits count each caller, not the loopback client that submits every call; a call is one of its caller's jobs
  (:func:`~.admission.too_many_jobs`, with its page and API jobs) from the moment it comes in until it is answered,
  and is refused, before its arguments are read, when the caller has its limit already; with sign-in (``--auth``) the
  MCP server answers only requests that carry one (:class:`~.access.LoginThrottleMiddleware` checks them before
  Gradio reads a call), and the loopback client has a sign-in of its own to read the app's config;
* **abandoned calls**: a call whose MCP client went away stops its job, as the page's requests do.

:func:`adopt` turns the server Gradio made into an :class:`AppMCPServer`; :data:`lifespan` (in
``launch_kwargs``) does it when the app starts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import io
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from gradio.mcp import GradioMCPServer

from ..errors import InputError
from ..messages import Message, Page
from .access import loopback_forwarded, policy_of
from .admission import admission_of, holding, scope_client, too_many_jobs
from .file_params import (  # noqa: F401 (file_help and describe_file_parameters: re-exported)
    FILE_COMPONENTS,
    MAX_DATA_URL_MB,
    MAX_FILES,
    describe_file_parameters,
    file_help,
)
from .gate import api_inputs, own_file_path, upload_roots

log = logging.getLogger(__name__)

_DATA_URL = re.compile(r"^data:(?P<params>[^,]*?)(?P<base64>;base64)?,(?P<payload>.*)$", re.DOTALL)

_TOOL: contextvars.ContextVar[str | None] = contextvars.ContextVar("mmdemo_mcp_tool", default=None)
"""The tool the current MCP call runs (set when its arguments are prepared; read when its results are converted)."""
_NOTES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("mmdemo_mcp_notes", default=())
"""Warnings and notes the current MCP call raised (``gr.Warning``/``gr.Info``), added after its outputs."""


LOOPBACK_USER = "mmdemo-mcp-loopback"
"""Who Gradio's loopback client is signed in as, with sign-in (``--auth``): it reads the app's config, nothing else."""


# --- data: URLs → uploads ----------------------------------------------------------------------------------------


class ToolInputError(InputError):
    """A tool argument refused before the call (its message is the user's sentence, keyed; ``str()`` is English,
    which is what an MCP client reads)."""


def data_url_file(
    value: str, field: Message | str, max_bytes: int | None, charge: Callable[[int], None] | None = None
) -> str:
    """The file a ``data:`` URL carries, stored in Gradio's cache (as Gradio's MCP server stores one: its client
    then uploads it like any file); its path. Only base64 data; at most ``max_bytes`` (the app's upload limit);
    ``charge`` is told its size before it is decoded (the caller's upload budget: it raises to refuse)."""
    match = _DATA_URL.match(value)
    if match is None or not match.group("base64"):
        raise ToolInputError(Message("mcp.data_url_form", field=field))
    payload = re.sub(r"\s+", "", match.group("payload"))
    size = len(payload) * 3 // 4 - len(payload[-2:]) + len(payload[-2:].rstrip("="))  # the bytes it decodes to
    if max_bytes is not None and size > max_bytes:
        raise ToolInputError(
            Message("mcp.too_large", field=field, size=f"{size / 2**20:.1f}", limit=f"{max_bytes / 2**20:g}")
        )
    if charge is not None:
        charge(size)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ToolInputError(Message("mcp.not_base64", field=field)) from None
    if not data:
        raise ToolInputError(Message("mcp.no_data", field=field))
    mime, *params = match.group("params").split(";")
    name = next((p.split("=", 1)[1] for p in params if p.strip().lower().startswith(("name=", "filename="))), "")
    from urllib.parse import unquote

    from gradio.processing_utils import save_bytes_to_cache
    from gradio.utils import get_upload_folder
    from gradio_client.utils import get_extension, strip_invalid_filename_characters

    name = strip_invalid_filename_characters(Path(unquote(name).replace("\\", "/")).name)[:120].strip(". ")
    extension = get_extension(f"data:{mime.strip()};base64,") if mime.strip() else None
    if not name:
        name = "file" + (f".{extension}" if extension else "")
    elif not Path(name).suffix and extension:
        name += f".{extension}"
    return save_bytes_to_cache(data, name, get_upload_folder())


# --- results -----------------------------------------------------------------------------------------------------

WEB_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


def image_bytes(path: str) -> tuple[bytes, str] | None:
    """An output image as PNG or JPEG bytes and their MIME type (PNG and JPEG as they are; other formats
    converted: PNG with transparency, JPEG without); None for a file that is not an image or lies outside
    Gradio's cache."""
    from PIL import Image

    real = Path(os.path.realpath(path))
    if not any(real == root or root in real.parents for root in upload_roots()) or not real.is_file():
        return None
    try:
        with Image.open(real) as image:
            if image.format in WEB_IMAGE_FORMATS:
                return real.read_bytes(), WEB_IMAGE_FORMATS[image.format]
            image.load()
            buffer = io.BytesIO()
            if "A" in image.getbands() or image.mode == "P":
                image.save(buffer, format="PNG")
                return buffer.getvalue(), "image/png"
            image.convert("RGB").save(buffer, format="JPEG", quality=90)
            return buffer.getvalue(), "image/jpeg"
    except Exception:  # not an image (a report, a table): the caller gives its URL only
        return None


MAX_ROWS = 1000
"""Rows at most of a table or plot in a result (a long recording's loudness curve has one per 20 ms)."""


def _json(value: Any) -> str:
    """A structured output (a table, a label, a plot's data) as compact JSON; at most :data:`MAX_ROWS` rows."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
        rows = value.get("data")
        if isinstance(rows, list) and len(rows) > MAX_ROWS:
            value["data"] = rows[:MAX_ROWS]
            value["truncated"] = str(Message("mcp.truncated", shown=MAX_ROWS, count=len(rows)))
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the server --------------------------------------------------------------------------------------------------


class AppMCPServer(GradioMCPServer):
    """Gradio's MCP server with this app's file arguments, schemas, results and errors (module docstring)."""

    # - schema -

    def _inputs(self, tool_name: str) -> list[tuple[dict[str, Any], Any]]:
        """The tool's parameters (as the API info describes them), each with the component it is bound to."""
        endpoint = self.tool_to_endpoint.get(tool_name)
        block_fn = self.get_block_fn_from_endpoint_name(endpoint) if endpoint else None
        if endpoint is None or block_fn is None:
            raise ValueError(f"Unknown tool for this Gradio app: {tool_name}")
        return api_inputs(block_fn, self.api_info["named_endpoints"][endpoint])

    def get_input_schema(
        self, tool_name: str, parameters: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], list[list[str | int]]]:
        """The tool's JSON schema (every default, files as URL strings) and where its files are: ``[name]`` for
        one file, ``[name, "*"]`` for every item of a list of files."""
        properties: dict[str, Any] = {}
        positions: list[list[str | int]] = []
        required = []
        for p, block in self._inputs(tool_name):
            name = p["parameter_name"]
            text = (parameters or {}).get(name, "")
            if isinstance(block, (gr.Image, gr.Audio, gr.Video, gr.File)):
                multiple = isinstance(block, gr.File) and block.file_count != "single"
                one = {"type": "string", "format": "uri"}
                prop: dict[str, Any] = (
                    {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_FILES} if multiple else dict(one)
                )
                prop["description"] = " ".join(t for t in (text, file_help(multiple)) if t)
                positions.append([name, "*"] if multiple else [name])
            else:
                # (a dropdown that takes typed values has examples, not an enum: gate.describe_typed_choices)
                prop = {k: v for k, v in p["type"].items() if k not in ("title", "additional_description")}
                if text:
                    prop["description"] = text
            if p.get("parameter_has_default"):
                default = p.get("parameter_default")
                prop["default"] = default
                if default is None and isinstance(prop.get("type"), str):
                    prop["type"] = [prop["type"], "null"]
            else:
                required.append(name)
            properties[name] = prop
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema, positions

    @property
    def _file_data_tool_description(self) -> str:
        return ""  # Gradio's sentence ("use the returned path") is wrong here; each file parameter says what works

    # - arguments -

    def _prepare_tool_call_args(self, name: str, arguments: dict[str, Any]) -> Any:
        """Gradio's preparation, and the call submitted as its MCP caller's (:func:`~.access.loopback_forwarded`:
        the per-client limits count each caller, not the loopback client that submits every call)."""
        _TOOL.set(name)
        endpoint, args, headers, block_fn = super()._prepare_tool_call_args(name, arguments)
        request = self.mcp_server.request_context.request
        peer = getattr(getattr(request, "client", None), "host", None)
        caller = policy_of(self.blocks).client_address(peer, headers.get("x-forwarded-for"))
        headers = {k: v for k, v in headers.items() if k.lower() != "x-forwarded-for"}
        headers["x-forwarded-for"] = loopback_forwarded(caller)
        return endpoint, args, headers, block_fn

    def _field(self, name: str) -> Message | str:
        """A parameter of the current call's tool as the gate names it: its label (English) and API name."""
        for p, _ in self._inputs(_TOOL.get() or ""):
            label = p.get("label")
            if p["parameter_name"] == name and isinstance(label, str) and label.strip():
                return Message("value.field", label=Page(label), name=name)
        return name

    def convert_strings_to_filedata(self, value: Any, filedata_positions: list[list[str | int]]) -> Any:
        """The tool's arguments with every file string as a Gradio file object for the loopback client: a
        ``data:`` URL becomes a stored file that the client uploads; a URL stays a URL (the gate admits only
        this app's own file URLs, and nothing fetches it); anything else is refused here."""
        if not isinstance(value, dict):
            return value
        converted = dict(value)
        for position in filedata_positions:
            name = str(position[0])
            if name not in converted or converted[name] is None:
                continue
            field = self._field(name)
            if len(position) > 1:
                items = converted[name]
                converted[name] = [self._file(item, field) for item in items] if isinstance(items, list) else items
            else:
                converted[name] = self._file(converted[name], field)
        return converted

    def _file(self, value: Any, field: Message | str) -> Any:
        if not isinstance(value, str):
            return value  # the schema has refused it already
        if value.startswith("data:"):
            client = scope_client(self.mcp_server.request_context.request.scope, policy_of(self.blocks))
            budget = admission_of(self.blocks)

            def charge(size: int) -> None:  # stored here, not through the upload route: the same budget
                try:
                    budget.charge_upload(client, size)
                except InputError as err:
                    raise ToolInputError(err.message) from None

            path = data_url_file(value, field, getattr(self.blocks, "max_file_size", None), charge)
            self.blocks.upload_file_set.add(path)  # removed with the page's uploads (Gradio's delete_cache)
            value = f"http://127.0.0.1/gradio_api/file={quote(path)}"  # stored once: no loopback upload of it
        if value.startswith(("http://", "https://")):
            return {
                "path": value,
                "orig_name": Path(str(own_file_path(value))).name,
                "meta": {"_type": "gradio.FileData"},
            }
        raise ToolInputError(Message("mcp.not_a_url", field=field))

    # - running -

    def admit_calls(self) -> None:
        """Put the per-client job limit in front of every tool call: the MCP SDK's handler of ``tools/call`` (which
        runs Gradio's ``call_tool``) is wrapped, so that a call is counted as its caller's job until it is answered,
        or its client goes away (the handler is cancelled then), and refused as a tool error in the limit's
        sentence, before anything of it is read or stored, when the caller has its limit of jobs already."""
        types = self.types
        handlers = self.mcp_server.request_handlers
        answer = handlers.get(types.CallToolRequest)
        if answer is None or getattr(answer, "admitted", False):
            return

        async def admitted(request: Any) -> Any:
            http = self.mcp_server.request_context.request
            policy = policy_of(self.blocks)
            client = scope_client(http.scope, policy)
            refusal = too_many_jobs(self.blocks, client, policy, http.headers)
            if refusal is not None:
                content = [types.TextContent(type="text", text=refusal)]
                return types.ServerResult(types.CallToolResult(content=content, isError=True))
            with holding(admission_of(self.blocks).mcp_calls, client):
                return await answer(request)

        admitted.admitted = True  # type: ignore[attr-defined]
        handlers[types.CallToolRequest] = admitted

    def _get_or_create_client(self) -> Any:
        """Gradio's loopback client. With sign-in (``--auth``) it has a sign-in of its own, to read the app's
        config; it makes no call of its own: each tool call is submitted with the caller's sign-in (its cookie, as
        :class:`~.access.LoginThrottleMiddleware` checked it or made it from the caller's header), which the
        request's headers carry and which win over the client's own cookie."""
        if self._client_instance is not None:
            return self._client_instance
        app = getattr(self.blocks, "server_app", None)
        if app is None or getattr(app, "auth", None) is None:
            return super()._get_or_create_client()
        from gradio import route_utils
        from gradio_client import Client

        request = self.mcp_server.request_context.request
        token = secrets.token_urlsafe(32)
        app.tokens[token] = LOOPBACK_USER
        cookie = f"access-token-unsecure-{app.cookie_id}"
        root = route_utils.get_root_url(
            request=request, route_path=self.get_route_path(request), root_path=self.root_path
        )
        client = Client(
            self.local_url or root,
            download_files=False,
            verbose=False,
            analytics_enabled=False,
            ssl_verify=False,
            _skip_components=False,
            headers={"x-gradio-user": "mcp", "cookie": f"{cookie}={token}"},  # to read the config …
        )
        client.headers.pop("cookie", None)  # … then a cookie, which a call's own cookie header overrides
        client.cookies[cookie] = token
        self._client_instance = client
        return client

    async def _execute_tool_without_progress(self, job: Any) -> list[Any]:
        return await self._outputs(job, None)

    async def _execute_tool_with_progress(self, job: Any, progress_token: str | int) -> list[Any]:  # type: ignore[override]
        return await self._outputs(job, progress_token)

    async def _outputs(self, job: Any, progress_token: str | int | None) -> list[Any]:
        """The outputs of ``job`` as the server sent them (the same with or without progress reports, which go to
        the client when it asked for them); the user's sentence as the error when the call failed. A call whose
        MCP client went away (its request is cancelled when the connection closes) stops its job
        (:meth:`_abandon`), as the page's requests stop when their browser leaves."""
        notes: list[str] = []
        try:
            final = await self._follow(job, progress_token, notes)
        except BaseException:
            if not job.done():
                self._abandon(job)
            raise
        if final is not None and final.success:
            _NOTES.set(tuple(notes))
            return list(final.outputs.get("data") or [])
        if final is not None:
            outputs = final.outputs
            raise RuntimeError(str(outputs.get("error") or outputs.get("title") or Message("mcp.failed")))
        error = job.exception()
        if error is None:
            raise RuntimeError(str(Message("mcp.no_result")))
        from gradio_client.exceptions import AppError

        if isinstance(error, AppError):
            raise RuntimeError(str(error)) from None
        log.warning("MCP call failed in Gradio's client: %s: %s", type(error).__name__, str(error)[:300])
        raise RuntimeError(str(Message("mcp.failed"))) from None

    async def _follow(self, job: Any, progress_token: str | int | None, notes: list[str]) -> Any:
        """The final output update of ``job`` (None if none came), its warnings added to ``notes``, its progress
        sent to the client when it asked for it."""
        from gradio_client.utils import Status

        step = 0
        final = None
        async for update in job:
            if update.type == "status":
                if update.code == Status.LOG and update.log:
                    message, level = update.log
                    notes.append(f"{str(level).capitalize()}: {message}")
                if progress_token is not None:
                    context = self.mcp_server.request_context
                    await context.session.send_progress_notification(
                        progress_token=progress_token,
                        progress=step,
                        message=self._format_progress_message(update),  # type: ignore[arg-type]
                        related_request_id=str(context.request_id),
                    )
                step += 1
            elif update.type == "output" and update.final:
                final = update
        return final

    def _abandon(self, job: Any) -> None:
        """Stop ``job``, whose MCP client went away: the loopback client stops waiting for it, and the app's queue
        drops the event (as it does when a browser leaves): it is not started if it waits, and a running one stops
        at its next progress step (:func:`~.events.client_gone`). Not ``job.cancel()``: Gradio's ``/cancel`` stops
        every running call of that tool on the loopback client's session, other callers' too."""
        communicator = getattr(job, "communicator", None)
        if communicator is None:
            return
        with communicator.lock:
            communicator.should_cancel = True
        queue = getattr(self.blocks, "_queue", None)
        if queue is not None:
            task = asyncio.get_running_loop().create_task(_drop_event(queue, communicator))
            _DROPPING.add(task)
            task.add_done_callback(_DROPPING.discard)

    # - results -

    def postprocess_output_data(self, data: Any, root_url: str) -> list[Any]:
        """One content item per output (labelled when the tool has several), images as image content with their
        URL on the host the client called, other files as that URL, structured values as JSON, then any warning
        the call raised."""
        endpoint = self.tool_to_endpoint.get(_TOOL.get() or "")
        returns = self.api_info["named_endpoints"].get(endpoint, {}).get("returns", []) if endpoint else []
        labels = [r.get("label") or r.get("component", "") for r in returns]  # English: GatedBlocks.get_api_info
        several = len(data) > 1
        content: list[Any] = []
        for i, value in enumerate(data):
            label = str(labels[i]) if several and i < len(labels) else ""
            content += self._content(value, label, root_url)
        content += [self.types.TextContent(type="text", text=note) for note in _NOTES.get()]
        _NOTES.set(())
        return content

    def _content(self, value: Any, label: str, root_url: str) -> list[Any]:
        from gradio_client.utils import is_file_obj_with_meta

        text = self.types.TextContent
        prefix = f"{label}: " if label else ""
        if value is None:
            return [text(type="text", text=f"{prefix}{Message('mcp.no_output')}")] if label else []
        if is_file_obj_with_meta(value):
            return self._file_content(value, label, "", root_url)
        if isinstance(value, list) and value and all(self._media(item) is not None for item in value):
            items = []
            for n, item in enumerate(value, start=1):
                file, caption = self._media(item)  # type: ignore[misc]
                items += self._file_content(file, f"{label} {n}" if label else str(n), caption, root_url)
            return items
        if isinstance(value, str):
            return [text(type="text", text=prefix + value)]
        return [text(type="text", text=prefix + _json(value))]

    @staticmethod
    def _media(item: Any) -> tuple[dict[str, Any], str] | None:
        """(file, caption) of a file or a gallery item; None for anything else."""
        from gradio_client.utils import is_file_obj_with_meta

        if is_file_obj_with_meta(item):
            return item, ""
        if isinstance(item, dict):
            file = item.get("image") or item.get("video")
            if is_file_obj_with_meta(file):
                return file, str(item.get("caption") or "")
        return None

    def _file_content(self, file: dict[str, Any], label: str, caption: str, root_url: str) -> list[Any]:
        from gradio_client.utils import encode_file_path

        url = f"{root_url}/gradio_api/file={encode_file_path(file['path'])}"
        name = file.get("orig_name") or Path(file["path"]).name
        head = label + (f" ({caption})" if caption else "")
        line = f"{head}: {url}" if head else url
        image = image_bytes(file["path"])
        if image is None:
            return [self.types.TextContent(type="text", text=f"{head + ': ' if head else ''}{name} {url}")]
        data, mime = image
        return [
            self.types.ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mimeType=mime),
            self.types.TextContent(type="text", text=line),
        ]


_DROPPING: set[asyncio.Task[None]] = set()
"""Tasks dropping abandoned calls' events (kept referenced until they finish)."""
DROP_WAIT = 60.0
"""Seconds at most an abandoned call waits for its event id (a call abandoned while it was being submitted)."""


async def _drop_event(queue: Any, communicator: Any) -> None:
    """Drop the event of an abandoned call from the app's queue, once the loopback client knows its id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DROP_WAIT
    while communicator.event_id is None and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if communicator.event_id is not None:
        await queue.clean_events(event_id=communicator.event_id)
        log.info("MCP call abandoned by its client: event %s dropped", communicator.event_id)


def adopt(blocks: gr.Blocks) -> None:
    """Make the MCP server Gradio created for ``blocks`` (if any) an :class:`AppMCPServer`. Its handlers call
    the overridden methods through ``self``, so the change applies to every later request; its tool calls are
    admitted per client (:meth:`AppMCPServer.admit_calls`)."""
    server = getattr(blocks, "mcp_server_obj", None)
    if server is not None and type(server) is GradioMCPServer:
        server.__class__ = AppMCPServer
        server.admit_calls()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's start-up hook (``launch(app_kwargs={"lifespan": …})``): :func:`adopt` the MCP server."""
    adopt(app.get_blocks())
    yield
