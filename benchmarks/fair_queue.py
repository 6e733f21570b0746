"""Many users at once, on the tiny test models: quick requests during a long job, abandoned work, a load run.

    PYTHONPATH=. python benchmarks/fair_queue.py [--minutes 5] [--samples 20] [--clients 8]

Everything is measured in this one run (shared machines are noisy; compare the ratios):

1. **Quick vs long**: OCR of a small sign, p50/p95 when the app is idle and while summaries of a
   ``--minutes``-long talk run, through HTTP (the app's queue lanes) and in process (the model manager's
   fair per-model locks only). Target: p95 during ≤ 3 × p95 idle.
2. **Abandoned work**: a summary whose client disconnects once it is running; the time from the
   disconnect to the job stopping (its "stopped" log line). Target ≤ 2 s.
3. **Load**: ``--clients`` clients at once, each sending the same mixed list over every endpoint;
   failures, p50/p95 per endpoint, peak RSS of the process (app + clients), and whether the queue drained.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    return f"n={len(values):>3}  p50 {pct(values, 0.5):6.2f} s  p95 {pct(values, 0.95):6.2f} s"


class StopWatch(logging.Handler):
    """Records when a handler logs that it stopped because its client went away."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stopped: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "client went away" in record.getMessage():
            self.stopped.append(time.perf_counter())


def quick_vs_long(url: str, video: Path, sign: Path, samples: int) -> None:
    from mmdemo.runtime import get_manager
    from mmdemo.tasks.ocr import read_text
    from mmdemo.tasks.video_summary import summarize_video
    from mmdemo.testing.http import call_raw, upload

    sign_file = upload(url, str(sign))
    video_file = upload(url, str(video))

    def ocr_http() -> float:
        began = time.perf_counter()
        result = call_raw(url, "ocr", [sign_file, 0.5])
        assert result.event == "complete", result
        return time.perf_counter() - began

    def ocr_direct() -> float:
        began = time.perf_counter()
        read_text(sign, manager=get_manager())
        return time.perf_counter() - began

    def summary_http() -> None:
        result = call_raw(url, "summarize", [video_file, 12, True, True, True, "auto"], timeout=600)
        assert result.event == "complete", result

    def summary_direct() -> None:
        summarize_video(video, manager=get_manager())

    for name, quick, long in (("HTTP", ocr_http, summary_http), ("in process", ocr_direct, summary_direct)):
        quick()
        long()  # warm: models loaded, imports done
        idle = [quick() for _ in range(samples)]
        during: list[float] = []
        long_times: list[float] = []
        while len(during) < samples:
            done = threading.Event()

            def run_long(job: Any = long, times: list[float] = long_times, finished: Any = done) -> None:
                began = time.perf_counter()
                job()
                times.append(time.perf_counter() - began)
                finished.set()

            threading.Thread(target=run_long, daemon=True).start()
            time.sleep(0.5)  # the long job is under way
            while not done.is_set():
                took = quick()  # sent while the long job ran (counted even if it ends after it)
                during.append(took)
            done.wait()
        ratio = pct(during, 0.95) / pct(idle, 0.95)
        print(f"OCR {name:<10} idle    {describe(idle)}")
        print(f"OCR {name:<10} during  {describe(during)}   p95 ratio {ratio:.2f}× (target ≤ 3)")
        print(f"    (each long summary took {statistics.mean(long_times):.1f} s; {len(long_times)} ran)")


