"""The OpenVINO UNet of the CPU fast path (``mmdemo.models.openvino``) on the tiny SD pipeline: converted once
and then read from its cache, the PyTorch fallback with its note, its output against the PyTorch UNet on the
same inputs, an image end to end, and what the Models panel says. The fast path is on only here (conftest
pins the float32 PyTorch path for the rest of the suite); bf16 is forced on so the tests run the same on
any CPU. Every test keeps its OpenVINO cache in a temporary folder (``MMDEMO_OPENVINO_CACHE``)."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openvino
import pytest
import torch

import mmdemo.models.device as manager_module
from mmdemo.models import conversion, sizes
from mmdemo.models import openvino as ov_path
from mmdemo.models import openvino_parts as ov_parts
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.text_to_image import generate_images
from mmdemo.ui.models_panel import status_rows

PARTS = "text encoder and VAE decoder"
"""The pipeline's parts beside the UNet that the fast path runs in OpenVINO (the precision text names them)."""
FLOAT32_TOLERANCE = 1e-4
"""OpenVINO f32 against PyTorch float32, relative L2 difference of the noise prediction: summation order only."""
BF16_TOLERANCE = 0.06
"""OpenVINO bf16 inference precision against PyTorch float32 on float32 inputs: bf16 keeps 8 bits of mantissa;
measured 4.0 % here on the tiny UNet (PyTorch's own bf16: 3.3 % on the same inputs), 5.4 % on the 866 M-parameter
SD-Turbo replica at 512² (benchmarks/openvino_unet.py)."""


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path's dtype is bf16 whatever CPU runs the tests (the manager asks this probe)."""
    monkeypatch.setattr(manager_module, "cpu_native_bf16", lambda: True)


@pytest.fixture
def ov_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "openvino-cache"
    monkeypatch.setenv(ov_path.CACHE_ENV, str(root))
    return root


@pytest.fixture(scope="module")
def ov_shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache for the tests that do not count conversions (each tiny conversion takes seconds)."""
    root = tmp_path_factory.mktemp("openvino-shared")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ov_path.CACHE_ENV, str(root))
        yield root


@pytest.fixture
def fast_settings(tiny_settings: Settings, native_bf16: None) -> Settings:
    return tiny_settings.replace(cpu_fast_path=True)


def counting_convert(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Spy on ``openvino.convert_model``: one entry per conversion."""
    calls: list[float] = []
    real = openvino.convert_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(openvino, "convert_model", spy)
    return calls


