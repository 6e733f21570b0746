"""Who is calling, and how often: client addresses behind trusted proxies, the per-client request
limit, the sign-in throttle, and how API and MCP clients sign in (:class:`LoginThrottleMiddleware`).

Forwarded headers are written by whoever sent the request, so ``X-Forwarded-For`` is believed only
as far as it was written by a proxy this app trusts (``MMDEMO_TRUSTED_PROXIES``): it is read from
the right, skipping trusted hops, and the first address that is not a trusted proxy is the client.
A request whose peer is not a trusted proxy is identified by its peer address, whatever it claims. Every visitor
of a share link arrives from the tunnel's loopback address, so a "client" may be many people: the sign-in throttle
(:class:`LoginThrottle`) counts wrong passwords per client and user name first, and never locks an address out.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import ipaddress
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..messages import Message, say
from ..models.progress_lines import Line
from .i18n import locale_of_headers, user_error

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
        self._sessions: dict[str, str] = {}
        self._sessions_lock = threading.Lock()
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

    def session_token(self, server: Any, username: str) -> str:
        """A sign-in token of ``username`` in Gradio's app ``server`` (``server.tokens``, as ``POST /login`` makes
        one), for requests signed in with a password header: one per user name, made once and kept."""
        with self._sessions_lock:
            token = self._sessions.get(username)
            if token is None or server.tokens.get(token) != username:  # new, or signed out since
                token = self._sessions[username] = secrets.token_urlsafe(32)
                server.tokens[token] = username
            return token

    def is_trusted(self, address: str | None) -> bool:
        ip = _ip(address or "")
        return ip is not None and any(ip in net for net in self.trusted)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or (only when the peer is a trusted proxy) the rightmost
        ``X-Forwarded-For`` entry that is not itself a trusted proxy. A call of the app's own MCP server (its
        loopback client, :func:`loopback_forwarded`) is its MCP caller's."""
        hops = _hops(forwarded_for)
        if len(hops) >= 2 and _marked_loopback(peer, hops):
            return hops[-2][:128]
        if not peer:
            return "unknown"
        if not forwarded_for or not self.is_trusted(peer):
            return peer
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


LOOPBACK_MARK = f"mmdemo-mcp-{secrets.token_urlsafe(24)}"
"""The last ``X-Forwarded-For`` hop of a call the app's MCP server makes for an MCP client through its loopback
client; only this process knows it (a visitor arriving from the loopback address, as every visitor of a share link
does, cannot claim another address with it)."""


def loopback_forwarded(client: str) -> str:
    """The ``X-Forwarded-For`` a loopback call on behalf of ``client`` (an MCP caller's address, as
    :meth:`AccessPolicy.client_address` named it) carries: the per-client limits then count the caller's calls,
    not the loopback address's."""
    return f"{client}, {LOOPBACK_MARK}"


def from_mcp_loopback(peer: str | None, forwarded_for: str | None) -> bool:
    """Whether a request is one the app's MCP server makes for an MCP caller through its loopback client (it carries
    :func:`loopback_forwarded`'s mark and comes from this machine)."""
    return _marked_loopback(peer, _hops(forwarded_for))


def _hops(forwarded_for: str | None) -> list[str]:
    """The ``X-Forwarded-For`` entries, first (the original client, as claimed) to last (the nearest proxy)."""
    return [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]


def _marked_loopback(peer: str | None, hops: list[str]) -> bool:
    return bool(hops) and hops[-1] == LOOPBACK_MARK and (peer == LOOPBACK_MARK or _is_loopback(peer))


def _is_loopback(address: str | None) -> bool:
    ip = _ip(address or "")
    return ip is not None and ip.is_loopback


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


@dataclasses.dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


def _count(table: dict[Any, _Failures], key: Any, now: float, forget: float) -> None:
    failures = table.get(key)
    if failures is None or now - failures.last >= forget:
        failures = table[key] = _Failures()
    failures.count += 1
    failures.last = now


def _prune(table: dict[Any, _Failures], now: float, forget: float) -> None:
    for key in [k for k, v in table.items() if now - v.last >= forget]:
        del table[key]


