"""Start-up time, first-load and warm latency of captioning/VQA on the tiny test models.

    PYTHONPATH=. python benchmarks/startup_and_latency.py [--runs 20]

Everything is measured in this one run on this machine, and the report gives ratios next to the
absolute figures, because shared machines are noisy. Nothing here touches the network.

* start-up: ``python app.py`` in a subprocess until the page answers HTTP 200 (no model loads);
* first request: a fresh process's first ``caption_image`` (imports torch/transformers, loads the
  tiny model through the real loader, runs it) vs. the same call warm, in-process;
* through the server: ``gradio_client`` calls of ``/caption`` and ``/vqa`` on a running app, first
  (model load included) and warm; and a first call made after the app sat idle for ``--idle``
  seconds (it imports torch/transformers in the background once the UI is up).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def start_app(env: dict[str, str]) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(url)
    return proc, url, time.perf_counter() - t0


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds < 10 else f"{seconds:8.2f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="warm calls per measurement")
    parser.add_argument("--idle", type=float, default=15, help="seconds between start-up and a first request")
    args = parser.parse_args()

    from gradio.media import get_image

    from mmdemo.testing.tiny_models import build_tiny_models

    photo, photo2 = get_image("lion.jpg"), get_image("tower.jpg")
    models_root = Path(tempfile.gettempdir()) / "mmdemo-bench-tiny-models"
    dirs = build_tiny_models(models_root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")}
    env.update({f"MMDEMO_{role.upper()}_MODEL": str(path) for role, path in dirs.items()})
    env.update(MMDEMO_DEVICE="cpu", PYTHONPATH=str(ROOT))

    rows: list[tuple[str, float]] = []

    # 1. Start-up, three times (the first also warms the OS file cache).
    startups = []
    for _ in range(3):
        proc, _url, seconds = start_app(env)
        proc.terminate()
        proc.wait()
        startups.append(seconds)
    rows.append(("app start → UI served (median of 3)", statistics.median(startups)))

    # 2. A fresh process: first caption (imports + load + run) vs warm, in-process.
    code = (
        "import time, json, sys\n"
        "t0 = time.perf_counter()\n"
        "import mmdemo\n"
        "from mmdemo.tasks.captioning import DecodingOptions\n"
        f"r = mmdemo.caption_image({photo!r})\n"
        "first = time.perf_counter() - t0\n"
        "warm = []\n"
        f"for _ in range({args.runs}):\n"
        "    t = time.perf_counter(); mmdemo.caption_image("
        + repr(photo2)
        + "); warm.append(time.perf_counter() - t)\n"
        "print(json.dumps({'first': first, 'warm': warm}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    import json

    direct = json.loads(result.stdout.strip().splitlines()[-1])
    direct_warm = statistics.median(direct["warm"])
    rows.append(("python: first caption in a fresh process", direct["first"]))
    rows.append((f"python: warm caption (median of {args.runs})", direct_warm))

    # 3. Through the running server with gradio_client.
    from gradio_client import Client, handle_file

    proc, url, _ = start_app(env)
    try:
        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        client.predict(handle_file(photo), "", 30, 0, 3, api_name="/caption")
        first_caption = time.perf_counter() - t0
        warm_caption = statistics.median(
            timed(lambda: client.predict(handle_file(photo2), "", 30, 0, 3, api_name="/caption"), args.runs)
        )
        t0 = time.perf_counter()
        client.predict(handle_file(photo), "What is this?", 3, api_name="/vqa")
        first_vqa = time.perf_counter() - t0
        warm_vqa = statistics.median(
            timed(lambda: client.predict(handle_file(photo2), "What is this?", 3, api_name="/vqa"), args.runs)
        )
    finally:
        proc.terminate()
        proc.wait()
    # 4. The first request after the background imports had time to finish (an idle start-up).
    proc, url, _ = start_app(env)
    try:
        time.sleep(args.idle)
        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        client.predict(handle_file(photo), "", 30, 0, 3, api_name="/caption")
        first_after_idle = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()
    rows += [
        ("gradio_client /caption first, right after start-up", first_caption),
        (f"gradio_client /caption first, {args.idle:.0f} s after start-up", first_after_idle),
        (f"gradio_client /caption warm (median of {args.runs})", warm_caption),
        ("gradio_client /vqa first (model load)", first_vqa),
        (f"gradio_client /vqa warm (median of {args.runs})", warm_vqa),
    ]

    width = max(len(name) for name, _ in rows)
    print(f"tiny models, CPU, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    for name, seconds in rows:
        print(f"  {name:<{width}}  {fmt(seconds)}")
    print("ratios (same run):")
    print(f"  first / warm caption, in-process      {direct['first'] / direct_warm:7.1f}×")
    print(f"  first / warm caption, via server      {first_caption / warm_caption:7.1f}×")
    print(f"  first caption: right after / {args.idle:.0f} s after start-up {first_caption / first_after_idle:5.1f}×")
    print(f"  server overhead, warm caption         {warm_caption / direct_warm:7.1f}× the in-process call")
    print(f"  app start / warm caption via server   {statistics.median(startups) / warm_caption:7.1f}×")


if __name__ == "__main__":
    main()
