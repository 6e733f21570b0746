"""Who is calling, and how often: client addresses behind trusted proxies, the per-client request
limit and the sign-in throttle.

Forwarded headers are written by whoever sent the request, so ``X-Forwarded-For`` is believed only
as far as it was written by a proxy this app trusts (``MMDEMO_TRUSTED_PROXIES``): it is read from
the right, skipping trusted hops, and the first address that is not a trusted proxy is the client.
A request whose peer is not a trusted proxy is identified by its peer address, whatever it claims.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import ipaddress
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..messages import Message, say
from ..models.progress_lines import Line
from .i18n import locale_from_header, user_error

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """``"10.0.0.0/8"``, ``"127.0.0.1"``, ``"::1"`` … → networks; raises ``ValueError`` naming a bad entry."""
    networks = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8 or 127.0.0.1)") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class AccessPolicy:
    """Trusted proxies, the request limit and the sign-in throttle of one app (:meth:`from_settings`; each app
    built in a process has its own, so two apps never share limits or counts)."""

    def __init__(self, trusted_proxies: Iterable[str] = (), rate_limit_per_minute: int = 0) -> None:
        self.trusted: tuple[Network, ...] = ()
        self.limiter = RateLimiter()
        self.logins = LoginThrottle()
        self.configure(trusted_proxies, rate_limit_per_minute)

    @classmethod
    def from_settings(cls, settings: Any) -> AccessPolicy:
        return cls(settings.trusted_proxies, settings.rate_limit_per_minute)

    def configure(self, trusted_proxies: Iterable[str], rate_limit_per_minute: int) -> None:
        self.trusted = parse_networks(list(trusted_proxies))
        self.limiter.per_minute = rate_limit_per_minute

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around ``launch()``: the web server it starts (uvicorn) trusts the same proxies as this policy. Left to
        itself, uvicorn believes ``X-Forwarded-For`` from any loopback peer, which is every visitor of a share
        link (they arrive through the local tunnel client). uvicorn reads ``FORWARDED_ALLOW_IPS`` once, when the
        server is configured, so it is set only for that moment and restored: other apps keep their own."""
        saved = os.environ.get(FORWARDED)
        os.environ[FORWARDED] = ",".join(str(net) for net in self.trusted)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(FORWARDED, None)
            else:
                os.environ[FORWARDED] = saved

    def is_trusted(self, address: str | None) -> bool:
        ip = _ip(address or "")
        return ip is not None and any(ip in net for net in self.trusted)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or (only when the peer is a trusted proxy) the rightmost
        ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
        if not peer:
            return "unknown"
        if not forwarded_for or not self.is_trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                ip = _ip(hop)
                return str(ip) if ip is not None else f"unparsed:{hop[:64]}"
        return hops[0] if hops else peer

    def client_id(self, request: Any) -> str:
        """Who is asking: the login name, else the client address (see :meth:`client_address`)."""
        if request is None:
            return "local"
        if getattr(request, "username", None):
            return f"user:{request.username}"
        headers = getattr(request, "headers", None) or {}
        client = getattr(request, "client", None)
        return self.client_address(getattr(client, "host", None), headers.get("x-forwarded-for"))


class RateLimiter:
    """At most ``per_minute`` requests per client in any sliding minute (0 = unlimited)."""

    def __init__(self, per_minute: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count a request of ``client``; raise ``gr.Error`` (nothing counted) when over the limit (keyed: the
        handler's wrapper shows it in the request's language)."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        with self._lock:
            times = self._seen[client]
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = 60 - (now - times[0])
                raise user_error(
                    Message("access.too_many_requests", limit=self.per_minute, wait=f"{wait:.0f}"),
                    Message("title.slow_down"),
                )
            times.append(now)
            if len(self._seen) > 10_000:  # forget idle clients so the table stays small
                for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - 60]:
                    del self._seen[key]


