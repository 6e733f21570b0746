"""The audio emotion tab: a recording (upload or microphone) → emotion overall, over time, from the words, fused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.audio import probe_duration, require_audio
from ..media.files import Upload
from ..media.spectrogram import spectrogram_image
from ..messages import Message, Page, text
from ..models.manager import ModelManager
from ..params import documented
from ..tasks.audio_emotion import (
    HOP_SECONDS,
    OPTIONS,
    TEXT_WEIGHT,
    USE_TRANSCRIPT,
    WINDOW_SECONDS,
    AnalysisOptions,
    EmotionResult,
    analyze_emotion,
    emotion_word,
    labels_note,
)
from .availability import FEATURES, AvailabilityView
from .events import model_event, progress_to, run_controls
from .i18n import request_locale, tr
from .models_panel import model_name
from .send_to import Ports
from .widgets import checkbox, slider

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "audio"
EXAMPLES = ["cate_blanch.mp3", "heath_ledger.mp3", "recording1.wav"]
TIMELINE_COLUMNS = ["time", "emotion", "probability"]
"""The timeline's columns: the plot's fields (x, colour, y), not shown as text (the plot's titles are)."""
RECORDING = "the recording of speech (WAV, MP3, FLAC, OGG, M4A, WebM …)"
"""What the audio parameter is, for the API page and MCP (how to send it is added from ui/file_params.py)."""


def word(label: str, locale: str = "en") -> str:
    """A plain emotion word of the results as the visitor reads it (``happy`` → 开心 for zh-CN)."""
    return text(emotion_word(label), locale)


def in_words(probabilities: Mapping[str, float] | None, locale: str = "en") -> dict[str, float] | None:
    """A distribution for a ``gr.Label``: its emotion words in the visitor's language (API clients: English)."""
    if probabilities is None:
        return None
    return {word(label, locale): p for label, p in probabilities.items()}


def timeline_frame(result: EmotionResult, locale: str = "en") -> Any:
    """The voice timeline as a long DataFrame: one row per (window with speech, label); time = window centre
    (a lone window: its start and its end); the emotion words in ``locale``."""
    import pandas as pd

    voiced = [w for w in result.windows if w.probabilities is not None]
    # One window (a clip no longer than the window) would be a single point, which a line plot does not
    # draw: show it as a flat segment over the time it covers.
    times = [(w.start, w.end) for w in voiced] if len(voiced) == 1 else [((w.start + w.end) / 2,) for w in voiced]
    rows = [
        (round(t, 3), word(label, locale), round(p, 4))
        for w, ts in zip(voiced, times, strict=True)
        for t in ts
        for label, p in (w.probabilities or {}).items()
    ]
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


MAX_PLOT_POINTS = 1500


def prosody_frames(result: EmotionResult) -> tuple[Any, Any]:
    """Pitch (voiced frames only) and loudness over time as DataFrames, thinned for long recordings."""
    import numpy as np
    import pandas as pd

    prosody = result.prosody
    if prosody is None or len(prosody.times) == 0:
        return pd.DataFrame(columns=["time", "pitch"]), pd.DataFrame(columns=["time", "loudness"])
    step = max(1, -(-len(prosody.times) // MAX_PLOT_POINTS))
    times = np.round(prosody.times[::step], 2)
    pitch = prosody.pitch_hz[::step]
    voiced = ~np.isnan(pitch)
    return (
        pd.DataFrame({"time": times[voiced], "pitch": np.round(pitch[voiced], 1)}),
        pd.DataFrame({"time": times, "loudness": np.round(prosody.loudness_db[::step], 1)}),
    )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:04.1f}"


def transcript_text(result: EmotionResult) -> str:
    """One line per recognised segment, with its time span; empty without a transcript."""
    if result.transcript is None:
        return ""
    return "\n".join(f"[{_clock(s.start)}–{_clock(s.end)}] {s.text}" for s in result.transcript.segments)


DETAIL_NOTES = ("emotion.without.", "asr.", "emotion.left_out", "emotion.no_shared_labels", "emotion.padded")
"""Notes (by key prefix) for the Details section, not the result: which model was missing or stood in (the note
at the top of the tab says what is missing, once), and how the labels were matched."""


def _is_detail(note: Message | str) -> bool:
    return isinstance(note, Message) and note.key.startswith(DETAIL_NOTES)


def details_block(lines: list[str], locale: str = "en") -> str:
    """``lines`` folded under a "Details" summary (Markdown inside HTML ``<details>``); empty without lines."""
    if not lines:
        return ""
    body = "\n\n".join(lines)
    return f"<details><summary>{Message('result.details').text(locale)}</summary>\n\n{body}\n\n</details>"


def describe(result: EmotionResult, locale: str = "en", titles: Mapping[str, str] | None = None) -> str:
    """Markdown summary in ``locale``: one plain sentence (the top emotion and what it rests on, or why there is
    none), the warnings a visitor needs, and a folded Details section with the rest (what was analysed, the model
    time, how it was said, the models by ``titles``: role → page title, the label matching, the notes on missing
    models)."""
    windows = len(result.windows)
    voiced = sum(w.voiced for w in result.windows)
    top = result.top
    if top and result.fused:
        shown = word(top, locale)
        basis = Message("emotion.basis." + "_".join(result.sources))
        headline = Message(
            "emotion.summary.headline",
            word=shown[:1].upper() + shown[1:],
            share=f"{result.fused[top]:.0%}",
            basis=basis,
        )
    else:
        headline = Message("emotion.summary.no_estimate")
    facts = [Message("emotion.summary.audio", seconds=f"{result.duration:.1f}")]
    if windows:
        facts.append(Message("emotion.summary.windows", count=windows, voiced=voiced))
    if result.transcript is not None and result.transcript.language:
        facts.append(Message("emotion.summary.language", language=result.transcript.language))
    facts.append(Message("emotion.summary.model_time", seconds=f"{result.seconds:.2f}"))
    voice = []
    if result.prosody is not None and result.prosody.median_pitch_hz is not None:
        voice.append(Message("emotion.summary.median_pitch", hz=f"{result.prosody.median_pitch_hz:.0f}"))
        if result.prosody.pitch_range_semitones is not None:
            semitones = f"{result.prosody.pitch_range_semitones:.1f}"
            voice.append(Message("emotion.summary.pitch_range", semitones=semitones))
    if result.prosody is not None and result.prosody.speaking_rate_wpm is not None:
        voice.append(Message("emotion.summary.rate", wpm=f"{result.prosody.speaking_rate_wpm:.0f}"))
    said = " · ".join(part.text(locale) for part in voice)
    models = [
        Message(
            "emotion.summary.model",
            title=Page((titles or {}).get(role, role)),
            model=f"`{model_name(model_id, locale)}`",
        ).text(locale)
        for role, model_id in result.model_ids.items()
    ]
    shown_notes = [note for note in result.notes if note != Message("emotion.no_estimate")]
    details = [
        " · ".join(part.text(locale) for part in facts),
        Message("emotion.summary.how", parts=said).text(locale) if voice else "",
        Message("emotion.summary.models", models=" · ".join(models)).text(locale) if models else "",
        text(
            labels_note({source: {f"`{a}`": b for a, b in names.items()} for source, names in result.renamed.items()}),
            locale,
        ),
        *(text(note, locale) for note in shown_notes if _is_detail(note)),
    ]
    lines = [
        headline.text(locale),
        *(f"⚠️ {text(note, locale)}" for note in shown_notes if not _is_detail(note)),
        details_block([line for line in details if line], locale),
    ]
    return "\n\n".join(line for line in lines if line)


def _has_confidences(value: Any) -> bool:
    """Whether a ``gr.Label``'s value (as the page sends it back) holds a distribution."""
    return isinstance(value, dict) and bool(value.get("confidences"))


def _changes_over_time(value: Any) -> bool:
    """Whether a timeline (the plot's value as the page sends it back) has two estimates that differ: one window
    (drawn as a flat segment over its span) is no timeline."""
    columns = list((value or {}).get("columns") or []) if isinstance(value, dict) else []
    rows = (value or {}).get("data") or [] if isinstance(value, dict) else []
    if not rows or "time" not in columns or "probability" not in columns or "emotion" not in columns:
        return False
    t, e, p = columns.index("time"), columns.index("emotion"), columns.index("probability")
    by_time: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        by_time.setdefault(row[t], ())
        by_time[row[t]] += ((row[e], row[p]),)
    return len({tuple(sorted(estimate)) for estimate in by_time.values()}) > 1


def shown_results(fused: Any, timeline: Any, words: Any, voice: Any, pitch: Any = None) -> list[Any]:
    """What the page shows after a run: the emotion boxes that hold a result, the timeline only when it changes
    over time, the pitch plot only with voiced frames (no empty boxes, no collapsed plot; the summary says what is
    missing, once)."""
    return [
        gr.update(visible=_has_confidences(fused)),
        gr.update(visible=_changes_over_time(timeline)),
        gr.update(visible=_has_confidences(words)),
        gr.update(visible=_has_confidences(voice)),
        gr.update(visible=isinstance(pitch, dict) and bool(pitch.get("data"))),
    ]


def time_axes(loudness: Any) -> list[Any]:
    """x limits [0, end of the recording] for the timeline, pitch and loudness plots (from the loudness
    curve, which covers the whole recording); unchanged when there is none."""
    columns = list(getattr(loudness, "columns", None) or [])
    rows = getattr(loudness, "data", None) or []
    if "time" not in columns or not rows:
        return [gr.update(), gr.update(), gr.update()]
    column = columns.index("time")
    end = max(max(float(row[column]) for row in rows), 0.5)
    return [gr.update(x_lim=[0, round(end, 2)]) for _ in range(3)]


AXIS_TITLES: dict[str, dict[str, str]] = {
    "timeline": {"x_title": "time (s, window centre)", "y_title": "probability", "color_title": "Emotion"},
    "pitch": {"x_title": "time (s)", "y_title": "pitch (Hz)"},
    "loudness": {"x_title": "time (s)", "y_title": "loudness (dBFS)"},
}
"""The plots' axis and legend titles (page text). Gradio 6 translates a plot's titles in the browser only when it
is drawn as the page loads: a plot shown later (the timeline, the pitch plot) would show its translation key
(``__i18n__{…}``), so each run sets them as text in the visitor's language (:func:`axis_titles`)."""


def axis_titles() -> list[Any]:
    """Updates of the timeline, pitch and loudness plots: their :data:`AXIS_TITLES` in the request's language."""
    locale = request_locale()
    return [gr.update(**{k: Page(v).text(locale) for k, v in titles.items()}) for titles in AXIS_TITLES.values()]


def plots_after_run(loudness: Any) -> list[Any]:
    """The three plots after a run: :func:`time_axes` and :func:`axis_titles` in one update each."""
    return [{**axes, **titles} for axes, titles in zip(time_axes(loudness), axis_titles(), strict=True)]


def gpu_seconds(audio: Upload | None = None, *_: Any, **__: Any) -> float:
    """ZeroGPU time to ask for: loading slack plus ~0.1 s per second of audio (Whisper turbo + HuBERT on an
    A100-class GPU are far faster than real time); 10 minutes when the length is unknown."""
    seconds = probe_duration(audio) or 600.0
    return min(20.0 + 0.1 * seconds, 120.0)


Outputs = tuple[dict[str, float] | None, Any, str, dict[str, float] | None, dict[str, float] | None, Any, Any, Any, str]


@documented(OPTIONS, audio=RECORDING)
def emotion(
    manager: ModelManager,
    audio: Upload,
    window_seconds: float = WINDOW_SECONDS.default,
    hop_seconds: float = HOP_SECONDS.default,
    use_transcript: bool = USE_TRANSCRIPT.default,
    text_weight: float = TEXT_WEIGHT.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> Outputs:
    """How a speaker feels: emotion from the voice over time (sliding windows), from the transcribed
    words, and both fused; with the transcript, spectrogram, pitch and loudness."""
    options = AnalysisOptions(window_seconds, hop_seconds, use_transcript, text_weight)
    result = analyze_emotion(audio, options=options, manager=manager, progress=progress_to(progress))
    locale = request_locale()
    spectrogram = spectrogram_image(result.audio.samples, result.audio.sample_rate)
    pitch, loudness = prosody_frames(result)
    titles = {role: manager.specs[role].title for role in result.model_ids if role in manager.specs}
    return (
        in_words(result.fused, locale),
        timeline_frame(result, locale),
        transcript_text(result),
        in_words(result.text, locale),
        in_words(result.acoustic, locale),
        spectrogram,
        pitch,
        loudness,
        describe(result, locale, titles),
    )


def emotion_given(
    audio: Upload | None,
    window_seconds: float = WINDOW_SECONDS.default,
    hop_seconds: float = HOP_SECONDS.default,
    use_transcript: bool = USE_TRANSCRIPT.default,
    text_weight: float = TEXT_WEIGHT.default,
) -> None:
    """The browser's check before a run, the task's own: a recording is there, and the options go together
    (:meth:`~mmdemo.tasks.audio_emotion.AnalysisOptions.validated`: the hop at most the window)."""
    require_audio(audio)
    AnalysisOptions(window_seconds, hop_seconds, use_transcript, text_weight).validated()


VOICE = Message("availability.without.voice_emotion")
WORDS = Message("availability.without.text_emotion")
TRANSCRIPT = (Message("availability.without.offline_asr"), Message("availability.without.no_transcript"))
"""The emotion feature's optional roles as :data:`~mmdemo.ui.availability.FEATURES` names them, by what the feature
lacks without each: the voice model, the words model, and the recognisers (either one gives the transcript)."""


def fillable_boxes(manager: ModelManager) -> dict[str, bool]:
    """Which emotion boxes a run can fill on this server (``voice``, ``words``, ``overall``: either), from the models
    the emotion feature uses (files only, as the tab's notice): the words need their model and a transcript."""
    (feature,) = (f for f in FEATURES["emotion"] if f.endpoint == "emotion")
    usable: dict[Message, bool] = {}
    for role, without in feature.optional:
        usable[without] = role in manager.specs and manager.availability(role).usable
    voice = usable[VOICE]
    words = usable[WORDS] and any(usable[without] for without in TRANSCRIPT)
    return {"voice": voice, "words": words, "overall": voice or words}


def build_audio_emotion_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    seconds = manager.settings.max_audio_seconds
    # An emotion box is drawn only where a run can fill it (no empty box before a run: the notice at the top says
    # what is missing, once); the box of the overall emotion is shown for a run's progress (``reveal``).
    fillable = fillable_boxes(manager)
    gr.Markdown(
        tr(
            "How does the speaker feel? From the voice over time and from the words (up to {minutes} minutes).",
            minutes=f"{seconds / 60:g}",
        ),
        elem_classes="tab-intro",
    )
    view.notice("emotion")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            audio = gr.Audio(
                label=tr("Speech"),
                sources=["upload", "microphone"],
                type="filepath",
                elem_id="emotion-audio",
            )
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[audio],
                label=tr("Example recordings"),
                elem_id="emotion-examples",
            )
            with gr.Accordion(tr("Options"), open=False):
                window = slider(WINDOW_SECONDS)
                hop = slider(HOP_SECONDS)
                use_transcript = checkbox(USE_TRANSCRIPT)
                weight = slider(TEXT_WEIGHT)
            button = gr.Button(tr("Analyse"), variant="primary", elem_id="emotion-button")
            controls = run_controls("emotion")
            # The headline result directly under the button (on a phone the columns stack).
            fused = gr.Label(
                label=tr("Overall emotion"), num_top_classes=8, visible=fillable["overall"], elem_id="emotion-overall"
            )
            summary = gr.Markdown(label=tr("Summary and notes"), elem_id="emotion-notes")
        with gr.Column(scale=1, min_width=300):
            timeline = gr.LinePlot(
                x="time",
                y="probability",
                color="emotion",
                **{k: tr(v) for k, v in AXIS_TITLES["timeline"].items()},
                y_lim=[0, 1],
                label=tr("Voice emotion over time"),
                visible=False,  # shown by a run whose estimate changes over time (an empty plot is a 40 px strip)
                elem_id="emotion-timeline",
            )
            transcript = gr.Textbox(
                label=tr("Transcript"), lines=4, interactive=False, buttons=["copy"], elem_id="emotion-transcript"
            )
            to_prompt = gr.Button(tr("Use as a prompt"), size="sm", elem_id="emotion-to-prompt")
            with gr.Row():
                text_label = gr.Label(label=tr("From the words"), visible=fillable["words"], elem_id="emotion-text")
                voice_label = gr.Label(label=tr("From the voice"), visible=fillable["voice"], elem_id="emotion-voice")
            with gr.Accordion(tr("Spectrogram, pitch and loudness"), open=False, elem_id="emotion-prosody"):
                spectrogram = gr.Image(
                    label=tr("Spectrogram (mel scale)"),
                    type="numpy",
                    interactive=False,
                    height=200,
                    elem_id="emotion-spectrogram",
                )
                pitch_plot = gr.ScatterPlot(  # points: unvoiced gaps stay gaps instead of being bridged by lines
                    x="time",
                    y="pitch",
                    **{k: tr(v) for k, v in AXIS_TITLES["pitch"].items()},
                    label=tr("Pitch"),
                    elem_id="emotion-pitch",
                )
                loudness_plot = gr.LinePlot(
                    x="time",
                    y="loudness",
                    **{k: tr(v) for k, v in AXIS_TITLES["loudness"].items()},
                    label=tr("Loudness"),
                    elem_id="emotion-loudness",
                )

    event = model_event(
        button.click,
        partial(emotion, manager),
        [audio, window, hop, use_transcript, weight],
        [fused, timeline, transcript, text_label, voice_label, spectrogram, pitch_plot, loudness_plot, summary],
        api_name="emotion",
        lane="emotion",
        gpu_duration=gpu_seconds,
        manager=manager,
        check=emotion_given,
        controls=controls,
        reveal=[fused],  # its progress is drawn there (the first output), also when the last run left it hidden
    )
    # The plots' titles as text in the visitor's language from the click on, before the run's plots arrive (a plot
    # drawn first with the titles it was built with would show their keys until the update below came).
    plots, quiet = [timeline, pitch_plot, loudness_plot], {"queue": False, "show_progress": "hidden"}
    button.click(axis_titles, None, plots, api_visibility="private", **quiet)
    # Every plot's time axis from 0 to the end of the recording (a 3-second clip has one window: the plot
    # would otherwise zoom onto that one point; the loudness curve spans the whole decoded recording), and its
    # titles in the visitor's language (Gradio leaves them untranslated in a plot shown after the load).
    event.success(plots_after_run, loudness_plot, plots, api_visibility="private", **quiet)
    # Only the results there are: no empty emotion box (a model missing here), no timeline of one window; after a
    # run (.success), or an error or a Stop (.failure: the results kept), the box shown for the progress included.
    # (Gradio's page runs .failure after either, and .then after a Stop as well: it would run this twice.)
    shown = [fused, timeline, text_label, voice_label, pitch_plot]
    for chain in (event.success, event.failure):
        chain(
            shown_results, shown, shown, preprocess=False, queue=False, show_progress="hidden", api_visibility="private"
        )
    after(event)
    return Ports(texts=[(to_prompt, transcript)])
