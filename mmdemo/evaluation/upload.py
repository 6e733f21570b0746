"""A data set uploaded as a zip (the app's Evaluate tab): unpacked safely, then read by the CLI's own reader.

The zip holds what a data set folder holds (``metadata.jsonl`` and the media, see :mod:`.datasets`), at its
top or inside one folder. It is unpacked with :func:`~mmdemo.media.archive.extract_zip` (every attack refused
with its message) into a fresh folder, and read with :func:`~.datasets.read_dataset`, whose messages name
``metadata.jsonl`` and "the zip" instead of the server's folders. An upload lists at most ``max_eval_items``
items (:class:`~mmdemo.settings.Settings`): ``metadata.jsonl`` is read a line at a time and the reading stops
past it, or when the client has gone (the progress callback raises).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..media.archive import extract_zip
from ..messages import Message
from ..progress import ProgressFn
from ..settings import Settings
from .datasets import COLUMNS, METADATA, Dataset, DatasetError, check_task, read_dataset

THE_ZIP = Message("eval.the_zip")
"""What the messages call an uploaded data set's folder."""


def dataset_root(folder: Path, task: str) -> Path:
    """The folder of the unpacked zip that holds ``metadata.jsonl``: the top, else its one folder with one.
    Raises :class:`DatasetError` when there is none, or several."""
    if (folder / METADATA).is_file():
        return folder
    found = sorted(p.parent for p in folder.glob(f"*/{METADATA}") if p.is_file())
    if len(found) > 1:
        raise DatasetError(Message("eval.zip_several", names=", ".join(p.name for p in found)))
    if not found:
        raise DatasetError(Message("eval.zip_no_metadata", columns=" and ".join(f"'{c}'" for c in COLUMNS[task])))
    return found[0]


def read_zipped_dataset(
    source: str | os.PathLike[str],
    task: str,
    target: str | Path,
    *,
    name: str,
    max_items: int = Settings.max_eval_items,
    progress: ProgressFn | None = None,
) -> Dataset:
    """Unpack the zip ``source`` (a path, or the visitor's :class:`~mmdemo.media.files.Upload`) into ``target``
    (a new, empty folder) and read it as a ``task`` data set named ``name`` of at most ``max_items`` items (the
    server's ``max_eval_items``). Raises :class:`~mmdemo.media.archive.ArchiveError` or :class:`DatasetError` (an
    ``InputError``) with a message for the user that names ``metadata.jsonl`` and "the zip"; the operator detail
    keeps the real paths. ``progress`` is told while ``metadata.jsonl`` is read (an exception it raises stops
    the reading)."""
    task = check_task(task)
    target = Path(target)
    extract_zip(os.fspath(source), target)
    root = dataset_root(target, task)
    return read_dataset(root, task, name=name, shown_as=THE_ZIP, max_items=max_items, progress=progress)