class LoginThrottle:
    """Wrong sign-ins, counted per (client, user name) and per client, each with its own backoff; no lockout of
    everyone: a client behind a share link is every visitor of that link (they all arrive through the tunnel's
    loopback address), so one client's failures may slow that address down, never lock it out.

    * per (client, user name): ``pair_free`` wrong passwords, then each further try waits twice as long as the
      last (1 s, 2 s, 4 s …, at most ``pair_cap`` seconds). A correct password for that name from that client
      clears this count, and only this one;
    * per client, all names together: ``client_free`` wrong passwords, then the same doubling, at most
      ``client_cap`` seconds (guessing across many names). Nobody's correct sign-in clears it;
    * a count is forgotten ``forget`` seconds after its last wrong password.
    """

    def __init__(
        self,
        pair_free: int = 5,
        client_free: int = 20,
        pair_cap: float = 300.0,
        client_cap: float = 60.0,
        forget: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pair_free = pair_free
        self.client_free = client_free
        self.pair_cap = pair_cap
        self.client_cap = client_cap
        self.forget = forget
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Failures] = {}
        self._clients: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _name(username: str) -> str:
        return username.strip()[:256]  # as Gradio compares it (stripped); a long name is still one key

    def _wait(self, failures: _Failures | None, free: int, cap: float, now: float) -> float:
        if failures is None or failures.count < free or now - failures.last >= self.forget:
            return 0.0
        return max(0.0, failures.last + min(2.0 ** min(failures.count - free, 30), cap) - now)

    def _wait_now(self, client: str, username: str, now: float) -> float:
        return max(
            self._wait(self._pairs.get((client, self._name(username))), self.pair_free, self.pair_cap, now),
            self._wait(self._clients.get(client), self.client_free, self.client_cap, now),
        )

    def wait_seconds(self, client: str, username: str) -> float:
        """0 if ``client`` may try to sign in as ``username`` now, else how long until it may."""
        now = self._clock()
        with self._lock:
            return self._wait_now(client, username, now)

    def begin(self, client: str, username: str) -> float:
        """A sign-in of ``client`` as ``username`` about to be checked: 0, the try counted as wrong until
        :meth:`settle` says otherwise; or how long the client must wait (nothing counted). Checked and counted at
        once: tries sent together would otherwise all pass the check before the first answer was counted."""
        now = self._clock()
        with self._lock:
            wait = self._wait_now(client, username, now)
            if wait <= 0:
                self._count_wrong(client, username, now)
            return wait

    def settle(self, client: str, username: str, success: bool) -> None:
        """The answer to a try :meth:`begin` counted: a correct password takes that try back from the client's count
        and clears the count of that name from that client (as :meth:`record` does); a wrong one stays counted."""
        if not success:
            return
        with self._lock:
            self._pairs.pop((client, self._name(username)), None)
            failures = self._clients.get(client)
            if failures is not None:
                failures.count = max(failures.count - 1, 0)

    def record(self, client: str, username: str, success: bool) -> None:
        """Count one sign-in of ``client`` as ``username``: a wrong one adds to both counts; a correct one clears
        the count of that name from that client only."""
        now = self._clock()
        with self._lock:
            if success:
                self._pairs.pop((client, self._name(username)), None)
                return
            self._count_wrong(client, username, now)

    def _count_wrong(self, client: str, username: str, now: float) -> None:
        _count(self._pairs, (client, self._name(username)), now, self.forget)
        _count(self._clients, client, now, self.forget)
        if len(self._pairs) + len(self._clients) > 20_000:  # forget idle counts so the tables stay small
            _prune(self._pairs, now, self.forget)
            _prune(self._clients, now, self.forget)

    def sign_in_message(self) -> Line:
        """What the sign-in page says about the throttle: English text, shown in the visitor's language by an app
        that renders it per request (:mod:`mmdemo.ui.app`)."""
        return Line(Message("access.sign_in", count=self.pair_free, minutes=f"{self.pair_cap / 60:g}"))

    def message(self, wait: float, locale: str = "en") -> str:
        """The refusal of a sign-in that must wait ``wait`` seconds, in ``locale``."""
        return say(
            "access.sign_in_wait",
            locale,
            wait=f"{max(wait, 1):.0f}",
            count=self.pair_free,
            minutes=f"{self.pair_cap / 60:g}",
        )


_page_headers: contextvars.ContextVar[list[tuple[bytes, bytes]]] = contextvars.ContextVar("mmdemo_page_headers")
"""The headers of the HTTP request being answered (set by :class:`PageLanguageMiddleware`)."""


def page_locale() -> str:
    """The language of the HTTP request being answered (:func:`~.i18n.locale_of_headers`: the page's own choice,
    else its ``Accept-Language``; English outside a request): what the server writes into a page it serves, such as
    the sign-in page's message, is rendered in it."""
    raw = _page_headers.get([])
    return locale_of_headers({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw})


