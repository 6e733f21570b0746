"""The model manager: the only code that knows about devices, dtypes and memory.

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

import collections
import gc
import importlib
import json
import logging
import os
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MemoryBudgetError, MMDemoError, ModelUnavailableError
from ..settings import Settings
from .hub import (
    how_to_provide,
    is_packaged,
    looks_like_path,
    packaged_folder,
    prefetch_folder,
    public_model_id,
    resolve_model_folder,
)
from .specs import SPECS, LoadedModel, ModelSpec

log = logging.getLogger(__name__)

GiB = 1024**3
NATIVE_DTYPE = "own runtime"
"""Status-panel dtype of CPU-only models (ONNX …): their runtime picks the precision, not torch."""
ProgressFn = Callable[[float, str], None]
_LOADING = threading.Lock()
"""Held while any model is being built from its files. Loaders patch process-wide state while they build
(accelerate's ``init_empty_weights`` patches ``nn.Module.register_parameter``; transformers patches
``torch.linspace`` and imports lazily), so two loads in parallel threads corrupt each other: seen as a
captioner left with ``meta`` tensors ("Tensor on device meta is not on the expected device cpu") and as
"module 'transformers' has no attribute 'AutoProcessor'". Running loaded models in parallel is fine."""
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


@dataclass(frozen=True)
class ModelStatus:
    """One row of the status panel."""

    role: str
    title: str
    model_id: str
    state: str
    """``not loaded``, ``loading``, ``ready`` (on the compute device) or ``offloaded`` (CPU copy)."""
    device: str | None
    dtype: str | None
    bytes: int
    last_used: float | None
    in_use: int
    source: str
    """Where the files are: local folder, prefetch folder, HF cache, Hub download, or missing."""
    problem: str = ""
    """Why the last load failed and how to fix it (operator detail); empty when it did not fail."""


@dataclass(frozen=True)
class Availability:
    """Whether a role's model can be used here, decided from the files alone (nothing is loaded or
    downloaded): the first screen tells users what works before they click."""

    role: str
    title: str
    model_id: str
    """As users may see it (:func:`~mmdemo.models.hub.public_model_id`)."""
    usable: bool
    """False when its files are missing and cannot be fetched (offline, a missing folder or package)."""
    downloads: bool
    """Its files come from the Hugging Face Hub on first use (needs internet, takes a while)."""
    detail: str = ""
    """For the operator: why it is not usable and how to provide it, or why its last load failed."""


@dataclass
class ModelHandle:
    """What ``use()`` yields: a placed model plus its processor. Valid only inside the block."""

    role: str
    model_id: str
    model: Any
    processor: Any
    device: Any
    dtype: Any

    def prepare(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Move a processor's output to the model's device; floating tensors get the model's dtype."""
        import torch

        out: dict[str, Any] = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device, dtype=self.dtype if value.is_floating_point() else None)
            out[key] = value
        return out


