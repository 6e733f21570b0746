"""Start-up cost of the app against a bare ``import gradio``, and what the app imports beyond gradio.

    PYTHONPATH=. python benchmarks/startup_import.py [--runs 7] [--root PATH ...]

Three commands, each a fresh ``python -c`` process, run in turns (so the machine's noise falls on all of them
alike); each figure is the median of ``--runs`` processes, interpreter start included, in wall time and in
CPU time (user + system: what the process computed, less moved by other jobs on a shared machine):

* ``import gradio``;
* the app's imports: what ``python app.py`` imports before it builds (``mmdemo.zerogpu``,
  ``mmdemo.launcher``, ``mmdemo.runtime``, ``mmdemo.ui``);
* the app's imports and UI build: the same, then what ``python app.py`` does before it serves — default
  flags, :meth:`~mmdemo.settings.Settings.from_env` (``MMDEMO_*`` variables removed, ``HF_HUB_OFFLINE=1``),
  :func:`mmdemo.runtime.configure` and :func:`mmdemo.launcher.build` — without launching.

Then one ``python -X importtime`` run of the third command: every module it imports that a bare
``import gradio`` does not, summed per top-level package (self times, so nothing is counted twice), the
heaviest first, and which of the packages the app imports in the background once the UI is served (torch
and the model loaders' libraries) were imported already. ``--root`` measures another checkout (a
``git worktree`` of an older commit) with this script; repeated, the checkouts are measured in the same turns.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORTS = "import mmdemo.zerogpu, mmdemo.launcher, mmdemo.runtime, mmdemo.ui"
BUILD = (
    f"{IMPORTS}\n"
    "from mmdemo import launcher, runtime\n"
    "settings = launcher.settings_from_args(launcher.build_parser().parse_args([]))\n"
    "launcher.build(runtime.configure(settings))\n"
)
APP = {"app imports": IMPORTS, "app imports + UI build": BUILD}
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def environment(root: Path) -> dict[str, str]:
    """The commands' environment: no ``MMDEMO_*`` settings, and bytecode written and read as Python does by default
    (``PYTHONDONTWRITEBYTECODE`` dropped), so that the app starts from its cached bytecode as after a first start,
    as gradio does from the bytecode pip compiled at install (else every measured start compiled the app's source)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=str(root))
    return env


def run(code: str, env: dict[str, str], root: Path, *flags: str) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds of a fresh ``python [flags] -c code``, and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *flags, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"failed: {code!r}\n{proc.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, proc.stderr


def self_times(importtime: str) -> dict[str, int]:
    """Module → its own import time in µs, from ``-X importtime`` output."""
    return {m[4]: int(m[1]) for m in map(_LINE.match, importtime.splitlines()) if m}


def importtime_table(root: Path, top: int) -> None:
    """One ``-X importtime`` run of the app build in ``root``: what it imports beyond ``import gradio``."""
    env = environment(root)
    gradio_modules = set(self_times(run("import gradio", env, root, "-X", "importtime")[2]))
    app = self_times(run(BUILD, env, root, "-X", "importtime")[2])
    packages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module, micros in app.items():
        if module not in gradio_modules:
            package = packages[module.split(".")[0]]
            package[0] += micros
            package[1] += 1
    total = sum(t for t, _ in packages.values())
    print(f"\n{root}: imported by the app build, not by `import gradio` ({total / 1e6:.2f} s self time, one run)")
    print("| package | modules | self time |\n|---|---|---|")
    for name, (micros, count) in sorted(packages.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"| {name} | {count} | {micros / 1e3:.0f} ms |")
    from mmdemo.models.specs import SPECS

    background = {"torch", *(name.partition(":")[0].split(".")[0] for spec in SPECS.values() for name in spec.imports)}
    heavy = sorted(background.intersection(packages))  # what ModelManager.warm_imports imports once the UI is up
    print(f"Of what the app imports in the background, imported before serving: {', '.join(heavy) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per command (median)")
    parser.add_argument(
        "--root", type=Path, action="append", help="checkout to measure (repeat to compare; default: this one)"
    )
    parser.add_argument("--top", type=int, default=12, help="packages to list")
    args = parser.parse_args()
    roots = [root.resolve() for root in args.root or [ROOT]]
    jobs = [("import gradio", roots[0], "import gradio")]
    jobs += [(f"{name} · {root}", root, code) for root in roots for name, code in APP.items()]

    for _, root, code in jobs:  # warm the OS file cache and write the app's bytecode; not counted
        run(code, environment(root), root)
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):  # in turns: the machine's noise falls on every command alike
        for label, root, code in jobs:
            wall, cpu, _ = run(code, environment(root), root)
            walls[label].append(wall)
            cpus[label].append(cpu)
    wall0, cpu0 = statistics.median(walls["import gradio"]), statistics.median(cpus["import gradio"])
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        "?",
    )
    print(f"{os.cpu_count()} cores, {model} · median of {args.runs} fresh processes each\n")
    print("| command | wall (min–max) | vs import gradio | CPU time | vs import gradio |\n|---|---|---|---|---|")
    for label, samples in walls.items():
        wall, cpu = statistics.median(samples), statistics.median(cpus[label])
        print(
            f"| {label} | {wall:.2f} s ({min(samples):.2f}–{max(samples):.2f}) | {wall / wall0:.2f}× "
            f"| {cpu:.2f} s | {cpu / cpu0:.2f}× |"
        )
    for root in roots:
        importtime_table(root, args.top)


if __name__ == "__main__":
    main()
