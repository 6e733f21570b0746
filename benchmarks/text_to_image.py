"""Image decoding cost on CPU: the full SD VAE vs the tiny autoencoder (TAESD), and the tiny pipeline.

    PYTHONPATH=. python benchmarks/text_to_image.py [--runs 3] [--side 512]

Everything is measured in this one run on this machine and reported with ratios, because shared
machines are noisy. Nothing touches the network: the real-size models are built from their
configurations with random weights (decode cost does not depend on the weight values).

* decode: ``AutoencoderKL`` with Stable Diffusion's VAE configuration vs ``AutoencoderTiny`` with
  TAESD's configuration (its defaults), decoding one 4×(side/8)² latent to a side² image in fp32;
* end to end: ``generate_images`` on the tiny test models (model loaded, CLIP score off) with the
  ``tiny`` and the ``full`` decoder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "


def real_size_decoders() -> tuple[object, object]:
    """SD 1.x/2.x's VAE (decoder 49.5 M parameters) and TAESD (decoder 1.2 M), random weights, fp32, eval."""
    from diffusers import AutoencoderKL, AutoencoderTiny

    from mmdemo.testing.tiny_models import seeded

    with seeded():
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=4,
            norm_num_groups=32,
            sample_size=512,
        ).eval()
        tiny = AutoencoderTiny().eval()  # the defaults are TAESD's configuration
    return vae, tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (after one warm-up)")
    parser.add_argument("--side", type=int, default=512, help="image side for the real-size decode")
    args = parser.parse_args()

    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {args.runs} runs each\n")
    vae, tiny = real_size_decoders()
    n_vae = sum(p.numel() for p in vae.decoder.parameters()) + sum(p.numel() for p in vae.post_quant_conv.parameters())
    n_tiny = sum(p.numel() for p in tiny.decoder.parameters())
    latent = torch.randn(1, 4, args.side // 8, args.side // 8, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full_times = timed(lambda: vae.decode(latent / 0.18215), args.runs)
        tiny_times = timed(lambda: tiny.decode(latent), args.runs)
        assert vae.decode(latent).sample.shape == tiny.decode(latent).sample.shape == (1, 3, args.side, args.side)
    full, small = statistics.median(full_times), statistics.median(tiny_times)
    print(f"decode one {args.side}² image (median)     decoder params")
    print(f"  full VAE (AutoencoderKL)    {fmt(full)}     {n_vae / 1e6:6.1f} M")
    print(f"  TAESD (AutoencoderTiny)     {fmt(small)}     {n_tiny / 1e6:6.1f} M")
    print(f"  → TAESD decodes {full / small:.1f}× faster\n")

    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.tasks.text_to_image import generate_images
    from mmdemo.testing.tiny_models import build_tiny_models

    with tempfile.TemporaryDirectory() as root:
        dirs = build_tiny_models(root, roles=["text_to_image", "tiny_vae"])
        manager = ModelManager(Settings(models={r: str(p) for r, p in dirs.items()}, device="cpu", offline=True))
        results = {}
        for decoder in ("tiny", "full"):

            def run(decoder: str = decoder) -> None:
                generate_images(
                    "a red bus on a bridge",
                    steps=2,
                    guidance_scale=1,
                    width=64,
                    height=64,
                    seed=0,
                    decoder=decoder,
                    clip_score=False,
                    manager=manager,
                )

            results[decoder] = statistics.median(timed(run, max(args.runs, 5)))
    print("tiny test pipeline, 64², 2 steps, end to end (median, model loaded)")
    print(f"  tiny decoder                {fmt(results['tiny'])}")
    print(f"  full VAE                    {fmt(results['full'])}")
    print(f"  → full / tiny = {results['full'] / results['tiny']:.2f}")


if __name__ == "__main__":
    main()
