"""What Gradio's cache clean-up leaves behind, removed on the same schedule: the folders the app writes its own
files in (``<cache>/mmdemo/<id>``: evaluation reports, batch captions …, see
:func:`~mmdemo.ui.events.output_folder`) and the empty folders Gradio's clean-up leaves when it deletes the files
inside them (it removes files only).

Gradio deletes the files it tracked every ``frequency`` seconds once they are ``age`` seconds old
(``Blocks(delete_cache=(frequency, age))``), and all of them when the server shuts down; :func:`sweep` does the
same for the rest, from the app's lifespan (:func:`lifespan`) and once more when ``python app.py`` stops
(:func:`mmdemo.launcher.main`, also on SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OWN = "mmdemo"
"""The folder of Gradio's cache the app writes its own files in."""


def cache_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def sweep(age: float | None, cache: Path | None = None) -> int:
    """Remove the app's output folders older than ``age`` seconds and the empty folders of the cache as old (every
    one of them when ``age`` is None); returns how many folders went."""
    cache = cache or cache_folder()
    now, removed = time.time(), 0

    def old(path: Path) -> bool:
        try:
            return age is None or now - path.stat().st_mtime > age
        except OSError:
            return False

    own = cache / OWN
    if own.is_dir():
        for folder in list(own.iterdir()):
            if folder.is_dir() and not folder.is_symlink() and old(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    if cache.is_dir():
        for folder in list(cache.iterdir()):
            try:
                if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()) and old(folder):
                    folder.rmdir()
                    removed += 1
            except OSError:  # filled meanwhile, or gone
                continue
    return removed


def lifespan(
    inner: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]] | None = None,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]:
    """An app lifespan (``launch(app_kwargs={"lifespan": …})``) that sweeps on the schedule of the app's
    ``delete_cache``, around ``inner`` (another lifespan) if given."""

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        frequency, age = getattr(app.get_blocks(), "delete_cache", None) or (None, None)

        async def every() -> None:
            while True:
                await asyncio.sleep(frequency)
                try:
                    await asyncio.to_thread(sweep, age)
                except Exception:  # the schedule goes on
                    log.exception("cache sweep failed")

        task = asyncio.create_task(every()) if frequency and age else None
        try:
            if inner is None:
                yield None
            else:
                async with inner(app) as state:
                    yield state
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return run
