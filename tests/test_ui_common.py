"""The shared handler wrapper: rate limit per client, errors → gr.Error, request injection invisible to the API."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from mmdemo.errors import InputError
from mmdemo.ui import common
from mmdemo.ui.common import RateLimiter, client_id, user_errors


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


def test_client_id() -> None:
    assert client_id(None) == "local"
    assert client_id(SimpleNamespace(username="ann", headers={}, client=None)) == "user:ann"
    fwd = SimpleNamespace(username=None, headers={"x-forwarded-for": "1.2.3.4, 10.0.0.1"}, client=None)
    assert client_id(fwd) == "1.2.3.4"
    peer = SimpleNamespace(username=None, headers={}, client=SimpleNamespace(host="127.0.0.1"))
    assert client_id(peer) == "127.0.0.1"


def test_wrapper_translates_errors_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "rate_limiter", RateLimiter(3))

    @user_errors
    def handler(text: str, n: float = 1, progress: gr.Progress = gr.Progress()) -> str:
        if text == "bad":
            raise InputError("Bad text: type something else.")
        if text == "bug":
            raise RuntimeError("internal detail")
        return text * int(n)

    # Gradio sees an extra `request: gr.Request` parameter and fills it; callers may leave it out.
    params = inspect.signature(handler).parameters
    assert list(params) == ["text", "n", "progress", "request"]
    assert gr.utils.get_type_hints(handler)["request"] is gr.Request
    assert handler("ab", 2) == "abab"
    with pytest.raises(gr.Error, match="Bad text") as err:
        handler("bad", request=None)
    assert "Traceback" not in str(err.value)
    with pytest.raises(gr.Error, match="Something unexpected") as err:
        handler("bug")
    assert "internal detail" not in str(err.value)
    with pytest.raises(gr.Error, match="Too many requests"):
        handler("x")


def test_api_does_not_show_request(client: Any) -> None:
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/vqa"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["image", "question", "num_beams"]


def test_rate_limit_over_http(client: Any, real_photos: dict[str, str]) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    limiter = common.rate_limiter
    saved = limiter.per_minute
    limiter.per_minute, limiter._seen = 2, type(limiter._seen)(limiter._seen.default_factory)
    try:
        photo = handle_file(real_photos["lion.jpg"])
        for _ in range(2):
            assert isinstance(client.predict(photo, "What is it?", 1, api_name="/vqa"), str)
        with pytest.raises(AppError, match="Too many requests"):
            client.predict(photo, "What is it?", 1, api_name="/vqa")
    finally:
        limiter.per_minute = saved
        limiter._seen.clear()
    assert isinstance(client.predict(photo, "What is it?", 1, api_name="/vqa"), str)
