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
  whether the file exists or not. The handler receives a clean file object with the resolved path;
  the original bytes are decoded by the backend as before. A ``gr.File`` that takes several files takes a
  list of such objects (at most :data:`MAX_FILES`), each checked alike.
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
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from .file_params import MAX_FILES, describe_file_parameters
from .i18n import current_request, english, english_everywhere, localized

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FILE_META = {"_type": "gradio.FileData"}
MAX_TEXT_CHARS = 4000
"""Text fields without their own ``max_length`` accept at most this many characters."""
MAX_CUSTOM_CHOICE_CHARS = 64
"""A dropdown that takes typed values (``allow_custom_value``) takes short text; its handler parses it."""
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FILE_KIND = {"Image": "image", "Audio": "recording", "Video": "video", "File": "file"}


class GateError(gr.Error):
    """A request value the gate refused; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message, title="Check the request", print_exception=False)  # logged in one line


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


def admit_file(value: Any, field: str, kind: str = "file", roots: Sequence[Path] | None = None) -> dict[str, Any]:
    """A clean Gradio file object for ``value``, or :class:`GateError`.

    ``value`` must look like what Gradio's own clients send: ``{"path": …, "meta": {"_type":
    "gradio.FileData"}, …}`` (a ``FileData`` model is accepted too). Its path is resolved (symbolic
    links, ``..``) and must be a regular file inside one of ``roots`` (default :func:`upload_roots`).
    Files from ``assets/`` are copied into Gradio's cache (as ``gr.Examples`` does) so that Gradio's
    own upload check admits them. ``url`` and any other field the client sent are dropped.
    """
    if value is None:
        raise GateError(f"{field}: no {kind} was provided. Upload one.")
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    refused = GateError(f"{field}: this {kind} is not a file uploaded to this app (or it expired). Upload it again.")
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


def admit_files(value: Any, field: str, limit: int = MAX_FILES) -> list[dict[str, Any]]:
    """A list of clean Gradio file objects (a ``gr.File`` that takes several): each one as :func:`admit_file`
    admits it, at most ``limit``; an empty list is no file."""
    if value is None or value == []:
        raise GateError(f"{field}: no file was provided. Upload one.")
    if not isinstance(value, list):
        raise GateError(f"{field}: this file is not a file uploaded to this app (or it expired). Upload it again.")
    if len(value) > limit:
        raise GateError(f"{field}: at most {limit} files at once (got {len(value)}).")
    return [admit_file(item, field) for item in value]


# --- values --------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "…"


def _number_text(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_number(
    value: Any,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    optional: bool = False,
) -> float | int | None:
    """``value`` as a finite number in ``[minimum, maximum]`` (an ``int`` when ``integer``), else :class:`GateError`."""
    if value is None and optional:
        return None
    what = "a whole number" if integer else "a number"
    if minimum is not None and maximum is not None:
        what += f" from {_number_text(minimum)} to {_number_text(maximum)}"
    elif minimum is not None:
        what += f" of at least {_number_text(minimum)}"
    elif maximum is not None:
        what += f" of at most {_number_text(maximum)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        got = "nothing" if value is None else f"{type(value).__name__} {_shown(value)}"
        raise GateError(f"{field} must be {what} (got {got}).")
    if isinstance(value, float) and not math.isfinite(value):
        raise GateError(f"{field} must be {what} (got {value}).")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise GateError(f"{field} must be {what} (got {_shown(value)}).")
    if integer:
        if value != int(value):
            raise GateError(f"{field} must be {what} (got {_shown(value)}).")
        return int(value)
    return float(value)


def check_text(value: Any, field: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """``value`` as text (``None`` = empty) of at most ``max_chars`` characters, valid Unicode."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise GateError(f"{field} must be text (got {type(value).__name__} {_shown(value)}).")
    if len(value) > max_chars:
        raise GateError(f"{field} is too long ({len(value)} characters; at most {max_chars}).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise GateError(f"{field} contains characters that are not valid Unicode text (a lone surrogate).") from None
    return value


def check_choice(value: Any, field: str, choices: Iterable[Any]) -> Any:
    allowed = list(choices)
    if value not in allowed or isinstance(value, bool) != any(isinstance(c, bool) for c in allowed):
        raise GateError(f"{field} must be one of {', '.join(repr(c) for c in allowed)} (got {_shown(value)}).")
    return value


def check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise GateError(f"{field} must be true or false (got {_shown(value)}).")
    return value


def _label(block: Any) -> str:
    label = english(getattr(block, "label", None))  # the English of a translated label, as the API names it
    return str(label).strip() if isinstance(label, str) and label.strip() else type(block).__name__


def check_value(block: Any, value: Any, field: str) -> Any:
    """Check one input ``value`` against the component ``block`` it is bound to (see the module docstring)."""
    name = type(block).__name__
    if isinstance(block, gr.File) and getattr(block, "file_count", "single") != "single":
        return admit_files(value, field)
    if isinstance(block, (gr.Image, gr.Audio, gr.Video, gr.File)):
        return admit_file(value, field, _FILE_KIND.get(name, "file"))
    if isinstance(block, (gr.Slider, gr.Number)):
        return check_number(
            value,
            field,
            minimum=block.minimum,
            maximum=block.maximum,
            integer=block.precision == 0,
            optional=isinstance(block, gr.Number),
        )
    if isinstance(block, gr.Checkbox):
        return check_flag(value, field)
    if isinstance(block, gr.Dropdown) and getattr(block, "allow_custom_value", False):
        return check_text(value, field, max_chars=MAX_CUSTOM_CHOICE_CHARS)  # the handler parses it
    if isinstance(block, (gr.Radio, gr.Dropdown)) and not getattr(block, "multiselect", False):
        return check_choice(value, field, [choice[1] for choice in block.choices])
    if isinstance(block, gr.Textbox):
        return check_text(value, field, max_chars=getattr(block, "max_length", None) or MAX_TEXT_CHARS)
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
        raise GateError(f"This endpoint takes {len(blocks)} values ({wanted}); the request sent {got}.")
    cleaned = []
    for i, (block, value) in enumerate(zip(blocks, inputs, strict=True)):
        field = _label(block) + (f" ({names[i]})" if i < len(names) else "")
        cleaned.append(check_value(block, value, field))
    return cleaned


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
        return describe_file_parameters(english_everywhere(info))

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
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as err:  # Gradio's own checks: a value its data model rejects, a file it will not move
            log.warning("refused a request to %s: %s: %s", block_fn.name, type(err).__name__, str(err)[:300])
            raise localized(
                GateError(
                    "The request could not be read: a value does not match what this endpoint takes "
                    "(see “Use via API” at the bottom of the page)."
                )
            ) from None
