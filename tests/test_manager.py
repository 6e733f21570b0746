"""Model manager: once-only loading, pinning, LRU eviction, budgets, status and load failures —
on tiny real checkpoints loaded through the same loaders the app uses."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from mmdemo.errors import MemoryBudgetError, ModelUnavailableError
from mmdemo.models.manager import GiB, ModelManager, estimate_weight_bytes, module_bytes
from mmdemo.models.specs import SPECS
from mmdemo.settings import Settings

ROLES = ("a", "b", "c")


def _copies_of_captioner(tiny_model_dirs: dict[str, Path]) -> tuple[dict, dict[str, str]]:
    """Three roles that all load the tiny captioner: equal sizes make eviction order easy to read."""
    specs = {role: dataclasses.replace(SPECS["captioner"], role=role, title=f"Model {role}") for role in ROLES}
    models = {role: str(tiny_model_dirs["captioner"]) for role in ROLES}
    return specs, models


@pytest.fixture(scope="module")
def model_size(tiny_model_dirs: dict[str, Path]) -> int:
    folder = tiny_model_dirs["captioner"]
    loaded = SPECS["captioner"].loader(folder, __import__("torch").float32)
    return max(module_bytes(loaded.model), estimate_weight_bytes(folder, 4))


def _manager(tiny_model_dirs: dict[str, Path], budget_bytes: float | None = None, wait: float = 5.0) -> ModelManager:
    specs, models = _copies_of_captioner(tiny_model_dirs)
    settings = Settings(
        models=models,
        device="cpu",
        offline=True,
        memory_budget_gb=None if budget_bytes is None else budget_bytes / GiB,
        evict_wait_s=wait,
    )
    return ModelManager(settings, specs)


def _loaded(manager: ModelManager) -> list[str]:
    return [s.role for s in manager.status() if s.state != "not loaded"]


def test_concurrent_first_requests_load_once(tiny_model_dirs: dict[str, Path]) -> None:
    manager = _manager(tiny_model_dirs)
    barrier = threading.Barrier(8)
    seen: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with manager.use("a") as handle:
                seen.append(id(handle.model))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert manager.load_count["a"] == 1
    assert len(seen) == 8 and len(set(seen)) == 1


def test_lru_eviction_order(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    manager = _manager(tiny_model_dirs, budget_bytes=2.5 * model_size)
    for role in ("a", "b", "a"):  # b is now the least recently used
        with manager.use(role):
            pass
        time.sleep(0.01)
    assert _loaded(manager) == ["a", "b"]
    with manager.use("c"):
        pass
    assert _loaded(manager) == ["a", "c"]
    with manager.use("b"):  # reloading b evicts a (used before c)
        pass
    assert _loaded(manager) == ["b", "c"]
    assert manager.load_count == {"a": 1, "b": 2, "c": 1}
    used, budget = manager.memory_usage()["cpu"]
    assert used <= budget


def test_pinned_model_is_never_evicted(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    manager = _manager(tiny_model_dirs, budget_bytes=1.5 * model_size, wait=0.3)
    with manager.use("a") as handle:
        # b does not fit next to a, and a is busy: b waits, then fails clearly; a is untouched.
        with pytest.raises(MemoryBudgetError, match="busy"):
            with manager.use("b"):
                pass
        assert _loaded(manager) == ["a"]
        assert handle.model is not None and next(handle.model.parameters()).numel() > 0
    with manager.use("b"):  # a is idle now, so it makes room
        pass
    assert _loaded(manager) == ["b"]


def test_waiting_load_proceeds_when_pin_is_released(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    manager = _manager(tiny_model_dirs, budget_bytes=1.5 * model_size, wait=30)
    holding = threading.Event()
    release = threading.Event()
    states_while_pinned: list[str] = []

    def hold_a() -> None:
        with manager.use("a"):
            holding.set()
            release.wait(30)
            states_while_pinned.extend(s.state for s in manager.status() if s.role == "a")

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(30)
    threading.Timer(0.5, release.set).start()
    with manager.use("b"):  # blocks until a is released, then evicts it
        assert _loaded(manager) == ["b"]
    holder.join(30)
    assert states_while_pinned == ["ready"]


def test_model_larger_than_budget(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    manager = _manager(tiny_model_dirs, budget_bytes=model_size / 4)
    with pytest.raises(MemoryBudgetError, match="not have enough memory") as info:
        with manager.use("a"):
            pass
    assert "MMDEMO_MEMORY_BUDGET_GB" in info.value.detail and "MMDEMO" not in str(info.value)
    assert _loaded(manager) == []


def test_status_reports_device_dtype_size(tiny_model_dirs: dict[str, Path]) -> None:
    manager = _manager(tiny_model_dirs)
    assert {s.state for s in manager.status()} == {"not loaded"}
    with manager.use("a") as handle:
        row = next(s for s in manager.status() if s.role == "a")
        assert row.in_use == 1
        assert str(handle.dtype) == "torch.float32" and handle.device.type == "cpu"
    row = next(s for s in manager.status() if s.role == "a")
    assert (row.state, row.device, row.dtype, row.in_use) == ("ready", "cpu", "float32", 0)
    assert row.bytes == module_bytes(manager._entries["a"].loaded.model)
    assert row.source == "local folder" and row.last_used is not None
    assert manager.unload("a") and _loaded(manager) == []


def test_estimate_matches_loaded_size(tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    for role in ("captioner", "vqa"):
        folder = tiny_model_dirs[role]
        actual = module_bytes(SPECS[role].loader(folder, torch.float32).model)
        estimate = estimate_weight_bytes(folder, 4)
        assert 0.5 * actual <= estimate <= 1.5 * actual, (role, estimate, actual)
        assert estimate_weight_bytes(folder, 2) < estimate  # fp16 halves the float tensors


def test_offline_hub_model_fails_fast_and_names_model(tmp_path: Path) -> None:
    manager = ModelManager(Settings(device="cpu", offline=True))
    began = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        with manager.use("captioner"):
            pass
    message, detail = str(info.value), info.value.detail
    assert message == (
        "Image captioning is not available on this server (its model Salesforce/blip-image-captioning-base "
        "is not installed)."
    )
    assert "Salesforce/blip-image-captioning-base" in detail
    assert "prefetch" in detail and "MMDEMO_CAPTIONER_MODEL" in detail
    assert manager.problems["captioner"] == detail  # shown in the Models panel
    assert time.perf_counter() - began < 10
    assert manager.status()[0].source == "missing (offline)"


def test_missing_folder_and_corrupt_model(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    settings = Settings(models={"captioner": str(tmp_path / "nope"), "vqa": str(broken)}, device="cpu", offline=True)
    manager = ModelManager(settings)
    with pytest.raises(ModelUnavailableError, match="local folder “nope”") as info:
        with manager.use("captioner"):
            pass
    assert "does not exist" in info.value.detail and str(tmp_path) not in str(info.value)
    with pytest.raises(ModelUnavailableError) as info:
        with manager.use("vqa"):
            pass
    assert "loading its files failed" in info.value.detail and str(broken) in info.value.detail
    assert str(broken) not in str(info.value)  # users never see the server's paths
    assert _loaded(manager) == []  # nothing half-registered; the manager keeps working
    working = ModelManager(settings.replace(models={"captioner": str(tiny_model_dirs["captioner"])}))
    with working.use("captioner") as handle:
        assert handle.model is not None


def test_preload_in_background(tiny_model_dirs: dict[str, Path]) -> None:
    manager = _manager(tiny_model_dirs)
    thread = manager.preload(["a", "c"])
    assert thread is not None
    thread.join(60)
    assert _loaded(manager) == ["a", "c"]


def test_warm_imports_survives_broken_module(caplog: pytest.LogCaptureFixture) -> None:
    broken = dataclasses.replace(
        SPECS["captioner"], role="broken", imports=("json:dumps", "json:no_such_attr", "mmdemo_no_such_module")
    )
    manager = ModelManager(Settings(device="cpu"), {"broken": broken})
    thread = manager.warm_imports()
    thread.join(60)
    assert not thread.is_alive()
    assert "mmdemo_no_such_module" in caplog.text and "json:no_such_attr" in caplog.text
    assert manager.status()[0].state == "not loaded"  # importing loads no model


def test_default_model_from_prefetch_folder(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    """The air-gapped flow: `prefetch --dir D` on a connected machine, then MMDEMO_MODEL_DIR=D offline."""
    import shutil

    from mmdemo.tasks.captioning import caption_image
    from mmdemo.testing.text_images import render_text

    model_id = SPECS["captioner"].default_for("cpu")
    shutil.copytree(tiny_model_dirs["captioner"], tmp_path / model_id)
    manager = ModelManager(Settings(device="cpu", offline=True, model_dir=str(tmp_path)))
    row = next(s for s in manager.status() if s.role == "captioner")
    assert (row.model_id, row.source) == (model_id, "prefetch folder")
    assert isinstance(caption_image(render_text(["hi"]), manager=manager).text, str)
    assert next(s for s in manager.status() if s.role == "captioner").state == "ready"


def test_different_models_load_in_parallel_threads_without_corrupting_each_other(tiny_settings: Settings) -> None:
    """Requests in different queue lanes can be the first to ask for different models at the same moment.
    transformers builds models on the meta device through process-wide state (and its lazy module is not
    safe to import from two threads at once); the manager serialises building, not running."""
    import threading

    import torch

    roles = ("text_to_image", "captioner", "vqa", "tiny_vae", "clip", "text_emotion", "summarizer", "asr")
    errors: list[str] = []
    for _ in range(3):  # fresh managers: every round loads everything again, all at once
        manager = ModelManager(tiny_settings)
        start = threading.Barrier(len(roles))

        def first_use(role: str, manager: ModelManager = manager, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                with manager.use(role) as handle:
                    model = handle.model
                    modules = [model] if isinstance(model, torch.nn.Module) else list(model.components.values())
                    for module in modules:
                        if isinstance(module, torch.nn.Module):
                            meta = [n for n, p in module.named_parameters() if p.device.type == "meta"]
                            assert not meta, f"left on the meta device: {meta[:3]}"
            except Exception as err:  # collected: a thread's exception would not fail the test
                errors.append(f"{role}: {type(err).__name__}: {err}")

        threads = [threading.Thread(target=first_use, args=(role,)) for role in roles]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert all(manager.load_count[role] == 1 for role in roles if not any(e.startswith(role) for e in errors))
    assert errors == []


def _hub_snapshot(clean: Path, to: Path) -> Path:
    """``clean`` laid out as a full Hub snapshot is (what `hf download` and `preload_from_hub` give): fp16
    variants, ``.bin`` duplicates and a single-file checkpoint at the root beside the files that load."""
    shutil.copytree(clean, to)
    for weights in list(to.rglob("*.safetensors")):
        stem = weights.name.removesuffix(".safetensors")
        shutil.copy(weights, weights.with_name(f"{stem}.fp16.safetensors"))
        bin_name = "pytorch_model.bin" if stem == "model" else f"{stem}.bin"
        shutil.copy(weights, weights.with_name(bin_name))
        shutil.copy(weights, to / f"{weights.parent.name}-single-file.safetensors")
    return to


@pytest.mark.parametrize("role", ["text_to_image", "captioner", "tiny_vae"])
def test_estimate_counts_only_the_files_that_load(tiny_model_dirs: dict[str, Path], tmp_path: Path, role: str) -> None:
    clean = tiny_model_dirs[role]
    snapshot = _hub_snapshot(clean, tmp_path / "snapshot")
    assert len(list(snapshot.rglob("*.safetensors"))) >= 3 * len(list(clean.rglob("*.safetensors")))
    assert estimate_weight_bytes(snapshot, 4) == estimate_weight_bytes(clean, 4)
    import torch

    loaded = module_bytes(SPECS[role].loader(snapshot, torch.float32).model)
    assert 0.5 * loaded <= estimate_weight_bytes(snapshot, 4) <= 1.5 * loaded


def test_estimate_reads_sharded_checkpoints(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    import torch

    model = SPECS["captioner"].loader(tiny_model_dirs["captioner"], torch.float32).model
    model.save_pretrained(tmp_path / "sharded", max_shard_size="200KB")
    assert len(list((tmp_path / "sharded").glob("model-*.safetensors"))) > 1
    assert estimate_weight_bytes(tmp_path / "sharded", 4) == estimate_weight_bytes(tiny_model_dirs["captioner"], 4)
