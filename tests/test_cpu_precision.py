"""The CPU precision policy of the CPU fast path: bf16 only where the CPU computes it natively, float32
elsewhere and whenever the fast path is off; ``--dtype`` overrides it. The capability probe is mocked at its
boundary (PyTorch's CPU feature probe, ``/proc/cpuinfo``), so both branches run on any machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import mmdemo.models.device as manager_module
from mmdemo.models.manager import ModelManager, cpu_native_bf16, resolve_dtype
from mmdemo.settings import Settings

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_dtype_on_cpu_follows_native_bf16(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(manager_module, "cpu_native_bf16", lambda: native)
    assert resolve_dtype(CPU, "auto", cpu_fast_path=True) == (torch.bfloat16 if native else torch.float32)
    assert resolve_dtype(CPU, "auto", cpu_fast_path=False) == torch.float32  # fast path off: the reference path
    assert resolve_dtype(CPU, "float32", cpu_fast_path=True) == torch.float32  # --dtype wins
    assert resolve_dtype(CPU, "bfloat16", cpu_fast_path=False) == torch.bfloat16


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "expected"), [(True, False, True), (False, True, True), (False, False, False)]
)
def test_native_bf16_asks_pytorchs_cpu_probe(
    monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool, amx: bool, expected: bool
) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert cpu_native_bf16() is expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu sse avx2 avx512f avx512_bf16 avx512vl", True),
        ("fpu amx_bf16 amx_tile", True),
        ("fpu sse avx2 avx512f", False),
    ],
)
def test_native_bf16_falls_back_to_cpuinfo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: str, expected: bool
) -> None:
    """Without PyTorch's private probe (another version), the kernel's CPU flags decide."""
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    real_path = manager_module.Path
    monkeypatch.setattr(manager_module, "Path", lambda p: real_path(cpuinfo) if p == "/proc/cpuinfo" else real_path(p))
    assert cpu_native_bf16() is expected


def test_manager_and_models_panel_report_the_policy(monkeypatch: pytest.MonkeyPatch, tiny_settings: Settings) -> None:
    monkeypatch.setattr(manager_module, "cpu_native_bf16", lambda: True)
    fast = ModelManager(tiny_settings.replace(cpu_fast_path=True, cpu_int8=False))  # int8: test_blip_fast_path
    assert fast.dtype == torch.bfloat16
    with fast.use("captioner") as handle:
        assert next(handle.model.parameters()).dtype == torch.bfloat16
    (row,) = [s for s in fast.status() if s.role == "captioner"]
    assert row.dtype == "bfloat16"
    assert ModelManager(tiny_settings.replace(cpu_fast_path=True, dtype="float32")).dtype == torch.float32
    monkeypatch.setattr(manager_module, "cpu_native_bf16", lambda: False)
    assert ModelManager(tiny_settings.replace(cpu_fast_path=True)).dtype == torch.float32


def test_fast_path_is_on_in_the_app_settings_and_can_be_turned_off() -> None:
    assert Settings().cpu_fast_path is False  # Settings() in code: the float32 reference path
    assert Settings.from_env({}).cpu_fast_path is True
    assert Settings.from_env({"MMDEMO_CPU_FAST_PATH": "0"}).cpu_fast_path is False
    from mmdemo.launcher import build_parser, settings_from_args

    args = build_parser().parse_args(["--no-cpu-fast-path"])
    assert settings_from_args(args, Settings.from_env({})).cpu_fast_path is False
    args = build_parser().parse_args([])
    assert settings_from_args(args, Settings.from_env({})).cpu_fast_path is True
