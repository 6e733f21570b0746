"""Spaces deployment: hardware profiles, the ZeroGPU decorator (with a stand-in `spaces` package), the Space folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio
import pytest
import torch
import yaml

from mmdemo.cli import main as cli_main
from mmdemo.deploy import (
    CPU_TORCH_INDEX,
    DEBIAN_PACKAGES,
    PIPELINE_COMPONENTS,
    ROOT,
    ZEROGPU_TORCH,
    preload_files,
    space_models,
    verify_preload,
    write_space,
)
from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.models.specs import SPECS
from mmdemo.settings import Settings
from mmdemo.zerogpu import gpu, zerogpu_active


@pytest.fixture
def zerogpu() -> Any:
    """The app on a ZeroGPU Space, as far as the code can tell: a faithful ``spaces`` double (worker process,
    pickled arguments and results, its exception conversion) and ``SPACES_ZERO_GPU=true``."""
    from mmdemo.testing import zerogpu

    with zerogpu.zerogpu_installed():
        yield zerogpu


def test_gpu_is_a_no_op_off_zerogpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(x: int) -> int:
        return x

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not zerogpu_active()
    assert gpu(30)(handler) is handler
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # flag without the package (e.g. a local copy): still a no-op
    if not zerogpu_active():
        assert gpu(30)(handler) is handler


def test_gpu_runs_in_a_worker_process_and_duration_gets_the_inputs(zerogpu: Any) -> None:
    import os

    assert zerogpu_active()

    @gpu(duration=lambda prompt, steps: 2.0 * steps)
    def generate(prompt: str, steps: int) -> tuple[str, int]:
        return prompt * steps, os.getpid()

    text, pid = generate("ab", 3)
    assert text == "ababab" and pid != os.getpid() and zerogpu.pids == [pid]
    assert zerogpu.calls == [6.0]


def test_zerogpu_double_converts_exceptions_like_spaces(zerogpu: Any) -> None:
    """What the real package does with errors raised in the GPU worker: a gr.Error keeps its message,
    anything else arrives as "ZeroGPU worker error" with only its class name."""
    import gradio as gr

    @gpu(duration=10)
    def user_error() -> None:
        raise gr.Error("Upload a photo first.")

    @gpu(duration=10)
    def backend_error() -> None:
        raise InputError("This file is a text file, not an image.")

    with pytest.raises(gr.Error) as info:
        user_error()
    assert info.value.message == "Upload a photo first."
    with pytest.raises(gr.Error) as info:
        backend_error()
    assert (info.value.title, info.value.message) == ("ZeroGPU worker error", "InputError")


def test_app_handlers_keep_their_messages_on_zerogpu(zerogpu: Any, tiny_settings: Settings, tmp_path: Path) -> None:
    """The handlers convert backend errors inside the GPU function, so users read what went wrong (the old
    order, conversion outside ``@spaces.GPU``, gave every user "ZeroGPU worker error: InputError")."""
    import gradio as gr

    from mmdemo.ui import build_app

    demo = build_app(ModelManager(tiny_settings))
    fns = {f.api_name: f.fn for f in demo.fns.values() if f.api_name}
    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n" * 10)
    with pytest.raises(gr.Error) as info:
        list(fns["caption"](str(text), "", 5, 0, 1))  # a streaming handler: the error comes while iterating
    assert "text file" in info.value.message and info.value.title != "ZeroGPU worker error"
    assert zerogpu.pids  # it did run in the worker


def test_app_handlers_take_the_zerogpu_path(zerogpu: Any, tiny_settings: Settings, real_photos: dict) -> None:
    from mmdemo.ui import build_app

    demo = build_app(ModelManager(tiny_settings))
    fns = {f.api_name: f.fn for f in demo.fns.values() if f.api_name}
    *partial, caption = fns["caption"](real_photos["lion.jpg"], "", 5, 0, 1)  # streams from the worker
    assert partial and all(caption.startswith(text) for text in partial)  # greedy (1 beam): each a prefix
    assert len(zerogpu.pids) == 1 and zerogpu.calls == [30.0]
    fns["ocr"](real_photos["lion.jpg"], 0.5)
    assert len(zerogpu.pids) == 1  # OCR runs on the CPU: no GPU asked for

    from mmdemo.ui.text_to_image import gpu_seconds

    args = ("a red cube", "", 2, 0, "64x64", 2, 7, False, "auto", False)
    *previews, (gallery, seed, _notes) = fns["generate"](*args)  # PIL images come back pickled from the worker
    assert len(gallery) == 2 and seed == 7 and gallery[0][0].size == (64, 64)
    ((preview, preview_seed, line),) = previews  # 2 steps: one preview, after step 1 (tiny decoder on CPU)
    assert len(preview) == 2 and preview_seed == 7 and line == "Preview after step 1 of 2"
    assert zerogpu.calls[-1] == gpu_seconds(*args)
    assert gpu_seconds("x", "", 50, 0, "1024x1024", 4) > gpu_seconds("x", "", 4, 0, "512x512", 1)


def test_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).profile == "local"
    zero = Settings.from_env({"SPACES_ZERO_GPU": "true"})
    assert (zero.profile, zero.device, zero.preload) == ("zerogpu", "cuda", ("all",))
    assert Settings.from_env({"SPACES_ZERO_GPU": "true", "MMDEMO_DEVICE": "cpu"}).device == "cpu"  # env wins
    cpu_space = Settings.from_env({"SPACE_ID": "someone/mmdemo"})  # this machine has no GPU
    assert cpu_space.profile == "cpu" and cpu_space.max_generated_side <= 512 and cpu_space.rate_limit_per_minute
    assert Settings.from_env({}, profile="gpu").device == "cuda"
    with pytest.raises(InputError, match="profile"):
        Settings.from_env({"MMDEMO_PROFILE": "quantum"})


def _front_matter(readme: str) -> dict[str, Any]:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


@pytest.mark.parametrize("hardware", ["cpu-basic", "a10g-small", "zero-a10g"])
def test_space_folder(tmp_path: Path, hardware: str) -> None:
    out = write_space(tmp_path / "space", hardware=hardware)
    meta = _front_matter((out / "README.md").read_text())
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert (out / meta["app_file"]).is_file() and (out / "mmdemo" / "models" / "specs.py").is_file()
    assert (out / "packages.txt").read_text().split() == list(DEBIAN_PACKAGES) == ["fonts-wqy-microhei"]
    assert meta["suggested_hardware"] == hardware
    device = "cpu" if hardware.startswith("cpu") else "cuda"
    expected = {s.default_for(device) for s in SPECS.values() if not s.default_for(device).startswith("pip:")}
    assert set(meta["models"]) == expected == set(space_models(hardware))
    preload = {entry.split()[0]: entry.split()[1:] for entry in meta["preload_from_hub"]}
    assert sorted(preload) == meta["models"]
    for model_id, files in preload.items():  # pipelines: the files that load, as one comma-separated list
        assert files == ([",".join(preload_files(model_id))] if model_id in PIPELINE_COMPONENTS else [])
    requirements = [line.split("#")[0].strip() for line in (out / "requirements.txt").read_text().splitlines()]
    torch_lines = [line for line in requirements if line.startswith("torch")]
    indexes = [line for line in requirements if line.startswith("--")]
    tested_spaces = next(
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if "spaces==" in line
    )
    if hardware.startswith("zero"):
        assert torch_lines == [ZEROGPU_TORCH] and not indexes
        assert f"spaces>={tested_spaces.split('==')[1]}" in requirements  # at least the version the boot test runs
        assert meta["python_version"] in {"3.10", "3.12"}
    elif hardware.startswith("cpu"):  # torch's CPU build, the version the project pins (no 2.5 GB of CUDA wheels)
        assert torch_lines == [f"torch=={torch.__version__.split('+')[0]}+cpu"] and "spaces" not in requirements
        assert indexes == [f"--extra-index-url {CPU_TORCH_INDEX}"]
    else:  # a GPU Space: PyPI's Linux torch is the CUDA build
        assert torch_lines == [f"torch=={torch.__version__.split('+')[0]}"] and not indexes


def test_space_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["space", str(tmp_path / "s"), "--hardware", "t4-small"]) == 0
    assert json.loads(capsys.readouterr().out)["hardware"] == "t4-small"
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["space", str(tmp_path / "s"), "--hardware", "quantum"])
    assert exit_info.value.code == 2


def test_video_gpu_time_grows_with_length(tmp_path: Path) -> None:
    from gradio.media import get_video

    from mmdemo.ui.video_summary import gpu_seconds

    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert gpu_seconds(get_video("world.mp4"), 8) > gpu_seconds(str(tmp_path / "junk.mp4"), 8) > 0


@pytest.mark.parametrize("model_id", sorted(PIPELINE_COMPONENTS))
def test_preload_lists_the_files_a_pipeline_loads_and_nothing_else(model_id: str) -> None:
    """Full snapshots of these repos hold fp16 variants, ONNX exports and root checkpoints (SDXL's is
    several times what loads): the Space preloads one config and one weight file per component."""
    import diffusers

    files = preload_files(model_id)
    assert files[0] == "model_index.json" and len(files) == len(set(files))
    assert all("/" in name for name in files[1:])  # nothing from the root but the index
    assert not any("fp16" in name or name.endswith((".bin", ".onnx", ".ckpt")) for name in files)
    cls = {
        "stabilityai/sd-turbo": diffusers.StableDiffusionPipeline,
        "stabilityai/stable-diffusion-xl-base-1.0": diffusers.StableDiffusionXLPipeline,
    }[model_id]
    expected, _ = cls._get_signature_keys(cls)
    components = PIPELINE_COMPONENTS[model_id]
    assert set(expected) - set(cls._optional_components) <= set(components) <= set(expected)
    for name, (library, class_name) in components.items():
        assert hasattr(diffusers if library == "diffusers" else __import__(library), class_name)
        weights = [f for f in files if f.startswith(f"{name}/") and f.endswith(".safetensors")]
        assert len(weights) == (0 if "Scheduler" in class_name or "Tokenizer" in class_name else 1)


def test_verify_preload_names_files_the_hub_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    listed = {"stabilityai/sd-turbo": [*preload_files("stabilityai/sd-turbo"), "sd_turbo.safetensors"]}
    listed["stabilityai/stable-diffusion-xl-base-1.0"] = [
        f for f in preload_files("stabilityai/stable-diffusion-xl-base-1.0") if f != "tokenizer_2/vocab.json"
    ]
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda repo_id, **_: listed[repo_id])
    assert verify_preload([*sorted(listed), "Salesforce/blip-vqa-base"]) == [
        "stabilityai/stable-diffusion-xl-base-1.0: no file tokenizer_2/vocab.json"
    ]


def test_space_cli_verify_offline_says_so_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def unreachable(repo_id: str, **_: Any) -> list[str]:
        raise OSError("Cannot reach https://huggingface.co")

    monkeypatch.setattr(huggingface_hub, "list_repo_files", unreachable)
    assert cli_main(["space", str(tmp_path / "s"), "--hardware", "a10g-small", "--verify"]) == 1
    assert "could not check the preload lists against the Hub: Cannot reach" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_space_folder_leaves_the_test_kit_out(tmp_path: Path) -> None:
    out = write_space(tmp_path / "space", hardware="cpu-basic")
    assert (out / "mmdemo" / "models").is_dir() and not (out / "mmdemo" / "testing").exists()
    assert not list(out.rglob("__pycache__"))


def test_dockerfile_agrees_with_what_is_tested() -> None:
    """Read, not built (no Docker engine here): the image's Python is the one the tests run, torch is the pinned
    version with its own CUDA libraries, it runs as a user, says when it is healthy and serves on every interface."""
    import re
    import subprocess
    import sys

    text = (ROOT / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    assert args["PYTHON_VERSION"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert re.search(r"^FROM python:\$\{PYTHON_VERSION\}-slim", text, re.M)  # no CUDA in the base image to disagree
    torch_line = re.search(r"sed -n '([^']+)' requirements.txt", text)
    assert torch_line is not None
    picked = subprocess.run(
        ["sed", "-n", torch_line.group(1), str(ROOT / "requirements.txt")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert picked == [f"torch=={torch.__version__.split('+')[0]}"]  # the pinned torch, from TORCH_INDEX
    instructions = [line.split()[0] for line in text.splitlines() if line and not line[0].isspace() and line[0] != "#"]
    assert instructions[-4:] == ["USER", "EXPOSE", "HEALTHCHECK", "CMD"]  # as a user from here on
    copied = [line.split()[1] for line in text.splitlines() if line.startswith("COPY ")]
    sources = [path for path in copied if path.endswith(".py") or list((ROOT / path).rglob("*.py"))]
    compiled = re.search(r"^RUN python -m compileall -q (.+)$", text.split("\nUSER ", 1)[0], re.M)
    assert compiled and compiled.group(1).split() == sources, sources  # bytecode the user could not write
    assert re.search(r"^USER mmdemo$", text, re.M) and "useradd --create-home --uid 1000" in text
    assert "GRADIO_SERVER_NAME=0.0.0.0" in text and "GRADIO_SERVER_PORT=7860" in text
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\\&]+)", text)
    assert installed and installed.group(1).split() == list(DEBIAN_PACKAGES)  # what a Space gets (packages.txt)
    assert "http://127.0.0.1:7860/" in text.split("HEALTHCHECK", 1)[1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", "benchmarks", "mmdemo/testing"} <= set(ignored)
