"""ZeroGPU support: :func:`gpu` marks a handler that needs the GPU.

On a ZeroGPU Space (``SPACES_ZERO_GPU=true`` and the ``spaces`` package installed) it becomes
``@spaces.GPU(duration=…)``, so a GPU is attached for the call (the function then runs in a worker
process: convert errors to ``gr.Error`` inside it, as :func:`mmdemo.ui.common.guarded` does); everywhere
else it returns the handler unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def zerogpu_active() -> bool:
    """True on a ZeroGPU Space: ``SPACES_ZERO_GPU`` is set true and ``spaces`` is importable."""
    flag = os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in {"1", "true", "t", "yes"}
    return flag and importlib.util.find_spec("spaces") is not None


def gpu(duration: float | Callable[..., float] = 60) -> Callable[[F], F]:
    """Request a ZeroGPU GPU for each call of the decorated handler, for ``duration`` seconds at most.

    ``duration`` may be a function of the handler's own arguments (a long video or many diffusion
    steps ask for more); shorter requests get a better place in ZeroGPU's queue. A no-op elsewhere.
    """

    def decorate(fn: F) -> F:
        if not zerogpu_active():
            return fn
        spaces = importlib.import_module("spaces")
        return spaces.GPU(duration=duration)(fn)

    return decorate
