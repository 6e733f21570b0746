"""Captioning many photos at once: uploads, folders or zips → one row per photo (its caption, optionally the
text in it and the answer to one question), exported as CSV and JSONL.

The captioner takes as many photos at once as the memory left on its device allows
(:meth:`~mmdemo.models.manager.ModelManager.batch_size`) and is taken per batch, so a quick request for the
same model waits for one batch, not for the whole job. Photos are decoded one batch at a time. A photo that
cannot be read (damaged, not an image, too large) is recorded in its row with the reason and the others go
on; a zip that is refused (see :mod:`mmdemo.media.archive`) or a model that is missing stops the request.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, MMDemoError, ModelUnavailableError
from ..media.archive import extract_zip
from ..media.files import display_name
from ..media.image import ImageLimits, load_image
from ..messages import Message, text
from ..models.manager import ModelManager
from ..params import Flag, Number, Text
from ..progress import ProgressFn
from ..runtime import get_manager
from . import captioning
from .captioning import PREFIX, DecodingOptions, answer_question, caption_images

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
"""What counts as a photo inside a zip or a folder (other files there are skipped, with a note)."""
MAX_PHOTOS = 500
"""Photos per request at most."""
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


def _photos_in(folder: Path, label: str, notes: list[Message]) -> list[tuple[str, Path]]:
    """The photos in ``folder`` (and its subfolders) by name, each named ``label/relative path``; other files
    are noted as skipped."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    photos = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    others = [p.relative_to(folder).as_posix() for p in files if p not in photos and not p.name.startswith(".")]
    if others:
        names = ", ".join(others[:SHOWN_SKIPPED])
        more = len(others) - SHOWN_SKIPPED
        if more > 0:
            notes.append(Message("batch.skipped_more", count=len(others), folder=label, names=names, more=more))
        else:
            notes.append(Message("batch.skipped", count=len(others), folder=label, names=names))
    return [(f"{label}/{p.relative_to(folder).as_posix()}", p) for p in photos]


def expand_inputs(
    sources: Sequence[Any], unpack_to: Path, notes: list[Message], max_photos: int | None = MAX_PHOTOS
) -> list[tuple[str, Any]]:
    """Every photo of ``sources`` as (name, what to open), in order: a file as it is, a folder's photos, a zip's
    photos (unpacked safely into a new folder under ``unpack_to``); at most ``max_photos``."""
    photos: list[tuple[str, Any]] = []
    for source in sources:
        name, path = _name_and_path(source)
        if isinstance(path, Path) and path.is_dir():
            photos += _photos_in(path, name, notes)
        elif isinstance(path, Path) and name.lower().endswith(".zip"):
            target = Path(tempfile.mkdtemp(prefix="zip-", dir=unpack_to))
            extract_zip(path, target)
            found = _photos_in(target, name, notes)
            if not found:
                notes.append(Message("batch.zip_without_photos", name=name, kinds=", ".join(sorted(IMAGE_EXTENSIONS))))
            photos += found
        else:
            photos.append((name, path))
        if max_photos is not None and len(photos) > max_photos:
            raise InputError(Message("batch.too_many", limit=max_photos))
    if not photos:
        raise InputError(Message("batch.no_photos"))
    return photos


# ------------------------------------------------------------------------------------------ the batch


def check_batch(manager: ModelManager, read_text: bool = READ_TEXT.default, question: str = QUESTION.default) -> str:
    """The checks before any work (the UI's precheck runs them too): :data:`READ_TEXT`, :data:`QUESTION`
    (returned, whitespace normalised; empty for none) and the models the batch needs, installed here (a missing
    one would otherwise fail every row)."""
    read_text = READ_TEXT.check(read_text)
    question = " ".join(QUESTION.check(question).split())
    for role in ("captioner", *(["ocr"] if read_text else []), *(["vqa"] if question else [])):
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
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> BatchCaptionResult:
    """Caption every photo of ``sources`` (paths, uploads, folders, zips), with the text read in each
    (``read_text``) and the answer to ``question`` for each (when given).

    ``batch_size``: photos per captioning batch (:data:`BATCH_SIZE`; default: what the memory left allows).
    ``unpack_to``: where zips are unpacked (a new folder each, removed afterwards; default a temporary folder).
    ``max_photos``: refuse more (None: no limit).
    """
    manager = manager or get_manager()
    began = time.perf_counter()
    options = options.validated()
    prefix = " ".join(PREFIX.check(prefix).split())
    batch_size = BATCH_SIZE.check(batch_size)
    question = check_batch(manager, read_text, question)
    notes: list[Message] = []
    workspace = Path(tempfile.mkdtemp(prefix="mmdemo-batch-", dir=unpack_to))
    try:
        photos = expand_inputs(sources, workspace, notes, max_photos)
        rows, size, models = _run(photos, read_text, question, prefix, options, batch_size, manager, progress)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return BatchCaptionResult(
        rows=tuple(rows),
        read_text=read_text,
        question=question or None,
        batch_size=size,
        model_ids=tuple(dict.fromkeys(models)),
        notes=tuple(notes),
        seconds=time.perf_counter() - began,
    )


def _run(
    photos: list[tuple[str, Any]],
    read_text: bool,
    question: str,
    prefix: str,
    options: DecodingOptions,
    batch_size: int | None,
    manager: ModelManager,
    progress: ProgressFn | None,
) -> tuple[list[PhotoRow], int, list[str]]:
    from .ocr import read_texts

    total = len(photos)
    if batch_size is None:
        with manager.use("captioner", progress):  # loaded, so that its own weights are counted
            batch_size = manager.batch_size("captioner", CAPTION_ITEM_BYTES, MAX_BATCH)
    limits = ImageLimits.from_settings(manager.settings)
    rows: list[PhotoRow] = []
    models: list[str] = []
    for start in range(0, total, batch_size):
        batch = photos[start : start + batch_size]
        last = start + len(batch)
        _report(progress, start, total, Message("batch.progress.captioning", first=start + 1, last=last, total=total))
        found: dict[int, dict[str, Any]] = {}
        images: dict[int, Any] = {}
        for i, (_, source) in enumerate(batch):
            try:
                images[i] = load_image(source, limits)
            except InputError as err:
                found[i] = {"error": err.message}
        if images:
            try:
                captions = caption_images(
                    list(images.values()),
                    prefix=prefix,
                    options=options,
                    batch_size=len(images),
                    manager=manager,
                    progress=progress if start == 0 else None,  # the first batch may load the model
                )
                models.append(captions[0].model_id)
                for i, caption in zip(images, captions, strict=True):
                    found[i] = {"caption": caption.text}
            except MMDemoError:
                raise
            except Exception:
                log.exception("captioning photos %d–%d failed", start + 1, start + len(batch))
                found.update({i: {"error": FAILED} for i in images})
                images = {}
        for i, image in images.items():
            number = start + i + 1
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
        rows += [PhotoRow(name, **found[i]) for i, (name, _) in enumerate(batch)]
        done, failed = start + len(batch), sum(not row.ok for row in rows)
        if failed:
            _report(progress, done, total, Message("batch.progress.done_failed", done=done, total=total, failed=failed))
        else:
            _report(progress, done, total, Message("batch.progress.done", done=done, total=total))
    return rows, batch_size, models


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
