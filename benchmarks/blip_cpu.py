"""BLIP-base captioning on the CPU, one run: float32 (the reference path), the CPU fast path before (bf16 where
native, plain transformers), the fast path with beam search not copying the image's keys and values, computing
them once per image rather than once per beam and with fused attention projections (all exact), and the fast
path with int8 linear layers too (opt-in: MMDEMO_CPU_INT8=1), on a full-size replica of
Salesforce/blip-image-captioning-base (real configs, random weights: the real compute):

    PYTHONPATH=. python benchmarks/blip_cpu.py [--runs 5]
    ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 \\
        PYTHONPATH=. python benchmarks/blip_cpu.py

The second line measures the AVX2 class (no native bf16, no VNNI): there the fast path runs in float32, as
the policy chooses on such CPUs, and fbgemm's int8 kernels quantize activations to 7 bits. Captions run
through the app's task (30 new tokens, 3 beams), the configurations interleaved (median of ``--runs`` after a
warm-up each); the drift is the first decoding step's logits against float32 on the same three photos.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted(str(p) for p in (ROOT / "assets" / "images").glob("*.jp*g"))[:3]
AVX2_CLASS = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() == "AVX2"


def first_logits(manager: Any) -> Any:
    import torch
    from PIL import Image

    with manager.use("captioner") as handle:
        images = [Image.open(p).convert("RGB") for p in PHOTOS]
        inputs = handle.prepare(handle.processor(images=images, return_tensors="pt"))
        out = handle.model.generate(**inputs, max_new_tokens=1, output_logits=True, return_dict_in_generate=True)
        return out.logits[0].to(torch.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", default=str(ROOT / ".pytest_cache" / "d" / "bench-replicas"))
    args = parser.parse_args()

    import torch

    from mmdemo.models.blip import FULL_RANGE
    from mmdemo.models.manager import ModelManager, cpu_native_bf16
    from mmdemo.models.specs import SPECS
    from mmdemo.settings import Settings
    from mmdemo.tasks.captioning import DecodingOptions, caption_image
    from mmdemo.testing.bench import full_replicas, row

    folder = full_replicas(["Salesforce/blip-image-captioning-base"], Path(args.cache))["captioner"]
    reference = Settings(models={"captioner": str(folder)}, device="cpu", offline=True)
    fast = reference.replace(cpu_fast_path=True, dtype="float32" if AVX2_CLASS else "auto")
    before = {"captioner": dataclasses.replace(SPECS["captioner"], cpu_fast_loader=None, cpu_int8_loader=None)}
    configs = {
        "float32 (reference)": ModelManager(reference),
        "fast path before": ModelManager(fast, specs=before),
        "+ image keys/values once per image, fused projections (fast path now)": ModelManager(
            fast.replace(cpu_int8=False)
        ),
        "+ int8 linear layers (MMDEMO_CPU_INT8=1, opt-in)": ModelManager(fast.replace(cpu_int8=True)),
    }
    isa = " ".join(
        f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "FBGEMM_ENABLE_INSTRUCTIONS") if k in os.environ
    )
    print(
        f"\n{os.cpu_count()} CPUs, {torch.get_num_threads()} threads, torch {torch.__version__}, native bf16: ", end=""
    )
    print(f"{cpu_native_bf16() and not AVX2_CLASS}, int8 activations: {8 if FULL_RANGE else 7} bits {isa}")
    print(f"median of {args.runs} runs after a warm-up, interleaved\n", flush=True)

    options = DecodingOptions(30, 0, 3)
    loads: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in configs}
    for name, manager in configs.items():
        began = time.perf_counter()
        with manager.use("captioner"):
            loads[name] = time.perf_counter() - began
        caption_image(PHOTOS[0], options=options, manager=manager)  # warm-up
    for _ in range(args.runs):
        for name, manager in configs.items():
            began = time.perf_counter()
            caption_image(PHOTOS[0], options=options, manager=manager)
            times[name].append(time.perf_counter() - began)
    reference_logits = first_logits(configs["float32 (reference)"])
    row(
        "BLIP-base caption, 30 tokens, 3 beams",
        "precision",
        "load",
        "caption",
        "vs float32",
        "vs before",
        "logits max-abs",
        "logits rel.",
    )
    row(*["---"] * 8)
    base = statistics.median(times["fast path before"])
    f32 = statistics.median(times["float32 (reference)"])
    for name, manager in configs.items():
        seconds = statistics.median(times[name])
        logits = first_logits(manager)
        diff = logits - reference_logits
        relative = float(diff.norm() / reference_logits.norm())
        (status,) = [s for s in manager.status() if s.role == "captioner"]
        row(
            name,
            status.dtype,
            f"{loads[name]:.1f} s",
            f"{seconds:.2f} s",
            f"{seconds / f32:.2f}×",
            f"{seconds / base:.2f}×",
            f"{float(diff.abs().max()):.3f}",
            f"{100 * relative:.2f} %",
        )
    print(f"\nlogits of the float32 reference: max |logit| {float(reference_logits.abs().max()):.2f}, ", end="")
    print(f"std {float(reference_logits.std()):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
