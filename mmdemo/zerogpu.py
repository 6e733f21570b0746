"""ZeroGPU support: :func:`import_spaces_first` at start-up, :func:`gpu` on every handler that needs the GPU.

On a ZeroGPU Space (``SPACES_ZERO_GPU`` true and the ``spaces`` package installed):

* ``spaces`` must be imported **before torch** (and before gradio): importing it patches torch so that the
  main process sees a CUDA device and models placed on ``cuda`` at start-up are kept aside, to be moved to
  the GPU that is attached per call (``spaces/zero/torch/patching.py``). Imported after torch has set up
  CUDA it refuses to load; imported after the models were placed (as this app once did, while building
  the UI), every preload fails with "PyTorch sees no CUDA GPU". gradio's own ``try: import spaces`` runs
  while gradio is half-imported and is refused by ``spaces``, so nobody else does it early enough.
* :func:`gpu` becomes ``@spaces.GPU(duration=…)``: a GPU is attached for the call, which then runs in a
  worker process (convert errors to ``gr.Error`` inside it, as :func:`mmdemo.ui.events.guarded` does).

Everywhere else both are no-ops. This module imports nothing heavy: the entry point calls
:func:`import_spaces_first` before anything else.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

FLAG = "SPACES_ZERO_GPU"
"""Set true by Hugging Face on ZeroGPU Spaces."""
_TRUE = ("1", "t", "true")
"""What ``spaces`` itself reads as true (``spaces/config.py``): anything else leaves it off, so here too."""


def zerogpu_requested(env: Mapping[str, str] | None = None) -> bool:
    """``SPACES_ZERO_GPU`` is true, read exactly as the ``spaces`` package reads it."""
    env = os.environ if env is None else env
    return env.get(FLAG, "").strip().lower() in _TRUE


def zerogpu_active(env: Mapping[str, str] | None = None) -> bool:
    """True on a ZeroGPU Space: ``SPACES_ZERO_GPU`` is true and ``spaces`` is importable."""
    if not zerogpu_requested(env):
        return False
    return "spaces" in sys.modules or importlib.util.find_spec("spaces") is not None


def import_spaces_first() -> bool:
    """On ZeroGPU, import ``spaces`` now — call this before anything imports torch or gradio. Returns
    whether ZeroGPU is active. Off ZeroGPU it does nothing (and imports nothing)."""
    if not zerogpu_requested():
        return False
    late = [name for name in ("torch", "gradio") if name in sys.modules]
    try:
        importlib.import_module("spaces")
    except ImportError as err:
        log.warning("%s is set but the spaces package cannot be imported (%s): ZeroGPU is off.", FLAG, err)
        return False
    if late:
        log.warning("spaces was imported after %s: ZeroGPU may not see its CUDA device.", " and ".join(late))
    return True


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
