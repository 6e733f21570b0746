"""Whisper on the CPU through CTranslate2 int8 (the CPU fast path of the ``asr`` role).

The configured transformers Whisper folder (any size, a fine-tune too: nothing more is downloaded) is
converted once by CTranslate2's own ``TransformersConverter`` (it works with transformers 5.24) into an
int8 model that faster-whisper runs. Measured on 2 cores with the real Whisper tiny.en weights
(``benchmarks/whisper_cpu.py``): 0.4–0.8× the time of the transformers float32 path, with an equal or
lower word error rate (how it decodes: ``mmdemo.tasks.transcription._ctranslate2_runtime``).

* **Cache.** ``<models--org--name>/mmdemo-ctranslate2/<key>/`` in the Hugging Face cache (outside
  ``snapshots/``, so the cache layout stays intact and deleting the model deletes its conversion), else
  ``<model folder>/ctranslate2/<key>/``, else — read-only folders — ``~/.cache/mmdemo/ctranslate2/``
  (``MMDEMO_CT2_CACHE`` sets that root for every model; the tests point it at a temporary folder).
* **The key** is the model's revision (the snapshot's commit hash, else a hash of its files' names, sizes
  and mtimes, so replaced weights get a new conversion), the quantization and CTranslate2's version.
* **Two processes** never write the same folder: a file lock around the conversion, then a temporary
  folder renamed into place when complete, so a half-written model is never read.
* **Beside the weights** the folder gets ``tokenizer.json`` and ``preprocessor_config.json``: faster-whisper
  would otherwise download the tokenizer from the Hub and assume 80 mel bins (large-v3 has 128).
* **Fallback**: faster-whisper or CTranslate2 missing, a model that is not Whisper, or a failed conversion
  load the transformers model instead, say why in ``LoadedModel.precision`` and log a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .specs import LoadedModel

log = logging.getLogger(__name__)

CACHE_ENV = "MMDEMO_CT2_CACHE"
"""When set: the root of every model's CTranslate2 cache."""
QUANTIZATION = "int8"
"""Weights and matrix products in int8: the fastest CTranslate2 CPU mode, and as accurate as float32 here."""
FORMAT = 1
"""Bump when what is saved changes: old caches are then ignored, not misread."""
META = "mmdemo-ct2.json"
CONVERSION_LOCK_TIMEOUT_S = 1800
FEATURE_KEYS = ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft")
"""What faster-whisper's feature extractor reads from ``preprocessor_config.json``."""
PRECISION = f"{QUANTIZATION} (CTranslate2)"
"""What the Models panel shows for the converted model."""


def cpu_threads() -> int:
    """Threads for CTranslate2: as many as torch uses (the cores). CTranslate2's own default is 4, which
    oversubscribes small machines: on 2 cores it made a 35 s clip 1.2× and a fallback-heavy one 1.9× slower."""
    try:
        import torch

        return max(1, torch.get_num_threads())
    except ImportError:
        return max(1, min(4, os.cpu_count() or 1))


# ------------------------------------------------------------------------------------ the cache


def _hf_snapshot(folder: Path) -> bool:
    return folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--")


def model_revision(folder: Path) -> str:
    """The snapshot's commit hash in the Hugging Face cache; elsewhere a hash of the folder's files (names,
    sizes, mtimes)."""
    folder = Path(folder)
    if _hf_snapshot(folder):
        return folder.name
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_key(folder: Path, quantization: str = QUANTIZATION) -> str:
    """Folder name of one conversion: revision, quantization, CTranslate2 version, format."""
    import ctranslate2

    return f"whisper-{model_revision(folder)[:16]}-{quantization}-ct2-{ctranslate2.__version__}-f{FORMAT}"


def _writable(path: Path) -> bool:
    """Whether ``path`` (or the nearest existing folder above it) accepts new files."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def cache_root(folder: Path) -> Path:
    """Where ``folder``'s conversions live (see the module doc): beside the model when writable."""
    folder = Path(folder).absolute()
    tag = f"{(folder.parent.parent if _hf_snapshot(folder) else folder).name[:60]}"
    tag += f"-{hashlib.sha256(str(folder).encode()).hexdigest()[:10]}"
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser() / tag
    beside = folder.parent.parent / "mmdemo-ctranslate2" if _hf_snapshot(folder) else folder / "ctranslate2"
    if _writable(beside):
        return beside
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mmdemo" / "ctranslate2" / tag


def _is_complete(target: Path) -> bool:
    return all((target / name).is_file() for name in ("model.bin", "config.json", "tokenizer.json", META))


