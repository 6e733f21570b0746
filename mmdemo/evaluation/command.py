"""``python -m mmdemo eval TASK [DATASET]``: the command behind the CLI's ``eval`` subcommand."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .datasets import BUILTIN, TASKS
    from .runner import EMOTION_SOURCES

    builtins = ", ".join(f"{b.name} (for {b.task})" for b in BUILTIN.values())
    parser.add_argument("task", choices=TASKS, help="what to evaluate")
    parser.add_argument(
        "dataset",
        nargs="?",
        help=f"a folder with media and metadata.jsonl, or a built-in set: {builtins} (default: the task's own)",
    )
    parser.add_argument("--json", metavar="PATH", help="write per-item predictions and the aggregates as JSON")
    parser.add_argument("--report", metavar="DIR", help="write DIR/report.md with plots (PNG)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N items")
    parser.add_argument(
        "--source", choices=EMOTION_SOURCES, default="voice", help="emotion: which estimate is scored (default: voice)"
    )
    parser.add_argument("--seed", type=int, default=0, help="t2i: seed of every image (default: 0)")
    parser.add_argument("--steps", type=int, help="t2i: denoising steps (default: the model's recommendation)")
    parser.add_argument("--cache-dir", help="where built-in sets are made (default: ~/.cache/mmdemo/eval)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (for the JSON and the report)."""
    words = ["python", "-m", "mmdemo", "eval", args.task] + ([args.dataset] if args.dataset else [])
    for flag, value in (("--limit", args.limit), ("--seed", args.seed if args.task == "t2i" else None)):
        if value is not None:
            words += [flag, str(value)]
    if args.task == "t2i" and args.steps is not None:
        words += ["--steps", str(args.steps)]
    if args.task == "emotion":
        words += ["--source", args.source]
    return shlex.join(words)


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate; the table goes to stdout. Exit codes as the other commands: 2 for a bad data set or option,
    1 when a model cannot be loaded or no item could be evaluated."""
    from ..errors import InputError
    from ..runtime import configure
    from .datasets import resolve_dataset
    from .report import format_table, save_generated_image, write_json, write_report
    from .runner import EvalOptions, evaluate

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1.")
    dataset = resolve_dataset(args.task, args.dataset, args.cache_dir)
    manager = configure(settings)
    options = EvalOptions(
        limit=args.limit,
        emotion_source=args.source,
        seed=args.seed,
        steps=args.steps,
        image_sink=save_generated_image(args.report) if args.report and args.task == "t2i" else None,
    )
    result = evaluate(dataset, manager, options, progress=not args.no_progress)
    command = _command(args)
    print(format_table(result))
    if args.json:
        write_json(result, args.json, command)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.report:
        path = write_report(result, args.report, command)
        print(f"wrote {path}", file=sys.stderr)
    if not result.aggregates["scored"]:
        print("error: no item could be evaluated (see the errors above)", file=sys.stderr)
        return 1
    return 0
