"""What an evaluation run prints and writes: a table for the terminal, JSON, and a Markdown report with plots.

The words of the tables (titles, metric names, headers, definitions) are keyed (:mod:`mmdemo.messages`): the
Evaluate tab shows them in the visitor's language (:func:`item_table`, :func:`metric_rows` rendered there); the
terminal, the JSON and ``report.md`` are English. The plots' words (titles, axis labels, emotion words) follow
:func:`write_report`'s ``locale``: drawn in a font with Chinese glyphs where this machine has one, else in English
(:func:`mmdemo.evaluation.plots.can_draw`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from ..messages import Message, text
from ..tasks.emotion_labels import emotion_word
from .runner import EvalResult, ItemResult

log = logging.getLogger(__name__)

TASK_KEYS = ("caption", "vqa", "ocr", "asr", "emotion", "t2i")
TITLES: dict[str, Message] = {task: Message(f"eval.title.{task}") for task in TASK_KEYS}
"""What each task is called (the page says it in the visitor's language; the terminal and report.md in English)."""

METRIC_ROWS: dict[str, list[tuple[str, Message | str, str]]] = {
    # task → (aggregate key, label, unit); a metric's own name (BLEU-1, CER …) is the same in every language
    "caption": [
        ("bleu_1", "BLEU-1", ""),
        ("bleu_2", "BLEU-2", ""),
        ("bleu_3", "BLEU-3", ""),
        ("bleu_4", "BLEU-4", ""),
        ("cider_d", "CIDEr-D", ""),
    ],
    "vqa": [("accuracy", Message("eval.metric.vqa_accuracy"), "%")],
    "ocr": [
        ("cer", "CER", "%"),
        ("wer", Message("eval.metric.wer_normalised"), "%"),
        ("exact", Message("eval.metric.read_exactly"), "%"),
    ],
    "asr": [("wer", "WER", "%"), ("cer", "CER", "%"), ("exact", Message("eval.metric.transcribed_exactly"), "%")],
    "emotion": [
        ("accuracy", Message("eval.metric.weighted_accuracy"), "%"),
        ("unweighted_accuracy", Message("eval.metric.unweighted_accuracy"), "%"),
    ],
    "t2i": [
        ("clip_score", Message("eval.metric.clip_mean"), ""),
        ("clip_score_min", Message("eval.metric.min"), ""),
        ("clip_score_max", Message("eval.metric.max"), ""),
    ],
}

DEFINITIONS: dict[str, Message] = {task: Message(f"eval.definition.{task}") for task in TASK_KEYS}
"""How each task's metrics are computed, in words (``eval.definition.<task>``)."""
METRIC_HEADERS = (Message("eval.column.metric"), Message("eval.column.value"))
"""The metrics table's headers."""
GOOD_SCORES: dict[str, tuple[str, ...]] = {
    "caption": ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "cider_d"),
    "vqa": ("accuracy",),
    "emotion": ("accuracy", "unweighted_accuracy"),
    "t2i": ("clip_score",),
    "ocr": ("exact",),
    "asr": ("exact",),
}
"""The scores of each task where higher is better (0: nothing right)."""
ERROR_RATES: dict[str, str] = {"ocr": "cer", "asr": "wer"}
"""The error rate of the tasks scored by one (100 % or more: nothing right)."""


def nothing_right(result: EvalResult) -> bool:
    """Whether items were scored and every score says nothing was right: every higher-is-better score 0 (and, for
    text reading and speech recognition, the error rate 100 % or more). The usual cause: the wrong task for the
    data set (images of text scored as captions)."""
    agg = result.aggregates
    if not agg.get("scored"):
        return False
    scores = [agg.get(key) for key in GOOD_SCORES.get(result.task, ())]
    if not scores or any(score is None or score > 0 for score in scores):
        return False
    rate = ERROR_RATES.get(result.task)
    return rate is None or (agg.get(rate) is not None and agg[rate] >= 100)


def _value(value: Any, unit: str) -> Message | str:
    if value is None:
        return Message("eval.metric.none")
    return f"{value:.2f}{' ' + unit if unit else ''}"


