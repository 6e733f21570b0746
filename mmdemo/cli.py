"""``python -m mmdemo …``: the same backend functions as the UI, JSON on stdout, errors on stderr.

Exit codes: 0 ok, 1 a model could not be loaded or a prefetch failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from .errors import InputError, MMDemoError
from .settings import Settings


def _print_json(obj: Any) -> None:
    json.dump(dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_prefetch(args: argparse.Namespace, settings: Settings) -> int:
    """Download every configured model (or ``--roles``) to the HF cache or to ``--dir``."""
    from .models.hub import download, looks_like_path, prefetch_folder
    from .models.manager import ModelManager

    manager = ModelManager(settings)
    roles = [r.strip() for r in args.roles.split(",")] if args.roles else list(manager.specs)
    device_types = ("cuda", "mps", "cpu") if args.all_devices else (manager.device.type,)
    failed = 0
    report = []
    for role in roles:
        spec = manager.spec(role)
        ids = {settings.model_for(role) or spec.default_for(t) for t in device_types}
        for model_id in sorted(ids):
            if Path(model_id).expanduser().is_dir() or looks_like_path(model_id):
                report.append({"role": role, "model": model_id, "status": "local folder, nothing to download"})
                continue
            target = prefetch_folder(args.dir, model_id) if args.dir else None
            print(f"downloading {model_id} ({role})…", file=sys.stderr)
            try:
                folder = download(model_id, spec.allow_patterns, local_dir=target)
                report.append({"role": role, "model": model_id, "status": "ok", "folder": str(folder)})
            except Exception as err:
                failed += 1
                line = (str(err).strip().splitlines() or [type(err).__name__])[0]
                report.append({"role": role, "model": model_id, "status": f"failed: {line}"})
                print(f"error: could not download {model_id}: {line}", file=sys.stderr)
    _print_json(report)
    if args.dir and not failed:
        print(f"run the app from it with: MMDEMO_MODEL_DIR={args.dir} HF_HUB_OFFLINE=1 python app.py", file=sys.stderr)
    return 1 if failed else 0


def cmd_caption(args: argparse.Namespace, settings: Settings) -> int:
    from .runtime import configure
    from .tasks.captioning import DecodingOptions, caption_image

    manager = configure(settings)
    options = DecodingOptions(args.max_new_tokens, args.min_new_tokens, args.num_beams)
    _print_json(caption_image(args.image, prefix=args.prefix, options=options, manager=manager))
    return 0


def cmd_vqa(args: argparse.Namespace, settings: Settings) -> int:
    from .runtime import configure
    from .tasks.captioning import DecodingOptions, answer_question

    manager = configure(settings)
    options = DecodingOptions(max_new_tokens=10, num_beams=args.num_beams)
    _print_json(answer_question(args.image, args.question, options=options, manager=manager))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmdemo", description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="auto, cuda, mps or cpu")
    parser.add_argument("--offline", action="store_true", default=None, help="never contact the Hub")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prefetch", help="download the configured models for offline use")
    p.add_argument("--roles", help="comma-separated roles (default: all)")
    p.add_argument("--dir", help="download into DIR/<org>/<name> instead of the HF cache")
    p.add_argument("--all-devices", action="store_true", help="also fetch the GPU/CPU-specific defaults")
    p.set_defaults(func=cmd_prefetch)

    p = sub.add_parser("caption", help="caption an image")
    p.add_argument("image")
    p.add_argument("--prefix", default="")
    p.add_argument("--max-new-tokens", type=int, default=30)
    p.add_argument("--min-new-tokens", type=int, default=0)
    p.add_argument("--num-beams", type=int, default=3)
    p.set_defaults(func=cmd_caption)

    p = sub.add_parser("vqa", help="answer a question about an image")
    p.add_argument("image")
    p.add_argument("question")
    p.add_argument("--num-beams", type=int, default=3)
    p.set_defaults(func=cmd_vqa)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env().replace(device=args.device, offline=args.offline)
        return args.func(args, settings)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MMDemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
