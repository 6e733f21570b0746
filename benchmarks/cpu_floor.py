"""How fast this CPU could make the issue-25 figures at best: each stage's arithmetic (FLOPs counted by
``torch.utils.flop_counter`` on the full-size replicas: real configs, random weights) divided by the matrix
product rate this machine reaches, in float32, bfloat16 and int8 (measured here, in one run):

    PYTHONPATH=. python benchmarks/cpu_floor.py
    ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=. python benchmarks/cpu_floor.py   # an AVX2-only CPU, emulated

The rates are large, well-shaped matrix products (2048 × 2048 × 2048; int8: fbgemm's dynamic int8 ``Linear``,
the kernel the captioner's int8 path uses), the best case for the cores: a real model's convolutions, attention
and small decoder products run below them, and its elementwise work (normalisation, activations) is not counted.
So each "floor" is a lower bound on the time: a figure asked for below its floor cannot be reached on this CPU
at that precision, whatever the runtime.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

MODELS = (
    "stabilityai/sd-turbo",
    "madebyollin/taesd",
    "openai/clip-vit-base-patch32",
    "Salesforce/blip-image-captioning-base",
)
GOALS = {"image": {"AVX-512 BF16": 1.2, "AVX2": 3.0}, "caption": {"AVX-512 BF16": 1.2, "AVX2": 1.2}}
"""Issue 25's goals in seconds, per CPU class: the 1-step 512² image (app defaults) and a BLIP-base caption."""


def cpu_class() -> str:
    """The CPU's class for the goals and the rates' meaning: native bf16 unless oneDNN is held to AVX2."""
    from mmdemo.models.device import cpu_native_bf16

    avx2 = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() == "AVX2"
    return "AVX-512 BF16" if cpu_native_bf16() and not avx2 else "AVX2"


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def rate(fn: Callable[[], Any], flops: float, runs: int = 5) -> float:
    """FLOP/s of ``fn`` (``flops`` per call): the median of ``runs`` calls after a warm-up."""
    from mmdemo.testing.bench import timed

    return flops / timed(fn, runs)


def rates() -> dict[str, float]:
    """The matrix product rates this machine reaches (FLOP/s), per precision."""
    import torch

    n = 2048
    flops = 2.0 * n**3
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = {"float32": rate(lambda: a @ b, flops)}
    a16, b16 = a.bfloat16(), b.bfloat16()
    out["bfloat16"] = rate(lambda: a16 @ b16, flops)
    linear = torch.nn.Linear(n, n, bias=False)
    quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear}, torch.qint8)
    with torch.inference_mode():
        out["int8"] = rate(lambda: quantized(a), flops)
    return out


def counted(fn: Callable[[], Any]) -> float:
    """FLOPs of one call of ``fn`` (matrix products and convolutions: 2 per multiply-add)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def stages(dirs: dict[str, Path]) -> dict[str, dict[str, float]]:
    """FLOPs of each stage of the two figures, in float32 on the replicas."""
    import numpy as np
    import torch
    from diffusers import AutoencoderTiny, StableDiffusionPipeline
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipProcessor, CLIPModel, CLIPProcessor

    pipe = StableDiffusionPipeline.from_pretrained(dirs["text_to_image"], safety_checker=None)
    tiny = AutoencoderTiny.from_pretrained(dirs["tiny_vae"])
    clip = CLIPModel.from_pretrained(dirs["clip"])
    clip_processor = CLIPProcessor.from_pretrained(dirs["clip"])
    ids = pipe.tokenizer("a lighthouse on a cliff at sunset", padding="max_length", max_length=77, return_tensors="pt")
    embeds = pipe.text_encoder(ids.input_ids)[0]
    latents = torch.randn(1, 4, 64, 64)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8))
    clip_inputs = clip_processor(text=["a lighthouse on a cliff at sunset"], images=[photo], return_tensors="pt")
    image = {
        "text encoder": counted(lambda: pipe.text_encoder(ids.input_ids)),
        "UNet step": counted(lambda: pipe.unet(latents, torch.tensor(999.0), embeds)),
        "TAESD decoder": counted(lambda: tiny.decode(latents)),
        "CLIP score": counted(lambda: clip(**clip_inputs)),
    }
    model = BlipForConditionalGeneration.from_pretrained(dirs["captioner"]).eval()
    processor = BlipProcessor.from_pretrained(dirs["captioner"])
    inputs = processor(images=photo, return_tensors="pt")
    vision = counted(lambda: model.vision_model(inputs.pixel_values))
    whole = counted(lambda: model.generate(**inputs, num_beams=3, max_new_tokens=30, min_new_tokens=30))
    caption = {"vision encoder": vision, "text decoder, 30 tokens × 3 beams": whole - vision}
    return {"image": image, "caption": caption}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mmdemo-real-size"))
    args = parser.parse_args()

    import torch

    from mmdemo.testing.bench import full_replicas, row

    torch.manual_seed(0)
    klass = cpu_class()
    print(
        f"\n{cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, class {klass} "
        f"(ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}), torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}\n",
        flush=True,
    )
    measured = rates()
    row("matrix product rate", "GFLOP/s")
    row("---", "---")
    for precision, value in measured.items():
        row(precision, f"{value / 1e9:.1f}")
    print(flush=True)

    counts = stages(full_replicas(MODELS, Path(args.cache)))
    for figure, parts in counts.items():
        goal = GOALS[figure][klass]
        total = sum(parts.values())
        row(f"{figure}: stage", "GFLOPs", *(f"floor at {p}" for p in measured))
        row(*["---"] * (2 + len(measured)))
        for name, flops in [*parts.items(), ("total", total)]:
            row(name, f"{flops / 1e9:.1f}", *(f"{flops / r:.2f} s" for r in measured.values()))
        best = min(total / r for r in measured.values())
        verdict = "reachable at best" if best <= goal else "not reachable: the floor is above it"
        print(f"\ngoal on this class ({klass}): ≤ {goal} s → best floor {best:.2f} s: {verdict}\n", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