class LoginThrottle:
    """At most ``max_failures`` wrong sign-ins per client in ``window`` seconds; then sign-in waits."""

    def __init__(self, max_failures: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """0 if ``client`` may try to sign in now, else how long until it may."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0.0
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.max_failures:
                return 0.0
            return self.window - (now - times[0])

    def record(self, client: str, success: bool) -> None:
        with self._lock:
            if success:
                self._failures.pop(client, None)
                return
            self._failures[client].append(self._clock())
            if len(self._failures) > 10_000:
                now = self._clock()
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]

    def sign_in_message(self) -> Line:
        """What the sign-in page says about the throttle: English text, shown in the visitor's language by an app
        that renders it per request (:mod:`mmdemo.ui.app`)."""
        return Line(Message("access.sign_in", count=self.max_failures, minutes=f"{self.window / 60:g}"))

    def message(self, wait: float, locale: str = "en") -> str:
        """The refusal of a sign-in that must wait ``wait`` seconds, in ``locale``."""
        return say(
            "access.sign_in_wait",
            locale,
            wait=f"{max(wait, 1):.0f}",
            count=self.max_failures,
            minutes=f"{self.window / 60:g}",
        )


page_locale: contextvars.ContextVar[str] = contextvars.ContextVar("mmdemo_page_locale", default="en")
"""The language of the HTTP request being answered (its ``Accept-Language``; set by :class:`PageLanguageMiddleware`):
what the server writes into a page it serves, such as the sign-in page's message, is rendered in it."""


class PageLanguageMiddleware:
    """ASGI middleware: notes each HTTP request's language in :data:`page_locale` while it is answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", []) if k.lower() == b"accept-language"), b"")
        token = page_locale.set(locale_from_header(header.decode("latin-1")))
        try:
            await self.app(scope, receive, send)
        finally:
            page_locale.reset(token)


FORWARDED = "FORWARDED_ALLOW_IPS"
"""The variable uvicorn reads its trusted proxies from."""
UNLIMITED = AccessPolicy()
"""The policy of handlers wrapped outside an app (library use, tests): no limit, no proxies."""


def policy_of(blocks: Any) -> AccessPolicy:
    """The policy of the app ``blocks`` (set by ``build_app``), else :data:`UNLIMITED`."""
    policy = getattr(blocks, "access_policy", None)
    return policy if isinstance(policy, AccessPolicy) else UNLIMITED


def building_policy() -> AccessPolicy:
    """The policy of the app being built (the ``gr.Blocks`` whose ``with`` block is open)."""
    from gradio.context import Context

    return policy_of(Context.root_block)


class LoginThrottleMiddleware:
    """ASGI middleware in front of Gradio's ``POST /login``: refuses (429, with a message) a client that
    failed too often, and counts each answer (200 = signed in; anything else = a failure)."""

    def __init__(self, app: Any, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not scope.get("path", "").rstrip("/").endswith("/login")
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or (None,))[0]
        client = self.policy.client_address(peer, headers.get("x-forwarded-for"))
        throttle = self.policy.logins
        wait = throttle.wait_seconds(client)
        if wait > 0:
            locale = locale_from_header(headers.get("accept-language"))  # the sign-in page's language
            body = json.dumps({"detail": throttle.message(wait, locale)}, ensure_ascii=False).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", str(max(int(wait), 1)).encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                throttle.record(client, success=message["status"] == 200)
            await send(message)

        await self.app(scope, receive, watch)


LOGIN_HINT_JS = """
<script>
(() => {
  const original = window.fetch;
  window.fetch = async (...args) => {
    const response = await original(...args);
    const url = String(args[0] && args[0].url ? args[0].url : args[0]);
    if (response.status === 429 && /\\/login\\/?$/.test(url)) {
      response.clone().json().then((body) => {
        if (!body.detail) return;
        let box = document.getElementById("mmdemo-login-throttle");
        if (!box) {
          box = document.createElement("p");
          box.id = "mmdemo-login-throttle";
          box.setAttribute("role", "alert");
          box.style.cssText = "color:#b91c1c;font-weight:600;text-align:center;margin:8px";
          (document.querySelector("form") || document.querySelector(".wrap") || document.body).prepend(box);
        }
        box.textContent = body.detail;
      }).catch(() => {});
    }
    return response;
  };
})();
</script>
"""
"""Gradio's sign-in page shows nothing for a 429; this shows the throttle's message above the form (the 429 of
:class:`LoginThrottleMiddleware` carries it, in the sign-in page's language; nothing else answers ``/login``
with a 429, so there is no sentence of its own to fall back on)."""
