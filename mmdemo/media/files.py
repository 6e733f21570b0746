"""What every kind of upload shares: where its bytes are (a path, an :class:`Upload`, bytes: Gradio's file
objects are unwrapped once, at the page's gate), size checks and bounded reads, and what a file evidently is; the
refusals are keyed messages (``media.*``), the same sentence for every kind, in the visitor's language."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError
from ..messages import Message


@dataclass(frozen=True)
class Upload:
    """A file a visitor sent, as the page's gate hands it on (:mod:`mmdemo.ui.gate`): where it lies, checked,
    and the name the visitor gave it. It is a path (``os.fspath``), so anything that opens paths opens it; the
    tasks read ``name`` where they show the visitor's own file name. Nothing below the UI sees Gradio's file
    objects."""

    path: Path
    name: str

    def __fspath__(self) -> str:
        return str(self.path)


def display_name(source: object) -> str | None:
    """The name a visitor knows ``source`` by: an :class:`Upload`'s own name, a path's file name."""
    if isinstance(source, Upload):
        return source.name
    if isinstance(source, (str, Path)):
        return Path(source).name
    return None


def mb(n: float) -> str:
    return f"{n / 2**20:.3g} MB"


Kind = Literal["image", "audio", "video"]
"""What an upload is meant to be: names its word (``media.kind.*``) and the advice for a file too large
(``media.advice.*``) in the messages."""


def check_file_size(size: int, max_bytes: int, kind: Kind) -> None:
    """Refuse an empty file or one over ``max_bytes``; the message names the ``kind`` of file and what to do."""
    what = Message(f"media.kind.{kind}")
    if size == 0:
        raise InputError(Message("media.empty", kind=what))
    if size > max_bytes:
        advice = Message(f"media.advice.{kind}")
        raise InputError(Message("media.too_large", kind=what, size=mb(size), limit=mb(max_bytes), advice=advice))


def read_limited(path: Path, max_bytes: int, kind: Kind) -> bytes:
    """The bytes of an uploaded file, after checking it exists and is within ``max_bytes``."""
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    if size is None:
        raise InputError(Message("media.not_found", kind=Message(f"media.kind.{kind}")))
    check_file_size(size, max_bytes, kind)
    try:
        with path.open("rb") as f:
            return f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(Message("media.not_opened", kind=Message(f"media.kind.{kind}"))) from exc


def location(source: object, missing: Message, unsupported: Message) -> Path | bytes:
    """Where an upload's bytes are: a path (``str``, any ``os.PathLike`` such as :class:`Upload`) or the bytes
    themselves. ``None`` or an empty path is ``missing``; anything else (a Gradio file dict, a number …) is
    ``unsupported``: files are unwrapped once, at the page's gate."""
    if source is None or (isinstance(source, str) and not source):
        raise InputError(missing)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if isinstance(path, str):
            return Path(path)
    raise InputError(unsupported)


_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image": lambda h: (
        h.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00"))
        or (h[:4] == b"RIFF" and h[8:12] == b"WEBP")
    ),
    "pdf": lambda h: h.startswith(b"%PDF"),
    "video": lambda h: h[4:8] == b"ftyp" or h.startswith(b"\x1aE\xdf\xa3") or (h[:4] == b"RIFF" and h[8:12] == b"AVI "),
    "audio": lambda h: h.startswith((b"ID3", b"OggS", b"fLaC")) or (h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    "eps": lambda h: h.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")),
    "zip": lambda h: h.startswith(b"PK\x03\x04"),
}
"""What a file is, from its first bytes; :func:`what_it_is` says it ("a PDF document") for "This file is …, not …"
messages."""


NOT_MEDIA: tuple[str, ...] = ("image", "pdf", "zip")
"""What an audio or video upload that FFmpeg cannot open may evidently be instead."""


def looks_like(data: bytes, *kinds: str) -> bool:
    """Whether ``data`` starts like one of ``kinds`` (keys of the signature table): a damaged file of its
    own kind gets "damaged", not "this is not …"."""
    return any(_SIGNATURES[kind](data[:64]) for kind in kinds)


def sniff(data: bytes, kinds: Iterable[str]) -> str:
    """The first of ``kinds`` (keys of the signature table) that ``data`` evidently is; else
    ``"text"`` when its first 4 KB are UTF-8 text; else ``""``. Each media module asks only
    about the kinds that are *not* its own, so a damaged file of its own kind is not misnamed."""
    head = data[:64]
    for kind in kinds:
        if _SIGNATURES[kind](head):
            return kind
    start = data[:4096]
    if start and b"\x00" not in start:
        try:
            start.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            pass
    return ""


def what_it_is(kind: str) -> Message:
    """What :func:`sniff` found, as a message says it: ``pdf`` → "a PDF document"."""
    return Message(f"media.is.{kind}")
