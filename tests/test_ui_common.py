"""The model event wrapper (mmdemo/ui/events.py) and the access policy: rate limit per client (behind trusted
proxies only), sign-in throttle, errors → gr.Error, request injection invisible to the API, handlers bound to
the manager, each event's models from the feature table."""

from __future__ import annotations

import inspect
import logging
from types import SimpleNamespace
from typing import Any

import gradio as gr
import httpx
import pytest

from mmdemo.errors import Cancelled, InputError, ModelUnavailableError
from mmdemo.ui import events
from mmdemo.ui.access import AccessPolicy, LoginThrottle, RateLimiter
from mmdemo.ui.events import guarded


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    limiter.check("b")  # other clients are counted apart
    with pytest.raises(gr.Error, match="at most 2 a minute"):
        limiter.check("a")
    now[0] = 59.9
    with pytest.raises(gr.Error):
        limiter.check("a")
    now[0] = 60.1  # the first two requests left the window
    limiter.check("a")
    RateLimiter(0).check("a")  # 0 = unlimited


def _request(peer: str | None, forwarded: str | None = None, username: str | None = None) -> Any:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return SimpleNamespace(username=username, headers=headers, client=SimpleNamespace(host=peer))


def test_client_id_trusts_forwarded_for_only_from_configured_proxies() -> None:
    policy = AccessPolicy()
    assert policy.client_id(None) == "local"
    assert policy.client_id(_request("1.1.1.1", username="ann")) == "user:ann"
    # No trusted proxies: whatever the header claims, the peer address is the client.
    assert policy.client_id(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    assert policy.client_id(_request("127.0.0.1")) == "127.0.0.1"
    policy.configure(["10.0.0.0/8", "127.0.0.1"], 0)
    # A client that is not a proxy cannot choose its identity.
    assert policy.client_id(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    # Behind the proxy: the rightmost address that is not a trusted hop; what the client prepended is ignored.
    assert policy.client_id(_request("10.1.2.3", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert policy.client_id(_request("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    assert policy.client_id(_request("127.0.0.1", "2001:db8::1")) == "2001:db8::1"
    assert policy.client_id(_request("10.1.2.3", "garbage")) == "unparsed:garbage"
    assert policy.client_id(_request("10.1.2.3")) == "10.1.2.3"
    with pytest.raises(ValueError, match="not-an-ip"):
        policy.configure(["not-an-ip"], 0)


def test_settings_trust_the_spaces_proxy_only_on_spaces() -> None:
    from mmdemo.settings import SPACES_PROXIES, Settings

    assert Settings.from_env({}).trusted_proxies == ()
    assert Settings.from_env({"MMDEMO_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}).trusted_proxies == (
        "10.0.0.1",
        "192.168.0.0/16",
    )
    on_space = Settings.from_env({"SPACE_ID": "me/mmdemo", "MMDEMO_PROFILE": "local"})
    assert on_space.trusted_proxies == SPACES_PROXIES
    with pytest.raises(InputError, match="MMDEMO_TRUSTED_PROXIES"):
        Settings.from_env({"MMDEMO_TRUSTED_PROXIES": "localhost"})


def test_login_throttle_counts_failures_per_client() -> None:
    """(The whole policy: tests/test_access_throttle.py.)"""
    now = [0.0]
    throttle = LoginThrottle(pair_free=3, pair_cap=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_seconds("a", "ann") == 0
        throttle.record("a", "ann", success=False)
    assert throttle.wait_seconds("a", "ann") == pytest.approx(1)
    assert throttle.wait_seconds("b", "ann") == 0  # other clients are not affected
    assert "try again in 1 s" in throttle.message(throttle.wait_seconds("a", "ann"))
    throttle.record("a", "ann", success=True)  # a successful sign-in forgets that name's failures
    assert throttle.wait_seconds("a", "ann") == 0


def test_wrapper_translates_errors_and_limits(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(text: str, n: int = 1, progress: gr.Progress = gr.Progress()) -> str:
        if text == "bad":
            raise InputError("Bad text: type something else.")
        if text == "missing":
            raise ModelUnavailableError(
                "vqa", "/srv/models/vqa", "that folder does not exist.", "Check MMDEMO_VQA_MODEL."
            )
        if text == "bug":
            raise RuntimeError("internal detail")
        if text == "gone":
            raise Cancelled
        return text * n

    wrapped = guarded(handler, policy=AccessPolicy(rate_limit_per_minute=4))
    # Gradio sees an extra `request: gr.Request` parameter and fills it; callers may leave it out.
    assert list(inspect.signature(wrapped).parameters) == ["text", "n", "progress", "request"]
    assert gr.utils.get_type_hints(wrapped)["request"] is gr.Request
    assert wrapped("ab", 2) == "abab"
    with pytest.raises(gr.Error, match="Bad text") as err:
        wrapped("bad", request=None)
    assert "Traceback" not in str(err.value)
    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")
    with pytest.raises(gr.Error) as err:
        wrapped("missing")
    # The user reads one sentence without the server's paths; the operator's detail is in one log line.
    assert (
        err.value.message
        == "Visual question answering is not available on this server (its model local folder “vqa” is not installed)."
    )
    assert any("/srv/models/vqa" in r.getMessage() and "MMDEMO_VQA_MODEL" in r.getMessage() for r in caplog.records)
    with pytest.raises(gr.Error, match="Something unexpected") as err:
        wrapped("bug")
    assert "internal detail" not in str(err.value)
    with pytest.raises(gr.Error, match="Too many requests"):
        wrapped("x")


def test_cancelled_work_is_reported_not_raised_through() -> None:
    def handler(text: str) -> str:
        raise Cancelled

    with pytest.raises(gr.Error, match="cancelled"):
        guarded(handler)("x")
    assert not events.client_gone()  # outside a Gradio request nothing is ever abandoned


def test_a_handler_bound_to_the_manager_shows_its_own_name_docstring_and_parameters() -> None:
    """Handlers are module-level functions taking the manager first, registered as ``partial(fn, manager)``: the API
    page and MCP see the function's name, docstring and parameters without the manager; Gradio still recognises
    the request parameter (from the type hints), and a streaming handler stays a generator."""
    import functools
    from collections.abc import Iterator

    def caption(manager: object, image: str, beams: int = 1) -> str:
        """Describe a photo."""
        return f"{manager} {image} {beams}"

    def streaming(manager: object, text: str) -> Iterator[str]:
        """Stream it."""
        yield f"{manager}: {text}"
        raise InputError("Bad text: type something else.")

    wrapped = guarded(functools.partial(caption, "M"))
    assert wrapped.__name__ == "caption" and wrapped.__doc__ == "Describe a photo."
    assert list(inspect.signature(wrapped).parameters) == ["image", "beams", "request"]
    assert gr.utils.get_type_hints(wrapped)["request"] is gr.Request
    assert "manager" not in wrapped.__annotations__
    assert wrapped("p.jpg", 3) == "M p.jpg 3"
    stream = guarded(functools.partial(streaming, "M"))
    assert inspect.isgeneratorfunction(stream) and stream.__name__ == "streaming"
    results = stream("hi")
    assert next(results) == "M: hi"
    with pytest.raises(gr.Error, match="Bad text"):
        next(results)


def test_each_event_needs_the_models_its_feature_names() -> None:
    """The models an event checks before it runs come from the one feature table, by the event's API name."""
    from mmdemo.ui.availability import FEATURES, needs_of

    assert needs_of("vqa") == ("vqa",) and needs_of("round_trip") == ("captioner", "text_to_image")
    assert needs_of("emotion") == () and needs_of("evaluate") == ()  # optional models only, or none named
    endpoints = [f.endpoint for features in FEATURES.values() for f in features]
    assert len(endpoints) == len(set(endpoints))  # one feature per endpoint
    assert "needs" not in inspect.signature(events.model_event).parameters  # said nowhere else


def test_every_feature_is_run_by_an_endpoint_of_the_app(tiny_settings) -> None:
    from mmdemo.models.manager import ModelManager
    from mmdemo.ui import build_app
    from mmdemo.ui.availability import FEATURES

    demo = build_app(ModelManager(tiny_settings))
    names = {fn.api_name for fn in demo.fns.values()}
    assert {f.endpoint for features in FEATURES.values() for f in features} <= names


def test_the_build_sizes_the_queue_without_building_gradios_server_again(tiny_settings, monkeypatch) -> None:
    """``Blocks()`` and the end of its ``with`` block each build Gradio's server app; sizing the queue with
    ``demo.queue()`` built it a third time. The queue's direct route is closed."""
    from gradio import routes

    from mmdemo.models.manager import ModelManager
    from mmdemo.ui import build_app

    built = []
    create = routes.App.create_app
    monkeypatch.setattr(routes.App, "create_app", staticmethod(lambda *a, **k: built.append(1) or create(*a, **k)))
    demo = build_app(ModelManager(tiny_settings.replace(max_queue=5)))
    assert demo._queue.max_size == 5 and demo.api_open is False  # no route around the queue (tests/test_e2e_load.py)
    assert len(built) == 2, len(built)


def test_api_does_not_show_request(client: Any) -> None:
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/vqa"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["image", "question", "num_beams"]


def test_rate_limit_over_http_ignores_made_up_forwarded_for(
    app_settings, launch_app, real_photos: dict[str, str]
) -> None:
    from mmdemo.testing.http import call_raw, upload

    with launch_app(app_settings.replace(rate_limit_per_minute=3)) as url:
        photo = upload(url, real_photos["lion.jpg"])
        results = [
            call_raw(url, "vqa", [photo, "What is it?", 1], headers={"X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(5)
        ]
    assert [r.event for r in results] == ["complete"] * 3 + ["error"] * 2
    assert "Too many requests" in (results[-1].message or "")


def test_each_app_has_its_own_limits(tiny_settings) -> None:
    """The limit and the sign-in throttle belong to the app: building a second app with other settings changes
    nothing for the first (the policy was a module-level singleton: the last app built set it for all), and no
    process-wide variable is left behind."""
    import os

    from mmdemo.models.manager import ModelManager
    from mmdemo.ui import build_app
    from mmdemo.ui.access import policy_of

    first = build_app(ModelManager(tiny_settings.replace(rate_limit_per_minute=3)))
    second = build_app(ModelManager(tiny_settings.replace(rate_limit_per_minute=0, trusted_proxies=("10.0.0.0/8",))))
    assert policy_of(first).limiter.per_minute == 3 and policy_of(second).limiter.per_minute == 0
    assert policy_of(first).logins is not policy_of(second).logins
    assert not policy_of(first).is_trusted("10.1.2.3") and policy_of(second).is_trusted("10.1.2.3")
    saved = os.environ.get("FORWARDED_ALLOW_IPS")
    with policy_of(second).serving():
        assert os.environ["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"  # what this app's web server is started with
    assert os.environ.get("FORWARDED_ALLOW_IPS") == saved


def test_login_is_throttled_per_client(app_settings, launch_app) -> None:
    """An app with --auth: the 6th wrong password in a row gets 429 with a message; forwarded-for headers the
    client makes up do not make it another client."""
    most = LoginThrottle().pair_free
    right = {"username": "ann", "password": "right"}
    with launch_app(app_settings, auth=[("ann", "right")]) as url:
        assert httpx.post(f"{url}/login", data=right).status_code == 200  # the throttle lets sign-in work
        statuses, refused = [], None
        for i in range(7):
            wrong = {"username": "ann", "password": f"wrong{i}"}
            r = httpx.post(f"{url}/login", data=wrong, headers={"X-Forwarded-For": f"9.9.9.{i}"})
            statuses.append(r.status_code)
            refused = r if r.status_code == 429 else refused
        assert statuses[:most] == [400] * most and refused is not None, statuses  # then 429s
        assert "Too many wrong sign-in attempts" in refused.json()["detail"] and int(refused.headers["retry-after"]) > 0
        # (the waits double from 1 s: tests/test_access_throttle.py pins them with a clock of its own)
        assert "after 5 wrong passwords for a name" in httpx.get(f"{url}/config").text.lower()  # the page says so
        # … in the visitor's language (Gradio reads the message while it answers the sign-in page's request)
        chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
        assert "同一用户名密码错误 5 次后，每次再试的等待时间加倍" in httpx.get(f"{url}/config", headers=chinese).text
        assert "密码错误 5 次后" in httpx.get(f"{url}/", headers=chinese).text
