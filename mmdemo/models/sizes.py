"""How many bytes a model takes: estimated from the files its loader will read (safetensors headers, no
tensor data read), or counted on a loaded module. The model manager plans and books memory with these.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

GiB = 1024**3
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


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
