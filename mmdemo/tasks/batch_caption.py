"""Captioning many photos at once: uploads, folders or zips → one row per photo (its caption, optionally the
text in it and the answer to one question), exported as CSV and JSONL.

The captioner takes as many photos at once as the memory left on its device allows
(:meth:`~mmdemo.models.manager.ModelManager.batch_size`) and is taken per batch, so a quick request for the
same model waits for one batch, not for the whole job. A photo that cannot be read (damaged, not an image, too
large) is recorded in its row with the reason and the others go on; a zip that is refused (see
:mod:`mmdemo.media.archive`) or a model that is missing stops the request.

A request is budgeted as a whole, not per file: a file sent twice (the same upload, or the same content under
another name) is one photo; the photos (:data:`MAX_PHOTOS`), the zips' entries and their unpacked bytes
(:class:`~mmdemo.media.archive.ZipBudget`) are counted from the zips' directories before anything is unpacked,
and only the photos of a zip are written. Photos are decoded lazily, one at a time, into batches that hold at
most ``max_image_pixels`` decoded pixels (the largest photo allowed, else one photo), and released after their
batch; the decoded pixels of the whole request are limited too (``max_request_pixels``): photos past it are
recorded as not read.

In Ray mode (:mod:`mmdemo.serve`) the checks, the budgets, the zips' unpacking and the notes stay where the
request arrives (:func:`caption_batch`); the photos travel to a ``captioning`` replica, which runs the models
(:func:`caption_photos`) and reports the same progress.
"""

from __future__ import annotations