class FairLock:
    """A lock granted in arrival order. ``threading.Lock`` is not: a thread that releases and at once
    re-acquires it (a long job going from one batch to the next) can starve a waiting quick request."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[object] = collections.deque()
        self._held = False

    def acquire(self) -> None:
        token = object()
        with self._cond:
            self._queue.append(token)
            try:
                while self._held or self._queue[0] is not token:
                    self._cond.wait()
            except BaseException:
                self._queue.remove(token)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def waiting(self) -> int:
        """Requests holding or waiting for the lock."""
        with self._cond:
            return len(self._queue) + self._held


@dataclass
class _Entry:
    spec: ModelSpec
    model_id: str
    tier: str
    bytes: int
    """Bytes counted on ``tier``: the weights, or for an offloaded model its largest part plus activations."""
    state: str = "loading"
    """``loading``, ``ready``, ``offloaded`` (a CPU copy of a GPU model), ``moving`` (being evicted)."""
    loaded: LoadedModel | None = None
    host_bytes: int = 0
    """Bytes counted on the host (CPU) tier besides ``bytes``: the weights of a model run with CPU offload."""
    cpu_offload: bool = False
    """Run with model CPU offload (one component on the device at a time): the model did not fit whole."""
    pins: int = 0
    last_used: float = field(default_factory=time.monotonic)
    last_used_wall: float = field(default_factory=time.time)
    run_lock: FairLock = field(default_factory=lambda: FairLock())


def resolve_device(setting: str) -> Any:
    """``auto`` → CUDA if present, else Apple MPS, else CPU. An explicit device must exist."""
    import torch

    setting = setting.lower()
    if setting == "auto":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cuda = torch.cuda.is_available()
        if cuda:
            return torch.device("cuda", torch.cuda.current_device())
        if torch.version.cuda:  # a CUDA build without a usable GPU (often a driver older than its CUDA): say so
            reason = next((str(w.message).strip() for w in caught), "PyTorch found no NVIDIA GPU or driver")
            log.warning(
                "torch %s is built for CUDA %s but cannot use a GPU here: %s Running on the CPU.",
                torch.__version__,
                torch.version.cuda,
                reason,
            )
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MMDemoError("Device 'cuda' was requested but PyTorch sees no CUDA GPU (use --device auto or cpu).")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise MMDemoError("Device 'mps' was requested but Apple MPS is not available (use --device auto or cpu).")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def cpu_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), where bf16 matmuls run about twice
    as fast as float32; elsewhere PyTorch emulates bf16 and it is slower than float32. Asked of PyTorch's
    own CPU feature probe, else read from ``/proc/cpuinfo``; False when neither can tell."""
    try:
        import torch.cpu

        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (ImportError, AttributeError, RuntimeError):
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(device: Any, setting: str, cpu_fast_path: bool = False) -> Any:
    """The compute dtype for ``setting`` (``auto`` or a dtype name): on CUDA bf16 where supported, else fp16;
    fp16 on MPS; on CPU bf16 when the CPU fast path is on and the CPU has native bf16
    (:func:`cpu_native_bf16`), else fp32."""
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_fast_path and cpu_native_bf16() else torch.float32


def total_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * GiB


def module_bytes(model: Any) -> int:
    """Bytes of parameters and buffers of a module or of every module of a diffusers pipeline."""
    import torch

    modules: Iterable[Any]
    if isinstance(model, torch.nn.Module):
        modules = [model]
    else:
        components = getattr(model, "components", {}) or {}
        modules = [m for m in components.values() if isinstance(m, torch.nn.Module)]
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


_WEIGHT_NAMES = ("model", "diffusion_pytorch_model")
"""File stems transformers and diffusers read (``model.safetensors``, ``diffusion_pytorch_model.safetensors``)."""


def _component_weights(folder: Path) -> list[Path]:
    """The weight files ``from_pretrained`` reads from one model folder, without a ``variant``: the
    safetensors file (or the shards its index lists), else the ``.bin`` one. Variants (``*.fp16.*``),
    duplicates in other formats and anything else in the folder are not read."""
    for stem in _WEIGHT_NAMES:
        for suffix in (".safetensors", ".bin"):
            name = "pytorch_model" if suffix == ".bin" and stem == "model" else stem
            single = folder / f"{name}{suffix}"
            if single.is_file():
                return [single]
            index = folder / f"{name}{suffix}.index.json"
            if index.is_file():
                try:
                    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
                except (OSError, ValueError, KeyError, AttributeError):
                    continue
                return [folder / shard for shard in shards if (folder / shard).is_file()]
    return []


def loaded_weight_files(folder: Path) -> list[Path]:
    """The weight files the loaders read from ``folder``.

    A diffusers pipeline (``model_index.json``): each listed component's subfolder, as above; a
    transformers or single diffusers model: the folder itself; otherwise (ONNX, CTranslate2) every
    ``.onnx`` and ``model.bin`` file. Full Hub snapshots (what ``hf download`` and a Space's
    ``preload_from_hub`` produce) also hold fp16 variants, ``.bin`` duplicates and single-file
    checkpoints at the root — for SDXL about 4× what loads — and none of those count.
    """
    index = folder / "model_index.json"
    if index.is_file():
        try:
            components = json.loads(index.read_text())
        except (OSError, ValueError):
            components = {}
        files: list[Path] = []
        for name, value in components.items():
            if not name.startswith("_") and isinstance(value, list) and value and value[0] and (folder / name).is_dir():
                files += _component_weights(folder / name)
        return files
    files = _component_weights(folder)
    if files:
        return files
    return sorted(p for p in folder.rglob("*") if p.is_file() and (p.suffix == ".onnx" or p.name == "model.bin"))


