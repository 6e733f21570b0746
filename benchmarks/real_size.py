"""Real-size benchmarks on full-size replicas of the CPU default models (random weights, real architectures:
mmdemo/testing/replicas.py) and real Whisper tiny.en weights, each task as the app against the plain
library call on the same model, in one run:

    PYTHONPATH=. python benchmarks/real_size.py [--runs 3] [--skip budget]

* caption (BLIP-base) and VQA (BLIP-VQA-base): ``generate`` with the app's defaults, plain vs
  ``caption_image``/``answer_question`` vs ``/caption``/``/vqa`` over HTTP;
* a 1-step 512² SD-Turbo image: plain diffusers (full VAE, no CLIP) vs the app with the same work
  (full decoder, no CLIP score) vs the app's defaults on a CPU (TAESD decoder, CLIP score) — in process
  and over HTTP, with what each step adds;
* voice emotion per second of audio (wav2vec2-base, the app's 3 s windows) and speech recognition's
  real-time factor (real Whisper tiny.en; transformers' ASR pipeline vs the app);
* peak RSS of the app (a separate process) when all four tabs are used under a memory budget smaller
  than the sum of their models.

Ratios are what to compare (shared machines are noisy); full-size replicas take ~10 GB of disk in the
system temp folder and are reused by later runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
from mmdemo.testing.bench import full_replicas, row, timed
from mmdemo.testing.replicas import cpu_default_ids

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent


def compare(task: str, plain: float, app: float, http: float | None = None, per: float = 1.0, unit: str = " s") -> None:
    """One table row: the plain call, the app in process and over HTTP (per ``per`` units), with ratios."""
    cells = [task, f"{plain / per:.3f}{unit}", f"{app / per:.3f}{unit}", f"{app / plain:.2f}×"]
    cells += [f"{http / per:.3f}{unit}", f"{http / plain:.2f}×"] if http is not None else ["", ""]
    row(*cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["caption", "generate", "audio", "budget"])
    args = parser.parse_args()

    import torch
    from gradio.media import get_audio, get_image, get_video
    from gradio_client import Client, handle_file

    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en
    from mmdemo.testing.server import launched_app

    work = Path(tempfile.gettempdir()) / "mmdemo-real-size"
    dirs = full_replicas(cpu_default_ids(), work)
    whisper = work / "whisper-tiny.en-real"
    if not (whisper / "processor_config.json").is_file():
        build_real_whisper_tiny_en(whisper)
    models = {role: str(path) for role, path in dirs.items()} | {"asr": str(whisper)}
    settings = Settings(models=models, device="cpu", offline=True)
    manager = ModelManager(settings)
    photo = get_image("lion.jpg")
    print(f"\n{os.cpu_count()} CPUs, torch {torch.__version__}, median of {args.runs} runs after a warm-up\n")
    row("task", "plain library", "app (in process)", "ratio", "app over HTTP", "ratio")
    row("---", "---", "---", "---", "---", "---")

    with launched_app(settings) as url:
        client = Client(url, verbose=False)

        if "caption" not in args.skip:
            from mmdemo.tasks.captioning import DecodingOptions, answer_question, caption_image

            options = DecodingOptions(30, 0, 3)
            with manager.use("captioner") as handle:
                model, processor = handle.model, handle.processor
            from PIL import Image

            image = Image.open(photo).convert("RGB")

            def plain_caption() -> None:
                with torch.inference_mode():
                    model.generate(**processor(images=image, return_tensors="pt"), **options.generate_kwargs())

            p = timed(plain_caption, args.runs)
            a = timed(lambda: caption_image(photo, options=options, manager=manager), args.runs)
            h = timed(lambda: client.predict(handle_file(photo), "", 30, 0, 3, api_name="/caption"), args.runs)
            row(
                "caption (BLIP-base, 30 tokens, 3 beams)",
                f"{p:.2f} s",
                f"{a:.2f} s",
                f"{a / p:.2f}×",
                f"{h:.2f} s",
                f"{h / p:.2f}×",
            )

            vqa_options = DecodingOptions(max_new_tokens=10, num_beams=3)
            with manager.use("vqa") as handle:
                vqa_model, vqa_processor = handle.model, handle.processor

            def plain_vqa() -> None:
                with torch.inference_mode():
                    inputs = vqa_processor(images=image, text="What animal is this?", return_tensors="pt")
                    vqa_model.generate(**inputs, **vqa_options.generate_kwargs())

            p = timed(plain_vqa, args.runs)
            a = timed(
                lambda: answer_question(photo, "What animal is this?", options=vqa_options, manager=manager), args.runs
            )
            h = timed(lambda: client.predict(handle_file(photo), "What animal is this?", 3, api_name="/vqa"), args.runs)
            row(
                "VQA (BLIP-VQA-base, 3 beams)",
                f"{p:.2f} s",
                f"{a:.2f} s",
                f"{a / p:.2f}×",
                f"{h:.2f} s",
                f"{h / p:.2f}×",
            )

        if "generate" not in args.skip:
            from mmdemo.tasks.text_to_image import generate_images

            with manager.use("text_to_image") as handle:
                pipe = handle.model
            prompt = "a lighthouse on a cliff at sunset"

            def plain_image() -> None:
                pipe(prompt, num_inference_steps=1, guidance_scale=0.0, width=512, height=512,
                     generator=torch.Generator("cpu").manual_seed(1))  # fmt: skip

            same = {"steps": 1, "guidance_scale": 0, "width": 512, "height": 512, "seed": 1}
            p = timed(plain_image, args.runs)
            a = timed(
                lambda: generate_images(prompt, decoder="full", clip_score=False, manager=manager, **same), args.runs
            )
            h = timed(lambda: client.predict(prompt, "", 1, 0, "512x512", 1, 1, False, "full", False,
                                             api_name="/generate"), args.runs)  # fmt: skip
            row("1-step 512² SD-Turbo image, full VAE, no CLIP", f"{p:.2f} s", f"{a:.2f} s", f"{a / p:.2f}×",
                f"{h:.2f} s", f"{h / p:.2f}×")  # fmt: skip
            a2 = timed(lambda: generate_images(prompt, manager=manager, **same), args.runs)
            h2 = timed(lambda: client.predict(prompt, "", 1, 0, "512x512", 1, 1, False, "auto", True,
                                              api_name="/generate"), args.runs)  # fmt: skip
            a3 = timed(lambda: generate_images(prompt, clip_score=False, manager=manager, **same), args.runs)
            compare("… the app's CPU defaults (TAESD decoder + CLIP score)", p, a2, h2)
            compare("… TAESD decoder, no CLIP score", p, a3)

        if "audio" not in args.skip:
            import numpy as np

            from mmdemo.media.audio import load_audio
            from mmdemo.tasks.audio_emotion import AnalysisOptions, analyze_emotion, window_bounds
            from mmdemo.tasks.transcription import transcribe

            speech = get_audio("cate_blanch.mp3")
            samples = load_audio(speech, sample_rate=16_000).samples
            seconds = len(samples) / 16_000
            with manager.use("emotion") as handle:
                emotion_model, extractor = handle.model, handle.processor
            bounds = window_bounds(len(samples), 16_000, 3.0, 1.5)

            def plain_windows() -> None:
                with torch.inference_mode():
                    for first in range(0, len(bounds), 8):
                        pieces = [samples[a:b] for a, b in bounds[first : first + 8]]
                        emotion_model(**extractor(pieces, sampling_rate=16_000, return_tensors="pt", padding=True))

            options = AnalysisOptions(use_transcript=False)
            p = timed(plain_windows, args.runs)
            a = timed(lambda: analyze_emotion(speech, options=options, manager=manager), args.runs)
            h = timed(lambda: client.predict(handle_file(speech), 3, 1.5, False, 0.5, api_name="/emotion"), args.runs)
            compare(f"voice emotion per audio second (wav2vec2-base, {len(bounds)} windows)", p, a, h, per=seconds)

            from transformers import pipeline

            long = np.concatenate([samples] * 8)  # ~63 s
            asr = pipeline("automatic-speech-recognition", model=str(whisper), dtype=torch.float32, device="cpu")

            def plain_asr() -> None:
                asr(long.copy(), chunk_length_s=30, batch_size=4, return_timestamps=True)

            p = timed(plain_asr, args.runs)
            a = timed(lambda: transcribe(long, 16_000, manager=manager), args.runs)
            duration = len(long) / 16000
            compare(f"speech recognition real-time factor (real Whisper tiny.en, {duration:.0f} s)", p, a, None,
                    per=duration, unit="")  # fmt: skip

    if "budget" not in args.skip:
        budget_check(models, work, get_image, get_audio, get_video)
    return 0


def budget_check(models: dict[str, str], work: Path, get_image: Any, get_audio: Any, get_video: Any) -> None:
    """The app in its own process, every tab used once, under a budget smaller than its models' sum."""
    from gradio_client import Client, handle_file

    from mmdemo.models.manager import estimate_weight_bytes
    from mmdemo.testing.server import free_port

    total = sum(estimate_weight_bytes(Path(p), 4) for p in models.values())
    budget = 0.6 * total / 2**30
    env = {**os.environ, "MMDEMO_MEMORY_BUDGET_GB": f"{budget:.2f}", "MMDEMO_DEVICE": "cpu"}
    env |= {f"MMDEMO_{role.upper()}_MODEL": path for role, path in models.items()}
    port = free_port()
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        client.predict(handle_file(get_image("lion.jpg")), "", 30, 0, 3, api_name="/caption")
        client.predict(handle_file(get_image("lion.jpg")), "What is it?", 3, api_name="/vqa")
        client.predict("a lighthouse", "", 1, 0, "512x512", 1, 1, False, "auto", True, api_name="/generate")
        client.predict(handle_file(get_audio("cate_blanch.mp3")), 3, 1.5, True, 0.5, api_name="/emotion")
        client.predict(handle_file(get_video("world.mp4")), 3, True, True, True, "auto", api_name="/summarize")
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 2**20
        print(f"\nAll four tabs under a {budget:.1f} GB budget (models sum to {total / 2**30:.1f} GB): "
              f"peak RSS of the app {peak:.1f} GB")  # fmt: skip
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    sys.exit(main())