import csv
import ctypes
import gc
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError, MMDemoError, ModelUnavailableError
from ..media.archive import ZipBudget, extract_zip, survey_zip
from ..media.files import Upload, display_name
from ..media.image import ImageLimits, load_image
from ..messages import Message, text
from ..models.manager import ModelManager
from ..params import Flag, Number, Text
from ..progress import ProgressFn
from ..runner import task
from ..runtime import get_manager
from . import captioning
from .captioning import PREFIX, DecodingOptions, answer_question, caption_images

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
"""What counts as a photo inside a zip or a folder (other files there are skipped, with a note)."""
MAX_PHOTOS = 500
"""Photos per request at most (files, and the photos inside its zips and folders; a file sent twice counts once)."""
CAPTION_ITEM_BYTES = 256 * 2**20
"""Working memory of one photo in a captioning batch, in float32 (BLIP's vision features and beam search)."""
MAX_BATCH = 16
"""Photos per batch at most when the memory left decides (:data:`BATCH_SIZE` not given)."""
READ_TEXT = Flag("read_text", "Also read the text in each photo", False, doc="also read the text in each photo (OCR)")
QUESTION = Text(
    "question",
    "Also ask each photo",
    "",
    max_length=captioning.QUESTION.max_length,
    placeholder="Optional, e.g. How many people are there?",
    doc="also ask this question about each photo (short answers); empty = no question",
)
BATCH_SIZE = Number(
    "batch_size",
    "Photos per batch",
    None,
    minimum=1,
    maximum=64,
    integer=True,
    optional=True,
    doc=f"photos per captioning batch (default: what the memory left allows, at most {MAX_BATCH})",
)
DEFAULT_OPTIONS = DecodingOptions()
FAILED = Message("batch.failed")
COLUMNS = ("file", "caption", "text", "question", "answer", "error")
"""Every column a table can have (:attr:`BatchCaptionResult.columns`); the page names them by ``batch.column.*``."""
SHOWN_SKIPPED = 5
"""Skipped files named in a note (the others counted)."""
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class PhotoRow:
    """One photo of a batch: what was found, or why it could not be read."""

    file: str
    """The name it was uploaded under (``photos.zip/holiday/beach.jpg`` for a photo inside a zip)."""
    caption: str | None = None
    text: str | None = None
    """The text read in it (lines joined by line breaks), when asked for."""
    answer: str | None = None
    """The answer to the batch's question, when one was asked."""
    error: Message | str | None = None
    """Why the photo has no caption: the reason (rendered in a locale by :meth:`BatchCaptionResult.records`)."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchCaptionResult:
    rows: tuple[PhotoRow, ...]
    read_text: bool
    question: str | None
    batch_size: int
    model_ids: tuple[str, ...]
    notes: tuple[Message, ...]
    seconds: float

    @property
    def columns(self) -> list[str]:
        """The columns of the table and exports: file, caption, [text], [question, answer], error."""
        return [
            "file",
            "caption",
            *(["text"] if self.read_text else []),
            *(["question", "answer"] if self.question else []),
            "error",
        ]

    @property
    def failed(self) -> list[PhotoRow]:
        return [row for row in self.rows if not row.ok]

    def records(self, locale: str = "en") -> list[dict[str, str | None]]:
        """One dict per photo with :attr:`columns` as keys, the errors in ``locale`` (the files: English)."""
        records = []
        for row in self.rows:
            values = {**asdict(row), "question": self.question}
            records.append({key: None if values[key] is None else text(values[key], locale) for key in self.columns})
        return records

    def to_csv(self, path: str | Path) -> Path:
        """A CSV file (UTF-8, a header row). Cells that a spreadsheet would run as a formula (starting with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a leading ``'``; the JSONL keeps them as is."""
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=self.columns)
            writer.writeheader()
            for record in self.records():
                writer.writerow({k: _csv_cell(v) for k, v in record.items()})
        return path

    def to_jsonl(self, path: str | Path) -> Path:
        """One JSON object per photo and line (UTF-8; ``null`` where there is nothing)."""
        path = Path(path)
        lines = (json.dumps(record, ensure_ascii=False) + "\n" for record in self.records())
        path.write_text("".join(lines), encoding="utf-8")
        return path

    def write(self, folder: str | Path, stem: str = "captions") -> tuple[Path, Path]:
        """``folder/stem.csv`` and ``folder/stem.jsonl``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return self.to_csv(folder / f"{stem}.csv"), self.to_jsonl(folder / f"{stem}.jsonl")


def _csv_cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


# ------------------------------------------------------------------------------------------ inputs


def _name_and_path(source: Any) -> tuple[str, Any]:
    """(the name a visitor knows the file by, what to open) for a path or an upload
    (:class:`~mmdemo.media.files.Upload`: its own name)."""
    if isinstance(source, (str, os.PathLike)):
        return display_name(source) or Path(os.fspath(source)).name, Path(os.fspath(source))
    return "photo", source  # a PIL image, an array or bytes: load_image takes them as they are


def _is_photo(name: str) -> bool:
    path = PurePosixPath(name)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _skipped_note(others: list[str], label: str, notes: list[Message]) -> None:
    """Note the files of ``label`` (a folder or a zip) that are not photos."""
    if not others:
        return
    names = ", ".join(others[:SHOWN_SKIPPED])
    more = len(others) - SHOWN_SKIPPED
    if more > 0:
        notes.append(Message("batch.skipped_more", count=len(others), folder=label, names=names, more=more))
    else:
        notes.append(Message("batch.skipped", count=len(others), folder=label, names=names))


def _photo_names(names: Sequence[str], label: str, notes: list[Message]) -> list[str]:
    """The photos among relative ``names`` (sorted); the other files (hidden ones aside) are noted as skipped."""
    ordered = sorted(names, key=PurePosixPath)
    _skipped_note([n for n in ordered if not _is_photo(n) and not PurePosixPath(n).name.startswith(".")], label, notes)
    return [n for n in ordered if _is_photo(n)]


def _photos_in(folder: Path, label: str, notes: list[Message]) -> list[tuple[str, Path]]:
    """The photos in ``folder`` (and its subfolders) by name, each named ``label/relative path``; other files
    are noted as skipped."""
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return [(f"{label}/{name}", folder / name) for name in _photo_names(files, label, notes)]


def _fingerprint(path: Path) -> tuple[int, str] | None:
    """(size, SHA-256) of a file, to know the same content under another name; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        return path.stat().st_size, digest.hexdigest()
    except OSError:
        return None


def _distinct(sources: Sequence[Any], notes: list[Message]) -> list[tuple[str, Any]]:
    """(name, what to open) of every source, a file sent more than once kept once (the first name): the same
    path, or the same content under another name (noted)."""
    kept: list[tuple[str, Any]] = []
    seen: dict[object, str] = {}
    repeated: list[str] = []
    for source in sources:
        name, path = _name_and_path(source)
        keys: list[object] = []
        if isinstance(path, Path) and not path.is_dir():
            keys.append(("path", os.path.realpath(path)))
            if keys[0] not in seen:
                content = _fingerprint(path)
                if content is not None:
                    keys.append(("content", content))
        first = next((seen[key] for key in keys if key in seen), None)
        if first is not None:
            repeated.append(name if name == first else f"{name} = {first}")
            continue
        seen.update(dict.fromkeys(keys, name))
        kept.append((name, path))
    if repeated:
        shown = list(dict.fromkeys(repeated))
        names = ", ".join(shown[:SHOWN_SKIPPED]) + (" …" if len(shown) > SHOWN_SKIPPED else "")
        notes.append(Message("batch.duplicates", count=len(repeated), names=names))
    return kept


