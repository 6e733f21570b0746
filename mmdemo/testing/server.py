"""The real app served in-process for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from ..settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(settings: Settings, **launch: Any) -> Iterator[str]:
    """The real app (same build_app/launch_kwargs as app.py) in this process; yields its URL. ``launch``:
    more arguments for ``launch()``, as app.py's flags give them (``auth=[("ann", "pw")]`` …)."""
    from ..runtime import configure
    from ..ui import build_app, launch_kwargs

    manager = configure(settings)
    demo = build_app(manager)
    demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        **launch_kwargs(manager),
        **launch,
    )
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()
