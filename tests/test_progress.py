"""The one progress helper: a stage's 0–1 on its share of the caller's bar."""

from __future__ import annotations

import pytest

from mmdemo.progress import sub_range


def test_a_stage_maps_onto_its_share_never_going_back() -> None:
    seen: list[tuple[float, str]] = []
    stage = sub_range(lambda f, m: seen.append((f, m)), 0.2, 0.6)
    assert stage is not None
    for fraction, message in [(0.0, "a"), (0.5, "b"), (0.25, "reloaded"), (1.0, "c"), (-1.0, "low"), (7.0, "high")]:
        stage(fraction, message)
    assert [f for f, _ in seen] == pytest.approx([0.2, 0.4, 0.4, 0.6, 0.6, 0.6])  # clamped, never back
    assert [m for _, m in seen] == ["a", "b", "reloaded", "c", "low", "high"]  # messages passed on as they are


def test_a_labelled_stage_prefixes_its_messages_and_none_stays_none() -> None:
    seen: list[tuple[float, str]] = []
    stage = sub_range(lambda f, m: seen.append((f, m)), 0.0, 0.5, label="1/5 Decoding")
    assert stage is not None
    stage(1.0, "done")
    assert seen == [(0.5, "1/5 Decoding: done")]
    assert sub_range(None, 0.0, 1.0) is None and sub_range(None, 0.0, 1.0, label="x") is None
