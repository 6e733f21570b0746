"""Per-client budgets checked when a client asks (mmdemo/ui/admission.py), the text-to-image work budget per step,
request and client (mmdemo/tasks/text_to_image.py), cancellation between images, and the start/stop fixes of the
launcher (IPv6 host, SIGTERM, the cache sweep). Fast: fake queues and ASGI apps, tiny models."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mmdemo.errors import Cancelled, InputError
from mmdemo.messages import say
from mmdemo.settings import Settings
from mmdemo.ui.access import AccessPolicy, loopback_forwarded
from mmdemo.ui.admission import (
    Admission,
    JobAdmissionMiddleware,
    SlidingTotals,
    UploadBudgetMiddleware,
    holding,
    queued_jobs,
    too_many_jobs,
)
from mmdemo.ui.i18n import LOCALE_COOKIE

# --- helpers: a fake Gradio queue and an ASGI round trip ---------------------------------------------------------


def _event(host: str, username: str | None = None, headers: dict[str, str] | None = None) -> Any:
    request = SimpleNamespace(client=SimpleNamespace(host=host), headers=headers or {})
    return SimpleNamespace(username=username, request=request)


def _queue(waiting: list[Any], running: list[Any]) -> Any:
    return SimpleNamespace(
        event_queue_per_concurrency_id={"lane": SimpleNamespace(queue=waiting)}, active_jobs=[running, None]
    )


def _scope(path: str, host: str = "10.0.0.5", headers: dict[str, str] | None = None) -> dict[str, Any]:
    items = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "method": "POST", "path": path, "client": (host, 1234), "headers": items}


def _call(app: Any, scope: dict[str, Any], body: bytes = b"", chunk: int = 0) -> tuple[int, dict[str, Any]]:
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        data = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": data, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body_out) if body_out else {}


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An inner app that reads the whole body (as Gradio's routes do) and answers 200."""
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


# --- jobs per client, at submission -----------------------------------------------------------------------------


def test_a_client_may_have_at_most_max_jobs_waiting_or_running() -> None:
    mine = [_event("10.0.0.5") for _ in range(2)]
    blocks = SimpleNamespace(
        admission=Admission(max_jobs=3), _queue=_queue([mine[0], _event("10.0.0.9")], [mine[1], _event("10.0.0.9")])
    )
    app = JobAdmissionMiddleware(_ok, blocks, AccessPolicy())
    assert queued_jobs(blocks._queue, "10.0.0.5", AccessPolicy()) == 2
    assert _call(app, _scope("/gradio_api/queue/join"))[0] == 200  # a third: allowed
    blocks._queue.event_queue_per_concurrency_id["lane"].queue.append(_event("10.0.0.5"))
    for path in ("/gradio_api/queue/join", "/gradio_api/call/generate", "/gradio_api/call/v2/caption/"):
        status, body = _call(app, _scope(path, headers={"accept-language": "en"}))
        assert status == 429
        assert body["detail"] == (
            "You already have 3 requests waiting or running (at most 3 per user). Wait for one to finish, then try "
            "again."
        )
    assert _call(app, _scope("/gradio_api/queue/join", host="10.0.0.7"))[0] == 200  # another client: not counted
    assert _call(app, {**_scope("/gradio_api/call/generate/abc"), "method": "GET"})[0] == 200  # reading results


def test_submissions_still_being_accepted_count_too() -> None:
    """Concurrent submissions of one client: each counts from the moment it arrives, not once Gradio queued it."""
    blocks = SimpleNamespace(admission=Admission(max_jobs=2), _queue=_queue([], []))
    release = asyncio.Event()

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await release.wait()
        await _ok(scope, receive, send)

    app = JobAdmissionMiddleware(slow, blocks, AccessPolicy())

    async def flood() -> list[int]:
        statuses: list[int] = []

        async def one() -> None:
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app(_scope("/gradio_api/queue/join"), receive, send)
            statuses.append(next(m["status"] for m in sent if m["type"] == "http.response.start"))

        tasks = [asyncio.create_task(one()) for _ in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*tasks)
        return sorted(statuses)

    assert asyncio.run(flood()) == [200, 200, 429, 429, 429]
    assert blocks.admission.joining == {}


