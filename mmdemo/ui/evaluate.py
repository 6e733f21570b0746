"""The Evaluate tab: a data set uploaded as a zip, scored by the same code as ``python -m mmdemo eval``.

The zip (``metadata.jsonl`` and the media, the CLI's folder format) is unpacked safely into a fresh folder in
Gradio's cache (:func:`~mmdemo.evaluation.upload.read_zipped_dataset`; removed after the run), run through
:func:`~mmdemo.evaluation.runner.evaluate` with a progress step per item, and shown as the report shows it:
the metrics table, the plots (the report's PNGs), every item, and the JSON the CLI's ``--json`` writes. Its own
queue lane (``evaluate``): a long evaluation never holds up the other tabs' requests.

The options are the evaluation's declarations (:data:`~mmdemo.evaluation.datasets.TASK`,
:data:`~mmdemo.evaluation.runner.LIMIT` …). The tables, the summary and the messages are in the visitor's
language; the plots and the JSON are English (data, and Pillow's bundled font draws no Chinese).
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import ModelUnavailableError
from ..evaluation import runner
from ..evaluation.datasets import TASK
from ..evaluation.report import DEFINITIONS, METRIC_HEADERS, TITLES, item_table, metric_rows, write_json, write_report
from ..evaluation.runner import EMOTION_SOURCE, LIMIT, SEED, EvalOptions, EvalResult
from ..evaluation.upload import read_zipped_dataset
from ..media.archive import check_zip
from ..media.files import Upload
from ..messages import Message, text
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from .availability import AvailabilityView
from .events import model_event, output_folder, progress_to
from .i18n import request_locale, tr
from .widgets import number, radio

DATASET = "a zip of metadata.jsonl and the media files, as python -m mmdemo eval reads a folder"
"""What the data set parameter is, for the API page and MCP."""
FORMAT = (
    "A zip of a folder with the media files and a metadata.jsonl, the format python -m mmdemo eval reads "
    "(README, Evaluation): one JSON object per line with file_name (the file's path in the folder) and the "
    "reference: text for captions (one or a list), reading text and speech; question and answers for questions "
    "about photos; label for speech emotion (happy, sad …); prompt for text to image (no file needed)."
)
ANY_ASR = ("asr", "asr_offline")
ROLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "caption": (("captioner",),),
    "vqa": (("vqa",),),
    "ocr": (("ocr",),),
    "asr": (ANY_ASR,),
    "t2i": (("text_to_image",), ("clip",)),
    "emotion:voice": (("emotion",),),
    "emotion:words": (("text_emotion",), ANY_ASR),
    "emotion:fused": (("emotion",), ("text_emotion",), ANY_ASR),
}
"""The models a task needs (one of each group), so that the browser's precheck says what is missing."""


def require_models(manager: ModelManager, task: str, source: str = "voice") -> None:
    """:class:`ModelUnavailableError` for the first model ``task`` needs that is not installed here."""
    for group in ROLES[f"emotion:{source}" if task == "emotion" else task]:
        found = [manager.availability(role) for role in group if role in manager.specs]
        if found and not any(a.usable for a in found):
            first = found[0]
            raise ModelUnavailableError(group[0], first.model_id, "it is not installed", title=first.title)


