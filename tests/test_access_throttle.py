"""The sign-in throttle (:class:`mmdemo.ui.access.LoginThrottle`) and the middleware in front of ``POST /login``
and the MCP server (:class:`mmdemo.ui.access.LoginThrottleMiddleware`): wrong passwords are counted per (client,
user name) and per client, each with a doubling wait, never cleared by someone else's sign-in, and nobody who shares
an address (every visitor of a share link) is locked out by another's failures. Driven through the ASGI interface
with a fake Gradio app; tests/test_e2e_mcp.py signs in against the real one."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from mmdemo.ui.access import AccessPolicy, LoginThrottle, LoginThrottleMiddleware

# --- the throttle ------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wrong(throttle: LoginThrottle, client: str, user: str, times: int = 1) -> None:
    for _ in range(times):
        throttle.record(client, user, success=False)


def test_a_users_wrong_passwords_make_each_further_try_wait_twice_as_long() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    assert (throttle.pair_free, throttle.pair_cap, throttle.client_free, throttle.client_cap, throttle.forget) == (
        5,
        300.0,
        20,
        60.0,
        900.0,
    )
    waits = []
    for _ in range(12):
        waits.append(throttle.wait_seconds("1.2.3.4", "ann"))
        clock.now += waits[-1]
        wrong(throttle, "1.2.3.4", "ann")
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64]
    wrong(throttle, "1.2.3.4", "ann", 10)
    assert throttle.wait_seconds("1.2.3.4", "ann") == 300  # at most 5 minutes, however many
    wrong(throttle, "1.2.3.4", "ann", 5000)
    assert throttle.wait_seconds("1.2.3.4", "ann") == 300  # no overflow
    clock.now += 900
    assert throttle.wait_seconds("1.2.3.4", "ann") == 0  # forgotten 15 minutes after the last wrong password
    wrong(throttle, "1.2.3.4", "ann")
    assert throttle.wait_seconds("1.2.3.4", "ann") == 0  # counting from 1 again


def test_someone_elses_sign_in_clears_nothing() -> None:
    """The bypass of issue 26 (#4): with two accounts, a correct sign-in of one cleared the failures of the other, so
    40 guesses at another user's password never waited."""
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    waits = []
    for _ in range(40):
        waits.append(throttle.wait_seconds("6.6.6.6", "victim"))
        wrong(throttle, "6.6.6.6", "victim")
        throttle.record("6.6.6.6", "mallory", success=True)  # the attacker's own account, between guesses
    assert waits[:5] == [0] * 5 and all(w > 0 for w in waits[5:])
    assert throttle.wait_seconds("6.6.6.6", "victim") == 300
    throttle.record("6.6.6.6", "victim", success=True)  # a correct password clears its own name's count only:
    assert throttle.wait_seconds("6.6.6.6", "victim") == 60  # the address's own count (40 wrong) stays


def test_one_visitors_wrong_passwords_do_not_lock_out_the_others_on_the_same_address() -> None:
    """Issue 26 (#13): every visitor of a share link has the tunnel's loopback address; five wrong passwords of one
    of them locked all of them out for 5 minutes, renewable forever."""
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    wrong(throttle, "127.0.0.1", "ann", 12)
    assert throttle.wait_seconds("127.0.0.1", "ann") > 60  # ann waits …
    assert throttle.wait_seconds("127.0.0.1", "bob") == 0  # … bob, on the same address, does not
    assert throttle.wait_seconds("10.0.0.1", "ann") == 0  # nor does ann from another address
    wrong(throttle, "127.0.0.1", "guess", 9)  # 21 wrong from the address: it waits, briefly
    assert throttle.wait_seconds("127.0.0.1", "bob") == pytest.approx(2)
    wrong(throttle, "127.0.0.1", "guess", 100)
    assert throttle.wait_seconds("127.0.0.1", "bob") == 60  # at most a minute, never a lockout
    clock.now += 60
    assert throttle.wait_seconds("127.0.0.1", "bob") == 0


def test_the_user_name_is_counted_as_gradio_compares_it() -> None:
    throttle = LoginThrottle(clock=Clock())
    wrong(throttle, "c", " ann ", 6)
    assert throttle.wait_seconds("c", "ann") > 0


# --- the middleware ------------------------------------------------------------------------------------------------


class FakeGradio:
    """Gradio's app as the middleware sees it: ``auth``, ``tokens``, ``cookie_id``; answers 200 to a right
    password on ``/login`` (400 otherwise), and echoes the cookie any other request arrives with."""

    def __init__(self, accounts: dict[str, str] | None) -> None:
        self.auth = accounts
        self.tokens: dict[str, str] = {}
        self.cookie_id = "cid"
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append({"path": scope["path"], "headers": headers, "body": body})
        if scope["path"] == "/login":
            from urllib.parse import parse_qs

            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if body.startswith(b"--"):  # multipart
                parts = body.decode().split("\r\n")
                form = {
                    parts[i].split('name="')[1].rstrip('"'): parts[i + 2]
                    for i in range(len(parts))
                    if 'name="' in parts[i]
                }
            status = (
                200 if self.auth and self.auth.get(form.get("username", "").strip()) == form.get("password") else 400
            )
        else:
            status = 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(headers).encode()})


