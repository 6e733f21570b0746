"""Audio decoding and validation: every container a browser sends, odd rates/channels/lengths, bad files, limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmdemo.errors import InputError
from mmdemo.media.audio import Audio, AudioLimits, frame_levels_db, load_audio, resample, voiced_frames
from mmdemo.media.files import Upload
from mmdemo.media.spectrogram import AXIS_COLOUR, frequency_ticks, spectrogram_box, spectrogram_image, time_ticks
from mmdemo.testing.odd_audio import BAD_AUDIO_WORDS, GAP_SECONDS, GOOD_AUDIO, speech

SPEECH_SECONDS = 7.884  # cate_blanch.mp3 as decoded at 16 kHz (the odd files are cut from it)
DECODE_ONLY_BAD = [n for n in BAD_AUDIO_WORDS if n not in ("silence.wav", "near_silent.wav")]


@pytest.mark.parametrize("name", GOOD_AUDIO)
def test_every_good_file_decodes_to_mono_float(odd_audio: dict[str, Path], name: str) -> None:
    audio = load_audio(odd_audio[name], sample_rate=16_000)
    assert isinstance(audio, Audio) and audio.sample_rate == 16_000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert np.isfinite(audio.samples).all() and 0 < np.abs(audio.samples).max() <= 1.5
    expected = {"short_0.1s.wav": 0.1, "speech_gap.wav": 10.0}.get(name, SPEECH_SECONDS)
    if name == "truncated.mp3":
        assert 0.3 * SPEECH_SECONDS < audio.duration < 0.7 * SPEECH_SECONDS
        assert audio.warnings and "ended early" in str(audio.warnings[0])
    else:
        assert audio.duration == pytest.approx(expected, abs=0.05), audio.duration  # codec padding ≤ 50 ms
        assert audio.warnings == ()


@pytest.mark.parametrize(
    ("name", "decoder", "rate", "channels"),
    [
        ("speech.wav", "soundfile", 16_000, 1),
        ("speech.mp3", "soundfile", 16_000, 1),
        ("speech_opus.ogg", "soundfile", 48_000, 1),
        ("speech.m4a", "pyav", 44_100, 1),
        ("speech.webm", "pyav", 48_000, 1),
        ("speech_8k.wav", "soundfile", 8_000, 1),
        ("stereo_48k.wav", "soundfile", 48_000, 2),
    ],
)
def test_decoder_and_source_format(odd_audio: dict[str, Path], name: str, decoder: str, rate: int, channels: int):
    audio = load_audio(odd_audio[name])
    assert (audio.decoder, audio.source_rate, audio.sample_rate, audio.source_channels) == (
        decoder,
        rate,
        rate,
        channels,
    )
    assert len(audio.at_rate(16_000).samples) == pytest.approx(audio.duration * 16_000, abs=2)


def test_decoded_speech_matches_the_source_across_codecs(odd_audio: dict[str, Path]) -> None:
    """Lossless files give the same samples; lossy ones stay strongly correlated with the original."""
    reference = speech(16_000)
    for name, tolerance in [("speech.wav", 1e-3), ("speech_float.wav", 1e-6), ("speech.flac", 1e-3)]:
        decoded = load_audio(odd_audio[name]).samples
        assert np.abs(decoded - reference).max() < tolerance, name
    for name in ["speech.mp3", "speech.ogg", "speech.m4a", "speech.webm", "stereo_48k.wav", "speech_8k.wav"]:
        decoded = load_audio(odd_audio[name], sample_rate=16_000).samples
        n = min(len(decoded), len(reference))
        # codecs delay the signal a little: best correlation within ±60 ms
        best = max(
            np.corrcoef(decoded[max(0, s) : n + min(0, s)], reference[max(0, -s) : n - max(0, s)])[0, 1]
            for s in range(-960, 961, 8)
        )
        assert best > 0.8, (name, best)


@pytest.mark.parametrize("name", DECODE_ONLY_BAD)
def test_bad_files_are_refused_with_a_clear_message(odd_audio: dict[str, Path], name: str) -> None:
    with pytest.raises(InputError) as info:
        load_audio(odd_audio[name])
    message = str(info.value)
    assert BAD_AUDIO_WORDS[name].lower() in message.lower(), message
    assert "Traceback" not in message and str(odd_audio[name]) not in message


@pytest.mark.parametrize("name", ["silence.wav", "near_silent.wav"])
def test_silent_files_decode_but_have_no_sound(odd_audio: dict[str, Path], name: str) -> None:
    audio = load_audio(odd_audio[name])
    assert audio.duration == pytest.approx(3.0)
    assert not voiced_frames(frame_levels_db(audio.samples, audio.sample_rate)).any()


@pytest.mark.parametrize("name", ["speech.wav", "speech.mp3", "speech.m4a", "speech.webm", "stereo_48k.wav"])
def test_duration_limit_for_every_decoder(odd_audio: dict[str, Path], name: str) -> None:
    with pytest.raises(InputError, match=r"too long \(7\.\d+ s; the limit is 5 s\)"):
        load_audio(odd_audio[name], AudioLimits(max_seconds=5))
    assert load_audio(odd_audio[name], AudioLimits(max_seconds=9)).duration < 9


def test_size_limit_is_checked_before_reading(odd_audio: dict[str, Path]) -> None:
    size = odd_audio["speech.wav"].stat().st_size
    with pytest.raises(InputError, match="too large"):
        load_audio(odd_audio["speech.wav"], AudioLimits(max_bytes=size - 1))
    with pytest.raises(InputError, match="too large"):
        load_audio(odd_audio["speech.wav"].read_bytes(), AudioLimits(max_bytes=size - 1))


def test_size_is_checked_once_per_input(odd_audio: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A path: from the file system before reading; bytes: their length. Never a second time after that."""
    import mmdemo.media.audio as audio_module
    import mmdemo.media.files as files_module

    checks: list[int] = []
    original = files_module.check_file_size

    def counted(size: int, *args: object) -> None:
        checks.append(size)
        original(size, *args)

    monkeypatch.setattr(files_module, "check_file_size", counted)
    monkeypatch.setattr(audio_module, "check_file_size", counted)
    path = odd_audio["speech.wav"]
    for source in (path, str(path), Upload(path, "speech.wav"), path.read_bytes()):
        checks.clear()
        load_audio(source)
        assert checks == [path.stat().st_size], type(source).__name__
    with pytest.raises(InputError, match="empty"):
        load_audio(b"")


