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
* **CPU**: the server's CPU seconds (user + system, ``/proc/<pid>/stat``) while the attack ran + from its end
  until the server recovered (the honest client's requests included: ~0.2 s each on a loaded machine);
* **answer**: how the attack's own requests ended (queued / refused …).

An attack that needs what a checkout lacks (a route, a flag) is reported as ``n/a (why)`` for that checkout. The
``mcpfill`` and ``signin`` attacks run against a second app of each checkout, started with sign-in and MCP (``--auth
--mcp``; its honest client is signed in), ``mcpabandon`` against a third, with MCP and no sign-in (``--mcp``).

The attacks (``--only``; :data:`ATTACKS`, issue 26's points): flood (#7), abandoned (#9), oversized (#11), uploads
(#14), flac (#2), png and pngs (#3), zips (#1), metadata (#8), mcpfill (#5), signin (#4, #13: a burst of wrong
passwords for one name, then its owner), mcpabandon (#6: an MCP client that leaves), keyframe (#10: a video with one
keyframe), jp2 and jp2wide (#15: a slow image decode beside another user's question).
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
APPS = {"plain": [], "auth-mcp": ["--auth", ":".join(ACCOUNT), "--mcp"], "mcp": ["--mcp"]}
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

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used, its waited-for children included."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return sum(int(n) for n in fields[11:15]) / os.sysconf("SC_CLK_TCK")

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


SIGN_IN_BURST = 50


def _sign_in(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #4 and #13: 50 wrong passwords for the app's one user name, sent at once from one client (the
    throttle checked its count before each answer was counted: all 50 were tried), then one more try from there
    (how long it is told to wait), then the name's owner with the right password from another address and from the
    same one."""
    from mmdemo.testing.hostile import sign_in, sign_in_burst

    statuses = sign_in_burst(url, ACCOUNT[0], SIGN_IN_BURST, headers)
    status, wait = sign_in(url, ACCOUNT[0], "one-more-guess", headers)
    elsewhere = {"x-forwarded-for": headers["x-forwarded-for"].replace("10.66.", "10.77.")}
    owner_elsewhere, _ = sign_in(url, *ACCOUNT, elsewhere)
    owner_here, owner_wait = sign_in(url, *ACCOUNT, headers)
    counts = ", ".join(f"{code} × {statuses.count(code)}" for code in sorted(set(statuses)))
    return (
        f"burst: {counts}; one more: {status}, wait {wait or '-'} s; owner: {owner_elsewhere} from another address, "
        f"{owner_here} from the same" + (f" (wait {owner_wait} s)" if owner_wait else "")
    )


MCP_GENERATE = {"prompt": "a bus", "steps": 20, "size": "512x512", "num_images": 1, "clip_score": False}
"""A long MCP ``generate`` within the caps (512²: the smallest size the older app's MCP tool takes)."""


def _mcp_abandon(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #6: an MCP ``generate`` whose client leaves at its first progress report (a killed MCP client)."""
    import httpx

    from mmdemo.testing.hostile import mcp_tool_call

    if httpx.get(f"{url}/gradio_api/mcp/", timeout=30).status_code == 404:
        raise NotAvailable("no MCP server")
    began = time.monotonic()
    ended = mcp_tool_call(url, "generate", MCP_GENERATE, headers=headers, leave_after_progress=True)
    seconds = time.monotonic() - began
    if ended == "abandoned":
        return f"left at its first step, {seconds:.1f} s in"
    return f"HTTP {ended} after {seconds:.1f} s, no progress report to leave at"


KEYFRAME_SECONDS = 600.0


def _keyframe(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #10: a ten-minute 720p video at 30 fps with a single keyframe (2.3 MB) to ``/summarize`` (the
    issue's: 225 s of CPU; 0.3 s with regular keyframes)."""
    from mmdemo.testing.hostile import ENDPOINTS, single_keyframe_video
    from mmdemo.testing.http import upload

    video = _payload(f"keyframe-{KEYFRAME_SECONDS:g}s.mp4", lambda path: single_keyframe_video(path, KEYFRAME_SECONDS))
    args = [upload(url, str(video), headers=headers), *next(e for e in ENDPOINTS if e.name == "summarize").valid[1:]]
    began = time.monotonic()
    answer = _call_within(url, "summarize", args, headers)
    return f"{answer} in {time.monotonic() - began:.1f} s"


JP2_SIDE = 2000
JP2_WIDE_SIDE = 7000


def _jp2(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #15: a 4 MP lossless JPEG 2000 of noise (13 MB; 4 MP is the most a slow decoder is given in full)
    to ``/caption`` while an honest client asks ``/vqa`` about a small photo (the issue's: 0.08 s → 3.96 s)."""
    from mmdemo.testing.hostile import noisy_jpeg2000

    return _decode_beside_vqa(url, headers, work, f"noise-{JP2_SIDE}.jp2", lambda p: noisy_jpeg2000(p, JP2_SIDE))


def _jp2_wide(url: str, headers: dict[str, str], work: Path) -> str:
    """Issue 26 #15 with the issue's kind of file: a 49 MP JPEG 2000 of one colour (4 KB), as :func:`_jp2`."""
    from mmdemo.testing.hostile import slow_jpeg2000

    name = f"plain-{JP2_WIDE_SIDE}.jp2"
    return _decode_beside_vqa(url, headers, work, name, lambda p: slow_jpeg2000(p, JP2_WIDE_SIDE))


def _decode_beside_vqa(url: str, headers: dict[str, str], work: Path, name: str, make: Callable[[Path], Path]) -> str:
    """The image ``make`` writes to ``/caption`` while an honest client asks ``/vqa`` about a small photo, one
    question after another: how long its answers took during that call, against idle."""
    from PIL import Image

    from mmdemo.testing.http import call_raw, upload

    photo = work / "honest.png"
    Image.new("RGB", (64, 48), (40, 160, 90)).save(photo)
    honest = {"x-forwarded-for": "10.2.0.2"}
    image = upload(url, str(photo), headers=honest)

    def ask() -> float:
        began = time.perf_counter()
        result = call_raw(url, "vqa", [image, "What?", 1], headers=honest, timeout=RECOVERY_LIMIT_S)
        if result.event != "complete":
            raise RuntimeError(f"the honest /vqa failed: {str(result.message)[:60]}")
        return time.perf_counter() - began

    ask()  # warm: the model loaded
    idle = min(ask() for _ in range(3))
    slow = upload(url, str(_payload(name, make)), headers=headers)
    ended: list[str] = []
    began = time.monotonic()
    caller = threading.Thread(
        target=lambda: ended.append(_call_within(url, "caption", [slow, *_caption_rest()], headers)), daemon=True
    )
    caller.start()
    during = []
    while caller.is_alive():
        during.append(ask())
    took = time.monotonic() - began
    during.sort()
    return (
        f"honest /vqa: {idle:.2f} s idle, {during[len(during) // 2]:.2f} s median, {during[-1]:.2f} s worst of "
        f"{len(during)} during; the image: {ended[0]} in {took:.1f} s"
    )


_PAYLOADS: list[Path] = []


def _payload(name: str, make: Callable[[Path], Path]) -> Path:
    """A payload made once per run (both checkouts get the same file): ``make(path)`` the first time."""
    if not _PAYLOADS:
        _PAYLOADS.append(Path(tempfile.mkdtemp(prefix="mmdemo-hostile-payloads-")))
    path = _PAYLOADS[0] / name
    if not path.exists():
        make(path)
    return path


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
    "signin": Attack(f"sign-in: {SIGN_IN_BURST} wrong at once, one name, then its owner", "caption", _sign_in,
                     app="auth-mcp"),
    "mcpabandon": Attack("abandoned MCP generate: 512² × 20 steps", "generate", _mcp_abandon, app="mcp"),
    "keyframe": Attack(f"720p video, one keyframe, {KEYFRAME_SECONDS / 60:g} min, to /summarize", "caption",
                       _keyframe),
    "jp2": Attack(f"{JP2_SIDE}² JPEG 2000 of noise to /caption; honest /vqa", "caption", _jp2),
    "jp2wide": Attack(f"{JP2_WIDE_SIDE}² JPEG 2000, one colour, to /caption; honest /vqa", "caption", _jp2_wide),
}  # fmt: skip


@dataclass
class Figures:
    peak_rss: int = 0
    disk_peak: int = 0
    disk_left: int = 0
    recover_s: float | None = None
    cpu_attack_s: float = 0.0
    cpu_recover_s: float = 0.0
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
    rss0, disk0, cpu0 = server.rss(), server.disk(), server.cpu()
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
    ended, cpu1 = time.monotonic(), server.cpu()
    figures.cpu_attack_s = cpu1 - cpu0
    honest = f"10.1.0.{number}"
    while figures.unavailable is None and time.monotonic() - ended < RECOVERY_LIMIT_S:
        ok, seconds = (
            _probe_generate(server, honest) if attack.lane == "generate" else _probe_caption(server, honest, image)
        )
        if ok and seconds <= 3 * idle[attack.lane]:
            figures.recover_s = time.monotonic() - ended
            break
        time.sleep(0.2)
    figures.cpu_recover_s = server.cpu() - cpu1
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
                print(f"  {checkout.name}: {app} app, idle: {idle}", file=sys.stderr)
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

    print(
        f"{'attack':<52} {'run':<7} {'peak RSS':>10} {'disk peak':>10} {'disk left':>10} {'recover':>9} {'CPU s':>11}"
        "  answer"
    )
    for name in names:
        for run, results in runs.items():
            f = results[name]
            if f.unavailable is not None:
                print(f"{ATTACKS[name].name:<52} {run:<7} n/a ({f.unavailable})")
                continue
            recover = f"{f.recover_s:.1f} s" if f.recover_s is not None else f">{RECOVERY_LIMIT_S:.0f} s"
            cpu = f"{f.cpu_attack_s:.1f} + {f.cpu_recover_s:.1f}"
            print(
                f"{ATTACKS[name].name:<52} {run:<7} {'+' + _mb(f.peak_rss):>10} {_mb(f.disk_peak):>10} "
                f"{_mb(f.disk_left):>10} {recover:>9} {cpu:>11}  {f.answer}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
