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
* **Progress**: a conversion that can take a while (the caller gives its model's parameter count) moves the
  progress bar of the request whose load started it, with an estimate of the seconds left, and records how
  long it took in ``conversion-times.json`` beside the model's conversions (see :func:`reporting`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Cancelled
from ..progress import ProgressFn, sub_range
from . import progress_lines as lines

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 1800
"""How long a load waits for another process's conversion of the same model (a large UNet: minutes)."""
DEFAULT_SECONDS_PER_MILLION = 0.045
"""The estimate before this model was converted here: seconds per million parameters. SD-Turbo's UNet (866 M)
→ 39 s, between the 33 s of a first load measured on a quiet 2-core EPYC and the 2 minutes under load
(README, CPU fast path)."""
MIN_ESTIMATE_S = 1.0
"""The shortest estimate shown (a tiny model's conversion is mostly fixed costs)."""
TIMES_FILE = "conversion-times.json"
"""Beside a model's conversions: how long its last :data:`TIMES_KEPT` conversions took on this machine."""
TIMES_KEPT = 5
TICK_S = 0.5
"""How often a conversion's progress line is updated."""


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

    def get(
        self, folder: Path, key: str, convert: Callable[[Path], None], parameters: Callable[[], int] | None = None
    ) -> tuple[Path, bool]:
        """The conversion ``key`` of ``folder``, made first by ``convert(scratch_folder)`` when it is not
        cached; returns (its folder, whether it was converted now). With ``parameters`` (the model's parameter
        count, asked only when it converts), the conversion reports its progress (:func:`reporting`) and its
        time is recorded for the next estimate."""
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
                count = parameters() if parameters is not None else 0
                began = time.monotonic()
                with _ticking(root, count):
                    convert(scratch)
                seconds = time.monotonic() - began
                shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover
                os.replace(scratch, target)
                if count > 0:
                    _record_time(root, count, seconds)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return target, True


# ------------------------------------------------------------------------------ the form

_UNET_WEIGHTS: contextvars.ContextVar[str] = contextvars.ContextVar("mmdemo_unet_weights", default="float")


@contextlib.contextmanager
def unet_weights(form: str) -> Iterator[None]:
    """Loads inside this block convert a diffusion UNet to ``form`` (``Settings.cpu_unet_weights``): the model
    manager sets it around a load, as it sets :func:`reporting`; :func:`chosen_unet_weights` reads it."""
    token = _UNET_WEIGHTS.set(form)
    try:
        yield
    finally:
        _UNET_WEIGHTS.reset(token)


def chosen_unet_weights() -> str:
    """The UNet form the load in progress was asked for (``float`` outside :func:`unet_weights`)."""
    return _UNET_WEIGHTS.get()


# --------------------------------------------------------------------------------- progress

_REPORT: contextvars.ContextVar[tuple[ProgressFn, str] | None] = contextvars.ContextVar(
    "mmdemo_conversion_report", default=None
)


@contextlib.contextmanager
def reporting(progress: ProgressFn | None, title: str) -> Iterator[None]:
    """Conversions started inside this block report to ``progress`` as the ``title`` model's.

    A loader gets only (folder, dtype); the model manager wraps the load of the request that asked for the model
    in this block, and a conversion deep inside it finds the callback here (a context variable: another
    request's thread does not see it). Without a callback (the CLI, a preload) nothing is reported. While a
    conversion runs, a ticker thread calls ``progress`` every :data:`TICK_S` with a fraction that grows towards
    0.9 at the estimate and then creeps towards, never to, 0.95 (:func:`conversion_fraction`), and the line
    "about N s left" or, past the estimate, "taking longer than expected". When ``progress`` raises (the
    visitor left: :class:`~mmdemo.errors.Cancelled`) the ticker stops; the conversion finishes for the next one.
    """
    token = _REPORT.set(None if progress is None else (progress, title))
    try:
        yield
    finally:
        _REPORT.reset(token)


@contextlib.contextmanager
def reporting_share(low: float, high: float) -> Iterator[None]:
    """Conversions inside this block move ``low``–``high`` of the bar :func:`reporting` set: one load that makes
    several conversions (a UNet, then the pipeline's other parts) moves the bar through each in turn."""
    report = _REPORT.get()
    if report is None:
        yield
        return
    progress, title = report
    with reporting(sub_range(progress, low, high), title):
        yield


def conversion_fraction(elapsed: float, estimate: float) -> float:
    """The bar's fraction ``elapsed`` seconds into a conversion estimated at ``estimate`` s: always growing,
    always under 0.95 (a conversion that outlasts its estimate must not look finished)."""
    if elapsed < estimate:
        return 0.9 * elapsed / estimate
    return 0.9 + 0.05 * (1 - estimate / elapsed)


def estimate_seconds(root: Path, parameters: int) -> float:
    """How long converting a model of ``parameters`` should take: at the median rate (seconds per parameter) of
    the conversions recorded in ``root`` (:data:`TIMES_FILE`), else at :data:`DEFAULT_SECONDS_PER_MILLION`."""
    rates = [run["seconds"] / run["parameters"] for run in _recorded_times(root)]
    rate = statistics.median(rates) if rates else DEFAULT_SECONDS_PER_MILLION / 1e6
    return max(MIN_ESTIMATE_S, rate * parameters)


def _recorded_times(root: Path) -> list[dict[str, float]]:
    try:
        runs = json.loads((root / TIMES_FILE).read_text())["runs"]
        return [run for run in runs if run["parameters"] > 0 and run["seconds"] > 0]
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: the default rate
        return []


def _record_time(root: Path, parameters: int, seconds: float) -> None:
    """Add one conversion's time to ``root``'s record (the last :data:`TIMES_KEPT`), written whole."""
    runs = [*_recorded_times(root), {"parameters": int(parameters), "seconds": round(seconds, 2)}][-TIMES_KEPT:]
    scratch = root / f".{TIMES_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        scratch.write_text(json.dumps({"runs": runs}, indent=1))
        os.replace(scratch, root / TIMES_FILE)
    except OSError as err:  # the conversion is saved; only the next estimate is the default
        log.warning("could not record the conversion time in %s: %s", root, err)
        scratch.unlink(missing_ok=True)


@contextlib.contextmanager
def _ticking(root: Path, parameters: int) -> Iterator[None]:
    """Report the progress of a conversion of a model of ``parameters`` whose times ``root`` records
    (:func:`reporting`) while the block runs; the thread is gone afterwards. Nothing is read without a bar."""
    report = _REPORT.get()
    if report is None or parameters <= 0:
        yield
        return
    progress, title = report
    estimate = estimate_seconds(root, parameters)
    stop = threading.Event()
    began = time.monotonic()

    def tick() -> None:
        elapsed = 0.0  # the first line: the whole estimate, whenever this thread gets to run
        while True:
            left = estimate - elapsed
            try:
                progress(conversion_fraction(elapsed, estimate), lines.converting(title, left if left > 0 else None))
            except (Exception, Cancelled) as err:
                log.info("conversion progress stopped (%s); the conversion goes on", type(err).__name__)
                return
            if stop.wait(TICK_S):
                return
            elapsed = time.monotonic() - began

    # In a copy of this context: Gradio's progress tracker finds its request through context variables.
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(tick,), name="mmdemo-conversion-progress", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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