def metric_rows(result: EvalResult, locale: str | None = None) -> list[tuple[Any, Any]]:
    """(label, value) per aggregate: keyed (:class:`Message`) where they are words, rendered as text when a
    ``locale`` is given."""
    agg = result.aggregates
    rows: list[tuple[Any, Any]] = [(label, _value(agg.get(key), unit)) for key, label, unit in METRIC_ROWS[result.task]]
    if result.task in ("asr", "ocr") and "word_edits" in agg:
        unit = "word_edits" if result.task == "asr" else "char_edits"
        e = agg[unit]
        total = e.get("reference_words", e.get("reference_chars"))
        what = "words" if result.task == "asr" else "characters"
        edits = Message(
            "eval.metric.edits_value", sub=e["substitutions"], dels=e["deletions"], ins=e["insertions"], total=total
        )
        rows.append((Message(f"eval.metric.edits_{what}"), edits))
    if result.task == "emotion":
        recall = agg.get("recall", {}).items()
        rows.extend((Message("eval.metric.recall", label=label), _value(v, "%")) for label, v in recall)
    scored = Message("eval.metric.scored_value", scored=agg["scored"], items=agg["items"], failed=agg["failed"])
    rows.append((Message("eval.metric.scored"), scored))
    if locale is None:
        return rows
    return [(text(label, locale), text(value, locale)) for label, value in rows]


