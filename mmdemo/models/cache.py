"""The books of loaded models: which role is loaded, on which memory *tier* (the compute device, or ``cpu``
for RAM), how many bytes it counts there, who is using it (pins); and making room within each tier's budget
by evicting the least recently used idle models: GPU → CPU RAM while the offload budget allows → dropped.

One condition (:attr:`ModelCache.cond`, re-entrant) guards the books. It is never held while tensors move or
memory is freed (seconds for multi-GB models, which would stall every request and the status panel): a model
being evicted is marked ``moving`` meanwhile. The moving itself is the :class:`~.device.Accelerator`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import MemoryBudgetError
from ..messages import Message
from ..model_ids import public_model_id
from .device import Accelerator
from .locks import FairLock
from .sizes import GiB
from .types import LoadedModel, ModelSpec

log = logging.getLogger(__name__)


@dataclass
class Entry:
    """One role's model in the books, from the moment its load reserves memory until it is dropped."""

    spec: ModelSpec
    model_id: str
    tier: str
    bytes: int
    """Bytes counted on ``tier``: the weights, or for an offloaded model its largest part plus activations."""
    state: str = "loading"
    """``loading``, ``ready``, ``offloaded`` (a CPU copy of a GPU model), ``moving`` (being evicted)."""
    loaded: LoadedModel | None = None
    host_bytes: int = 0
    """Bytes counted on the host (CPU) tier besides ``bytes``: the weights of a model run with CPU offload."""
    cpu_offload: bool = False
    """Run with model CPU offload (one component on the device at a time): the model did not fit whole."""
    pins: int = 0
    last_used: float = field(default_factory=time.monotonic)
    last_used_wall: float = field(default_factory=time.time)
    run_lock: FairLock = field(default_factory=lambda: FairLock())


