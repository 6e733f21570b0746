"""Hostile load: for each attack, the server's peak memory, the disk it wrote and how long until another user is
served normally again — for this checkout and (``--before PATH``) an older one, on the tiny models.

    PYTHONPATH=. python benchmarks/hostile_load.py                          # this checkout
    git worktree add /tmp/before 6af23d6
    PYTHONPATH=. python benchmarks/hostile_load.py --before /tmp/before     # … and the older one, side by side
    PYTHONPATH=. python benchmarks/hostile_load.py --only flood,abandoned   # some attacks

Each checkout's app runs as ``python app.py`` in its own process (CPU, tiny models, the CPU fast path off, this
machine trusted as a proxy so that every client is told apart by its ``X-Forwarded-For``), with its temporary and
Gradio cache folders in one fresh folder. The attacks run one after another, each from a client of its own; the
payloads come from :mod:`mmdemo.testing.hostile` (this checkout's), sent as raw HTTP, so the older app gets the
same bytes.

Per attack:

* **peak RSS**: the server's resident memory at its highest while the attack ran and until it recovered, above what
  it was when the attack began (``/proc/<pid>/status``, polled every 0.1 s);
* **disk**: the most the app's folders grew, and what was still there once it recovered;
* **recover**: from the end of the attack (its requests sent, refused, or abandoned) until an honest client's quick
  request on the attacked lane (a one-step 64² picture, or a caption) is answered within 3× its idle time;
* **answer**: how the attack's own requests ended (queued / refused …).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

HERE = Path(__file__).resolve().parents[1]
RECOVERY_LIMIT_S = 300.0


# --- the server under test ------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    folder: Path

    def rss(self) -> int:
        """Resident bytes of the server process (and its children: none here)."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def disk(self) -> int:
        total = 0
        for root, _, files in os.walk(self.folder):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total


@contextlib.contextmanager
def served(checkout: Path, models: dict[str, Path], port: int) -> Iterator[Server]:
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="mmdemo-hostile-load-"))
    (folder / "gradio").mkdir()
    (folder / "tmp").mkdir()
    env = {
        **os.environ,
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "TMPDIR": str(folder / "tmp"),
        "MMDEMO_CPU_FAST_PATH": "0",
        "MMDEMO_DEVICE": "cpu",
        "MMDEMO_TRUSTED_PROXIES": "127.0.0.1",
        "PYTHONPATH": str(checkout),
    }
    flags = [arg for role, path in models.items() for arg in ("--model", f"{role}={path}")]
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), *flags],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    began = time.monotonic()
    while time.monotonic() - began < 180:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/config", timeout=5).status_code == 200:
                break
        if process.poll() is not None:
            raise RuntimeError(f"the app of {checkout} did not start: see {folder / 'server.log'}")
        time.sleep(0.5)
    try:
        yield Server(url, process, folder)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


# --- probes: an honest user's quick request --------------------------------------------------------------------


def _probe_generate(url: str, client: str) -> tuple[bool, float]:
    from mmdemo.testing.hostile import generate_args
    from mmdemo.testing.http import call_raw

    began = time.perf_counter()
    result = call_raw(url, "generate", generate_args(), headers={"x-forwarded-for": client}, timeout=RECOVERY_LIMIT_S)
    return result.event == "complete", time.perf_counter() - began


def _probe_caption(url: str, client: str, image: dict[str, Any]) -> tuple[bool, float]:
    from mmdemo.testing.hostile import ENDPOINTS
    from mmdemo.testing.http import call_raw

    args = [image, *next(e for e in ENDPOINTS if e.name == "caption").valid[1:]]
    began = time.perf_counter()
    result = call_raw(url, "caption", args, headers={"x-forwarded-for": client}, timeout=RECOVERY_LIMIT_S)
    return result.event == "complete", time.perf_counter() - began


# --- attacks -----------------------------------------------------------------------------------------------------


@dataclass
class Attack:
    name: str
    lane: str
    """``generate`` or ``caption``: the lane whose recovery is measured."""
    run: Callable[[str, dict[str, str], Path], str]
    """(url, headers, work folder) → how the attack's requests ended; returns once the attack is over."""


