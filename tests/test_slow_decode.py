"""Slow image decodes run in a worker process (issue 26 #15): Pillow's JPEG 2000 decoder and its decoders written in
Python hold the GIL for the whole decode, so in the app's process one of them stalls every other thread. In a
worker the app keeps running; the result is the one the app's process would decode, pixel for pixel; a decode over
the time budget is killed with a message the user can act on, and the next one gets a new worker."""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mmdemo.errors import InputError
from mmdemo.media import decode_worker
from mmdemo.media.image import ImageLimits, load_image
from mmdemo.testing.hostile import noisy_jpeg2000


@pytest.fixture(scope="module", autouse=True)
def _stop_workers():
    yield
    decode_worker.shutdown()


@pytest.fixture
def in_worker(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The results of the calls that ran in a worker (an in-process decode adds nothing)."""
    answers: list[Any] = []
    run = decode_worker.run

    def spy(*args: Any, **kwargs: Any) -> Any:
        answers.append(run(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(decode_worker, "run", spy)
    return answers


def _in_process(source: Any, limits: ImageLimits | None = None) -> Image.Image:
    """What the app's own process decodes (the worker off)."""
    was = decode_worker.ENABLED
    decode_worker.ENABLED = False
    try:
        return load_image(source, limits or ImageLimits())
    finally:
        decode_worker.ENABLED = was


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode == "RGB" and a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return noisy_jpeg2000(tmp_path_factory.mktemp("jp2") / "noise.jp2", 300)


def test_a_jpeg2000_decoded_in_a_worker_equals_the_in_process_decode(noise: Path, in_worker: list[Any]) -> None:
    reduced = ImageLimits(max_slow_pixels=30_000)  # 300² → 150²
    for limits, size in ((ImageLimits(), (300, 300)), (reduced, (150, 150))):
        image = load_image(noise, limits)
        assert image.size == size
        assert _same(image, _in_process(noise, limits))
    rgba = io.BytesIO()  # transparency over white, as in the app's process
    alpha = np.random.default_rng(1).integers(0, 256, (120, 160, 4), dtype=np.uint8)
    Image.fromarray(alpha, "RGBA").save(rgba, "JPEG2000")
    assert _same(load_image(rgba.getvalue()), _in_process(rgba.getvalue()))
    assert len(in_worker) == 3


def test_a_qoi_decoded_in_a_worker_equals_the_in_process_decode(in_worker: list[Any]) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (90, 130, 4), dtype=np.uint8)
    pixels[:, :40] = (10, 200, 30, 255)  # runs and repeats, for the decoder's other paths
    qoi = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(qoi, "QOI")
    assert _same(load_image(qoi.getvalue()), _in_process(qoi.getvalue()))
    assert len(in_worker) == 1


def test_errors_from_the_worker_are_the_in_process_ones(noise: Path, in_worker: list[Any]) -> None:
    cut = noise.read_bytes()[:20_000]  # the header is whole: opened and checked here, the decode fails in the worker
    with pytest.raises(InputError) as there:
        load_image(cut)
    with pytest.raises(InputError) as here:
        _in_process(cut)
    assert there.value.message == here.value.message
    assert str(there.value).startswith("The image could not be read: the file is damaged or incomplete.")
    assert load_image(noise).size == (300, 300)
    assert len(in_worker) == 1  # the failed call raised; the next one used a worker again


def test_fast_formats_are_decoded_in_process(in_worker: list[Any]) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(png, "PNG")
    assert load_image(png.getvalue()).size == (64, 48)
    assert in_worker == []


