"""Speech with known words for measuring speech recognition (``benchmarks/whisper_decoding.py``, the tests):
every clip with sound that gradio ships (``gradio.media``), with references written down below, and speech
synthesised by espeak-ng from known texts (:mod:`.tts`, :data:`mmdemo.evaluation.datasets.SPOKEN`).

How the references of gradio's clips were set (nobody could listen here): by agreement of Whisper tiny.en run
four ways (transformers float32, faster-whisper's defaults in int8 and float32, CTranslate2 beam search), and by
looking at the signal where they disagree:

* ``heath_ledger.mp3``, ``cate_blanch_2.mp3``: every way agrees (``GRADIO_SPEECH``).
* ``cate_blanch.mp3``: agreed except the last word but one: "sever your mind" (float32, beam search) against
  "set you on my note/left/foot" (int8 greedy, faster-whisper's int8 defaults, transformers beam 5). The line is
  Marion's from *Robin Hood* (2010), as far as we remember it "… I will sever your manhood", and tiny.en scores
  "mind" and "manhood" alike: either counts (``{mind|manhood}``).
* ``audio_sample.wav``: 1 s cut from the middle of a sound (weakly voiced from 0.33 s to the end): "Thank you."
  (faster-whisper), "Mmm." (transformers greedy), "You" (transformers beam 5). No certain words: timed only.
* ``recording1.wav`` (a cheer) and the videos ``a.mp4``, ``b.mp4``, ``b.avi``, ``world.mp4`` (music and sound, no
  speech: Silero VAD finds none; Whisper's "you" on them is its well-known filler for non-speech): no words.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..evaluation.datasets import GRADIO_SPEECH

RATE = 16_000
CATE_BLANCH = (
    "I sleep with a dagger. If you so much as move to touch me, I will sever your {mind|manhood}. You understand?"
)
"""``cate_blanch.mp3`` (see the module doc for the marked word)."""
RUN_ON_WPM = 175
REAL_LOOP = (
    "Our train left the city at dawn, and followed the river north through farmland, and small towns a conductor "
    "walked through the carriages selling coffee, and then which is from a metal car near noon the valley narrowed, "
    "and the line began to climb in long curves, and the water we passed free tunnels, and the my doctor read stone "
    "that crossed a deep gorgeous mountain station, there was cold, and smelled of pine, and the mass was waiting to "
    "take us to the lake, I even we had found a room with a balcony, and a new and the snow on the beach, the museum "
    "opened a new hall for the history of flight last spring visitors" + ", and the water" * 23
)
"""A real repetition loop: the second segment Whisper tiny.en (CTranslate2 int8, beam 2, conditioned on the previous
text) wrote for the run-on text (:func:`run_on_text` at :data:`RUN_ON_WPM`) on an AMD EPYC with oneDNN limited to
AVX2. Whether, where and how beam search loops depends on the CPU's int8 kernels (on an Intel Xeon beam 3 looped:
"the sea, and the sea, …"), so tests that need a loop on every CPU put this one in."""
NO_WORDS = ""
GRADIO_CLIPS: dict[str, str | None] = {
    "heath_ledger.mp3": GRADIO_SPEECH["heath_ledger.mp3"],
    "cate_blanch.mp3": CATE_BLANCH,
    "cate_blanch_2.mp3": GRADIO_SPEECH["cate_blanch_2.mp3"],
    "audio_sample.wav": None,
    "recording1.wav": NO_WORDS,
    "a.mp4": NO_WORDS,
    "b.mp4": NO_WORDS,
    "b.avi": NO_WORDS,
    "world.mp4": NO_WORDS,
}
"""Every gradio clip with sound → its words (``""``: no words; None: not certain, timed only)."""


@dataclass(frozen=True)
class Clip:
    """One recording: its file (what a plain library call reads), its samples at 16 kHz and its words."""

    name: str
    group: str
    path: Path
    samples: np.ndarray
    reference: str | None

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def run_on_text() -> str:
    """The three talks without punctuation: spoken almost without pauses (at :data:`RUN_ON_WPM` words a minute)."""
    from .tts import TALKS

    return re.sub(r"[.,]\s*", " ", " ".join(TALKS.values()))


def gradio_clips() -> list[Clip]:
    """:data:`GRADIO_CLIPS`, decoded by the app's own audio decoding."""
    from gradio.media import get_audio, get_video

    from ..media.audio import load_audio

    clips = []
    for name, reference in GRADIO_CLIPS.items():
        path = Path(get_video(name) if name.endswith((".mp4", ".avi")) else get_audio(name))
        group = "gradio speech" if reference else "gradio no words" if reference == NO_WORDS else "gradio unsure"
        clips.append(Clip(name, group, path, load_audio(path, sample_rate=RATE).samples, reference))
    return clips


def _write(samples: np.ndarray, path: Path) -> Path:
    import soundfile as sf

    sf.write(path, samples, RATE, subtype="PCM_16")
    return path


def espeak_clips(work: Path) -> list[Clip]:
    """espeak-ng speaking known texts: the evaluation set's eight sentences (US and UK voices, 150–175 words
    per minute), the three talks (:data:`.tts.TALKS`, ~30 s each), and the long ones: the three talks back to
    back with half-second pauses (~95 s), the same text without punctuation (~84 s: almost no pauses, so cuts
    fall inside speech), and gradio's ``cate_blanch.mp3`` seven times (57 s of one sentence repeated)."""
    from gradio.media import get_audio

    from ..evaluation.datasets import SPOKEN
    from ..media.audio import load_audio
    from .tts import TALKS, synthesize

    work = Path(work)
    clips = []
    for i, (voice, wpm, text) in enumerate(SPOKEN, start=1):
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
            samples = load_audio(raw, sample_rate=RATE).samples
        clips.append(
            Clip(f"sentence {i}", "espeak sentences", _write(samples, work / f"sentence-{i}.wav"), samples, text)
        )
    talks = {}
    for name, text in TALKS.items():
        path = synthesize(text, work / f"{name}.wav")
        talks[name] = load_audio(path, sample_rate=RATE).samples
        clips.append(Clip(name, "espeak talks", path, talks[name], text))
    pause = np.zeros(RATE // 2, np.float32)
    joined = np.concatenate([x for samples in talks.values() for x in (samples, pause)])
    text = " ".join(TALKS.values())
    clips.append(Clip("three talks", "long", _write(joined, work / "three-talks.wav"), joined, text))
    path = synthesize(run_on_text(), work / "run-on.wav", words_per_minute=RUN_ON_WPM)
    clips.append(Clip("run-on", "long", path, load_audio(path, sample_rate=RATE).samples, run_on_text()))
    cate = load_audio(get_audio("cate_blanch.mp3"), sample_rate=RATE).samples
    repeated = np.concatenate([x for _ in range(7) for x in (cate, np.zeros(int(0.3 * RATE), np.float32))])
    path = _write(repeated, work / "cate-x7.wav")
    clips.append(Clip("one sentence ×7", "long", path, repeated, " ".join([CATE_BLANCH] * 7)))
    return clips
