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
from mmdemo.messages import Message, text
from mmdemo.models.manager import GiB, ModelManager, device_name, estimate_weight_bytes, model_name, module_bytes
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
        with pytest.raises(MemoryBudgetError, match="busy") as info:
            with manager.use("b"):
                pass
        assert info.value.message == Message("model.busy")  # keyed: a Chinese browser reads it in Chinese
        assert info.value.text("zh-CN") == "服务器正忙于处理其他请求，没有空闲内存处理本请求。请稍后再试。"
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
    assert info.value.message.key == "model.no_memory"  # type: ignore[union-attr]
    assert info.value.text("zh-CN").startswith("本服务器的内存不足以运行 ")
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
    assert info.value.text("zh-CN") == "本服务器无法使用图像描述（其模型 local folder “nope” 未安装）。"
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
    picture = render_text(["hi"])
    direct = ModelManager(Settings(device="cpu", offline=True, models={"captioner": str(tiny_model_dirs["captioner"])}))
    # the prefetched copy is the model that captions: the same caption as the folder it was copied from
    assert caption_image(picture, manager=manager).text == caption_image(picture, manager=direct).text
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


# --- two tiers: a simulated accelerator (the GPU paths without a GPU) ----------------------------------


def _two_tiers(tiny_model_dirs: dict[str, Path], device: float, host: float, size: int, **kw) -> tuple:
    from mmdemo.testing.accelerator import SimulatedAccelerator

    specs, models = _copies_of_captioner(tiny_model_dirs)
    accelerator = SimulatedAccelerator(device * size, host * size)
    settings = Settings(models=models, device="cpu", offline=True, evict_wait_s=kw.get("wait", 5.0))
    return ModelManager(settings, specs, accelerator=accelerator), accelerator


def _where(manager: ModelManager) -> dict[str, tuple[str, str]]:
    return {s.role: (s.state, s.device) for s in manager.status() if s.state != "not loaded"}