def test_mcp_calls_share_the_count_once() -> None:
    """An MCP call counts from when it comes in (``Admission.mcp_calls``) until it is answered; the job its loopback
    client submits for it is neither counted again nor refused at submission."""
    mcp_job = _event("127.0.0.1", headers={"x-forwarded-for": loopback_forwarded("10.0.0.5")})
    blocks = SimpleNamespace(admission=Admission(max_jobs=2), _queue=_queue([_event("10.0.0.5")], [mcp_job]))
    policy = AccessPolicy()
    app = JobAdmissionMiddleware(_ok, blocks, policy)
    with holding(blocks.admission.mcp_calls, "10.0.0.5"):  # the MCP call whose job runs
        assert too_many_jobs(blocks, "10.0.0.5", policy, {}) == (
            "You already have 2 requests waiting or running (at most 2 per user). Wait for one to finish, then try "
            "again."
        )
        assert _call(app, _scope("/gradio_api/queue/join"))[0] == 429  # the page: refused
        loopback = _scope("/gradio_api/queue/join", "127.0.0.1", {"x-forwarded-for": loopback_forwarded("10.0.0.5")})
        assert _call(app, loopback)[0] == 200  # the MCP server's own submission: admitted when its call came in
        assert too_many_jobs(blocks, "10.0.0.7", policy, {}) is None  # another client
        chosen = {"cookie": f"{LOCALE_COOKIE}=zh-CN", "accept-language": "en"}  # a page switched to Chinese
        assert too_many_jobs(blocks, "10.0.0.5", policy, chosen) == say(
            "access.too_many_jobs", "zh-CN", count=2, limit=2
        )
    assert blocks.admission.mcp_calls == {}
    assert too_many_jobs(blocks, "10.0.0.5", policy, {}) is None  # answered: one job left (the page's)
    spoofed = _scope("/gradio_api/queue/join", "10.0.0.5", {"x-forwarded-for": loopback_forwarded("10.0.0.5")})
    blocks.admission.max_jobs = 1
    assert _call(app, spoofed)[0] == 429  # the mark from elsewhere than this machine admits nothing


def test_signed_in_users_are_counted_by_name() -> None:
    blocks = SimpleNamespace(admission=Admission(max_jobs=1), _queue=_queue([_event("10.0.0.5", username="ann")], []))
    app = JobAdmissionMiddleware(_ok, blocks, AccessPolicy())
    gradio_app = SimpleNamespace(tokens={"t1": "ann", "t2": "bob"}, cookie_id="c")
    ann = {**_scope("/gradio_api/queue/join", host="10.0.0.6", headers={"cookie": "access-token-c=t1"})}
    bob = {**_scope("/gradio_api/queue/join", host="10.0.0.5", headers={"cookie": "access-token-c=t2"})}
    assert _call(app, {**ann, "app": gradio_app})[0] == 429  # ann's job, from another address
    assert _call(app, {**bob, "app": gradio_app})[0] == 200  # bob shares ann's address, not her jobs


# --- upload bytes per client per minute -------------------------------------------------------------------------


def _upload_app(limit: int) -> tuple[UploadBudgetMiddleware, list[int]]:
    read: list[int] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            read.append(total)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    blocks = SimpleNamespace(admission=Admission(upload_bytes_per_minute=limit))
    return UploadBudgetMiddleware(inner, blocks, AccessPolicy()), read


def test_uploads_are_limited_per_client_per_minute() -> None:
    app, read = _upload_app(1000)
    sized = lambda n: {"content-length": str(n)}  # noqa: E731
    assert _call(app, _scope("/gradio_api/upload", headers=sized(600)), b"x" * 600)[0] == 200
    status, body = _call(app, _scope("/gradio_api/upload", headers=sized(600)), b"x" * 600)
    assert status == 429 and body["detail"].startswith("Too much uploaded: at most 0.000953674 MB a minute")
    assert read == [600]  # the refused upload was never read
    assert _call(app, _scope("/gradio_api/upload", host="10.0.0.8", headers=sized(600)), b"x" * 600)[0] == 200
    assert _call(app, _scope("/gradio_api/queue/join", headers=sized(600)), b"x" * 600)[0] == 200  # not an upload


def test_an_upload_without_a_length_is_cut_off_at_the_budget() -> None:
    app, read = _upload_app(1000)
    status, _ = _call(app, _scope("/gradio_api/upload"), b"x" * 5000, chunk=100)
    assert status == 429
    assert max(read, default=0) <= 1000  # stopped as soon as it went over, not after 5000 bytes


