"""What every kind of upload shares: size checks and bounded reads, with the same wording."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


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


def check_file_size(size: int, max_bytes: int, kind: str, advice: str) -> None:
    """Refuse an empty file or one over ``max_bytes``. ``kind``: "image", "audio" …; ``advice``: what to do."""
    if size == 0:
        raise InputError(f"The {kind} file is empty (0 bytes): upload a different file.")
    if size > max_bytes:
        raise InputError(f"The {kind} file is too large ({mb(size)}; the limit is {mb(max_bytes)}): {advice}")


def read_limited(path: Path, max_bytes: int, kind: str, advice: str) -> bytes:
    """The bytes of an uploaded file, after checking it exists and is within ``max_bytes``."""
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    if size is None:
        raise InputError(f"The uploaded {kind} could not be found: upload it again.")
    check_file_size(size, max_bytes, kind, advice)
    try:
        with path.open("rb") as f:
            return f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"The uploaded {kind} could not be opened: upload it again.") from exc


_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "an image": lambda h: (
        h.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00"))
        or (h[:4] == b"RIFF" and h[8:12] == b"WEBP")
    ),
    "a PDF document": lambda h: h.startswith(b"%PDF"),
    "a video": lambda h: (
        h[4:8] == b"ftyp" or h.startswith(b"\x1aE\xdf\xa3") or (h[:4] == b"RIFF" and h[8:12] == b"AVI ")
    ),
    "an audio file": lambda h: h.startswith((b"ID3", b"OggS", b"fLaC")) or (h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    "a PostScript (EPS) file": lambda h: h.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")),
    "a ZIP archive or office document": lambda h: h.startswith(b"PK\x03\x04"),
}
"""What a file is, from its first bytes, phrased for "This file is …, not …" messages."""


NOT_MEDIA: tuple[str, ...] = ("an image", "a PDF document", "a ZIP archive or office document")
"""What an audio or video upload that FFmpeg cannot open may evidently be instead."""


def looks_like(data: bytes, *kinds: str) -> bool:
    """Whether ``data`` starts like one of ``kinds`` (keys of the signature table): a damaged file of its
    own kind gets "damaged", not "this is not …"."""
    return any(_SIGNATURES[kind](data[:64]) for kind in kinds)


def sniff(data: bytes, kinds: Iterable[str]) -> str:
    """The first of ``kinds`` (keys of the signature table) that ``data`` evidently is; else
    ``"a text file"`` when its first 4 KB are UTF-8 text; else ``""``. Each media module asks only
    about the kinds that are *not* its own, so a damaged file of its own kind is not misnamed."""
    head = data[:64]
    for kind in kinds:
        if _SIGNATURES[kind](head):
            return kind
    start = data[:4096]
    if start and b"\x00" not in start:
        try:
            start.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError:
            pass
    return ""
