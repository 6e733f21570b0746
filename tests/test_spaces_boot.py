"""The generated Space, started as Hugging Face starts it: ``python app.py`` in the Space folder with the variables
Spaces sets (a CPU Space, and a ZeroGPU Space with the real ``spaces`` package over a CUDA-build torch, see
mmdemo/testing/spaces.py), reached on every interface and serving real requests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmdemo.deploy import write_space
from mmdemo.models.specs import SPECS
from mmdemo.settings import role_env_var
from mmdemo.testing.server import free_port
from mmdemo.testing.spaces import CUDA_BUILD, DeviceAPI, listening, spaces_environment

pytestmark = pytest.mark.usefixtures("app_process")  # every test starts a Space's `python app.py`
SIGN = Path(__file__).resolve().parents[1] / "assets" / "images" / "thanks-for-watching.jpg"


@contextlib.contextmanager
def booted(folder: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """``python app.py`` in ``folder`` with exactly ``env`` until its page answers; yields its URL."""
    port = int(env["GRADIO_SERVER_PORT"])
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the Space did not serve its page within 180 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def space_env(tmp_path: Path, tiny_model_dirs: dict[str, Path], **spaces: object) -> dict[str, str]:
    """The process environment of a Space whose variables point the roles at the tiny models (there is no Hub
    here: ``HF_HUB_OFFLINE``); nothing of this test process leaks in but PATH and the locale."""
    env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL") if key in os.environ}
    env.update(spaces_environment("someone/mmdemo", free_port(), **spaces))  # type: ignore[arg-type]
    env.update({role_env_var(role): str(path) for role, path in tiny_model_dirs.items()})
    env.update(HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    return env


def read_sign(url: str) -> str:
    from gradio_client import Client, handle_file

    _, text, _ = Client(url, verbose=False).predict(handle_file(str(SIGN)), 0.5, api_name="/ocr")
    return text


def test_cpu_space_listens_on_every_interface_and_serves(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    folder = write_space(tmp_path / "space", hardware="cpu-basic")
    env = space_env(tmp_path, tiny_model_dirs)
    with booted(folder, env, tmp_path / "app.log") as url:
        assert listening(int(env["GRADIO_SERVER_PORT"])) == {"0.0.0.0"}
        assert "THANKS FOR WATCHING" in read_sign(url)
        from gradio_client import Client, handle_file

        caption = Client(url, verbose=False).predict(handle_file(str(SIGN)), "", 8, 0, 1, api_name="/caption")
        assert caption.strip()  # the tiny captioner loaded and ran (CPU fast path, as the Space runs it)
    assert "profile cpu, device cpu" in (tmp_path / "app.log").read_text()  # Spaces' CPU defaults were applied


def test_zerogpu_space_imports_spaces_first_and_places_models_on_its_cuda(
    tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    folder = write_space(tmp_path / "space", hardware="zero-a10g")
    imports = tmp_path / "imports.txt"
    with DeviceAPI() as api:
        env = space_env(tmp_path, tiny_model_dirs, zerogpu=True, device_api=api.url)
        env.update(
            PYTHONPATH=str(CUDA_BUILD),  # torch as the CUDA build a ZeroGPU Space has (no GPU in the main process)
            CUDA_BUILD_IMPORT_LOG=str(imports),
            ZEROGPU_OFFLOAD_DIR=str(tmp_path / "zerogpu-tensors"),
        )
        with booted(folder, env, tmp_path / "app.log") as url:
            assert listening(int(env["GRADIO_SERVER_PORT"])) == {"0.0.0.0"}
            assert "THANKS FOR WATCHING" in read_sign(url)  # OCR runs on the CPU: no GPU asked for
        log = (tmp_path / "app.log").read_text()
    first, *later = imports.read_text().split()
    assert first == "spaces" and sorted(later) == ["gradio", "torch"]  # spaces first: it imports them itself
    assert ("POST", "/startup-report") in api.requests  # spaces packed the models and reported to the platform
    assert any((tmp_path / "zerogpu-tensors").iterdir())  # … packed here, for the GPU attached per call
    assert "preload of" not in log and "PyTorch sees no CUDA GPU" not in log, log[-3000:]
    for role, spec in SPECS.items():  # every model that can use the GPU was placed on ZeroGPU's device
        placed = f"loaded {role} ("
        lines = [line for line in log.splitlines() if placed in line]
        assert lines, f"{role} was not preloaded:\n{log[-3000:]}"
        assert (" on cpu " if spec.cpu_only else " on cuda:0 ") in lines[0], lines[0]