def test_the_window_slides() -> None:
    now = [0.0]
    totals = SlidingTotals(60.0, clock=lambda: now[0])
    assert totals.take("a", 600, 1000) == 0
    now[0] = 30.0
    assert totals.take("a", 600, 1000) == pytest.approx(30.0)  # fits once the first expires, at 60 s
    now[0] = 60.5
    assert totals.take("a", 600, 1000) == 0 and totals.used("a") == 600
    assert totals.take("a", 5000, 1000) == 60.0  # never fits


# --- text-to-image work: per step, per request, per client ------------------------------------------------------


def test_the_work_of_one_step_and_one_request_is_bounded() -> None:
    from mmdemo.tasks.text_to_image import Work, check_inputs

    settings = Settings(t2i_step_megapixels=1.0, t2i_request_megapixel_steps=10.0)
    Work(512, 512, 2, 10, guided=True).check(settings)  # 1 MP a step, 10 MP-steps: both at the limit
    with pytest.raises(InputError) as step:
        Work(1024, 1024, 1, 1, guided=True).check(settings)
    assert str(step.value.message) == (
        "Too much work in one step: 1024×1024 × 1 image(s) × 2 (guidance above 1) is 2 megapixels a step; this "
        "server allows 1. Ask for fewer or smaller images, or lower the guidance to 1."
    )
    with pytest.raises(InputError) as request:
        Work(512, 512, 4, 11, guided=False).check(settings)
    assert "11 megapixel-steps (1 megapixels a step × 11 steps); this server allows 10" in str(request.value.message)
    # the browser's quick check refuses it before anything loads, when every value is explicit
    with pytest.raises(InputError):
        check_inputs("a cat", steps=11, guidance_scale=1.0, size="1024x1024", num_images=1, settings=settings)
    check_inputs("a cat", steps=0, guidance_scale=0, size="auto", num_images=1, settings=settings)  # known later


@pytest.mark.parametrize("guided", [True, False])
def test_work_megapixels(guided: bool) -> None:
    from mmdemo.tasks.text_to_image import Work

    work = Work(512, 512, 4, 10, guided)
    assert work.step_megapixels == (2.0 if guided else 1.0)
    assert work.megapixel_steps == (20.0 if guided else 10.0)


def test_one_client_has_a_work_budget_an_hour() -> None:
    admission = Admission(work_per_hour=50.0)
    admission.charge_work("ann", 30.0)
    with pytest.raises(InputError) as refused:
        admission.charge_work("ann", 30.0)
    assert "this request needs 30 megapixel-steps and 20 of 50 are left this hour" in str(refused.value.message)
    admission.charge_work("bob", 30.0)  # another client's budget


def test_generation_checks_the_resolved_work_and_charges_it(tiny_settings: Settings) -> None:
    """Auto steps and size are known only once the model is loaded: checked then, before any denoising."""
    from mmdemo.models.manager import ModelManager
    from mmdemo.tasks.text_to_image import generate_images

    manager = ModelManager(tiny_settings.replace(t2i_step_megapixels=0.004, t2i_request_megapixel_steps=0.02))
    keys: list[str] = []
    progress = lambda fraction, message: keys.append(getattr(message, "key", ""))  # noqa: E731
    with pytest.raises(InputError, match="Too much work in one step"):  # 128² = 0.016 MP; auto steps
        generate_images("a cat", size="128x128", steps=0, guidance_scale=1.0, manager=manager, progress=progress)
    assert "t2i.progress.step" not in keys  # refused before denoising
    with pytest.raises(InputError, match="Too much work for one request"):
        generate_images("a cat", size="64x64", steps=10, guidance_scale=1.0, manager=manager, progress=progress)
    charged: list[float] = []
    generate_images("a cat", size="64x64", steps=2, guidance_scale=1.0, manager=manager, charge=charged.append)
    assert charged == [pytest.approx(64 * 64 * 2 / 2**20)]


