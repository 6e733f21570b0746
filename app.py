"""mmdemo entry point: flags → settings → UI → launch. Models load on first use, not here."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mmdemo.errors import MMDemoError
from mmdemo.settings import DEVICES, DTYPES, PROFILES, Settings


def parse_auth(pairs: list[str], auth_file: str | None) -> list[tuple[str, str]]:
    """``user:password`` pairs from flags and from a file (one pair per line, ``#`` comments)."""
    lines = list(pairs)
    if auth_file:
        text = Path(auth_file).read_text(encoding="utf-8")
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    result = []
    for line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise MMDemoError(f"Auth entries must look like user:password (got {line.split(':')[0]!r}:…).")
        result.append((user, password))
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run the mmdemo Gradio app.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 for all; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860, or GRADIO_SERVER_PORT)")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--mcp", action="store_true", default=None, help="also serve every task as an MCP tool")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD", help="require a login (repeat)")
    p.add_argument("--auth-file", help="file with one USER:PASSWORD per line")
    p.add_argument(
        "--profile",
        choices=["auto", *PROFILES],
        help="defaults for the hardware: local, cpu (CPU Space), gpu, zerogpu (default auto: detected on Spaces)",
    )
    p.add_argument("--device", choices=[*DEVICES], help="compute device (default auto)")
    p.add_argument(
        "--dtype",
        choices=[*DTYPES],
        help="model dtype (default auto: bf16/fp16 on GPU; on CPU bf16 with the fast path where native, else fp32)",
    )
    p.add_argument(
        "--cpu-fast-path",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="on CPU: bf16 where native, OpenVINO text to image, CTranslate2 speech (default on; MMDEMO_CPU_FAST_PATH)",
    )
    p.add_argument("--memory-budget-gb", type=float, help="memory for loaded models on the compute device")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ROLE=ID_OR_FOLDER",
        help="model for a role, e.g. captioner=Salesforce/blip-image-captioning-large (repeat)",
    )
    p.add_argument("--model-dir", help="folder of prefetched models (see `python -m mmdemo prefetch --dir`)")
    p.add_argument("--offline", action="store_true", default=None, help="never contact the Hugging Face Hub")
    p.add_argument(
        "--preload",
        default=None,
        metavar="ROLES",
        help="comma-separated roles to load in the background at start-up, or 'all'",
    )
    return p


def settings_from_args(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    models = {}
    for item in args.model:
        role, sep, model_id = item.partition("=")
        if not sep or not role.strip() or not model_id.strip():
            raise MMDemoError(f"--model takes ROLE=ID_OR_FOLDER (got {item!r}).")
        models[role.strip().lower()] = model_id.strip()
    preload = None if args.preload is None else tuple(r.strip() for r in args.preload.split(",") if r.strip())
    return (base or Settings.from_env(profile=args.profile)).replace(
        models=models or None,
        device=args.device,
        dtype=args.dtype,
        memory_budget_gb=args.memory_budget_gb,
        model_dir=args.model_dir,
        offline=args.offline,
        preload=preload,
        mcp_server=args.mcp,
        cpu_fast_path=args.cpu_fast_path,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        auth = parse_auth(args.auth, args.auth_file)
    except (MMDemoError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    from mmdemo.runtime import configure
    from mmdemo.ui import build_app, launch_kwargs

    manager = configure(settings)
    unknown = [r for r in settings.preload if r != "all" and r not in manager.specs]
    if unknown:
        print(
            f"error: unknown role(s) in --preload: {', '.join(unknown)}; known: {', '.join(manager.specs)}",
            file=sys.stderr,
        )
        return 2
    if settings.profile == "zerogpu":
        # ZeroGPU wants every model on "cuda" before the app serves (the GPU is attached per call).
        manager.preload(settings.preload or ("all",), background=False)
    demo = build_app(manager)
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            auth=auth or None,
            prevent_thread_lock=True,
            **launch_kwargs(manager),
        )
    except OSError as err:  # port taken, address not available…
        print(f"error: cannot start the server: {err}", file=sys.stderr)
        return 1
    if args.share and not demo.share_url:
        print(
            "warning: the public share link could not be created (this machine cannot reach Gradio's share "
            f"servers, or a firewall blocks them); the app is served only at {demo.local_url}",
            file=sys.stderr,
        )
    elif args.share and not auth:
        print(
            "warning: anyone with the share link can use this app; add --auth USER:PASSWORD to restrict it.",
            file=sys.stderr,
        )
    # Only once the UI is served: load what was asked for, or at least import torch & co.
    if settings.profile != "zerogpu":  # (ZeroGPU: loaded above)
        if settings.preload:
            manager.preload(settings.preload)
        else:
            manager.warm_imports()
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
