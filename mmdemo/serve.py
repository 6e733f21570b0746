"""The tasks as Ray Serve deployments: replicas, autoscaling, batching across users, surviving a lost replica.

Each group of tasks (:data:`GROUPS`) is a deployment whose replicas each own a model manager; the page stays
what it is (same endpoints, parameters, messages, streaming and progress) and sends the work of every marked
task function (:func:`mmdemo.runner.task`) to the group's deployment through :class:`RayRunner`:

- ``serve run mmdemo.serve:app`` starts the deployments and the page (port 7860) on a local Ray;
  ``serve run deploy/ray/serve_config.yaml`` the same with replicas, autoscaling and placement from the file.
- ``python app.py --ray-address ADDRESS`` runs the page outside the cluster and sends the work to the
  deployments already running there (``serve deploy deploy/ray/serve_config.yaml``).

A call travels as its function's name, its arguments (uploaded files as their bytes, written to a folder of the
replica's own) and the names of its callbacks; the replica streams back what the callbacks are told (progress,
partial text, previews), a heartbeat, then the result or the exception, which the page raises as it is. A
visitor who leaves cancels the Ray call (Serve propagates it: the replica's task stops at its next step); a
replica that dies mid-request is retried on another, then refused with a clear message — never a hang.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import inspect
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import ray
from ray import serve

from .errors import Cancelled
from .models.types import ModelStatus
from .ray_runner import GROUPS, HEARTBEAT_SECONDS, Failed, RayRunner
from .runner import Part, land, named, resolve, run_parts, sharing
from .settings import Settings

log = logging.getLogger(__name__)


def roles_of(group: str) -> tuple[str, ...]:
    """Every role the endpoints of ``group`` use (needed and optional), in table order."""
    from .ui.availability import FEATURES

    endpoints = set(GROUPS[group])
    roles = [role for features in FEATURES.values() for f in features if f.endpoint in endpoints for role in f.roles]
    return tuple(dict.fromkeys(roles))


# --- the replicas -----------------------------------------------------------------------------------------------

ELSEWHERE = ("missing", "Hub")
"""How :meth:`~mmdemo.models.manager.ModelManager.source_of` begins for a model whose files are not on this machine:
``missing …`` (not installed: offline, a missing folder or package) or ``Hub …`` (a download, which failed)."""


def lasting(row: ModelStatus) -> bool:
    """Whether ``row``'s problem would be a new replica's too: its files are not here (:data:`ELSEWHERE`), and a
    new replica reads the same settings and reaches the same network. A failed load of files that are here (out of
    memory, a device error, anything unexpected) may work in a new process. Either way the replica tries again at
    the next request that needs the model."""
    return bool(row.problem) and row.source.startswith(ELSEWHERE)


def compute_as_a_process() -> None:
    """Let a replica given less than a whole CPU (:data:`DEFAULT_OPTIONS`) compute with the machine's cores, as the
    app's own process does. Ray pins such a worker to one thread (``OMP_NUM_THREADS=1``, read by torch and the
    libraries it loads), which made a warm caption on a replica ~1.2× slower than in the page's process on two
    cores. Called before the models' libraries load. Ray's choice stands for a whole number of CPUs (that many
    threads: the operator's placement), and so does ``OMP_NUM_THREADS`` given in the ``runtime_env``."""
    context = ray.get_runtime_context()
    if context.get_assigned_resources().get("CPU", 0) >= 1:
        return
    if "OMP_NUM_THREADS" in (context.runtime_env.get("env_vars") or {}):
        return
    os.environ.pop("OMP_NUM_THREADS", None)


@dataclass(frozen=True)
class Batching:
    """How requests of different visitors share one forward pass: a deployment's ``user_config`` (its keys are
    these fields; one not given keeps its default)."""

    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.05
    batching: bool = True
    """Off: every call runs on its own (captions and answers stream word by word; voice windows pass alone)."""

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Batching:
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(config or {}) - set(known)
        if unknown:
            raise ValueError(f"unknown user_config keys {sorted(unknown)}; known: {', '.join(known)}")
        defaults = cls()
        return cls(
            max_batch_size=int((config or {}).get("max_batch_size", defaults.max_batch_size)),
            batch_wait_timeout_s=float((config or {}).get("batch_wait_timeout_s", defaults.batch_wait_timeout_s)),
            batching=bool((config or {}).get("batching", defaults.batching)),
        )


@dataclass(frozen=True)
class Batched:
    """How calls of one task from different visitors share forward passes (:data:`BATCHED`)."""

    method: str
    """The :class:`TaskWorker` method (a ``@serve.batch`` of its own) that collects them: tasks never mix."""
    function: str
    """``module:name`` of the batch function: called with a list per :attr:`each` argument (in that order), the
    :attr:`shared` arguments by keyword and the replica's manager; returns each call's result, in order."""
    each: tuple[str, ...]
    """The task's arguments that differ from call to call (the photo …)."""
    shared: tuple[str, ...]
    """The task's arguments a batch has in common: calls that differ in one of them go to separate batches."""


BATCHED: dict[str, Batched] = {
    "mmdemo.tasks.captioning:caption_image": Batched(
        "_captions", "mmdemo.tasks.captioning:caption_images", ("image",), ("prefix", "options")
    ),
    "mmdemo.tasks.captioning:answer_question": Batched(
        "_answers", "mmdemo.tasks.captioning:answer_questions", ("image", "question"), ("options",)
    ),
}
"""The tasks whose calls from different visitors are batched whole when batching is on (each batch function gives
every call the result it gets alone: tested).

Voice emotion is a pipeline of its own per call (decoding, speech windows, the voice model, Whisper, the text model,
prosody, with progress all along), so the call is not batched whole: its voice windows are. Each batch of a call's
windows is a :func:`~mmdemo.runner.shared_pass`, which a replica runs in :meth:`TaskWorker._passes` with the
windows of other visitors' calls that have the same voice model and window lengths (every full window of a clip
has the same number of samples): one forward pass, no window padded to another's length (wav2vec2-base has no
attention mask, a padded window would get other probabilities), each call its own rows (tested).

Transcription on transformers (a GPU replica; the CPU fast path off) shares passes the same way: each batch of a
file's windows is a shared pass of :func:`~mmdemo.tasks.transcription.whisper_tokens` (windows of other visitors'
files in the same language join it: each is padded to Whisper's 30 s and decoded on its own row), and the file's
language detection one of :func:`~mmdemo.tasks.transcription.whisper_languages` (tested). On CTranslate2 (a CPU
replica with the fast path on) Whisper decodes each file long-form, each window after the last complete segment
and conditioned on the previous window's text: no window can join another file's pass."""

Call = tuple[str, tuple[Any, ...], dict[str, Any]]
"""A batched call as :meth:`TaskWorker.run` queues it: the task's name, its arguments, its keyword arguments."""


class TaskWorker:
    """One replica of a group's deployment: a model manager for the group's roles, running the group's tasks."""

    def __init__(self, group: str, settings: Settings | None = None) -> None:
        from .runtime import configure

        if group not in GROUPS:
            raise ValueError(f"unknown task group {group!r}; known: {', '.join(GROUPS)}")
        self.group = group
        self.roles = roles_of(group)
        compute_as_a_process()
        self.manager = configure(settings or Settings.from_env())
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.node = ray.get_runtime_context().get_node_id()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"mmdemo-{group}-"))
        self.batching = Batching()
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"mmdemo-{group}")
        """Where tasks run: a thread per ongoing request (Serve's ``max_ongoing_requests`` bounds them)."""
        self.running = 0
        self.batches: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        """Task (or shared pass: ``mmdemo.tasks.audio_emotion:voice_rows``, voice windows) → batch size (calls of
        different visitors sharing a pass) → how many batches of that size ran."""
        self.loop: asyncio.AbstractEventLoop | None = None
        """The replica's event loop (where its ``@serve.batch`` methods run), once a request came."""

    def reconfigure(self, config: dict[str, Any]) -> None:
        """``user_config`` of the deployment: batch size and wait (see :class:`Batching`)."""
        self.batching = Batching.from_config(config)
        for name in [batched.method for batched in BATCHED.values()] + ["_passes"]:
            method = getattr(self, name)
            method.set_max_batch_size(self.batching.max_batch_size)
            method.set_batch_wait_timeout_s(self.batching.batch_wait_timeout_s)

    def check_health(self) -> None:
        """Unhealthy while a model failed to load here for a reason a new replica may not have (not
        :func:`lasting`: out of memory, a device error, anything unexpected), with the reason the Models panel
        shows: Serve replaces the replica. A lasting problem (not installed, offline …) keeps it healthy: every
        replacement would fail the same way, one after another; it is reported instead (:meth:`describe`, the
        Cluster panel, and the request's own message)."""
        problems = [f"{row.title}: {row.problem}" for row in self.manager.status() if row.problem and not lasting(row)]
        if problems:
            raise RuntimeError("; ".join(problems))

    async def describe(self) -> dict[str, Any]:
        """Who this replica is, where it runs, what it is doing (``threads``: torch's, once a model is loaded) and
        which models it holds (the Cluster panel).
        The models' states are read in a worker thread: a model being built must not stall this replica's loop."""
        rows = await asyncio.get_running_loop().run_in_executor(self.pool, self.manager.status)
        return {
            "group": self.group,
            "replica": self.replica,
            "node": self.node,
            "running": self.running,
            "threads": torch.get_num_threads() if (torch := sys.modules.get("torch")) else None,
            "batches": {name: dict(sizes) for name, sizes in self.batches.items()},
            "models": [
                {"role": r.role, "state": r.state, "device": r.device, "problem": r.problem, "lasting": lasting(r)}
                for r in rows
                if r.role in self.roles or r.state != "not loaded" or r.problem  # (OCR for a detailed caption …)
            ],
        }

    async def run(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], callbacks: Sequence[str]
    ) -> AsyncIterator[tuple[Any, ...]]:
        """Run the task ``name`` and stream its events: ``("call", callback, args)`` for each callback call,
        ``("tick",)`` every :data:`HEARTBEAT_SECONDS`, then ``("result", value, replica)`` or ``("error", exc,
        replica)``."""
        loop = self.loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        stop = threading.Event()
        folder = Path(tempfile.mkdtemp(dir=self.workdir))

        def emit(*event: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        def relay(callback: str) -> Callable[..., None]:
            def call(*values: Any) -> None:
                if stop.is_set():
                    raise Cancelled
                emit("call", callback, values)

            return call

        def work() -> None:
            try:
                fn = resolve(name)
                landed_args, landed_kwargs = land(args, folder), land(kwargs, folder)
                relays = {c: relay(c) for c in callbacks}
                with sharing(partial(self._share, stop) if self.batching.batching else None):
                    emit("result", fn(*landed_args, manager=self.manager, **landed_kwargs, **relays), self.replica)
            except BaseException as err:  # handed to the page, raised there as it is
                emit("error", err, self.replica)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        self.running += 1
        try:
            if name in BATCHED and self.batching.batching:  # waits for the batch in this loop: no thread held
                try:
                    value = await getattr(self, BATCHED[name].method)((name, land(args, folder), land(kwargs, folder)))
                    event: tuple[Any, ...] = ("result", value, self.replica)
                except Exception as err:
                    event = ("error", err, self.replica)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                yield event
                return
            loop.run_in_executor(self.pool, work)
            while True:
                try:
                    event = await asyncio.wait_for(events.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ("tick",)
                    continue
                yield event
                if event[0] in ("result", "error"):
                    break
        finally:  # finished, or cancelled (the visitor left): the task stops at its next step
            stop.set()
            self.running -= 1

    @serve.batch(max_batch_size=Batching.max_batch_size, batch_wait_timeout_s=Batching.batch_wait_timeout_s)
    async def _captions(self, calls: list[Call]) -> list[Any]:
        """Captions of several visitors' photos: one forward pass per (prefix, options) they share."""
        return await self._together(calls)

    @serve.batch(max_batch_size=Batching.max_batch_size, batch_wait_timeout_s=Batching.batch_wait_timeout_s)
    async def _answers(self, calls: list[Call]) -> list[Any]:
        """Answers to several visitors' questions: one forward pass per options they share (and question
        length, :func:`~mmdemo.tasks.captioning.answer_questions`)."""
        return await self._together(calls)

    async def _together(self, calls: list[Call]) -> list[Any]:
        self.batches[calls[0][0]][len(calls)] += 1
        return await run_together(calls, self.manager, self.pool)

    def _share(self, stop: threading.Event, part: Part) -> list[Any]:
        """A request's :func:`~mmdemo.runner.shared_pass`, in its thread: ``part`` handed to :meth:`_passes` in the
        replica's loop, and its results waited for; a visitor who left stops waiting (and takes the part out of a
        batch not yet run)."""
        if stop.is_set():
            raise Cancelled
        assert self.loop is not None  # (set by the request that runs this)
        future = asyncio.run_coroutine_threadsafe(self._passes(part), self.loop)
        while True:
            try:
                value = future.result(timeout=0.2)
            except concurrent.futures.TimeoutError:
                if stop.is_set():
                    future.cancel()
                    raise Cancelled from None
                continue
            if isinstance(value, Failed):
                raise value.error
            return value

    @serve.batch(max_batch_size=Batching.max_batch_size, batch_wait_timeout_s=Batching.batch_wait_timeout_s)
    async def _passes(self, parts: list[Part]) -> list[Any]:
        """Shared passes of several visitors' requests (voice windows, Whisper windows): one call of the pass per
        group of parts that may share it, at most as many items as one request may put in a pass
        (:attr:`~mmdemo.runner.Part.limit`: the task's own batch limit, which bounds its memory;
        :func:`~mmdemo.runner.run_parts`, in the pool); a part whose pass failed gets its own exception (as
        :class:`Failed`)."""
        sizes: list[tuple[str, int]] = []
        results = await asyncio.get_running_loop().run_in_executor(
            self.pool, run_parts, parts, None, lambda name, size: sizes.append((name, size))
        )
        for name, size in sizes:
            self.batches[name][size] += 1
        return [Failed(value) if isinstance(value, BaseException) else value for value in results]


async def run_together(calls: list[Call], manager: Any, pool: Executor) -> list[Any]:
    """Calls of one task (:data:`BATCHED`) in one call of its batch function (in ``pool``) per group that shares
    the :attr:`~Batched.shared` arguments. A group whose batch fails (one visitor's bad photo) runs call by call,
    so that only the bad one fails: its exception returned as :class:`Failed`, raised on its page."""
    name = calls[0][0]
    batched = BATCHED[name]
    loop = asyncio.get_running_loop()
    signature, batch = _batch_parts(name)
    results: list[Any] = [None] * len(calls)
    groups: dict[tuple[Any, ...], list[int]] = collections.defaultdict(list)
    arguments: dict[int, dict[str, Any]] = {}
    for i, (_, args, kwargs) in enumerate(calls):
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            groups[tuple(bound.arguments[key] for key in batched.shared)].append(i)
            arguments[i] = bound.arguments
        except Exception:  # arguments the task refuses, or that cannot be grouped: on its own, with its error
            results[i] = await loop.run_in_executor(pool, _alone, *calls[i], manager)
    for shared, members in groups.items():
        lists = [[arguments[i][key] for i in members] for key in batched.each]
        common = dict(zip(batched.shared, shared, strict=True))
        try:
            values = await loop.run_in_executor(pool, partial(batch, *lists, **common, manager=manager))
        except Exception:  # one visitor's bad input must not fail the others: each on its own
            values = [await loop.run_in_executor(pool, _alone, *calls[i], manager) for i in members]
        for i, value in zip(members, values, strict=True):
            results[i] = value
    return results


@functools.cache
def _batch_parts(name: str) -> tuple[inspect.Signature, Callable[..., Any]]:
    """A batched task's signature (to bind each call's arguments) and its batch function, looked up once."""
    return inspect.signature(resolve(name)), named(BATCHED[name].function)


def _alone(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], manager: Any) -> Any:
    """One call run as it runs unbatched, or the exception it raised (returned: :meth:`TaskWorker.run` raises it
    on the page)."""
    try:
        return resolve(name)(*args, manager=manager, **kwargs)
    except Exception as err:
        return Failed(err)


# --- the application --------------------------------------------------------------------------------------------

DEFAULT_OPTIONS: dict[str, Any] = {
    "num_replicas": 1,
    "max_ongoing_requests": 16,
    "ray_actor_options": {"num_cpus": 0.25},
}
"""Each deployment's options unless a config file says otherwise: one replica, a quarter of a CPU reserved (the
models use what the machine has; a cluster's config file sets real CPUs, fractional GPUs and autoscaling)."""


def deployments(settings: Settings | None = None, groups: Iterable[str] = GROUPS, **options: Any) -> dict[str, Any]:
    """The bound deployment of each group (named as the group); ``options`` override :data:`DEFAULT_OPTIONS`
    (``num_replicas=2``, ``user_config={"max_batch_size": 16}`` …)."""
    worker = serve.deployment(TaskWorker)
    return {g: worker.options(name=g, **{**DEFAULT_OPTIONS, **options}).bind(g, settings) for g in groups}


class Cluster:
    """The application's entry when the page runs elsewhere (``python app.py --ray-address``): bound to every
    deployment, it answers what they are."""

    def __init__(self, *bound: Any) -> None:
        self.groups = list(GROUPS)

    def __call__(self, *_: Any) -> list[str]:
        return self.groups


class Page:
    """The Gradio page as a deployment (``serve run mmdemo.serve:app``): it serves on its own port (7860 unless
    ``GRADIO_SERVER_PORT`` says otherwise) exactly as ``python app.py`` does, and runs every task on the
    deployments it is bound to (their handles arrive as ``bound``, in :data:`GROUPS` order)."""

    def __init__(self, settings: Settings | None, *bound: Any) -> None:
        from .launcher import start
        from .runner import use_runner
        from .runtime import configure
        from .ui.events import client_gone

        use_runner(RayRunner(handles=dict(zip(GROUPS, bound, strict=True)), stop_check=client_gone))
        settings = (settings or Settings.from_env()).replace(preload=())
        self.demo = start(configure(settings))

    def check_health(self) -> None:
        if not getattr(self.demo, "server", None):
            raise RuntimeError("the page is not serving")


def tasks_app(settings: Settings | None = None, **options: Any) -> Any:
    """The deployments alone, for a page outside the cluster (``serve deploy``; ``python app.py --ray-address``)."""
    entry = serve.deployment(Cluster).options(name="cluster", num_replicas=1, ray_actor_options={"num_cpus": 0})
    return entry.bind(*deployments(settings, **options).values())


def page_app(settings: Settings | None = None, **options: Any) -> Any:
    """The deployments and the page (``serve run mmdemo.serve:app``)."""
    entry = serve.deployment(Page).options(name="page", num_replicas=1, ray_actor_options={"num_cpus": 0})
    return entry.bind(settings, *deployments(settings, **options).values())


app = page_app()
"""``serve run mmdemo.serve:app``: the page and every deployment on a local Ray (settings from the environment)."""

tasks = tasks_app()
"""``serve run mmdemo.serve:tasks`` / the config file's import path: the deployments, for a page elsewhere."""
