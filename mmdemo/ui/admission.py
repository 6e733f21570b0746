"""What one client may hold of a shared app at once: jobs in the queue, upload bytes a minute, text-to-image work
an hour. Each budget is checked when the client asks, not when the work runs, so one client cannot fill the
queue, the disk or the image lane for everyone else.

* **Jobs** (:func:`too_many_jobs`): Gradio's queue takes at most ``max_queue`` requests for the whole app. A job
  a client asks for (``POST /gradio_api/queue/join`` from the page, ``/gradio_api/call/<name>`` from API clients:
  :class:`JobAdmissionMiddleware`; an MCP tool call: :mod:`mmdemo.ui.mcp`) is refused, with a sentence, when that
  client already has ``max_jobs_per_client`` jobs waiting or running, page, API and MCP together. The count is
  read from Gradio's queue itself (its waiting and running events, each with the request that submitted it), plus
  submissions still being accepted, plus MCP calls being answered, so nothing can leak: a job counts until Gradio
  drops it (finished, failed, cancelled, or its client gone), an MCP call until it is answered or its client gone
  (its job, which the MCP server submits through its loopback client, is not counted again).
* **Uploads** (:class:`UploadBudgetMiddleware`): ``POST /gradio_api/upload`` bodies count against
  ``upload_bytes_per_minute`` per client (a sliding minute). An upload whose declared length does not fit is refused
  before it is read; one that exceeds the budget while it streams is cut off and refused (Gradio writes nothing of
  it to its cache).
* **Text-to-image work** (:class:`WorkLedger`): a request's work (:class:`~mmdemo.tasks.text_to_image.Work`, in
  megapixel-steps) is charged to its client before denoising (:func:`work_charge`), at most
  ``t2i_client_megapixel_steps_per_hour`` in any sliding hour.

A client is who :class:`~mmdemo.ui.access.AccessPolicy` says it is: the login name, else the address (behind
trusted proxies only, the forwarded one). Refusals are in the language of the request's ``Accept-Language``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BudgetError, InputError
from ..messages import Message, say
from ..settings import Settings
from .access import UNLIMITED, AccessPolicy, from_mcp_loopback, policy_of
from .i18n import locale_of_headers

JOIN_PATH = re.compile(r"/(queue/join|call/(v2/)?[^/]+)/?$")
"""The routes that put a job in Gradio's queue (POST): the page's ``queue/join``, the API's ``call/<name>``."""
UPLOAD_PATH = re.compile(r"/upload/?$")


