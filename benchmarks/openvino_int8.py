"""8-bit forms of the CPU fast path's OpenVINO UNet against its float form, in one run, on the full-size SD-Turbo
replica (real configs, random weights: mmdemo/testing/replicas.py; the 865.9 M-parameter UNet):

    PYTHONPATH=. python benchmarks/openvino_int8.py [--runs 3] [--forms float,int8,hybrid,full]
    ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=. python benchmarks/openvino_int8.py   # an AVX2-only CPU, emulated

Forms, each made from the app's float IR (``mmdemo.models.openvino``; bf16 inference precision where the CPU
has native bf16 and oneDNN may use it, else f32):

* ``float``: the IR as the app converts it;
* ``int8``: NNCF weight-only compression, every weight 8-bit (``nncf.compress_weights``, INT8_ASYM);
* ``hybrid``: optimum-intel's recipe for diffusion UNets (:func:`mmdemo.models.openvino.quantize_unet`): linear
  layers' weights compressed, convolutions' and attention's weights and activations quantized on the ranges
  of a calibration set (the UNet's inputs for a few prompts, recorded through the app's pipeline);
* ``full``: ``nncf.quantize`` of every layer (activations too) on the same calibration set (transformer preset).

Per form: one UNet step (512², the prompt's embedding, timestep 999) and the 1-step 512² image end to end through
the app's backend (``generate_images`` with a ``ModelManager``, app defaults: TAESD + CLIP score), the forms
interleaved round by round so the machine's load drifts over all of them alike (median of ``--runs`` rounds after
a warm-up round); noise prediction relative L2, image mean absolute pixel difference and CLIP score (same seed)
against PyTorch float32; quantization time; size on disk; the kernels OpenVINO picked (its convolution/
FullyConnected primitives). The forms are cached under the system temp folder (``--fresh`` makes them again).
Random weights: the CLIP score is not an image-quality figure here, only how far each form's image moved.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

MODELS = ("stabilityai/sd-turbo", "madebyollin/taesd", "openai/clip-vit-base-patch32")
PROMPT = "a lighthouse on a cliff at sunset"
SAME = {"steps": 1, "guidance_scale": 0, "width": 512, "height": 512, "seed": 1}
FORMS = ("float", "int8", "hybrid", "full")


def quantize_full(model: Any, samples: list[dict[str, Any]]) -> Any:
    """Every layer quantized (weights and activations) on ``samples``: NNCF's transformer preset."""
    import nncf

    return nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples), model_type=nncf.ModelType.TRANSFORMER)


