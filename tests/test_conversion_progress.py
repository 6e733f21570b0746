"""A conversion's moving progress bar (``mmdemo.models.conversion``): while a slow conversion runs, the callback of
the load that started it gets growing fractions under 1 with the seconds left, then "taking longer than expected";
each conversion's time is recorded beside the model's conversions and sets the next estimate; without a callback
nothing ticks, and no thread outlives the conversion. A fake conversion (a sleep) stands in for OpenVINO's; the
tiny model through the app's own loader is in ``test_openvino.py``."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mmdemo.errors import Cancelled
from mmdemo.models import conversion
from mmdemo.models import progress_lines as lines
from mmdemo.models.conversion import ConversionCache

CACHE = ConversionCache("test", "MMDEMO_TEST_CONVERSION_CACHE", ("done",))
PARAMETERS = round(1e6 / conversion.DEFAULT_SECONDS_PER_MILLION)
"""A model the default rate converts in 1 s (the shortest estimate, too)."""
CONVERT_S = 1.5
"""How long the fake conversion takes: past the 1 s estimate."""
TICKER = "mmdemo-conversion-progress"
LINE = "Converting the text to image model for this CPU (once): "


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE.env, str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    return model


def slow_convert(out: Path) -> None:
    time.sleep(CONVERT_S)
    (out / "done").write_text("ok")


def tickers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == TICKER]


def recorded(folder: Path) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads((CACHE.root(folder) / conversion.TIMES_FILE).read_text())["runs"]
    return runs


def convert_reporting(folder: Path, key: str) -> list[tuple[float, Any]]:
    """Convert ``key`` of ``folder`` as a load with a progress callback does; the callback's calls."""
    calls: list[tuple[float, Any]] = []
    with conversion.reporting(lambda fraction, message: calls.append((fraction, message)), "Text to image"):
        target, converted = CACHE.get(folder, key, slow_convert, parameters=lambda: PARAMETERS)
    assert converted and (target / "done").read_text() == "ok"
    return calls


def test_a_slow_conversion_moves_the_bar_then_says_it_takes_longer(folder: Path) -> None:
    calls = convert_reporting(folder, "k1")
    fractions = [fraction for fraction, _ in calls]
    texts = [str(message) for _, message in calls]
    assert len(calls) >= 3  # every 0.5 s of 1.5 s, from the start
    assert fractions[0] == 0.0 and all(a < b for a, b in itertools.pairwise(fractions))
    assert max(fractions) < 0.95
    late = texts.index(f"{LINE}taking longer than expected…")  # from 1 s on (the tick at 1 s, at 1.5 s)
    assert late >= 1 and texts[:late] == [f"{LINE}about 1 s left…"] * late  # 1 s estimate, 0.5 s left rounded up
    assert texts[late:] == [f"{LINE}taking longer than expected…"] * (len(calls) - late)
    assert calls[-1][1].text("zh-CN") == "正在为此 CPU 转换文生图模型（仅此一次）：耗时比预计的长…"
    assert not tickers()
    (run,) = recorded(folder)
    assert run["parameters"] == PARAMETERS and CONVERT_S <= run["seconds"] < CONVERT_S + 1


def test_the_recorded_time_sets_the_next_estimate(folder: Path) -> None:
    convert_reporting(folder, "k1")
    (first,) = recorded(folder)
    root = CACHE.root(folder)
    assert conversion.estimate_seconds(root, PARAMETERS) == pytest.approx(first["seconds"])  # was 1 s
    assert conversion.estimate_seconds(root, 2 * PARAMETERS) == pytest.approx(2 * first["seconds"])  # per parameter
    calls = convert_reporting(folder, "k2")  # another key of the same model (a new OpenVINO version …)
    assert str(calls[0][1]) == f"{LINE}about {math.ceil(first['seconds'])} s left…"  # the 1.5 s measured, rounded up
    assert len(recorded(folder)) == 2 and not tickers()


