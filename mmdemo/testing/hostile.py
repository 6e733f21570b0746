"""What a hostile client sends: file payloads that point outside the app's uploads and API values of every
wrong type, for every endpoint. Used by the tests and by ``benchmarks/hostile_api.py`` (which counts
unclear answers, also against older versions of the app).
"""

from __future__ import annotations

import http.server
import json
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


# --- request-level budgets: payloads that are harmless one at a time and heavy together (issue 26) ------------


def zip_without_photos(path: Path, unpacked_bytes: int, *, files: int = 1, ratio: int = 60, seed: int = 0) -> Path:
    """A zip at ``path`` with no photos: ``files`` text files unpacking to ``unpacked_bytes`` together, each
    compressed about ``ratio`` times (below the zip-bomb ratio, so one copy passes every per-zip check). The
    issue's payload: 8.7 MB zipped, 497 MiB unpacked. ``seed`` makes zips of different content."""
    import random
    import zipfile

    rng = random.Random(seed)
    chunk = 1 << 20
    noisy = max(chunk // ratio, 1)
    per_file = max(unpacked_bytes // files, 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(files):
            with archive.open(f"notes/part-{i:04d}.txt", "w", force_zip64=True) as out:
                left = per_file
                while left > 0:
                    size = min(chunk, left)
                    block = rng.randbytes(min(noisy, size)) + b"\n" * max(size - noisy, 0)
                    out.write(block[:size])
                    left -= size
    return path


def zip_of_empty_files(path: Path, entries: int, *, seed: int = 0) -> Path:
    """A zip at ``path`` of ``entries`` empty text files (no photos): many entries for a few bytes each."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for i in range(entries):
            archive.writestr(f"empty-{seed}-{i:05d}.txt", b"")
    return path


def huge_png(path: Path, width: int, height: int | None = None, *, seed: int = 0) -> Path:
    """A PNG at ``path`` of ``width`` × ``height`` pixels of one colour (the issue's 49 MP PNG is 160 KB): tiny
    on disk, large once decoded. ``seed`` changes one pixel, so that copies are different files."""
    from PIL import Image

    image = Image.new("RGB", (width, height or width), (200, 180, 160))
    image.putpixel((0, 0), (seed % 256, (seed // 256) % 256, 0))
    image.save(path, optimize=False, compress_level=9)
    return path


def many_references(payload: Any, count: int) -> list[Any]:
    """The same file payload (an upload's ``FileData``) named ``count`` times in one multi-file input."""
    return [payload] * count


def _dataset_zip(path: Path, lines: Any, files: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("metadata.jsonl", "w", force_zip64=True) as out:
            for line in lines:
                out.write(line.encode("utf-8") + b"\n")
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _small_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def huge_metadata(path: Path, lines: int, *, file_name: str = "a.png") -> Path:
    """An Evaluate zip (caption task) whose ``metadata.jsonl`` names one small photo ``lines`` times (the issue's
    payload: 2 M lines in a 1.9 MB zip), each line's caption numbered so that the zip stays below the zip-bomb
    ratio."""
    rows = (json.dumps({"file_name": file_name, "text": f"a white square {n:x}"}) for n in range(lines))
    return _dataset_zip(path, rows, {file_name: _small_png()})


def deep_json_metadata(path: Path, depth: int = 100_000, *, line: int = 2) -> Path:
    """An Evaluate zip (caption task) whose ``metadata.jsonl`` line ``line`` is JSON nested ``depth`` levels."""
    good = json.dumps({"file_name": "a.png", "text": "a white square"})
    deep = '{"file_name": "a.png", "text": ' + "[" * depth + "]" * depth + "}"
    rows = [good] * (line - 1) + [deep]
    return _dataset_zip(path, rows, {"a.png": _small_png()})


def long_entry_name_zip(path: Path, length: int = 300) -> Path:
    """A zip holding one photo whose entry name is ``length`` characters long (one path component)."""
    import zipfile

    name = "p" * (length - 4) + ".png"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, _small_png())
    return path


# --- decoding budgets: small files that are slow or large to decode (issue 26: audio, video, images) --------


def wide_flac(path: Path, seconds: float, *, channels: int = 8, rate: int = 655_350) -> Path:
    """A silent FLAC at ``path`` of ``channels`` channels at ``rate`` Hz (FLAC's fastest), written block by block:
    the issue's payload is 343 KB for 60 s of 8 channels, +1.65 GB once decoded to float32 all at once."""
    import numpy as np
    import soundfile as sf

    block = np.zeros((max(rate // 10, 1), channels), np.int16)
    left = round(seconds * rate)
    with sf.SoundFile(path, mode="w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as f:
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def slow_jpeg2000(path: Path, side: int = 7000) -> Path:
    """A JPEG 2000 at ``path`` of ``side`` × ``side`` pixels of one colour: a few KB that take seconds to decode at
    full size (7000: 3.9 KB, 11 s here), all of it holding Python's GIL (Pillow's JPEG 2000 decoder reads its
    file through Python)."""
    from PIL import Image

    Image.new("RGB", (side, side), (200, 30, 30)).save(
        path, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[2000]
    )
    return path


def single_keyframe_video(
    path: Path, seconds: float, *, width: int = 1280, height: int = 720, fps: int = 30, keyframes: int = 1
) -> Path:
    """An H.264 MP4 at ``path`` whose ``seconds`` hold ``keyframes`` keyframes (1: only the first), a slowly moving
    gradient: small on disk, while every seek lands on the first keyframe and decodes forward from there. The
    issue's payload: 1.8 MB for ten minutes of 720p, 225 s of CPU to sample (0.3 s with regular keyframes)."""
    import av
    import numpy as np

    frames = max(1, round(seconds * fps))
    gop = max(1, -(-frames // max(keyframes, 1)))
    ramp = (np.arange(width, dtype=np.uint16)[None, :] + np.arange(height, dtype=np.uint16)[:, None]) % 256
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "ultrafast", "crf": "40", "sc_threshold": "0", "keyint_min": str(gop)}
        for i in range(frames):
            grey = ((ramp + i) % 256).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[:, :, None], 3, axis=2), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def huge_frame_video(path: Path, width: int, height: int, *, frames: int = 2) -> Path:
    """A short video at ``path`` of ``frames`` black ``width`` × ``height`` frames (FFV1 in Matroska, up to any size
    FFmpeg takes): the issue's 256 MP frames were decoded, +804 MB, past the 50 MP image limit."""
    import av
    import numpy as np

    with av.open(str(path), mode="w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "gray"
        black = np.zeros((height, width), np.uint8)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(black, format="gray")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


# --- load from one client: queue flood, abandoned generation (issue 26: items 7, 9, 11) ---------------------------


def generate_args(size: str = "64x64", steps: int = 1, images: int = 1, guidance: float = 1.0) -> list[Any]:
    """``/generate``'s values (:data:`ENDPOINTS`) for one request of the given work."""
    args = list(next(e for e in ENDPOINTS if e.name == "generate").valid)
    args[2], args[3], args[4], args[5] = steps, guidance, size, images
    return args


def queue_flood(
    base_url: str, api_name: str, args: list[Any], count: int, headers: dict[str, str] | None = None
) -> list[int]:
    """``count`` jobs submitted at once by one client (``POST /gradio_api/call/<api_name>``, results never read, as
    a script that fills the queue does); returns the HTTP status of each submission (200: queued)."""
    import httpx

    url = f"{base_url.rstrip('/')}/gradio_api/call/{api_name}"
    with httpx.Client(timeout=60) as http:
        return [http.post(url, json={"data": args}, headers=headers or {}).status_code for _ in range(count)]


def abandoned_call(
    base_url: str,
    api_name: str,
    args: list[Any],
    *,
    progress_events: int = 1,
    timeout: float = 600.0,
    headers: dict[str, str] | None = None,
) -> str:
    """Start ``api_name`` as the browser does (with ``headers``) and close the connection once ``progress_events``
    progress messages came (the tab was closed): ``abandoned``; or how it ended before (``refused``,
    ``finished``)."""
    from .http import browser_call

    seen = 0
    try:
        for message in browser_call(base_url, api_name, args, timeout=timeout, headers=headers):
            if message.get("msg") == "progress":
                seen += 1
                if seen >= progress_events:
                    return "abandoned"
            if message.get("msg") == "process_completed":
                return "finished" if message.get("success") else "refused"
    except Exception:  # refused at submission (429, 503)
        return "refused"
    return "finished"


# --- sign-in and MCP (issue 26: #4, #5, #6, #12, #13) ------------------------------------------------------------


def mcp_call_body(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC body of an MCP ``tools/call`` asking for progress reports."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": {"progressToken": "p"}},
    }


def mcp_tool_call(
    base_url: str,
    tool: str,
    arguments: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    leave_after_progress: bool = False,
    timeout: float = 600.0,
) -> int | str:
    """One raw MCP ``tools/call`` (``POST /gradio_api/mcp/``, stateless: no initialisation), asking for progress.
    Returns the HTTP status, or ``"abandoned"`` when ``leave_after_progress`` and the connection was closed at the
    first progress report of the tool's work (a killed MCP client)."""
    import httpx

    sent = {"accept": "application/json, text/event-stream", **(headers or {})}
    url = f"{base_url.rstrip('/')}/gradio_api/mcp/"
    with httpx.stream("POST", url, json=mcp_call_body(tool, arguments), headers=sent, timeout=timeout) as r:
        for line in r.iter_lines():
            if leave_after_progress and "notifications/progress" in line and "Step" in line:
                return "abandoned"
        return r.status_code


def data_url_of_size(size: int, mime: str = "image/png", seed: int = 0) -> str:
    """A ``data:`` URL carrying ``size`` random bytes (what an MCP client sends inline; the disk-fill attack sends
    it without signing in)."""
    import base64
    import random

    return f"data:{mime};base64," + base64.b64encode(random.Random(seed).randbytes(size)).decode()


def mcp_data_url_flood(
    base_url: str, tool: str, field: str, count: int, size: int, headers: dict[str, str] | None = None
) -> list[int]:
    """``count`` raw MCP calls of ``tool``, each with a different ``data:`` URL of ``size`` bytes in its file
    parameter ``field`` (:func:`data_url_of_size`), one after another (the issue's disk fill: without a sign-in,
    on an ``--auth --mcp`` app); the HTTP status of each."""
    calls = [{field: data_url_of_size(size, seed=n)} for n in range(count)]
    return [int(mcp_tool_call(base_url, tool, call, headers=headers, timeout=120)) for call in calls]


def password_guesses(
    base_url: str, victim: str, own: tuple[str, str], guesses: int, headers: dict[str, str] | None = None
) -> list[int]:
    """The sign-in throttle bypass: ``guesses`` wrong passwords for ``victim``, each followed by a correct sign-in
    of the attacker's ``own`` account; the HTTP status of each guess (400: tried; 429: held back)."""
    import httpx

    url = f"{base_url.rstrip('/')}/login"
    statuses = []
    with httpx.Client(timeout=60, headers=headers or {}) as http:
        for n in range(guesses):
            statuses.append(http.post(url, data={"username": victim, "password": f"guess-{n}"}).status_code)
            http.post(url, data={"username": own[0], "password": own[1]})
    return statuses


# --- bursts, abandoned MCP calls and slow decodes, for benchmarks/hostile_load.py (issue 26: #4, #6, #13, #15) ----


def sign_in_burst(
    base_url: str, username: str, tries: int, headers: dict[str, str] | None = None, *, seed: int = 0
) -> list[int]:
    """``tries`` wrong passwords for ``username`` sent all at once from one client (each on its own connection, none
    waiting for another's answer); the HTTP status of each (400: the password was checked; 429: held back)."""
    import asyncio

    import httpx

    url = f"{base_url.rstrip('/')}/login"

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=tries, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=120, headers=headers or {}, limits=limits) as http:
            answers = await asyncio.gather(
                *(http.post(url, data={"username": username, "password": f"guess-{seed}-{n}"}) for n in range(tries))
            )
        return [answer.status_code for answer in answers]

    return asyncio.run(burst())


def sign_in(base_url: str, username: str, password: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One ``POST /login``: its HTTP status and its ``Retry-After`` header (``""`` when it has none)."""
    import httpx

    answer = httpx.post(
        f"{base_url.rstrip('/')}/login",
        data={"username": username, "password": password},
        headers=headers or {},
        timeout=120,
    )
    return answer.status_code, answer.headers.get("retry-after", "")


def noisy_jpeg2000(path: Path, side: int = 2000, *, seed: int = 0) -> Path:
    """A lossless JPEG 2000 at ``path`` of ``side`` × ``side`` pixels of noise (2000: 4 MP, 13 MB, ~3 s to decode
    here): the most a decode of this format costs per pixel, as slow as :func:`slow_jpeg2000` at a twelfth of its
    pixels."""
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, "JPEG2000")
    return path
