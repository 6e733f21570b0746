"""A ready-to-push Hugging Face Space folder (:func:`write_space`): the app, the package, the examples, a
README with the Space front matter, and a requirements file with a torch that the hardware runs (ZeroGPU
supports fewer torch versions than this project pins for local installs). The ZeroGPU decorator itself
is in :mod:`mmdemo.zerogpu`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HARDWARE = (
    "cpu-basic",
    "cpu-upgrade",
    "t4-small",
    "t4-medium",
    "l4x1",
    "a10g-small",
    "a10g-large",
    "a100-large",
    "zero-a10g",
)
ZEROGPU_TORCH = "torch>=2.8,<2.12"
"""torch versions ZeroGPU runs (its documentation listed 2.8–2.11 when this was written)."""
ZEROGPU_PYTHON = "3.12"


def _device_type(hardware: str) -> str:
    return "cpu" if hardware.startswith("cpu") else "cuda"


def space_models(hardware: str) -> list[str]:
    """The Hub ids of the default models for the device ``hardware`` has (packaged ones excluded)."""
    from .models.hub import is_packaged
    from .models.specs import SPECS

    ids = [spec.default_for(_device_type(hardware)) for spec in SPECS.values()]
    return sorted({model_id for model_id in ids if not is_packaged(model_id)})


def space_requirements(hardware: str, requirements: str) -> str:
    """``requirements.txt`` for the Space: on ZeroGPU a torch it supports, plus ``spaces``."""
    if not hardware.startswith("zero"):
        return requirements
    lines = []
    for line in requirements.splitlines():
        if line.strip().replace(" ", "").startswith("torch=="):
            line = f"{ZEROGPU_TORCH}  # ZeroGPU runs only some torch versions"
        lines.append(line)
    lines.append("spaces  # ZeroGPU: @spaces.GPU")
    return "\n".join(lines) + "\n"


def space_readme(hardware: str, title: str = "mmdemo") -> str:
    """The Space README: YAML front matter (what Spaces reads) and a short description."""
    import gradio

    models = space_models(hardware)
    python = ZEROGPU_PYTHON if hardware.startswith("zero") else "3.11"
    lines = [
        "---",
        f"title: {title}",
        "emoji: 🎛️",
        "colorFrom: indigo",
        "colorTo: pink",
        "sdk: gradio",
        f'sdk_version: "{gradio.__version__}"',
        "app_file: app.py",
        f'python_version: "{python}"',
        f"suggested_hardware: {hardware}",
        "pinned: false",
        "models:",
        *[f"  - {m}" for m in models],
        "preload_from_hub:",
        *[f"  - {m}" for m in models],
        "---",
        "",
        f"# {title}",
        "",
        "Image captioning with visual question answering and OCR, text-to-image, audio emotion analysis and",
        "video summarisation, in one Gradio app. Models load on first use (the default models are downloaded",
        "when the Space is built); the **Models** panel at the bottom shows what is loaded and where.",
        "",
    ]
    return "\n".join(lines)


def write_space(out: str | os.PathLike[str], hardware: str = "cpu-basic", title: str = "mmdemo") -> Path:
    """Write a folder to push to a Hugging Face Space (``git push`` or ``hf upload``)."""
    if hardware not in HARDWARE:
        from .errors import InputError

        raise InputError(f"Unknown Space hardware {hardware!r}: use one of {', '.join(HARDWARE)}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("mmdemo", "assets"):
        shutil.copytree(ROOT / folder, out / folder, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(ROOT / "app.py", out / "app.py")
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    (out / "requirements.txt").write_text(space_requirements(hardware, requirements), encoding="utf-8")
    (out / "README.md").write_text(space_readme(hardware, title), encoding="utf-8")
    return out
