"""Speech with a known transcript, synthesised by espeak-ng (Debian's ``espeak-ng``; ``scripts/test.sh``
installs it): the reference for word error rates on real speech recognisers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

LIGHTHOUSE = (
    "The lighthouse keeper climbed the narrow stairs every evening before sunset. He cleaned the great lens, "
    "trimmed the wick and wound the clockwork that turned the light. Ships passing the rocky coast relied on its "
    "steady beam to find the harbour entrance. In winter the storms were fierce and the waves rose higher than "
    "the gallery rail. Once a fishing boat lost its rudder near the reef, and the keeper rowed out with a rope to "
    "tow it to safety. The village gave him a silver watch to thank him. Years later, when the light was "
    "automated, he moved into a cottage by the quay and taught children how to read the weather from the clouds."
)
TRAIN = (
    "Our train left the city at dawn and followed the river north through farmland and small towns. A conductor "
    "walked through the carriages selling coffee and sandwiches from a metal cart. Near noon the valley narrowed "
    "and the line began to climb in long curves above the water. We passed three tunnels and a viaduct of red "
    "stone that crossed a deep gorge. At the mountain station the air was cold and smelled of pine, and a bus was "
    "waiting to take us to the lake. By evening we had found a room with a balcony and a view of the snow on the "
    "peaks."
)
MUSEUM = (
    "The museum opened a new hall for the history of flight last spring. Visitors can sit in a copy of an early "
    "biplane and pull the wooden control stick. Along one wall a timeline shows balloons, gliders, airships and "
    "the first jet engines. In the centre hangs a small rescue helicopter that flew more than two thousand "
    "missions over the sea. Children enjoy a room where they can fold paper planes and test them in a wind "
    "tunnel. The guides say the most popular object is a worn leather jacket that belonged to a pilot who "
    "delivered mail across the desert."
)
TALKS = {"lighthouse": LIGHTHOUSE, "train": TRAIN, "museum": MUSEUM}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, path: str | Path, *, words_per_minute: int = 170, rate: int = 16_000) -> Path:
    """``text`` spoken by espeak-ng (US English), written as a mono WAV at ``rate``."""
    import soundfile as sf

    from ..media.audio import resample

    if not espeak_available():
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng; scripts/test.sh does it)")
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        samples, source_rate = sf.read(raw, dtype="float32")
    sf.write(path, resample(samples, source_rate, rate), rate, subtype="PCM_16")
    return path
