"""What every kind of upload shares: size checks and bounded reads, with the same wording."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


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
