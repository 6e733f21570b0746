"""The compute device: which one (:func:`resolve_device`; its type without importing torch,
:func:`known_device_type`), in which dtype (:func:`resolve_dtype`), how much
memory models may take on it and in RAM (:func:`compute_budgets`), and the only code that moves models
between them or frees device memory (:class:`Accelerator`).
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MMDemoError
from ..settings import Settings
from .sizes import GiB
from .types import ModelSpec

log = logging.getLogger(__name__)


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


GPU_MARKERS = (
    "proc/driver/nvidia",  # the NVIDIA kernel driver is loaded
    "dev/nvidiactl",  # NVIDIA device nodes (a container given a GPU has them even without the above)
    "dev/nvidia0",
    "dev/dxg",  # WSL 2: CUDA through the Windows driver
    "dev/kfd",  # ROCm
    "dev/nvhost-ctrl",  # Jetson
    "dev/nvgpu",
    "dev/nvmap",
    "etc/nv_tegra_release",
)
"""Paths under the host's root whose presence means a GPU may be usable: only PyTorch can tell then."""

GPU_VENDORS = {"cuda": "0x10de", "hip": "0x1002"}
"""The PCI vendor of the GPUs a build uses (NVIDIA, AMD): present in ``/sys/bus/pci``, the driver may load on use."""


def _torch_version_file() -> Path | None:
    """``torch/version.py`` of the installed torch, found without importing torch (None when not installed)."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).with_name("version.py")


@dataclass(frozen=True)
class Host:
    """Where :func:`known_device_type` looks (tests point it at fakes): torch's ``version.py``, the
    filesystem root holding ``/dev``, ``/proc``, ``/sys``, the environment and ``sys.platform``."""

    version_file: Path | None = field(default_factory=_torch_version_file)
    root: Path = Path("/")
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    platform: str = sys.platform


def torch_build(version_file: Path | None) -> dict[str, str | None] | None:
    """The ``cuda`` and ``hip`` versions torch was built for, read from the text of its ``version.py``
    (``cuda: Optional[str] = '12.8'``; None when built without it); None when the file is missing or says
    something else than a string or None for either."""
    if version_file is None:
        return None
    try:
        tree = ast.parse(version_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError):
        return None
    found: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in GPU_VENDORS:
            if not isinstance(value, ast.Constant) or not isinstance(value.value, str | None):
                return None
            found[target.id] = value.value
    return found if found.keys() == GPU_VENDORS.keys() else None


def _cuda_hidden(environ: Mapping[str, str]) -> bool:
    """``CUDA_VISIBLE_DEVICES`` hides every GPU: empty, or its first entry a negative index (``-1``); the CUDA
    runtime lists the devices before the first invalid entry."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return False
    first = visible.split(",")[0].strip()
    return first == "" or (first.startswith("-") and first[1:].isdigit())


def _gpu_may_be_usable(host: Host) -> bool | None:
    """False when PyTorch certainly sees no CUDA or ROCm GPU here, True when it may, None when torch's build
    cannot be read."""
    build = torch_build(host.version_file)
    if build is None:
        return None
    kinds = [kind for kind, version in build.items() if version]
    if not kinds:  # a CPU build (or one for Apple MPS or Intel XPU, which resolve_device does not use for CUDA)
        return False
    if build["cuda"] and not build["hip"] and _cuda_hidden(host.environ):
        return False
    if host.platform != "linux":  # Windows drivers leave no such traces
        return True
    if any((host.root / marker).exists() for marker in GPU_MARKERS):
        return True
    vendors = {GPU_VENDORS[kind] for kind in kinds}
    try:
        devices = list((host.root / "sys/bus/pci/devices").iterdir())
    except OSError:
        return True
    for device in devices:
        try:
            if (device / "vendor").read_text().strip() in vendors:
                return True
        except OSError:
            continue
    return False


def known_device_type(setting: str, host: Host | None = None) -> str | None:
    """The type (``cuda``, ``mps``, ``cpu``) of :func:`resolve_device`'s device for ``setting``, when the host
    tells it without importing torch (a UI built before torch is imported needs only the type); None when
    only torch can tell, or when an explicit device certainly cannot be had (:func:`resolve_device` says why).

    It reads torch's build from the text of ``torch/version.py`` (``cuda``, ``hip``); for a CUDA or ROCm
    build on Linux, ``CUDA_VISIBLE_DEVICES`` (empty or ``-1``: no GPU), then :data:`GPU_MARKERS` and the PCI
    vendors in ``/sys/bus/pci/devices``: none of them → no GPU torch could use. ``auto`` is ``cpu`` when no
    GPU can be used off macOS (on macOS only torch knows whether MPS is there); an explicit ``cuda``/``cuda:N``
    is ``cuda`` unless no GPU can be used (it is checked when the device is resolved); ``mps`` is ``mps`` on
    macOS; ``cpu`` is ``cpu``.
    """
    kind = setting.lower().partition(":")[0]
    if kind == "cpu":
        return "cpu"
    host = host or Host()
    if kind == "mps":
        return "mps" if host.platform == "darwin" else None
    usable = _gpu_may_be_usable(host)
    if kind == "cuda":
        return "cuda" if usable is not False else None
    if kind == "auto" and usable is False and host.platform != "darwin":
        return "cpu"
    return None


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
