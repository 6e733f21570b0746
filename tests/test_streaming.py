"""Streaming: captions and VQA answers grow as they are generated, text to image shows previews every few
steps; through the backend, the handler wrapper, gradio_client and a client that goes away mid-stream."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import gradio as gr
import pytest

from mmdemo.errors import Cancelled, InputError
from mmdemo.models.manager import ModelManager
from mmdemo.tasks.captioning import DecodingOptions, answer_question, caption_image
from mmdemo.tasks.text_to_image import generate_images, preview_steps
from mmdemo.testing.http import browser_call
from mmdemo.ui.events import guarded
from mmdemo.ui.streaming import Partial, streamed

# ----------------------------------------------------------------------------- the streaming helper


def test_streamed_yields_partials_then_the_result() -> None:
    def work(partial: Any) -> str:
        for text in ("a", "a cat", "a cat sits"):
            partial(text)
            time.sleep(0.05)  # the consumer keeps up: every partial is seen
        return "A cat sits."

    items = list(streamed(work))
    assert items == [Partial("a"), Partial("a cat"), Partial("a cat sits"), "A cat sits."]


def test_streamed_skips_partials_that_piled_up() -> None:
    release = threading.Event()

    def work(partial: Any) -> str:
        partial(1)
        release.wait(5)
        for n in range(2, 50):
            partial(n)
        return "done"

    stream = streamed(work)
    assert next(stream) == Partial(1)
    release.set()
    time.sleep(0.3)  # 48 more partials and the result arrive while the client is busy
    assert list(stream) == ["done"]  # only the newest is worth showing: the result


def test_streamed_raises_the_calls_error_in_the_requests_thread() -> None:
    def work(partial: Any) -> str:
        partial("half")
        raise InputError("Upload a photo first.")

    stream = streamed(work)
    assert next(stream) == Partial("half")
    with pytest.raises(InputError, match="Upload a photo"):
        next(stream)


def test_closing_the_stream_stops_the_call_and_waits_for_it() -> None:
    """A client that went away: Gradio closes the generator; the call stops at its next partial result."""
    steps: list[int] = []
    stopped = threading.Event()

    def work(partial: Any) -> str:
        try:
            for n in range(1000):
                steps.append(n)
                partial(n)
                time.sleep(0.01)
        except Cancelled:
            stopped.set()
            raise
        return "finished"

    stream = streamed(work)
    next(stream)
    stream.close()  # returns at once (Gradio closes abandoned generators from its event loop)
    assert stopped.wait(5)
    assert len(steps) < 100


def test_a_streaming_handler_is_guarded_like_any_other() -> None:
    def handler(text: str, progress: gr.Progress = gr.Progress()) -> Any:
        yield text
        if text == "bad":
            raise InputError("Bad text: type something else.")
        if text == "bug":
            raise RuntimeError("internal detail")
        yield text * 2

    wrapped = guarded(handler)
    assert list(wrapped("ab")) == ["ab", "abab"]
    with pytest.raises(gr.Error, match="Bad text"):
        list(wrapped("bad"))
    stream = wrapped("bug")
    assert next(stream) == "bug"  # the partial result was delivered before the failure
    with pytest.raises(gr.Error, match="Something unexpected") as err:
        next(stream)
    assert "internal detail" not in str(err.value)


def test_a_stream_closed_between_two_results_logs_that_it_stopped(caplog: pytest.LogCaptureFixture) -> None:
    """Gradio closes a streaming handler at a partial result on Stop (``GeneratorExit`` at its ``yield``): the log
    says the job stopped, as for a job stopped at a step; a stream that ran to its end says nothing of the kind."""
    finished: list[str] = []

    def handler(text: str, progress: gr.Progress = gr.Progress()) -> Any:
        try:
            yield text
            yield text * 2
        finally:
            finished.append(text)

    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "mmdemo.ui.events"]

    assert list(guarded(handler)("ab")) == ["ab", "abab"]
    assert logged() == []
    stream = guarded(handler)("cd")
    assert next(stream) == "cd"
    stream.close()  # raises nothing: GeneratorExit is re-raised, so the generator closes as Python expects
    assert finished == ["ab", "cd"]  # the handler's own clean-up ran
    assert logged() == ["handler stopped: its client went away"]
    never = guarded(handler)("ef")
    never.close()  # closed before it started: it did no work, so nothing was stopped
    assert logged() == ["handler stopped: its client went away"]


# ----------------------------------------------------------------------------- backend


def test_greedy_caption_streams_growing_prefixes(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    seen: list[str] = []
    result = caption_image(
        real_photos["lion.jpg"], options=DecodingOptions(12, 0, 1), manager=shared_manager, on_text=seen.append
    )
    assert len(seen) >= 5 and seen[-1] == result.text
    assert all(result.text.startswith(text) for text in seen)
    assert all(len(a) < len(b) for a, b in itertools.pairwise(seen))  # each step adds to the text


def test_beam_caption_streams_the_best_hypothesis(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    seen: list[str] = []
    result = caption_image(real_photos["lion.jpg"], manager=shared_manager, on_text=seen.append)  # 3 beams
    assert len(seen) >= 5
    plain = caption_image(real_photos["lion.jpg"], manager=shared_manager)
    assert plain.text == result.text  # watching generation does not change it


def test_vqa_answer_streams(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    seen: list[str] = []
    result = answer_question(real_photos["lion.jpg"], "What animal is it?", manager=shared_manager, on_text=seen.append)
    assert seen and seen[-1] == result.answer


def test_stopping_mid_caption_stops_generation(shared_manager: ModelManager, real_photos: dict[str, str]) -> None:
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        if len(seen) == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        caption_image(real_photos["lion.jpg"], manager=shared_manager, on_text=on_text)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("steps", "expected"), [(1, set()), (2, {1}), (4, {1, 2, 3}), (10, {2, 4, 6, 8}), (30, {6, 12, 18, 24})]
)
def test_preview_steps(steps: int, expected: set[int]) -> None:
    assert preview_steps(steps) == expected


def test_text_to_image_previews_every_few_steps(shared_manager: ModelManager) -> None:
    previews: list[Any] = []
    result = generate_images(
        "a red cube",
        steps=10,
        width=64,
        height=64,
        num_images=2,
        seed=3,
        clip_score=False,
        manager=shared_manager,
        on_preview=previews.append,
    )
    assert [p.step for p in previews] == [2, 4, 6, 8] and {p.steps for p in previews} == {10}
    assert all(len(p.images) == 2 and p.images[0].size == (64, 64) and p.seed == 3 for p in previews)
    plain = generate_images(
        "a red cube", steps=10, width=64, height=64, num_images=2, seed=3, clip_score=False, manager=shared_manager
    )
    assert [g.image.tobytes() for g in plain.images] == [g.image.tobytes() for g in result.images]  # unchanged


def test_no_previews_with_the_full_decoder(shared_manager: ModelManager) -> None:
    previews: list[Any] = []
    generate_images(
        "a red cube", steps=4, width=64, height=64, decoder="full", clip_score=False, manager=shared_manager,
        on_preview=previews.append,
    )  # fmt: skip
    assert previews == []


# ----------------------------------------------------------------------------- over HTTP


def test_caption_and_vqa_stream_to_gradio_client(client: Any, real_photos: dict[str, str]) -> None:
    from gradio_client import handle_file

    photo = handle_file(real_photos["lion.jpg"])
    job = client.submit(photo, "", 12, 0, 1, api_name="/caption")
    final = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 3 and outputs[-1] == final
    assert all(final.startswith(text) for text in outputs)  # greedy: the caption grows

    job = client.submit(photo, "What animal is it?", 3, api_name="/vqa")
    answer = job.result(timeout=120)
    assert job.outputs()[-1] == answer and len(job.outputs()) >= 2

    job = client.submit(photo, api_name="/describe")
    description = job.result(timeout=120)
    assert len(job.outputs()) >= 3 and description.rstrip(".").startswith(job.outputs()[-2].rstrip("."))


def test_text_to_image_streams_previews_to_gradio_client(client: Any) -> None:
    job = client.submit("a red cube", "", 6, 0, "64x64", 1, 11, False, "auto", False, api_name="/generate")
    _gallery, seed, details = job.result(timeout=120)
    *previews, final = job.outputs()
    assert final[1] == seed == 11 and "Seed 11" in details
    assert [p[2] for p in previews] == [f"Preview after step {n} of 6" for n in (2, 4)]
    assert all(len(p[0]) == 1 and p[1] == 11 for p in previews)


def test_abandoned_stream_stops_its_work(app_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A browser tab closed after the first preview (step 20 of 100): generation stops within a few steps,
    long before the 80 steps left would have run, and the lane serves the next request."""
    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")
    args = ["a red cube", "", 100, 0, "256x256", 1, 5, False, "auto", False]
    began = time.monotonic()
    for message in browser_call(app_url, "generate", args, timeout=600):
        if message.get("msg") == "process_generating":
            break  # the first preview arrived; the tab goes away
    gone = time.monotonic()
    twenty_steps = gone - began
    while time.monotonic() - gone < 4 * twenty_steps + 30:
        if any("client went away" in r.getMessage() for r in caplog.records):
            break
        time.sleep(0.05)
    stopped_after = time.monotonic() - gone
    stopped = [r.getMessage() for r in caplog.records if "client went away" in r.getMessage()]
    assert stopped and "generate" in stopped[0]
    assert stopped_after < 2 * twenty_steps + 5  # the other 80 steps would take 4 × as long
    finished = list(browser_call(app_url, "generate", [*args[:2], 2, 0, "64x64", 1, 5, False, "auto", False]))
    assert finished[-1].get("msg") == "process_completed" and finished[-1]["success"]