def request(
    middleware: LoginThrottleMiddleware,
    gradio: FakeGradio,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    peer: str = "9.9.9.9",
) -> tuple[int, dict[str, str], Any]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "client": (peer, 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "app": gradio,
    }
    chunks = [body[i : i + 10] for i in range(0, len(body), 10)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(payload or b"null")


def sign_in(
    middleware: LoginThrottleMiddleware,
    gradio: FakeGradio,
    user: str,
    password: str,
    headers: dict[str, str] | None = None,
    peer: str = "9.9.9.9",
) -> int:
    body = f"username={user}&password={password}".encode()
    headers = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return request(middleware, gradio, "/login", method="POST", body=body, headers=headers, peer=peer)[0]


def test_sign_in_with_two_accounts_cannot_reset_the_count_of_a_third() -> None:
    gradio = FakeGradio({"mallory": "mine", "victim": "secret"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    statuses = []
    for guess in range(40):
        statuses.append(sign_in(middleware, gradio, "victim", f"guess{guess}"))
        sign_in(middleware, gradio, "mallory", "mine")
    assert statuses[:5] == [400] * 5 and statuses[5] == 429 and statuses.count(429) >= 30


def test_one_visitors_wrong_passwords_leave_the_others_on_the_same_address_signing_in() -> None:
    """Every visitor of a share link arrives from the tunnel's loopback address: before, five wrong passwords of one
    of them locked all of them out."""
    gradio = FakeGradio({"ann": "right", "bob": "his"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    statuses = [sign_in(middleware, gradio, "ann", f"typo{i}", peer="127.0.0.1") for i in range(8)]
    assert statuses == [400] * 5 + [429] * 3
    assert sign_in(middleware, gradio, "bob", "his", peer="127.0.0.1") == 200


def test_sign_in_pages_form_is_read_as_gradios_page_sends_it() -> None:
    """Gradio's page posts multipart form data; the name is read from it, and the body reaches Gradio intact."""
    gradio = FakeGradio({"ann": "right"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    boundary = "XyZ"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in (("username", "ann"), ("password", "bad"))
        ).encode()
        + f"--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for _ in range(5):
        assert request(middleware, gradio, "/login", method="POST", body=body, headers=headers)[0] == 400
    assert gradio.seen[-1]["body"] == body
    status, answer, detail = request(middleware, gradio, "/login", method="POST", body=body, headers=headers)
    assert status == 429 and int(answer["retry-after"]) == 1 and detail["detail"].startswith("Too many wrong sign-in")
    assert sign_in(middleware, gradio, "bob", "x") == 400  # another name from the same address still tries
    big = request(middleware, gradio, "/login", method="POST", body=b"u" * (70 * 1024), headers=headers)
    assert big[0] == 413


def test_forwarded_headers_from_an_untrusted_peer_do_not_make_another_client() -> None:
    gradio = FakeGradio({"ann": "right"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    for i in range(5):
        sign_in(middleware, gradio, "ann", "bad", headers={"x-forwarded-for": f"8.8.8.{i}"})
    assert sign_in(middleware, gradio, "ann", "bad", headers={"x-forwarded-for": "8.8.8.99"}) == 429
    trusting = LoginThrottleMiddleware(gradio, AccessPolicy(trusted_proxies=["9.9.9.9"]))
    for i in range(6):  # behind a trusted proxy, each forwarded address is its own client
        assert sign_in(trusting, gradio, "ann", "bad", headers={"x-forwarded-for": f"8.8.8.{i}"}) == 400


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_mcp_needs_a_sign_in_before_gradio_reads_the_call() -> None:
    gradio = FakeGradio({"ann": "right"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    for path in ("/gradio_api/mcp/", "/gradio_api/mcp", "/gradio_api//MCP/sse", "/gradio_api/mcp/schema"):
        status, headers, detail = request(middleware, gradio, path, method="POST", body=b"x" * 1000)
        assert status == 401 and headers["www-authenticate"].startswith("Basic"), path
        assert detail["detail"].startswith("This app requires sign-in: send an account of the app"), path
    assert gradio.seen == []  # nothing reached Gradio, the body included
    status, _, echoed = request(middleware, gradio, "/gradio_api/mcp/", headers=basic("ann", "right"))
    token = echoed["cookie"].split("=", 1)[1]
    assert status == 200 and "authorization" not in echoed and gradio.tokens[token] == "ann"
    assert echoed["cookie"] == f"access-token-unsecure-cid={token}"  # the caller's sign-in, as Gradio reads it
    assert request(middleware, gradio, "/gradio_api/mcp/", headers=basic("ann", "right"))[2] == echoed  # one token
    bearer = {"authorization": f"Bearer {token}"}
    assert request(middleware, gradio, "/gradio_api/mcp/", headers=bearer)[2]["cookie"] == echoed["cookie"]
    cookie = {"cookie": f"other=1; access-token-cid={token}"}
    assert request(middleware, gradio, "/gradio_api/mcp/", headers=cookie)[0] == 200
    assert request(middleware, gradio, "/gradio_api/mcp/", headers={"authorization": "Bearer nope"})[0] == 401
    assert request(middleware, gradio, "/config", headers={"authorization": "Bearer nope"})[0] == 200  # Gradio's
    without = FakeGradio(None)  # no --auth: nothing to check
    assert request(LoginThrottleMiddleware(without, AccessPolicy()), without, "/gradio_api/mcp/")[0] == 200


def test_a_password_header_is_throttled_like_the_sign_in_page() -> None:
    gradio = FakeGradio({"ann": "right"})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    statuses = [request(middleware, gradio, "/gradio_api/mcp/", headers=basic("ann", f"g{i}"))[0] for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    assert sign_in(middleware, gradio, "ann", "right") == 429  # one count, whichever way the password came
    assert request(middleware, gradio, "/config", headers=basic("bob", "x"))[0] == 401  # refused on any path


def test_only_the_apps_own_mcp_server_names_the_client_of_a_loopback_call() -> None:
    from mmdemo.ui.access import LOOPBACK_MARK, loopback_forwarded

    policy = AccessPolicy()
    assert policy.client_address("127.0.0.1", loopback_forwarded("5.6.7.8")) == "5.6.7.8"
    assert policy.client_address(LOOPBACK_MARK, loopback_forwarded("5.6.7.8")) == "5.6.7.8"  # uvicorn took the hop
    assert policy.client_address("127.0.0.1", "5.6.7.8, mmdemo-mcp-guess") == "127.0.0.1"  # a visitor's claim
    assert policy.client_address("8.8.8.8", loopback_forwarded("5.6.7.8")) == "8.8.8.8"  # not from this machine


def test_guesses_sent_together_are_counted_before_any_is_answered() -> None:
    """Before, the wait was checked, Gradio awaited, then the answer counted: 200 guesses at one name sent at once
    all reached Gradio (200 × 400, no 429). Each try is now counted when it is let through."""
    gradio = FakeGradio({"ann": "right"})
    middleware = LoginThrottleMiddleware(SlowGradio(gradio), AccessPolicy())

    async def guess(password: str) -> int:
        sent: list[dict[str, Any]] = []
        body = f"username=ann&password={password}".encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/login",
            "client": ("9.9.9.9", 5000),
            "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
            "app": gradio,
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await middleware(scope, receive, send)
        return sent[0]["status"]

    async def burst() -> list[int]:
        return await asyncio.gather(*(guess(f"guess{i}") for i in range(50)))

    statuses = asyncio.run(burst())
    assert statuses.count(400) == 5 and statuses.count(429) == 45, statuses  # the pair's 5 free tries, no more
    assert len(gradio.seen) == 5


def test_a_right_password_takes_its_counted_try_back() -> None:
    """A try is counted as wrong until it is answered: a right one gives the address its try back (20 sign-ins of
    several people from one address are not 20 wrong passwords)."""
    gradio = FakeGradio({f"user{i}": "right" for i in range(30)})
    middleware = LoginThrottleMiddleware(gradio, AccessPolicy())
    assert [sign_in(middleware, gradio, f"user{i}", "right", peer="127.0.0.1") for i in range(30)] == [200] * 30
    assert sign_in(middleware, gradio, "user0", "wrong", peer="127.0.0.1") == 400


class SlowGradio:
    """``gradio`` answering only after every request sent with it has come in (as a busy server does)."""

    def __init__(self, gradio: FakeGradio) -> None:
        self.gradio = gradio

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0.05)
        await self.gradio(scope, receive, send)
