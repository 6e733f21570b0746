"""The emotion tab's options are declared once (mmdemo/tasks/audio_emotion.py): the API gate and the command line
take the same windows and hops and refuse the same ones with the same sentence; the one check between two options
(the hop at most the window) is the task's, in the visitor's language. What the tab shows (emotion words, the
summary, the notes) is keyed too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media.audio import Audio
from mmdemo.messages import Message
from mmdemo.tasks.audio_emotion import (
    HOP_SECONDS,
    TEXT_WEIGHT,
    WINDOW_SECONDS,
    AnalysisOptions,
    EmotionResult,
    WindowEmotion,
)

HOP_OVER_WINDOW = "Hop (s) (hop_seconds) must not be more than Window (s) (window_seconds) (got 5; at most 2)."
HOP_OVER_WINDOW_ZH = "步长（秒）（hop_seconds）不能大于窗口（秒）（window_seconds）（收到的是 5；最多 2）。"


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    import soundfile as sf

    path = tmp_path / "speech.wav"
    sf.write(path, np.zeros(16_000, np.float32), 16_000)
    return path


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[AnalysisOptions]:
    """The CLI's call of the task, stopped once the options passed (no model is loaded): what it was given."""
    from mmdemo.tasks import audio_emotion

    seen: list[AnalysisOptions] = []

    def analyze(audio: Any, *, options: AnalysisOptions, **_: Any) -> None:
        seen.append(options.validated())
        raise InputError(Message("emotion.no_speech"))

    monkeypatch.setattr(audio_emotion, "analyze_emotion", analyze)
    return seen


def _gate(param: Any, value: Any) -> Any:
    """The API gate's check of ``value`` sent to the page's widget for ``param``."""
    from mmdemo.ui.gate import check_value
    from mmdemo.ui.widgets import slider

    return check_value(slider(param), value, "ignored: the declaration names its field")


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    from mmdemo.cli import main

    code = main(["emotion", *argv])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("param", "flag", "value"),
    [
        (WINDOW_SECONDS, "--window-seconds", 0.4),
        (WINDOW_SECONDS, "--window-seconds", 31),
        (HOP_SECONDS, "--hop-seconds", 0.05),
        (HOP_SECONDS, "--hop-seconds", 31),
        (TEXT_WEIGHT, "--text-weight", 1.5),
    ],
)
def test_the_api_gate_and_the_cli_refuse_the_same_values_with_the_same_sentence(
    recording: Path, capsys: pytest.CaptureFixture, param: Any, flag: str, value: float
) -> None:
    from mmdemo.ui.gate import GateError

    with pytest.raises(GateError) as gate:
        _gate(param, float(value))  # the value the CLI reads (argparse: float)
    code, err = _cli(capsys, str(recording), flag, str(value))
    assert code == 2 and err == f"error: {gate.value.message}"
    assert f"({param.name})" in err


def test_a_20_second_window_is_taken_by_the_api_and_the_cli(
    recording: Path, capsys: pytest.CaptureFixture, reached: list[AnalysisOptions]
) -> None:
    """The page took 0.5–10 s and the CLI 0.5–30 s: both take 30 s windows now (and hops up to the window)."""
    assert _gate(WINDOW_SECONDS, 20) == 20.0 and _gate(HOP_SECONDS, 5) == 5.0
    code, err = _cli(capsys, str(recording), "--window-seconds", "20", "--hop-seconds", "5")
    assert code == 2 and err.startswith("error: No speech detected")  # the options passed: the recording is silent
    assert (reached[-1].window_seconds, reached[-1].hop_seconds) == (20.0, 5.0)


