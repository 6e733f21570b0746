"""Whisper on the CPU through CTranslate2 int8 (the CPU fast path of the ``asr`` role).

The configured transformers Whisper folder (any size, a fine-tune too: nothing more is downloaded) is
converted once by CTranslate2's own ``TransformersConverter`` (it works with transformers 5.24) into an
int8 model that faster-whisper runs. Measured on 2 cores of an Intel Xeon with the real Whisper tiny.en weights
(``benchmarks/whisper_cpu.py``), with the decoding the app chose for accuracy (beam search; see
``mmdemo.tasks.transcription._ctranslate2_runtime``): 0.66× the time of the transformers float32 path on short
clips, 1.25–1.37× on long speech, at a much lower word error rate there (9.0 % against 15.2–16.7 %).

* **Cache.** :class:`~.conversion.ConversionCache`: ``<models--org--name>/mmdemo-ctranslate2/<key>/`` in the
  Hugging Face cache, else ``<model folder>/ctranslate2/<key>/``, else the user cache (``MMDEMO_CT2_CACHE``
  sets that root for every model; the tests point it at a temporary folder).
* **The key** is the model's revision (the snapshot's commit hash, else a hash of its files' names, sizes
  and mtimes, so replaced weights get a new conversion), the quantization and CTranslate2's version.
* **Beside the weights** the folder gets ``tokenizer.json`` and ``preprocessor_config.json``: faster-whisper
  would otherwise download the tokenizer from the Hub and assume 80 mel bins (large-v3 has 128).
* **Decoding is bounded by the model's own limit** (:func:`max_decoding_length`): faster-whisper assumes 448
  tokens, the size of real Whisper's position table, and CTranslate2 fails at run time on a model with fewer
  ("No position encodings are defined for positions >= 64").
* **Fallback at load time**: faster-whisper or CTranslate2 missing, a model that is not Whisper, or a failed
  conversion load the transformers model instead, say why in ``LoadedModel.precision`` and log a warning.
* **Fallback at run time**: the loaded model carries a :class:`TransformersFallback` (as its processor); when
  CTranslate2 fails on a recording, the transcription task loads the transformers model through it, which
  takes the CTranslate2 model's place for later requests too, with why in the Models panel.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conversion import ConversionCache, dtype_name, revision
from .locks import LOADING
from .types import LoadedModel

log = logging.getLogger(__name__)

META = "mmdemo-ct2.json"
CACHE = ConversionCache("ctranslate2", "MMDEMO_CT2_CACHE", ("model.bin", "config.json", "tokenizer.json", META))
CACHE_ENV = CACHE.env
"""When set: the root of every model's CTranslate2 cache."""
QUANTIZATION = "int8"
"""Weights and matrix products in int8: the fastest CTranslate2 CPU mode, and as accurate as float32 here."""
FORMAT = 1
"""Bump when what is saved changes: old caches are then ignored, not misread."""
FEATURE_KEYS = ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft")
"""What faster-whisper's feature extractor reads from ``preprocessor_config.json``."""
PRECISION = f"{QUANTIZATION} (CTranslate2)"
"""What the Models panel shows for the converted model."""
WHISPER_MAX_LENGTH = 448
"""Tokens real Whisper decodes per window at most (its position table), faster-whisper's fixed assumption."""


def cpu_threads() -> int:
    """Threads for CTranslate2: as many as torch uses (the cores). CTranslate2's own default is 4, which
    oversubscribes small machines: on 2 cores it made a 35 s clip 1.2× and a fallback-heavy one 1.9× slower."""
    try:
        import torch

        return max(1, torch.get_num_threads())
    except ImportError:
        return max(1, min(4, os.cpu_count() or 1))


# ------------------------------------------------------------------------------------ the cache


def model_revision(folder: Path) -> str:
    """The snapshot's commit hash in the Hugging Face cache; elsewhere a hash of the folder's files."""
    return revision(folder, Path(folder).iterdir())


def cache_key(folder: Path, quantization: str = QUANTIZATION) -> str:
    """Folder name of one conversion: revision, quantization, CTranslate2 version, format."""
    import ctranslate2

    return f"whisper-{model_revision(folder)[:16]}-{quantization}-ct2-{ctranslate2.__version__}-f{FORMAT}"


def cache_root(folder: Path) -> Path:
    """Where ``folder``'s conversions live (:class:`~.conversion.ConversionCache`)."""
    return CACHE.root(folder)


