"""The CPU fast path's 8-bit UNet forms (``Settings.cpu_unet_weights``; ``mmdemo.models.openvino``), ``int8`` and
``hybrid``, on the tiny SD pipeline: each made once from the float IR and then read from the cache by a new manager
(a restart), the float form with a note when NNCF is missing or quantization fails, each form's drift from PyTorch
float32, and the setting itself. bf16 is forced on so the tests run the same on any CPU; each test keeps its cache
in a temporary folder. NNCF is a development requirement (requirements-dev.txt): without it these are skipped."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import openvino
import pytest
import torch

nncf = pytest.importorskip("nncf", reason="NNCF is a development requirement (requirements-dev.txt)")

import mmdemo.models.device as manager_module  # noqa: E402
from mmdemo.errors import InputError  # noqa: E402
from mmdemo.models import openvino as ov_path  # noqa: E402
from mmdemo.models.manager import ModelManager  # noqa: E402
from mmdemo.settings import UNET_WEIGHTS, Settings  # noqa: E402

TOLERANCE = {"int8": 0.08, "hybrid": 0.10}
"""Each form's noise prediction against PyTorch float32 (relative L2) on the tiny UNet with bf16 inference
precision: the float form's bf16 rounding (``BF16_TOLERANCE`` of test_openvino.py, 6 %) plus 8-bit weights
(int8), plus 8-bit activation ranges measured on 12 calibration inputs (hybrid)."""
PARTS = "; text encoder and VAE decoder in OpenVINO"
PRECISION = {
    "int8": f"bfloat16 (OpenVINO UNet, 8-bit weights{PARTS})",
    "hybrid": f"bfloat16 (OpenVINO UNet, hybrid 8-bit{PARTS})",
}
"""What the Models panel's precision column says for each form."""
FORMS = pytest.mark.parametrize("form", ["int8", "hybrid"])


@pytest.fixture
def ov_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "openvino-cache"
    monkeypatch.setenv(ov_path.CACHE_ENV, str(root))
    return root


