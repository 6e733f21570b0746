"""Unpacking a zip a client uploaded: hostile input, unpacked only after checks and under limits.

Refused, each with its own message: a file that is not a zip (or a damaged one), an empty zip, an entry
with an absolute path or a drive letter, one that climbs out of the folder with ``..``, a symbolic link or
another special file, a password-protected entry, a name given twice, a name too long for a disk to hold (a
folder or file name over :data:`MAX_NAME_BYTES`, a path over :data:`MAX_PATH_BYTES`), more than ``max_files``
entries, more than ``max_total_bytes`` once unpacked, and an entry (or the whole zip) that unpacks to more than
``max_ratio`` times its compressed size (a zip bomb).

A request that sends several zips is budgeted as a whole (:class:`ZipBudget`): their entries and unpacked bytes
are added up from their directories (:func:`survey_zip`) before any of them is unpacked.

Every entry is checked before anything is written. The sizes a zip declares are not trusted: bytes are
counted while they are written and unpacking stops at the limits (a zip that lies is refused, and what was
written is removed). Files are written by this code, never by ``ZipFile.extract``: plain files and folders
only, created exclusively, inside one fresh folder. macOS's ``__MACOSX/`` resource folders are skipped.
"""

from __future__ import annotations

import errno
import shutil
import stat
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError
from ..messages import Message
from .files import mb

SKIPPED_PREFIX = "__MACOSX/"
_CHUNK = 1 << 20
MAX_NAME_BYTES = 255
"""Longest folder or file name in an entry's path, in UTF-8 bytes (what Linux, macOS and Windows disks hold)."""
MAX_PATH_BYTES = 1024
"""Longest entry path, in UTF-8 bytes (the server's own folders come on top of it)."""


class ArchiveError(InputError):
    """A zip that is refused: the message says why (see the module docstring)."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 2000
    """Entries (files and folders) at most."""
    max_total_bytes: int = 512 * 2**20
    """Bytes once unpacked, all files together."""
    max_ratio: float = 100.0
    """Unpacked size / compressed size at most, per entry and for the whole zip (images, audio and text
    compress a few times at most; a zip bomb thousands of times)."""
    ratio_floor_bytes: int = 2**20
    """Entries (and zips) smaller than this once unpacked are not held to ``max_ratio``: a small file of
    repeated text compresses well, and is harmless."""


def shown_name(name: str, limit: int = 80) -> str:
    """An entry name as a message may show it: control characters replaced, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refuse(key: str, **values: object) -> ArchiveError:
    """The refusal ``key`` (``archive.*``) with its values."""
    return ArchiveError(Message(key, **values))


def entry_path(name: str) -> PurePosixPath:
    """The relative path an entry is written to, or :class:`ArchiveError` when it would land outside the folder
    (absolute, a drive letter, ``..``; backslashes count as separators, as Windows tools write them)."""
    text = name.replace("\\", "/")
    if "\x00" in text or text.startswith("/") or (len(text) > 1 and text[1] == ":" and text[0].isalpha()):
        raise _refuse("archive.absolute", name=shown_name(name))
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse("archive.climbs_out", name=shown_name(name))
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _kind(info: zipfile.ZipInfo) -> str:
    """``file``, ``dir``, ``link`` or ``special``, from the Unix file type a zip records (without one: by name)."""
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no file type recorded (permissions only, or not Unix)
    if kind == stat.S_IFLNK:
        return "link"
    if kind == stat.S_IFDIR or (not kind and info.is_dir()):
        return "dir"
    return "file" if kind in (0, stat.S_IFREG) else "special"


@dataclass(frozen=True)
class ZipContents:
    """What a zip's directory says it holds, every entry checked (:func:`survey_zip`): nothing unpacked yet."""

    entries: int
    """Entries counted against ``max_files`` (files and folders; ``__MACOSX/`` left out)."""
    files: tuple[str, ...]
    """The relative (``/``-separated) names of its files, in the zip's order."""
    unpacked_bytes: int
    """The bytes its files declare once unpacked (checked again while they are written)."""