def test_every_source_kind(odd_audio: dict[str, Path]) -> None:
    path = odd_audio["speech.flac"]
    expected = load_audio(path).samples
    for source in (str(path), path, path.read_bytes(), Upload(path, "x.flac")):
        assert np.array_equal(load_audio(source).samples, expected)
    from gradio.data_classes import FileData

    # Gradio's file objects are unwrapped once, at the page's gate (into an Upload): not taken here.
    for wrapped in ({"path": str(path), "orig_name": "x.flac"}, FileData(path=str(path))):
        with pytest.raises(InputError, match="Unsupported audio input"):
            load_audio(wrapped)
    audio = load_audio(path)
    assert load_audio(audio) is audio


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (None, "No audio"),
        ("", "No audio"),
        ({"path": None}, "Unsupported audio input"),
        ("/no/such/file.wav", "could not be found"),
        ("https://example.com/a.wav", "Links"),
        (12, "Unsupported audio input"),
    ],
)
def test_bad_sources(source: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_audio(source)


def test_numpy_tuples_as_gradio_sends_them() -> None:
    rate = 44_100
    left = (np.sin(np.linspace(0, 2000 * np.pi, rate)) * 16_000).astype(np.int16)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # (samples, channels), as gr.Audio(type="numpy")
    audio = load_audio((rate, stereo))
    assert audio.source_channels == 2 and audio.decoder == "array"
    np.testing.assert_allclose(audio.samples, left / 32768 / 2, atol=1e-6)  # the channels are averaged
    assert np.array_equal(load_audio((rate, stereo.T)).samples, audio.samples)  # (channels, samples) too
    assert np.abs(load_audio((8000, np.full(8000, 128, np.uint8))).samples).max() == 0  # unsigned PCM centre
    floats = load_audio((16_000, np.array([0.5, np.nan, np.inf, -0.5] * 400, np.float32)))
    assert np.isfinite(floats.samples).all()
    assert len(load_audio((rate, stereo), sample_rate=16_000).samples) == 16_000


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ((0, np.zeros(1000)), "sample rate"),
        (("x", np.zeros(1000)), "not a number"),
        ((16_000, np.zeros((2, 2, 2000))), "shape"),
        ((16_000, np.zeros(1000, dtype=complex)), "sample type"),
        ((16_000, np.zeros(0, np.float32)), "zero length"),
        ((16_000, np.zeros(100, np.float32)), "too short"),
        ((1000, np.zeros(700_000, np.float32)), "too long"),
    ],
)
def test_bad_arrays(source: tuple, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_audio(source)


def test_resample_keeps_pitch_and_length() -> None:
    rate = 48_000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, rate, 16_000)
    assert out.dtype == np.float32 and len(out) == 16_000
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)  # 1 s of audio: bin = Hz
    assert resample(tone, rate, rate) is tone