def _flood(url: str, headers: dict[str, str], work: Path) -> str:
    """80 submissions at once from one client, then more for 20 s as fast as they are answered (a script keeping
    the queue full), while an honest client asks for a caption every half second: how many of the honest requests
    were refused."""
    from PIL import Image

    from mmdemo.testing.hostile import generate_args, queue_flood
    from mmdemo.testing.http import call_raw, upload

    photo = work / "honest.png"
    Image.new("RGB", (64, 48), (200, 120, 30)).save(photo)
    honest = {"x-forwarded-for": "10.2.0.1"}
    image = upload(url, str(photo), headers=honest)
    stop, statuses = threading.Event(), []

    def flood() -> None:
        while not stop.is_set():
            statuses.extend(queue_flood(url, "generate", generate_args("64x64", steps=4), 10, headers=headers))

    statuses.extend(queue_flood(url, "generate", generate_args("64x64", steps=4), 80, headers=headers))  # the burst
    flooder = threading.Thread(target=flood, daemon=True)  # then kept full
    flooder.start()
    outcomes = []
    began = time.monotonic()
    while time.monotonic() - began < 20:
        result = call_raw(url, "caption", [image, *_caption_rest()], headers=honest, timeout=RECOVERY_LIMIT_S)
        outcomes.append(result.event == "complete")
        time.sleep(0.5)
    stop.set()
    flooder.join()
    queued = statuses.count(200)
    return (
        f"honest: {outcomes.count(False)} of {len(outcomes)} refused; flood: {queued} queued, "
        f"{len(statuses) - queued} refused"
    )


def _caption_rest() -> list[Any]:
    from mmdemo.testing.hostile import ENDPOINTS

    return list(next(e for e in ENDPOINTS if e.name == "caption").valid[1:])


def _abandoned(url: str, headers: dict[str, str], work: Path) -> str:
    from mmdemo.testing.hostile import abandoned_call, generate_args

    return abandoned_call(url, "generate", generate_args("384x384", steps=20, images=2, guidance=7.5))


def _oversized(url: str, headers: dict[str, str], work: Path) -> str:
    """The issue's 10 steps × 512² × 4 images with guidance, scaled to 320² (a third of the work)."""
    from mmdemo.testing.hostile import generate_args
    from mmdemo.testing.http import call_raw

    result = call_raw(url, "generate", generate_args("320x320", steps=10, images=4, guidance=7.5), headers=headers)
    return "ran" if result.event == "complete" else f"refused: {str(result.message)[:60]}"


def _uploads(url: str, headers: dict[str, str], work: Path) -> str:
    """20 different files of 20 MB from one client, as fast as they are taken (the same bytes twice would be
    stored once: Gradio names a stored upload by its hash)."""
    import httpx

    base = os.urandom(20 * 2**20)
    codes = []
    with httpx.Client(timeout=120) as http:
        for i in range(20):
            body = i.to_bytes(8, "big") + base[8:]
            codes.append(
                http.post(f"{url}/gradio_api/upload", files={"files": ("b.bin", body)}, headers=headers).status_code
            )
    return f"{codes.count(200)} of {len(codes)} × 20 MB stored"


def _wide_flac(url: str, headers: dict[str, str], work: Path) -> str:
    from mmdemo.testing.hostile import ENDPOINTS, wide_flac
    from mmdemo.testing.http import call_raw, upload

    audio = upload(url, str(wide_flac(work / "wide.flac", 20.0)), headers=headers)
    args = [audio, *next(e for e in ENDPOINTS if e.name == "emotion").valid[1:]]
    result = call_raw(url, "emotion", args, headers=headers, timeout=RECOVERY_LIMIT_S)
    return "ran" if result.event == "complete" else f"refused: {str(result.message)[:60]}"


def _huge_png(url: str, headers: dict[str, str], work: Path) -> str:
    from mmdemo.testing.hostile import ENDPOINTS, huge_png
    from mmdemo.testing.http import call_raw, upload

    image = upload(url, str(huge_png(work / "huge.png", 7000)), headers=headers)
    args = [image, *next(e for e in ENDPOINTS if e.name == "caption").valid[1:]]
    result = call_raw(url, "caption", args, headers=headers, timeout=RECOVERY_LIMIT_S)
    return "ran" if result.event == "complete" else f"refused: {str(result.message)[:60]}"


ATTACKS = {
    "flood": Attack("queue flood: 80 jobs, then more for 20 s, one client", "caption", _flood),
    "abandoned": Attack("abandoned generation: 384² × 2, guidance", "generate", _abandoned),
    "oversized": Attack("oversized request: 320² × 4 × 10 steps, guidance", "generate", _oversized),
    "uploads": Attack("upload flood: 20 × 20 MB", "caption", _uploads),
    "flac": Attack("wide FLAC: 8 channels at 655 kHz, 20 s", "caption", _wide_flac),
    "png": Attack("49 MP PNG to /caption", "caption", _huge_png),
}


@dataclass
class Figures:
    peak_rss: int = 0
    disk_peak: int = 0
    disk_left: int = 0
    recover_s: float | None = None
    answer: str = ""
    notes: list[str] = field(default_factory=list)