class PageLanguageMiddleware:
    """ASGI middleware: keeps each HTTP request's headers for :func:`page_locale` while it is answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        token = _page_headers.set(scope.get("headers", []))
        try:
            await self.app(scope, receive, send)
        finally:
            _page_headers.reset(token)


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


MAX_SIGN_IN_BODY = 64 * 1024
"""Bytes at most of a ``POST /login`` body (a user name and a password): the throttle reads the name from it."""
_MCP_PATH = re.compile(r"/gradio_api/mcp(?:/|$)")


class LoginThrottleMiddleware:
    """ASGI middleware for sign-in (an app with ``--auth``), in front of Gradio:

    * ``POST /login``: refused (429, with a message) while :class:`LoginThrottle` holds that client and user name
      back; each answer is counted (200 = signed in; anything else = a wrong password);
    * ``Authorization: Basic <base64 of USER:PASSWORD>`` (an account of the app, checked by the same throttle) or
      ``Authorization: Bearer <token of a sign-in>`` (the value of the ``access-token`` cookie ``POST /login``
      sets): the request goes on with that sign-in's cookie, so an MCP or API client signs in with one header
      (the file URLs an MCP answer gives work with it too); a wrong password is refused (401);
    * the MCP server (``/gradio_api/mcp…``): refused (401, with a sentence) without a valid sign-in, before Gradio
      reads the call (a ``data:`` URL it holds included).
    """

    def __init__(self, app: Any, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = re.sub(r"/+", "/", scope.get("path", "")).lower()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        peer = (scope.get("client") or (None,))[0]
        client = self.policy.client_address(peer, headers.get("x-forwarded-for"))
        locale = locale_of_headers(headers)
        if scope.get("method") == "POST" and path.rstrip("/").endswith("/login"):
            await self._sign_in(scope, receive, send, client, locale)
            return
        server = scope.get("app")
        if getattr(server, "auth", None) is None:  # no sign-in required
            await self.app(scope, receive, send)
            return
        mcp = bool(_MCP_PATH.search(path))
        scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
        user: str | None = None
        if scheme.lower() == "basic":
            username, password = _basic(credentials)
            wait = self.policy.logins.begin(client, username)
            if wait > 0:
                await _refuse(send, 429, self.policy.logins.message(wait, locale), wait)
                return
            ok = await _password_ok(server, username, password)
            self.policy.logins.settle(client, username, success=ok)
            if not ok:
                await _refuse(send, 401, say("access.wrong_password", locale))
                return
            user = username.strip()
            token = self.policy.session_token(server, user)
        elif scheme.lower() == "bearer" and server.tokens.get(credentials.strip()) is not None:
            token = credentials.strip()
            user = server.tokens[token]
        else:
            token = _cookie_token(server, headers.get("cookie", ""))
            user = server.tokens.get(token) if token else None
        if user is None and mcp:
            await _refuse(send, 401, say("mcp.sign_in_required", locale))
            return
        if user is None or scheme.lower() not in ("basic", "bearer"):
            await self.app(scope, receive, send)  # as it came (Gradio refuses what needs a sign-in)
            return
        cookie = f"access-token-unsecure-{server.cookie_id}={token}".encode("latin-1")
        scope = dict(scope)
        scope["headers"] = [
            (k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"authorization", b"cookie")
        ] + [(b"cookie", cookie)]
        await self.app(scope, receive, send)

    async def _sign_in(self, scope: dict[str, Any], receive: Any, send: Any, client: str, locale: str) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            body += message.get("body", b"")
            if len(body) > MAX_SIGN_IN_BODY:
                await _refuse(send, 413, say("access.wrong_password", locale))
                return
            if not message.get("more_body"):
                break
        username = await _form_username(scope, body)
        throttle = self.policy.logins
        wait = throttle.begin(client, username)
        if wait > 0:
            await _refuse(send, 429, throttle.message(wait, locale), wait)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                throttle.settle(client, username, success=message["status"] == 200)
            await send(message)

        await self.app(scope, replay, watch)


async def _form_username(scope: dict[str, Any], body: bytes) -> str:
    """The ``username`` field of a sign-in form (URL-encoded or multipart, as Gradio's page sends it); ``""``."""
    from starlette.requests import Request

    async def once() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form()
        value = form.get("username")
        await form.close()
    except Exception:  # not a form: Gradio refuses it; counted under the empty name
        return ""
    return value.strip() if isinstance(value, str) else ""


def _basic(credentials: str) -> tuple[str, str]:
    """USER, PASSWORD of ``Authorization: Basic`` credentials; ``("", "")`` when they are not that."""
    import base64
    import binascii

    try:
        text = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "", ""
    username, _, password = text.partition(":")
    return username, password


async def _password_ok(server: Any, username: str, password: str) -> bool:
    """Whether ``username``/``password`` is an account of the app, checked as Gradio's ``POST /login`` checks it."""
    import inspect

    from gradio.route_utils import compare_passwords_securely

    auth = server.auth
    username = username.strip()
    if not username or not password:
        return False
    if callable(auth):
        result = auth(username, password)
        return bool(await result if inspect.isawaitable(result) else result)
    return username in auth and compare_passwords_securely(password, auth[username])


def _cookie_token(server: Any, cookie_header: str) -> str | None:
    """The sign-in token of Gradio's ``access-token`` cookie (either form) in ``cookie_header``."""
    from starlette.requests import cookie_parser

    cookies = cookie_parser(cookie_header)
    return cookies.get(f"access-token-{server.cookie_id}") or cookies.get(f"access-token-unsecure-{server.cookie_id}")


async def _refuse(send: Any, status: int, detail: str, wait: float | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if wait is not None:
        headers.append((b"retry-after", str(max(int(wait), 1)).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b'Basic realm="mmdemo", charset="UTF-8"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