def test_levels_and_speech_detection() -> None:
    rate = 16_000
    full_scale_sine = np.sin(2 * np.pi * 100 * np.arange(rate) / rate).astype(np.float32)
    levels = frame_levels_db(full_scale_sine, rate)
    assert len(levels) == 40 and np.allclose(levels, -3.01, atol=0.05)  # RMS of a sine = 1/√2
    assert len(frame_levels_db(full_scale_sine[:1000], rate)) == 3  # the partial last frame counts
    quiet_then_loud = np.concatenate([full_scale_sine * 1e-3, full_scale_sine])  # -63 dB, then -3 dB
    voiced = voiced_frames(frame_levels_db(quiet_then_loud, rate))
    assert not voiced[:40].any() and voiced[40:].all()
    background = np.concatenate([full_scale_sine * 0.01, full_scale_sine])  # -43 dB: > 35 dB below the peak
    assert voiced_frames(frame_levels_db(background, rate)).sum() == 40
    assert voiced_frames(np.zeros(0)).size == 0


def test_spectrogram_picture(odd_audio: dict[str, Path]) -> None:
    audio = load_audio(odd_audio["speech_gap.wav"])
    image = spectrogram_image(audio.samples, audio.sample_rate, width=400, height=120)
    assert image.dtype == np.uint8 and image.shape == (120, 400, 3)  # the whole picture, axes included
    box = spectrogram_box(400, 120)
    brightness = image[box.top : box.bottom, box.left : box.right].astype(float).sum(axis=(0, 2))
    start, end = (int(s / 10 * box.width) for s in GAP_SECONDS)
    gap = brightness[start + 5 : end - 5].mean()
    assert gap < 0.2 * brightness[: start - 5].mean()  # the silent gap is dark
    rate = 16_000
    low_tone = np.sin(2 * np.pi * 200 * np.arange(rate) / rate).astype(np.float32)
    picture = spectrogram_image(low_tone, rate, height=100)
    box = spectrogram_box(800, 100)
    rows = picture[box.top : box.bottom, box.left : box.right].astype(float).sum(axis=(1, 2))
    assert rows[-16:].mean() > 2 * rows[:16].mean()  # low pitch at the bottom
    assert spectrogram_image(np.zeros(10, np.float32), rate).shape == (200, 800, 3)  # shorter than one FFT frame
    with pytest.raises(ValueError, match="no room"):
        spectrogram_image(low_tone, rate, width=60, height=40)


def _tick_positions(line: np.ndarray) -> list[int]:
    """Indices along a row or column of pixels drawn in the axis colour."""
    return [int(i) for i in np.flatnonzero((line == AXIS_COLOUR).all(axis=-1))]


def test_spectrogram_time_axis() -> None:
    rate = 16_000
    clip = np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate).astype(np.float32)  # 3 s
    image = spectrogram_image(clip, rate, width=400, height=120)
    box = spectrogram_box(400, 120)
    assert time_ticks(3.0, box.width) == [
        (0.0, "0 s"), (0.5, "0.5 s"), (1.0, "1 s"), (1.5, "1.5 s"), (2.0, "2 s"), (2.5, "2.5 s"), (3.0, "3 s")
    ]  # fmt: skip
    ticks = _tick_positions(image[box.bottom + 2])  # the tick marks under the plot
    assert ticks == [box.x_of(t, 3.0) for t, _ in time_ticks(3.0, box.width)]
    assert ticks[2] == box.left + round(box.width / 3)  # the 1 s tick of a 3 s clip: a third of the plot width
    assert ticks[0] == box.left and ticks[-1] == box.right - 1  # 0 s and 3 s at the plot's edges
    below = image[box.bottom + 6 :]  # the labels: dark text under each tick
    for x in ticks[1:-1]:
        assert (below[:, x - 6 : x + 7].min(axis=-1) < 100).any(), x
    # a long recording gets round, readable steps
    assert [label for _, label in time_ticks(300.0, spectrogram_box(800, 200).width)] == [
        f"{s} s" for s in range(0, 301, 30)
    ]