def test_generation_stops_between_images(shared_manager: Any) -> None:
    """A client gone while the images are decoded: the next image is not decoded."""
    from mmdemo.tasks import text_to_image

    seen: list[tuple[str, Any]] = []

    def progress(fraction: float, message: Any) -> None:
        seen.append((getattr(message, "key", ""), getattr(message, "values", {})))
        if seen[-1] == ("t2i.progress.decoding_one", {"number": 2, "total": 3}):
            raise Cancelled

    decoded: list[int] = []
    original = text_to_image._decode_tiny

    def counting(pipe: Any, tiny: Any, latents: Any, device: Any) -> list[Any]:
        decoded.append(len(latents))
        return original(pipe, tiny, latents, device)

    text_to_image._decode_tiny = counting
    try:
        with pytest.raises(Cancelled):
            text_to_image.generate_images(
                "a cat", size="64x64", steps=2, guidance_scale=1.0, num_images=3, decoder="tiny",
                manager=shared_manager, progress=progress,
            )  # fmt: skip
    finally:
        text_to_image._decode_tiny = original
    assert decoded == [1]
    assert [v["step"] for k, v in seen if k == "t2i.progress.step"] == [1, 2]


def test_generation_stops_between_steps(shared_manager: Any) -> None:
    from mmdemo.tasks.text_to_image import generate_images

    steps: list[int] = []

    def progress(fraction: float, message: Any) -> None:
        if getattr(message, "key", "") == "t2i.progress.step":
            steps.append(message.values["step"])
            if steps[-1] == 2:
                raise Cancelled

    with pytest.raises(Cancelled):
        generate_images("a cat", size="64x64", steps=20, guidance_scale=1.0, manager=shared_manager, progress=progress)
    assert steps == [1, 2]


def test_the_settings_read_the_budgets_from_the_environment() -> None:
    env = {
        "MMDEMO_MAX_JOBS_PER_CLIENT": "3",
        "MMDEMO_MAX_UPLOAD_MB_PER_MINUTE": "10",
        "MMDEMO_T2I_STEP_MEGAPIXELS": "0.5",
        "MMDEMO_T2I_REQUEST_MEGAPIXEL_STEPS": "20",
        "MMDEMO_T2I_CLIENT_MEGAPIXEL_STEPS_PER_HOUR": "0",
    }
    settings = Settings.from_env(env, profile="local")
    assert (settings.max_jobs_per_client, settings.t2i_step_megapixels, settings.t2i_request_megapixel_steps) == (
        3,
        0.5,
        20.0,
    )
    assert settings.upload_bytes_per_minute == 50 * 2**20  # never less than one upload of the largest size
    assert Settings(max_upload_mb_per_minute=0).upload_bytes_per_minute == 0
    assert Admission.from_settings(settings).work_per_hour == 0
    cpu = Settings.from_env({}, profile="cpu")
    assert (cpu.t2i_request_megapixel_steps, cpu.upload_bytes_per_minute) == (30.0, 100 * 2**20)
    assert (Settings().step_megapixels_on("cpu"), Settings().step_megapixels_on("cuda:0")) == (1.0, 2.0)
    assert Settings().step_megapixels_on(None) == 2.0  # the device not known yet: the largest
    with pytest.raises(InputError):
        Settings(max_jobs_per_client=0).validated()


# --- start and stop ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name"),
    [("::", "[::]"), ("::1", "[::1]"), ("[::1]", "[::1]"), ("0.0.0.0", "0.0.0.0"), ("localhost", "localhost")],
)
def test_an_ipv6_host_is_given_to_gradio_in_brackets(host: str, name: str) -> None:
    from mmdemo.launcher import server_name

    assert server_name(host) == name


def test_sigterm_stops_the_app_as_ctrl_c_does() -> None:
    from mmdemo.launcher import stop_on_sigterm

    saved = signal.getsignal(signal.SIGTERM)
    try:
        stop_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_the_sweep_removes_output_folders_and_empty_folders(tmp_path: Path) -> None:
    from mmdemo.ui.cleanup import sweep

    report = tmp_path / "mmdemo" / "abc" / "report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# Evaluation")
    (tmp_path / "0123abcd").mkdir()  # what Gradio's clean-up leaves of an upload
    kept = tmp_path / "4567ef" / "photo.png"
    kept.parent.mkdir()
    kept.write_bytes(b"png")
    assert sweep(3600, tmp_path) == 0  # new: kept until they are as old as Gradio's own files
    old = time.time() - 7200
    for path in (report.parent, tmp_path / "0123abcd"):
        os.utime(path, (old, old))
    assert sweep(3600, tmp_path) == 2
    assert not report.exists() and not (tmp_path / "0123abcd").exists() and kept.exists()
    (tmp_path / "mmdemo" / "new").mkdir()
    sweep(None, tmp_path)  # at shutdown: every one
    assert not (tmp_path / "mmdemo" / "new").exists() and kept.exists()
