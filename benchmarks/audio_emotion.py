"""Latency per second of audio of the audio emotion analysis, on the tiny test models.

    PYTHONPATH=. python benchmarks/audio_emotion.py [--runs 5]

Everything is measured in this one run, in-process, on this machine; the report gives ratios next to
the absolute figures, because shared machines are noisy. Tiny random-weight models make the model
compute small, so these numbers show the pipeline's own costs (decoding, resampling, windowing,
feature extraction, Whisper decoding loop, fusion); real models add their compute on top. Nothing
here touches the network.

Measured (median of ``--runs`` warm calls each, after one call that loads the models):

* decoding + resampling to 16 kHz (MP3 through libsndfile, M4A through PyAV/FFmpeg);
* voice only (``use_transcript=False``): the windows through the acoustic model;
* the full analysis: voice + Whisper transcription + text emotion + fusion;
* transcription alone (``transcribe``), as the video tab uses it;
on an 8 s clip and a 60 s clip (the 8 s speech repeated), so fixed costs and per-second costs separate.
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
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm calls per measurement")
    args = parser.parse_args()

    import numpy as np

    from mmdemo.media.audio import load_audio
    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.tasks.audio_emotion import AnalysisOptions, analyze_emotion
    from mmdemo.tasks.transcription import transcribe
    from mmdemo.testing.odd_audio import make_odd_audio
    from mmdemo.testing.tiny_models import build_tiny_models

    root = Path(tempfile.gettempdir())
    dirs = build_tiny_models(root / "mmdemo-bench-tiny-models", ["emotion", "asr", "text_emotion"])
    files = make_odd_audio(root / "mmdemo-bench-odd-audio")
    manager = ModelManager(Settings(models={k: str(v) for k, v in dirs.items()}, device="cpu", offline=True))

    short = load_audio(files["speech.mp3"], sample_rate=16_000)
    clips = {
        f"{short.duration:.0f} s": (16_000, short.samples),
        "60 s": (16_000, np.tile(short.samples, 8)[: 60 * 16_000]),
    }
    voice_only = AnalysisOptions(use_transcript=False)
    full = AnalysisOptions()

    began = time.perf_counter()
    analyze_emotion(clips["60 s"], options=full, manager=manager)
    first = time.perf_counter() - began

    rows: list[tuple[str, float, float]] = []  # name, seconds, audio seconds
    for name in ("speech.mp3", "speech.m4a"):
        seconds = median_time(lambda n=name: load_audio(files[n], sample_rate=16_000), args.runs)
        rows.append((f"decode + resample {name}", seconds, short.duration))
    results: dict[tuple[str, str], float] = {}
    for label, clip in clips.items():
        duration = len(clip[1]) / 16_000
        for kind, options in (("voice only", voice_only), ("voice + words (full)", full)):
            seconds = median_time(lambda c=clip, o=options: analyze_emotion(c, options=o, manager=manager), args.runs)
            results[(label, kind)] = seconds
            rows.append((f"{label}: {kind}", seconds, duration))
        seconds = median_time(lambda c=clip: transcribe(c[1], 16_000, manager=manager), args.runs)
        results[(label, "transcribe")] = seconds
        rows.append((f"{label}: transcribe only", seconds, duration))

    width = max(len(name) for name, _, _ in rows)
    print(f"tiny models, CPU, {os.cpu_count()} cores, python {sys.version.split()[0]}, median of {args.runs}")
    print(f"  {'first full analysis of 60 s (model loads included)':<{width}}  {first * 1000:8.1f} ms")
    print(f"  {'':<{width}}  {'total':>11}  {'per s of audio':>14}")
    for name, seconds, duration in rows:
        print(f"  {name:<{width}}  {seconds * 1000:8.1f} ms  {seconds / duration * 1000:9.2f} ms/s")
    print("ratios (same run):")
    for label in clips:
        voice, both = results[(label, "voice only")], results[(label, "voice + words (full)")]
        print(f"  {label}: full / voice only                    {both / voice:6.2f}×")
        print(f"  {label}: transcription share of the full time {results[(label, 'transcribe')] / both:6.0%}")
    per_s = {label: results[(label, "voice + words (full)")] / (len(c[1]) / 16_000) for label, c in clips.items()}
    first_label, second_label = clips
    ratio = per_s[first_label] / per_s[second_label]
    print(f"  full, per second of audio: {first_label} / {second_label} clip            {ratio:6.2f}×")


if __name__ == "__main__":
    main()
