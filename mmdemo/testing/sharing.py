"""Shared model passes in tests: a sharer that batches the parts of concurrent requests as a Ray Serve replica does,
without Ray (tests/test_voice_batching.py, tests/test_transcription_batching.py)."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from ..runner import Part, run_parts


class Batcher:
    """A sharer (:func:`~mmdemo.runner.sharing`) for tests: parts that arrive within ``wait`` seconds run together
    (:func:`~mmdemo.runner.run_parts`), in a thread of its own, as a Ray Serve replica's ``@serve.batch`` runs them;
    ``passes`` holds each pass's name and how many parts it took (``sizes``: those numbers)."""

    def __init__(self, wait: float = 0.2) -> None:
        self.wait = wait
        self.queue: queue.SimpleQueue[tuple[Part, Future[Any]] | None] = queue.SimpleQueue()
        self.passes: list[tuple[str, int]] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def __call__(self, part: Part) -> list[Any]:
        future: Future[Any] = Future()
        self.queue.put((part, future))
        value = future.result(timeout=120)
        if isinstance(value, BaseException):
            raise value
        return value

    def _loop(self) -> None:
        while (first := self.queue.get()) is not None:
            batch = [first]
            deadline = time.monotonic() + self.wait
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self.queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)
                    break
                batch.append(item)
            results = run_parts([part for part, _ in batch], None, lambda name, size: self.passes.append((name, size)))
            for (_, future), value in zip(batch, results, strict=True):
                future.set_result(value)

    @property
    def sizes(self) -> list[int]:
        return [size for _, size in self.passes]

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)
