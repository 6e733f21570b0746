"""bf16 against float32 on a CPU with native bf16 (AVX-512 BF16 / AMX), for the CPU fast path's precision
policy: BLIP-base captioning (a full-size replica: real architecture and configs, random weights) and
BLIP-VQA, in one run, through the app's backend in process and over HTTP:

    PYTHONPATH=. python benchmarks/cpu_precision.py [--runs 3]

Also the relative difference of the first decoding step's logits (bf16 vs float32, same inputs): random
weights make the caption text itself meaningless, the logits are what bf16 changes. On a CPU without
native bf16 the policy keeps float32 (bf16 is emulated there and slower); this benchmark says so and runs
anyway.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import torch
    from gradio.media import get_image
    from gradio_client import Client, handle_file

    from mmdemo.models.manager import ModelManager, cpu_native_bf16
    from mmdemo.settings import Settings
    from mmdemo.tasks.captioning import DecodingOptions, answer_question, caption_image
    from mmdemo.testing.bench import full_replicas, timed
    from mmdemo.testing.server import launched_app

    root = Path(tempfile.gettempdir()) / "mmdemo-cpu-precision"
    ids = ("Salesforce/blip-image-captioning-base", "Salesforce/blip-vqa-base")
    models = {role: str(folder) for role, folder in full_replicas(ids, root).items()}
    photo = get_image("lion.jpg")
    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__}, native bf16: {cpu_native_bf16()}, ", end="")
    print(f"median of {args.runs} runs after a warm-up\n")
    options = DecodingOptions(30, 0, 3)
    vqa_options = DecodingOptions(max_new_tokens=10, num_beams=3)
    results: dict[str, dict[str, float]] = {}
    logits: dict[str, Any] = {}
    for dtype in ("float32", "bfloat16"):
        settings = Settings(models=models, device="cpu", offline=True, dtype=dtype)
        manager = ModelManager(settings)
        times = results.setdefault(dtype, {})
        times["caption"] = timed(lambda m=manager: caption_image(photo, options=options, manager=m), args.runs)
        times["vqa"] = timed(
            lambda m=manager: answer_question(photo, "What animal is it?", options=vqa_options, manager=m), args.runs
        )
        with manager.use("captioner") as handle, torch.inference_mode():
            from PIL import Image

            inputs = handle.prepare(handle.processor(images=Image.open(photo).convert("RGB"), return_tensors="pt"))
            out = handle.model.generate(**inputs, max_new_tokens=1, output_logits=True, return_dict_in_generate=True)
            logits[dtype] = out.logits[0].float()
        manager.unload("captioner")
        manager.unload("vqa")
        with launched_app(settings) as url:
            client = Client(url, verbose=False)
            times["caption_http"] = timed(
                lambda c=client: c.predict(handle_file(photo), "", 30, 0, 3, api_name="/caption"), args.runs
            )
    diff = float((logits["bfloat16"] - logits["float32"]).norm() / logits["float32"].norm())

    f32, bf16 = results["float32"], results["bfloat16"]
    print("| BLIP-base on CPU | float32 | bfloat16 | bf16 / fp32 |")
    print("|---|---|---|---|")
    for key, label in (
        ("caption", "caption, 30 tokens, 3 beams (in process)"),
        ("caption_http", "caption, 30 tokens, 3 beams (over HTTP)"),
        ("vqa", "VQA answer, 10 tokens, 3 beams (in process)"),
    ):
        print(f"| {label} | {f32[key]:.2f} s | {bf16[key]:.2f} s | {bf16[key] / f32[key]:.2f}× |")
    print(f"\nfirst-step logits, bf16 vs float32: relative difference {100 * diff:.2f} % (‖bf16 − fp32‖ / ‖fp32‖)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
