"""What each model *role* is and how to load it. Adding a model to the app = adding a spec here.

A loader gets a local folder (already resolved by :mod:`mmdemo.models.hub`) and a dtype, builds
the model on the CPU and returns a :class:`LoadedModel`; the manager places it on the device.
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

    def default_for(self, device_type: str) -> str:
        return self.defaults.get(device_type) or self.defaults["*"]


def _load_blip(model_class_name: str) -> Loader:
    def load(folder: Path, dtype: Any) -> LoadedModel:
        import transformers

        processor = transformers.AutoProcessor.from_pretrained(folder)
        model_class = getattr(transformers, model_class_name)
        model = model_class.from_pretrained(folder, dtype=dtype)
        model.eval()
        return LoadedModel(model=model, processor=processor)

    return load


CAPTIONER = ModelSpec(
    role="captioner",
    title="Image captioning",
    defaults={
        "cuda": "Salesforce/blip-image-captioning-large",
        "*": "Salesforce/blip-image-captioning-base",
    },
    loader=_load_blip("BlipForConditionalGeneration"),
    license="BSD-3-Clause",
    imports=("transformers:AutoProcessor", "transformers:BlipForConditionalGeneration"),
)

VQA = ModelSpec(
    role="vqa",
    title="Visual question answering",
    defaults={"*": "Salesforce/blip-vqa-base"},
    loader=_load_blip("BlipForQuestionAnswering"),
    license="BSD-3-Clause",
    imports=("transformers:AutoProcessor", "transformers:BlipForQuestionAnswering"),
)

SPECS: dict[str, ModelSpec] = {spec.role: spec for spec in (CAPTIONER, VQA)}
