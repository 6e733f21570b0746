"""``python -m mmdemo eval TASK [DATASET]``: the command behind the CLI's ``eval`` subcommand."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, built from the evaluation's declarations (:data:`~.datasets.TASK`, :data:`~.runner.LIMIT`,
    :data:`~.runner.EMOTION_SOURCE`, :data:`~.runner.SEED`) where the Evaluate tab has them too."""
    from ..params import add_argument
    from ..tasks.text_to_image import STEPS
    from .datasets import BUILTIN, TASK
    from .runner import EMOTION_SOURCE, LIMIT, SEED

    builtins = ", ".join(f"{b.name} (for {b.task})" for b in BUILTIN.values())
    parser.add_argument("task", choices=TASK.values, help=TASK.help())
    parser.add_argument(
        "dataset",
        nargs="?",
        help=f"a folder with media and metadata.jsonl, or a built-in set: {builtins} (default: the task's own)",
    )
    parser.add_argument("--json", metavar="PATH", help="write per-item predictions and the aggregates as JSON")
    parser.add_argument("--report", metavar="DIR", help="write DIR/report.md with plots (PNG)")
    add_argument(parser, LIMIT)
    add_argument(parser, EMOTION_SOURCE)
    parser.add_argument(  # the flag's earlier spelling, hidden (no default of its own)
        "--source",
        dest=EMOTION_SOURCE.name,
        choices=EMOTION_SOURCE.values,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
    add_argument(parser, SEED)
    add_argument(parser, STEPS, help="t2i: " + STEPS.help())
    parser.add_argument("--cache-dir", help="where built-in sets are made (default: ~/.cache/mmdemo/eval)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (for the JSON and the report)."""
    words = ["python", "-m", "mmdemo", "eval", args.task] + ([args.dataset] if args.dataset else [])
    for flag, value in (("--limit", args.limit or None), ("--seed", args.seed if args.task == "t2i" else None)):
        if value is not None:
            words += [flag, str(value)]
    if args.task == "t2i" and args.steps:
        words += ["--steps", str(args.steps)]
    if args.task == "emotion":
        words += ["--emotion-source", args.emotion_source]
    return shlex.join(words)


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate; the table goes to stdout. Exit codes as the other commands: 2 for a bad data set or option,
    1 when a model cannot be loaded or no item could be evaluated."""
    from ..runtime import configure
    from .datasets import resolve_dataset
    from .report import format_table, save_generated_image, write_json, write_report
    from .runner import EvalOptions, evaluate

    options = EvalOptions(
        limit=args.limit,
        emotion_source=args.emotion_source,
        seed=args.seed,
        steps=args.steps or None,
        image_sink=save_generated_image(args.report) if args.report and args.task == "t2i" else None,
    ).validated()  # before a built-in set is made
    dataset = resolve_dataset(args.task, args.dataset, args.cache_dir)
    manager = configure(settings)
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
