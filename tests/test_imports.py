"""Start-up imports nothing heavy: what ``python app.py`` imports and builds before it serves (default settings,
no Ray address) leaves torch, the model libraries and Ray for later — the background import once the UI is served
(:meth:`~mmdemo.models.manager.ModelManager.warm_imports`), a first request, or ``--ray-address``.
``benchmarks/startup_import.py`` measures what that saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.models.device import known_device_type
from mmdemo.models.specs import SPECS

ROOT = Path(__file__).resolve().parent.parent

LATER = sorted(
    {name.partition(":")[0].split(".")[0] for spec in SPECS.values() for name in spec.imports}
    | {"ray", "openvino", "ctranslate2", "onnxruntime", "av", "soundfile", "soxr", "jiwer", "safetensors"}
)
"""The model loaders' libraries (each spec's ``imports``) and the other libraries the app imports where it uses
them (Ray, OpenVINO, CTranslate2, media decoders, metrics)."""


@pytest.fixture(scope="module")
def imported() -> set[str]:
    """Top-level packages in ``sys.modules`` after the app's imports and UI build, in a fresh process."""
    code = (
        "import json, sys\n"
        "import mmdemo.zerogpu, mmdemo.launcher, mmdemo.runtime, mmdemo.ui\n"
        "from mmdemo import launcher, runtime\n"
        "settings = launcher.settings_from_args(launcher.build_parser().parse_args([]))\n"
        "launcher.build(runtime.configure(settings))\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_ui_is_built_without_the_model_libraries_or_ray(imported: set[str]) -> None:
    assert "gradio" in imported and "mmdemo" in imported  # the build ran
    assert sorted(imported.intersection(LATER)) == []


def test_the_ui_is_built_without_torch(imported: set[str]) -> None:
    """The UI needs only the device's type (model defaults, the step limit): ``ModelManager.device_type`` reads
    it off the host (a CPU build of torch here), so torch waits for the background import."""
    if known_device_type("auto") is None:
        pytest.skip("a GPU may be usable here: only torch can tell its type, so the UI build imports it")
    assert "torch" not in imported
