"""The data types of the model layer: what a role is (:class:`ModelSpec`) and what its loader returns
(:class:`LoadedModel`), what ``ModelManager.use`` hands a task (:class:`ModelHandle`), and what it reports
(:class:`ModelStatus`, :class:`Availability`). No behaviour beyond moving a batch to a model's device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hub import DEFAULT_ALLOW_PATTERNS


@dataclass
class LoadedModel:
    """What a loader returns: the module(s) to place on a device and the CPU-side pre/post-processor."""

    model: Any
    """A ``torch.nn.Module`` or a diffusers pipeline: anything with ``.to(device)``."""
    processor: Any = None
    precision: str | None = None
    """What the Models panel shows as its precision when it is not simply the manager's dtype, e.g.
    ``int8 (CTranslate2)`` or ``bfloat16 (OpenVINO UNet)``, or why the fast path fell back."""


Loader = Callable[[Path, Any], LoadedModel]


@dataclass(frozen=True)
class ModelSpec:
    role: str
    title: str
    defaults: Mapping[str, str]
    """Device type (``cuda``, ``mps``, ``cpu``) → default model id; ``*`` is the fallback."""
    loader: Loader
    license: str = ""
    allow_patterns: tuple[str, ...] = field(default=DEFAULT_ALLOW_PATTERNS)
    imports: tuple[str, ...] = ()
    """What the loader imports (``module`` or ``module:attribute``), to import in the background after
    start-up (see ``ModelManager.warm_imports``)."""
    cpu_only: bool = False
    """The model runs on the CPU whatever the compute device (ONNX Runtime, not torch): the manager
    keeps it in RAM, never moves it, and counts it against the CPU budget."""

    place: Callable[[Any, Any], None] | None = None
    """``place(model, device)`` puts a loaded model on the compute device instead of the manager's
    ``model.to(device)`` (device-specific settings). Only the manager calls it."""
    activation_bytes: int = 0
    """Device memory a run needs beyond the weights (attention, decoding); the manager reserves it."""
    offload: Callable[[Any, Any], None] | None = None
    """``offload(model, device)`` runs the model with CPU offload (its parts on the device one at a time),
    for devices too small for it whole. The manager decides when (see ``ModelManager``)."""

    cpu_fast_loader: Loader | None = None
    """Used instead of ``loader`` when the model runs on the CPU with the CPU fast path on
    (``Settings.cpu_fast_path``): the same model through a faster CPU runtime (OpenVINO, CTranslate2). It
    converts once and caches the result, and falls back to ``loader`` itself (saying so in
    ``LoadedModel.precision``) when conversion fails. Only the manager decides when."""
    cpu_int8_loader: Loader | None = None
    """Used instead of ``cpu_fast_loader`` when ``Settings.cpu_int8`` is on too: the fast path with int8 linear
    layers (a change in numerics, hence a setting of its own), falling back to the float fast path itself."""

    def default_for(self, device_type: str) -> str:
        return self.defaults.get(device_type) or self.defaults["*"]


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
    """As users may see it (:func:`~mmdemo.model_ids.public_model_id`)."""
    usable: bool
    """False when its files are missing and cannot be fetched (offline, a missing folder or package)."""
    downloads: bool
    """Its files come from the Hugging Face Hub on first use (needs internet, takes a while)."""
    detail: str = ""
    """For the operator: why it is not usable and how to provide it, or why its last load failed."""
