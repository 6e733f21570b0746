"""Real-time factor of the packaged offline speech recogniser (Whisper tiny.en via faster-whisper).

    PYTHONPATH=. python benchmarks/offline_asr.py [--runs 3]

Runs through mmdemo's own transcribe() with the Hub model unavailable, on gradio's real speech clips.
"""

from __future__ import annotations

import argparse
import statistics
import time

from gradio.media import get_audio

from mmdemo.media.audio import load_audio
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.transcription import transcribe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    manager = ModelManager(Settings(device="cpu", offline=True))  # "asr" = openai/whisper-base: not cached
    clips = {name: load_audio(get_audio(name)) for name in ("cate_blanch.mp3", "heath_ledger.mp3")}
    t0 = time.perf_counter()
    transcribe(next(iter(clips.values())), manager=manager)
    print(f"first call (load + transcribe): {time.perf_counter() - t0:.2f} s")
    for name, audio in clips.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = transcribe(audio, manager=manager)
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        rtf = seconds / audio.duration
        print(f"{name:<18} {audio.duration:5.1f} s audio  {seconds:5.2f} s  RTF {rtf:.2f}  {result.text!r}")


if __name__ == "__main__":
    main()