@dataclass
class ZipBudget:
    """What all the zips of one request may hold together, counted from their directories before anything is
    unpacked (:meth:`take`): a zip that passes every check on its own, sent many times, must not fill the disk."""

    max_entries: int
    """Entries (files and folders) of all the zips together."""
    max_bytes: int
    """Bytes once unpacked, all the zips together."""
    entries: int = 0
    unpacked_bytes: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> ZipBudget:
        """The budget configured in :class:`mmdemo.settings.Settings` (``max_request_zip_entries``,
        ``max_request_unpacked_mb``)."""
        return cls(settings.max_request_zip_entries, int(settings.max_request_unpacked_mb * 2**20))

    def take(self, contents: ZipContents) -> None:
        """Count one zip; :class:`ArchiveError` naming the request's limit when the zips so far exceed it."""
        self.entries += contents.entries
        self.unpacked_bytes += contents.unpacked_bytes
        if self.entries > self.max_entries:
            raise _refuse("archive.request_entries", count=self.entries, limit=self.max_entries)
        if self.unpacked_bytes > self.max_bytes:
            raise _refuse("archive.request_too_large", size=mb(self.unpacked_bytes), limit=mb(self.max_bytes))


def _check_name(info: zipfile.ZipInfo, path: PurePosixPath) -> None:
    """Refuse a name no disk holds: a folder or file name over :data:`MAX_NAME_BYTES`, a path over
    :data:`MAX_PATH_BYTES`."""
    longest = max((len(part.encode("utf-8", "surrogatepass")) for part in path.parts), default=0)
    if longest > MAX_NAME_BYTES:
        raise _refuse("archive.name_too_long", name=shown_name(info.filename), length=longest, limit=MAX_NAME_BYTES)
    length = len(str(path).encode("utf-8", "surrogatepass"))
    if length > MAX_PATH_BYTES:
        raise _refuse("archive.path_too_long", name=shown_name(info.filename), length=length, limit=MAX_PATH_BYTES)


def _too_compressed(size: int, compressed: int, limits: ArchiveLimits) -> bool:
    return size > limits.ratio_floor_bytes and size > limits.max_ratio * max(compressed, 1)