def test_the_app_keeps_running_python_while_a_slow_decode_runs(tmp_path: Path, in_worker: list[Any]) -> None:
    """In the app's process the JPEG 2000 decoder holds the GIL: this thread would not run until it ends."""
    path = noisy_jpeg2000(tmp_path / "big.jp2", 1300)  # 1.7 MP of noise: ~1.2 s to decode here
    load_image(noisy_jpeg2000(tmp_path / "warm.jp2", 32))  # the worker started
    done: list[float] = []

    def decode() -> None:
        began = time.perf_counter()
        load_image(path)
        done.append(time.perf_counter() - began)

    decoder = threading.Thread(target=decode)
    began = last = time.perf_counter()
    gaps, spins = [], 0
    decoder.start()
    while decoder.is_alive():
        time.sleep(0.01)
        spins += 1
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    decoder.join()
    assert done, "the decode failed"
    took = time.perf_counter() - began
    assert took > 0.5, f"the decode took {took:.2f} s: too fast to tell"
    # in the app's process: one gap as long as the decode; here only the scheduler's (a loaded 2-core machine)
    assert max(gaps) < min(0.5, took / 2), f"this thread stood still {max(gaps):.2f} s of the decode's {took:.2f} s"
    assert spins > took / 0.05
    assert len(in_worker) == 2


def test_a_decode_over_the_time_budget_is_killed_and_the_next_gets_a_new_worker(
    noise: Path, monkeypatch: pytest.MonkeyPatch, in_worker: list[Any]
) -> None:
    load_image(noise)  # a worker is running
    before = {worker.process.pid for worker in decode_worker._get_pool().idle}
    big = noisy_jpeg2000(noise.with_name("budget.jp2"), 700)  # ~0.3 s to decode, at the fastest
    budget = decode_worker.TIME_BUDGET_S
    monkeypatch.setattr(decode_worker, "TIME_BUDGET_S", 0.02)
    began = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_image(big)
    assert time.perf_counter() - began < 2
    assert str(info.value) == (
        "This JPEG2000 image took too long to decode (over 0.02 s): save it as PNG or JPEG and upload it again."
    )
    assert "PNG" in info.value.text("zh-CN")
    monkeypatch.setattr(decode_worker, "TIME_BUDGET_S", budget)
    pool = decode_worker._get_pool()
    assert pool.started == len(pool.idle)  # the killed worker is gone, not counted
    assert before - {worker.process.pid for worker in pool.idle}, "the killed worker is still in the pool"
    assert _same(load_image(big), _in_process(big))
    assert len(in_worker) == 2  # the first decode and the last: the timed-out one raised


def test_without_a_worker_the_decode_runs_in_process(
    noise: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> None:
        raise OSError("no subprocesses here")

    monkeypatch.setattr(decode_worker, "_pool", None)
    monkeypatch.setattr(decode_worker, "_unavailable", None)
    monkeypatch.setattr(decode_worker, "_Worker", refuse)
    with caplog.at_level(logging.WARNING, logger=decode_worker.__name__):
        assert _same(load_image(noise), _in_process(noise))
        assert load_image(noise).size == (300, 300)  # not tried again within the period
    assert [r.getMessage() for r in caplog.records] == [
        "Slow image decodes run in the app's process: no decode worker could start (OSError: no subprocesses here)"
    ]
    # A passing shortage: once the period is over the pool is tried again, and workers run the decodes once more.
    monkeypatch.undo()
    monkeypatch.setattr(decode_worker, "_pool", None)
    monkeypatch.setattr(decode_worker, "_unavailable", "OSError: no subprocesses here")
    monkeypatch.setattr(decode_worker, "_unavailable_since", time.monotonic() - decode_worker.RETRY_AFTER_S - 1)
    assert _same(load_image(noise), _in_process(noise))
    assert decode_worker._unavailable is None and decode_worker._get_pool().idle
    decode_worker.shutdown()  # this test's pool: the one before it comes back when the patches are undone


def test_a_worker_that_ended_while_idle_is_replaced(noise: Path, in_worker: list[Any]) -> None:
    load_image(noise)
    pool = decode_worker._get_pool()
    for worker in pool.idle:
        worker.process.kill()
        worker.process.wait(5)
    assert _same(load_image(noise), _in_process(noise))
    assert len(in_worker) == 2
    assert all(worker.process.poll() is None for worker in pool.idle)