def test_spectrogram_frequency_axis_on_the_mel_scale() -> None:
    rate = 16_000
    tone = np.sin(2 * np.pi * 1000 * np.arange(2 * rate) / rate).astype(np.float32)  # 1 kHz
    image = spectrogram_image(tone, rate)
    box = spectrogram_box(800, 200)
    ticks = frequency_ticks(rate, box.height)
    assert [label for _, label in ticks] == ["8 kHz", "4 kHz", "2 kHz", "1 kHz", "500 Hz", "200 Hz"]
    rows = _tick_positions(image[:, box.left - 3])  # the tick marks left of the plot
    assert rows == [box.y_of(hz, rate) for hz, _ in ticks]
    one_khz = rows[3]
    mel_fraction = np.log10(1 + 1000 / 700) / np.log10(1 + 8000 / 700)  # 1 kHz is 35 % of 8 kHz on the mel scale
    assert one_khz == box.bottom - round(mel_fraction * box.height)
    assert rows[0] == box.top  # 8 kHz (half the sample rate) at the top edge
    # the tone's band lies at the 1 kHz tick
    energy = image[box.top : box.bottom, box.left : box.right].astype(float).sum(axis=(1, 2))
    assert abs(box.top + int(np.argmax(energy)) - one_khz) <= 3
    assert frequency_ticks(48_000, box.height)[0] == (16_000.0, "16 kHz")


def test_spectrogram_of_five_minutes_is_fast() -> None:
    import time

    rate = 16_000
    samples = (np.random.default_rng(0).standard_normal(300 * rate) * 0.1).astype(np.float32)
    spectrogram_image(samples, rate)  # the font loads once
    took = []
    for _ in range(3):
        began = time.perf_counter()
        spectrogram_image(samples, rate)
        took.append(time.perf_counter() - began)
    assert min(took) < 0.2, took


def test_gradios_bundled_audio_decodes_cleanly() -> None:
    """Real files of every kind Gradio ships (8 kHz, 22 kHz, 48 kHz stereo, MP3 with an inexact VBR header)."""
    from gradio.media import get_audio

    for name in ("audio_sample.wav", "cantina.wav", "cate_blanch.mp3", "heath_ledger.mp3", "recording1.wav", "sax.wav"):
        audio = load_audio(get_audio(name), sample_rate=16_000)
        assert audio.warnings == (), name  # the MP3s' headers overstate their length: no false alarm
        assert audio.duration > 0.9 and np.abs(audio.samples).max() > 0.01


def test_probe_duration(odd_audio: dict[str, Path]) -> None:
    from mmdemo.media.audio import probe_duration
    from mmdemo.ui.audio_emotion import gpu_seconds

    assert probe_duration(odd_audio["speech.wav"]) == pytest.approx(SPEECH_SECONDS, abs=0.01)
    assert probe_duration(Upload(odd_audio["speech.m4a"], "a.m4a")) == pytest.approx(SPEECH_SECONDS, abs=0.05)
    assert probe_duration({"path": str(odd_audio["speech.m4a"])}) is None  # not a path: unknown
    assert probe_duration(odd_audio["not_audio.txt"]) is None and probe_duration(None) is None
    expected = 20 + 0.1 * SPEECH_SECONDS  # loading slack + 0.1 s per second of audio
    assert gpu_seconds(Upload(odd_audio["speech.wav"], "a.wav"), 3.0, 1.5) == pytest.approx(expected, abs=0.01)
    assert gpu_seconds(None) == 80.0  # unknown length: ask for the longest allowed recording


def test_wav_header_that_understates_the_length_is_corrected_and_said(tmp_path: Path) -> None:
    import struct

    from mmdemo.testing.odd_audio import lying_wav

    path = lying_wav(tmp_path / "lying.wav", seconds=4.0, stated_seconds=1.0)
    audio = load_audio(path)
    assert audio.duration == pytest.approx(4.0, abs=0.01)
    assert audio.warnings == (
        "The file's header says it holds 1 s of audio, but it holds 4 s: all of it was analysed "
        "(the header was not updated when the recording was written).",
    )
    data = bytearray(path.read_bytes())  # a streaming writer's size 0
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0)
    assert load_audio(bytes(data)).duration == pytest.approx(4.0, abs=0.01)
    # An honest file with a metadata chunk after the samples is left as it is.
    honest = lying_wav(tmp_path / "honest.wav", seconds=2.0, stated_seconds=2.0).read_bytes()
    honest += b"LIST" + struct.pack("<I", 4) + b"INFO"
    audio = load_audio(honest)
    assert audio.duration == pytest.approx(2.0, abs=0.01) and audio.warnings == ()