def _stem(name: str) -> str:
    """A file name stem for the downloads: the upload's name, with only safe characters."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).stem).strip("-.")
    return stem[:60] or "dataset"


def _public(result: EvalResult, data_folder: Path, name: str) -> None:
    """No server folder in what the client gets: the zip's name for the folder, public model ids, item errors
    without the unpacking folder."""
    result.folder = name
    result.models = [public_model_id(m) for m in result.models]
    prefix = str(data_folder)
    for item in result.items:
        for key in ("model", "clip_model"):
            if item.details.get(key):
                item.details[key] = ", ".join(public_model_id(m) for m in str(item.details[key]).split(", "))
        if isinstance(item.error, str):  # an unexpected error's own words (a keyed one names no folder)
            item.error = item.error.replace(prefix + "/", "").replace(prefix, "")


def summary_markdown(result: EvalResult, locale: str = "en") -> str:
    agg = result.aggregates
    models = ", ".join(f"`{m}`" for m in result.models) or Message("eval.no_models")
    head = Message(
        "eval.summary",
        title=TITLES[result.task],
        dataset=result.dataset,
        items=agg["items"],
        scored=agg["scored"],
        failed=agg["failed"],
        seconds=f"{result.seconds:.1f}",
        models=models,
    )
    lines = [head.text(locale)]
    if agg["failed"]:
        lines.append("⚠️ " + Message("eval.items_failed", count=agg["failed"]).text(locale))
    lines += [f"⚠️ {text(note, locale)}" for note in result.notes]
    lines.append(Message("eval.how_measured", definition=DEFINITIONS[result.task]).text(locale))
    return "\n\n".join(lines)


@documented([TASK, LIMIT, EMOTION_SOURCE, SEED], dataset=DATASET)
def evaluate(
    manager: ModelManager,
    dataset: Upload,
    task: str = TASK.default,
    limit: int = LIMIT.default,
    emotion_source: str = EMOTION_SOURCE.default,
    seed: int = SEED.default,
    progress: gr.Progress = gr.Progress(),
) -> tuple[dict[str, list[Any]], str, list[str], dict[str, list[Any]], str]:
    """Evaluate a model of this app on a data set uploaded as a zip, as `python -m mmdemo eval` does: the
    metrics, the plots, every item and the results as JSON. metadata.jsonl has one JSON object per line:
    file_name and the reference ("text" for caption, ocr and asr; "question" and "answers" for vqa; "label"
    for emotion; "prompt" for t2i)."""
    locale = request_locale()
    step = progress_to(progress, locale)
    options = EvalOptions(limit=limit, emotion_source=emotion_source, seed=seed)  # checked by the run
    work = output_folder()
    try:
        step(0.0, Message("eval.progress.unpacking"))
        data = read_zipped_dataset(dataset, task, work / "data", name=Path(dataset.name).stem)
        result = runner.evaluate(data, manager, options, progress=False, step=step)
        _public(result, data.folder, dataset.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the unpacked media are not served
    out = output_folder()
    json_path = write_json(result, out / f"{_stem(dataset.name)}.{task}.json")
    write_report(result, out)
    plots = [str(p) for p in sorted(out.glob("*.png"))]
    headers, rows = item_table(result, locale)
    metrics = {
        "headers": [header.text(locale) for header in METRIC_HEADERS],
        "data": [list(row) for row in metric_rows(result, locale)],
    }
    return metrics, summary_markdown(result, locale), plots, {"headers": headers, "data": rows}, str(json_path)


def check(
    manager: ModelManager,
    dataset: Upload,
    task: str = TASK.default,
    limit: int = LIMIT.default,
    source: str = EMOTION_SOURCE.default,
    *_: Any,
) -> None:
    """The browser's precheck: the zip's directory and the models the task needs (the gate has refused a
    request without a zip)."""
    check_zip(dataset.path)
    require_models(manager, task, source)


def build_evaluate_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    gr.Markdown(
        tr(
            "Score a model of this app on your own data: upload a zip with metadata.jsonl and the media "
            "(the format of python -m mmdemo eval), pick the task, and get the metrics, plots, every item "
            "and a JSON file."
        ),
        elem_classes="tab-intro",
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            dataset = gr.File(label=tr("Data set (zip)"), file_types=[".zip"], elem_id="eval-zip")
            task = radio(TASK, elem_id="eval-task")
            with gr.Accordion(tr("Options"), open=False):
                limit = number(LIMIT)
                source = radio(EMOTION_SOURCE)
                seed = number(SEED)
            with gr.Accordion(tr("What the zip holds"), open=False):
                gr.Markdown(tr(FORMAT), elem_id="eval-format")
            button = gr.Button(tr("Evaluate"), variant="primary", elem_id="eval-button")
            summary = gr.Markdown(label=tr("About this run"), elem_id="eval-summary")
        with gr.Column(scale=2, min_width=300):
            metrics = gr.Dataframe(
                headers=[str(header) for header in METRIC_HEADERS],
                label=tr("Metrics"),
                interactive=False,
                wrap=True,
                elem_id="eval-metrics",
            )
            plots = gr.Gallery(label=tr("Plots"), columns=2, height=300, object_fit="contain", elem_id="eval-plots")
            results = gr.File(label=tr("Results (JSON)"), elem_id="eval-json")
    items = gr.Dataframe(label=tr("Items"), interactive=False, wrap=True, elem_id="eval-items")

    after(
        model_event(
            button.click,
            functools.partial(evaluate, manager),
            [dataset, task, limit, source, seed],
            [metrics, summary, plots, items, results],
            api_name="evaluate",
            lane="evaluate",
            gpu_duration=300,
            manager=manager,
            check=functools.partial(check, manager),
        )
    )
