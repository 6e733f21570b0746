"""``python -m mmdemo …``: the same backend functions as the UI, JSON on stdout, errors on stderr.

Exit codes: 0 ok, 1 a model could not be loaded or a prefetch failed, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from .errors import InputError, MMDemoError
from .settings import Settings


def _print_json(obj: Any) -> None:
    data = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj
    json.dump(data, sys.stdout, indent=2, default=str)  # notes and messages (mmdemo.messages.Message) in English
    sys.stdout.write("\n")


def cmd_prefetch(args: argparse.Namespace, settings: Settings) -> int:
    """Download every configured model (or ``--roles``) to the HF cache or to ``--dir``."""
    from .models.hub import download, is_packaged, looks_like_path, prefetch_folder
    from .models.manager import ModelManager

    manager = ModelManager(settings)
    roles = [r.strip() for r in args.roles.split(",")] if args.roles else list(manager.specs)
    device_types = ("cuda", "mps", "cpu") if args.all_devices else (manager.device.type,)
    failed = 0
    report = []
    for role in roles:
        spec = manager.spec(role)
        ids = {settings.model_for(role) or spec.default_for(t) for t in device_types}
        for model_id in sorted(ids):
            if is_packaged(model_id):
                status = "ships with a pip package, nothing to download"
                report.append({"role": role, "model": model_id, "status": status})
                continue
            if Path(model_id).expanduser().is_dir() or looks_like_path(model_id):
                report.append({"role": role, "model": model_id, "status": "local folder, nothing to download"})
                continue
            target = prefetch_folder(args.dir, model_id) if args.dir else None
            print(f"downloading {model_id} ({role})…", file=sys.stderr)
            try:
                folder = download(model_id, spec.allow_patterns, local_dir=target)
                report.append({"role": role, "model": model_id, "status": "ok", "folder": str(folder)})
            except Exception as err:
                failed += 1
                line = (str(err).strip().splitlines() or [type(err).__name__])[0]
                report.append({"role": role, "model": model_id, "status": f"failed: {line}"})
                print(f"error: could not download {model_id}: {line}", file=sys.stderr)
    _print_json(report)
    if args.dir and not failed:
        print(f"run the app from it with: MMDEMO_MODEL_DIR={args.dir} HF_HUB_OFFLINE=1 python app.py", file=sys.stderr)
    return 1 if failed else 0


def _is_batch(args: argparse.Namespace) -> bool:
    """Several paths, a folder, a zip, or a table asked for: one row per photo instead of one caption."""
    paths = args.image
    asked = args.csv or args.jsonl or args.read_text or args.question or args.batch_size
    return len(paths) > 1 or Path(paths[0]).is_dir() or paths[0].lower().endswith(".zip") or bool(asked)


def cmd_caption(args: argparse.Namespace, settings: Settings) -> int:
    """Caption one image (its CaptionResult as JSON), or every photo of several paths, folders and zips (one row
    each: JSON on stdout, ``--csv``/``--jsonl`` files; exit 2 when no photo could be captioned)."""
    from .runtime import configure
    from .tasks.captioning import DecodingOptions, caption_image

    manager = configure(settings)
    options = DecodingOptions(args.max_new_tokens, args.min_new_tokens, args.num_beams)
    if not _is_batch(args):
        _print_json(caption_image(args.image[0], prefix=args.prefix, options=options, manager=manager))
        return 0
    from .tasks.batch_caption import caption_batch

    def progress(fraction: float, message: Any) -> None:
        if " photos done" in str(message):  # (a keyed message: English here)
            print(message, file=sys.stderr)

    result = caption_batch(
        [Path(p) for p in args.image],
        read_text=args.read_text,
        question=args.question,
        prefix=args.prefix,
        options=options,
        batch_size=args.batch_size,
        max_photos=None,
        budgeted=False,
        manager=manager,
        progress=progress,
    )
    for flag, write in ((args.csv, result.to_csv), (args.jsonl, result.to_jsonl)):
        if flag:
            Path(flag).parent.mkdir(parents=True, exist_ok=True)
            print(f"wrote {write(flag)}", file=sys.stderr)
    report = {k: v for k, v in dataclasses.asdict(result).items() if k != "rows"}
    _print_json({"rows": result.records(), **report})
    ok = sum(row.ok for row in result.rows)
    failed = f"; {len(result.rows) - ok} failed (their errors are in the table)" if ok < len(result.rows) else ""
    print(f"{ok} of {len(result.rows)} photos done{failed}", file=sys.stderr)
    if result.rows and not ok:
        print("error: no photo could be captioned (see the errors above)", file=sys.stderr)
        return 2
    return 0


def cmd_vqa(args: argparse.Namespace, settings: Settings) -> int:
    from .runtime import configure
    from .tasks.captioning import DecodingOptions, answer_question

    manager = configure(settings)
    options = DecodingOptions(max_new_tokens=10, num_beams=args.num_beams)
    _print_json(answer_question(args.image, args.question, options=options, manager=manager))
    return 0


def cmd_ocr(args: argparse.Namespace, settings: Settings) -> int:
    from .runtime import configure
    from .tasks.ocr import annotate, read_text

    manager = configure(settings)
    result = read_text(args.image, min_score=args.min_score, manager=manager)
    if args.boxes:
        annotate(result).save(args.boxes)
    lines = [dataclasses.asdict(line) for line in result.lines]
    _print_json({"text": result.text, "lines": lines, "model_id": result.model_id, "seconds": result.seconds})
    return 0


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Generate images; PNGs go to ``--out``, everything else to stdout as JSON."""
    from .runtime import configure
    from .tasks.text_to_image import generate_images

    manager = configure(settings)
    result = generate_images(
        args.prompt,
        negative_prompt=args.negative_prompt,
        steps=args.steps,
        guidance_scale=args.guidance_scale,
        width=args.width,
        height=args.height,
        num_images=args.num_images,
        seed=args.seed,
        decoder=args.decoder,
        clip_score=args.clip_score,
        manager=manager,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for item in result.images:
        path = out / f"mmdemo-{item.seed}.png"
        item.image.save(path)
        images.append({"file": str(path), "seed": item.seed, "clip_score": item.clip_score})
    report = {k: v for k, v in dataclasses.asdict(result).items() if k != "images"}
    _print_json({**report, "images": images})
    return 0


def cmd_emotion(args: argparse.Namespace, settings: Settings) -> int:
    """Emotion in a speech recording: overall, per window, and from the transcript."""
    from .runtime import configure
    from .tasks.audio_emotion import AnalysisOptions, analyze_emotion

    manager = configure(settings)
    options = AnalysisOptions(
        window_seconds=args.window_seconds,
        hop_seconds=args.hop_seconds,
        use_transcript=args.use_transcript,
        text_weight=args.text_weight,
        language=args.language,
    )
    result = analyze_emotion(args.audio, options=options, manager=manager)
    transcript = None
    if result.transcript is not None:
        transcript = {
            "text": result.transcript.text,
            "language": result.transcript.language,
            "segments": [s._asdict() for s in result.transcript.segments],
        }
    _print_json(
        {
            "top": result.top,
            "fused": result.fused,
            "acoustic": result.acoustic,
            "text": result.text,
            "renamed": result.renamed,
            "labels_note": result.labels_note,
            "sources": result.sources,
            "windows": [dataclasses.asdict(w) for w in result.windows],
            "transcript": transcript,
            "duration": result.duration,
            "notes": result.notes,
            "model_ids": result.model_ids,
            "seconds": result.seconds,
        }
    )
    if result.fused is None:  # no emotion model could run: say so where the operator looks, with the notes' why
        why = "\n  ".join(map(str, result.notes)) or "no emotion model could run here."
        print("error: " + why, file=sys.stderr)
        return 1
    return 0


def cmd_summarize(args: argparse.Namespace, settings: Settings) -> int:
    """Summarise a video; the Markdown/SRT reports and keyframes go to ``--out`` when given."""
    from .runtime import configure
    from .tasks.video_summary import summarize_video

    manager = configure(settings)
    result = summarize_video(
        args.video,
        max_keyframes=args.max_keyframes,
        describe=args.describe,
        read_text=args.read_text,
        transcribe=args.transcribe,
        summary_method=args.summary_method,
        language=args.language,
        batch_size=args.batch_size,
        manager=manager,
    )
    if args.out:
        result.write_report(args.out, keyframes=True)  # the same files as the app's downloads, and keyframes
    _print_json(result.to_dict())
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate the configured models on a data set: a table on stdout, ``--json`` and ``--report`` files."""
    from .evaluation.command import run_eval

    return run_eval(args, settings)


def cmd_space(args: argparse.Namespace, settings: Settings) -> int:
    """Write a folder ready to push to a Hugging Face Space."""
    from .deploy import space_models, verify_preload, write_space

    if args.verify:
        try:
            problems = verify_preload(space_models(args.hardware))
        except Exception as err:  # offline, or the Hub refused: say so, write nothing
            print(f"could not check the preload lists against the Hub: {err}", file=sys.stderr)
            return 1
        if problems:
            print("the Space build would fail:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
    out = write_space(args.out, hardware=args.hardware, title=args.title)
    print(f"wrote {out}; push it with: hf upload <you>/<space> {out} --repo-type space", file=sys.stderr)
    _print_json({"folder": str(out), "hardware": args.hardware})
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .launcher import add_settings_arguments
    from .params import add_argument
    from .tasks import captioning, ocr

    parser = argparse.ArgumentParser(prog="python -m mmdemo", description=__doc__.splitlines()[0])
    add_settings_arguments(parser)  # the same settings flags as app.py (--device, --no-cpu-fast-path, --model …)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prefetch", help="download the configured models for offline use")
    p.add_argument("--roles", help="comma-separated roles (default: all)")
    p.add_argument("--dir", help="download into DIR/<org>/<name> instead of the HF cache")
    p.add_argument("--all-devices", action="store_true", help="also fetch the GPU/CPU-specific defaults")
    p.set_defaults(func=cmd_prefetch)

    p = sub.add_parser("caption", help="caption an image, or every photo in folders and zips (a table)")
    p.add_argument("image", nargs="+", help="an image; or several, folders or zips of photos: one row per photo")
    for param in (captioning.PREFIX, captioning.MAX_NEW_TOKENS, captioning.MIN_NEW_TOKENS, captioning.NUM_BEAMS):
        add_argument(p, param)
    p.add_argument("--csv", metavar="OUT.csv", help="write the table: file, caption, [text], [question, answer], error")
    p.add_argument("--jsonl", metavar="OUT.jsonl", help="write the table as JSON lines")
    from .tasks import batch_caption

    for param in (batch_caption.READ_TEXT, batch_caption.QUESTION, batch_caption.BATCH_SIZE):
        add_argument(p, param)
    p.set_defaults(func=cmd_caption)

    p = sub.add_parser("vqa", help="answer a question about an image")
    p.add_argument("image")
    p.add_argument("question", help=captioning.QUESTION.help())
    add_argument(p, captioning.NUM_BEAMS)
    p.set_defaults(func=cmd_vqa)

    p = sub.add_parser("ocr", help="read the text in an image")
    p.add_argument("image")
    add_argument(p, ocr.MIN_SCORE)
    p.add_argument("--boxes", metavar="OUT.png", help="also save the image with the text boxes drawn")
    p.set_defaults(func=cmd_ocr)

    from .tasks import text_to_image as t2i

    p = sub.add_parser("generate", help="generate images from a text prompt")
    p.add_argument("prompt", help=t2i.PROMPT.help())
    for param in (t2i.NEGATIVE_PROMPT, t2i.STEPS, t2i.GUIDANCE_SCALE):
        add_argument(p, param)
    p.add_argument("--width", type=int, help=t2i.SIZE.side_help("width"))
    p.add_argument("--height", type=int, help=t2i.SIZE.side_help("height"))
    for param in (t2i.NUM_IMAGES, t2i.SEED, t2i.DECODER, t2i.CLIP_SCORE):
        add_argument(p, param)
    p.add_argument("--out", default=".", help="folder for the PNG files (default: here)")
    p.set_defaults(func=cmd_generate)

    from .tasks import audio_emotion, transcription

    p = sub.add_parser("emotion", help="emotion in a speech recording (voice, words, and both fused)")
    p.add_argument("audio")
    # The older spellings --window, --hop and --no-transcript still work (hidden; no defaults of their own).
    hidden = {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
    p.add_argument("--window", dest="window_seconds", type=float, **hidden)
    p.add_argument("--hop", dest="hop_seconds", type=float, **hidden)
    p.add_argument("--no-transcript", dest="use_transcript", action="store_false", **hidden)
    for param in (*audio_emotion.OPTIONS, transcription.LANGUAGE):
        add_argument(p, param)
    p.set_defaults(func=cmd_emotion)

    from .tasks import video_summary

    p = sub.add_parser("summarize", help="summarise a video: what is seen, read and said")
    p.add_argument("video")
    for param in (
        video_summary.MAX_KEYFRAMES,
        video_summary.DESCRIBE,
        video_summary.READ_TEXT,
        video_summary.TRANSCRIBE,
        video_summary.SUMMARY_METHOD,
        transcription.LANGUAGE,
        video_summary.BATCH_SIZE,
    ):
        add_argument(p, param)
    p.add_argument("--out", help="also write summary.md, summary.json, summary.srt and keyframe JPEGs here")
    p.set_defaults(func=cmd_summarize)

    from .evaluation.command import add_arguments as add_eval_arguments

    p = sub.add_parser("eval", help="evaluate a task's model on a data set (metrics table, JSON, report)")
    add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    from .deploy import HARDWARE

    p = sub.add_parser("space", help="write a folder to push to a Hugging Face Space")
    p.add_argument("out", help="folder to write (created if missing)")
    p.add_argument("--hardware", choices=HARDWARE, default="cpu-basic", help="suggested Space hardware")
    p.add_argument("--title", default="mmdemo")
    p.add_argument("--verify", action="store_true", help="first check the preload file lists on the Hub (online)")
    p.set_defaults(func=cmd_space)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .launcher import settings_from_args

    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        return args.func(args, settings)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MMDemoError as err:  # the person at the shell is the operator: the full detail
        print(f"error: {err.detail}", file=sys.stderr)
        return 1