@dataclass
class _Planned:
    """One source of a request, planned: a photo, a folder's photos, or a zip's photos (not unpacked yet)."""

    name: str
    path: Any
    kind: str
    """``photo``, ``folder`` or ``zip``."""
    photos: list[str] = field(default_factory=list)
    """Folder: the photos' paths; zip: the photos' names inside it."""


def plan_inputs(
    sources: Sequence[Any],
    notes: list[Message],
    max_photos: int | None = MAX_PHOTOS,
    budget: ZipBudget | None = None,
) -> list[_Planned]:
    """Every source of ``sources`` checked and counted before anything is unpacked: files sent twice kept once,
    every zip's directory checked and its entries and unpacked bytes counted against ``budget`` (the request's
    :class:`~mmdemo.media.archive.ZipBudget`; None: not counted), and the photos against ``max_photos``. Raises
    :class:`~mmdemo.errors.InputError` (a zip's :class:`~mmdemo.media.archive.ArchiveError` among them)."""
    planned: list[_Planned] = []
    count = 0
    for name, path in _distinct(sources, notes):
        if isinstance(path, Path) and path.is_dir():
            item = _Planned(name, path, "folder", [str(p) for _, p in _photos_in(path, name, notes)])
            count += len(item.photos)
        elif isinstance(path, Path) and name.lower().endswith(".zip"):
            contents = survey_zip(path)
            if budget is not None:
                budget.take(contents)
            item = _Planned(name, path, "zip", _photo_names(contents.files, name, notes))
            if not item.photos:
                notes.append(Message("batch.zip_without_photos", name=name, kinds=", ".join(sorted(IMAGE_EXTENSIONS))))
            count += len(item.photos)
        else:
            item = _Planned(name, path, "photo")
            count += 1
        if max_photos is not None and count > max_photos:
            raise InputError(Message("batch.too_many", limit=max_photos))
        planned.append(item)
    if not count:
        raise InputError(Message("batch.no_photos"))
    return planned


def expand_inputs(
    sources: Sequence[Any],
    unpack_to: Path,
    notes: list[Message],
    max_photos: int | None = MAX_PHOTOS,
    budget: ZipBudget | None = None,
) -> list[tuple[str, Any]]:
    """Every photo of ``sources`` as (name, what to open), in order: a file as it is, a folder's photos, a zip's
    photos (unpacked safely into a new folder under ``unpack_to``, only the photos); at most ``max_photos``.
    Everything is checked and counted (:func:`plan_inputs`) before the first zip is unpacked."""
    photos: list[tuple[str, Any]] = []
    for item in plan_inputs(sources, notes, max_photos, budget):
        if item.kind == "folder":
            photos += [(f"{item.name}/{Path(p).relative_to(item.path).as_posix()}", Path(p)) for p in item.photos]
        elif item.kind == "zip":
            if item.photos:
                target = Path(tempfile.mkdtemp(prefix="zip-", dir=unpack_to))
                extract_zip(item.path, target, only=set(item.photos))
                photos += [(f"{item.name}/{name}", target / name) for name in item.photos]
        else:
            photos.append((item.name, item.path))
    return photos


# ------------------------------------------------------------------------------------------ the batch


def check_batch(manager: ModelManager, read_text: bool = READ_TEXT.default, question: str = QUESTION.default) -> str:
    """The checks before any work (the UI's precheck runs them too): :data:`READ_TEXT`, :data:`QUESTION`
    (returned, whitespace normalised; empty for none) and the models the batch needs, installed here (a missing
    one would otherwise fail every row)."""
    read_text = READ_TEXT.check(read_text)
    question = " ".join(QUESTION.check(question).split())
    asked = [*(["ocr"] if read_text else []), *(["vqa"] if question else [])]
    # Without the captioner, a batch that reads text or asks a question still runs (the captions are left out).
    needed = asked if asked and not manager.availability("captioner").usable else ["captioner", *asked]
    for role in needed:
        availability = manager.availability(role)
        if not availability.usable:
            raise ModelUnavailableError(role, manager.model_id(role), "it is not installed", title=availability.title)
    return question