def _plan(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[tuple[zipfile.ZipInfo, PurePosixPath, bool]]:
    """Every entry checked from the zip's directory: (entry, where it goes, whether it is a file)."""
    entries = [i for i in archive.infolist() if not i.filename.replace("\\", "/").startswith(SKIPPED_PREFIX)]
    if len(entries) > limits.max_files:
        raise _refuse("archive.too_many", count=len(entries), limit=limits.max_files)
    planned: list[tuple[zipfile.ZipInfo, PurePosixPath, bool]] = []
    seen: set[PurePosixPath] = set()
    total = compressed = 0
    for info in entries:
        path = entry_path(info.filename)
        _check_name(info, path)
        kind = _kind(info)
        if kind == "link":
            raise _refuse("archive.link", name=shown_name(info.filename))
        if kind == "special":
            raise _refuse("archive.special", name=shown_name(info.filename))
        if kind == "dir" or path == PurePosixPath("."):
            planned.append((info, path, False))
            continue
        if info.flag_bits & 0x1:
            raise _refuse("archive.encrypted", name=shown_name(info.filename))
        if path in seen:
            raise _refuse("archive.twice", name=shown_name(info.filename))
        seen.add(path)
        if _too_compressed(info.file_size, info.compress_size, limits):
            raise _refuse("archive.bomb", limit=f"{limits.max_ratio:g}", name=shown_name(info.filename))
        total += info.file_size
        compressed += info.compress_size
        if total > limits.max_total_bytes:
            raise _refuse("archive.too_large", limit=mb(limits.max_total_bytes))
        planned.append((info, path, True))
    if not seen:
        raise _refuse("archive.empty")
    if _too_compressed(total, compressed, limits):
        raise _refuse("archive.bomb", limit=f"{limits.max_ratio:g}", name=Message("archive.all_files"))
    return planned


def survey_zip(source: str | Path, limits: ArchiveLimits = ArchiveLimits()) -> ZipContents:
    """The checks :func:`extract_zip` makes before writing anything (from the zip's directory: quick, nothing is
    unpacked), and what the zip holds. Raises :class:`ArchiveError`."""
    with _open(source) as archive:
        planned = _plan(archive, limits)
    files = tuple(str(path) for _, path, is_file in planned if is_file)
    size = sum(info.file_size for info, _, is_file in planned if is_file)
    return ZipContents(entries=len(planned), files=files, unpacked_bytes=size)


def check_zip(source: str | Path, limits: ArchiveLimits = ArchiveLimits()) -> int:
    """The checks of :func:`survey_zip`; returns the number of files. Raises :class:`ArchiveError`. The UI's
    precheck runs it, so that a refused zip is a message and the results on the page stay."""
    return len(survey_zip(source, limits).files)


def _open(source: str | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refuse("archive.not_a_zip") from None


def extract_zip(
    source: str | Path,
    target: str | Path,
    limits: ArchiveLimits = ArchiveLimits(),
    *,
    only: Collection[str] | None = None,
) -> list[str]:
    """Unpack the zip ``source`` into ``target`` (a new folder, or an empty one) after the checks of the module
    docstring; returns the relative (``/``-separated) names of the files written, in the zip's order.

    ``only``: write only these files (names as :attr:`ZipContents.files` gives them, e.g. the photos) and the
    folders they are in; every entry is still checked.

    Raises :class:`ArchiveError` with the reason; ``target`` is then left empty."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise ValueError(f"{target} is not empty: a zip is unpacked into a fresh folder only")
    archive = _open(source)
    written: list[str] = []
    try:
        with archive:
            planned = _plan(archive, limits)
            root = target.resolve()
            total = 0
            for info, path, is_file in planned:
                if only is not None and (not is_file or str(path) not in only):
                    continue
                destination = root.joinpath(*path.parts)
                if not is_file:
                    _folder(destination, root, info)
                    continue
                total = _write(archive, info, destination, root, total, limits)
                written.append(str(path))
    except BaseException:
        _empty(target)
        raise
    return written


def _write(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    destination: Path,
    root: Path,
    total: int,
    limits: ArchiveLimits,
) -> int:
    """Write one entry, counting its bytes against the limits; returns the new total."""
    name = shown_name(info.filename)
    try:
        _folder(destination.parent, root, info)
        size = 0
        with archive.open(info) as reader, open(destination, "xb") as out:
            while chunk := reader.read(_CHUNK):
                size += len(chunk)
                total += len(chunk)
                if total > limits.max_total_bytes:
                    raise _refuse("archive.too_large", limit=mb(limits.max_total_bytes))
                if size > info.file_size or _too_compressed(size, info.compress_size, limits):
                    raise _refuse("archive.bomb", limit=f"{limits.max_ratio:g}", name=name)
                out.write(chunk)
    except ArchiveError:
        raise
    except (FileExistsError, NotADirectoryError, IsADirectoryError):  # a name that is a file and a folder
        raise _refuse("archive.twice", name=name) from None
    except OSError as err:
        if err.errno in (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL):  # a name this disk cannot hold
            raise _refuse("archive.unreadable", name=name) from None
        raise  # the server's own disk (full, read-only): not the zip's fault
    except Exception:  # zipfile.BadZipFile (CRC), zlib.error, EOFError, NotImplementedError (method): damaged
        raise _refuse("archive.unreadable", name=name) from None
    return total


def _folder(folder: Path, root: Path, info: zipfile.ZipInfo) -> None:
    """Make ``folder`` (inside ``root``); nothing here makes links, so it resolves inside ``root``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise _refuse("archive.twice", name=shown_name(info.filename)) from None
    if not folder.resolve().is_relative_to(root):
        raise _refuse("archive.climbs_out", name=shown_name(info.filename))


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