class ModelCache:
    """Loaded models by role within the budgets of ``accelerator()`` (asked when needed: the device is
    resolved lazily). ``evict_wait_s``: how long room is waited for while the models in the way are pinned."""

    def __init__(self, accelerator: Callable[[], Accelerator], evict_wait_s: float) -> None:
        self._accelerator = accelerator
        self.evict_wait_s = evict_wait_s
        self.cond = threading.Condition(threading.RLock())
        self.entries: dict[str, Entry] = {}

    @property
    def accelerator(self) -> Accelerator:
        return self._accelerator()

    # ------------------------------------------------------------------ pins and the life of an entry
    def pin(self, role: str) -> Entry | None:
        """Pin ``role``'s entry (after waiting out an eviction in progress); ``None`` when it is not loaded."""
        with self.cond:
            while (entry := self.entries.get(role)) is not None and entry.state == "moving":
                self.cond.wait()  # being evicted by another thread: wait for the outcome
            if entry is not None:
                entry.pins += 1
            return entry

    def release(self, entry: Entry) -> None:
        """Unpin ``entry``: it may be evicted again once no request holds it."""
        with self.cond:
            entry.pins -= 1
            entry.last_used = time.monotonic()
            entry.last_used_wall = time.time()
            self.cond.notify_all()

    def reserve(self, role: str, entry: Entry) -> None:
        """Book a model about to be loaded (its bytes on its tier, and its host bytes on ``cpu``), evicting
        what must make room. Raises :class:`~mmdemo.errors.MemoryBudgetError` when it cannot fit."""
        with self.cond:
            victims = self.make_room(entry.tier, entry.bytes, what=entry.model_id)
            if entry.host_bytes:
                victims += self.make_room("cpu", entry.host_bytes, what=entry.model_id)
            self.entries[role] = entry  # reserves the bytes while loading
        self.evict(victims)

    def resize(self, entry: Entry, actual: int) -> None:
        """Count ``actual`` bytes for a loaded model (measured, where the files were only an estimate)."""
        extra: list[Entry] = []
        with self.cond:
            if actual > entry.bytes:
                extra = self.make_room(entry.tier, actual - entry.bytes, what=entry.model_id)
            entry.bytes = actual
        self.evict(extra)

    def ready(self, entry: Entry, loaded: LoadedModel) -> None:
        with self.cond:
            entry.loaded = loaded
            entry.state = "ready"
            self.cond.notify_all()

    def discard(self, role: str) -> None:
        """Take a failed load out of the books; the caller frees its memory."""
        with self.cond:
            self.entries.pop(role, None)
            self.cond.notify_all()

    def move_home(self, entry: Entry, tier: str) -> None:
        """Move a pinned, offloaded (CPU) copy back to the compute ``tier``, making room there first.

        If the move fails half-way, the model is moved back to the CPU whole (or dropped when even that
        fails), so no half-moved model stays counted on the CPU; the entry is unpinned and the error raised."""
        try:
            with self.cond:
                victims = self.make_room(tier, entry.bytes, what=entry.model_id)
            self.evict(victims)
            assert entry.loaded is not None
            self.accelerator.place(entry.spec, entry.loaded.model)
        except BaseException:
            self._recover_to_host(entry)
            self.release(entry)
            raise
        with self.cond:
            entry.tier = tier
            entry.state = "ready"
            self.cond.notify_all()

    def unload(self, role: str) -> bool:
        """Drop ``role`` if it is loaded and idle. Returns whether it was dropped."""
        with self.cond:
            entry = self.entries.get(role)
            if entry is None or entry.pins or entry.state in ("loading", "moving"):
                return False
            self._forget(entry)
        self.accelerator.free()
        return True

    # ------------------------------------------------------------------------------------ memory
    def usage(self, tier: str) -> int:
        """Bytes the books count on ``tier`` (hold :attr:`cond` for a consistent answer)."""
        with self.cond:
            used = sum(e.bytes for e in self.entries.values() if e.tier == tier)
            if tier == "cpu":
                used += sum(e.host_bytes for e in self.entries.values() if e.tier != "cpu")
            return used

    def make_room(self, tier: str, needed: int, what: str, wait: bool = True) -> list[Entry]:
        """Choose idle models to evict from ``tier`` (LRU first) so ``needed`` more bytes fit, and mark them
        ``moving``; the caller evicts them with :meth:`evict` after releasing the lock. Holds the lock.

        Models already being moved by another request still count until they are gone: this waits for them."""
        budget = self.accelerator.budgets.get(tier, 0)
        if needed > budget:
            raise MemoryBudgetError(
                Message("model.no_memory", model=public_model_id(what)),
                detail=f"{what} needs {needed / GiB:.2f} GiB but the memory budget on {tier} is "
                f"{budget / GiB:.2f} GiB: raise MMDEMO_MEMORY_BUDGET_GB or choose a smaller model.",
            )
        deadline = time.monotonic() + (self.evict_wait_s if wait else 0)
        chosen: list[Entry] = []
        while self.usage(tier) - sum(self._freed(e, tier) for e in chosen) + needed > budget:
            idle = [
                e
                for e in self.entries.values()
                if e.pins == 0 and e.state in ("ready", "offloaded") and e not in chosen and self._freed(e, tier)
            ]
            if idle:
                chosen.append(min(idle, key=lambda e: e.last_used))
                continue
            moving = any(e.state == "moving" and self._freed(e, tier) for e in self.entries.values())
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not moving:
                raise MemoryBudgetError(
                    Message("model.busy"),
                    detail=f"Not enough memory on {tier} for {what}: the models there stayed pinned by other "
                    f"requests for {self.evict_wait_s:g} s (MMDEMO_EVICT_WAIT_S).",
                )
            self.cond.wait(max(remaining, 0.05) if not moving else 1.0)
        for entry in chosen:
            entry.state = "moving"
        return chosen

    @staticmethod
    def _freed(entry: Entry, tier: str) -> int:
        """Bytes evicting ``entry`` frees on ``tier``."""
        return (entry.bytes if entry.tier == tier else 0) + (entry.host_bytes if tier == "cpu" else 0)

    def evict(self, entries: list[Entry]) -> None:
        """Evict entries :meth:`make_room` marked, without holding the lock: GPU → CPU when the offload budget
        has room (after dropping idle CPU copies), else drop; then free the memory."""
        accelerator = self.accelerator
        dropped_any = False
        for entry in entries:
            to_host: list[Entry] | None = None
            if entry.tier != "cpu" and not entry.cpu_offload and accelerator.has_host_tier:
                with self.cond:
                    try:
                        to_host = self.make_room("cpu", entry.bytes, what=entry.model_id, wait=False)
                    except MemoryBudgetError:
                        to_host = None
                if to_host is not None:
                    self.evict(to_host)
                    try:
                        assert entry.loaded is not None
                        accelerator.to_host(entry.loaded.model)
                    except BaseException:
                        log.exception("moving %s to the CPU failed: dropping it", entry.spec.role)
                    else:
                        with self.cond:
                            entry.tier = "cpu"
                            entry.state = "offloaded"
                            self.cond.notify_all()
                        log.info("offloaded %s to cpu", entry.spec.role)
                        dropped_any = True  # the GPU copy is gone: give its memory back
                        continue
            with self.cond:
                self._forget(entry)
            dropped_any = True
            log.info("dropped %s (%s)", entry.spec.role, entry.model_id)
        if dropped_any:
            accelerator.free()

    def _recover_to_host(self, entry: Entry) -> None:
        try:
            assert entry.loaded is not None
            self.accelerator.to_host(entry.loaded.model)
        except BaseException:
            log.exception("could not move %s back to the CPU after a failed move: dropping it", entry.spec.role)
            with self.cond:
                self._forget(entry)
        self.accelerator.free()

    def _forget(self, entry: Entry) -> None:
        """Remove ``entry`` from the books (the lock is held); the caller frees the memory afterwards."""
        self.entries.pop(entry.spec.role, None)
        entry.loaded = None
        entry.state = "dropped"
        self.cond.notify_all()