class SlidingTotals:
    """Amounts per client in a sliding window of ``window`` seconds (bytes a minute, work an hour)."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._seen: dict[str, collections.deque[tuple[float, float]]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _expire(self, client: str, now: float) -> collections.deque[tuple[float, float]]:
        items = self._seen[client]
        while items and items[0][0] <= now - self.window:
            items.popleft()
        return items

    def used(self, client: str) -> float:
        with self._lock:
            return sum(amount for _, amount in self._expire(client, self._clock()))

    def wait(self, client: str, amount: float, limit: float) -> float:
        """Seconds until ``amount`` more fits in ``limit`` (0: it fits now; the window if it never will)."""
        with self._lock:
            items = self._expire(client, now := self._clock())
            over = sum(a for _, a in items) + amount - limit
            if over <= 0:
                return 0.0
            if amount > limit:
                return self.window
            for at, a in items:
                over -= a
                if over <= 0:
                    return max(at + self.window - now, 0.0)
            return self.window

    def add(self, client: str, amount: float) -> None:
        with self._lock:
            now = self._clock()
            self._expire(client, now).append((now, amount))
            if len(self._seen) > 10_000:  # forget idle clients so the table stays small
                for key in [k for k, v in self._seen.items() if not v or v[-1][0] <= now - self.window]:
                    del self._seen[key]

    def take(self, client: str, amount: float, limit: float) -> float:
        """Add ``amount`` if it fits in ``limit``; else nothing, and the seconds until it would fit."""
        with self._lock:
            items = self._expire(client, now := self._clock())
            if sum(a for _, a in items) + amount <= limit:
                items.append((now, amount))
                return 0.0
        return max(self.wait(client, amount, limit), 1.0)


@dataclass
class Admission:
    """The per-client budgets of one app (:meth:`from_settings`; kept on its Blocks as ``admission``)."""

    max_jobs: int = 0
    """Requests one client may have waiting or running at once (0 = no limit)."""
    upload_bytes_per_minute: int = 0
    work_per_hour: float = 0.0
    """Text-to-image megapixel-steps one client may use in any sliding hour (0 = no limit)."""
    uploads: SlidingTotals = field(default_factory=lambda: SlidingTotals(60.0))
    work: SlidingTotals = field(default_factory=lambda: SlidingTotals(3600.0))
    joining: collections.Counter[str] = field(default_factory=collections.Counter)
    """Submissions being accepted right now, per client (not yet in Gradio's queue)."""
    mcp_calls: collections.Counter[str] = field(default_factory=collections.Counter)
    """MCP tool calls being answered right now, per client (each one job, whatever stage it is in)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls(
            max_jobs=settings.max_jobs_per_client,
            upload_bytes_per_minute=settings.upload_bytes_per_minute,
            work_per_hour=settings.t2i_client_megapixel_steps_per_hour,
        )

    def upload_wait(self, client: str, size: float) -> float:
        """Seconds until ``size`` more bytes from ``client`` fit in its upload budget (0: they fit now)."""
        limit = self.upload_bytes_per_minute
        return self.uploads.wait(client, size, limit) if limit > 0 else 0.0

    def upload_message(self, wait: float) -> Message:
        """The refusal of an upload over the budget, which fits in ``wait`` seconds."""
        limit = f"{self.upload_bytes_per_minute / 2**20:g}"
        return Message("access.too_many_uploads", limit=limit, wait=f"{max(wait, 1.0):.0f}")

    def charge_upload(self, client: str, size: float) -> None:
        """Charge ``size`` bytes stored for ``client`` otherwise than through Gradio's upload route (an MCP
        ``data:`` URL); :class:`~mmdemo.errors.InputError` when they do not fit (nothing charged)."""
        if self.upload_bytes_per_minute > 0 and (wait := self.uploads.take(client, size, self.upload_bytes_per_minute)):
            raise InputError(self.upload_message(wait))

    def charge_work(self, client: str, amount: float) -> None:
        """Charge ``amount`` megapixel-steps to ``client``; :class:`~mmdemo.errors.BudgetError` when over budget."""
        if self.work_per_hour <= 0:
            return
        wait = self.work.take(client, amount, self.work_per_hour)
        if wait > 0:
            left = max(self.work_per_hour - self.work.used(client), 0.0)
            raise BudgetError(
                Message(
                    "t2i.client_budget",
                    work=f"{amount:.3g}",
                    left=f"{left:.3g}",
                    limit=f"{self.work_per_hour:g}",
                    wait=f"{max(wait / 60, 1):.0f}",
                )
            )


UNLIMITED_ADMISSION = Admission()
"""The budgets outside an app (library use, tests): none."""


def admission_of(blocks: Any) -> Admission:
    """The budgets of the app ``blocks`` (set by ``build_app``), else :data:`UNLIMITED_ADMISSION`."""
    admission = getattr(blocks, "admission", None)
    return admission if isinstance(admission, Admission) else UNLIMITED_ADMISSION


def work_charge() -> Callable[[float], None] | None:
    """For the request being handled (Gradio's context): a function that charges text-to-image work to its client
    (:meth:`Admission.charge_work`), or None outside a request or without a per-client budget."""
    from gradio.context import LocalContext

    blocks = LocalContext.blocks.get(None)
    admission = admission_of(blocks)
    if blocks is None or admission.work_per_hour <= 0:
        return None
    client = policy_of(blocks).client_id(LocalContext.request.get(None))
    return lambda amount: admission.charge_work(client, amount)


# --- who is asking, from the ASGI scope and from Gradio's queued events ----------------------------------------


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def scope_client(scope: dict[str, Any], policy: AccessPolicy, headers: Mapping[str, str] | None = None) -> str:
    """The client of an HTTP request as :meth:`AccessPolicy.client_id` names it: ``user:<name>`` for a signed-in
    visitor (Gradio's access-token cookie), else its address. ``headers``: the scope's, when the caller has them."""
    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if tokens and cookie_id:
        from starlette.requests import Request

        cookies = Request(scope).cookies
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        user = tokens.get(token) if token else None
        if user:
            return f"user:{user}"
    peer = (scope.get("client") or (None,))[0]
    return policy.client_address(peer, (_headers(scope) if headers is None else headers).get("x-forwarded-for"))


def _event_origin(event: Any) -> tuple[str | None, str | None]:
    """(peer, ``X-Forwarded-For``) of the request that submitted one of Gradio's queued events."""
    request = getattr(event, "request", None)
    headers = getattr(request, "headers", None) or {}
    return getattr(getattr(request, "client", None), "host", None), headers.get("x-forwarded-for")


def event_client(event: Any, policy: AccessPolicy, origin: tuple[str | None, str | None] | None = None) -> str:
    """The client that submitted one of Gradio's queued events (``queueing.Event``); ``origin``: its
    :func:`_event_origin`, when the caller has it."""
    if getattr(event, "username", None):
        return f"user:{event.username}"
    return policy.client_address(*(origin or _event_origin(event)))


def queued_jobs(queue: Any, client: str, policy: AccessPolicy) -> int:
    """How many of Gradio's queued or running events (``blocks._queue``) ``client`` submitted, not counting those
    of its MCP calls (counted as :attr:`Admission.mcp_calls`)."""
    if queue is None:
        return 0
    events = [e for q in list(getattr(queue, "event_queue_per_concurrency_id", {}).values()) for e in list(q.queue)]
    events += [e for job in list(getattr(queue, "active_jobs", []) or []) if job for e in list(job)]
    origins = [(e, _event_origin(e)) for e in events]
    return sum(1 for e, o in origins if not from_mcp_loopback(*o) and event_client(e, policy, o) == client)


def too_many_jobs(blocks: Any, client: str, policy: AccessPolicy, headers: Mapping[str, str]) -> str | None:
    """Why ``client`` may not have one more job in the app ``blocks`` (the sentence, in the language of the request
    with ``headers``), or None when it may: its jobs waiting or running, page, API and MCP together, are fewer than
    ``max_jobs_per_client``. Check and :func:`holding` with no ``await`` between them, so that two requests cannot
    both take the last slot."""
    admission = admission_of(blocks)
    if admission.max_jobs <= 0:
        return None
    queued = queued_jobs(getattr(blocks, "_queue", None), client, policy)
    count = queued + admission.joining[client] + admission.mcp_calls[client]
    if count < admission.max_jobs:
        return None
    return say("access.too_many_jobs", locale_of_headers(headers), count=count, limit=admission.max_jobs)


@contextlib.contextmanager
def holding(counter: collections.Counter[str], client: str) -> Iterator[None]:
    """One more of ``client``'s jobs in ``counter`` (:attr:`Admission.joining`, :attr:`Admission.mcp_calls`) while
    the block runs."""
    counter[client] += 1
    try:
        yield
    finally:
        counter[client] -= 1
        if counter[client] <= 0:
            del counter[client]


async def _refuse(send: Any, status: int, detail: str, retry_after: float | None = None) -> None:
    body = json.dumps({"detail": detail, "error": detail}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(int(retry_after), 1)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class JobAdmissionMiddleware:
    """ASGI middleware in front of the routes that queue a job: at most ``admission.max_jobs`` per client waiting or
    running (:func:`too_many_jobs`); a refusal is a 429 whose ``detail`` the page shows as the request's error. The
    MCP server's own submissions pass: their calls were admitted, and are counted, when they came in."""

    def __init__(self, app: Any, blocks: Any, policy: AccessPolicy = UNLIMITED) -> None:
        self.app = app
        self.blocks = blocks
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        admission = admission_of(self.blocks)
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or admission.max_jobs <= 0
            or not JOIN_PATH.search(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if from_mcp_loopback((scope.get("client") or (None,))[0], headers.get("x-forwarded-for")):
            await self.app(scope, receive, send)
            return
        client = scope_client(scope, self.policy, headers)
        refusal = too_many_jobs(self.blocks, client, self.policy, headers)
        if refusal is not None:
            await _refuse(send, 429, refusal, retry_after=5)
            return
        with holding(admission.joining, client):
            await self.app(scope, receive, send)


class _OverBudget(Exception):
    pass


class UploadBudgetMiddleware:
    """ASGI middleware in front of Gradio's upload route: at most ``admission.upload_bytes_per_minute`` bytes per
    client in any sliding minute (see the module doc); a refusal is a 429 with a sentence."""

    def __init__(self, app: Any, blocks: Any, policy: AccessPolicy = UNLIMITED) -> None:
        self.app = app
        self.blocks = blocks
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        admission = admission_of(self.blocks)
        limit = admission.upload_bytes_per_minute
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or limit <= 0
            or not UPLOAD_PATH.search(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        client = scope_client(scope, self.policy, headers)
        uploads = admission.uploads

        def refusal(amount: float) -> tuple[str, float]:
            wait = max(admission.upload_wait(client, amount), 1.0)
            return admission.upload_message(wait).text(locale_of_headers(headers)), wait

        declared = headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else 1
        if admission.upload_wait(client, size) > 0:
            await _refuse(send, 429, *refusal(size))
            return

        async def counted() -> dict[str, Any]:
            message = await receive()
            if message.get("type") == "http.request":
                amount = len(message.get("body", b""))
                uploads.add(client, amount)
                if uploads.used(client) > limit:
                    raise _OverBudget
            return message

        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _OverBudget:
            if not started:
                await _refuse(send, 429, *refusal(0))
        except Exception as err:  # Gradio wraps what the body stream raised
            if not started and isinstance(err.__cause__ or err.__context__, _OverBudget):
                await _refuse(send, 429, *refusal(0))
            else:
                raise
