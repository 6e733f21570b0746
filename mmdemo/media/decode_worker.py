"""Slow decodes in a worker process, with a time budget (issue 26 #15).

Some decoders hold Python's GIL for the whole decode (Pillow's JPEG 2000 decoder, and its decoders written in
Python): run in the app's process, one such decode stalls every other thread of it — another user's request, the
queue, the HTTP server. :func:`run` runs such a call in a small pool of worker processes instead (at most
:data:`WORKERS`, started on first use and reused), so the app's threads keep running meanwhile; a call that takes
longer than its budget (:data:`TIME_BUDGET_S`) has its worker killed (:class:`TimedOut`), and the next call starts a
fresh one.

A worker is never forked from the app's process (which holds torch, its threads and their locks): it is a new
Python (``sys.executable``, as multiprocessing's ``spawn`` starts one) that runs this module, imports only the
modules in :data:`PRELOAD` (Pillow, numpy and :mod:`mmdemo.media.image`'s few imports) and talks to the app over a
socket pair with :class:`multiprocessing.connection.Connection` (pickled calls and answers). Unlike
multiprocessing's ``spawn`` it does not import the app's ``__main__`` again (a caller's script without an
``if __name__ == "__main__"`` guard would run twice). Where no worker can start (a platform that forbids
subprocesses, a sandbox) :func:`run` raises :class:`Unavailable` and the caller decodes in its own process, as
before; a warning is logged once.

This module imports nothing heavy: it is what a worker imports first.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ENABLED", "TIME_BUDGET_S", "TimedOut", "Unavailable", "WorkerDied", "run", "shutdown"]

log = logging.getLogger(__name__)

ENABLED = True
"""Whether :func:`run` uses worker processes (False: every call raises :class:`Unavailable`, so the caller decodes
in its own process)."""
TIME_BUDGET_S = 20.0
"""Seconds a call may take in a worker before it is killed. The slowest decodes the pixel budget allows
(``ImageLimits.max_slow_pixels``, 4 MP) take ~3 s (JPEG 2000 of noise) to ~10 s (QOI, decoded in Python) on an idle
2-core machine, two to three times that on a loaded one."""
WORKERS = 2
"""Worker processes at most; a call that finds them all busy waits for one."""
START_TIMEOUT_S = 60.0
"""Seconds a new worker may take to start and import :data:`PRELOAD` before the pool is deemed unavailable."""
PRELOAD = ("mmdemo.media.image",)
"""Modules a worker imports before it reports ready (so that a call's budget is spent decoding, not importing)."""

T = TypeVar("T")


class Unavailable(RuntimeError):
    """No worker process can be used here: run the call in this process."""


class TimedOut(RuntimeError):
    """The call ran past its budget; its worker was killed (the next call gets a new one)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"over {seconds:g} s")
        self.seconds = seconds


class WorkerDied(RuntimeError):
    """The worker ended during the call (killed for memory, crashed in a decoder)."""


# --- the worker's side ---------------------------------------------------------------------------------------------


def _serve(conn: Any, preload: tuple[str, ...]) -> None:
    """A worker's loop: ``(function, args)`` in, ``("ok", result)`` or ``("error", exception)`` out, until the
    app's end of the connection closes (the app ended, or stopped this worker)."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the app stops its workers itself
    for name in preload:
        importlib.import_module(name)
    conn.send("ready")
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", function(*args))
        except Exception as exc:
            answer = ("error", exc)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an answer that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


_COMMAND = "import sys; from mmdemo.media.decode_worker import _main; _main(sys.argv[1:])"
"""What a worker runs (``python -c _COMMAND FD MODULE…``)."""


def _main(argv: list[str]) -> None:
    """A worker: serve on the inherited socket ``argv[0]`` once the modules ``argv[1:]`` are imported."""
    from multiprocessing.connection import Connection

    _serve(Connection(int(argv[0])), tuple(argv[1:]))


# --- the app's side ------------------------------------------------------------------------------------------------


def _package_root() -> str:
    """The folder that holds the ``mmdemo`` package (the worker imports it from there, wherever it runs)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Worker:
    def __init__(self) -> None:
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH", "")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _COMMAND, str(theirs.fileno()), *PRELOAD],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
                close_fds=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        try:
            ready = self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise Unavailable(f"a decode worker did not start within {START_TIMEOUT_S:g} s")

    def stop(self) -> None:
        """Kill the process (a timed-out call: it may be deep in a decoder) and reap it."""
        self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except Exception:  # not reaped within 5 s: it is killed; let it go
            pass


class _Pool:
    """At most :data:`WORKERS` workers, each serving one call at a time; started when first needed."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.idle: list[_Worker] = []
        self.started = 0
        self.changed = threading.Condition()

    def acquire(self) -> _Worker:
        with self.changed:
            while True:
                while not self.idle and self.started >= WORKERS:
                    self.changed.wait()
                if not self.idle:
                    break
                worker = self.idle.pop()
                if worker.process.poll() is None:
                    return worker
                worker.stop()  # it ended while idle (killed for memory …): start another
                self.started -= 1
            self.started += 1
        try:
            return _Worker()
        except BaseException:
            self.release(None)
            raise

    def release(self, worker: _Worker | None, reuse: bool = False) -> None:
        """Give ``worker`` back (``reuse``) or stop it (None: it never started)."""
        if worker is not None and not reuse:
            worker.stop()
        with self.changed:
            if worker is not None and reuse:
                self.idle.append(worker)
            else:
                self.started -= 1
            self.changed.notify()

    def shutdown(self) -> None:
        with self.changed:
            idle, self.idle = self.idle, []
            self.started -= len(idle)
        for worker in idle:
            worker.stop()


_pool: _Pool | None = None
_pool_lock = threading.Lock()
_unavailable: str | None = None
"""Why no worker could be started, else None: decodes run in process until :data:`RETRY_AFTER_S` have passed."""
_unavailable_since = 0.0
RETRY_AFTER_S = 300.0
"""How long after a failed start the pool is tried again (a passing shortage of processes or files must not keep
slow decodes in the app's process for good; a sandbox without subprocesses costs one failed start per period)."""


def _get_pool() -> _Pool:
    global _pool
    if not ENABLED:
        raise Unavailable("slow decodes run in this process (decode_worker.ENABLED is off)")
    if _unavailable is not None and time.monotonic() - _unavailable_since < RETRY_AFTER_S:
        raise Unavailable(_unavailable)
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():  # a forked copy of the app must not share its parent's pipes
            _pool = _Pool()
        return _pool


def run(function: Callable[..., T], *args: Any, budget: float | None = None) -> T:
    """``function(*args)`` in a worker process (both picklable, ``function`` defined at a module's top level):
    its result, or the exception it raised. Waits for a free worker first when all are busy (not counted in the
    budget).

    Raises :class:`TimedOut` past ``budget`` seconds (default :data:`TIME_BUDGET_S`), :class:`WorkerDied` if the
    worker ended during the call, :class:`Unavailable` when no worker can run here (call ``function`` in this
    process then).
    """
    global _unavailable, _unavailable_since
    budget = TIME_BUDGET_S if budget is None else budget
    pool = _get_pool()
    try:
        worker = pool.acquire()
    except Exception as exc:  # no subprocess allowed (a sandbox), or a worker that never said ready
        _unavailable, _unavailable_since = f"{type(exc).__name__}: {exc}", time.monotonic()
        log.warning("Slow image decodes run in the app's process: no decode worker could start (%s)", _unavailable)
        raise Unavailable(_unavailable) from exc
    _unavailable = None
    reuse = False
    try:
        try:
            worker.conn.send((function, args))
            if not worker.conn.poll(budget):
                raise TimedOut(budget)
            status, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"the decode worker ended (exit code {worker.process.poll()})") from exc
        reuse = True
    finally:
        pool.release(worker, reuse)
    if status == "error":
        raise value
    return value


def shutdown() -> None:
    """Stop the idle workers (a busy one is stopped when its call ends); the next call starts new ones."""
    if _pool is not None and _pool.pid == os.getpid():
        _pool.shutdown()


atexit.register(shutdown)
