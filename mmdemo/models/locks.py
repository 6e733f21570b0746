"""The model layer's locks: :class:`FairLock` (granted in arrival order: the one-run-at-a-time lock of each
loaded model) and :data:`LOADING` (one model built from its files at a time in the whole process).
"""

from __future__ import annotations

import collections
import threading

LOADING = threading.Lock()
"""Held while any model is being built from its files. Loaders patch process-wide state while they build
(accelerate's ``init_empty_weights`` patches ``nn.Module.register_parameter``; transformers patches
``torch.linspace`` and imports lazily), so two loads in parallel threads corrupt each other: seen as a
captioner left with ``meta`` tensors ("Tensor on device meta is not on the expected device cpu") and as
"module 'transformers' has no attribute 'AutoProcessor'". Running loaded models in parallel is fine."""


class FairLock:
    """A lock granted in arrival order. ``threading.Lock`` is not: a thread that releases and at once
    re-acquires it (a long job going from one batch to the next) can starve a waiting quick request."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[object] = collections.deque()
        self._held = False

    def acquire(self) -> None:
        token = object()
        with self._cond:
            self._queue.append(token)
            try:
                while self._held or self._queue[0] is not token:
                    self._cond.wait()
            except BaseException:
                self._queue.remove(token)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def waiting(self) -> int:
        """Requests holding or waiting for the lock."""
        with self._cond:
            return len(self._queue) + self._held
