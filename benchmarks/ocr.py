"""OCR latency with the packaged PP-OCR model: first call (load) vs warm, per image kind.

PYTHONPATH=. python benchmarks/ocr.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from gradio.media import get_image

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.ocr import read_text
from mmdemo.testing.text_images import render_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    manager = ModelManager(Settings(device="cpu", offline=True))
    inputs = {
        "rendered text, 2 lines (~700×230)": render_text(["Quarterly Sales Report", "Revenue grew in March"]),
        "photo bus.png": get_image("bus.png"),
        "photo cheetah1.jpg": get_image("cheetah1.jpg"),
    }
    t0 = time.perf_counter()
    read_text(next(iter(inputs.values())), manager=manager)
    first = time.perf_counter() - t0
    print(f"first call (import + load + read): {first:.2f} s")
    warm = {}
    for name, image in inputs.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = read_text(image, manager=manager)
            times.append(time.perf_counter() - t0)
        warm[name] = statistics.median(times)
        print(f"{name:<38} warm median {warm[name] * 1000:7.0f} ms   text: {result.text[:40]!r}")
    base = warm[next(iter(warm))]
    print(f"first / warm (rendered text): {first / base:.1f}×")


if __name__ == "__main__":
    main()
