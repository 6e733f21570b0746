"""The one gate every value sent to the app passes before any handler runs.

A share link or a public Space puts every endpoint on the internet, and a client can send any JSON,
not only what the UI sends. :class:`GatedBlocks` checks each input of every event against the
component it is bound to, *before* Gradio itself touches the value (so Gradio never copies or
downloads a file the gate refuses):

* **files** (``gr.Image``, ``gr.Audio``, ``gr.Video``, ``gr.File``): only a Gradio file object whose
  path (or this app's own ``…/gradio_api/file=PATH`` URL, as MCP clients send files: read as that path,
  never fetched), with every symbolic link resolved, lies in Gradio's upload/cache folder or in the app's
  own ``assets/``; everything else (another path, ``..``, ``file://``/``http(s)://``/``data:``
  locations, a missing or foreign ``meta``, a link pointing out) gets one message that is the same
  whether the file exists or not. Gradio reads the clean file object (resolved path, the visitor's file
  name); then the handler of an event that takes raw values (``preprocess=False``, every model event)
  receives it unwrapped once, as an :class:`~mmdemo.media.files.Upload` (a path-like with the visitor's
  file name): nothing after the gate sees Gradio's file objects. A ``gr.File`` that takes several files
  takes a list of such objects (at most :data:`MAX_FILES`), each checked alike, and hands a list of
  ``Upload``. An event Gradio preprocesses gets what its component makes of the file, as before.
* **numbers** (``gr.Slider``, ``gr.Number``): a real, finite number (not text, not ``true``) in the
  component's range; a whole number where the component has ``precision=0``. ``gr.Number`` may be
  empty (``None``), a slider may not.
* **text** (``gr.Textbox``): text (``None`` = empty) of at most ``max_length`` characters, valid
  Unicode (no lone surrogates).
* **choices** (``gr.Radio``, ``gr.Dropdown``) one of the offered values (a dropdown that also takes
  typed values: short text, parsed by its handler); **flags** (``gr.Checkbox``) ``true`` or ``false``.

Every refusal is a ``gr.Error`` that names the field (its label and API parameter name) and what is
allowed. Anything else that goes wrong while Gradio reads a request (too few values, a payload its
own data model rejects) also becomes a short message instead of an empty ``{"error": null}``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import InputError
from ..media.files import Upload
from ..messages import Message, Page
from ..params import MAX_TEXT_CHARS, check_choice, check_flag, check_number, check_text, field
from .file_params import MAX_FILES, describe_file_parameters
from .i18n import current_request, english, english_everywhere, localized
from .widgets import declaration

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FILE_META = {"_type": "gradio.FileData"}
MAX_CUSTOM_CHOICE_CHARS = 64
"""A dropdown that takes typed values (``allow_custom_value``) takes short text; its handler parses it."""
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FILE_KIND = {"Image": "image", "Audio": "recording", "Video": "video", "File": "file"}
"""What the refusals call the file a component takes (``gate.kind.<kind>``)."""


class GateError(gr.Error):
    """A request value the gate refused; the message names the field (shown in the request's language)."""

    def __init__(self, message: Message | str) -> None:
        title = Message("title.check")
        super().__init__(str(message), title=str(title), print_exception=False)  # logged in one line
        self.mmdemo_message = message
        self.mmdemo_title = title


# --- files ---------------------------------------------------------------------------------------


def upload_roots() -> list[Path]:
    """Folders a file sent to the app may come from: Gradio's upload/cache folder and ``assets/``."""
    from gradio.utils import get_upload_folder

    return [Path(os.path.realpath(get_upload_folder())), Path(os.path.realpath(ASSETS))]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


_OWN_FILE_URL = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/gradio_api/file=(/[^?#]+)$")


def own_file_path(raw: Any) -> Any:
    """This app's own file URL (``http(s)://HOST/…/gradio_api/file=/PATH``, the form MCP clients must
    send files in, after uploading them) as the local path it names; anything else unchanged. Nothing is
    fetched: the path then passes the same checks as any other (inside the upload folder, a real file)."""
    if not isinstance(raw, str):
        return raw
    match = _OWN_FILE_URL.match(raw)
    if match is None:
        return raw
    from urllib.parse import unquote

    return unquote(match.group(1))


def admit_file(
    value: Any, field: Message | str, kind: str = "file", roots: Sequence[Path] | None = None
) -> dict[str, Any]:
    """A clean Gradio file object for ``value``, or :class:`GateError`.

    ``value`` must look like what Gradio's own clients send: ``{"path": …, "meta": {"_type":
    "gradio.FileData"}, …}`` (a ``FileData`` model is accepted too). Its path is resolved (symbolic
    links, ``..``) and must be a regular file inside one of ``roots`` (default :func:`upload_roots`).
    Files from ``assets/`` are copied into Gradio's cache (as ``gr.Examples`` does) so that Gradio's
    own upload check admits them. ``url`` and any other field the client sent are dropped.
    """
    what = Message(f"gate.kind.{kind}")
    if value is None:
        raise GateError(Message("gate.no_file", field=field, kind=what))
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    refused = GateError(Message("gate.not_uploaded", field=field, kind=what))
    if not isinstance(value, dict) or value.get("meta") != FILE_META:
        raise refused
    raw = own_file_path(value.get("path"))
    if not isinstance(raw, str) or not raw or "\x00" in raw or _SCHEME.match(raw) or not os.path.isabs(raw):
        raise refused
    roots = upload_roots() if roots is None else list(roots)
    try:
        real = Path(os.path.realpath(raw))
        ok = any(_inside(real, root) for root in roots) and real.is_file()
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise refused
    if _inside(real, Path(os.path.realpath(ASSETS))):
        from gradio.processing_utils import save_file_to_cache
        from gradio.utils import get_upload_folder

        real = Path(save_file_to_cache(str(real), get_upload_folder()))
    orig = value.get("orig_name")
    name = Path(orig).name[:200] if isinstance(orig, str) and orig.strip() else real.name
    return {"path": str(real), "orig_name": name, "meta": dict(FILE_META)}


def admit_files(value: Any, field: Message | str, limit: int = MAX_FILES) -> list[dict[str, Any]]:
    """A list of clean Gradio file objects (a ``gr.File`` that takes several): each one as :func:`admit_file`
    admits it, at most ``limit``; an empty list is no file."""
    if value is None or value == []:
        raise GateError(Message("gate.no_file", field=field, kind=Message("gate.kind.file")))
    if not isinstance(value, list):
        raise GateError(Message("gate.not_uploaded", field=field, kind=Message("gate.kind.file")))
    if len(value) > limit:
        raise GateError(Message("gate.too_many_files", field=field, limit=limit, count=len(value)))
    return [admit_file(item, field) for item in value]


def is_file_input(block: Any) -> bool:
    """Whether ``block`` takes files (the gate admits its values with :func:`admit_file`)."""
    return declaration(block) is None and isinstance(block, (gr.Image, gr.Audio, gr.Video, gr.File))


def unwrap(value: Any) -> Any:
    """An admitted file as Gradio has read it (its file object, a list of them for several files) as the
    :class:`~mmdemo.media.files.Upload` a handler receives (a list of ``Upload``); ``None`` stays ``None``."""
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict) and isinstance(value.get("video"), dict):  # gr.Video's {"video": …, "subtitles": …}
        value = value["video"]
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return value
    path = Path(value["path"])
    name = value.get("orig_name")
    return Upload(path, name if isinstance(name, str) and name else path.name)


# --- values --------------------------------------------------------------------------------------


def _checked(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A check of :mod:`mmdemo.params` (the same checks and sentences as the tasks') as a gate refusal."""
    try:
        return check(*args, **kwargs)
    except InputError as err:
        raise GateError(err.message) from None


def _label(block: Any) -> str:
    label = english(getattr(block, "label", None))  # the English of a translated label, as the API names it
    return str(label).strip() if isinstance(label, str) and label.strip() else type(block).__name__


def check_value(block: Any, value: Any, field: Message | str) -> Any:
    """Check one input ``value`` against the component ``block`` it is bound to (see the module docstring): a
    widget built from a task's declaration (:mod:`.widgets`) by that declaration's own ``check``."""
    name = type(block).__name__
    declared = declaration(block)
    if declared is not None:
        return _checked(declared.check, value)
    if is_file_input(block):
        if isinstance(block, gr.File) and getattr(block, "file_count", "single") != "single":
            return admit_files(value, field)
        return admit_file(value, field, _FILE_KIND.get(name, "file"))
    if isinstance(block, (gr.Slider, gr.Number)):
        return _checked(
            check_number,
            value,
            field,
            minimum=block.minimum,
            maximum=block.maximum,
            integer=block.precision == 0,
            optional=isinstance(block, gr.Number),
        )
    if isinstance(block, gr.Checkbox):
        return _checked(check_flag, value, field)
    if isinstance(block, gr.Dropdown) and getattr(block, "allow_custom_value", False):
        return _checked(check_text, value, field, max_chars=MAX_CUSTOM_CHOICE_CHARS)  # the handler parses it
    if isinstance(block, (gr.Radio, gr.Dropdown)) and not getattr(block, "multiselect", False):
        return _checked(check_choice, value, field, [choice[1] for choice in block.choices])
    if isinstance(block, gr.Textbox):
        return _checked(check_text, value, field, max_chars=getattr(block, "max_length", None) or MAX_TEXT_CHARS)
    return value  # components the app does not take from clients (examples datasets …): Gradio checks them


def parameter_names(fn: Callable[..., Any] | None) -> list[str]:
    """The handler's positional parameter names (what the API calls each input)."""
    import inspect

    if fn is None:
        return []
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def check_inputs(block_fn: Any, inputs: list[Any]) -> list[Any]:
    """Every input of one event checked against its component; the cleaned values in order."""
    blocks = list(block_fn.inputs)
    names = parameter_names(block_fn.fn)
    if not isinstance(inputs, list) or len(inputs) != len(blocks):
        wanted = ", ".join(names[: len(blocks)]) or f"{len(blocks)} values"
        got = len(inputs) if isinstance(inputs, list) else type(inputs).__name__
        raise GateError(Message("gate.value_count", count=len(blocks), names=wanted, got=got))
    cleaned = []
    for i, (block, value) in enumerate(zip(blocks, inputs, strict=True)):
        name = field(_label(block), names[i]) if i < len(names) else Page(_label(block))
        cleaned.append(check_value(block, value, name))
    return cleaned


def api_inputs(fn: Any, endpoint: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """The parameters of ``fn``'s endpoint (as Gradio's API info ``endpoint`` lists them), each with the input
    component it is bound to: ``fn``'s inputs less those Gradio keeps out of the API (``skip_api``)."""
    inputs = [b for b in fn.inputs if not getattr(b, "skip_api", False)]
    return list(zip(endpoint.get("parameters", []), inputs, strict=True))


def describe_typed_choices(blocks: gr.Blocks, api_info: dict[str, Any]) -> dict[str, Any]:
    """``api_info`` with every dropdown that also takes typed values (``allow_custom_value``: the size picker's
    ``WIDTHxHEIGHT``) as a string whose choices are ``examples``, not Gradio's ``enum`` (API clients and MCP
    clients, which validate against it, refused the typed values the app takes), described by its declaration
    (:meth:`~mmdemo.params.Param.help`). The MCP tools' schemas (:mod:`.mcp`) are built from this."""
    endpoints = api_info.get("named_endpoints", {})
    for fn in blocks.fns.values():
        endpoint = endpoints.get(f"/{fn.api_name}") if fn.api_name else None
        if endpoint is None:
            continue
        for parameter, block in api_inputs(fn, endpoint):
            if not isinstance(block, gr.Dropdown) or not block.allow_custom_value or block.multiselect:
                continue
            param = declaration(block)
            help_text = param.help() if param is not None else ""
            kind: dict[str, Any] = {"type": "string", "examples": [value for _, value in block.choices]}
            parameter["type"] = kind | ({"description": help_text} if help_text else {})
            parameter["python_type"] = {"type": "str", "description": help_text}
    return api_info


class GatedBlocks(gr.Blocks):
    """``gr.Blocks`` whose every event passes :func:`check_inputs` before Gradio reads its values.

    It also keeps the request of the event being processed where :func:`~mmdemo.ui.i18n.request_locale` finds
    it (messages in the browser's language) and describes its API in English (translated labels resolved).
    """

    async def process_api(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        token = current_request.set(kwargs.get("request", args[3] if len(args) > 3 else None))
        try:
            return await super().process_api(*args, **kwargs)
        finally:
            current_request.reset(token)

    def get_api_info(self, all_endpoints: bool = False, page: str | None = None) -> Any:
        info = super().get_api_info(all_endpoints=all_endpoints, page=page)
        return describe_typed_choices(self, describe_file_parameters(english_everywhere(info)))

    async def preprocess_data(  # type: ignore[override]
        self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False
    ) -> list[Any]:
        if block_fn.inputs:
            try:
                inputs = check_inputs(block_fn, inputs)
            except GateError as err:
                log.info("refused a request to %s: %s", block_fn.name, err.message)
                raise localized(err) from None
        try:
            values = await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as err:  # Gradio's own checks: a value its data model rejects, a file it will not move
            log.warning("refused a request to %s: %s: %s", block_fn.name, type(err).__name__, str(err)[:300])
            raise localized(GateError(Message("gate.unreadable"))) from None
        if block_fn.preprocess:
            return values  # what each component makes of its value (Gradio needed the file objects for that)
        props = getattr(block_fn, "component_prop_inputs", ())
        return [
            unwrap(value) if i not in props and is_file_input(block) else value
            for i, (block, value) in enumerate(zip(block_fn.inputs, values, strict=True))
        ]