@pytest.fixture
def fast_settings(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(manager_module, "cpu_native_bf16", lambda: True)
    return tiny_settings.replace(cpu_fast_path=True)


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Spy on ``nncf.<name>`` (``compress_weights``, ``quantize``): one entry per call (the calibration set's size
    for ``quantize``, 0 for ``compress_weights``)."""
    calls: list[int] = []
    real = getattr(nncf, name)

    def spy(model: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("subset_size", 0))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(nncf, name, spy)
    return calls


def precision_note(manager: ModelManager) -> str:
    (row,) = [s for s in manager.status() if s.role == "text_to_image"]
    return str(row.dtype)


def op_counts(folder: Path) -> tuple[int, int]:
    """The IR in ``folder``: its FakeQuantize ops (quantized activations) and its 8-bit constants (weights)."""
    model = openvino.Core().read_model(folder / "unet.xml")
    ops = model.get_ops()
    fake = sum(op.get_type_name() == "FakeQuantize" for op in ops)
    eight = sum(op.get_type_name() == "Constant" and op.get_element_type().bitwidth == 8 for op in ops)
    return fake, eight


@FORMS
def test_each_form_is_made_once_and_read_after_a_restart(
    form: str, fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fast_settings.replace(cpu_unet_weights=form)
    compressed, quantized = counting(monkeypatch, "compress_weights"), counting(monkeypatch, "quantize")
    first = ModelManager(settings)
    with first.use("text_to_image") as handle:
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    calibration = len(ov_path.CALIBRATION_PROMPTS) * sum(ov_path.CALIBRATION_STEPS)  # one input per step
    assert len(compressed) == 1 and quantized == ([calibration] if form == "hybrid" else [])
    assert precision_note(first) == PRECISION[form]
    folders = sorted(p.name for p in ov_cache.rglob("unet-*") if p.is_dir())
    assert len(folders) == 2 and folders[1] == f"{folders[0]}-{form}-nncf{nncf.__version__}"  # float, then the form
    fake, eight = op_counts(next(ov_cache.rglob(folders[1])))
    assert eight > 0  # 8-bit weights: not the float form
    assert (fake > 0) == (form == "hybrid")  # activations quantized in the hybrid form only

    for name in ("compress_weights", "quantize"):
        monkeypatch.setattr(nncf, name, lambda *a, **k: pytest.fail("quantized again"))
    second = ModelManager(settings)  # a restart
    with second.use("text_to_image") as handle:
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    assert precision_note(second) == PRECISION[form]


@FORMS
def test_missing_nncf_falls_back_to_the_float_form_with_a_note(
    form: str,
    fast_settings: Settings,
    ov_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "nncf", None)  # `import nncf` raises ImportError
    manager = ModelManager(fast_settings.replace(cpu_unet_weights=form))
    with caplog.at_level(logging.WARNING, logger="mmdemo.models.openvino"), manager.use("text_to_image") as handle:
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    assert precision_note(manager) == f"bfloat16 (OpenVINO UNet; NNCF is not installed: float{PARTS})"
    assert "NNCF is not installed" in caplog.text
    assert [p.name for p in ov_cache.rglob("unet-*") if p.is_dir()] == [ov_path.cache_key(Path(
        fast_settings.models["text_to_image"]), "bf16")]  # fmt: skip


@pytest.mark.parametrize(("form", "failing"), [("int8", "compress_weights"), ("hybrid", "quantize")])
def test_failed_quantization_falls_back_and_leaves_nothing_half_made(
    form: str,
    failing: str,
    fast_settings: Settings,
    ov_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("quantization exploded (test)")

    monkeypatch.setattr(nncf, failing, fail)  # hybrid: after the calibration, the last step
    manager = ModelManager(fast_settings.replace(cpu_unet_weights=form))
    with caplog.at_level(logging.WARNING, logger="mmdemo.models.openvino"), manager.use("text_to_image") as handle:
        unet = handle.model.unet
        assert isinstance(unet, ov_path.OpenVINOUNet)
        out = unet(torch.randn(1, 4, 32, 32), torch.tensor(999.0), torch.randn(1, 77, 32)).sample
        assert out.shape == (1, 4, 32, 32)  # the float form works
    assert precision_note(manager) == f"bfloat16 (OpenVINO UNet; {form} quantization failed: float{PARTS})"
    assert "quantization exploded (test)" in caplog.text
    assert not [p for p in ov_cache.rglob(f"*{form}*") if p.is_dir()]  # no half-made form to be read later


@FORMS
def test_noise_prediction_within_bound_of_pytorch(
    form: str, fast_settings: Settings, tiny_model_dirs: dict[str, Path], ov_cache: Path
) -> None:
    from diffusers import UNet2DConditionModel

    reference = UNet2DConditionModel.from_pretrained(tiny_model_dirs["text_to_image"] / "unet").eval()
    manager = ModelManager(fast_settings.replace(cpu_unet_weights=form))
    generator = torch.Generator().manual_seed(0)
    with manager.use("text_to_image") as handle:
        unet = handle.model.unet
        text = handle.model.encode_prompt("a red bus", torch.device("cpu"), 1, False)[0].float()
        for timestep in (999.0, 499.0):
            sample = torch.randn(1, 4, 32, 32, generator=generator)
            with torch.no_grad():
                expected = reference(sample, torch.tensor(timestep), text, return_dict=False)[0]
            got = unet(sample, torch.tensor(timestep), text).sample
            difference = float((got - expected).norm() / expected.norm())
            assert difference < TOLERANCE[form], (timestep, difference)


def test_the_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).cpu_unet_weights == Settings().cpu_unet_weights
    assert Settings.from_env({"MMDEMO_CPU_UNET_WEIGHTS": " Hybrid "}).cpu_unet_weights == "hybrid"
    assert set(UNET_WEIGHTS) == {"float", *ov_path.QUANTIZE_COST}  # every form but float is made by quantizing
    with pytest.raises(InputError, match="Unknown UNet weights 'int4'"):
        Settings.from_env({"MMDEMO_CPU_UNET_WEIGHTS": "int4"})
