"""What a hostile client sends: file payloads that point outside the app's uploads and API values of every
wrong type, for every endpoint. Used by the tests and by ``benchmarks/hostile_api.py`` (which counts
unclear answers, also against older versions of the app).
"""

from __future__ import annotations

import http.server
import math
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .http import RawResult, call_raw, upload

META = {"_type": "gradio.FileData"}
GENERIC = ("Something unexpected", "Traceback", "Exception", "Error(")


@dataclass(frozen=True)
class Endpoint:
    name: str
    file_kind: str | None
    """``image``, ``audio``, ``video`` for the endpoint's file input (always parameter 0), else None."""
    params: tuple[tuple[str, str], ...]
    """(name, kind) of every parameter; kind: file, number, integer, optional, text, flag, choice."""
    valid: tuple[Any, ...]
    """A quick, valid call (the file parameter as ``None``: filled in with an upload)."""


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "caption",
        "image",
        (("image", "file"), ("prefix", "text"), ("max_new_tokens", "integer"), ("min_new_tokens", "integer"),
         ("num_beams", "integer")),
        (None, "", 5, 0, 1),
    ),
    Endpoint("describe", "image", (("image", "file"),), (None,)),
    Endpoint("vqa", "image", (("image", "file"), ("question", "text"), ("num_beams", "integer")), (None, "What?", 1)),
    Endpoint("ocr", "image", (("image", "file"), ("min_score", "number")), (None, 0.5)),
    Endpoint(
        "generate",
        None,
        (("prompt", "text"), ("negative_prompt", "text"), ("steps", "integer"), ("guidance_scale", "number"),
         ("size", "text"), ("num_images", "integer"), ("seed", "optional"),
         ("randomize_seed", "flag"), ("decoder", "choice"), ("clip_score", "flag")),
        ("a red cube", "", 1, 1.0, "64x64", 1, 7, False, "auto", False),
    ),
    Endpoint("round_trip", "image", (("image", "file"), ("steps", "integer"), ("seed", "optional")), (None, 1, 7)),
    Endpoint(
        "emotion",
        "audio",
        (("audio", "file"), ("window_seconds", "number"), ("hop_seconds", "number"), ("use_transcript", "flag"),
         ("text_weight", "number")),
        (None, 3.0, 1.5, False, 0.5),
    ),
    Endpoint(
        "summarize",
        "video",
        (("video", "file"), ("max_keyframes", "integer"), ("describe", "flag"), ("read_text", "flag"),
         ("transcribe", "flag"), ("summary_method", "choice")),
        (None, 1, False, False, False, "extractive"),
    ),
)  # fmt: skip

_NUMBERS: list[Any] = [math.nan, math.inf, -math.inf, 1e300, -1e300, 10**400, "3", "abc", "", None, True, [1], {"a": 1}]
HOSTILE_VALUES: dict[str, list[Any]] = {
    "number": _NUMBERS,
    "integer": [*_NUMBERS, 2.5, -1],
    "optional": [x for x in _NUMBERS if x is not None] + [2.5, -8],
    "text": [123, 1.5, True, [], {"x": 1}, "\ud800 lone surrogate", "x" * 100_000],
    "flag": ["true", 1, 0, None, "yes", []],
    "choice": ["nope", 1, None, [], ""],
}
"""Wrong values by parameter kind: non-finite and huge numbers, wrong types, nulls, invalid Unicode, huge text."""


@dataclass
class Outcome:
    endpoint: str
    param: str
    value: str
    result: RawResult

    @property
    def verdict(self) -> str:
        """``ok`` (it ran), ``clear`` (an error with a specific message) or ``unclear``."""
        r = self.result
        if r.event == "complete":
            return "ok"
        message = r.message
        if not message or any(word in message for word in GENERIC):
            return "unclear"
        if r.event == "http" and str(r.data[0]).startswith("5"):
            return "unclear"
        return "clear"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets (a hostile URL must never be fetched)."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.hits
    finally:
        server.shutdown()


def hostile_files(secret: Path, upload_folder: Path, base_url: str, server_url: str) -> dict[str, Any]:
    """Payloads for a file input that must all be refused with the same message. ``secret``: an existing file
    outside the app's uploads; ``upload_folder``: Gradio's upload folder (a link pointing out is made there)."""
    missing = secret.with_name("does-not-exist.png")
    link_dir = upload_folder / "mmdemo-hostile-link"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / "innocent.png"
    if not link.is_symlink():
        os.symlink(secret, link)
    dotdot = f"{upload_folder}/../{os.path.relpath(secret, upload_folder.parent)}"
    return {
        "absolute path": {"path": str(secret), "meta": META},
        "absolute path, missing": {"path": str(missing), "meta": META},
        "dot-dot path": {"path": dotdot, "meta": META},
        "dot-dot path, missing": {"path": dotdot.replace(secret.name, missing.name), "meta": META},
        "file:// URL": {"path": f"file://{secret}", "meta": META},
        "http URL to 127.0.0.1": {"path": f"{server_url}/secret.png", "meta": META},
        "url field to 127.0.0.1": {"url": f"{server_url}/secret.png", "meta": META},
        "url field to the app": {"url": f"{base_url}/gradio_api/file={secret}", "meta": META},
        "https URL": {"path": "https://example.com/cat.png", "meta": META},
        "no meta": {"path": str(secret)},
        "meta of another type": {"path": str(secret), "meta": {"_type": "gradio.Other"}},
        "symlink in the cache pointing out": {"path": str(link), "meta": META},
        "bare string path": str(secret),
        "number": 42,
        "list": [str(secret)],
    }


def valid_call(endpoint: Endpoint, base_url: str, media: dict[str, str]) -> list[Any]:
    """``endpoint.valid`` with its file uploaded (``media``: kind → a real file of that kind)."""
    args = list(endpoint.valid)
    if endpoint.file_kind:
        args[0] = upload(base_url, media[endpoint.file_kind])
    return args


def run_value_fuzz(
    base_url: str, media: dict[str, str], on_result: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Every hostile value in every non-file parameter of every endpoint, the other parameters valid.
    Endpoints are fuzzed in parallel (each has its own queue lane), the calls of one endpoint in turn."""
    from concurrent.futures import ThreadPoolExecutor

    def fuzz(endpoint: Endpoint) -> list[Outcome]:
        outcomes = []
        base = valid_call(endpoint, base_url, media)
        for i, (name, kind) in enumerate(endpoint.params):
            for value in HOSTILE_VALUES.get(kind, []):
                args = list(base)
                args[i] = value
                outcome = Outcome(endpoint.name, name, repr(value)[:40], call_raw(base_url, endpoint.name, args))
                outcomes.append(outcome)
                if on_result:
                    on_result(outcome)
        return outcomes

    with ThreadPoolExecutor(len(ENDPOINTS)) as pool:
        return [o for outcomes in pool.map(fuzz, ENDPOINTS) for o in outcomes]


def run_file_matrix(base_url: str, media: dict[str, str], payloads: dict[str, Any]) -> list[Outcome]:
    """Every hostile file payload in the file input of every endpoint that takes a file."""
    outcomes = []
    for endpoint in ENDPOINTS:
        if not endpoint.file_kind:
            continue
        base = valid_call(endpoint, base_url, media)
        for label, payload in payloads.items():
            args = [payload, *base[1:]]
            outcomes.append(Outcome(endpoint.name, label, label, call_raw(base_url, endpoint.name, args)))
    return outcomes
