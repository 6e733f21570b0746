"""The model manager: loads models by role, keeps them within the memory budgets and reports what is where,
composing the parts of the model layer that know about devices, dtypes and memory:
:mod:`.device` (which device and dtype, the budgets, moving models), :mod:`.sizes` (bytes from files and
modules), :mod:`.locks` (fair run locks, one build at a time) and :mod:`.cache` (the books and eviction).

Contract for callers::

    with manager.use("captioner", progress) as handle:   # loads lazily, pins, inference mode
        batch = handle.prepare(handle.processor(images=…, return_tensors="pt"))
        out = handle.model.generate(**batch)

* A role is loaded once, even when many requests ask for it at the same time.
* A model in use (pinned) is never moved or dropped under its request.
* When a load would exceed the budget of its memory *tier* (GPU memory on CUDA, RAM on CPU),
  the least recently used idle models make room: GPU → CPU (if the offload budget allows) →
  dropped, followed by ``gc.collect()`` and ``torch.cuda.empty_cache()``.
* One request at a time runs on a given model (processors/tokenizers are not thread-safe);
  different models run in parallel.
* Every load failure is a :class:`~mmdemo.errors.ModelUnavailableError` naming the model.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MemoryBudgetError, MMDemoError, ModelUnavailableError
from ..messages import Message
from ..model_ids import public_model_id
from ..progress import ProgressFn, sub_range
from ..settings import Settings
from . import progress_lines as lines
from .cache import Entry, ModelCache
from .conversion import reporting, unet_weights
from .device import (
    Accelerator,
    compute_budgets,
    cpu_native_bf16,
    known_device_type,
    resolve_device,
    resolve_dtype,
    total_ram_bytes,
)
from .hub import how_to_provide, resolve_model_folder, source_of
from .locks import LOADING, FairLock
from .sizes import GiB, estimate_weight_bytes, loaded_weight_files, module_bytes, part_bytes
from .specs import SPECS
from .types import Availability, LoadedModel, ModelHandle, ModelSpec, ModelStatus

__all__ = [  # what callers name from here: the manager, and the parts it composes
    "NATIVE_DTYPE",
    "Accelerator",
    "Availability",
    "FairLock",
    "GiB",
    "ModelHandle",
    "ModelManager",
    "ModelStatus",
    "ProgressFn",
    "compute_budgets",
    "cpu_native_bf16",
    "device_name",
    "estimate_weight_bytes",
    "loaded_weight_files",
    "model_name",
    "module_bytes",
    "part_bytes",
    "resolve_device",
    "resolve_dtype",
    "total_ram_bytes",
]

log = logging.getLogger(__name__)

NATIVE_DTYPE = "own runtime"
"""Status-panel dtype of CPU-only models (ONNX …): their runtime picks the precision, not torch."""


class ModelManager:
    """Loads models by role, keeps them within a memory budget and reports what is where.

    Memory policy (one owner: here). A model's size is estimated from the files its loader reads, plus the
    activation memory its spec declares. It runs on the compute device when that fits the device budget
    after evicting idle models (GPU → CPU RAM while the offload budget allows → dropped). A model whose spec
    can run with CPU offload and that does not fit whole runs offloaded: its largest part (plus activations)
    is counted on the device, the rest in RAM. Anything else that does not fit is refused with a clear error.

    Locks: the books (:class:`~.cache.ModelCache`) have their own condition, never held while tensors move.
    One loader per role; other requests for it wait (at most ``load_wait_s``). Builds are serialised
    process-wide (:data:`~.locks.LOADING`).
    """

    def __init__(
        self, settings: Settings, specs: Mapping[str, ModelSpec] | None = None, accelerator: Accelerator | None = None
    ) -> None:
        self.settings = settings
        self.specs: dict[str, ModelSpec] = dict(SPECS if specs is None else specs)
        self._cache = ModelCache(lambda: self.accelerator, settings.evict_wait_s)
        self._entries = self._cache.entries
        """Role → its entry in the books (read by tests and benchmarks)."""
        self._role_locks: dict[str, threading.Lock] = {role: threading.Lock() for role in self.specs}
        self._accelerator = accelerator
        self._accelerator_lock = threading.Lock()
        self.load_wait_s = 1800.0
        """How long a request waits for another request's load of the same model (a large download)."""
        self.problems: dict[str, str] = {}
        """Role → why its last load failed and how to fix it (operator detail, for the Models panel)."""
        self.load_count: dict[str, int] = {role: 0 for role in self.specs}
        """How many times each role was built from its files (tests check loads happen once)."""
        self._imports_done = threading.Event()
        self._imports_done.set()  # cleared while warm_imports() runs

    # ----------------------------------------------------------------- device, dtype, budgets
    @property
    def accelerator(self) -> Accelerator:
        """Resolved once, under a lock, and published whole (a second thread never sees half of it)."""
        if self._accelerator is None:
            with self._accelerator_lock:
                if self._accelerator is None:
                    self._accelerator = Accelerator.from_settings(self.settings)
        return self._accelerator

    @property
    def device(self) -> Any:
        return self.accelerator.device

    @property
    def device_type(self) -> str:
        """``cuda``, ``mps`` or ``cpu``: what picks default models and caps a step, known without importing
        torch where the host tells it (:func:`~.device.known_device_type`), else the resolved device's."""
        if self._accelerator is None and self._host_device_type is not None:
            return self._host_device_type
        return str(self.device.type)

    @functools.cached_property
    def _host_device_type(self) -> str | None:
        """:func:`~.device.known_device_type` of the settings' device, read off the host once (the UI asks often)."""
        return known_device_type(self.settings.device)

    @property
    def dtype(self) -> Any:
        return self.accelerator.dtype

    @property
    def compute_tier(self) -> str:
        return self.accelerator.tier

    @property
    def budgets(self) -> dict[str, int]:
        return dict(self.accelerator.budgets)

    # ----------------------------------------------------------------------------- public API
    def spec(self, role: str) -> ModelSpec:
        try:
            return self.specs[role]
        except KeyError:
            raise MMDemoError(f"Unknown model role {role!r}; known roles: {', '.join(self.specs)}.") from None

    def model_id(self, role: str) -> str:
        """The model configured for ``role``, else the spec's default for this device type."""
        return self.settings.model_for(role) or self.spec(role).default_for(self.device_type)

    @contextmanager
    def use(self, role: str, progress: ProgressFn | None = None) -> Iterator[ModelHandle]:
        """Load (if needed), pin and yield ``role``'s model in inference mode; unpin afterwards."""
        import torch

        entry = self._acquire(role, progress)
        try:
            with entry.run_lock, torch.inference_mode():
                assert entry.loaded is not None
                on_cpu = entry.spec.cpu_only
                yield ModelHandle(
                    role=role,
                    model_id=entry.model_id,
                    model=entry.loaded.model,
                    processor=entry.loaded.processor,
                    device=torch.device("cpu") if on_cpu else self.device,
                    dtype=torch.float32 if on_cpu else self.dtype,
                )
        finally:
            self._cache.release(entry)

    def preload(self, roles: Iterable[str], background: bool = True) -> threading.Thread | None:
        """Load ``roles`` now (``all`` = every role); failures are logged, never raised."""
        roles = list(self.specs) if "all" in roles else [r for r in roles]

        def run() -> None:
            for role in roles:
                try:
                    with self.use(role):
                        pass
                    log.info("preloaded %s (%s)", role, self.model_id(role))
                except MMDemoError as err:
                    log.warning("preload of %s failed: %s", role, err.detail)

        if not background:
            run()
            return None
        thread = threading.Thread(target=run, name="mmdemo-preload", daemon=True)
        thread.start()
        return thread

    def warm_imports(self) -> threading.Thread:
        """Import torch and the loaders' libraries in the background.

        Importing them takes seconds, most of a cold first request on a small model; doing it while the
        UI is already being served (and nobody has asked for a model yet) takes that off the first request.
        A load that starts meanwhile waits for it to finish: half-imported, transformers' lazy module
        lacks attributes (``AutoProcessor``) in other threads.
        """
        names = dict.fromkeys(["torch", *(name for spec in self.specs.values() for name in spec.imports)])

        def run() -> None:
            started = time.perf_counter()
            try:
                for name in names:
                    module, _, attr = name.partition(":")
                    try:
                        imported = importlib.import_module(module)
                        if attr:
                            getattr(imported, attr)  # lazy modules (transformers) import on attribute access
                    except Exception as err:  # a broken install shows up, with its traceback, when used
                        log.warning("background import of %s failed: %s", name, err)
                log.info("imported %s in %.1f s", ", ".join(names), time.perf_counter() - started)
            finally:
                self._imports_done.set()

        self._imports_done.clear()
        thread = threading.Thread(target=run, name="mmdemo-imports", daemon=True)
        thread.start()
        return thread

    def unload(self, role: str) -> bool:
        """Drop ``role`` if it is loaded and idle. Returns whether it was dropped."""
        return self._cache.unload(role)

    def status(self) -> list[ModelStatus]:
        """One row per role: loaded or not, where, how big, and where its files would come from."""
        rows = []
        with self._cache.cond:
            entries = {role: (e, e.state, e.tier, e.bytes + e.host_bytes, e.pins) for role, e in self._entries.items()}
        for role, spec in self.specs.items():
            entry, state, tier, size, pins = entries.get(role, (None, "not loaded", None, 0, 0))
            model_id = entry.model_id if entry else self.model_id(role)
            dtype = NATIVE_DTYPE if spec.cpu_only else str(self.dtype).removeprefix("torch.")
            if entry is not None and entry.loaded is not None and entry.loaded.precision:
                dtype = entry.loaded.precision
            device = f"{tier} (CPU offload)" if entry is not None and entry.cpu_offload else tier
            rows.append(
                ModelStatus(
                    role=role,
                    title=spec.title,
                    model_id=model_id,
                    state=state,
                    device=device,
                    dtype=dtype if entry else None,
                    bytes=size,
                    last_used=entry.last_used_wall if entry else None,
                    in_use=pins,
                    source=self.source_of(model_id),
                    problem=self.problems.get(role, ""),
                )
            )
        return rows

    def availability(self, role: str) -> Availability:
        """Can ``role``'s model be used here? From :meth:`source_of` (no network) and the last load's
        failure, if any: a failed load leaves the model usable (the next request tries again) but says why."""
        spec = self.spec(role)
        model_id = self.model_id(role)
        source = self.source_of(model_id)
        usable = not source.startswith("missing")
        detail = self.problems.get(role, "")
        if not usable and not detail:
            reason = {
                "missing (offline)": "it is not on this machine and offline mode is on.",
                "missing folder": "that folder does not exist.",
                "missing package": "the Python package that carries it is not installed.",
            }.get(source, source)
            detail = ModelUnavailableError(role, model_id, reason, how_to_provide(role, model_id)).detail
        public = public_model_id(model_id)
        return Availability(
            role=role,
            title=spec.title,
            model_id=public,
            usable=usable,
            downloads=source.startswith("Hub") and not detail,  # tried and failed: no longer "downloads on first use"
            detail=detail.replace(model_id, public),  # shown to visitors (folded): no server paths
        )

    def batch_size(self, role: str, item_bytes: int, maximum: int = 32) -> int:
        """How many items ``role``'s model may take in one batch: the memory left on its tier (budget minus the
        models there, minus the spec's own activation reserve) over ``item_bytes``, between 1 and ``maximum``.

        ``item_bytes``: the working memory one item needs in float32 (scaled here to the model's precision).
        Ask while the model is in use (inside ``use(role)``), so that its own weights are counted."""
        spec = self.spec(role)
        tier = self._home_tier(spec)
        element_size = 4 if spec.cpu_only else self.dtype.itemsize
        per_item = max(1, int(item_bytes) * element_size // 4)
        free = self.budgets.get(tier, 0) - self._cache.usage(tier) - spec.activation_bytes
        return max(1, min(int(maximum), free // per_item))

    def memory_usage(self) -> dict[str, tuple[int, int]]:
        """Tier → (bytes used by models, budget)."""
        with self._cache.cond:
            return {tier: (self._cache.usage(tier), budget) for tier, budget in self.budgets.items()}

    def source_of(self, model_id: str) -> str:
        """Where ``model_id``'s files would be read from, without touching the network (:func:`.hub.source_of`)."""
        return source_of(model_id, self.settings)

    # ------------------------------------------------------------------------------ internals
    def _acquire(self, role: str, progress: ProgressFn | None) -> Entry:
        spec = self.spec(role)
        lock = self._role_locks[role]
        if not lock.acquire(timeout=self.load_wait_s):  # one loader per role; others wait here
            raise MemoryBudgetError(
                Message("model.still_loading"),
                detail=f"{role} has been loading for over {self.load_wait_s:g} s (a slow download or a hung load).",
            )
        try:
            entry = self._cache.pin(role)
            if entry is None:
                return self._load(role, spec, progress)
            if entry.tier == self._home_tier(spec) or entry.cpu_offload:
                return entry
            return self._bring_back(entry, progress)
        finally:
            lock.release()

    def _load(self, role: str, spec: ModelSpec, progress: ProgressFn | None) -> Entry:
        try:
            entry = self._load_unchecked(role, spec, progress)
        except ModelUnavailableError as err:
            err.title = spec.title
            self.problems[role] = err.detail  # the caller logs it, once
            raise
        self.problems.pop(role, None)
        return entry

    def _plan(self, spec: ModelSpec, folder: Path) -> tuple[str, int, int, bool]:
        """Where a model will live: (tier, bytes there, bytes on the host tier, CPU offload?)."""
        element_size = self.dtype.itemsize
        weights = estimate_weight_bytes(folder, element_size)
        tier = self._home_tier(spec)
        if tier == "cpu":
            return tier, weights, 0, False
        whole = weights + spec.activation_bytes
        budget = self.budgets.get(tier, 0)
        if whole > budget and spec.offload is not None and self.accelerator.has_host_tier:
            return tier, part_bytes(folder, element_size) + spec.activation_bytes, weights, True
        return tier, whole, 0, False

    def _load_unchecked(self, role: str, spec: ModelSpec, progress: ProgressFn | None) -> Entry:
        model_id = self.model_id(role)
        # transformers' lazy module is not safe to use from a second thread while it is being imported.
        self._imports_done.wait()
        _notify(progress, 0.0, lines.loading(spec.title))

        def downloading(model: str) -> None:  # the visitor reads the model's title, the operator its id
            log.info("downloading %s (%s) from the Hugging Face Hub", role, model)
            _notify(progress, 0.05, lines.downloading(spec.title))

        folder = resolve_model_folder(role, model_id, self.settings, spec.allow_patterns, on_download=downloading)
        tier, size, host_size, offload = self._plan(spec, folder)
        entry = Entry(spec=spec, model_id=model_id, tier=tier, bytes=size, pins=1, host_bytes=host_size)
        entry.cpu_offload = offload
        self._cache.reserve(role, entry)
        started = time.perf_counter()
        loaded: LoadedModel | None = None
        failure: BaseException | None = None
        try:
            loader = spec.loader
            fast = spec.cpu_fast_loader
            if spec.cpu_int8_loader is not None and self.settings.cpu_int8:
                fast = spec.cpu_int8_loader
            if tier == "cpu" and fast is not None and self.settings.cpu_fast_path:
                loader = fast
                _notify(progress, 0.3, lines.reading(spec.title, fast=True))
            else:
                _notify(progress, 0.3, lines.reading(spec.title))
            # One model built at a time in the whole process (see locks.LOADING); a conversion it starts (OpenVINO)
            # moves this request's bar between "reading" and "ready" (conversion.reporting); a diffusion UNet's is
            # made in the form the settings ask for (conversion.unet_weights).
            bar = reporting(sub_range(progress, 0.3, 0.8), spec.title)
            with LOADING, bar, unet_weights(self.settings.cpu_unet_weights):
                loaded = loader(folder, self.dtype)
            if tier == "cpu":
                self._cache.resize(entry, module_bytes(loaded.model) or size)  # not torch (ONNX …): its files' size
            else:
                _notify(progress, 0.8, lines.moving(spec.title, tier, offload=offload))
                if offload:
                    self.accelerator.place_offloaded(spec, loaded.model)
                else:
                    self.accelerator.place(spec, loaded.model)
        except BaseException as err:
            failure = err
        if failure is not None:
            # Free what the failed load built before reporting it: the local, and the frames of the traceback
            # (the loader's locals hold the model too), or gc could not release a multi-GB half-built model.
            loaded = None
            import traceback

            traceback.clear_frames(failure.__traceback__)
            self._cache.discard(role)
            self.accelerator.free()
            if isinstance(failure, MMDemoError) or not isinstance(failure, Exception):
                raise failure
            raise ModelUnavailableError(
                role,
                model_id,
                f"loading its files failed ({type(failure).__name__}: {_first_line(failure)}).",
                "The download may be incomplete or corrupt: " + how_to_provide(role, model_id),
            ) from failure
        assert loaded is not None
        with self._cache.cond:
            self._cache.ready(entry, loaded)
            self.load_count[role] = self.load_count.get(role, 0) + 1
        log.info(
            "loaded %s (%s) on %s%s in %.2fs, %.1f MB",
            role,
            model_id,
            tier,
            " with CPU offload" if offload else "",
            time.perf_counter() - started,
            (entry.bytes + entry.host_bytes) / 2**20,
        )
        _notify(progress, 1.0, lines.ready(spec.title))
        return entry

    def _bring_back(self, entry: Entry, progress: ProgressFn | None) -> Entry:
        """Move an offloaded (CPU) copy back to the compute device. The entry is already pinned."""
        _notify(progress, 0.5, lines.moving(entry.spec.title, self.compute_tier, back=True))
        self._cache.move_home(entry, self.compute_tier)
        return entry

    def _home_tier(self, spec: ModelSpec) -> str:
        """Where ``spec``'s model lives when in use: the compute device, or RAM for CPU-only models."""
        return "cpu" if spec.cpu_only and "cpu" in self.budgets else self.compute_tier


def _notify(progress: ProgressFn | None, fraction: float, line: lines.Line) -> None:
    """``line`` to ``progress``: English text that the page renders in the visitor's language (a keyed line)."""
    if progress is not None:
        progress(fraction, line)


def _first_line(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    return text[:200]


def model_name(spec: ModelSpec) -> str:
    """How progress messages name a role's model: "image captioning model", "CLIP image–text score model"
    (a leading acronym keeps its case). Never its folder: messages show the public id beside it at most."""
    return f"{lines.MidSentence(spec.title)} model"


def device_name(tier: str) -> str:
    """A device tier as users read it: ``cuda:0`` → "the GPU", ``mps`` → "the GPU (Apple)", ``cpu`` → "the CPU"."""
    return str(lines.device_word(tier))
