"""A data set uploaded as a zip (the app's Evaluate tab): unpacked safely, then read by the CLI's own reader.

The zip holds what a data set folder holds (``metadata.jsonl`` and the media, see :mod:`.datasets`), at its
top or inside one folder. It is unpacked with :func:`~mmdemo.media.archive.extract_zip` (every attack refused
with its message) into a fresh folder, and read with :func:`~.datasets.read_dataset`, whose messages name
``metadata.jsonl`` and "the zip" instead of the server's folders.
"""

from __future__ import annotations

from pathlib import Path

from ..media.archive import extract_zip
from .datasets import COLUMNS, METADATA, Dataset, DatasetError, read_dataset

NO_METADATA = (
    "The zip has no metadata.jsonl (at its top or in its one folder): add one, with a JSON object per line "
    "naming a file ('file_name') and its reference ({columns}); see README, Evaluation."
)
SEVERAL = "The zip holds several data sets ({names}): zip one of them."
THE_ZIP = "the zip"


def dataset_root(folder: Path, task: str) -> Path:
    """The folder of the unpacked zip that holds ``metadata.jsonl``: the top, else its one folder with one.
    Raises :class:`DatasetError` when there is none, or several."""
    if (folder / METADATA).is_file():
        return folder
    found = sorted(p.parent for p in folder.glob(f"*/{METADATA}") if p.is_file())
    if len(found) > 1:
        raise DatasetError(SEVERAL.format(names=", ".join(p.name for p in found)))
    if not found:
        raise DatasetError(NO_METADATA.format(columns=" and ".join(f"'{c}'" for c in COLUMNS[task])))
    return found[0]


def read_zipped_dataset(source: str | Path, task: str, target: str | Path, *, name: str) -> Dataset:
    """Unpack the zip ``source`` into ``target`` (a new, empty folder) and read it as a ``task`` data set named
    ``name``. Raises :class:`~mmdemo.media.archive.ArchiveError` or :class:`DatasetError` (an ``InputError``)
    with a message for the user; the operator detail keeps the real paths."""
    if task not in COLUMNS:
        raise DatasetError(f"Unknown task {task!r}: use one of {', '.join(COLUMNS)}.")
    target = Path(target)
    extract_zip(source, target)
    root = dataset_root(target, task)
    try:
        return read_dataset(root, task, name=name)
    except DatasetError as err:
        message = str(err).replace(str(root / METADATA), METADATA).replace(str(root), THE_ZIP)
        raise DatasetError(message, detail=err.detail) from None
