"""Ray Serve vs local lanes: N concurrent captions on a full-size replica of BLIP base (real shapes, random
weights: the compute of the real checkpoint), through HTTP (gradio_client → the page → the task).

    PYTHONPATH=. python benchmarks/ray_serve.py [--clients 1 8 32] [--ray-cpus 2]

Configurations, all measured in this one run (compare the ratios; these machines are noisy):

- ``local``: ``python app.py``'s way, the caption lane running one request at a time in the page's process;
- ``ray-1``: the page sends every caption to a Ray Serve deployment with one replica (batching off);
- ``ray-2``: two replicas (batching off);
- ``ray-batch``: one replica batching concurrent captions (up to 8, waiting 50 ms).

Prints throughput (captions/s) and p50/p95 latency per N, and the Ray path's overhead for one request on a
warm replica (in process: the task called directly vs through the runner, median of 10).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("local", "ray-1", "ray-2", "ray-batch")
PHOTOS = sorted(str(p) for p in (ROOT / "assets" / "images").glob("*.jp*g"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(url: str, clients: int) -> tuple[float, float, float]:
    """``clients`` captions at once (one per client), through HTTP: (captions/s, p50 s, p95 s)."""
    from gradio_client import Client, handle_file

    connections = [Client(url, verbose=False) for _ in range(clients)]

    def one(i: int) -> float:
        began = time.perf_counter()
        connections[i].predict(handle_file(PHOTOS[i % len(PHOTOS)]), api_name="/caption")
        return time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(one, range(clients)))
    return clients / (time.perf_counter() - began), pct(latencies, 0.5), pct(latencies, 0.95)


def measure(name: str, settings: object, clients: list[int], rows: list[tuple]) -> None:
    from mmdemo.testing.server import launched_app

    with launched_app(settings) as url:
        load(url, 1)  # warm: the model loads (here or in the replicas)
        for n in clients:
            rate, p50, p95 = load(url, n)
            rows.append((name, n, rate, p50, p95))
            print(f"{name:10} N={n:3}  {rate:6.2f} captions/s  p50 {p50:6.2f} s  p95 {p95:6.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cache", default=str(ROOT / ".pytest_cache" / "d" / "bench-replicas"))
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                        help="which configurations to run (all by default)")  # fmt: skip
    args = parser.parse_args()

    import ray
    from ray import serve

    from mmdemo.ray_runner import RayRunner
    from mmdemo.runner import use_runner
    from mmdemo.runtime import configure
    from mmdemo.serve import tasks_app
    from mmdemo.settings import Settings
    from mmdemo.tasks.captioning import caption_image
    from mmdemo.testing.replicas import build_replica

    folder = build_replica("Salesforce/blip-image-captioning-base", Path(args.cache) / "blip-image-captioning-base",
                           reduced=False)  # fmt: skip
    # Every client of this benchmark comes from this machine: the per-client job limit must let 32 through.
    settings = Settings(models={"captioner": str(folder)}, device="cpu", offline=True, max_jobs_per_client=64)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"CPU: {cpu}, {os.cpu_count()} cores; BLIP base replica, app's default decoding", flush=True)
    rows: list[tuple] = []
    if "local" in args.configs:
        measure("local", settings, args.clients, rows)

    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})  # fmt: skip
    runner = RayRunner("bench")
    use_runner(runner)
    # Every deployment gets these options: a tenth of a CPU reserved per replica, so that two replicas of each of the
    # six fit in --ray-cpus 2 (a quarter each, the default, would wait forever to be scheduled there).
    small = {"ray_actor_options": {"num_cpus": 0.1}}
    configs = {
        "ray-1": {"num_replicas": 1, "user_config": {"batching": False}, **small},
        "ray-2": {"num_replicas": 2, "user_config": {"batching": False}, **small},
        "ray-batch": {"num_replicas": 1, "user_config": {"batching": True, "max_batch_size": 8}, **small},
    }
    overhead = ""
    for name, options in configs.items():
        if name not in args.configs:
            continue
        serve.run(tasks_app(settings, **options), name="bench", route_prefix=None)
        measure(name, settings, args.clients, rows)
        if name == "ray-1":  # one request on a warm replica: in process, direct vs through Ray
            manager = configure(settings)
            use_runner(None)
            caption_image(PHOTOS[0], manager=manager)
            here = partial(caption_image, PHOTOS[0], manager=manager)
            local = statistics.median(_timed(here) for _ in range(10))
            use_runner(runner)
            remote = statistics.median(_timed(lambda: caption_image(PHOTOS[0])) for _ in range(10))
            overhead = f"one request, warm: local {local:.3f} s, Ray {remote:.3f} s ({remote / local:.2f}×)"
            print(overhead, flush=True)
        serve.delete("bench")
    use_runner(None)
    serve.shutdown()
    ray.shutdown()

    base = {n: rate for name, n, rate, _, _ in rows if name == "local"}
    print("\n| configuration | N | captions/s | vs local | p50 (s) | p95 (s) |\n|---|---|---|---|---|---|")
    for name, n, rate, p50, p95 in rows:
        ratio = f"{rate / base[n]:.2f}×" if n in base else "—"
        print(f"| {name} | {n} | {rate:.2f} | {ratio} | {p50:.2f} | {p95:.2f} |")
    print(f"\n{overhead}")


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


if __name__ == "__main__":
    sys.exit(main())
