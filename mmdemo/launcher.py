"""What ``python app.py`` does: flags → settings → UI → launch. ``app.py`` imports ``spaces`` first on ZeroGPU
(:func:`mmdemo.zerogpu.import_spaces_first`), then calls :func:`main`; the tests start the app through
:func:`start` too, so they run what users run.

The settings flags (device, dtype, CPU fast path, models, offline …) are declared once, in
:func:`add_settings_arguments`, which the command line (``python -m mmdemo``) uses as well.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, MMDemoError
from .settings import DEVICES, DTYPES, PROFILES, Settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import gradio as gr

    from .models.manager import ModelManager


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


def add_settings_arguments(p: argparse.ArgumentParser) -> None:
    """The flags that override :class:`~mmdemo.settings.Settings` (read back by :func:`settings_from_args`)."""
    p.add_argument(
        "--profile",
        choices=["auto", *PROFILES],
        help="defaults for the hardware: local, cpu (CPU Space), gpu, zerogpu (default auto: detected on Spaces)",
    )
    p.add_argument("--device", help=f"compute device: {', '.join(DEVICES)} or cuda:N (default auto)")
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run the mmdemo Gradio app.")
    p.add_argument(
        "--host",
        default=None,
        help="interface to bind: 0.0.0.0 for all (default: GRADIO_SERVER_NAME, which Spaces sets, else 127.0.0.1)",
    )
    p.add_argument("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--mcp", action="store_true", default=None, help="also serve every task as an MCP tool")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASSWORD", help="require a login (repeat)")
    p.add_argument("--auth-file", help="file with one USER:PASSWORD per line")
    add_settings_arguments(p)
    p.add_argument(
        "--preload",
        default=None,
        metavar="ROLES",
        help="comma-separated roles to load in the background at start-up, or 'all'",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="run every task on the Ray Serve deployments of the cluster at ADDRESS (the head's HOST:6379, "
        "or 'auto' on a cluster node); see README, Scaling out",
    )
    return p


def settings_from_args(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """``base`` (default: the environment, :meth:`Settings.from_env`) with the flags of ``args`` applied."""
    models = {}
    for item in args.model:
        role, sep, model_id = item.partition("=")
        if not sep or not role.strip() or not model_id.strip():
            raise InputError(f"--model takes ROLE=ID_OR_FOLDER (got {item!r}).")
        models[role.strip().lower()] = model_id.strip()
    preload = getattr(args, "preload", None)
    preload = None if preload is None else tuple(r.strip() for r in preload.split(",") if r.strip())
    return (base or Settings.from_env(profile=args.profile)).replace(
        models=models or None,
        device=args.device,
        dtype=args.dtype,
        memory_budget_gb=args.memory_budget_gb,
        model_dir=args.model_dir,
        offline=args.offline,
        preload=preload,
        mcp_server=getattr(args, "mcp", None),
        cpu_fast_path=args.cpu_fast_path,
    )


def server_name(host: str | None) -> str | None:
    """The ``server_name`` Gradio takes for ``host`` (else ``GRADIO_SERVER_NAME``): an IPv6 address in brackets
    (``::`` → ``[::]``), as Gradio builds its own URL from it ("http://:::7860/" is no URL); None: Gradio's default."""
    host = host if host is not None else os.environ.get("GRADIO_SERVER_NAME")
    if not host:
        return None
    host = host.strip()
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:  # a name, or already in brackets
        return host


def stop_on_sigterm() -> None:
    """SIGTERM (``docker stop``, systemd, Spaces restarts) stops the app as Ctrl+C does, so its shutdown runs:
    Gradio deletes its cached files, :func:`~mmdemo.ui.cleanup.sweep` the rest. Without it Python dies at once and
    leaves every upload behind. Main thread only (where :func:`main` runs)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def build(manager: ModelManager) -> gr.Blocks:
    """What :func:`start` does before it serves: on ZeroGPU place every model, then build the Blocks
    (``benchmarks/startup_import.py`` times this)."""
    from .ui import build_app

    settings = manager.settings
    log.info(
        "profile %s, device %s, dtype %s, CPU fast path %s",
        settings.profile,
        manager.device_type,
        settings.dtype,
        "on" if settings.cpu_fast_path else "off",
    )
    if settings.profile == "zerogpu":
        manager.preload(settings.preload or ("all",), background=False)
    return build_app(manager)


def start(
    manager: ModelManager,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    auth: Sequence[tuple[str, str]] | None = None,
    quiet: bool = False,
) -> gr.Blocks:
    """Build and launch the app for ``manager`` without blocking; returns the running Blocks.

    ``host``/``port`` None: Gradio's own defaults, which read ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``
    (Spaces sets the name to 0.0.0.0; a fixed default here would make a Space unreachable). On ZeroGPU every
    model is placed before the app serves (``spaces`` moves them to the GPU it attaches per call);
    elsewhere models load on first use, or in the background once the UI is served (``preload``).
    Raises ``OSError`` when the server cannot start (port taken …).
    """
    from .ui import launch_kwargs
    from .ui.access import policy_of

    settings = manager.settings
    demo = build(manager)
    with policy_of(demo).serving():  # the web server trusts this app's proxies only
        demo.launch(
            server_name=server_name(host),
            server_port=port,
            share=share,
            auth=list(auth) if auth else None,
            prevent_thread_lock=True,
            quiet=quiet,
            **launch_kwargs(manager, demo),
        )
    if settings.profile != "zerogpu":  # only once the UI is served: what was asked for, or at least the imports
        if settings.preload:
            manager.preload(settings.preload)
        else:
            manager.warm_imports()
    return demo


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        auth = parse_auth(args.auth, args.auth_file)
    except (MMDemoError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    if args.ray_address:  # the models live in the cluster's replicas: the page loads none
        from .ray_runner import connect
        from .runner import use_runner
        from .ui.events import client_gone

        try:
            use_runner(connect(args.ray_address, stop_check=client_gone))
        except MMDemoError as err:
            print(f"error: {err} ({err.detail})", file=sys.stderr)
            return 2
        settings = settings.replace(preload=())

    from .runtime import configure

    manager = configure(settings)
    unknown = [r for r in settings.preload if r != "all" and r not in manager.specs]
    if unknown:
        print(
            f"error: unknown role(s) in --preload: {', '.join(unknown)}; known: {', '.join(manager.specs)}",
            file=sys.stderr,
        )
        return 2
    try:
        demo = start(manager, host=args.host, port=args.port, share=args.share, auth=auth)
    except OSError as err:  # port taken, address not available…
        print(f"error: cannot start the server: {err}", file=sys.stderr)
        return 1
    _warn_about_sharing(demo, args.share, bool(auth))
    stop_on_sigterm()
    try:
        demo.block_thread()  # until Ctrl+C or SIGTERM
    finally:
        demo.close()  # the server's shutdown: Gradio deletes the files it cached
        from .ui.cleanup import sweep

        sweep(None)  # and what it leaves: the app's own output folders, empty folders
    return 0


def _warn_about_sharing(demo: Any, share: bool, auth: bool) -> None:
    if share and not demo.share_url:
        print(
            "warning: the public share link could not be created (this machine cannot reach Gradio's share "
            f"servers, or a firewall blocks them); the app is served only at {demo.local_url}",
            file=sys.stderr,
        )
    elif share and not auth:
        print(
            "warning: anyone with the share link can use this app; add --auth USER:PASSWORD to restrict it.",
            file=sys.stderr,
        )