def settle(server: Server, image: dict[str, Any], idle: dict[str, float]) -> None:
    """Wait until both lanes answer within 3× their idle time again (the previous attack's backlog is gone)."""
    began = time.monotonic()
    while time.monotonic() - began < RECOVERY_LIMIT_S:
        ok, seconds = _probe_generate(server.url, "10.1.0.251")
        ok2, seconds2 = _probe_caption(server.url, "10.1.0.251", image)
        if ok and ok2 and seconds <= 3 * idle["generate"] and seconds2 <= 3 * idle["caption"]:
            return
        time.sleep(0.5)


def measure(server: Server, attack: Attack, number: int, image: dict[str, Any], idle: dict[str, float]) -> Figures:
    settle(server, image, idle)
    figures = Figures()
    rss0, disk0 = server.rss(), server.disk()
    stop = threading.Event()

    def watch() -> None:
        ticks = 0
        while not stop.is_set():
            figures.peak_rss = max(figures.peak_rss, server.rss() - rss0)
            if ticks % 5 == 0:
                figures.disk_peak = max(figures.disk_peak, server.disk() - disk0)
            ticks += 1
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    work = Path(tempfile.mkdtemp(prefix="attack-"))
    try:
        figures.answer = attack.run(server.url, {"x-forwarded-for": f"10.66.0.{number}"}, work)
    except Exception as err:  # the attack itself failed (an endpoint this checkout lacks …)
        figures.answer = f"error: {type(err).__name__}: {str(err)[:60]}"
    ended = time.monotonic()
    honest = f"10.1.0.{number}"
    while time.monotonic() - ended < RECOVERY_LIMIT_S:
        ok, seconds = (
            _probe_generate(server.url, honest)
            if attack.lane == "generate"
            else _probe_caption(server.url, honest, image)
        )
        if ok and seconds <= 3 * idle[attack.lane]:
            figures.recover_s = time.monotonic() - ended
            break
        time.sleep(0.2)
    stop.set()
    watcher.join()
    figures.disk_peak = max(figures.disk_peak, server.disk() - disk0)
    figures.disk_left = server.disk() - disk0
    return figures


def run_checkout(checkout: Path, models: dict[str, Path], names: list[str], port: int) -> dict[str, Figures]:
    from PIL import Image

    from mmdemo.testing.http import upload

    results: dict[str, Figures] = {}
    with served(checkout, models, port) as server:
        photo = Path(tempfile.mkdtemp()) / "photo.png"
        Image.new("RGB", (64, 48), (30, 120, 200)).save(photo)
        image = upload(server.url, str(photo), headers={"x-forwarded-for": "10.1.0.250"})
        idle = {}
        for lane, probe in (
            ("generate", lambda: _probe_generate(server.url, "10.1.0.250")),
            ("caption", lambda: _probe_caption(server.url, "10.1.0.250", image)),
        ):
            probe()  # warm: the model loaded
            idle[lane] = max(min(probe()[1] for _ in range(3)), 0.05)
        for number, name in enumerate(names, start=1):
            results[name] = measure(server, ATTACKS[name], number, image, idle)
            print(f"  {checkout.name}: {name}: {results[name]}", file=sys.stderr)
    return results


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="an older checkout (e.g. `git worktree add /tmp/before 6af23d6`)")
    parser.add_argument("--only", help=f"comma-separated attacks (default all: {', '.join(ATTACKS)})")
    parser.add_argument("--port", type=int, default=7931)
    parser.add_argument(
        "--tiny",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mmdemo-bench-tiny",
        help="where the tiny models are built (or reused)",
    )
    args = parser.parse_args()
    names = [n.strip() for n in (args.only or ",".join(ATTACKS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks: {', '.join(unknown)}")

    from mmdemo.testing.tiny_models import build_tiny_models

    models = build_tiny_models(args.tiny.resolve())
    runs = {"after": run_checkout(HERE, models, names, args.port)}
    if args.before:
        runs = {"before": run_checkout(args.before.resolve(), models, names, args.port + 1), **runs}

    print(f"{'attack':<52} {'run':<7} {'peak RSS':>10} {'disk peak':>10} {'disk left':>10} {'recover':>9}  answer")
    for name in names:
        for run, results in runs.items():
            f = results[name]
            recover = f"{f.recover_s:.1f} s" if f.recover_s is not None else f">{RECOVERY_LIMIT_S:.0f} s"
            print(
                f"{ATTACKS[name].name:<52} {run:<7} {'+' + _mb(f.peak_rss):>10} {_mb(f.disk_peak):>10} "
                f"{_mb(f.disk_left):>10} {recover:>9}  {f.answer}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