def format_table(result: EvalResult) -> str:
    """The aggregates as an aligned text table, then the failed items (for stdout, in English)."""
    header = f"{TITLES[result.task]} · {result.dataset} · models: {', '.join(result.models) or 'none ran'}"
    rows = metric_rows(result, "en")
    width = max(len(label) for label, _ in rows)
    lines = [header, "-" * min(len(header), 100)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    if result.task == "emotion" and result.aggregates.get("labels"):
        labels, matrix = result.aggregates["labels"], result.aggregates["confusion"]
        col = max(len(label) for label in labels) + 1
        lines += ["", "confusion (rows: reference, columns: predicted)"]
        lines.append(" " * col + "".join(f"{label:>{col}}" for label in labels))
        lines += [
            f"{label:<{col}}" + "".join(f"{n:>{col}}" for n in row) for label, row in zip(labels, matrix, strict=True)
        ]
    failed = result.failed
    if failed:
        lines += ["", f"failed items ({len(failed)}):"]
        lines += [f"  {r.id}: {r.error}" for r in failed[:20]]
        if len(failed) > 20:
            lines.append(f"  … and {len(failed) - 20} more (see --json)")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write_json(result: EvalResult, path: str | Path, command: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"command": command, **result.to_dict()} if command else result.to_dict()
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ report

INF = float("inf")
HISTOGRAMS: dict[str, tuple[str, Message, list[float], list[str]]] = {
    # task → (per-item score, x label, bin edges, bin labels); the bin labels are numbers, the same in every
    # language, in plain ASCII: Pillow's bundled font has no – or ≥
    "asr": (
        "wer",
        Message("eval.plot.xlabel.asr"),
        [0, 1e-9, 5, 10, 20, 30, 50, 100, INF],
        ["0", "<5", "5-10", "10-20", "20-30", "30-50", "50-100", ">=100"],
    ),
    "ocr": (
        "cer",
        Message("eval.plot.xlabel.ocr"),
        [0, 1e-9, 2, 5, 10, 20, 50, 100, INF],
        ["0", "<2", "2-5", "5-10", "10-20", "20-50", "50-100", ">=100"],
    ),
    "caption": (
        "cider_d",
        Message("eval.plot.xlabel.caption"),
        [0, 25, 50, 75, 100, 150, 200, 300, INF],
        ["0-25", "25-50", "50-75", "75-100", "100-150", "150-200", "200-300", ">=300"],
    ),
    "vqa": (
        "accuracy",
        Message("eval.plot.xlabel.vqa"),
        [0, 1e-9, 30, 60, 90, 100, INF],
        ["0", "<30", "30-60", "60-90", "90-<100", "100"],
    ),
    "t2i": (
        "clip_score",
        Message("eval.plot.xlabel.t2i"),
        [0, 15, 20, 25, 30, 35, INF],
        ["<15", "15-20", "20-25", "25-30", "30-35", ">=35"],
    ),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " / ".join(str(v) for v in value)
    text = str(value).replace("\n", " / ").replace("|", "\\|")
    return text if len(text) <= 160 else text[:159] + "…"


def _item_columns(task: str) -> list[tuple[Message | str, Any]]:
    """(header, getter) per column of the items table; a header is keyed unless it is a metric's own name."""

    def score(key: str):
        return lambda r: None if r.scores.get(key) is None else f"{r.scores[key]:.2f}"

    def column(name: str) -> Message:
        return Message(f"eval.column.{name}")

    columns: list[tuple[Message | str, Any]] = [(column("item"), lambda r: r.id)]
    if task == "vqa":
        columns.append((column("question"), lambda r: r.details.get("question")))
    columns += [(column("reference"), lambda r: r.reference), (column("prediction"), lambda r: r.prediction)]
    columns += {
        "caption": [("CIDEr-D", score("cider_d"))],
        "vqa": [(column("accuracy"), score("accuracy"))],
        "ocr": [("CER %", score("cer")), ("WER %", score("wer"))],
        "asr": [("WER %", score("wer")), ("CER %", score("cer"))],
        "emotion": [(column("as_word"), lambda r: r.details.get("reference_word"))],
        "t2i": [(IMAGE_COLUMN, lambda r: f"![]({r.details['image']})" if r.details.get("image") else None)],
    }[task]
    columns.append((column("error"), lambda r: r.error))
    return columns


IMAGE_COLUMN = "image"
"""report.md's column of generated images (not in the page's table: the page shows no files per item)."""


def item_table(result: EvalResult, locale: str = "en") -> tuple[list[str], list[list[str]]]:
    """The report's per-item table as plain text (headers, rows) for a UI table, in ``locale``: the same columns
    as report.md, lists joined with " / ", nothing escaped or shortened."""

    def plain(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return " / ".join(str(v) for v in value)
        return text(value, locale)

    columns = [(name, get) for name, get in _item_columns(result.task) if name != IMAGE_COLUMN]
    return [text(name, locale) for name, _ in columns], [[plain(get(r)) for _, get in columns] for r in result.items]


def _plot_locale(locale: str, words: list[Message | str]) -> str:
    """``locale`` if the plots' ``words`` in it can be drawn here (Chinese needs a font with its glyphs), else
    "en" (logged: the plots are in English then)."""
    from .plots import can_draw

    if locale == "en" or can_draw(*(text(word, locale) for word in words)):
        return locale
    log.warning(
        "No font with Chinese glyphs on this machine (install fonts-wqy-microhei, or any font fontconfig lists "
        "for :lang=zh): the evaluation plots are drawn in English instead of %s.",
        locale,
    )
    return "en"


def write_report(result: EvalResult, folder: str | Path, command: str = "", locale: str = "en") -> Path:
    """``folder/report.md`` with the results, definitions, plots (PNG, drawn with Pillow) and every item.
    report.md is English; the plots' words are in ``locale`` (English where this machine cannot draw them)."""
    from .plots import confusion_image, histogram

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    agg = result.aggregates
    lines = [f"# Evaluation: {TITLES[result.task]} on {result.dataset}", ""]  # report.md is English
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"- Date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"- Dataset folder: `{result.folder}`",
        f"- Models: {', '.join(f'`{m}`' for m in result.models) or 'none ran'}",
        f"- Items: {agg['items']} ({agg['scored']} scored, {agg['failed']} failed), {result.seconds:.1f} s",
        "",
        "## Results",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in metric_rows(result, "en")]
    lines += ["", f"*How it is measured.* {DEFINITIONS[result.task]}", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in result.notes] + [""]
    plots: list[tuple[str, str]] = []
    if result.task == "emotion" and agg.get("labels"):
        words: list[Message | str] = [
            Message("eval.plot.confusion_title", title=TITLES[result.task]),
            *(emotion_word(label) for label in agg["labels"]),  # the app's emotion words (a model's own: as is)
            Message("eval.plot.predicted"),
            Message("eval.plot.rows_reference"),
        ]
        drawn_in = _plot_locale(locale, words)
        shown = [text(word, drawn_in) for word in words]
        title, labels, predicted, reference = shown[0], shown[1:-2], shown[-2], shown[-1]
        confusion_image(labels, agg["confusion"], title=title, predicted=predicted, reference=reference).save(
            folder / "confusion.png"
        )
        plots.append(("Confusion matrix (rows: reference, columns: predicted)", "confusion.png"))
    elif result.task in HISTOGRAMS:
        key, xlabel, edges, labels = HISTOGRAMS[result.task]
        values = [r.scores[key] for r in result.items if r.scores.get(key) is not None]
        if values:
            name = f"{key.replace('_', '-')}-histogram.png"
            words = [Message("eval.plot.histogram_title", title=TITLES[result.task], count=len(values)), xlabel]
            drawn_in = _plot_locale(locale, words)
            title, shown_xlabel = (text(word, drawn_in) for word in words)
            histogram(values, edges, title=title, xlabel=shown_xlabel, labels=labels).save(folder / name)
            plots.append((f"Distribution of the {xlabel}", name))
    if plots:
        lines += ["## Plots", ""]
        for caption, name in plots:
            lines += [f"![{caption}]({name})", ""]
    columns = _item_columns(result.task)
    lines += ["## Items", "", "| " + " | ".join(str(c) for c, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(get(r)) for _, get in columns) + " |" for r in result.items]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def save_generated_image(folder: str | Path) -> Any:
    """An image sink for text to image runs: saves each image as ``folder/images/<line>.png`` and records
    the relative path in the item (the report shows it)."""
    target = Path(folder) / "images"

    def sink(item: ItemResult, image: Any) -> None:
        target.mkdir(parents=True, exist_ok=True)
        name = f"images/item-{item.line:04d}.png"
        image.save(Path(folder) / name)
        item.details["image"] = name

    return sink
