"""A stand-in for the ``spaces`` package on a ZeroGPU Space, faithful where it matters to the app.

Mirrors ``spaces`` 0.51 (``spaces/zero/decorator.py`` and ``spaces/zero/wrappers.py``), read from its
source:

* ``spaces.GPU`` is a no-op unless ``SPACES_ZERO_GPU`` is true; ``duration`` may be a number or a
  function of the handler's arguments, evaluated in the main process before the GPU is scheduled;
* the decorated function runs in a **forked worker process**; its arguments and its result travel
  **pickled** (an unpicklable argument fails in the main process, an unpicklable result comes back
  as an error);
* a generator function (a streaming handler) stays one: each value it yields in the worker comes back
  pickled as it is yielded; closing the generator stops the worker;
* an exception raised in the worker comes back as itself only when it is a ``gr.Error``; any other
  exception becomes ``gr.Error("<ExceptionClass>", title="ZeroGPU worker error")`` — the user's
  message is lost unless the handler converted it *inside* the GPU function;
* inside the worker, Gradio's request context is only partly there (``event_id``, ``progress``; no
  ``blocks``), so nothing can look up the queue from there.

Not modelled: the GPU scheduling service, quotas, CUDA emulation in the main process, worker reuse. (How the
real package boots — imported first, CUDA emulated in the main process, models packed at launch — is tested
with the real ``spaces`` in tests/test_spaces_boot.py; a GPU call cannot run there without a GPU.)

    with zerogpu_installed():          # a fake ``spaces`` module + SPACES_ZERO_GPU=true
        handler = guarded(fn, gpu_duration=30)
"""

from __future__ import annotations

import contextlib
import inspect
import multiprocessing
import os
import pickle
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

_forked = False
calls: list[float | None] = []
"""The duration (seconds) each call asked for, in order (tests check the dynamic estimates)."""
pids: list[int] = []
"""The worker process id of each call (tests check the work ran outside the main process)."""


def _worker(task: Callable[..., Any], payload: bytes, conn: Any) -> None:
    global _forked
    _forked = True
    from gradio.context import LocalContext

    LocalContext.blocks.set(None)  # (the real worker restores only event_id, in_event_listener, progress)
    # The real worker computes on CUDA. Here it computes on the CPU, where GNU OpenMP's thread pool, used by
    # the parent before the fork, deadlocks in the child: one thread keeps torch out of OpenMP.
    import torch

    torch.set_num_threads(1)

    def send(result: tuple[str, Any]) -> None:
        try:
            data = pickle.dumps(result)
        except Exception as exc:  # an unpicklable result
            data = pickle.dumps(("error", _exception_result(exc)))
        conn.send_bytes(data)

    try:
        args, kwargs = pickle.loads(payload)
        if inspect.isgeneratorfunction(task):  # as spaces' generator wrapper: each value as it is yielded
            for value in task(*args, **kwargs):
                send(("yield", value))
            result: tuple[str, Any] = ("end", None)
        else:
            result = ("ok", task(*args, **kwargs))
    except Exception as exc:
        result = ("error", _exception_result(exc))
    send(result)
    conn.close()
    os._exit(0)


def _exception_result(exc: Exception) -> tuple[str, str, gr.Error | None]:
    formatted = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return formatted, type(exc).__name__, exc if isinstance(exc, gr.Error) else None


def _error(title: str, message: str) -> gr.Error:
    return gr.Error(message, title=title, print_exception=False)


def GPU(task: Callable[..., Any] | None = None, *, duration: Any = None, size: str | None = None, **_: Any) -> Any:
    if task is None or not callable(task):
        return lambda fn: GPU(fn, duration=duration, size=size)
    if os.environ.get("SPACES_ZERO_GPU", "").lower() not in ("1", "t", "true"):
        return task

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        asked = duration(*args, **kwargs) if callable(duration) else duration
        calls.append(None if asked is None else float(asked))
        payload = pickle.dumps((args, kwargs))  # PicklingError here, in the main process, as in spaces
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_worker, args=(task, payload, send), daemon=True)
        process.start()
        send.close()
        pids.append(process.pid or 0)
        return process, receive

    def outcome(receive: Any) -> tuple[str, Any]:
        try:
            data = receive.recv_bytes()
        except EOFError:
            raise _error("ZeroGPU worker error", "GPU task aborted") from None
        kind, value = pickle.loads(data)
        if kind != "error":
            return kind, value
        formatted, error_cls, gradio_error = value
        if gradio_error is not None:
            raise gradio_error
        print(formatted, file=sys.stderr)
        raise _error("ZeroGPU worker error", error_cls)

    def gradio_handler(*args: Any, **kwargs: Any) -> Any:
        if _forked:
            return task(*args, **kwargs)
        process, receive = start(args, kwargs)
        try:
            return outcome(receive)[1]
        finally:
            process.join(30)

    def streaming_handler(*args: Any, **kwargs: Any) -> Iterator[Any]:
        if _forked:
            yield from task(*args, **kwargs)
            return
        process, receive = start(args, kwargs)
        try:
            while True:
                kind, value = outcome(receive)
                if kind == "end":
                    return
                yield value
        finally:  # closed early (the client went away): spaces stops the worker
            if process.is_alive():
                process.terminate()
            process.join(30)

    if inspect.isgeneratorfunction(task):
        streaming_handler.__wrapped__ = task  # type: ignore[attr-defined]
        streaming_handler.__name__ = getattr(task, "__name__", "task")
        return streaming_handler
    gradio_handler.__wrapped__ = task  # type: ignore[attr-defined]
    gradio_handler.__name__ = getattr(task, "__name__", "task")
    return gradio_handler


@contextlib.contextmanager
def zerogpu_installed() -> Iterator[types.ModuleType]:
    """Make ``import spaces`` give this double and turn ZeroGPU on, for the duration of the block."""
    import importlib.machinery

    module = types.ModuleType("spaces")
    module.__spec__ = importlib.machinery.ModuleSpec("spaces", None)  # so that find_spec("spaces") finds it
    module.GPU = GPU  # type: ignore[attr-defined]
    saved_module = sys.modules.get("spaces")
    saved_flag = os.environ.get("SPACES_ZERO_GPU")
    sys.modules["spaces"] = module
    os.environ["SPACES_ZERO_GPU"] = "true"
    calls.clear()
    pids.clear()
    try:
        yield module
    finally:
        if saved_module is None:
            sys.modules.pop("spaces", None)
        else:
            sys.modules["spaces"] = saved_module
        if saved_flag is None:
            os.environ.pop("SPACES_ZERO_GPU", None)
        else:
            os.environ["SPACES_ZERO_GPU"] = saved_flag
