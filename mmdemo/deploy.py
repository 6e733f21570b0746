"""A ready-to-push Hugging Face Space folder (:func:`write_space`): the app, the package, the examples, a
README with the Space front matter, the Debian packages it uses (``packages.txt``), and a requirements file with a
torch that the hardware runs (ZeroGPU supports fewer torch versions than this project pins for local installs).
The ZeroGPU decorator itself is in :mod:`mmdemo.zerogpu`.
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
DEBIAN_PACKAGES = ("fonts-wqy-microhei",)
"""Debian packages the app uses beyond Python's: a font with Chinese glyphs (the Evaluate tab's plots for a Chinese
page). A Space installs them from ``packages.txt``; the Dockerfile installs the same."""


def _device_type(hardware: str) -> str:
    return "cpu" if hardware.startswith("cpu") else "cuda"


def space_models(hardware: str) -> list[str]:
    """The Hub ids of the default models for the device ``hardware`` has (packaged ones excluded)."""
    from .models.hub import is_packaged
    from .models.specs import SPECS

    ids = [spec.default_for(_device_type(hardware)) for spec in SPECS.values()]
    return sorted({model_id for model_id in ids if not is_packaged(model_id)})


PIPELINE_COMPONENTS: dict[str, dict[str, tuple[str, str]]] = {
    "stabilityai/sd-turbo": {
        "scheduler": ("diffusers", "EulerDiscreteScheduler"),
        "text_encoder": ("transformers", "CLIPTextModel"),
        "tokenizer": ("transformers", "CLIPTokenizer"),
        "unet": ("diffusers", "UNet2DConditionModel"),
        "vae": ("diffusers", "AutoencoderKL"),
    },
    "stabilityai/stable-diffusion-xl-base-1.0": {
        "scheduler": ("diffusers", "EulerDiscreteScheduler"),
        "text_encoder": ("transformers", "CLIPTextModel"),
        "text_encoder_2": ("transformers", "CLIPTextModelWithProjection"),
        "tokenizer": ("transformers", "CLIPTokenizer"),
        "tokenizer_2": ("transformers", "CLIPTokenizer"),
        "unet": ("diffusers", "UNet2DConditionModel"),
        "vae": ("diffusers", "AutoencoderKL"),
    },
}
"""The ``model_index.json`` components of the default diffusers pipelines (the replica kit builds the same
ones; ``tests/test_deploy.py`` checks they agree). Their Hub repos also hold fp16 variants, ONNX/OpenVINO
exports and single-file checkpoints at the root — SDXL's repo is several times what loads — so the Space
preloads only the files listed by :func:`preload_files`."""

_COMPONENT_FILES = {
    "scheduler": ("scheduler_config.json",),
    "tokenizer": ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"),
    "transformers": ("config.json", "model.safetensors"),
    "diffusers": ("config.json", "diffusion_pytorch_model.safetensors"),
}
"""Files per component in the layout ``save_pretrained`` writes (CLIP tokenizers as the slow tokenizer's
files, which is how these repos were saved)."""


def preload_files(model_id: str) -> list[str] | None:
    """The files of ``model_id`` the app loads, for ``preload_from_hub``; None: the whole repo (small ones)."""
    components = PIPELINE_COMPONENTS.get(model_id)
    if components is None:
        return None
    files = ["model_index.json"]
    for name, (library, class_name) in sorted(components.items()):
        if class_name.endswith("Scheduler"):
            kind = "scheduler"
        elif class_name.endswith("Tokenizer"):
            kind = "tokenizer"
        else:
            kind = library
        files += [f"{name}/{file}" for file in _COMPONENT_FILES[kind]]
    return files


def preload_entry(model_id: str) -> str:
    """One ``preload_from_hub`` line: ``repo`` or ``repo file1,file2,…`` (Spaces' syntax; no globs)."""
    files = preload_files(model_id)
    return model_id if files is None else f"{model_id} {','.join(files)}"


def verify_preload(model_ids: list[str]) -> list[str]:
    """Problems with the preload lists, checked against the Hub's file listings (needs the internet):
    a listed file the repo lacks would fail the Space build."""
    from huggingface_hub import list_repo_files

    problems = []
    for model_id in model_ids:
        files = preload_files(model_id)
        if files is None:
            continue
        missing = sorted(set(files) - set(list_repo_files(model_id)))
        problems += [f"{model_id}: no file {name}" for name in missing]
    return problems


CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's index of CPU-only wheels. On a Linux build host PyPI's torch is the CUDA build (torch 2.13.0: a
527 MB wheel plus about 2.5 GB of ``nvidia-*``/triton wheels) that a CPU Space never uses; the CPU build is
192 MB (``benchmarks/space_install_size.py`` measures both)."""


def _pin(requirements: str, name: str) -> str | None:
    """The version ``requirements`` pins ``name`` to (``name==X``), or None."""
    for line in requirements.splitlines():
        spec = line.split("#")[0].strip().replace(" ", "")
        if spec.lower().startswith(f"{name}=="):
            return spec.split("==", 1)[1]
    return None


def space_requirements(hardware: str, requirements: str, dev_requirements: str = "") -> str:
    """``requirements.txt`` for the Space on ``hardware``, from the project's own ``requirements``:

    * CPU Spaces: torch's CPU build from PyTorch's CPU index (same version; :data:`CPU_TORCH_INDEX`);
    * ZeroGPU: a torch ZeroGPU supports, and ``spaces`` at least the version the tests boot the Space with
      (its pin in ``dev_requirements``);
    * GPU Spaces: unchanged (PyPI's Linux torch is the CUDA build).
    """
    torch = _pin(requirements, "torch")
    lines = []
    if hardware.startswith("cpu") and torch:
        lines += [f"--extra-index-url {CPU_TORCH_INDEX}  # torch's CPU build (PyPI's Linux torch bundles CUDA)"]
    for line in requirements.splitlines():
        if _pin(line, "torch"):
            if hardware.startswith("zero"):
                line = f"{ZEROGPU_TORCH}  # ZeroGPU runs only some torch versions"
            elif hardware.startswith("cpu"):
                line = f"torch=={torch.split('+')[0]}+cpu  # the CPU build: no CUDA libraries on a CPU Space"
        lines.append(line)
    if hardware.startswith("zero"):
        spaces = _pin(dev_requirements, "spaces")
        lines.append(f"spaces>={spaces}  # ZeroGPU: @spaces.GPU" if spaces else "spaces  # ZeroGPU: @spaces.GPU")
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
        *[f"  - {preload_entry(m)}" for m in models],
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
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")

    def ignore(folder: str, names: list[str]) -> set[str]:  # the test kit stays out of the Space (as of the image)
        skip = set(caches(folder, names))
        return skip | {"testing"} if Path(folder) == ROOT / "mmdemo" else skip

    for folder in ("mmdemo", "assets"):
        shutil.copytree(ROOT / folder, out / folder, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(ROOT / "app.py", out / "app.py")
    requirements, dev = (
        (ROOT / name).read_text(encoding="utf-8") for name in ("requirements.txt", "requirements-dev.txt")
    )
    (out / "requirements.txt").write_text(space_requirements(hardware, requirements, dev), encoding="utf-8")
    (out / "README.md").write_text(space_readme(hardware, title), encoding="utf-8")
    (out / "packages.txt").write_text("".join(f"{name}\n" for name in DEBIAN_PACKAGES), encoding="utf-8")
    return out
