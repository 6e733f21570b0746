"""Video summary benchmarks, one run each, printed as figures and ratios:

1. Frame sampling: our PyAV sampler (seek to the keyframe before each target, decode forward, convert
   only the frames kept) against the ffmpeg command line doing the same sampling, two ways:
   one ``ffmpeg -ss T -i … -frames:v 1`` per target (input seeking, as scripts usually do), and one
   ``ffmpeg -i … -vf fps=…`` pass over the whole video. Same targets, same output size, raw RGB.
2. Keyframe captioning on the tiny captioner: ``caption_images`` in batches of 8 against one by one.

The ffmpeg binary comes from PyPI (not a project requirement)::

    pip install imageio-ffmpeg
    PYTHONPATH=. python benchmarks/video_summary.py [--seconds 60] [--keyframes 12]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from mmdemo.media.video import candidate_times, open_video
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.captioning import caption_images
from mmdemo.testing.odd_videos import write_video
from mmdemo.testing.tiny_models import build_tiny_models


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def bench_sampling(path: Path, keyframes: int, ffmpeg: str | None) -> None:
    video = open_video(path)
    info = video.info
    times = candidate_times(info.duration, keyframes, info.frame_count)
    side = 960
    scale = min(1.0, side / max(info.width, info.height))
    width, height = round(info.width * scale), round(info.height * scale)
    print(f"\n## Frame sampling: {path.name} ({info.width}×{info.height}, {info.duration:.0f} s, {info.codec})")
    print(f"{len(times)} targets, output {width}×{height} RGB")
    ours, (frames, _) = _timed(lambda: video.sample(times, max_side=side))
    print(f"  PyAV sampler (ours):             {ours:7.3f} s  ({len(frames)} frames)")
    if ffmpeg is None:
        print("  ffmpeg: not installed (pip install imageio-ffmpeg) — comparison skipped")
        return
    frame_bytes = width * height * 3
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-loglevel", "error", "-"]

    def per_target() -> int:
        got = 0
        for t in times:
            cmd = [ffmpeg, "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1", "-an", *raw]
            got += len(subprocess.run(cmd, capture_output=True, check=True).stdout) // frame_bytes
        return got

    def one_pass() -> int:
        rate = len(times) / info.duration
        cmd = [ffmpeg, "-i", str(path), "-vf", f"fps={rate:.6f}", "-an", *raw]
        return len(subprocess.run(cmd, capture_output=True, check=True).stdout) // frame_bytes

    seek, n_seek = _timed(per_target)
    single, n_single = _timed(one_pass)
    print(f"  ffmpeg -ss per target:           {seek:7.3f} s  ({n_seek} frames)  ratio ffmpeg/ours = {seek / ours:.2f}")
    print(
        f"  ffmpeg one pass (fps filter):    {single:7.3f} s  ({n_single} frames)  "
        f"ratio ffmpeg/ours = {single / ours:.2f}"
    )


def bench_captioning(keyframes: int) -> None:
    root = Path(tempfile.gettempdir()) / "mmdemo-bench-tiny"
    dirs = build_tiny_models(root, ["captioner"])
    manager = ModelManager(Settings(models={"captioner": str(dirs["captioner"])}, device="cpu", offline=True))
    from gradio.media import get_video

    video = open_video(get_video("world.mp4"))
    frames, _ = video.sample(candidate_times(video.info.duration, keyframes)[:keyframes])
    images = [f.image for f in frames][:keyframes]
    caption_images(images[:1], manager=manager)  # load once, outside the timings
    print(f"\n## Keyframe captioning, tiny BLIP, {len(images)} keyframes")
    # best of 5, interleaved: on shared cores a single run is easily disturbed
    runs: dict[int, list[float]] = {8: [], 1: []}
    for _ in range(5):
        for size in runs:
            runs[size].append(_timed(lambda size=size: caption_images(images, batch_size=size, manager=manager))[0])
    batched, single = min(runs[8]), min(runs[1])
    print(f"  batches of 8:  {batched:7.3f} s")
    print(f"  one by one:    {single:7.3f} s  ratio one-by-one/batched = {single / batched:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the generated 720p test video")
    parser.add_argument("--keyframes", type=int, default=12)
    args = parser.parse_args()
    ffmpeg = _ffmpeg()
    from gradio.media import get_video

    with tempfile.TemporaryDirectory() as folder:
        long_video = write_video(
            Path(folder) / "long720p.mp4",
            codec="libx264",
            size=(1280, 720),
            fps=25,
            scenes=6,
            scene_seconds=args.seconds / 6,
        )
        for path in (Path(get_video("world.mp4")), long_video):
            bench_sampling(path, args.keyframes, ffmpeg)
    bench_captioning(args.keyframes)


if __name__ == "__main__":
    main()
