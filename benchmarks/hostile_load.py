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

An attack that needs what a checkout lacks (a route, a flag) is reported as ``n/a (why)`` for that checkout. The
``mcpfill`` attack runs against a second app of each checkout, started with sign-in and MCP (``--auth --mcp``); its
honest client is signed in.
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
ACCOUNT = ("bench", "bench-password")
"""The one account of the app started with sign-in (``mcpfill``); the honest client signs in with it."""
APPS = {"plain": [], "auth-mcp": ["--auth", ":".join(ACCOUNT), "--mcp"]}
"""The apps the attacks run against (``Attack.app``): their flags beyond the models'."""


class NotAvailable(Exception):
    """What an attack needs is missing from the checkout under test (its message says what)."""


# --- the server under test ------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    folder: Path
    headers: dict[str, str] = field(default_factory=dict)
    """What an honest client sends with each request (its sign-in cookie, on the app with sign-in)."""

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
def served(checkout: Path, models: dict[str, Path], port: int, extra: list[str]) -> Iterator[Server]:
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
    flags = [arg for role, path in models.items() for arg in ("--model", f"{role}={path}")] + extra
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
            if httpx.get(f"{url}/config", timeout=5).status_code in (200, 401):  # 401: up, with sign-in
                break
        if process.poll() is not None:
            raise RuntimeError(f"the app of {checkout} did not start: see {folder / 'server.log'}")
        time.sleep(0.5)
    try:
        server = Server(url, process, folder)
        if "--auth" in extra:
            signed = httpx.post(f"{url}/login", data={"username": ACCOUNT[0], "password": ACCOUNT[1]}, timeout=30)
            signed.raise_for_status()
            server.headers = {"cookie": "; ".join(f"{k}={v}" for k, v in signed.cookies.items())}
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


# --- probes: an honest user's quick request --------------------------------------------------------------------


def _probe_generate(server: Server, client: str) -> tuple[bool, float]:
    from mmdemo.testing.hostile import generate_args
    from mmdemo.testing.http import call_raw

    headers = {**server.headers, "x-forwarded-for": client}
    began = time.perf_counter()
    result = call_raw(server.url, "generate", generate_args(), headers=headers, timeout=RECOVERY_LIMIT_S)
    return result.event == "complete", time.perf_counter() - began


def _probe_caption(server: Server, client: str, image: dict[str, Any]) -> tuple[bool, float]:
    from mmdemo.testing.hostile import ENDPOINTS
    from mmdemo.testing.http import call_raw

    args = [image, *next(e for e in ENDPOINTS if e.name == "caption").valid[1:]]
    headers = {**server.headers, "x-forwarded-for": client}
    began = time.perf_counter()
    result = call_raw(server.url, "caption", args, headers=headers, timeout=RECOVERY_LIMIT_S)
    return result.event == "complete", time.perf_counter() - began


# --- attacks -----------------------------------------------------------------------------------------------------


@dataclass
class Attack:
    name: str
    lane: str
    """``generate`` or ``caption``: the lane whose recovery is measured."""
    run: Callable[[str, dict[str, str], Path], str]
    """(url, headers, work folder) → how the attack's requests ended; returns once the attack is over (raises
    :class:`NotAvailable` when the checkout lacks what it needs)."""
    app: str = "plain"
    """The app it runs against (:data:`APPS`)."""


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


def _api_args(url: str, api_name: str, headers: dict[str, str], **values: Any) -> list[Any]:
    """The values of a call of ``/api_name`` as the checkout under test describes them (``/gradio_api/info``):
    its defaults, with ``values`` by parameter name; :class:`NotAvailable` when it has no such route or parameter."""
    import httpx

    info = httpx.get(f"{url}/gradio_api/info", headers=headers, timeout=60).json()
    endpoint = info.get("named_endpoints", {}).get(f"/{api_name}")
    if endpoint is None:
        raise NotAvailable(f"no /{api_name}")
    names = [p["parameter_name"] for p in endpoint["parameters"]]
    missing = [name for name in values if name not in names]
    if missing:
        raise NotAvailable(f"/{api_name} has no {', '.join(missing)}")
    return [values.get(p["parameter_name"], p.get("parameter_default")) for p in endpoint["parameters"]]


def _finished(result: Any) -> str:
    return "ran" if result.event == "complete" else f"refused: {str(result.message)[:60]}"


