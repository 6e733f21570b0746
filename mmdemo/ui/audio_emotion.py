"""The audio emotion tab: a recording (upload or microphone) → emotion overall, over time, from the words, fused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.audio import probe_duration, spectrogram_image
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks.audio_emotion import AnalysisOptions, EmotionResult, analyze_emotion
from .common import model_event, progress_to

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "audio"
EXAMPLES = ["cate_blanch.mp3", "heath_ledger.mp3", "recording1.wav"]
TIMELINE_COLUMNS = ["time", "emotion", "probability"]


def timeline_frame(result: EmotionResult) -> Any:
    """The voice timeline as a long DataFrame: one row per (window with speech, label); time = window centre."""
    import pandas as pd

    rows = [
        (round((w.start + w.end) / 2, 3), label, round(p, 4))
        for w in result.windows
        if w.probabilities is not None
        for label, p in w.probabilities.items()
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


def describe(result: EmotionResult) -> str:
    """Markdown summary: the top emotion, what it rests on, what was analysed, and the notes."""
    windows = len(result.windows)
    voiced = sum(w.voiced for w in result.windows)
    top = result.top
    headline = (
        f"**{top.capitalize()}** ({result.fused[top]:.0%}) from the {' and the '.join(result.sources)}"
        if top and result.fused
        else "**No emotion estimate** (see the notes below)"
    )
    parts = [headline, f"{result.duration:.1f} s of audio"]
    if windows:
        parts.append(f"{windows} windows ({voiced} with speech)")
    if result.transcript is not None and result.transcript.language:
        parts.append(f"language: {result.transcript.language}")
    parts.append(f"model time {result.seconds:.2f} s")
    models = " · ".join(f"{role}: `{public_model_id(model_id)}`" for role, model_id in result.model_ids.items())
    voice = []
    if result.prosody is not None and result.prosody.median_pitch_hz is not None:
        voice.append(f"median pitch {result.prosody.median_pitch_hz:.0f} Hz")
        if result.prosody.pitch_range_semitones is not None:
            voice.append(f"pitch range {result.prosody.pitch_range_semitones:.1f} semitones")
    if result.prosody is not None and result.prosody.speaking_rate_wpm is not None:
        voice.append(f"{result.prosody.speaking_rate_wpm:.0f} words a minute")
    prosody = ("How it was said: " + " · ".join(voice)) if voice else ""
    lines = [" · ".join(parts), prosody, models, *(f"⚠️ {note}" for note in result.notes)]
    return "\n\n".join(line for line in lines if line)


def gpu_seconds(audio: Any = None, *_: Any, **__: Any) -> float:
    """ZeroGPU time to ask for: loading slack plus ~0.1 s per second of audio (Whisper turbo + HuBERT on an
    A100-class GPU are far faster than real time); 10 minutes when the length is unknown."""
    seconds = probe_duration(audio) or 600.0
    return min(20.0 + 0.1 * seconds, 120.0)


def build_audio_emotion_tab(manager: ModelManager, after: Callable[[Any], Any]) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""

    def analyse(
        audio: Any,
        window_seconds: float = 3.0,
        hop_seconds: float = 1.5,
        use_transcript: bool = True,
        text_weight: float = 0.5,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[dict[str, float] | None, Any, str, dict[str, float] | None, dict[str, float] | None, Any, Any, Any, str]:
        options = AnalysisOptions(
            window_seconds=window_seconds,
            hop_seconds=hop_seconds,
            use_transcript=use_transcript,
            text_weight=text_weight,
        )
        result = analyze_emotion(audio, options=options, manager=manager, progress=progress_to(progress))
        spectrogram = spectrogram_image(result.audio.samples, result.audio.sample_rate)
        pitch, loudness = prosody_frames(result)
        return (
            result.fused,
            timeline_frame(result),
            transcript_text(result),
            result.text,
            result.acoustic,
            spectrogram,
            pitch,
            loudness,
            describe(result),
        )

    seconds = manager.settings.max_audio_seconds
    gr.Markdown(
        "How does the speaker feel? Upload a recording or use the microphone. The voice is analysed in "
        "overlapping windows (emotion over time); the speech is also transcribed and the words classified; "
        f"both are fused into one estimate. Up to {seconds / 60:g} minutes of audio."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            audio = gr.Audio(
                label="Speech",
                sources=["upload", "microphone"],
                type="filepath",
                elem_id="emotion-audio",
            )
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[audio],
                label="Example recordings (click one, then Analyse)",
                elem_id="emotion-examples",
            )
            with gr.Accordion("Windows and fusion", open=False):
                window = gr.Slider(0.5, 10, value=3.0, step=0.5, label="Window (seconds of voice per estimate)")
                hop = gr.Slider(0.25, 10, value=1.5, step=0.25, label="Hop (seconds between windows; ≤ window)")
                use_transcript = gr.Checkbox(value=True, label="Transcribe and fuse with the emotion of the words")
                weight = gr.Slider(0, 1, value=0.5, step=0.05, label="Weight of the words in the fused estimate")
            button = gr.Button("Analyse", variant="primary", elem_id="emotion-button")
            spectrogram = gr.Image(
                label="Spectrogram (mel scale, time left to right)",
                type="numpy",
                interactive=False,
                height=170,
                elem_id="emotion-spectrogram",
            )
            with gr.Accordion("Prosody: how it was said (pitch and loudness, no model needed)", open=True):
                pitch_plot = gr.ScatterPlot(  # points: unvoiced gaps stay gaps instead of being bridged by lines
                    x="time",
                    y="pitch",
                    x_title="time (s)",
                    y_title="pitch (Hz)",
                    label="Pitch",
                    elem_id="emotion-pitch",
                )
                loudness_plot = gr.LinePlot(
                    x="time",
                    y="loudness",
                    x_title="time (s)",
                    y_title="loudness (dBFS)",
                    label="Loudness",
                    elem_id="emotion-loudness",
                )
        with gr.Column(scale=1):
            fused = gr.Label(label="Overall emotion (fused)", num_top_classes=8, elem_id="emotion-overall")
            summary = gr.Markdown(elem_id="emotion-notes")
            timeline = gr.LinePlot(
                x="time",
                y="probability",
                color="emotion",
                x_title="time (s, window centre)",
                y_lim=[0, 1],
                label="Voice emotion over time",
                elem_id="emotion-timeline",
            )
            transcript = gr.Textbox(
                label="Transcript", lines=4, interactive=False, buttons=["copy"], elem_id="emotion-transcript"
            )
            with gr.Row():
                text_label = gr.Label(label="From the words", elem_id="emotion-text")
                voice_label = gr.Label(label="From the voice", elem_id="emotion-voice")

    after(
        model_event(
            button.click,
            analyse,
            [audio, window, hop, use_transcript, weight],
            [fused, timeline, transcript, text_label, voice_label, spectrogram, pitch_plot, loudness_plot, summary],
            api_name="emotion",
            lane="emotion",
            gpu_duration=gpu_seconds,
        )
    )
