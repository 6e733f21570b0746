"""Models converted once for a faster CPU runtime (OpenVINO's IR of a UNet, CTranslate2's Whisper), kept
on disk and reused: the one cache both conversions use (:mod:`.openvino`, :mod:`.ctranslate2`).

* **Where**: beside the model — ``<models--org--name>/mmdemo-<kind>/<key>/`` in the Hugging Face cache
  (outside ``snapshots/``, so the cache layout stays intact and deleting the model deletes its conversions),
  else ``<model folder>/<kind>/<key>/`` — else, for a read-only model folder,
  ``$XDG_CACHE_HOME/mmdemo/<kind>/<model>-<hash>/`` (``~/.cache`` without it). An environment variable per
  kind (``MMDEMO_OPENVINO_CACHE``, ``MMDEMO_CT2_CACHE``) sets that root for every model.
* **Keys** name what the conversion depends on; :func:`revision` gives the model's part of it: the
  snapshot's commit hash in the HF cache, else a hash of the weight files' names, sizes and mtimes, so
  replaced weights get a new conversion.
* **Two processes** never write the same folder: a file lock around the conversion, which writes a scratch
  folder renamed into place when complete, so a half-written model is never read; an incomplete leftover
  (a crash) is converted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCK_TIMEOUT_S = 1800
"""How long a load waits for another process's conversion of the same model (a large UNet: minutes)."""


def hf_snapshot(folder: Path) -> bool:
    """Whether ``folder`` is a snapshot in the Hugging Face cache (``models--org--name/snapshots/<commit>``)."""
    return folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--")


def revision(folder: Path, files: Iterable[Path]) -> str:
    """The model's revision: the snapshot's commit hash, else a hash of ``files``' names, sizes and mtimes."""
    folder = Path(folder)
    if hf_snapshot(folder):
        return folder.name
    digest = hashlib.sha256()
    for file in sorted(files):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def writable(path: Path) -> bool:
    """Whether ``path`` can be created and written (a read-only mount fails even for root)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


@dataclass(frozen=True)
class ConversionCache:
    """Where conversions of one ``kind`` live (see the module doc) and how a missing one is made."""

    kind: str
    """``openvino``, ``ctranslate2``: names the folders."""
    env: str
    """The environment variable that sets the root for every model."""
    required: tuple[str, ...]
    """Files a complete conversion has."""

    def root(self, folder: Path) -> Path:
        """Where ``folder``'s conversions live: beside the model when writable."""
        folder = Path(folder).absolute()
        override = os.environ.get(self.env)
        if override:
            return Path(override).expanduser() / self._tag(folder)
        beside = folder.parent.parent / f"mmdemo-{self.kind}" if hf_snapshot(folder) else folder / self.kind
        if writable(beside):
            return beside
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "mmdemo" / self.kind / self._tag(folder)

    @staticmethod
    def _tag(folder: Path) -> str:
        """A per-model folder name in a shared root: the model's name and a hash of its full path."""
        name = folder.parent.parent.name if hf_snapshot(folder) else folder.name
        return f"{name[:60]}-{hashlib.sha256(str(folder).encode()).hexdigest()[:10]}"

    def complete(self, target: Path) -> bool:
        return all((target / name).is_file() for name in self.required)

    def get(self, folder: Path, key: str, convert: Callable[[Path], None]) -> tuple[Path, bool]:
        """The conversion ``key`` of ``folder``, made first by ``convert(scratch_folder)`` when it is not
        cached; returns (its folder, whether it was converted now)."""
        root = self.root(folder)
        target = root / key
        if self.complete(target):
            return target, False
        with _lock(root, key):
            if self.complete(target):  # another process converted it while this one waited
                return target, False
            scratch = root / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            scratch.mkdir(parents=True)
            try:
                convert(scratch)
                shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover
                os.replace(scratch, target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return target, True


@contextlib.contextmanager
def _lock(root: Path, key: str) -> Iterator[None]:
    """One conversion of ``key`` at a time across processes (the loser then reads the winner's model)."""
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f".{key}.lock"), timeout=LOCK_TIMEOUT_S):
        yield


def dtype_name(dtype: Any) -> str:
    """A torch dtype as the Models panel writes it (``bfloat16``), for a converted model's precision text."""
    return str(dtype).removeprefix("torch.")