def caption_batch(
    sources: Sequence[Any],
    *,
    read_text: bool = READ_TEXT.default,
    question: str = QUESTION.default,
    prefix: str = PREFIX.default,
    options: DecodingOptions = DEFAULT_OPTIONS,
    batch_size: int | None = BATCH_SIZE.default,
    unpack_to: str | Path | None = None,
    max_photos: int | None = MAX_PHOTOS,
    budgeted: bool = True,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> BatchCaptionResult:
    """Caption every photo of ``sources`` (paths, uploads, folders, zips), with the text read in each
    (``read_text``) and the answer to ``question`` for each (when given).

    ``batch_size``: photos per captioning batch (:data:`BATCH_SIZE`; default: what the memory left allows).
    ``unpack_to``: where zips are unpacked (a new folder each, removed afterwards; default a temporary folder).
    ``max_photos``: refuse more (None: no limit).
    ``budgeted``: hold the request to the server's budgets (``max_request_zip_entries``,
    ``max_request_unpacked_mb``, ``max_request_pixels``); False for the command line on the user's own files.
    Batches hold at most ``max_image_pixels`` decoded pixels either way.
    """
    manager = manager or get_manager()
    began = time.perf_counter()
    options = options.validated()
    prefix = " ".join(PREFIX.check(prefix).split())
    batch_size = BATCH_SIZE.check(batch_size)
    question = check_batch(manager, read_text, question)
    notes: list[Message] = []
    if not manager.availability("captioner").usable:  # check_batch let it run: text or answers only
        notes.append(Message("batch.no_captioner"))
    workspace = Path(tempfile.mkdtemp(prefix="mmdemo-batch-", dir=unpack_to))
    try:
        budget = ZipBudget.from_settings(manager.settings) if budgeted else None
        photos = expand_inputs(sources, workspace, notes, max_photos, budget)
        done = caption_photos(
            [Upload(source, name) if isinstance(source, Path) else source for name, source in photos],
            read_text=read_text,
            question=question,
            prefix=prefix,
            options=options,
            batch_size=batch_size,
            max_pixels=manager.settings.max_request_pixels if budgeted else None,
            manager=manager,
            progress=progress,
        )
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return BatchCaptionResult(
        rows=tuple(done.rows),
        read_text=read_text,
        question=question or None,
        batch_size=done.batch_size,
        model_ids=tuple(dict.fromkeys(done.model_ids)),
        notes=tuple(notes),
        seconds=time.perf_counter() - began,
    )


@dataclass(frozen=True)
class Captioned:
    """What :func:`caption_photos` found: a row per photo, in order, the batch size used and the models that ran."""

    rows: list[PhotoRow]
    batch_size: int
    model_ids: list[str]


@task("captioning", files=("photos",))
def caption_photos(
    photos: Sequence[Any],
    *,
    read_text: bool,
    question: str,
    prefix: str,
    options: DecodingOptions,
    batch_size: int | None,
    max_pixels: int | None,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> Captioned:
    """The models' part of :func:`caption_batch`, on the photos it has checked, budgeted and unpacked (each an
    :class:`~mmdemo.media.files.Upload` named as the visitor sees it, ``photos.zip/beach.jpg``): the part a
    ``captioning`` replica runs in Ray mode, so that the page loads no model for it. ``max_pixels``: the decoded
    pixels of the whole request at most (None: no limit)."""
    manager = manager or get_manager()
    try:
        named = [_name_and_path(photo) for photo in photos]
        return Captioned(*_run(named, read_text, question, prefix, options, batch_size, manager, progress, max_pixels))
    finally:
        give_back_memory()


@dataclass
class _Batch:
    """Photos captioned together: (index in the request, decoded image) and the rows found so far by index."""

    images: dict[int, Any] = field(default_factory=dict)
    found: dict[int, dict[str, Any]] = field(default_factory=dict)
    pixels: int = 0

    @property
    def size(self) -> int:
        return len(self.found) + len(self.images)


def _batches(photos: list[tuple[str, Any]], batch_size: int, settings: Any, max_pixels: int | None) -> Iterator[_Batch]:
    """The photos decoded lazily, one at a time, in batches of at most ``batch_size`` photos and at most
    ``max_image_pixels`` decoded pixels (one photo if it is larger alone); a photo past ``max_pixels`` for the
    whole request (None: no limit) is not decoded (its row says why)."""
    limits = ImageLimits.from_settings(settings)
    batch_pixels = settings.max_image_pixels
    left = max_pixels if max_pixels is not None else float("inf")
    over = Message("batch.over_pixels", limit=f"{(max_pixels or 0) / 1e6:g}")
    batch = _Batch()
    for index, (_, source) in enumerate(photos):
        image, pixels, error = None, 0, None
        if left < 0:
            error = over
        else:
            try:
                image = load_image(source, limits)
                pixels = image.width * image.height
                left -= pixels
                if left < 0:
                    image, error = None, over
            except InputError as err:
                error = err.message
        full = batch.size >= batch_size or (image is not None and batch.images and batch.pixels + pixels > batch_pixels)
        if full:
            yield batch
            batch = _Batch()
        if image is None:
            batch.found[index] = {"error": error}
        else:
            batch.images[index] = image
            batch.pixels += pixels
        del image
    if batch.size:
        yield batch


def _run(
    photos: list[tuple[str, Any]],
    read_text: bool,
    question: str,
    prefix: str,
    options: DecodingOptions,
    batch_size: int | None,
    manager: ModelManager,
    progress: ProgressFn | None,
    max_pixels: int | None = None,
) -> tuple[list[PhotoRow], int, list[str]]:
    from .ocr import read_texts

    total = len(photos)
    captioning = manager.availability("captioner").usable
    if batch_size is None:
        if captioning:
            with manager.use("captioner", progress):  # loaded, so that its own weights are counted
                batch_size = manager.batch_size("captioner", CAPTION_ITEM_BYTES, MAX_BATCH)
        else:
            batch_size = MAX_BATCH  # photos decoded together, each read or asked on its own
    rows: list[PhotoRow] = []
    models: list[str] = []
    start = 0
    for batch in _batches(photos, batch_size, manager.settings, max_pixels):
        last = start + batch.size
        _report(progress, start, total, Message("batch.progress.captioning", first=start + 1, last=last, total=total))
        found, images = batch.found, batch.images
        if not captioning:
            found.update({i: {} for i in images})
        elif images:
            try:
                captions = caption_images(
                    list(images.values()),
                    prefix=prefix,
                    options=options,
                    batch_size=len(images),
                    manager=manager,
                    progress=progress if not models else None,  # the first batch may load the model
                )
                models.append(captions[0].model_id)
                for i, caption in zip(images, captions, strict=True):
                    found[i] = {"caption": caption.text}
            except MMDemoError:
                raise
            except Exception:
                log.exception("captioning photos %d–%d failed", start + 1, last)
                found.update({i: {"error": FAILED} for i in images})
                images.clear()
        for i, image in images.items():
            number = i + 1
            if read_text:
                _report(progress, number - 1, total, Message("batch.progress.reading", number=number, total=total))
                read = _per_photo(found[i], number, read_texts, [image], manager=manager)
                if read is not None:
                    (ocr,) = read
                    found[i]["text"] = ocr.text
                    models.append(ocr.model_id)
            if question:
                _report(progress, number - 1, total, Message("batch.progress.asking", number=number, total=total))
                answer = _per_photo(found[i], number, answer_question, image, question, manager=manager)
                if answer is not None:
                    found[i]["answer"] = answer.answer
                    models.append(answer.model_id)
        rows += [PhotoRow(photos[i][0], **found[i]) for i in sorted(found)]
        image = None  # the decoded photos go before the next batch is decoded
        del batch, found, images, image
        start = last
        failed = sum(not row.ok for row in rows)
        if failed:
            _report(progress, last, total, Message("batch.progress.done_failed", done=last, total=total, failed=failed))
        else:
            _report(progress, last, total, Message("batch.progress.done", done=last, total=total))
    return rows, batch_size, models


def give_back_memory() -> None:
    """Return what a request freed to the system: a garbage collection, then (glibc) ``malloc_trim``, without
    which the freed buffers of large decoded photos stay in this process."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): the allocator decides
        pass


def _per_photo(row: dict[str, Any], number: int, work: Any, *args: Any, **kwargs: Any) -> Any:
    """``work(*args, **kwargs)`` for photo ``number``; an unexpected failure is recorded in its ``row`` (a missing
    model still stops the request)."""
    try:
        return work(*args, **kwargs)
    except InputError as err:
        row["error"] = err.message
        return None
    except MMDemoError:
        raise
    except Exception:
        log.exception("photo %d of a batch failed", number)
        row["error"] = FAILED
        return None


def _report(progress: ProgressFn | None, done: int, total: int, message: Message) -> None:
    """``message`` to ``progress`` (a :class:`Message`: the page shows it in the visitor's language)."""
    if progress is not None:
        progress(done / total, message)
