"""The page's side of Ray Serve (:mod:`mmdemo.serve`): the runner that sends marked task calls to the
deployments, and how a call and its files travel. Imported only when Ray is used (``--ray-address``,
``serve run``); the local path never imports Ray."""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from .errors import Cancelled, MMDemoError
from .messages import Message
from .runner import TaskCall, ship

log = logging.getLogger(__name__)

APP_NAME = "mmdemo"
"""The Serve application the deployments belong to (``serve status`` shows it)."""

GROUPS: dict[str, tuple[str, ...]] = {
    "captioning": ("caption", "describe", "vqa", "caption_batch"),
    "ocr": ("ocr",),
    "text_to_image": ("generate", "round_trip"),
    "speech": ("emotion",),
    "video": ("summarize",),
}
"""Deployment → the page's endpoints it runs (:data:`mmdemo.ui.availability.FEATURES` says which roles each
endpoint uses: a replica lists those in the Cluster panel, and any other model it loaded or failed to load)."""

HEARTBEAT_SECONDS = 2.0
"""A running call says it is alive this often, so the page notices a client that left, or a silent replica."""

STALL_SECONDS = float(os.environ.get("MMDEMO_RAY_STALL_SECONDS", "600"))
"""A call that has heard nothing from its replica this long (no heartbeat: queued behind others, or the
replica is gone without Ray noticing) is given up with a clear message."""

RETRIES = 2
"""A call whose replica died is sent again this many times (to another replica) before it is refused."""


@dataclass(frozen=True)
class Failed:
    """A batched call's own exception, returned among the others' results and raised on its page."""

    error: BaseException


# --- the page's side ---------------------------------------------------------------------------------------------


class ReplicaLost(Exception):
    """The replica running a call died or fell silent."""


LOST = (ActorDiedError, ActorUnavailableError, RayActorError)


class RayRunner:
    """Runs marked task calls on the deployments of a Serve application (:func:`mmdemo.runner.use_runner`)."""

    def __init__(
        self,
        app_name: str = APP_NAME,
        *,
        handles: dict[str, Any] | None = None,
        stop_check: Callable[[], bool] = lambda: False,
        retries: int = RETRIES,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.app_name = app_name
        self.stop_check = stop_check
        self.retries = retries
        self.stall_seconds = stall_seconds
        self.served: collections.Counter[str] = collections.Counter()
        """Replica id → calls it answered (tests and the Models panel read it)."""
        self.in_flight: collections.Counter[str] = collections.Counter()
        """Group → calls this page is waiting for."""
        self.retried = 0
        self._handles: dict[str, Any] = dict(handles or {})
        self._lock = threading.Lock()

    def handle(self, group: str) -> Any:
        with self._lock:
            if group not in self._handles:
                self._handles[group] = serve.get_deployment_handle(group, self.app_name)
            return self._handles[group]

    def run(self, call: TaskCall) -> Any:
        payload = (call.name, ship(call.args), ship(call.kwargs), tuple(call.callbacks))
        with self._lock:
            self.in_flight[call.group] += 1
        try:
            for attempt in range(self.retries + 1):
                try:
                    return self._once(call, payload)
                except ReplicaLost as err:
                    if attempt == self.retries:
                        log.warning("%s: its replica was lost %d times, refused (%s)", call.name, attempt + 1, err)
                        raise MMDemoError(Message("ray.replica_lost"), f"{call.group}: {err}") from None
                    with self._lock:
                        self.retried += 1
                    log.warning("%s: its replica was lost (%s); sent again", call.name, err)
        finally:
            with self._lock:
                self.in_flight[call.group] -= 1
        raise AssertionError("unreachable")

    def _once(self, call: TaskCall, payload: tuple[Any, ...]) -> Any:
        stream = self.handle(call.group).options(stream=True, method_name="run").remote(*payload)
        events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()

        def pump() -> None:
            try:
                for event in stream:
                    events.put(event)
                events.put(("lost", ReplicaLost("the stream ended without a result")))
            except LOST as err:
                events.put(("lost", ReplicaLost(f"{type(err).__name__}: {str(err).splitlines()[0]}")))
            except BaseException as err:  # cancelled, or Ray's own failure: raised on the page
                events.put(("failed", err))

        threading.Thread(target=pump, name="mmdemo-ray", daemon=True).start()
        heard = time.monotonic()
        try:
            while True:
                try:
                    event = events.get(timeout=1.0)
                except queue.Empty:
                    if self.stop_check():
                        raise Cancelled from None
                    if time.monotonic() - heard > self.stall_seconds:
                        raise ReplicaLost(f"nothing heard for {self.stall_seconds:.0f} s") from None
                    continue
                heard = time.monotonic()
                kind = event[0]
                if kind in ("tick", "call"):  # a visitor who left is noticed at the next progress, not heartbeat
                    if kind == "call":
                        call.callbacks[event[1]](*event[2])
                    if self.stop_check():
                        raise Cancelled
                elif kind == "result":
                    self.served[event[2]] += 1
                    value = event[1]
                    if isinstance(value, Failed):
                        raise value.error
                    return value
                elif kind == "error":
                    self.served[event[2]] += 1
                    raise event[1]
                elif kind == "lost":
                    raise event[1]
                else:
                    raise event[1]
        except BaseException:
            stream.cancel()
            raise

    def replicas(self) -> list[dict[str, Any]]:
        """What every replica of every deployment says about itself (:meth:`TaskWorker.describe`), plus the
        calls this page is waiting for per deployment; a deployment that does not answer says why."""
        rows = []
        for group in GROUPS:
            try:
                # Ray refuses a sync wait inside a running event loop (a caller's thread may have one): a thread
                # of its own waits instead.
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    answers = pool.submit(_describe_all, self.handle(group)).result()
            except Exception as err:  # shown in the panel, not raised
                answers = [{"group": group, "replica": "", "node": "", "running": 0, "error": str(err)[:200]}]
            for answer in answers:
                rows.append({**answer, "waiting": self.in_flight[group]})
        return rows


def _describe_all(handle: Any) -> list[dict[str, Any]]:
    return handle.broadcast("describe").results(timeout_s=60)


def connect(address: str, app_name: str = APP_NAME, stop_check: Callable[[], bool] = lambda: False) -> RayRunner:
    """Join the Ray cluster at ``address`` and return a runner for the application ``app_name`` running there;
    refused with a clear message when the cluster or the application cannot be reached."""
    try:
        ray.init(address=address, ignore_reinit_error=True, logging_level=logging.WARNING)
        status = serve.status().applications.get(app_name)
    except Exception as err:  # Ray's own errors vary: one sentence for the operator
        raise MMDemoError(Message("ray.unreachable", address=address), f"{type(err).__name__}: {err}") from err
    if status is None:
        raise MMDemoError(Message("ray.no_app", app=app_name, address=address))
    return RayRunner(app_name, stop_check=stop_check)
