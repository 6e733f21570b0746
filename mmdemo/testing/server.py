"""The real app served in-process for end-to-end tests and benchmarks, started as ``python app.py`` starts it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_settings(flags: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Settings:
    """The settings ``python app.py *flags`` gets in the environment ``env`` (default: this process's): the
    app's own defaults, CPU fast path included, through its own flag parser."""
    from ..launcher import build_parser, settings_from_args

    args = build_parser().parse_args(list(flags))
    return settings_from_args(args, Settings.from_env(env, profile=args.profile))


@contextlib.contextmanager
def launched_app(settings: Settings, **launch: Any) -> Iterator[str]:
    """The real app in this process, started by :func:`mmdemo.launcher.start` (what app.py runs); yields its
    URL. ``launch``: more arguments for ``start()``, as app.py's flags give them (``auth=[("ann", "pw")]`` …)."""
    from ..launcher import start
    from ..runtime import configure

    demo = start(configure(settings), host="127.0.0.1", port=free_port(), quiet=True, **launch)
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()