def estimate_weight_bytes(folder: Path, element_size: int) -> int:
    """Size the weights will take once loaded, from the files the loader reads (:func:`loaded_weight_files`),
    read from safetensors headers (no tensor data read).

    Floating tensors are counted at ``element_size`` (the dtype they will be cast to); ``.bin``, ``.onnx``
    and CTranslate2 files, which cannot be inspected cheaply, count as their size on disk.
    """
    total = 0
    for file in loaded_weight_files(folder):
        if file.suffix != ".safetensors":
            total += file.stat().st_size
            continue
        try:
            with file.open("rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(length))
        except (OSError, ValueError, struct.error):
            total += file.stat().st_size
            continue
        for name, info in header.items():
            if name == "__metadata__":
                continue
            numel = 1
            for dim in info.get("shape", []):
                numel *= dim
            dtype = info.get("dtype", "F32")
            size = element_size if dtype in ("F64", "F32", "F16", "BF16") else _DTYPE_BYTES.get(dtype, 4)
            total += numel * size
    return total


class Accelerator:
    """Where models run and how they move: the only code that calls ``.to()``, ``empty_cache()`` and reads
    device memory. ``tier`` names the compute device in budgets and the status panel (``cuda:0``,
    ``mps``, ``cpu``); ``budgets`` maps each tier to the bytes models may take there."""

    def __init__(self, device: Any, dtype: Any, budgets: Mapping[str, int]) -> None:
        self.device = device
        self.dtype = dtype
        self.budgets = dict(budgets)
        self.tier = str(device)

    @classmethod
    def from_settings(cls, settings: Settings) -> Accelerator:
        device = resolve_device(settings.device)
        dtype = resolve_dtype(device, settings.dtype, settings.cpu_fast_path)
        return cls(device, dtype, compute_budgets(device, settings))

    @property
    def has_host_tier(self) -> bool:
        """Whether models can be moved off the device to the CPU (CUDA; not on CPU or MPS's shared memory)."""
        return self.tier != "cpu" and "cpu" in self.budgets

    def place(self, spec: ModelSpec, model: Any) -> None:
        """Put ``model`` on the compute device (the spec's own ``place`` for its memory savers, else ``.to()``)."""
        if spec.place is not None:
            spec.place(model, self.device)
        else:
            model.to(self.device)

    def place_offloaded(self, spec: ModelSpec, model: Any) -> None:
        """Run ``model`` with CPU offload: its parts go to the device one at a time, when used."""
        assert spec.offload is not None
        spec.offload(model, self.device)

    def to_host(self, model: Any) -> None:
        model.to("cpu")

    def free(self) -> None:
        """Give freed memory back: ``gc.collect()``, and the CUDA allocator's cache on CUDA."""
        gc.collect()
        if getattr(self.device, "type", "cpu") == "cuda":
            import torch

            torch.cuda.empty_cache()


def compute_budgets(device: Any, settings: Settings) -> dict[str, int]:
    """Bytes for models per tier: GPU memory (90 % minus headroom) and RAM for offloaded copies (40 %) on
    CUDA; the recommended maximum on MPS; 60 % of RAM minus headroom on CPU. Settings override each."""
    s = settings
    headroom = int(s.memory_headroom_gb * GiB)
    ram = total_ram_bytes()

    def budget(configured: float | None, auto: float) -> int:
        return int(configured * GiB) if configured is not None else max(int(auto), 0)

    if device.type == "cuda":
        import torch

        total = torch.cuda.get_device_properties(device).total_memory
        return {
            str(device): budget(s.memory_budget_gb, total * 0.9 - headroom),
            "cpu": budget(s.offload_budget_gb, ram * 0.4),
        }
    if device.type == "mps":  # unified memory: an offload copy would not free anything
        import torch

        total = getattr(torch.mps, "recommended_max_memory", lambda: ram * 0.6)()
        return {str(device): budget(s.memory_budget_gb, total - headroom)}
    return {"cpu": budget(s.memory_budget_gb, ram * 0.6 - headroom)}


def part_bytes(folder: Path, element_size: int) -> int:
    """The largest part of a model that CPU offload puts on the device at once: the biggest component of a
    diffusers pipeline (its UNet or transformer), else the whole model."""
    index = folder / "model_index.json"
    if not index.is_file():
        return estimate_weight_bytes(folder, element_size)
    try:
        names = [n for n, v in json.loads(index.read_text()).items() if not n.startswith("_") and isinstance(v, list)]
    except (OSError, ValueError):
        return estimate_weight_bytes(folder, element_size)
    sizes = [estimate_weight_bytes(folder / n, element_size) for n in names if (folder / n).is_dir()]
    return max(sizes, default=0)


class ModelManager:
    """Loads models by role, keeps them within a memory budget and reports what is where.

    Memory policy (one owner: here). A model's size is estimated from the files its loader reads, plus the
    activation memory its spec declares. It runs on the compute device when that fits the device budget
    after evicting idle models (GPU → CPU RAM while the offload budget allows → dropped). A model whose spec
    can run with CPU offload and that does not fit whole runs offloaded: its largest part (plus activations)
    is counted on the device, the rest in RAM. Anything else that does not fit is refused with a clear error.

    Locks: one condition guards the bookkeeping and is never held while tensors move or memory is freed
    (those take seconds for multi-GB models and would stall every request and the status panel); a model
    being evicted is marked ``moving`` meanwhile. One loader per role; other requests for it wait (at most
    ``load_wait_s``). Builds are serialised process-wide (:data:`_LOADING`).
    """

    def __init__(
        self, settings: Settings, specs: Mapping[str, ModelSpec] | None = None, accelerator: Accelerator | None = None
    ) -> None:
        self.settings = settings
        self.specs: dict[str, ModelSpec] = dict(SPECS if specs is None else specs)
        self._cond = threading.Condition(threading.RLock())
        self._entries: dict[str, _Entry] = {}
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
        return self.settings.model_for(role) or self.spec(role).default_for(self.device.type)

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
            self._release(entry)

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
        with self._cond:
            entry = self._entries.get(role)
            if entry is None or entry.pins or entry.state in ("loading", "moving"):
                return False
            self._forget(entry)
        self.accelerator.free()
        return True

    def status(self) -> list[ModelStatus]:
        """One row per role: loaded or not, where, how big, and where its files would come from."""
        rows = []
        with self._cond:
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
        with self._cond:
            free = self.budgets.get(tier, 0) - self._usage(tier) - spec.activation_bytes
        return max(1, min(int(maximum), free // per_item))

    def memory_usage(self) -> dict[str, tuple[int, int]]:
        """Tier → (bytes used by models, budget)."""
        with self._cond:
            return {tier: (self._usage(tier), budget) for tier, budget in self.budgets.items()}

    def source_of(self, model_id: str) -> str:
        """Where ``model_id``'s files would be read from, without touching the network."""
        if is_packaged(model_id):
            try:
                packaged_folder("", model_id)
            except MMDemoError:
                return "missing package"
            return "pip package (offline)"
        if Path(model_id).expanduser().is_dir():
            return "local folder"
        if looks_like_path(model_id):
            return "missing folder"
        if self.settings.model_dir and prefetch_folder(self.settings.model_dir, model_id).is_dir():
            return "prefetch folder"
        try:
            from huggingface_hub import try_to_load_from_cache

            for name in ("config.json", "model_index.json"):
                if isinstance(try_to_load_from_cache(model_id, name), str):
                    return "HF cache"
        except Exception:
            pass
        return "missing (offline)" if self.settings.offline else "Hub (downloads on first use)"

    # ------------------------------------------------------------------------------ internals
    def _acquire(self, role: str, progress: ProgressFn | None) -> _Entry:
        spec = self.spec(role)
        lock = self._role_locks[role]
        if not lock.acquire(timeout=self.load_wait_s):  # one loader per role; others wait here
            raise MemoryBudgetError(
                "This model is still being loaded for another request. Try again in a moment.",
                detail=f"{role} has been loading for over {self.load_wait_s:g} s (a slow download or a hung load).",
            )
        try:
            with self._cond:
                while (entry := self._entries.get(role)) is not None and entry.state == "moving":
                    self._cond.wait()  # being evicted by another thread: wait for the outcome
                if entry is not None:
                    entry.pins += 1
                    if entry.tier == self._home_tier(spec) or entry.cpu_offload:
                        return entry
            if entry is not None:
                return self._bring_back(entry, progress)
            return self._load(role, spec, progress)
        finally:
            lock.release()

    def _release(self, entry: _Entry) -> None:
        with self._cond:
            entry.pins -= 1
            entry.last_used = time.monotonic()
            entry.last_used_wall = time.time()
            self._cond.notify_all()

    def _load(self, role: str, spec: ModelSpec, progress: ProgressFn | None) -> _Entry:
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

    def _load_unchecked(self, role: str, spec: ModelSpec, progress: ProgressFn | None) -> _Entry:
        model_id = self.model_id(role)
        name = model_name(spec)
        # transformers' lazy module is not safe to use from a second thread while it is being imported.
        self._imports_done.wait()
        _notify(progress, 0.0, f"Loading the {name} ({public_model_id(model_id)})…")
        folder = resolve_model_folder(
            role, model_id, self.settings, spec.allow_patterns, on_download=lambda m: _notify(progress, 0.05, m)
        )
        tier, size, host_size, offload = self._plan(spec, folder)
        entry = _Entry(spec=spec, model_id=model_id, tier=tier, bytes=size, pins=1, host_bytes=host_size)
        entry.cpu_offload = offload
        with self._cond:
            victims = self._make_room(tier, size, what=model_id)
            if host_size:
                victims += self._make_room("cpu", host_size, what=model_id)
            self._entries[role] = entry  # reserves the bytes while loading
        self._evict_all(victims)
        started = time.perf_counter()
        loaded: LoadedModel | None = None
        failure: BaseException | None = None
        try:
            loader = spec.loader
            if tier == "cpu" and spec.cpu_fast_loader is not None and self.settings.cpu_fast_path:
                loader = spec.cpu_fast_loader
                _notify(progress, 0.3, f"Reading the {name} for the fast CPU path (the first time converts it)…")
            else:
                _notify(progress, 0.3, f"Reading the weights of the {name}…")
            with _LOADING:  # one model built at a time in the whole process (see _LOADING)
                loaded = loader(folder, self.dtype)
            if tier == "cpu":
                actual = module_bytes(loaded.model) or size  # not torch (ONNX …): its files' size
                with self._cond:
                    extra = self._make_room(tier, actual - entry.bytes, what=model_id) if actual > entry.bytes else []
                    entry.bytes = actual
                self._evict_all(extra)
            else:
                how = " (with CPU offload)" if offload else ""
                _notify(progress, 0.8, f"Moving the {name} to {device_name(tier)}{how}…")
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
            with self._cond:
                self._entries.pop(role, None)
                self._cond.notify_all()
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
        with self._cond:
            entry.loaded = loaded
            entry.state = "ready"
            self.load_count[role] = self.load_count.get(role, 0) + 1
            self._cond.notify_all()
        log.info(
            "loaded %s (%s) on %s%s in %.2fs, %.1f MB",
            role,
            model_id,
            tier,
            " with CPU offload" if offload else "",
            time.perf_counter() - started,
            (entry.bytes + entry.host_bytes) / 2**20,
        )
        _notify(progress, 1.0, f"{name[:1].upper()}{name[1:]} ready")
        return entry

    def _bring_back(self, entry: _Entry, progress: ProgressFn | None) -> _Entry:
        """Move an offloaded (CPU) copy back to the compute device. The entry is already pinned.

        If the move fails half-way, the model is moved back to the CPU whole (or dropped when even that
        fails), so no half-moved model stays counted on the CPU."""
        _notify(progress, 0.5, f"Moving the {model_name(entry.spec)} back to {device_name(self.compute_tier)}…")
        try:
            with self._cond:
                victims = self._make_room(self.compute_tier, entry.bytes, what=entry.model_id)
            self._evict_all(victims)
            assert entry.loaded is not None
            self.accelerator.place(entry.spec, entry.loaded.model)
        except BaseException:
            self._recover_to_host(entry)
            self._release(entry)
            raise
        with self._cond:
            entry.tier = self.compute_tier
            entry.state = "ready"
            self._cond.notify_all()
        return entry

    def _recover_to_host(self, entry: _Entry) -> None:
        try:
            assert entry.loaded is not None
            self.accelerator.to_host(entry.loaded.model)
        except BaseException:
            log.exception("could not move %s back to the CPU after a failed move: dropping it", entry.spec.role)
            with self._cond:
                self._forget(entry)
        self.accelerator.free()

    def _home_tier(self, spec: ModelSpec) -> str:
        """Where ``spec``'s model lives when in use: the compute device, or RAM for CPU-only models."""
        return "cpu" if spec.cpu_only and "cpu" in self.budgets else self.compute_tier

    def _usage(self, tier: str) -> int:
        used = sum(e.bytes for e in self._entries.values() if e.tier == tier)
        if tier == "cpu":
            used += sum(e.host_bytes for e in self._entries.values() if e.tier != "cpu")
        return used

    def _make_room(self, tier: str, needed: int, what: str, wait: bool = True) -> list[_Entry]:
        """Choose idle models to evict from ``tier`` (LRU first) so ``needed`` more bytes fit, and mark them
        ``moving``; the caller evicts them with :meth:`_evict_all` after releasing the lock. Holds the lock.

        Models already being moved by another request still count until they are gone: this waits for them."""
        budget = self.budgets.get(tier, 0)
        if needed > budget:
            raise MemoryBudgetError(
                f"This server does not have enough memory for {public_model_id(what)}.",
                detail=f"{what} needs {needed / GiB:.2f} GiB but the memory budget on {tier} is "
                f"{budget / GiB:.2f} GiB: raise MMDEMO_MEMORY_BUDGET_GB or choose a smaller model.",
            )
        deadline = time.monotonic() + (self.settings.evict_wait_s if wait else 0)
        chosen: list[_Entry] = []
        while self._usage(tier) - sum(self._freed(e, tier) for e in chosen) + needed > budget:
            idle = [
                e
                for e in self._entries.values()
                if e.pins == 0 and e.state in ("ready", "offloaded") and e not in chosen and self._freed(e, tier)
            ]
            if idle:
                chosen.append(min(idle, key=lambda e: e.last_used))
                continue
            moving = any(e.state == "moving" and self._freed(e, tier) for e in self._entries.values())
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not moving:
                raise MemoryBudgetError(
                    "The server is busy with other requests and has no memory free for this one. "
                    "Try again in a moment.",
                    detail=f"Not enough memory on {tier} for {what}: the models there stayed pinned by other "
                    f"requests for {self.settings.evict_wait_s:g} s (MMDEMO_EVICT_WAIT_S).",
                )
            self._cond.wait(max(remaining, 0.05) if not moving else 1.0)
        for entry in chosen:
            entry.state = "moving"
        return chosen

    @staticmethod
    def _freed(entry: _Entry, tier: str) -> int:
        """Bytes evicting ``entry`` frees on ``tier``."""
        return (entry.bytes if entry.tier == tier else 0) + (entry.host_bytes if tier == "cpu" else 0)

    def _evict_all(self, entries: list[_Entry]) -> None:
        """Evict entries :meth:`_make_room` marked, without holding the lock: GPU → CPU when the offload budget
        has room (after dropping idle CPU copies), else drop; then free the memory."""
        dropped_any = False
        for entry in entries:
            to_host: list[_Entry] | None = None
            if entry.tier != "cpu" and not entry.cpu_offload and self.accelerator.has_host_tier:
                with self._cond:
                    try:
                        to_host = self._make_room("cpu", entry.bytes, what=entry.model_id, wait=False)
                    except MemoryBudgetError:
                        to_host = None
                if to_host is not None:
                    self._evict_all(to_host)
                    try:
                        assert entry.loaded is not None
                        self.accelerator.to_host(entry.loaded.model)
                    except BaseException:
                        log.exception("moving %s to the CPU failed: dropping it", entry.spec.role)
                    else:
                        with self._cond:
                            entry.tier = "cpu"
                            entry.state = "offloaded"
                            self._cond.notify_all()
                        log.info("offloaded %s to cpu", entry.spec.role)
                        dropped_any = True  # the GPU copy is gone: give its memory back
                        continue
            with self._cond:
                self._forget(entry)
            dropped_any = True
            log.info("dropped %s (%s)", entry.spec.role, entry.model_id)
        if dropped_any:
            self.accelerator.free()

    def _forget(self, entry: _Entry) -> None:
        """Remove ``entry`` from the books (the lock is held); the caller frees the memory afterwards."""
        self._entries.pop(entry.spec.role, None)
        entry.loaded = None
        entry.state = "dropped"
        self._cond.notify_all()


def _notify(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _first_line(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    return text[:200]


def model_name(spec: ModelSpec) -> str:
    """How progress messages name a role's model: "image captioning model", "CLIP image–text score model"
    (a leading acronym keeps its case). Never its folder: messages show the public id beside it at most."""
    first, _, rest = spec.title.partition(" ")
    title = spec.title if first.isupper() else f"{first.lower()} {rest}".strip()
    return f"{title} model"


def device_name(tier: str) -> str:
    """A device tier as users read it: ``cuda:0`` → "the GPU", ``mps`` → "the GPU (Apple)", ``cpu`` → "the CPU"."""
    kind = tier.partition(":")[0]
    return {"cuda": "the GPU", "mps": "the GPU (Apple)", "cpu": "the CPU"}.get(kind, tier)
