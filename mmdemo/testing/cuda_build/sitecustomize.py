"""Put this folder first on ``PYTHONPATH`` to start a process as a ZeroGPU Space's main process starts, on a
machine with the CPU build of torch (test scaffolding, see ``tests/test_spaces_boot.py``).

On ZeroGPU the main process has a **CUDA build** of torch and **no GPU** (one is attached per call, in a
worker); the real ``spaces`` package then patches torch so that models placed on ``cuda`` at start-up are
kept aside for that GPU. ``spaces`` 0.51 reads three things only a CUDA build has: ``torch.version.cuda``,
``torch._C._cuda_init`` and a picklable ``torch.cuda._is_in_bad_fork``. They are given here exactly as a
CUDA build without a driver has them (``_cuda_init`` raises, as it does with no GPU), once torch has been
imported by someone else — this module imports nothing heavy itself.

It also records, in the file named by ``CUDA_BUILD_IMPORT_LOG``, the order in which the top-level
packages ``spaces``, ``torch`` and ``gradio`` *start* to be imported (the test checks ``spaces`` is first).
"""

import importlib.abc
import importlib.util
import os
import sys

WATCHED = ("spaces", "torch", "gradio")
_started = set()


def not_in_bad_fork():
    """A CUDA build's ``torch.cuda._is_in_bad_fork`` with CUDA never initialised in this process."""
    return False


def _cuda_init():
    raise RuntimeError("Found no NVIDIA driver on your system.")


def _as_cuda_build(torch):
    if torch.version.cuda is None:
        torch.version.cuda = "12.8"
    if not hasattr(torch._C, "_cuda_init"):
        torch._C._cuda_init = _cuda_init
    torch.cuda._is_in_bad_fork = not_in_bad_fork


class _Watcher(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in WATCHED:
            return None
        if name not in _started:
            _started.add(name)
            log = os.environ.get("CUDA_BUILD_IMPORT_LOG")
            if log:
                with open(log, "a", encoding="utf-8") as f:
                    f.write(name + "\n")
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_patch(module):
            exec_module(module)
            _as_cuda_build(module)

        spec.loader.exec_module = exec_then_patch
        return spec


sys.meta_path.insert(0, _Watcher())
