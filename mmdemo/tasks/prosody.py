"""Prosody without a model: pitch contour (YIN), loudness and speaking rate of a speech recording.

How something is said carries emotion too (raised pitch and a wide pitch range with arousal, a flat
low voice with sadness). These measures need no weights, so they work on any install.

Pitch is YIN (de Cheveigné & Kawahara, 2002) vectorised with numpy over 64 ms frames every 20 ms,
computed in blocks so memory stays bounded on long audio; frames that are silent or not periodic
enough have no pitch (NaN). Loudness is per 20 ms frame too (one frame per pitch hop): the audio emotion
path measures it once per clip (:class:`~mmdemo.media.audio.Loudness`) and hands it in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..media.audio import Loudness

HOP_SECONDS = 0.02
FRAME = 1024
"""Samples per pitch frame at 16 kHz (64 ms: two periods of the lowest pitch searched)."""
FMIN, FMAX = 65.0, 400.0
"""Pitch search range in Hz: low male voices to high female and children's voices."""
THRESHOLD = 0.1
"""YIN's aperiodicity threshold (the paper's value): the first dip under it is the period."""
LOOSE_THRESHOLD = 0.3
"""Frames with no dip under THRESHOLD are voiced if their deepest dip is under this (compressed or noisy speech)."""
BLOCK = 2048
"""Frames per vectorised block (bounds memory: ~2048 × 2 × 1024 floats)."""


@dataclass(frozen=True)
class Prosody:
    times: np.ndarray
    """Frame centres in seconds (every 20 ms)."""
    pitch_hz: np.ndarray
    """Fundamental frequency per frame; NaN where the frame is silent or not voiced."""
    loudness_db: np.ndarray
    """RMS level per frame in dB below full scale."""
    median_pitch_hz: float | None
    pitch_range_semitones: float | None
    """Spread of the pitch between its 10th and 90th percentiles (how animated the voice is)."""
    voiced_fraction: float
    """Share of the frames with sound that have a pitch."""
    speaking_rate_wpm: float | None
    """Words of the transcript per minute of sound; None without a transcript."""


def yin_pitch(samples: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Pitch in Hz per hop (NaN where not periodic), by YIN's cumulative-mean-normalised difference."""
    samples = np.asarray(samples, dtype=np.float32)
    tau_min = max(2, int(sample_rate / FMAX))
    tau_max = min(FRAME // 2, int(sample_rate / FMIN) + 1)
    n_frames = max(0, 1 + (len(samples) - FRAME) // hop) if len(samples) >= FRAME else 0
    pitch = np.full(n_frames, np.nan, dtype=np.float32)
    for start in range(0, n_frames, BLOCK):
        idx = np.arange(start, min(start + BLOCK, n_frames))
        frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[idx * hop].astype(np.float64)
        frames -= frames.mean(axis=1, keepdims=True)
        spectrum = np.fft.rfft(frames, 2 * FRAME, axis=1)
        acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : tau_max + 1]
        energy = np.cumsum(frames**2, axis=1)
        lags = np.arange(tau_max + 1)
        head = energy[:, FRAME - 1 - lags]  # sum of x_j^2, j < FRAME - tau
        tail = energy[:, -1:] - np.concatenate([np.zeros((len(idx), 1)), energy[:, lags[1:] - 1]], axis=1)
        diff = np.maximum(head + tail - 2 * acf, 0.0)
        cumulative = np.cumsum(diff[:, 1:], axis=1)
        cmnd = np.ones_like(diff)
        cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(cumulative, 1e-12)
        search = cmnd[:, tau_min : tau_max + 1]
        below = search < THRESHOLD
        first = below.argmax(axis=1)
        # from the first lag under the threshold, go down to the bottom of that dip; with no lag under it,
        # YIN takes the deepest dip, which still counts as voiced if it is clearly periodic
        window = np.minimum(first[:, None] + np.arange(tau_min), search.shape[1] - 1)
        dip = first + np.take_along_axis(search, window, axis=1).argmin(axis=1)
        deepest = search.argmin(axis=1)
        strict = below.any(axis=1)
        tau = np.where(strict, dip, deepest) + tau_min
        has = strict | (search.min(axis=1) < LOOSE_THRESHOLD)
        # parabolic interpolation around the minimum for sub-sample precision
        left = np.take_along_axis(cmnd, np.maximum(tau - 1, 0)[:, None], axis=1)[:, 0]
        mid = np.take_along_axis(cmnd, tau[:, None], axis=1)[:, 0]
        right = np.take_along_axis(cmnd, np.minimum(tau + 1, tau_max)[:, None], axis=1)[:, 0]
        denominator = left - 2 * mid + right
        usable = np.abs(denominator) > 1e-12
        shift = np.divide(0.5 * (left - right), denominator, out=np.zeros_like(denominator), where=usable)
        refined = tau + np.clip(shift, -1, 1)
        hz = sample_rate / refined
        pitch[idx] = np.where(has & (hz >= FMIN) & (hz <= FMAX), hz, np.nan)
    return pitch


def analyze_prosody(
    samples: np.ndarray, sample_rate: int, words: int | None = None, loudness: Loudness | None = None
) -> Prosody:
    """Pitch, loudness and speaking rate of mono ``samples`` (16 kHz is what the audio tab passes).

    ``words``: how many words were recognised in the recording, for the speaking rate. ``loudness``: the
    clip's loudness already measured on these samples in frames of :data:`HOP_SECONDS` (measured here without).
    """
    hop = max(1, round(HOP_SECONDS * sample_rate))
    if loudness is None:
        loudness = Loudness.measure(samples, sample_rate, HOP_SECONDS)
    elif (loudness.sample_rate, loudness.frame, len(loudness.levels_db)) != (sample_rate, hop, -(-len(samples) // hop)):
        raise ValueError(f"prosody needs the loudness of these samples in frames of {hop} samples at {sample_rate} Hz")
    levels, sound = loudness.levels_db, loudness.sound
    pitch = yin_pitch(samples, sample_rate, hop)
    # align: pitch frame i starts at i * hop and is centred FRAME / 2 later
    n = min(len(pitch), len(levels))
    pitch, levels, sound = pitch[:n], levels[:n], sound[:n]
    pitch = np.where(sound, pitch, np.nan).astype(np.float32)
    times = (np.arange(n) * hop + FRAME / 2) / sample_rate
    voiced = pitch[~np.isnan(pitch)]
    median = float(np.median(voiced)) if voiced.size >= 5 else None
    spread = None
    if voiced.size >= 5:
        low, high = np.percentile(voiced, [10, 90])
        spread = float(12 * np.log2(high / low))
    sound_seconds = float(sound.sum()) * HOP_SECONDS
    rate = words / (sound_seconds / 60) if words and sound_seconds > 0 else None
    return Prosody(
        times=times.astype(np.float32),
        pitch_hz=pitch,
        loudness_db=levels.astype(np.float32),
        median_pitch_hz=median,
        pitch_range_semitones=spread,
        voiced_fraction=float(voiced.size / sound.sum()) if sound.any() else 0.0,
        speaking_rate_wpm=rate,
    )