def test_eviction_goes_to_ram_then_comes_back(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    # RAM for two copies: while a comes back, b must go to RAM before a's RAM copy is released.
    manager, sim = _two_tiers(tiny_model_dirs, device=1.5, host=2.5, size=model_size)
    with manager.use("a"):
        pass
    with manager.use("b"):  # a does not fit beside b on the device: moved to RAM, not dropped
        pass
    assert _where(manager) == {"a": ("offloaded", "cpu"), "b": ("ready", "sim:0")}
    with manager.use("a") as handle:  # back to the device (b goes to RAM), without loading again
        assert handle.model is not None
    assert _where(manager) == {"a": ("ready", "sim:0"), "b": ("offloaded", "cpu")}
    assert manager.load_count == {"a": 1, "b": 1, "c": 0}
    assert sim.moves == [("place", "a"), ("to_host", "a"), ("place", "b"), ("to_host", "b"), ("place", "a")]
    for tier, (used, budget) in manager.memory_usage().items():
        assert used <= budget, tier


def test_eviction_drops_when_ram_is_full(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    manager, sim = _two_tiers(tiny_model_dirs, device=1.5, host=0.5, size=model_size)
    for role in ("a", "b"):
        with manager.use(role):
            pass
    assert _where(manager) == {"b": ("ready", "sim:0")} and ("to_host", "a") not in sim.moves


def test_failure_while_moving_back_leaves_the_model_whole_in_ram(
    tiny_model_dirs: dict[str, Path], model_size: int
) -> None:
    manager, sim = _two_tiers(tiny_model_dirs, device=1.5, host=1.5, size=model_size)
    for role in ("a", "b"):
        with manager.use(role):
            pass
    sim.fail_place.add("a")
    with pytest.raises(RuntimeError, match="out of memory"):
        with manager.use("a"):
            pass
    # a went back to RAM whole (moved back to the host), is counted there only, and nothing is pinned.
    assert sim.moves[-1] == ("to_host", "a")
    assert _where(manager)["a"] == ("offloaded", "cpu") and all(s.in_use == 0 for s in manager.status())
    device_used, device_budget = manager.memory_usage()["sim:0"]
    assert device_used <= device_budget
    sim.fail_place.clear()
    with manager.use("a"):
        pass
    assert _where(manager)["a"] == ("ready", "sim:0") and manager.load_count["a"] == 1


def test_failure_while_placing_a_new_load_frees_its_reservation(
    tiny_model_dirs: dict[str, Path], model_size: int
) -> None:
    manager, sim = _two_tiers(tiny_model_dirs, device=1.5, host=1.5, size=model_size)
    sim.fail_place.add("a")
    with pytest.raises(ModelUnavailableError) as info:
        with manager.use("a"):
            pass
    assert "out of memory" in info.value.detail
    assert _where(manager) == {} and manager.memory_usage()["sim:0"][0] == 0 and sim.frees >= 1


def test_concurrent_loads_under_a_tight_budget_take_turns(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    """Room for one model on the device and none in RAM: three requests for three models at once all
    succeed, one after another, and the device budget is never exceeded."""
    manager, sim = _two_tiers(tiny_model_dirs, device=1.2, host=0.1, size=model_size, wait=60)
    over: list[int] = []
    place = sim.place

    def checked_place(spec, model) -> None:  # at every move, what is counted on the device fits its budget
        used, budget = manager.memory_usage()["sim:0"]
        if used > budget:
            over.append(used)
        place(spec, model)

    sim.place = checked_place  # type: ignore[method-assign]
    errors: list[str] = []
    start = threading.Barrier(3)

    def run(role: str) -> None:
        start.wait()
        try:
            with manager.use(role):
                time.sleep(0.2)
        except Exception as err:
            errors.append(f"{role}: {err}")

    threads = [threading.Thread(target=run, args=(role,)) for role in ROLES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and over == []
    assert len(_where(manager)) == 1 and sum(manager.load_count.values()) == 3


def test_a_pipeline_too_big_for_the_device_runs_with_cpu_offload(tiny_model_dirs: dict[str, Path]) -> None:
    """SDXL on a small GPU: the whole pipeline plus activations does not fit, its largest part does, so it
    runs with model CPU offload (before, the budget check refused it before offload was considered)."""
    from mmdemo.models.manager import part_bytes
    from mmdemo.testing.accelerator import SimulatedAccelerator

    folder = tiny_model_dirs["text_to_image"]
    spec = dataclasses.replace(SPECS["text_to_image"], activation_bytes=1000)
    whole, part = estimate_weight_bytes(folder, 4), part_bytes(folder, 4)
    assert part < whole
    settings = Settings(models={"text_to_image": str(folder)}, device="cpu", offline=True)
    sim = SimulatedAccelerator(part + 2000, 10 * whole)
    manager = ModelManager(settings, {"text_to_image": spec}, accelerator=sim)
    with manager.use("text_to_image") as handle:
        assert handle.model is not None
    (row,) = manager.status()
    assert row.device == "sim:0 (CPU offload)" and sim.moves == [("offload", "text_to_image")]
    assert manager.memory_usage()["sim:0"][0] == part + 1000 and manager.memory_usage()["cpu"][0] == whole
    # Too small even for its largest part: refused, clearly.
    tiny = ModelManager(settings, {"text_to_image": spec}, accelerator=SimulatedAccelerator(part // 2, 10 * whole))
    with pytest.raises(MemoryBudgetError, match="not have enough memory"):
        with tiny.use("text_to_image"):
            pass


def test_device_and_dtype_are_published_whole(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second thread never sees the device without its dtype and budgets (they were set one by one)."""
    import mmdemo.models.device as device_module

    real = device_module.resolve_dtype

    def slow(device, setting, cpu_fast_path=False):
        time.sleep(0.3)
        return real(device, setting, cpu_fast_path)

    import torch  # noqa: F401 - imported already, so the window is the slow dtype step, not the import

    monkeypatch.setattr(device_module, "resolve_dtype", slow)
    manager = ModelManager(tiny_settings)
    seen: list[object] = []

    def read() -> None:
        seen.append((manager.device, manager.dtype, manager.budgets.get("cpu")))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(10)
    assert len(seen) == 6 and all(dtype is not None and budget for _, dtype, budget in seen)


def test_a_failed_load_frees_what_it_built(tiny_settings: Settings) -> None:
    import gc
    import weakref

    import torch

    from mmdemo.models.specs import ModelSpec

    built: list[weakref.ref] = []

    def loader(folder: Path, dtype: object) -> object:
        model = torch.nn.Linear(512, 512)
        built.append(weakref.ref(model))
        raise RuntimeError("the checkpoint ends early")

    spec = ModelSpec("broken", "Broken", {"*": "x"}, loader)
    settings = tiny_settings.replace(models={"broken": str(next(iter(Path(tiny_settings.models["vqa"]).parents)))})
    manager = ModelManager(settings, {"broken": spec})
    with pytest.raises(ModelUnavailableError) as info:
        with manager.use("broken"):
            pass
    gc.collect()
    assert built and built[0]() is None  # nothing (not the traceback's frames either) keeps the model alive
    assert "the checkpoint ends early" in info.value.detail


def test_waiting_for_another_requests_load_has_a_limit(tiny_settings: Settings) -> None:
    from mmdemo.models.specs import ModelSpec

    started = threading.Event()

    def slow_loader(folder: Path, dtype: object) -> object:
        started.set()
        time.sleep(2)
        raise RuntimeError("gave up")

    spec = ModelSpec("slow", "Slow", {"*": "x"}, slow_loader)
    settings = tiny_settings.replace(models={"slow": str(Path(tiny_settings.models["vqa"]))})
    manager = ModelManager(settings, {"slow": spec})
    manager.load_wait_s = 0.3

    def first_request() -> None:
        with pytest.raises(ModelUnavailableError), manager.use("slow"):
            pass

    first = threading.Thread(target=first_request)
    first.start()
    assert started.wait(10)
    began = time.monotonic()
    with pytest.raises(MemoryBudgetError, match="still being loaded") as info:
        with manager.use("slow"):
            pass
    assert info.value.text("zh-CN") == "该模型仍在为另一个请求加载中，请稍后再试。"
    assert time.monotonic() - began < 1.5
    first.join(10)


# --- what users read while a model loads ----------------------------------------------------------------


def test_progress_names_the_model_and_never_its_folder(tiny_model_dirs: dict[str, Path]) -> None:
    folder = tiny_model_dirs["captioner"]
    manager = ModelManager(Settings(models={"captioner": str(folder)}, device="cpu", offline=True))
    messages: list[tuple[float, str]] = []
    with manager.use("captioner", lambda fraction, message: messages.append((fraction, message))):
        pass
    assert messages == [
        (0.0, "Loading the image captioning model…"),
        (0.3, "Reading the weights of the image captioning model…"),
        (1.0, "Image captioning model ready"),
    ]
    for _, message in messages:
        assert str(folder) not in message and str(folder.parent) not in message and "/" not in message
    # keyed: the page shows them in the visitor's language (mmdemo.ui.events.progress_to); callbacks get English text
    assert all(isinstance(message, str) for _, message in messages)
    assert [text(message, "zh-CN") for _, message in messages] == [
        "正在加载图像描述模型…",
        "正在读取图像描述模型的权重…",
        "图像描述模型已就绪",
    ]


def test_progress_of_moves_names_the_device_not_paths(tiny_model_dirs: dict[str, Path], model_size: int) -> None:
    from mmdemo.testing.accelerator import SimulatedAccelerator

    folder = str(tiny_model_dirs["captioner"])
    specs = {role: dataclasses.replace(SPECS["captioner"], role=role) for role in ("a", "b")}
    accelerator = SimulatedAccelerator(1.5 * model_size, 2.5 * model_size)
    accelerator.tier = "cuda:0"  # named as a real GPU tier is
    accelerator.budgets = {"cuda:0": accelerator.budgets.pop("sim:0"), "cpu": accelerator.budgets["cpu"]}
    settings = Settings(models=dict.fromkeys(specs, folder), device="cpu", offline=True)
    manager = ModelManager(settings, specs, accelerator=accelerator)
    messages: list[str] = []
    for role in ("a", "b", "a"):  # a is loaded, moved to RAM for b, and brought back
        with manager.use(role, lambda _fraction, message: messages.append(message)):
            pass
    assert messages == [
        "Loading the image captioning model…",
        "Reading the weights of the image captioning model…",
        "Moving the image captioning model to the GPU…",
        "Image captioning model ready",
    ] * 2 + ["Moving the image captioning model back to the GPU…"]
    assert not any(folder in m or str(Path(folder).parent) in m for m in messages)
    moves = [text(messages[i], "zh-CN") for i in (2, 6, 8)]
    assert moves == ["正在将图像描述模型移到 GPU 上…"] * 2 + ["正在将图像描述模型移回 GPU 上…"]


def test_progress_lines_name_models_and_devices_as_people_read_them() -> None:
    """A title inside a sentence starts in lower case unless it is an acronym; the CPU fast path, CPU offload and a
    download have lines of their own; a line survives a trip to a ZeroGPU worker."""
    import pickle

    from mmdemo.models import progress_lines as lines

    clip = lines.moving("CLIP image–text score", "cuda:0", offload=True)
    assert clip == "Moving the CLIP image–text score model to the GPU (with CPU offload)…"
    assert clip.text("zh-CN") == "正在将CLIP 图文评分模型移到 GPU 上（启用 CPU 卸载）…"
    assert lines.moving("Image captioning", "mps") == "Moving the image captioning model to the GPU (Apple)…"
    assert lines.moving("Image captioning", "sim:0") == "Moving the image captioning model to sim:0…"
    fast = lines.reading("Speech recognition", fast=True)
    assert fast == "Preparing the speech recognition model (the first time takes longer)…"  # no "fast CPU path"
    assert fast.text("zh-CN") == "正在准备语音识别模型（第一次会慢一些）…"
    download = lines.downloading("Speech recognition")
    assert download == "Downloading the speech recognition model (first use only)…"
    assert download.text("zh-CN") == "正在下载语音识别模型（仅首次使用时）…"
    again = pickle.loads(pickle.dumps(clip))
    assert again == clip and again.text("zh-CN") == clip.text("zh-CN")
    assert model_name(SPECS["clip"]) == "CLIP image–text score model" and device_name("cuda:1") == "the GPU"


def test_batch_size_comes_from_the_memory_left_on_the_device(tiny_model_dirs: dict[str, Path]) -> None:
    """The captioner's weights are counted while it is in use; the rest of the budget over the bytes one item
    needs (halved in bfloat16) is the batch size, at least 1 and at most the caller's maximum."""
    import torch

    from mmdemo.testing.accelerator import SimulatedAccelerator

    folder = tiny_model_dirs["captioner"]
    weights, item = estimate_weight_bytes(folder, 4), 10_000
    settings = Settings(models={"captioner": str(folder)}, device="cpu", offline=True)
    manager = ModelManager(settings, accelerator=SimulatedAccelerator(weights + 3.5 * item, 10 * weights))
    with manager.use("captioner"):
        assert manager.memory_usage()["sim:0"][0] == weights
        assert manager.batch_size("captioner", item) == 3
        assert manager.batch_size("captioner", item, maximum=2) == 2
        assert manager.batch_size("captioner", 100 * item) == 1  # nothing fits: one at a time
    half_weights = estimate_weight_bytes(folder, 2)
    half = SimulatedAccelerator(half_weights + 3.5 * item, 10 * weights, dtype=torch.bfloat16)
    manager = ModelManager(settings, accelerator=half)
    with manager.use("captioner"):
        assert manager.batch_size("captioner", item) == 7


def test_a_cuda_build_without_a_usable_gpu_says_why_and_runs_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """--device auto with a CUDA build of torch whose driver is too old: the CPU, and a warning that says why
    (it used to fall back silently; the Docker image's torch needs a recent driver)."""
    import warnings

    import torch

    from mmdemo.models.manager import resolve_device

    def too_old() -> bool:
        warnings.warn(
            "CUDA initialization: The NVIDIA driver on your system is too old (found version 12020).", stacklevel=2
        )
        return False

    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", too_old)
    with caplog.at_level("WARNING", logger="mmdemo.models.device"):
        assert resolve_device("auto").type == "cpu"
    assert (
        "built for CUDA 13.0 but cannot use a GPU here: CUDA initialization: The NVIDIA driver on your system is "
        "too old (found version 12020). Running on the CPU." in caplog.text
    )


def test_importing_the_loaders_prints_no_torchvision_warnings() -> None:
    """Every start imported diffusers, whose CLIP/SigLIP imports made transformers print three "requires
    torchvision" warnings; the app never uses torchvision (the PIL processors are what it loads)."""
    import subprocess
    import sys

    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from mmdemo.models.manager import ModelManager\nfrom mmdemo.settings import Settings\n"
        "ModelManager(Settings()).warm_imports().join()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert "imported torch, transformers:AutoProcessor" in result.stderr  # the imports ran …
    assert "torchvision" not in result.stderr + result.stdout  # … quietly
