"""Hostile calls against every endpoint: how many get a clear answer, how many an unclear one.

    PYTHONPATH=. python benchmarks/hostile_api.py                   # the app of this checkout, tiny models
    PYTHONPATH=. python benchmarks/hostile_api.py --url http://…    # any running mmdemo (e.g. an older one)

Two sets, both as raw HTTP (what any client can send): every file input × payloads that point outside
the app's uploads (paths, ``..``, URLs, links in the cache, missing ``meta`` …), and every other parameter ×
wrong values (NaN, ±inf, 1e300, text in number fields, numbers in text fields, nulls, lone surrogates …).
A verdict per call: ``ok`` (it ran), ``clear`` (an error with a specific message), ``unclear`` (no message,
"Something unexpected", a traceback), and for file payloads ``opened`` (a file outside the uploads was read).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@contextlib.contextmanager
def local_app() -> Iterator[str]:
    from mmdemo.settings import Settings
    from mmdemo.testing.server import launched_app
    from mmdemo.testing.tiny_models import build_tiny_models

    dirs = build_tiny_models(Path(tempfile.gettempdir()) / "mmdemo-bench-tiny")
    settings = Settings(models={k: str(v) for k, v in dirs.items()}, device="cpu", offline=True)
    with launched_app(settings) as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running app (default: start this checkout's app on tiny models)")
    parser.add_argument("--upload-folder", help="the app's Gradio upload folder (default: this process's)")
    args = parser.parse_args()

    from gradio.media import get_audio, get_image, get_video
    from gradio.utils import get_upload_folder

    from mmdemo.testing.hostile import hostile_files, recording_server, run_file_matrix, run_value_fuzz
    from mmdemo.testing.text_images import render_text

    media = {"image": get_image("lion.jpg"), "audio": get_audio("recording1.wav"), "video": get_video("a.mp4")}
    secret = Path(tempfile.mkdtemp(prefix="mmdemo-secret-")) / "private-scan.png"
    render_text(["ACCOUNT 4711 SECRET"]).save(secret)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(local_app())
        server_url, hits = stack.enter_context(recording_server())
        folder = Path(args.upload_folder or get_upload_folder())
        files = run_file_matrix(url, media, hostile_files(secret, folder, url, server_url))
        values = run_value_fuzz(url, media)

    def verdict(o: object) -> str:
        v = o.verdict  # type: ignore[attr-defined]
        return "opened" if v == "ok" or "ACCOUNT" in str(o.result.data) else v  # type: ignore[attr-defined]

    print(f"{'endpoint':<10} {'set':<7} {'calls':>5} {'ok':>4} {'clear':>6} {'unclear':>8} {'opened':>7}")
    totals: collections.Counter[str] = collections.Counter()
    for name, outcomes, judge in (("files", files, verdict), ("values", values, lambda o: o.verdict)):
        by_endpoint: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for o in outcomes:
            by_endpoint[o.endpoint][judge(o)] += 1
        for endpoint, counts in by_endpoint.items():
            totals.update(counts)
            print(
                f"{endpoint:<10} {name:<7} {sum(counts.values()):>5} {counts['ok']:>4} {counts['clear']:>6} "
                f"{counts['unclear']:>8} {counts['opened']:>7}"
            )
    print(
        f"{'total':<18} {sum(totals.values()):>5} {totals['ok']:>4} {totals['clear']:>6} "
        f"{totals['unclear']:>8} {totals['opened']:>7}"
    )
    print(f"URLs fetched by the server on behalf of a payload: {len(hits)}")
    examples = [o for o in values if o.verdict == "unclear"][:5]
    for o in examples:
        print(f"  unclear: /{o.endpoint} {o.param}={o.value} → {o.result.message!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