def kernels(unet: Any) -> str:
    """The primitives OpenVINO compiled the convolutions and fully connected layers to, counted."""
    counts: collections.Counter[str] = collections.Counter()
    for request in unet._requests.values():
        for op in request.get_compiled_model().get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if info["layerType"].astype(str) in ("Convolution", "FullyConnected"):
                counts[f"{info['layerType'].astype(str)} {info['primitiveType'].astype(str)}"] += 1
    return ", ".join(f"{n}× {k}" for k, n in sorted(counts.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--fresh", action="store_true", help="convert and quantize again")
    args = parser.parse_args()
    forms = [f for f in args.forms.split(",") if f]

    import logging

    import nncf
    import numpy as np
    import openvino
    import torch

    nncf.set_log_level(logging.ERROR)
    from mmdemo.models import openvino as ov_path
    from mmdemo.models.device import cpu_native_bf16
    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.tasks.text_to_image import generate_images
    from mmdemo.testing.bench import full_replicas, row

    avx2 = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() == "AVX2"
    dtype = "float32" if avx2 or not cpu_native_bf16() else "bfloat16"  # an AVX2 CPU has no native bf16
    work = Path(tempfile.gettempdir()) / "mmdemo-real-size"
    dirs = full_replicas(MODELS, work)
    cache = work / "openvino-int8-cache"  # its own: benchmarks/openvino_unet.py empties the other one
    if args.fresh:
        shutil.rmtree(cache, ignore_errors=True)
    os.environ[ov_path.CACHE_ENV] = str(cache)
    base = Settings(models={role: str(p) for role, p in dirs.items()}, device="cpu", offline=True, dtype=dtype)
    print(f"\n{os.cpu_count()} CPUs, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}, dtype "
          f"{dtype}, torch {torch.__version__}, OpenVINO {openvino.get_version()}, NNCF {nncf.__version__}; "
          f"median of {args.runs} interleaved rounds after a warm-up round; load average {os.getloadavg()}\n",
          flush=True)  # fmt: skip

    # The reference: PyTorch float32, the fast path off (its text encoder gives the step's inputs); kept on disk.
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, 64, 64, generator=generator)
    timestep = torch.tensor(999.0)
    saved = work / "openvino-int8-reference.pt"
    reference: dict[str, Any] = torch.load(saved) if saved.is_file() and not args.fresh else {}
    if not reference:
        manager = ModelManager(base.replace(cpu_fast_path=False, dtype="float32"))
        with manager.use("text_to_image") as handle, torch.no_grad():
            pipe = handle.model
            reference["embeds"] = pipe.encode_prompt(PROMPT, torch.device("cpu"), 1, False)[0].float()
            reference["noise"] = pipe.unet(latents, timestep, reference["embeds"], return_dict=False)[0].float()
        generated = generate_images(PROMPT, manager=manager, **SAME).images[0]
        reference["image"] = torch.from_numpy(np.asarray(generated.image).astype(float))
        reference["clip"] = generated.clip_score
        torch.save(reference, saved)
        for role in ("text_to_image", "tiny_vae", "clip"):
            manager.unload(role)
        del manager, pipe, handle
        gc.collect()
    reference["image"] = reference["image"].numpy()

    # The app's fast path (float form) and the forms made from its IR.
    manager = ModelManager(base.replace(cpu_fast_path=True))
    began = time.perf_counter()
    with manager.use("text_to_image") as handle:
        load_s = time.perf_counter() - began
        pipe = handle.model
        float_unet = pipe.unet
        assert isinstance(float_unet, ov_path.OpenVINOUNet), handle.model  # the fast path fell back
        precision = float_unet.precision
        float_dir, _ = ov_path.converted_unet(dirs["text_to_image"], precision)
        unets: dict[str, Any] = {"float": float_unet}
        converted_s = json.loads((float_dir / "meta.json").read_text())["convert_seconds"]
        made: dict[str, dict[str, Any]] = {"float": {"seconds": converted_s, "dir": float_dir}}
        samples: list[dict[str, Any]] = []
        for form in forms:
            if form == "float":
                continue
            target = cache / f"{form}-{float_dir.name}"
            out = made.setdefault(form, {"dir": target, "seconds": None})
            if not (target / "unet.xml").is_file():
                if form in ("hybrid", "full") and not samples:
                    began = time.perf_counter()
                    samples = ov_path.calibration_inputs(pipe, float_unet)
                    calibration_s = time.perf_counter() - began
                    print(f"calibration: {len(samples)} UNet inputs recorded in {calibration_s:.1f} s", flush=True)
                model = openvino.Core().read_model(float_dir / "unet.xml")
                began = time.perf_counter()
                if form == "full":
                    quantized = quantize_full(model, samples)
                else:
                    quantized = ov_path.quantize_unet(model, form, lambda s=samples: s)
                scratch = target.with_suffix(".tmp")
                scratch.mkdir(parents=True, exist_ok=True)
                openvino.save_model(quantized, scratch / "unet.xml", compress_to_fp16=precision == "bf16")
                os.replace(scratch, target)
                out["seconds"] = time.perf_counter() - began
                print(f"{form}: quantized in {out['seconds']:.1f} s (load average {os.getloadavg()})", flush=True)
                del model, quantized
                gc.collect()
            unets[form] = ov_path.compile_unet(target, float_unet.config, handle.dtype)
    # generate_images takes the model's run lock: outside the `use` block
    for form, out in made.items():
        out["disk"] = sum(p.stat().st_size for p in Path(out["dir"]).glob("unet.*")) / 2**30
        out["kernels"] = kernels(unets[form])

    def step(unet: Any) -> Any:
        with torch.no_grad():
            return unet(latents, timestep, reference["embeds"], return_dict=False)[0].float()

    def image() -> Any:
        return generate_images(PROMPT, manager=manager, **SAME).images[0]

    times: dict[str, dict[str, list[float]]] = {f: {"step": [], "image": []} for f in unets}
    for round_ in range(args.runs + 1):
        for form, unet in unets.items():
            began = time.perf_counter()
            noise = step(unet)
            step_s = time.perf_counter() - began
            pipe.unet = unet
            began = time.perf_counter()
            picture = image()
            image_s = time.perf_counter() - began
            if round_:
                times[form]["step"].append(step_s)
                times[form]["image"].append(image_s)
            else:  # the warm-up round: the drift
                made[form]["noise"] = float((noise - reference["noise"]).norm() / reference["noise"].norm())
                made[form]["pixels"] = float(
                    np.abs(np.asarray(picture.image).astype(float) - reference["image"]).mean()
                )
                made[form]["clip"] = picture.clip_score
        print(f"round {round_} done, load average {os.getloadavg()}", flush=True)
    pipe.unet = float_unet

    import statistics

    print(f"\nThe fast path's first load {load_s:.1f} s; UNet precision {precision}; load average {os.getloadavg()}\n")
    first = statistics.median(times["float"]["step"]), statistics.median(times["float"]["image"])
    row("UNet form", "one UNet step", "ratio", "1-step 512² image, app defaults (TAESD + CLIP)", "ratio",
        "noise pred. vs PyTorch fp32", "image vs fp32 (mean abs px)", "CLIP score (fp32: {})".format(reference["clip"]),
        "quantization", "disk", "kernels")  # fmt: skip
    row(*["---"] * 11)
    for form, out in made.items():
        step_s, image_s = statistics.median(times[form]["step"]), statistics.median(times[form]["image"])
        row(
            form, f"{step_s:.2f} s", f"{step_s / first[0]:.2f}×", f"{image_s:.2f} s", f"{image_s / first[1]:.2f}×",
            f"{100 * out['noise']:.2f} %", f"{out['pixels']:.2f}", _clip_drift(out["clip"], reference["clip"]),
            "cached" if out["seconds"] is None else f"{out['seconds']:.0f} s" + (" (convert)" * (form == "float")),
            f"{out['disk']:.2f} GB", out["kernels"],
        )  # fmt: skip
    print("\nper-round seconds:", {f: {k: [round(x, 2) for x in v] for k, v in t.items()} for f, t in times.items()})
    return 0


def _clip_drift(score: float | None, reference: float | None) -> str:
    """The CLIP score of the form's image of the same seed, and its difference from PyTorch float32's."""
    if score is None or reference is None:
        return "n/a"
    return f"{score:.2f} ({score - reference:+.2f})"


if __name__ == "__main__":
    sys.exit(main())
