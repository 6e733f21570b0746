"""Spaces deployment: hardware profiles, the ZeroGPU decorator (with a stand-in `spaces` package), the Space folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import gradio
import pytest
import yaml

from mmdemo.cli import main as cli_main
from mmdemo.deploy import ZEROGPU_TORCH, gpu, space_models, write_space, zerogpu_active
from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.models.specs import SPECS
from mmdemo.settings import Settings

FAKE_SPACES = '''
"""Stand-in for Hugging Face's `spaces` package: records what @spaces.GPU receives."""
import functools

calls = []


def GPU(fn=None, *, duration=60):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            calls.append({"fn": fn.__name__, "args": args, "duration": seconds})
            return fn(*args, **kwargs)

        wrapper.zerogpu = True
        return wrapper

    return decorate(fn) if fn is not None else decorate
'''


@pytest.fixture
def fake_spaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    import spaces

    yield spaces
    sys.modules.pop("spaces", None)


def test_gpu_is_a_no_op_off_zerogpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(x: int) -> int:
        return x

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not zerogpu_active()
    assert gpu(30)(handler) is handler
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # flag without the package (e.g. a local copy): still a no-op
    if not zerogpu_active():
        assert gpu(30)(handler) is handler


def test_gpu_uses_spaces_and_duration_gets_the_inputs(fake_spaces: Any) -> None:
    assert zerogpu_active()

    @gpu(duration=lambda prompt, steps: 2.0 * steps)
    def generate(prompt: str, steps: int) -> str:
        return prompt * steps

    assert generate.zerogpu
    assert generate("ab", 3) == "ababab"
    assert fake_spaces.calls[-1] == {"fn": "generate", "args": ("ab", 3), "duration": 6.0}


def test_app_handlers_take_the_zerogpu_path(fake_spaces: Any, tiny_settings: Settings, real_photos: dict) -> None:
    from mmdemo.ui import build_app

    demo = build_app(ModelManager(tiny_settings))
    fns = {f.api_name: f.fn for f in demo.fns.values() if f.api_name}
    caption = fns["caption"](real_photos["lion.jpg"], "", 5, 0, 1)
    assert isinstance(caption, str)
    call = next(c for c in fake_spaces.calls if c["fn"] == "caption")
    assert call["args"][0] == real_photos["lion.jpg"] and call["duration"] > 0
    assert not any(c["fn"] == "read" for c in fake_spaces.calls)  # OCR runs on the CPU: no GPU asked for

    from mmdemo.ui.text_to_image import gpu_seconds

    args = ("a red cube", "", 2, 0, 64, 64, 2, 7, False, "auto", False)
    gallery, seed, _notes = fns["generate"](*args)
    assert len(gallery) == 2 and seed == 7
    call = next(c for c in fake_spaces.calls if c["fn"] == "generate")
    assert call["args"][:7] == args[:7] and call["duration"] == gpu_seconds(*args)
    assert gpu_seconds("x", "", 50, 0, 1024, 1024, 4) > gpu_seconds("x", "", 4, 0, 512, 512, 1)


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
    assert meta["suggested_hardware"] == hardware
    device = "cpu" if hardware.startswith("cpu") else "cuda"
    expected = {s.default_for(device) for s in SPECS.values() if not s.default_for(device).startswith("pip:")}
    assert set(meta["models"]) == expected == set(space_models(hardware))
    assert meta["preload_from_hub"] == meta["models"]
    requirements = [line.split("#")[0].strip() for line in (out / "requirements.txt").read_text().splitlines()]
    torch_lines = [line for line in requirements if line.startswith("torch")]
    if hardware.startswith("zero"):
        assert torch_lines == [ZEROGPU_TORCH] and "spaces" in requirements
        assert meta["python_version"] in {"3.10", "3.12"}
    else:
        assert torch_lines == ["torch==2.13.0"] and "spaces" not in requirements


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