def converted_whisper(
    folder: Path, quantization: str = QUANTIZATION, convert: Callable[[Path, Path, str], None] | None = None
) -> tuple[Path, bool]:
    """The CTranslate2 folder of the transformers Whisper in ``folder``, converting it first when it is not
    cached; returns (folder, whether it converted now). ``convert(source, target, quantization)`` defaults to
    :func:`convert_whisper`."""
    folder = Path(folder)
    return CACHE.get(
        folder, cache_key(folder, quantization), lambda out: (convert or convert_whisper)(folder, out, quantization)
    )


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


def max_decoding_length(max_target_positions: int | None, max_length: int | None) -> int:
    """The most tokens (the prompt included) a Whisper model may decode per window: its position table's size
    (``config.max_target_positions``), or its generation config's ``max_length`` when that is smaller."""
    limits = [int(n) for n in (max_target_positions, max_length) if n]
    return min(limits, default=WHISPER_MAX_LENGTH)


def folder_decoding_length(folder: Path) -> int:
    """:func:`max_decoding_length` of the transformers Whisper in ``folder``, from its JSON files."""

    def read(name: str, key: str) -> int | None:
        path = Path(folder) / name
        return json.loads(path.read_text(encoding="utf-8")).get(key) if path.is_file() else None

    return max_decoding_length(
        read("config.json", "max_target_positions"), read("generation_config.json", "max_length")
    )


def load_faster_whisper(folder: Path, max_length: int = WHISPER_MAX_LENGTH) -> Any:
    """faster-whisper's ``WhisperModel`` on the CTranslate2 folder ``folder``, int8 on the CPU, decoding at most
    ``max_length`` tokens per window."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(folder), device="cpu", compute_type=QUANTIZATION, cpu_threads=cpu_threads())
    model.max_length = max_length  # faster-whisper's own bound (prompt included), fixed at 448 otherwise
    return model


class TransformersFallback:
    """The transformers model behind a CTranslate2 one, loaded only if CTranslate2 fails at run time.

    :meth:`switch` loads it once and puts it in place of the CTranslate2 model in the record the manager keeps
    (``record``): later requests get it, and the Models panel says why. The manager counted the transformers
    weights' size for the CTranslate2 model already (its files' estimate), so the memory budget still holds.
    """

    REASON = "CTranslate2 failed at run time"

    def __init__(self, folder: Path, dtype: Any, loader: Callable[[Path, Any], LoadedModel]) -> None:
        self.folder, self.dtype, self.loader = Path(folder), dtype, loader
        self.record: LoadedModel | None = None
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()

    def switch(self) -> LoadedModel:
        """The transformers model (loaded on the first call), now in the record's place."""
        with self._lock:
            if self._loaded is None:
                with LOADING:  # the process-wide build lock the manager holds for every load (models.locks)
                    loaded = self.loader(self.folder, self.dtype)
                loaded.precision = f"{dtype_name(self.dtype)} (transformers: {self.REASON})"
                if self.record is not None:
                    self.record.model, self.record.processor = loaded.model, loaded.processor
                    self.record.precision = loaded.precision
                self._loaded = loaded
            return self._loaded


def load_whisper(folder: Path, dtype: Any, fallback: Callable[[Path, Any], LoadedModel]) -> LoadedModel:
    """The Whisper in ``folder`` as a faster-whisper model on its cached int8 conversion, with the ``fallback``
    loader (transformers) for run-time failures; on any failure here that loader's model, with why in
    ``precision`` (see the module doc)."""
    folder = Path(folder)
    try:
        target, converted = converted_whisper(folder)
        began = time.perf_counter()
        model = load_faster_whisper(target, folder_decoding_length(folder))
    except Exception as err:
        log.warning(
            "CTranslate2 conversion failed for %s: %s: %s; using transformers", folder, type(err).__name__, err,
            exc_info=err,
        )  # fmt: skip
        loaded = fallback(folder, dtype)
        loaded.precision = f"{dtype_name(dtype)} (transformers: CTranslate2 conversion failed)"
        return loaded
    how = "converted and loaded" if converted else "loaded from the cache"
    log.info("CTranslate2 Whisper %s (%s) in %.1f s", how, target, time.perf_counter() - began)
    backup = TransformersFallback(folder, dtype, fallback)
    backup.record = LoadedModel(model=model, processor=backup, precision=PRECISION)
    return backup.record