def test_the_estimate_is_the_median_rate_of_the_last_runs(tmp_path: Path) -> None:
    assert conversion.estimate_seconds(tmp_path, 866_000_000) == pytest.approx(38.97)  # SD-Turbo's UNet, default
    assert conversion.estimate_seconds(tmp_path, 253_364) == 1.0  # the tiny test UNet: the shortest estimate
    runs = [{"parameters": 1e6, "seconds": 10}, {"parameters": 2e6, "seconds": 40}, {"parameters": 1e6, "seconds": 30}]
    (tmp_path / conversion.TIMES_FILE).write_text(json.dumps({"runs": runs}))
    assert conversion.estimate_seconds(tmp_path, 3e6) == pytest.approx(60.0)  # rates 10, 20, 30 s per M: 20
    for seconds in (1, 2, 3, 4, 5):
        conversion._record_time(tmp_path, 1_000_000, seconds)
    assert [run["seconds"] for run in json.loads((tmp_path / conversion.TIMES_FILE).read_text())["runs"]] == [
        1, 2, 3, 4, 5
    ]  # fmt: skip
    (tmp_path / conversion.TIMES_FILE).write_text("not json")
    assert conversion.estimate_seconds(tmp_path, 866_000_000) == pytest.approx(38.97)  # unreadable: the default


def test_the_fraction_grows_and_never_reaches_the_end() -> None:
    assert [conversion.conversion_fraction(t, 40) for t in (0, 20, 40, 80)] == pytest.approx([0, 0.45, 0.9, 0.925])
    assert conversion.conversion_fraction(1e9, 40) < 0.95
    assert str(lines.converting("Text to image", 38.2)) == f"{LINE}about 40 s left…"  # in fives from 10 s
    assert str(lines.converting("Text to image", 4.2)) == f"{LINE}about 5 s left…"  # whole seconds below


def test_without_a_callback_nothing_ticks(folder: Path) -> None:
    seen: list[list[threading.Thread]] = []

    def convert(out: Path) -> None:
        seen.append(tickers())
        time.sleep(0.1)  # recorded to the hundredth: a time of 0 would say nothing
        (out / "done").write_text("ok")

    with conversion.reporting(None, "Text to image"):  # what a load without a callback sets
        CACHE.get(folder, "k1", convert, parameters=lambda: PARAMETERS)
    CACHE.get(folder, "k2", convert, parameters=lambda: PARAMETERS)  # nothing set: the CLI, a preload
    assert seen == [[], []]
    assert len(recorded(folder)) == 2  # still measured for the next estimate


def test_the_count_and_the_estimate_are_worked_out_only_when_needed(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached conversion asks nothing (no parameter count: the UNet's headers are not read); a conversion
    without a waiting bar counts the parameters (for the record) but reads no estimate."""
    counted: list[int] = []
    estimated: list[float] = []
    real_estimate = conversion.estimate_seconds

    def count() -> int:
        counted.append(PARAMETERS)
        return PARAMETERS

    def estimate(root: Path, parameters: int) -> float:
        estimated.append(parameters)
        return real_estimate(root, parameters)

    monkeypatch.setattr(conversion, "estimate_seconds", estimate)
    CACHE.get(folder, "k1", slow_convert, parameters=count)  # no bar waiting
    assert counted == [PARAMETERS] and estimated == [] and len(recorded(folder)) == 1
    with conversion.reporting(lambda fraction, message: None, "Text to image"):
        _, converted = CACHE.get(folder, "k1", slow_convert, parameters=count)  # cached
        assert not converted and counted == [PARAMETERS] and estimated == []
        CACHE.get(folder, "k2", slow_convert, parameters=count)  # a bar waits: now the estimate
    assert counted == [PARAMETERS] * 2 and estimated == [PARAMETERS]


def test_a_visitor_who_left_stops_the_ticker_not_the_conversion(folder: Path) -> None:
    calls: list[float] = []

    def gone(fraction: float, message: Any) -> None:
        calls.append(fraction)
        raise Cancelled

    with conversion.reporting(gone, "Text to image"):
        target, converted = CACHE.get(folder, "k1", slow_convert, parameters=lambda: PARAMETERS)
    assert converted and (target / "done").is_file()
    assert calls == [0.0] and not tickers()  # the first tick raised


def test_a_failed_conversion_leaves_no_ticker_and_no_record(folder: Path) -> None:
    def broken(out: Path) -> None:
        time.sleep(0.6)
        raise RuntimeError("killed")

    calls: list[float] = []
    with conversion.reporting(lambda fraction, message: calls.append(fraction), "Text to image"):
        with pytest.raises(RuntimeError, match="killed"):
            CACHE.get(folder, "k1", broken, parameters=lambda: PARAMETERS)
    assert calls[0] == 0.0 and not tickers()  # it ticked, and stopped with the failure
    assert not (CACHE.root(folder) / conversion.TIMES_FILE).exists()
