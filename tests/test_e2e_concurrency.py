"""Many users at once: a quick request is not held behind a long one, abandoned work stops and frees its
lane, and repeated summaries leave no files outside Gradio's cache. Bounded, not timed: each test checks
an order of events or a generous upper bound (figures are in benchmarks/fair_queue.py)."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mmdemo.testing.http import browser_call, call_raw, upload
from mmdemo.testing.odd_videos import long_talk
from mmdemo.testing.text_images import render_text


@pytest.fixture(scope="module")
def talk(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 3-minute talk (speech all through, six scenes), uploaded: its summary keeps the video lane busy."""
    return upload(app_url, str(long_talk(tmp_path_factory.mktemp("talk") / "talk.mp4", minutes=3)))


def _summary_args(video: dict) -> list:
    return [video, 12, True, True, True, "auto"]


def test_quick_request_finishes_while_a_long_one_runs(app_url: str, talk: dict, tmp_path: Path) -> None:
    sign = upload(app_url, str(render_text(["OPEN DAILY"], tmp_path / "sign.png") and tmp_path / "sign.png"))
    assert call_raw(app_url, "ocr", [sign, 0.5]).event == "complete"  # warm
    started, finished = threading.Event(), threading.Event()
    outcome: list[str] = []

    def long_job() -> None:
        for message in browser_call(app_url, "summarize", _summary_args(talk), timeout=600):
            if message.get("msg") == "process_starts":
                started.set()
            if message.get("msg") == "process_completed":
                outcome.append("ok" if message.get("success") else str(message.get("output")))
        finished.set()

    threading.Thread(target=long_job, daemon=True).start()
    assert started.wait(60)
    time.sleep(0.5)  # into the job
    quick = call_raw(app_url, "ocr", [sign, 0.5])
    assert quick.event == "complete" and quick.data[1] == "OPEN DAILY"
    assert not finished.is_set(), "the OCR request waited for the whole summary"
    assert finished.wait(600) and outcome == ["ok"]


def test_abandoned_job_stops_and_frees_its_lane(app_url: str, talk: dict, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mmdemo.ui.events")
    progress_seen = 0
    for message in browser_call(app_url, "summarize", _summary_args(talk), timeout=600):
        if message.get("msg") == "progress":
            progress_seen += 1
            if progress_seen == 3:
                break  # the browser tab is closed: the connection goes away
    assert progress_seen == 3
    gone = time.monotonic()
    while time.monotonic() - gone < 30 and not any("client went away" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    stopped = [r for r in caplog.records if "client went away" in r.getMessage()]
    assert stopped and "summarize" in stopped[0].getMessage()
    # The lane is free: a short summary runs now, not after the abandoned one would have finished.
    began = time.monotonic()
    assert call_raw(app_url, "summarize", [talk, 1, False, False, False, "extractive"]).event == "complete"
    assert time.monotonic() - began < 30


def test_summaries_leave_no_files_outside_gradios_cache(
    app_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty summaries (every kind of output file) leave nothing in the temporary folder outside Gradio's cache.
    The app runs in this process: its temporary folder is pointed at an empty one of this test's own (Gradio's
    cache stays where it is), so files other processes write to /tmp cannot be mistaken for the app's."""
    from gradio.media import get_video
    from gradio.utils import get_upload_folder

    video = upload(app_url, get_video("a.mp4"))
    args = [video, 1, True, False, True, "extractive"]  # every kind of output file, quickly
    assert call_raw(app_url, "summarize", args).event == "complete"  # warm: lazy imports may create caches
    cache = Path(get_upload_folder()).resolve()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for _ in range(20):
        result = call_raw(app_url, "summarize", args)
        assert result.event == "complete"
        reports = [f["path"] for f in result.data[4]]
        assert reports and all(Path(p).is_file() for p in reports)
    assert all(Path(p).resolve().is_relative_to(cache) for p in reports)
    assert sorted(temp.iterdir()) == []
