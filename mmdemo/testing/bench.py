"""What the benchmarks in ``benchmarks/`` share: timing, Markdown rows, the full-size replicas they run on."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any], runs: int) -> float:
    """Median seconds of ``runs`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def row(*cells: Any) -> None:
    """One Markdown table row on stdout."""
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def full_replicas(model_ids: Iterable[str], root: Path) -> dict[str, Path]:
    """Role → folder of the full-size replica (real configs, random weights) of each of ``model_ids`` in
    ``root``, built once and reused while its stamp matches (``mmdemo/testing/replicas.py``)."""
    from .replicas import REPLICAS, build_replica, replica_folder_name

    folders = {}
    for model_id in model_ids:
        folder = Path(root) / replica_folder_name(model_id)
        stamp = folder / ".mmdemo-replica.json"
        if not stamp.is_file() or json.loads(stamp.read_text()) != {"model_id": model_id, "reduced": False}:
            began = time.perf_counter()
            build_replica(model_id, folder, reduced=False)
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**30
            print(f"built {model_id}: {size:.2f} GB in {time.perf_counter() - began:.0f} s", flush=True)
        folders[REPLICAS[model_id].role] = folder
    return folders
