"""Text to image side by side, in one run on the full-size SD-Turbo replica (real configs, random weights:
mmdemo/testing/replicas.py): plain diffusers float32, the app in process and over HTTP, and optimum-intel's
``OVStableDiffusionPipeline`` (the whole pipeline in OpenVINO), each with the same prompt, seed, 512² size,
1 step, guidance 0 and decoder (the full VAE, and TAESD where the path allows):

    PYTHONPATH=. python benchmarks/side_by_side.py [--runs 3] [--optimum-python /work/oi-venv/bin/python]
    ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=. python benchmarks/side_by_side.py   # as on a CPU without AVX-512

Rows: median of ``--runs`` calls after a warm-up; ratios against plain diffusers float32 and against
optimum-intel with the same decoder; for the in-process paths, where one further call spent its time (text
encoder, UNet, decoder); each image's mean absolute pixel difference from plain diffusers float32 with the same
decoder (they should all draw the same picture). The header names the CPU (model, AVX2 / AVX-512 / AVX-512 BF16 /
AMX flags) and ``ONEDNN_MAX_CPU_ISA``; each section prints the load average before and after it.

* **plain diffusers float32**: ``StableDiffusionPipeline`` from the replica folder, nothing of the app; TAESD
  as diffusers documents it (``pipe.vae = AutoencoderTiny``).
* **the app in process**: ``generate_images`` through a ``ModelManager`` with the app's CPU defaults (the fast
  path: UNet, text encoder and decoders in OpenVINO, bf16 where the CPU has it), CLIP score off to do the same
  work as the others, plus the app's defaults (TAESD + CLIP score) for reference; OpenVINO IRs cached under the
  system temp folder as benchmarks/openvino_unet.py caches them (a first conversion shows in the load column).
* **the app over HTTP**: ``/generate`` through ``gradio_client`` on the app started in this process.
* **optimum-intel**: exported once from the same replica folder (kept in the system temp folder), reshaped to
  static 512² shapes as FastSD CPU uses it (batch 1 for the UNet: ``reshape`` assumes classifier-free
  guidance's doubled batch, guidance 0 has none), and run at OpenVINO's default precision. optimum-intel has no
  TAESD support (its exporter converts the pipeline's own ``AutoencoderKL`` only and there is no
  ``AutoencoderTiny`` model part to load), so its TAESD row swaps in a TAESD decoder converted to OpenVINO
  here, as FastSD CPU does with its ``taesd-openvino`` models: labelled as such, not an optimum-intel feature.

``ONEDNN_MAX_CPU_ISA`` below AVX-512 BF16 caps oneDNN's kernels (PyTorch's and OpenVINO's CPU plugin's) but not
the CPUID the app reads (``cpu_native_bf16``) nor OpenVINO's reported ``BF16`` capability, and OpenVINO then
fails to compile bf16 ("object is not initialized"). So under such a cap this script does what a CPU of that
class does by itself: the app gets ``dtype=float32`` and optimum-intel ``INFERENCE_PRECISION_HINT=f32``, and
the header says so. OpenVINO's MLAS float32 GEMM kernels (FullyConnected layers) are not oneDNN and keep using
AVX-512: the kernel census printed for each OpenVINO UNet shows which ran.

optimum-intel cannot share the app's virtual environment (``pip install optimum-intel[openvino]`` wants a
CUDA torch, transformers < 5.6 and a huggingface-hub too old for diffusers 0.42); it runs in a subprocess with
its own, made like this (``--optimum-python``; without it that row says why and the others still run)::

    python3 -m venv /work/oi-venv
    /work/oi-venv/bin/pip install torch==2.13.0            # the local CPU wheel (any other spec pulls CUDA)
    echo "torch==2.13.0" > /tmp/oi-constraints.txt
    /work/oi-venv/bin/pip install -c /tmp/oi-constraints.txt "optimum==2.3.0" "transformers>=4.51,<5.6" \\
        "huggingface-hub>=0.23.2,<1.22" "nncf>=3.3.0" "openvino>=2026.0" "openvino-tokenizers>=2026.0" \\
        "requests>=2.33,<3" setuptools diffusers       # resolves diffusers 0.39.0 (0.42 needs hub ≥ 1.32)
    /work/oi-venv/bin/pip install --no-deps optimum-intel==2.2.0   # its hard torchvision requirement, skipped
    /work/oi-venv/bin/pip list | grep torch                # torch 2.13.0+cpu only, no torchvision

(``pip check`` then reports only the missing torchvision, which the Stable Diffusion pipeline never imports.)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("stabilityai/sd-turbo", "madebyollin/taesd", "openai/clip-vit-base-patch32")
PROMPT = "a lighthouse on a cliff at sunset"
SEED, SIDE = 1, 512
CALL = {"num_inference_steps": 1, "guidance_scale": 0.0, "width": SIDE, "height": SIDE}
"""The same work for every path (the app's own names: :data:`APP_CALL`)."""
APP_CALL = {"steps": 1, "guidance_scale": 0, "width": SIDE, "height": SIDE, "seed": SEED}
DECODERS = {"full": "full VAE", "tiny": "TAESD"}
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
HEAVY_LAYERS = {"Convolution", "FullyConnected", "MatMul", "ScaledDotProductAttention", "GroupConvolution"}
WORKER_TIMEOUT = 3600
"""Seconds the optimum-intel subprocess may take, export included (minutes on 2 busy cores)."""


# ------------------------------------------------------------------------------- shared by both processes


def loadavg() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_line() -> str:
    """The CPU model and its instruction-set flags from /proc/cpuinfo, and oneDNN's cap if one is set."""
    info = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").is_file() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    shown = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"CPU: {model}, {os.cpu_count()} cores; {shown}; ONEDNN_MAX_CPU_ISA={cap or '(unset)'}"


def capped_below_bf16() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` keeps oneDNN from bf16 kernels (AVX2, AVX512_CORE …), as on CPUs without
    AVX-512 BF16 / AMX."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    return bool(cap) and cap not in {"ALL", "DEFAULT"} and not any(k in cap for k in ("BF16", "AMX", "AVX10"))


def kernels(compiled: Any) -> dict[str, int]:
    """How many of an OpenVINO compiled model's heavy layers run on each kernel (``brgconv_avx512_bf16`` …)."""
    census: collections.Counter[str] = collections.Counter()
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) in HEAVY_LAYERS:
            census[info["primitiveType"].astype(str)] += 1
    return dict(census.most_common())


@contextlib.contextmanager
def spans(parts: dict[str, tuple[Any, str]]) -> Iterator[dict[str, float]]:
    """Seconds spent in each ``label: (object, method name)`` while the block runs (instance methods wrapped,
    then restored)."""
    spent = dict.fromkeys(parts, 0.0)
    saved = []
    for label, (obj, name) in parts.items():
        original = getattr(obj, name)
        saved.append((obj, name, name in vars(obj), vars(obj).get(name)))

        def wrapper(*args: Any, _f: Callable[..., Any] = original, _label: str = label, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - began

        setattr(obj, name, wrapper)
    try:
        yield spent
    finally:
        for obj, name, had, value in reversed(saved):
            if had:
                setattr(obj, name, value)
            else:
                delattr(obj, name)


def measure(call: Callable[[], Any], runs: int, parts: Callable[[], dict[str, tuple[Any, str]]]) -> dict[str, Any]:
    """Median seconds of ``runs`` calls after a warm-up, then one more call timed by ``parts()`` (the methods
    to split it into, resolved after the warm-up loaded everything) and the image that call made."""
    from mmdemo.testing.bench import timed

    seconds = timed(call, runs)
    with spans(parts()) as spent:
        image = call()
    return {"seconds": seconds, "parts": spent, "image": image}


# ------------------------------------------------------------------------------- optimum-intel (its own venv)


def optimum_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Run in the optimum-intel virtual environment: export once, load, time both decoders; a JSON report."""
    from importlib.metadata import version

    import openvino
    import torch
    from diffusers import AutoencoderTiny
    from optimum.intel import OVStableDiffusionPipeline
    from optimum.intel.openvino.modeling_diffusion import OVModelVae, OVModelVaeDecoder

    work, replica, taesd = Path(args.work), Path(args.replica), Path(args.taesd)
    ov_version = openvino.get_version().split("-")[0]
    report: dict[str, Any] = {
        "versions": {name: version(name) for name in ("optimum-intel", "optimum", "diffusers", "transformers")}
        | {"openvino": openvino.get_version(), "torch": torch.__version__},
        "rows": {},
    }
    export = work / f"optimum-intel-{replica.name}-ov{ov_version}"
    if not (export / "model_index.json").is_file():
        began = time.perf_counter()
        OVStableDiffusionPipeline.from_pretrained(str(replica), export=True, compile=False).save_pretrained(export)
        report["export_seconds"] = time.perf_counter() - began
    report["export_bytes"] = sum(p.stat().st_size for p in export.rglob("*") if p.is_file())
    ov_config = {"PERFORMANCE_HINT": "LATENCY"}  # optimum-intel's own default, stated
    if args.precision:
        ov_config["INFERENCE_PRECISION_HINT"] = args.precision
    began = time.perf_counter()
    pipe = OVStableDiffusionPipeline.from_pretrained(export, ov_config=ov_config, compile=False)
    pipe.reshape(batch_size=1, height=SIDE, width=SIDE, num_images_per_prompt=1)
    unet_shapes = {}  # its reshape doubles the UNet's batch for classifier-free guidance; guidance 0 runs 1
    for port in pipe.unet.model.inputs:
        shape = port.get_partial_shape()
        if port.get_any_name() in ("sample", "encoder_hidden_states"):
            shape[0] = 1
        unet_shapes[port.get_any_name()] = shape
    pipe.unet.model.reshape(unet_shapes)
    pipe.compile()
    report["load_seconds"] = time.perf_counter() - began
    report["precision"] = str(pipe.unet.request.get_property("INFERENCE_PRECISION_HINT"))
    report["unet_kernels"] = kernels(pipe.unet.request)

    def call() -> Any:
        return pipe(PROMPT, generator=torch.Generator("cpu").manual_seed(SEED), **CALL).images[0]

    def parts() -> dict[str, tuple[Any, str]]:
        return {
            "text encoder": (pipe.text_encoder, "forward"),
            "UNet": (pipe.unet, "forward"),
            "decoder": (pipe.vae_decoder, "forward"),
        }

    for decoder in DECODERS:
        if decoder == "tiny":  # swap in TAESD converted to OpenVINO (FastSD CPU's way; see the module doc)
            folder = export / "vae_decoder_taesd"
            tiny = AutoencoderTiny.from_pretrained(taesd, torch_dtype=torch.float32).eval()
            if not (folder / "openvino_model.xml").is_file():

                class Decode(torch.nn.Module):
                    def __init__(self, vae: Any) -> None:
                        super().__init__()
                        self.vae = vae

                    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
                        return self.vae.decode(latent_sample, return_dict=False)[0]

                began = time.perf_counter()
                with torch.no_grad():
                    ir = openvino.convert_model(Decode(tiny), example_input=torch.zeros(1, 4, SIDE // 8, SIDE // 8))
                ir.outputs[0].get_tensor().set_names({"sample"})
                folder.mkdir(exist_ok=True)
                openvino.save_model(ir, folder / "openvino_model.xml")
                report["taesd_convert_seconds"] = time.perf_counter() - began
            (folder / "config.json").write_text(json.dumps(dict(tiny.config) | {"scaling_factor": 1.0}, default=str))
            decoder_ir = openvino.Core().read_model(folder / "openvino_model.xml")
            decoder_ir.reshape([1, 4, SIDE // 8, SIDE // 8])  # static, as the reshaped pipeline's other parts
            pipe.vae_decoder = OVModelVaeDecoder(decoder_ir, pipe, folder.name)
            pipe.vae = OVModelVae(decoder=pipe.vae_decoder, encoder=pipe.vae_encoder)
            pipe.vae_decoder.compile()
        out = measure(call, args.runs, parts)
        path = work / f"side-by-side-optimum-{decoder}.png"
        out.pop("image").save(path)
        report["rows"][decoder] = out | {"image_path": str(path)}
    return report


def run_optimum(python: str, work: Path, dirs: dict[str, Path], runs: int) -> dict[str, Any]:
    """The optimum-intel rows from a subprocess in its own venv, or ``{"error": why}``."""
    if not Path(python).is_file():
        return {"error": f"no optimum-intel python at {python} (make its venv as the module doc shows)"}
    command = [python, __file__, "--optimum-worker", "--runs", str(runs), "--work", str(work)]
    command += ["--replica", str(dirs["text_to_image"]), "--taesd", str(dirs["tiny_vae"])]
    if capped_below_bf16():
        command += ["--precision", "f32"]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"optimum-intel did not finish in {WORKER_TIMEOUT} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"optimum-intel failed (exit {done.returncode}): {tail}"}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------- the app's side


def plain_diffusers(dirs: dict[str, Path], runs: int) -> dict[str, dict[str, Any]]:
    """StableDiffusionPipeline float32 from the replica folder; TAESD as ``pipe.vae = AutoencoderTiny``."""
    import torch
    from diffusers import AutoencoderTiny, StableDiffusionPipeline

    began = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(dirs["text_to_image"], torch_dtype=torch.float32)
    load = time.perf_counter() - began
    rows = {}
    for decoder in DECODERS:
        if decoder == "tiny":
            pipe.vae = AutoencoderTiny.from_pretrained(dirs["tiny_vae"], torch_dtype=torch.float32).eval()

        def call() -> Any:
            with torch.inference_mode():
                return pipe(PROMPT, generator=torch.Generator("cpu").manual_seed(SEED), **CALL).images[0]

        def parts() -> dict[str, tuple[Any, str]]:
            return {"text encoder": (pipe.text_encoder, "forward"), "UNet": (pipe.unet, "forward"),
                    "decoder": (pipe.vae, "decode")}  # fmt: skip

        rows[decoder] = measure(call, runs, parts) | {"precision": "float32", "load": load}
    return rows


def app_in_process(settings: Any, runs: int) -> dict[str, dict[str, Any]]:
    """``generate_images`` through a ``ModelManager``: each decoder without the CLIP score, then the defaults."""
    from mmdemo.models.manager import ModelManager
    from mmdemo.tasks.text_to_image import generate_images

    manager = ModelManager(settings)
    began = time.perf_counter()
    with manager.use("text_to_image") as handle:
        load = time.perf_counter() - began
        pipe = handle.model
    precision = next(s.dtype for s in manager.status() if s.role == "text_to_image")
    unet_kernels = {}
    for request in getattr(pipe.unet, "_requests", {}).values():  # the fast path's compiled UNet, if any
        unet_kernels = kernels(request.get_compiled_model())
    rows = {}
    for decoder in (*DECODERS, "defaults"):
        options = {"decoder": decoder, "clip_score": False} if decoder != "defaults" else {}

        def call(options: dict[str, Any] = options) -> Any:
            return generate_images(PROMPT, manager=manager, **APP_CALL, **options).images[0].image

        def parts(decoder: str = decoder) -> dict[str, tuple[Any, str]]:
            split = {"text encoder": (pipe.text_encoder, "forward"), "UNet": (pipe.unet, "forward")}
            if decoder == "full":
                return split | {"decoder": (pipe.vae, "decode")}
            with manager.use("tiny_vae") as tiny:
                return split | {"decoder": (tiny.model, "decode")}

        rows[decoder] = measure(call, runs, parts) | {"precision": precision, "load": load}
    rows["full"]["unet_kernels"] = unet_kernels
    for role in ("text_to_image", "tiny_vae", "clip"):
        manager.unload(role)
    return rows


def app_over_http(settings: Any, runs: int) -> dict[str, dict[str, Any]]:
    """``/generate`` on the app started in this process, as benchmarks/openvino_unet.py starts it."""
    from gradio_client import Client

    from mmdemo.testing.bench import timed
    from mmdemo.testing.server import launched_app

    rows = {}
    with launched_app(settings) as url:
        client = Client(url, verbose=False)
        for decoder, clip in (("full", False), ("tiny", False), ("auto", True)):

            def call(decoder: str = decoder, clip: bool = clip) -> Any:
                return client.predict(PROMPT, "", 1, 0, f"{SIDE}x{SIDE}", 1, SEED, False, decoder, clip,
                                      api_name="/generate")  # fmt: skip

            rows["defaults" if clip else decoder] = {"seconds": timed(call, runs)}
    return rows


# ------------------------------------------------------------------------------- the report


def pixel_diff(image: Any, reference: Any) -> float:
    import numpy as np

    return float(np.abs(np.asarray(image, dtype=float) - np.asarray(reference, dtype=float)).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--optimum-python", default="/work/oi-venv/bin/python",
                        help="python of optimum-intel's own venv (see the module doc)")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[], choices=["plain", "app", "http", "optimum"])
    parser.add_argument("--optimum-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--replica", help=argparse.SUPPRESS)
    parser.add_argument("--taesd", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.optimum_worker:
        print(json.dumps(optimum_worker(args)), flush=True)
        return 0

    import diffusers
    import openvino
    import torch
    from PIL import Image

    from mmdemo.models import openvino as ov_path
    from mmdemo.settings import Settings
    from mmdemo.testing.bench import full_replicas, row

    work = Path(tempfile.gettempdir()) / "mmdemo-real-size"
    dirs = full_replicas(MODELS, work)  # as benchmarks/real_size.py and openvino_unet.py build them
    os.environ.setdefault(ov_path.CACHE_ENV, str(work / "openvino-cache"))
    settings = Settings(models={role: str(p) for role, p in dirs.items()}, device="cpu", offline=True)
    settings = settings.replace(cpu_fast_path=True)  # the app's CPU default, stated
    capped = capped_below_bf16()
    if capped:
        settings = settings.replace(dtype="float32")
    print(cpu_line())
    print(f"this process: torch {torch.__version__}, diffusers {diffusers.__version__}, OpenVINO "
          f"{openvino.get_version()}; median of {args.runs} runs after a warm-up; {loadavg()}", flush=True)  # fmt: skip
    if capped:
        print("oneDNN is capped below bf16: the app runs with dtype=float32 and optimum-intel with "
              "INFERENCE_PRECISION_HINT=f32, as on a CPU of that class (see the module doc)", flush=True)  # fmt: skip

    results: dict[str, dict[str, dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    loads: list[str] = []
    labels = {
        "plain": "plain diffusers float32",
        "app": "the app in process (fast path)",
        "http": "the app over HTTP /generate",
        "optimum": "optimum-intel OVStableDiffusionPipeline",
    }
    sections: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("optimum", lambda: run_optimum(args.optimum_python, work, dirs, args.runs)),
        ("plain", lambda: plain_diffusers(dirs, args.runs)),
        ("app", lambda: app_in_process(settings, args.runs)),
        ("http", lambda: app_over_http(settings, args.runs)),
    ]
    optimum: dict[str, Any] = {}
    for name, section in sections:
        if name in args.skip:
            continue
        before = loadavg()
        began = time.perf_counter()
        try:
            out = section()
        except Exception as err:  # a row that cannot run says why; the others still run
            out = {"error": f"{type(err).__name__}: {err}"}
        loads.append(f"{name}: {time.perf_counter() - began:.0f} s, {before} → {loadavg()}")
        print(loads[-1], flush=True)
        if "error" in out:
            errors[name] = out.pop("error")
            print(f"{labels[name]}: no rows ({errors[name]})", flush=True)
        if name == "optimum":
            optimum = out
            out = {d: r | {"image": Image.open(r["image_path"])} for d, r in out.get("rows", {}).items()}
            for r in out.values():
                r |= {"precision": optimum["precision"], "load": optimum["load_seconds"]}
        results[name] = out
        gc.collect()

    plain, peer = results.get("plain", {}), results.get("optimum", {})
    print()
    row("path", "decoder", "precision", "1-step 512² image", "vs diffusers fp32", "vs optimum-intel",
        "text encoder", "UNet", "decoder", "image vs diffusers fp32 (mean abs px)", "load")  # fmt: skip
    row(*["---"] * 11)
    for name in ("plain", "app", "http", "optimum"):
        for decoder, out in results.get(name, {}).items():
            label = DECODERS.get(decoder, "app defaults (TAESD + CLIP score)")
            if name == "optimum" and decoder == "tiny":
                label += " (OpenVINO IR swapped in, as FastSD CPU does)"
            same = decoder if decoder in DECODERS else "tiny"
            seconds, parts = out["seconds"], out.get("parts", {})
            ref = plain.get(same, {}).get("image")
            image = out.get("image")
            row(
                labels[name],
                label,
                out.get("precision", "(as in process)"),
                f"{seconds:.2f} s",
                f"{seconds / plain[same]['seconds']:.2f}×" if same in plain else "",
                f"{seconds / peer[same]['seconds']:.2f}×" if same in peer else "",
                *(f"{parts[p]:.2f} s" if p in parts else "" for p in ("text encoder", "UNet", "decoder")),
                f"{pixel_diff(image, ref):.2f}" if image is not None and ref is not None else "",
                f"{out['load']:.1f} s" if "load" in out else "",
            )

    print()
    for name, why in errors.items():
        print(f"{labels[name]}: no rows ({why})")
    if optimum:
        versions = ", ".join(f"{k} {v}" for k, v in optimum["versions"].items())
        export = f"export {optimum['export_seconds']:.0f} s, " if "export_seconds" in optimum else "export cached, "
        converted = optimum.get("taesd_convert_seconds")
        taesd = f"TAESD conversion {converted:.0f} s, " if converted is not None else ""
        print(f"optimum-intel venv: {versions}")
        print(f"optimum-intel: {export}{taesd}{optimum['export_bytes'] / 2**30:.2f} GiB on disk; load + static "
              f"512² compile {optimum['load_seconds']:.1f} s; UNet kernels {optimum['unet_kernels']}")  # fmt: skip
    app = results.get("app", {})
    if app.get("full", {}).get("unet_kernels"):
        print(f"the app's OpenVINO UNet kernels: {app['full']['unet_kernels']}")
    print("sections: " + "; ".join(loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