@contextlib.contextmanager
def _conversion_lock(root: Path, key: str) -> Iterator[None]:
    """One conversion of ``key`` at a time across processes (the loser then reads the winner's model)."""
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f".{key}.lock"), timeout=CONVERSION_LOCK_TIMEOUT_S):
        yield


def converted_whisper(
    folder: Path, quantization: str = QUANTIZATION, convert: Callable[[Path, Path, str], None] | None = None
) -> tuple[Path, bool]:
    """The CTranslate2 folder of the transformers Whisper in ``folder``, converting it first when it is not
    cached; returns (folder, whether it converted now). ``convert(source, target, quantization)`` defaults to
    :func:`convert_whisper`."""
    folder = Path(folder)
    root = cache_root(folder)
    key = cache_key(folder, quantization)
    target = root / key
    if _is_complete(target):
        return target, False
    with _conversion_lock(root, key):
        if _is_complete(target):  # another process converted it while this one waited
            return target, False
        scratch = root / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        scratch.mkdir(parents=True)
        try:
            (convert or convert_whisper)(folder, scratch, quantization)
            shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover
            os.replace(scratch, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target, True


def convert_whisper(source: Path, target: Path, quantization: str = QUANTIZATION) -> None:
    """Convert the transformers Whisper in ``source`` into ``target`` (an existing, empty folder)."""
    from ctranslate2.converters import TransformersConverter

    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "whisper":
        raise ValueError(f"not a Whisper model (model_type {config.get('model_type')!r})")
    log.info("converting %s to CTranslate2 (%s); this happens once", source, quantization)
    began = time.perf_counter()
    TransformersConverter(str(source), low_cpu_mem_usage=True).convert(
        str(target), quantization=quantization, force=True
    )
    _write_tokenizer_and_features(source, target)
    meta = {"format": FORMAT, "quantization": quantization, "source": str(source)}
    meta["convert_seconds"] = round(time.perf_counter() - began, 1)
    (target / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.info("converted to CTranslate2 in %.1f s: %s", meta["convert_seconds"], target)


def _write_tokenizer_and_features(source: Path, target: Path) -> None:
    """``tokenizer.json`` and ``preprocessor_config.json`` for faster-whisper, from transformers' own reading
    of ``source`` (a folder may hold only ``vocab.json``/``merges.txt`` or a combined ``processor_config.json``)."""
    from transformers import AutoFeatureExtractor, AutoTokenizer

    if (source / "tokenizer.json").is_file():
        shutil.copyfile(source / "tokenizer.json", target / "tokenizer.json")
    else:
        AutoTokenizer.from_pretrained(source).backend_tokenizer.save(str(target / "tokenizer.json"))
    extractor = AutoFeatureExtractor.from_pretrained(source)
    features = {key: getattr(extractor, key) for key in FEATURE_KEYS if hasattr(extractor, key)}
    (target / "preprocessor_config.json").write_text(json.dumps(features, indent=1), encoding="utf-8")


# ------------------------------------------------------------------------------- the loader


def load_faster_whisper(folder: Path) -> Any:
    """faster-whisper's ``WhisperModel`` on the CTranslate2 folder ``folder``, int8 on the CPU."""
    from faster_whisper import WhisperModel

    return WhisperModel(str(folder), device="cpu", compute_type=QUANTIZATION, cpu_threads=cpu_threads())


def load_whisper(folder: Path, dtype: Any, fallback: Callable[[Path, Any], LoadedModel]) -> LoadedModel:
    """The Whisper in ``folder`` as a faster-whisper model on its cached int8 conversion; on any failure the
    transformers ``fallback`` loader's model, with why in ``precision`` (see the module doc)."""
    folder = Path(folder)
    try:
        target, converted = converted_whisper(folder)
        began = time.perf_counter()
        model = load_faster_whisper(target)
    except Exception as err:
        log.warning(
            "CTranslate2 conversion failed for %s: %s: %s; using transformers", folder, type(err).__name__, err,
            exc_info=err,
        )  # fmt: skip
        loaded = fallback(folder, dtype)
        loaded.precision = f"{str(dtype).removeprefix('torch.')} (transformers: CTranslate2 conversion failed)"
        return loaded
    how = "converted and loaded" if converted else "loaded from the cache"
    log.info("CTranslate2 Whisper %s (%s) in %.1f s", how, target, time.perf_counter() - began)
    return LoadedModel(model=model, precision=PRECISION)
