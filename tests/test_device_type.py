"""The device type without importing torch (:func:`~mmdemo.models.device.known_device_type`): it may say
``cpu`` only where torch would, and says nothing (None: ask torch) where a GPU may be usable. Fake hosts are
folders standing for ``/`` with a ``torch/version.py`` of the build under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.errors import MMDemoError
from mmdemo.models.device import GPU_MARKERS, Host, known_device_type, resolve_device, torch_build
from mmdemo.models.manager import Accelerator, ModelManager
from mmdemo.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

CPU_BUILD = """from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
__version__ = '2.13.0+cpu'
debug = False
cuda: Optional[str] = None
git_version = 'cf30153c4c131c8164ee7798e5022d810682e2cb'
hip: Optional[str] = None
rocm: Optional[str] = None
xpu: Optional[str] = None
"""
CUDA_BUILD = CPU_BUILD.replace("+cpu", "+cu128").replace("cuda: Optional[str] = None", "cuda: Optional[str] = '12.8'")
ROCM_BUILD = CPU_BUILD.replace("+cpu", "+rocm6.4").replace("hip: Optional[str] = None", "hip = '6.4.43482'")


def host(
    tmp_path: Path,
    version: str | None,
    *,
    markers: tuple[str, ...] = (),
    pci_vendors: tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
    platform: str = "linux",
) -> Host:
    """A host whose torch has ``version`` as its ``version.py`` (None: torch not installed), with the given
    GPU traces under its root and PCI devices of the given vendors."""
    root = tmp_path / "root"
    root.mkdir(parents=True)
    for marker in markers:
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).touch()
    for i, vendor in enumerate(pci_vendors):
        device = root / f"sys/bus/pci/devices/0000:00:{i:02x}.0"
        device.mkdir(parents=True)
        (device / "vendor").write_text(f"{vendor}\n")
    version_file = None
    if version is not None:
        version_file = tmp_path / "torch/version.py"
        version_file.parent.mkdir(parents=True)
        version_file.write_text(version)
    return Host(version_file=version_file, root=root, environ=environ or {}, platform=platform)


def test_the_build_is_read_from_torch_version_py(tmp_path: Path) -> None:
    path = tmp_path / "version.py"
    for text, build in [
        (CPU_BUILD, {"cuda": None, "hip": None}),
        (CUDA_BUILD, {"cuda": "12.8", "hip": None}),
        (ROCM_BUILD, {"cuda": None, "hip": "6.4.43482"}),
        ("cuda = '11.8'\nhip = None\n", {"cuda": "11.8", "hip": None}),  # older files: no annotations
        ("cuda = _from_cmake()\nhip = None\n", None),  # not a literal: unknown
        ("cuda = None\n", None),  # no hip: not a file we know
        ("cuda = None\nhip = None\nif", None),  # not Python
    ]:
        path.write_text(text)
        assert torch_build(path) == build, text
    assert torch_build(tmp_path / "missing.py") is None
    assert torch_build(None) is None


def test_a_cpu_build_runs_on_the_cpu_off_macos(tmp_path: Path) -> None:
    linux = host(tmp_path, CPU_BUILD, markers=GPU_MARKERS, pci_vendors=("0x10de",))  # a GPU it cannot use
    assert [known_device_type(s, linux) for s in ("auto", "AUTO", "cpu", "cuda", "cuda:1", "mps")] == [
        "cpu",
        "cpu",
        "cpu",
        None,  # cannot be had: resolve_device says so
        None,
        None,
    ]
    mac = Host(version_file=linux.version_file, root=linux.root, environ={}, platform="darwin")
    assert [known_device_type(s, mac) for s in ("auto", "cpu", "mps", "cuda")] == [None, "cpu", "mps", None]


def test_a_cuda_build_without_a_gpu_runs_on_the_cpu(tmp_path: Path) -> None:
    bare = host(tmp_path, CUDA_BUILD, pci_vendors=("0x8086", "0x1af4", "0x1002"))  # Intel, virtio, an AMD GPU
    assert [known_device_type(s, bare) for s in ("auto", "cuda", "cuda:0", "cpu")] == ["cpu", None, None, "cpu"]


@pytest.mark.parametrize("marker", GPU_MARKERS)
def test_a_cuda_build_with_gpu_traces_asks_torch(tmp_path: Path, marker: str) -> None:
    gpu = host(tmp_path, CUDA_BUILD, markers=(marker,))
    assert [known_device_type(s, gpu) for s in ("auto", "cuda", "cuda:1", "cpu")] == [None, "cuda", "cuda", "cpu"]


def test_an_nvidia_pci_device_asks_torch(tmp_path: Path) -> None:
    """A GPU whose driver is not loaded yet: CUDA loads it on first use (nvidia-modprobe)."""
    gpu = host(tmp_path, CUDA_BUILD, pci_vendors=("0x8086", "0x10de"))
    assert [known_device_type(s, gpu) for s in ("auto", "cuda")] == [None, "cuda"]


def test_a_rocm_build_looks_for_amd(tmp_path: Path) -> None:
    assert known_device_type("auto", host(tmp_path / "a", ROCM_BUILD, pci_vendors=("0x10de",))) == "cpu"
    assert known_device_type("auto", host(tmp_path / "b", ROCM_BUILD, pci_vendors=("0x1002",))) is None
    assert known_device_type("auto", host(tmp_path / "c", ROCM_BUILD, markers=("dev/kfd",))) is None
    # HIP's own variables are not read: with CUDA_VISIBLE_DEVICES alone, torch decides
    hidden = host(tmp_path / "d", ROCM_BUILD, markers=("dev/kfd",), environ={"CUDA_VISIBLE_DEVICES": ""})
    assert known_device_type("auto", hidden) is None


@pytest.mark.parametrize(
    ("visible", "device_type"),
    [("", "cpu"), (" ", "cpu"), ("-1", "cpu"), ("-1,0", "cpu"), ("0", None), ("1,0", None), ("GPU-8d1f", None)],
)
def test_cuda_visible_devices_can_hide_every_gpu(tmp_path: Path, visible: str, device_type: str | None) -> None:
    gpu = host(tmp_path, CUDA_BUILD, markers=GPU_MARKERS, environ={"CUDA_VISIBLE_DEVICES": visible})
    assert known_device_type("auto", gpu) == device_type


def test_where_nothing_can_be_read_torch_is_asked(tmp_path: Path) -> None:
    windows = host(tmp_path / "a", CUDA_BUILD, platform="win32")  # no /dev, /proc or /sys to read
    assert [known_device_type(s, windows) for s in ("auto", "cuda", "cpu")] == [None, "cuda", "cpu"]
    no_torch = host(tmp_path / "b", None)
    assert [known_device_type(s, no_torch) for s in ("auto", "cuda", "cpu")] == [None, "cuda", "cpu"]
    no_sys = host(tmp_path / "c", CUDA_BUILD)  # a root without /sys/bus/pci: a GPU may hide there
    assert known_device_type("auto", no_sys) is None


def test_this_host_agrees_with_torch_without_importing_it() -> None:
    """Here, in a fresh process: the installed torch's build as torch states it, and ``auto`` (when known) is
    the type of the device torch resolves, torch imported only to compare."""
    code = (
        "import json, sys\n"
        "from mmdemo.models.device import Host, known_device_type, torch_build\n"
        "known = {s: known_device_type(s) for s in ('auto', 'cpu')}\n"
        "build, imported = torch_build(Host().version_file), 'torch' in sys.modules\n"
        "import torch\n"
        "from mmdemo.models.device import resolve_device\n"
        "print(json.dumps([known, build, imported, {'cuda': torch.version.cuda, 'hip': torch.version.hip},"
        " resolve_device('auto').type]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    known, build, imported, torch_says, resolved = json.loads(out.stdout.splitlines()[-1])
    assert imported is False
    assert build == torch_says
    assert known["cpu"] == "cpu"
    assert known["auto"] in (None, resolved)
    if build == {"cuda": None, "hip": None} and sys.platform == "linux":  # this machine's CPU wheel
        assert known["auto"] == "cpu"


def test_the_manager_gives_the_type_without_resolving_the_device() -> None:
    torch = pytest.importorskip("torch")
    manager = ModelManager(Settings(device="cpu"))
    assert manager.device_type == "cpu"
    assert manager._accelerator is None  # not resolved: no torch needed for the type
    assert manager.model_id("captioner") == manager.spec("captioner").default_for("cpu")
    # once resolved, the device's own type wins
    placed = ModelManager(Settings(device="cpu"), accelerator=Accelerator(torch.device("meta"), torch.float32, {}))
    assert placed.device_type == "meta"
    auto = ModelManager(Settings(device="auto"))
    assert auto.device_type == resolve_device("auto").type


def test_an_explicit_gpu_that_cannot_be_had_fails_as_before() -> None:
    """Where no GPU can be used the type is not guessed: the device is resolved, and says why not."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or known_device_type("cuda") is not None:
        pytest.skip("a CUDA GPU may be usable here")
    with pytest.raises(MMDemoError, match="Device 'cuda' was requested but PyTorch sees no CUDA GPU"):
        _ = ModelManager(Settings(device="cuda")).device_type