def counting_parameters(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Spy on the parameter count read from the UNet's safetensors headers: one entry per count."""
    counted: list[Path] = []
    real = sizes.estimate_weight_bytes

    def spy(folder: Path, bytes_per_param: int, *args: Any, **kwargs: Any) -> int:
        if bytes_per_param == 1:  # the conversion's count (the manager sizes models in bytes per dtype)
            counted.append(Path(folder))
        return real(folder, bytes_per_param, *args, **kwargs)

    monkeypatch.setattr(sizes, "estimate_weight_bytes", spy)
    return counted


def failing_convert(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("conversion exploded (test)")

    monkeypatch.setattr(openvino, "convert_model", fail)


# ------------------------------------------------------------------------------------ the cache


def test_converts_once_then_loads_from_the_cache(
    fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_convert(monkeypatch)
    counted = counting_parameters(monkeypatch)
    first = ModelManager(fast_settings)
    with first.use("text_to_image") as handle:
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
        assert handle.dtype == torch.bfloat16
        assert isinstance(handle.model.text_encoder, ov_parts.OpenVINOTextEncoder)
        assert isinstance(handle.model.vae.decoder, ov_parts.OpenVINODecoder)
    assert len(calls) == 3  # the UNet, the text encoder, the VAE decoder
    assert [p.name for p in counted] == ["unet", "text_encoder", "vae"]  # counted once each, for the conversion
    (folder,) = [p for p in ov_cache.rglob("unet-*") if p.is_dir()]
    assert "-w16-" in folder.name and "dynamic" in folder.name  # bf16: fp16 weights on disk, every shape
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "unet.bin", "unet.xml"]
    parts = sorted(p.name.rsplit("-", 4)[0] for p in folder.parent.iterdir() if p.is_dir() and p != folder)
    assert parts == ["text-encoder", "vae-decoder"]
    for part in folder.parent.glob("[tv]*-*"):
        assert sorted(p.name for p in part.iterdir()) == ["meta.json", "model.bin", "model.xml"]
    assert not [p for p in ov_cache.rglob("*.tmp")]  # the scratch folder was renamed into place

    failing_convert(monkeypatch)  # a second load must not convert
    second = ModelManager(fast_settings)
    with second.use("text_to_image", lambda fraction, message: None) as handle:  # a bar waits, yet nothing to do
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    (row,) = [s for s in second.status() if s.role == "text_to_image"]
    assert row.dtype == f"bfloat16 (OpenVINO UNet; {PARTS} in OpenVINO)"
    assert len(calls) == 3
    assert len(counted) == 3  # the headers are read for the estimate only when a part converts


def test_first_load_moves_the_bar_while_converting(fast_settings: Settings, ov_cache: Path) -> None:
    """The load's own progress callback gets the conversion's ticks (conversion.reporting, tested with a fake
    conversion in test_conversion_progress.py) between "Preparing" and "ready", and the time is recorded."""
    calls: list[tuple[float, str]] = []
    manager = ModelManager(fast_settings)
    with manager.use("text_to_image", lambda fraction, message: calls.append((fraction, str(message)))) as handle:
        assert isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    converting = [f for f, m in calls if m.startswith("Converting the text to image model for this CPU (once): ")]
    assert len(converting) >= 2  # every 0.5 s of a conversion of seconds
    assert all(0.3 <= f < 0.8 for f in converting)  # its share of the load's bar, never the end
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and calls[-1] == (1.0, "Text to image model ready")
    assert not [t for t in threading.enumerate() if t.name == "mmdemo-conversion-progress"]
    (times,) = ov_cache.rglob(conversion.TIMES_FILE)
    runs = json.loads(times.read_text())["runs"]
    assert runs[0]["parameters"] == 253_364  # the tiny UNet's, from its safetensors header
    assert len(runs) == 3  # then the text encoder's and the VAE decoder's


def test_cache_key_follows_the_revision(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    snapshot = tmp_path / "hub" / "models--org--sd" / "snapshots" / "0123456789abcdef0123"
    snapshot.mkdir(parents=True)
    assert ov_path.model_revision(snapshot) == "0123456789abcdef0123"
    folder = tmp_path / "plain"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"x" * 10)
    before = ov_path.cache_key(folder, "bf16")
    assert before != ov_path.cache_key(folder, "f32")
    weights.write_bytes(b"y" * 11)  # new weights: a new conversion
    assert ov_path.cache_key(folder, "bf16") != before


def test_cache_lives_beside_the_model_else_in_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ov_path.CACHE_ENV, raising=False)
    snapshot = tmp_path / "hub" / "models--org--sd" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    assert ov_path.cache_root(snapshot) == snapshot.parent.parent / "mmdemo-openvino"  # outside snapshots/
    plain = tmp_path / "my-model"
    plain.mkdir()
    assert ov_path.cache_root(plain) == plain / "openvino"
    monkeypatch.setattr(conversion, "writable", lambda path: False)  # a read-only model folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = ov_path.cache_root(plain)
    assert root.parent == tmp_path / "xdg" / "mmdemo" / "openvino" and root.name.startswith("my-model-")


def test_concurrent_loads_convert_once_and_leftovers_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file lock serialises converters; the second finds the finished IR. An incomplete folder (a crash
    before the rename) does not count as cached."""
    monkeypatch.setenv(ov_path.CACHE_ENV, str(tmp_path / "cache"))
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    leftover = ov_path.cache_root(folder) / ov_path.cache_key(folder, "bf16")
    leftover.mkdir(parents=True)
    (leftover / "unet.xml").write_text("half")
    converted: list[int] = []

    def fake_convert(out: Path) -> None:
        converted.append(threading.get_ident())
        time.sleep(0.3)
        for name in ("unet.xml", "unet.bin", "meta.json"):
            (out / name).write_text("ok")

    results: list[tuple[Path, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(ov_path.converted_unet(folder, "bf16", fake_convert)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(converted) == 1
    assert sorted(done for _, done in results) == [False, True]
    assert (leftover / "unet.xml").read_text() == "ok"

    def broken(out: Path) -> None:
        (out / "unet.xml").write_text("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        ov_path.converted_unet(folder, "f32", broken)
    assert not (ov_path.cache_root(folder) / ov_path.cache_key(folder, "f32")).exists()
    assert not list(ov_path.cache_root(folder).glob("*.tmp"))


# --------------------------------------------------------------------------------- the fallback


def test_failed_conversion_falls_back_to_pytorch_with_a_note(
    fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from diffusers import UNet2DConditionModel

    failing_convert(monkeypatch)
    manager = ModelManager(fast_settings)
    with caplog.at_level(logging.WARNING, logger="mmdemo.models.openvino"):
        result = generate_images("a red bus", steps=1, guidance_scale=1.0, seed=3, clip_score=False, manager=manager)
    assert result.images[0].image.size == (64, 64)
    with manager.use("text_to_image") as handle:
        assert isinstance(handle.model.unet, UNet2DConditionModel)
        assert handle.model.unet.dtype == torch.bfloat16  # PyTorch in the fast path's dtype
    (row,) = [s for s in manager.status() if s.role == "text_to_image"]
    assert row.dtype == "bfloat16 (PyTorch: OpenVINO conversion failed)"
    assert "conversion exploded (test)" in caplog.text  # the detail goes to the log
    assert not list(ov_cache.rglob("unet-*"))  # nothing half-written is left to be read later


def test_missing_openvino_falls_back(fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "openvino", None)  # `import openvino` raises ImportError
    manager = ModelManager(fast_settings)
    with manager.use("text_to_image"):
        pass
    (row,) = [s for s in manager.status() if s.role == "text_to_image"]
    assert row.dtype == "bfloat16 (PyTorch: OpenVINO is not installed)"


def test_unsupported_unet_is_refused_before_converting() -> None:
    with pytest.raises(ov_path.UnsupportedUNet, match="addition_embed_type"):
        ov_path.check_supported({"addition_embed_type": "text_time"})  # SDXL
    ov_path.check_supported({"addition_embed_type": None, "time_cond_proj_dim": 256})  # LCM: supported


# ----------------------------------------------------------------------- numbers and the app


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", FLOAT32_TOLERANCE), ("bfloat16", BF16_TOLERANCE)])
def test_noise_prediction_within_tolerance_of_pytorch(
    tiny_settings: Settings, tiny_model_dirs: dict[str, Path], ov_shared_cache: Path, dtype: str, tolerance: float
) -> None:
    """Same inputs to the OpenVINO UNet and the float32 PyTorch UNet, at sizes and batches the trace never
    saw, including a latent side that is not a multiple of the UNet's upsampling factor."""
    from diffusers import UNet2DConditionModel

    manager = ModelManager(tiny_settings.replace(cpu_fast_path=True, dtype=dtype))
    reference = UNet2DConditionModel.from_pretrained(tiny_model_dirs["text_to_image"] / "unet").eval()
    generator = torch.Generator().manual_seed(0)
    with manager.use("text_to_image") as handle:
        unet = handle.model.unet
        assert isinstance(unet, ov_path.OpenVINOUNet)
        assert unet.precision == {"float32": "f32", "bfloat16": "bf16"}[dtype]  # its own conversion (key)
        for batch, height, width in [(1, 32, 32), (2, 36, 44), (3, 33, 31)]:
            sample = torch.randn(batch, 4, height, width, generator=generator)
            text = torch.randn(batch, 77, 32, generator=generator)
            timestep = torch.tensor(901.0)
            with torch.no_grad():
                expected = reference(sample, timestep, text, return_dict=False)[0]
            got = unet(sample, timestep, text).sample  # float32 in and out: only OpenVINO's precision differs
            assert got.shape == expected.shape and got.dtype == torch.float32
            assert relative_difference(got, expected) < tolerance, (batch, height, width)
            (in_pipeline_dtype,) = unet(sample.to(handle.dtype), timestep, text.to(handle.dtype), return_dict=False)
            assert in_pipeline_dtype.dtype == handle.dtype  # what the pipeline's scheduler gets back


def test_image_end_to_end_and_the_models_panel(fast_settings: Settings, ov_shared_cache: Path) -> None:
    manager = ModelManager(fast_settings)
    result = generate_images(
        "a lighthouse on a cliff", steps=2, guidance_scale=3.0, width=72, height=64, num_images=2, seed=5,
        manager=manager,
    )  # fmt: skip
    assert [g.image.size for g in result.images] == [(72, 64), (72, 64)]
    pixels = [np.asarray(g.image).astype(int) for g in result.images]
    assert all(p.std() > 0 for p in pixels) and not np.array_equal(pixels[0], pixels[1])
    again = generate_images("a lighthouse on a cliff", steps=2, guidance_scale=3.0, width=72, height=64, seed=5,
                            manager=manager)  # fmt: skip
    assert np.abs(np.asarray(again.images[0].image).astype(int) - pixels[0]).max() <= 2  # same seed, same image
    rows = {row[0]: row for row in status_rows(manager)}
    title = manager.spec("text_to_image").title
    assert rows[title][4].split(" · ")[1] == f"bfloat16 (OpenVINO UNet; {PARTS} in OpenVINO)"  # where · precision
    (status,) = [s for s in manager.status() if s.role == "text_to_image"]
    ir = next(p for p in ov_shared_cache.rglob("unet.bin") if "-w16-" in p.parent.name)  # this manager's: bf16
    assert status.bytes >= ir.stat().st_size  # the compiled UNet counts against the memory budget


def test_fast_path_off_never_touches_openvino(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    failing_convert(monkeypatch)
    manager = ModelManager(tiny_settings)  # conftest: fast path off
    with manager.use("text_to_image") as handle:
        assert not isinstance(handle.model.unet, ov_path.OpenVINOUNet)
    (row,) = [s for s in manager.status() if s.role == "text_to_image"]
    assert row.dtype == "float32"


# ------------------------------------------------------------- the text encoder and the decoders


@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", FLOAT32_TOLERANCE), ("bfloat16", BF16_TOLERANCE)])
def test_the_other_parts_match_pytorch(
    tiny_settings: Settings, tiny_model_dirs: dict[str, Path], ov_shared_cache: Path, dtype: str, tolerance: float
) -> None:
    """The text encoder's states and both decoders' images against the float32 PyTorch modules, at batches and
    sizes the traces never saw."""
    from diffusers import AutoencoderKL, AutoencoderTiny
    from transformers import CLIPTextModel

    folder = tiny_model_dirs["text_to_image"]
    manager = ModelManager(tiny_settings.replace(cpu_fast_path=True, dtype=dtype))
    generator = torch.Generator().manual_seed(1)
    with manager.use("text_to_image") as handle, manager.use("tiny_vae") as tiny, torch.no_grad():
        pipe = handle.model
        encoder = CLIPTextModel.from_pretrained(folder / "text_encoder").eval()
        ids = torch.randint(0, encoder.config.vocab_size, (2, 77), generator=generator)
        got = pipe.text_encoder(ids)[0]
        assert got.dtype == handle.dtype  # what the pipeline's prompt embeddings are cast to anyway
        assert relative_difference(got, encoder(ids).last_hidden_state) < tolerance
        vae = AutoencoderKL.from_pretrained(folder / "vae").eval()
        taesd = AutoencoderTiny.from_pretrained(tiny_model_dirs["tiny_vae"]).eval()
        assert isinstance(tiny.model.decoder, ov_parts.OpenVINODecoder)
        for batch, height, width in [(1, 8, 8), (2, 9, 7)]:
            latents = torch.randn(batch, 4, height, width, generator=generator)
            decoded = pipe.vae.decode(latents.to(handle.dtype), return_dict=False)[0]
            assert decoded.shape[0] == batch and decoded.dtype == handle.dtype
            assert relative_difference(decoded, vae.decode(latents, return_dict=False)[0]) < tolerance
            fast = tiny.model.decode(latents.to(tiny.dtype), return_dict=False)[0]
            assert relative_difference(fast, taesd.decode(latents, return_dict=False)[0]) < tolerance
    rows = {s.role: s.dtype for s in manager.status()}
    assert rows["tiny_vae"] == f"{dtype} (OpenVINO decoder)"


def test_a_part_that_fails_stays_in_pytorch(
    fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The VAE decoder's conversion fails: the image is still made (its decoder in PyTorch), the precision text
    says which part is where, the log has the detail, and nothing half-written is left."""
    from diffusers.models.autoencoders.vae import Decoder

    real = ov_parts.convert_part

    def fail_the_decoder(part: ov_parts.Part, *args: Any) -> None:
        if part is ov_parts.VAE_DECODER:
            raise RuntimeError("decoder conversion exploded (test)")
        real(part, *args)

    monkeypatch.setattr(ov_parts, "convert_part", fail_the_decoder)
    manager = ModelManager(fast_settings)
    with caplog.at_level(logging.WARNING, logger="mmdemo.models.openvino_parts"):
        result = generate_images("a red bus", steps=1, seed=3, decoder="full", clip_score=False, manager=manager)
    assert result.images[0].image.size == (64, 64) and result.decoder == "full"
    with manager.use("text_to_image") as handle:
        assert isinstance(handle.model.vae.decoder, Decoder)
        assert isinstance(handle.model.text_encoder, ov_parts.OpenVINOTextEncoder)
    (row,) = [s for s in manager.status() if s.role == "text_to_image"]
    assert row.dtype == "bfloat16 (OpenVINO UNet; text encoder in OpenVINO; VAE decoder in PyTorch)"
    assert "decoder conversion exploded (test)" in caplog.text
    assert not list(ov_cache.rglob("vae-decoder-*"))


def test_the_tiny_decoder_converts_once_and_falls_back(
    fast_settings: Settings, ov_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_convert(monkeypatch)
    with ModelManager(fast_settings).use("tiny_vae") as tiny:
        assert isinstance(tiny.model.decoder, ov_parts.OpenVINODecoder)
    assert len(calls) == 1
    (folder,) = [p for p in ov_cache.rglob("taesd-*") if p.parent.parent == ov_cache]  # <model tag>/<key>
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.bin", "model.xml"]
    failing_convert(monkeypatch)
    restarted = ModelManager(fast_settings)  # a restart reads the cached IR
    with restarted.use("tiny_vae") as tiny:
        assert isinstance(tiny.model.decoder, ov_parts.OpenVINODecoder)
    assert len(calls) == 1
    shutil.rmtree(folder)
    failed = ModelManager(fast_settings)  # no cache and a failing conversion: PyTorch, said in the panel
    with failed.use("tiny_vae") as tiny:
        assert not isinstance(tiny.model.decoder, ov_parts.OpenVINODecoder)
    (row,) = [s for s in failed.status() if s.role == "tiny_vae"]
    assert row.dtype == "bfloat16 (PyTorch: OpenVINO conversion failed)"