def test_a_hop_longer_than_the_window_is_refused_once_by_the_task_in_the_visitors_language(
    recording: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each value on its own is fine (the gate passes both); the task refuses the pair, in the visitor's language."""
    assert (_gate(WINDOW_SECONDS, 2), _gate(HOP_SECONDS, 5)) == (2.0, 5.0)
    with pytest.raises(InputError) as err:
        AnalysisOptions(window_seconds=2, hop_seconds=5).validated()
    assert str(err.value) == HOP_OVER_WINDOW
    assert err.value.text("zh-CN") == HOP_OVER_WINDOW_ZH
    assert _cli(capsys, str(recording), "--window-seconds", "2", "--hop-seconds", "5") == (
        2,
        f"error: {HOP_OVER_WINDOW}",
    )


def test_the_browsers_check_before_a_run_is_the_tasks_own_and_speaks_chinese() -> None:
    """The page's quick check (before any lane is waited for) calls the task's check: the same refusal, rendered in
    the language of a zh-CN browser's request."""
    from types import SimpleNamespace

    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.ui.audio_emotion import emotion_given
    from mmdemo.ui.events import precheck
    from mmdemo.ui.i18n import current_request

    check = precheck(ModelManager(Settings(device="cpu", offline=True)), (), emotion_given)
    token = current_request.set(SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"}))
    try:
        with pytest.raises(Exception) as err:
            check("/tmp/anything.wav", 2.0, 5.0, True, 0.5)
    finally:
        current_request.reset(token)
    assert err.value.message == HOP_OVER_WINDOW_ZH


def test_the_older_cli_spellings_still_work() -> None:
    from mmdemo.cli import build_parser

    args = build_parser().parse_args(["emotion", "a.wav", "--window", "4", "--hop", "2", "--no-transcript"])
    assert (args.window_seconds, args.hop_seconds, args.use_transcript) == (4.0, 2.0, False)
    args = build_parser().parse_args(["emotion", "a.wav"])
    assert (args.window_seconds, args.hop_seconds, args.use_transcript, args.text_weight, args.language) == (
        3.0,
        1.5,
        True,
        0.5,
        None,
    )


def test_the_api_and_mcp_help_say_the_declared_limits() -> None:
    from mmdemo.ui.audio_emotion import emotion

    doc = emotion.__doc__ or ""
    assert "window_seconds: seconds of voice per estimate (0.5-30)" in doc
    assert "hop_seconds: seconds between window starts (at most the window) (0.1-30)" in doc
    assert "text_weight: weight of the words in the overall estimate (0 = voice only, 1 = words only) (0-1)" in doc


def test_an_unknown_speech_language_is_refused_by_its_declaration() -> None:
    with pytest.raises(InputError) as err:
        AnalysisOptions(language="x" * 17).validated()
    assert str(err.value) == "Language (language) is too long (17 characters; at most 16)."
    assert err.value.text("zh-CN").startswith("语言（language）")
    assert AnalysisOptions(language=" en ").validated().language == "en"


# --- what the tab shows ------------------------------------------------------------------------------


def _result() -> EmotionResult:
    audio = Audio(np.zeros(32_000, np.float32), 16_000, 16_000, 1, "array")
    return EmotionResult(
        fused={"happy": 0.6, "sad": 0.4},
        acoustic={"happy": 0.6, "sad": 0.4},
        text=None,
        windows=(WindowEmotion(0.0, 2.0, {"happy": 0.6, "sad": 0.4}),),
        transcript=None,
        duration=2.0,
        sources=("voice",),
        notes=(Message("emotion.no_words"), Message("emotion.left_out", labels="x")),
        model_ids={},
        seconds=0.1,
        audio=audio,
        renamed={"voice": {"hap": "happy", "neu": "neutral"}},
    )


def test_the_summary_and_the_emotion_words_in_english_and_chinese() -> None:
    from mmdemo.ui.audio_emotion import describe, in_words, timeline_frame

    result = _result()
    english = describe(result)
    # one plain sentence, the warning a visitor needs, then the rest folded under "Details"
    headline, warning, details = english.split("\n\n", 2)
    assert headline == "**Happy** (60%) from the voice"
    assert warning.startswith("⚠️ No words were recognised in the speech")
    assert details.startswith("<details><summary>Details</summary>") and details.endswith("</details>")
    assert "2.0 s of audio · 1 windows (1 with speech)" in details
    assert "Emotion names are shared by every view. Voice model: `hap` → happy, `neu` → neutral." in details
    assert "The voice model has no x label" in details and "⚠️ The voice model" not in english
    chinese = describe(result, "zh-CN")
    assert chinese.startswith("**开心**（60%），依据声音\n\n⚠️ 语音中没有识别出任何词语")
    assert "<summary>详细信息</summary>" in chinese and "2.0 秒音频 · 1 个窗口（1 个有语音）" in chinese
    assert "各个视图使用同一套情绪名称。声音模型：`hap` → 开心、`neu` → 中性。" in chinese
    assert in_words(result.fused) == {"happy": 0.6, "sad": 0.4}  # API clients: the words as the results name them
    assert in_words(result.fused, "zh-CN") == {"开心": 0.6, "悲伤": 0.4}
    assert set(timeline_frame(result, "zh-CN")["emotion"]) == {"开心", "悲伤"}
    assert list(timeline_frame(result).columns) == ["time", "emotion", "probability"]


def test_words_the_model_does_not_name_stay_as_they_are() -> None:
    from mmdemo.tasks.audio_emotion import emotion_word, labels_note

    assert emotion_word("happy").text("zh-CN") == "开心"
    assert emotion_word("bored") == "bored" and emotion_word("Not a key!") == "Not a key!"
    note = labels_note({"voice": {"neu": "neutral"}, "words": {"joy": "happy"}})
    assert str(note) == "Emotion names are shared by every view. Voice model: neu → neutral. Words model: joy → happy."
    assert note.text("zh-CN") == "各个视图使用同一套情绪名称。声音模型：neu → 中性。话语模型：joy → 开心。"
    assert labels_note({}) == ""