def abandoned(url: str, video: Path, runs: int = 3) -> None:
    import json

    import httpx

    from mmdemo.runtime import get_manager
    from mmdemo.testing.http import call_raw, upload

    watch = StopWatch()
    logging.getLogger("mmdemo.ui.events").addHandler(watch)
    logging.getLogger("mmdemo.ui.events").setLevel(logging.INFO)
    video_file = upload(url, str(video))
    delays = []
    for _ in range(runs):
        watch.stopped.clear()
        with httpx.Client(timeout=60) as http:
            joined = http.post(
                f"{url}/gradio_api/call/summarize", json={"data": [video_file, 12, True, True, True, "auto"]}
            )
            event_id = joined.json()["event_id"]
            with http.stream("GET", f"{url}/gradio_api/call/summarize/{event_id}"):
                deadline = time.monotonic() + 60
                while not any(s.in_use for s in get_manager().status()) and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(1.0)  # well into the job
        gone = time.perf_counter()  # the stream (and its connection) is closed here
        deadline = time.monotonic() + 60
        while not watch.stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        delays.append(watch.stopped[0] - gone if watch.stopped else float("inf"))
        # the lane is free again: a new request runs at once
        began = time.perf_counter()
        assert call_raw(url, "summarize", [video_file, 1, False, False, False, "extractive"]).event == "complete"
        print(f"    next summary after the abandoned one: {time.perf_counter() - began:.2f} s")
    print(f"Abandoned summary stops {json.dumps([round(d, 2) for d in delays])} s after its client left (target ≤ 2)")


def load(url: str, clients: int, media: dict[str, str]) -> None:
    import httpx

    from mmdemo.testing.http import call_raw, upload

    image, audio, video = (upload(url, media[k]) for k in ("image", "audio", "video"))
    requests: list[tuple[str, list[Any]]] = [
        ("caption", [image, "", 10, 0, 2]),
        ("vqa", [image, "What is it?", 1]),
        ("ocr", [image, 0.5]),
        ("generate", ["a red cube", "", 2, 1.0, 64, 64, 1, 0, True, "auto", True]),
        ("emotion", [audio, 3.0, 1.5, True, 0.5]),
        ("summarize", [video, 3, True, True, True, "auto"]),
        ("caption", [image, "a photo of", 10, 0, 1]),
        ("ocr", [image, 0.3]),
    ]
    times: dict[str, list[float]] = collections.defaultdict(list)
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for name, args in requests[index % len(requests) :] + requests[: index % len(requests)]:
            began = time.perf_counter()
            result = call_raw(url, name, args, timeout=600)
            with lock:
                if result.event == "complete":
                    times[name].append(time.perf_counter() - began)
                else:
                    failures.append(f"{name}: {result.message}")

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - began
    queued = httpx.get(f"{url}/gradio_api/queue/status").json()["queue_size"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = clients * len(requests)
    print(f"Load: {clients} clients × {len(requests)} requests = {total} in {wall:.1f} s; failures {len(failures)}")
    for name, values in sorted(times.items()):
        print(f"    {name:<10} {describe(values)}")
    print(f"    peak RSS {rss:.0f} MB (app + clients, one process); queue size afterwards: {queued}")
    for failure in failures[:5]:
        print(f"    failure: {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the long talk (default 5)")
    parser.add_argument("--samples", type=int, default=20, help="quick requests per condition (default 20)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--skip", nargs="*", default=[], choices=["quick", "abandoned", "load"])
    args = parser.parse_args()

    from gradio.media import get_audio, get_image, get_video

    from mmdemo.settings import Settings
    from mmdemo.testing.odd_videos import long_talk
    from mmdemo.testing.server import launched_app
    from mmdemo.testing.text_images import render_text
    from mmdemo.testing.tiny_models import build_tiny_models

    work = Path(tempfile.mkdtemp(prefix="mmdemo-bench-"))
    dirs = build_tiny_models(Path(tempfile.gettempdir()) / "mmdemo-bench-tiny")
    video = long_talk(work / "talk.mp4", minutes=args.minutes)
    sign = render_text(["OPEN DAILY 9 TO 5"], work / "sign.png") and work / "sign.png"
    settings = Settings(models={k: str(v) for k, v in dirs.items()}, device="cpu", offline=True)
    print(f"{os.cpu_count()} CPUs; long job: summary of a {args.minutes:g}-minute talk; quick: OCR of a small sign")
    with launched_app(settings) as url:
        if "quick" not in args.skip:
            quick_vs_long(url, video, sign, args.samples)
        if "abandoned" not in args.skip:
            abandoned(url, video)
        if "load" not in args.skip:
            media = {"image": get_image("lion.jpg"), "audio": get_audio("cate_blanch.mp3"), "video": get_video("a.mp4")}
            load(url, args.clients, media)
    return 0


if __name__ == "__main__":
    sys.exit(main())