def _call_within(url: str, api_name: str, args: list[Any], headers: dict[str, str]) -> str:
    """How a call of ``/api_name`` ended, or that it still ran after :data:`RECOVERY_LIMIT_S` (then its client
    waits on in the background, as a patient attacker would, and the recovery is measured while it runs: the read
    timeout of :func:`~mmdemo.testing.http.call_raw` never ends a call whose stream sends heartbeats)."""
    from mmdemo.testing.http import call_raw

    ended: list[Any] = []
    caller = threading.Thread(
        target=lambda: ended.append(call_raw(url, api_name, args, headers=headers, timeout=RECOVERY_LIMIT_S)),
        daemon=True,
    )
    caller.start()
    caller.join(RECOVERY_LIMIT_S)
    return _finished(ended[0]) if ended else f"still running after {RECOVERY_LIMIT_S:.0f} s"


ZIP_UNPACKED = 128 * 2**20
ZIP_REFERENCES = 24


def _zip_many(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #1, scaled down: one zip with no photos that unpacks to 128 MiB (2.2 MB zipped), named 24 times in
    one ``/caption_batch`` call (the issue's: 497 MiB named 500 times, ~243 GiB unpacked)."""
    from mmdemo.testing.hostile import many_references, zip_without_photos
    from mmdemo.testing.http import upload

    args = _api_args(url, "caption_batch", headers)
    archive = upload(url, str(zip_without_photos(work / "notes.zip", ZIP_UNPACKED)), headers=headers)
    args[0] = many_references(archive, ZIP_REFERENCES)
    return _call_within(url, "caption_batch", args, headers)


PNG_SIDE = 4000
PNG_REFERENCES = 16


def _png_many(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #3, scaled down: 16 references to one 16 MP PNG of one colour in one ``/caption_batch`` call (the
    issue's: a 49 MP PNG, +8.55 GB)."""
    from mmdemo.testing.hostile import huge_png, many_references
    from mmdemo.testing.http import upload

    args = _api_args(url, "caption_batch", headers)
    image = upload(url, str(huge_png(work / "wide.png", PNG_SIDE)), headers=headers)
    args[0] = many_references(image, PNG_REFERENCES)
    return _call_within(url, "caption_batch", args, headers)


METADATA_LINES = 1_000_000


def _long_metadata(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #8, halved: an Evaluate zip whose metadata.jsonl names one photo a million times (the issue's: 2 M
    lines in 1.9 MB, 95 s and +1.44 GB to read)."""
    from mmdemo.testing.hostile import huge_metadata
    from mmdemo.testing.http import upload

    args = _api_args(url, "evaluate", headers, task="caption")
    args[0] = upload(url, str(huge_metadata(work / "dataset.zip", METADATA_LINES)), headers=headers)
    return _call_within(url, "evaluate", args, headers)


MCP_CALLS = 50
MCP_DATA_BYTES = 2_900_000
"""The issue's size (145 MB in 50 calls), under the ``data:`` URL limit (3 MiB: a 3 MiB one is refused, 413)."""


def _mcp_fill(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #5: 50 MCP calls of ``ocr``, each with a different 2.9 MB ``data:`` URL, without signing in, on the
    app with sign-in and MCP (the issue's: 145 MB in 7.9 s, never deleted)."""
    import httpx

    from mmdemo.testing.hostile import mcp_data_url_flood

    if httpx.get(f"{url}/gradio_api/mcp/", timeout=30).status_code == 404:
        raise NotAvailable("no MCP server")
    statuses = mcp_data_url_flood(url, "ocr", "image", MCP_CALLS, MCP_DATA_BYTES, headers=headers)
    counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    return "HTTP " + ", ".join(f"{code} × {n}" for code, n in counts.items())


ATTACKS = {
    "flood": Attack("queue flood: 80 jobs, then more for 20 s, one client", "caption", _flood),
    "abandoned": Attack("abandoned generation: 384² × 2, guidance", "generate", _abandoned),
    "oversized": Attack("oversized request: 320² × 4 × 10 steps, guidance", "generate", _oversized),
    "uploads": Attack("upload flood: 20 × 20 MB", "caption", _uploads),
    "flac": Attack("wide FLAC: 8 channels at 655 kHz, 20 s", "caption", _wide_flac),
    "png": Attack("49 MP PNG to /caption", "caption", _huge_png),
    "zips": Attack(f"zip, no photos, 128 MiB unpacked, × {ZIP_REFERENCES} in a batch", "caption", _zip_many),
    "pngs": Attack(f"16 MP PNG × {PNG_REFERENCES} in a batch", "caption", _png_many),
    "metadata": Attack("Evaluate metadata.jsonl: 1 M lines, one photo", "caption", _long_metadata),
    "mcpfill": Attack(f"MCP data: URLs, no sign-in: {MCP_CALLS} × 2.9 MB", "caption", _mcp_fill, app="auth-mcp"),
}


@dataclass
class Figures:
    peak_rss: int = 0
    disk_peak: int = 0
    disk_left: int = 0
    recover_s: float | None = None
    answer: str = ""
    unavailable: str | None = None
    """Why the attack could not run against this checkout (:class:`NotAvailable`), else None."""


def settle(server: Server, image: dict[str, Any], idle: dict[str, float]) -> None:
    """Wait until both lanes answer within 3× their idle time again (the previous attack's backlog is gone)."""
    began = time.monotonic()
    while time.monotonic() - began < RECOVERY_LIMIT_S:
        ok, seconds = _probe_generate(server, "10.1.0.251")
        ok2, seconds2 = _probe_caption(server, "10.1.0.251", image)
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
    except NotAvailable as missing:
        figures.unavailable = str(missing)
    except Exception as err:  # the attack itself failed
        figures.answer = f"error: {type(err).__name__}: {str(err)[:60]}"
    ended = time.monotonic()
    honest = f"10.1.0.{number}"
    while figures.unavailable is None and time.monotonic() - ended < RECOVERY_LIMIT_S:
        ok, seconds = (
            _probe_generate(server, honest) if attack.lane == "generate" else _probe_caption(server, honest, image)
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


def idle_times(server: Server, image: dict[str, Any]) -> dict[str, float]:
    """Seconds an honest request takes on each lane of an idle app (the best of three, once its model loaded)."""
    idle = {}
    for lane, probe in (
        ("generate", lambda: _probe_generate(server, "10.1.0.250")),
        ("caption", lambda: _probe_caption(server, "10.1.0.250", image)),
    ):
        probe()  # warm: the model loaded
        idle[lane] = max(min(probe()[1] for _ in range(3)), 0.05)
    return idle


def run_checkout(checkout: Path, models: dict[str, Path], names: list[str], port: int) -> dict[str, Figures]:
    """The attacks ``names`` against the apps of ``checkout`` (one app per kind in :data:`APPS` that they need,
    started in turn, on ports from ``port`` on)."""
    from PIL import Image

    from mmdemo.testing.http import upload

    results: dict[str, Figures] = {}
    for offset, (app, extra) in enumerate(APPS.items()):
        attacks = [(n, name) for n, name in enumerate(names, start=1) if ATTACKS[name].app == app]
        if not attacks:
            continue
        try:
            with served(checkout, models, port + 2 * offset, extra) as server:
                photo = Path(tempfile.mkdtemp()) / "photo.png"
                Image.new("RGB", (64, 48), (30, 120, 200)).save(photo)
                honest = {**server.headers, "x-forwarded-for": "10.1.0.250"}
                image = upload(server.url, str(photo), headers=honest)
                idle = idle_times(server, image)
                for number, name in attacks:
                    results[name] = measure(server, ATTACKS[name], number, image, idle)
                    print(f"  {checkout.name}: {name}: {results[name]}", file=sys.stderr)
        except RuntimeError as err:  # the app did not start (a flag this checkout lacks …)
            for _, name in attacks:
                results.setdefault(name, Figures(unavailable=str(err)[:80]))
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
            if f.unavailable is not None:
                print(f"{ATTACKS[name].name:<52} {run:<7} n/a ({f.unavailable})")
                continue
            recover = f"{f.recover_s:.1f} s" if f.recover_s is not None else f">{RECOVERY_LIMIT_S:.0f} s"
            print(
                f"{ATTACKS[name].name:<52} {run:<7} {'+' + _mb(f.peak_rss):>10} {_mb(f.disk_peak):>10} "
                f"{_mb(f.disk_left):>10} {recover:>9}  {f.answer}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
