"""What a CPU Space downloads when it installs its requirements: the project's requirements.txt as it is (PyPI's
Linux torch, the CUDA build) against the Space's own (mmdemo.deploy.space_requirements: torch's CPU build).

pip resolves each file for the Space's platform (Linux x86_64, CPython 3.11, wheels only, no local config:
``pip --isolated install --dry-run --report``); the download size of every wheel comes from PyPI's JSON index
(or the file itself for a local wheel). Needs PyPI. PyTorch's CPU index is not reachable from every machine:
``--cpu-wheels DIR`` resolves the CPU torch from a folder holding the same wheel instead (``/opt/wheels`` on the
project's machines) and says so.

    PYTHONPATH=. python benchmarks/space_install_size.py [--cpu-wheels /opt/wheels]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from functools import cache
from pathlib import Path

from mmdemo.deploy import CPU_TORCH_INDEX, ROOT, space_requirements

PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
PLATFORMS += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
HEAVY = ("torch", "nvidia-", "triton", "cuda-")


@cache
def pypi_sizes(project: str) -> dict[str, int]:
    """File name → size in bytes, from PyPI's JSON simple index (PEP 691/700)."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return {f["filename"]: int(f.get("size") or 0) for f in json.load(response)["files"]}


def resolve(requirements: str, extra: list[str]) -> list[tuple[str, str, int]]:
    """(name, version, download bytes) of every wheel pip would install for the Space's platform."""
    with tempfile.TemporaryDirectory() as tmp:
        file, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        file.write_text(requirements)
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        command = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed"]
        command += ["--quiet", "--report", str(report), "--python-version", "3.11", "--implementation", "cp"]
        command += ["--only-binary=:all:", *platforms, *extra, "-r", str(file)]
        subprocess.run(command, check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
        wheels = []
        for item in json.loads(report.read_text())["install"]:
            url = item["download_info"]["url"]
            name = urllib.parse.unquote(url.rsplit("/", 1)[-1])
            if url.startswith("file://"):
                size = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).stat().st_size
            else:
                size = pypi_sizes(item["metadata"]["name"]).get(name, 0)
            wheels.append((item["metadata"]["name"], item["metadata"]["version"], size))
    return wheels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-wheels", help="folder with torch's CPU wheel, when PyTorch's CPU index is unreachable")
    args = parser.parse_args()
    project = (ROOT / "requirements.txt").read_text()
    space = space_requirements("cpu-basic", project, (ROOT / "requirements-dev.txt").read_text())
    extra = []
    if args.cpu_wheels:
        space = "\n".join(line for line in space.splitlines() if CPU_TORCH_INDEX not in line)
        extra = ["--find-links", args.cpu_wheels]
    rows = {
        "requirements.txt (PyPI torch)": resolve(project, []),
        "the CPU Space's requirements": resolve(space, extra),
    }
    totals = {}
    for label, wheels in rows.items():
        heavy = [w for w in wheels if w[0].startswith(HEAVY)]
        totals[label] = sum(size for *_, size in wheels)
        print(f"\n{label}: {len(wheels)} wheels, {totals[label] / 1e6:,.0f} MB to download")
        for name, version, size in sorted(heavy, key=lambda w: -w[2]):
            print(f"  {name} {version}: {size / 1e6:,.1f} MB")
        print(f"  (torch and its CUDA/triton wheels: {sum(w[2] for w in heavy) / 1e6:,.0f} MB)")
    before, after = totals.values()
    source = f"torch's CPU wheel from {args.cpu_wheels}" if args.cpu_wheels else CPU_TORCH_INDEX
    print(f"\nCPU Space download: {after / 1e6:,.0f} MB vs {before / 1e6:,.0f} MB ({after / before:.2f}×; {source})")


if __name__ == "__main__":
    main()
