"""GPU check: every task through the model manager on a CUDA device, and the manager's GPU paths.

    PYTHONPATH=. python benchmarks/gpu_check.py                 # on a CUDA machine (a few minutes)
    PYTHONPATH=. python benchmarks/gpu_check.py --simulate      # anywhere: the same checks on a simulated
                                                                # accelerator tier (CPU tensors), to test the script

Prints one table: per role, where the model was placed and in which dtype (read from its parameters),
and whether its task ran; then eviction GPU → CPU → dropped under a small device budget, a pipeline
run with CPU offload because it does not fit whole, two models serving at once from two threads, and
the peak device memory. Models: the tiny random-weight kit (shapes of the real architectures).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def row(*cells: Any) -> None:
    print(" | ".join(str(c) for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulate", action="store_true", help="no GPU: a simulated accelerator tier")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 where supported), float16, bfloat16 …")
    args = parser.parse_args()

    import torch
    from gradio.media import get_audio, get_image, get_video

    from mmdemo.models.manager import Accelerator, ModelManager, estimate_weight_bytes, part_bytes, resolve_dtype
    from mmdemo.settings import Settings
    from mmdemo.testing.accelerator import SimulatedAccelerator
    from mmdemo.testing.tiny_models import build_tiny_models

    if not args.simulate and not torch.cuda.is_available():
        print("No CUDA device: run on a GPU machine, or with --simulate.", file=sys.stderr)
        return 2
    dirs = build_tiny_models(Path(tempfile.gettempdir()) / "mmdemo-gpu-check-tiny")
    models = {role: str(path) for role, path in dirs.items()}
    device_name = "simulated" if args.simulate else torch.cuda.get_device_name(0)
    print(f"# GPU check on {device_name} (torch {torch.__version__})\n")

    def make_manager(device_bytes: int | None = None, host_bytes: int | None = None) -> ModelManager:
        settings = Settings(models=models, device="cpu" if args.simulate else "cuda", dtype=args.dtype, offline=True)
        if args.simulate:
            dtype = torch.float32 if args.dtype == "auto" else getattr(torch, args.dtype)
            return ModelManager(
                settings, accelerator=SimulatedAccelerator(device_bytes or 2**34, host_bytes or 2**34, dtype)
            )
        if device_bytes is None:
            return ModelManager(settings)
        device = torch.device("cuda", 0)
        budgets = {str(device): device_bytes, "cpu": host_bytes or 2**34}
        return ModelManager(settings, accelerator=Accelerator(device, resolve_dtype(device, args.dtype), budgets))

    # 1. every task, placement and dtype as the parameters say
    from mmdemo.tasks.audio_emotion import analyze_emotion
    from mmdemo.tasks.captioning import answer_question, caption_image
    from mmdemo.tasks.ocr import read_text
    from mmdemo.tasks.text_to_image import generate_images
    from mmdemo.tasks.transcription import transcribe
    from mmdemo.tasks.video_summary import summarize_video

    manager = make_manager()
    if not args.simulate:
        torch.cuda.reset_peak_memory_stats()
    photo, speech, video = get_image("lion.jpg"), get_audio("heath_ledger.mp3"), get_video("world.mp4")
    tasks = {
        "caption": lambda: caption_image(photo, manager=manager).text,
        "vqa": lambda: answer_question(photo, "What is it?", manager=manager).answer,
        "ocr": lambda: read_text(photo, manager=manager).text,
        "generate": lambda: generate_images("a red cube", steps=2, width=64, height=64, manager=manager).images[0].seed,
        "emotion": lambda: analyze_emotion(speech, manager=manager).top,
        "transcribe": lambda: transcribe(speech, manager=manager).text,
        "summarize": lambda: summarize_video(video, max_keyframes=2, manager=manager).summary_method,
    }
    row("task", "ok", "seconds", "detail")
    row("---", "---", "---", "---")
    for name, run in tasks.items():
        began = time.perf_counter()
        try:
            detail, ok = str(run())[:40], "yes"
        except Exception as err:
            detail, ok = f"{type(err).__name__}: {err}"[:80], "NO"
        row(name, ok, f"{time.perf_counter() - began:.2f}", detail)
    print()
    row("role", "status device", "dtype (status)", "parameters on", "parameter dtype", "MB")
    row("---", "---", "---", "---", "---", "---")
    for status in manager.status():
        entry = manager._entries.get(status.role)
        where, dtypes = "", ""
        if entry is not None and entry.loaded is not None:
            model = entry.loaded.model
            modules = [model] if isinstance(model, torch.nn.Module) else list(getattr(model, "components", {}).values())
            params = [p for m in modules if isinstance(m, torch.nn.Module) for p in m.parameters()]
            where = ",".join(sorted({str(p.device) for p in params})) or "(not torch)"
            dtypes = ",".join(sorted({str(p.dtype).removeprefix("torch.") for p in params}))
        if status.state != "not loaded":
            row(status.role, status.device, status.dtype, where, dtypes, round(status.bytes / 2**20, 1))
    print()

    # 2. eviction under a small device budget: captioner, vqa, clip in turn with room for about two
    sizes = {r: estimate_weight_bytes(dirs[r], manager.dtype.itemsize) for r in ("captioner", "vqa", "clip")}
    small = make_manager(int(sizes["captioner"] + sizes["vqa"] * 1.1), int(max(sizes.values()) * 1.5))
    for role in ("captioner", "vqa", "clip", "captioner"):
        with small.use(role):
            pass
    states = {s.role: f"{s.state}@{s.device}" for s in small.status() if s.state != "not loaded"}
    print(f"Eviction with room for two on the device and one in RAM: {states}")
    used = {tier: f"{u / 2**20:.1f}/{b / 2**20:.1f} MB" for tier, (u, b) in small.memory_usage().items()}
    print(f"  memory by tier: {used}")

    # 3. a pipeline that does not fit whole runs with CPU offload, and generates
    folder = dirs["text_to_image"]
    element = manager.dtype.itemsize
    whole, part = estimate_weight_bytes(folder, element), part_bytes(folder, element)
    from mmdemo.models.specs import SPECS

    activation = SPECS["text_to_image"].activation_bytes
    offloaded = make_manager(int(part + activation + (whole - part) // 2), whole * 4)
    result = generate_images("a red cube", steps=2, width=64, height=64, clip_score=False, manager=offloaded)
    (status,) = [s for s in offloaded.status() if s.role == "text_to_image"]
    print(f"CPU offload: {status.device}, generated {len(result.images)} image(s), decoder {result.decoder}")

    # 4. two models serving at once
    errors: list[str] = []
    counts = {"caption": 0, "vqa": 0}
    deadline = time.monotonic() + 10

    def loop(name: str) -> None:
        while time.monotonic() < deadline:
            try:
                tasks[name]()
                counts[name] += 1
            except Exception as err:
                errors.append(f"{name}: {err}")
                return

    threads = [threading.Thread(target=loop, args=(n,)) for n in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"Two models at once for 10 s: {counts} calls, errors: {errors or 'none'}")
    if not args.simulate:
        print(f"Peak device memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
