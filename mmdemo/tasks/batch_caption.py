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
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, MMDemoError, ModelUnavailableError
from ..media.archive import extract_zip
from ..media.image import ImageLimits, load_image
from ..models.manager import ModelManager, ProgressFn
from ..runtime import get_manager
from .captioning import MAX_PREFIX_CHARS, DecodingOptions, answer_question, caption_images, check_question

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
"""What counts as a photo inside a zip or a folder (other files there are skipped, with a note)."""
MAX_PHOTOS = 500
"""Photos per request at most."""
CAPTION_ITEM_BYTES = 256 * 2**20
"""Working memory of one photo in a captioning batch, in float32 (BLIP's vision features and beam search)."""
MAX_BATCH = 16
DEFAULT_OPTIONS = DecodingOptions()
FAILED = "Captioning this photo failed (the details are in the server log)."
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
    error: str | None = None

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
    notes: tuple[str, ...]
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

    def records(self) -> list[dict[str, str | None]]:
        """One dict per photo with :attr:`columns` as keys."""
        return [
            {key: self.question if key == "question" else asdict(row)[key] for key in self.columns} for row in self.rows
        ]

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
    """(the name a file was uploaded under, what to open) for a path or a Gradio file object."""
    if hasattr(source, "model_dump"):  # gradio.data_classes.FileData
        source = source.model_dump()
    if isinstance(source, dict):
        path = source.get("path")
        orig = source.get("orig_name")
        name = orig if isinstance(orig, str) and orig.strip() else Path(str(path or "photo")).name
        return Path(name).name, Path(path) if isinstance(path, str) and path else source
    if isinstance(source, (str, Path)):
        return Path(source).name, Path(source)
    return "photo", source  # a PIL image, an array or bytes: load_image takes them as they are


def _photos_in(folder: Path, label: str, notes: list[str]) -> list[tuple[str, Path]]:
    """The photos in ``folder`` (and its subfolders) by name, each named ``label/relative path``; other files
    are noted as skipped."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    photos = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    others = [p.relative_to(folder).as_posix() for p in files if p not in photos and not p.name.startswith(".")]
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        notes.append(f"{len(others)} file(s) in {label} are not photos and were skipped: {shown}.")
    return [(f"{label}/{p.relative_to(folder).as_posix()}", p) for p in photos]


def expand_inputs(
    sources: Sequence[Any], unpack_to: Path, notes: list[str], max_photos: int | None = MAX_PHOTOS
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
                notes.append(f"{name} holds no photos ({', '.join(sorted(IMAGE_EXTENSIONS))}).")
            photos += found
        else:
            photos.append((name, path))
        if max_photos is not None and len(photos) > max_photos:
            raise InputError(f"Too many photos (more than {max_photos}): split them into smaller batches.")
    if not photos:
        raise InputError("No photos to caption: upload photos, or a zip of photos.")
    return photos


# ------------------------------------------------------------------------------------------ the batch


def check_batch(manager: ModelManager, read_text: bool = False, question: str = "") -> str:
    """The checks before any work (the UI's precheck runs them too): the question (returned, whitespace
    normalised; empty for none) and the models the batch needs, installed here (a missing one would otherwise
    fail every row)."""
    question = check_question(question) if (question or "").strip() else ""
    for role in ("captioner", *(["ocr"] if read_text else []), *(["vqa"] if question else [])):
        availability = manager.availability(role)
        if not availability.usable:
            raise ModelUnavailableError(role, manager.model_id(role), "it is not installed", title=availability.title)
    return question


def caption_batch(
    sources: Sequence[Any],
    *,
    read_text: bool = False,
    question: str = "",
    prefix: str = "",
    options: DecodingOptions = DEFAULT_OPTIONS,
    batch_size: int | None = None,
    unpack_to: str | Path | None = None,
    max_photos: int | None = MAX_PHOTOS,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> BatchCaptionResult:
    """Caption every photo of ``sources`` (paths, Gradio file objects, folders, zips), with the text read in
    each (``read_text``) and the answer to ``question`` for each (when given).

    ``batch_size``: photos per captioning batch (default: what the memory left allows, at most 16).
    ``unpack_to``: where zips are unpacked (a new folder each, removed afterwards; default a temporary folder).
    ``max_photos``: refuse more (None: no limit).
    """
    manager = manager or get_manager()
    began = time.perf_counter()
    options = options.validated()
    prefix = " ".join((prefix or "").split())
    if len(prefix) > MAX_PREFIX_CHARS:
        raise InputError(f"The caption prefix is too long ({len(prefix)} characters; at most {MAX_PREFIX_CHARS}).")
    if batch_size is not None and not 1 <= int(batch_size) <= 64:
        raise InputError(f"The batch size must be between 1 and 64 (got {batch_size}).")
    question = check_batch(manager, read_text, question)
    notes: list[str] = []
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
        _report(progress, start, total, f"Captioning photos {start + 1}–{start + len(batch)} of {total}")
        found: dict[int, dict[str, str | None]] = {}
        images: dict[int, Any] = {}
        for i, (_, source) in enumerate(batch):
            try:
                images[i] = load_image(source, limits)
            except InputError as err:
                found[i] = {"error": str(err)}
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
                _report(progress, number - 1, total, f"Reading the text in photo {number} of {total}")
                read = _per_photo(found[i], number, read_texts, [image], manager=manager)
                if read is not None:
                    (ocr,) = read
                    found[i]["text"] = ocr.text
                    models.append(ocr.model_id)
            if question:
                _report(progress, number - 1, total, f"Answering the question about photo {number} of {total}")
                answer = _per_photo(found[i], number, answer_question, image, question, manager=manager)
                if answer is not None:
                    found[i]["answer"] = answer.answer
                    models.append(answer.model_id)
        rows += [PhotoRow(name, **found[i]) for i, (name, _) in enumerate(batch)]
        done, failed = start + len(batch), sum(not row.ok for row in rows)
        _report(progress, done, total, f"{done} of {total} photos done" + (f" ({failed} failed)" if failed else ""))
    return rows, batch_size, models


def _per_photo(row: dict[str, str | None], number: int, work: Any, *args: Any, **kwargs: Any) -> Any:
    """``work(*args, **kwargs)`` for photo ``number``; an unexpected failure is recorded in its ``row`` (a missing
    model still stops the request)."""
    try:
        return work(*args, **kwargs)
    except InputError as err:
        row["error"] = str(err)
        return None
    except MMDemoError:
        raise
    except Exception:
        log.exception("photo %d of a batch failed", number)
        row["error"] = FAILED
        return None


def _report(progress: ProgressFn | None, done: int, total: int, message: str) -> None:
    if progress is not None:
        progress(done / total, message)
