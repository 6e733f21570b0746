"""The Evaluate tab: a data set uploaded as a zip, scored by the same code as ``python -m mmdemo eval``.

The zip (``metadata.jsonl`` and the media, the CLI's folder format) is unpacked safely into a fresh folder in
Gradio's cache (:func:`~mmdemo.evaluation.upload.read_zipped_dataset`; removed after the run), run through
:func:`~mmdemo.evaluation.runner.evaluate` with a progress step per item, and shown as the report shows it:
the metrics table, the plots (the report's PNGs), every item, and the JSON the CLI's ``--json`` writes. Its own
queue lane (``evaluate``): a long evaluation never holds up the other tabs' requests.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import ModelUnavailableError
from ..evaluation import runner
from ..evaluation.report import DEFINITIONS, TITLES, item_table, metric_rows, write_json, write_report
from ..evaluation.runner import EvalOptions, EvalResult
from ..evaluation.upload import read_zipped_dataset
from ..media.archive import check_zip
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks.text_to_image import MAX_SEED
from .availability import AvailabilityView
from .common import model_event, output_folder, progress_to
from .i18n import tr, tr_choices, translate

TASKS = [
    ("Captions (BLEU, CIDEr-D)", "caption"),
    ("Questions about photos (VQA accuracy)", "vqa"),
    ("Reading text (OCR: CER, WER)", "ocr"),
    ("Speech recognition (WER, CER)", "asr"),
    ("Speech emotion (accuracy)", "emotion"),
    ("Text to image (CLIP score)", "t2i"),
]
SOURCES = [("The voice", "voice"), ("The words", "words"), ("Both (fused)", "fused")]
METRIC_HEADERS = ["Metric", "Value"]
"""The metrics table's headers (a table's headers are translated on the server, by the request)."""
MAX_ITEMS = 100_000
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
        if item.error:
            item.error = item.error.replace(prefix + "/", "").replace(prefix, "")


def summary_markdown(result: EvalResult) -> str:
    agg = result.aggregates
    models = ", ".join(f"`{m}`" for m in result.models) or "none ran"
    lines = [
        f"**{TITLES[result.task]}** on **{result.dataset}**: {agg['items']} items, {agg['scored']} scored, "
        f"{agg['failed']} failed, {result.seconds:.1f} s · models: {models}"
    ]
    if agg["failed"]:
        lines.append(f"⚠️ {agg['failed']} item(s) could not be evaluated: their error is in the items table.")
    lines += [f"⚠️ {note}" for note in result.notes]
    lines.append(f"*How it is measured.* {DEFINITIONS[result.task]}")
    return "\n\n".join(lines)


def build_evaluate_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""

    def evaluate(
        dataset: Any,
        task: str = "caption",
        limit: int = 0,
        emotion_source: str = "voice",
        seed: int = 0,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[dict[str, list[Any]], str, list[str], dict[str, list[Any]], str]:
        """Evaluate a model of this app on a data set uploaded as a zip, as `python -m mmdemo eval` does: the
        metrics, the plots, every item and the results as JSON. metadata.jsonl has one JSON object per line:
        file_name and the reference ("text" for caption, ocr and asr; "question" and "answers" for vqa; "label"
        for emotion; "prompt" for t2i).

        Args:
            dataset: a zip of metadata.jsonl and the media files, as python -m mmdemo eval reads a folder.
            task: "caption", "vqa", "ocr", "asr", "emotion" or "t2i".
            limit: evaluate only the first N items; 0 = all.
            emotion_source: emotion only: score the estimate from "voice", "words" or "fused".
            seed: text to image only: the seed of every image.
        """
        step = progress_to(progress)
        name = Path(str(dataset.get("orig_name") or "dataset.zip")).name
        work = output_folder()
        try:
            step(0.0, "Unpacking the zip")
            data = read_zipped_dataset(dataset["path"], task, work / "data", name=Path(name).stem)
            options = EvalOptions(limit=int(limit) or None, emotion_source=emotion_source, seed=int(seed))
            result = runner.evaluate(data, manager, options, progress=False, step=step)
            _public(result, data.folder, name)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # the unpacked media are not served
        out = output_folder()
        json_path = write_json(result, out / f"{_stem(name)}.{task}.json")
        write_report(result, out)
        plots = [str(p) for p in sorted(out.glob("*.png"))]
        headers, rows = item_table(result)
        metrics = {"headers": [translate(h) for h in METRIC_HEADERS], "data": [list(r) for r in metric_rows(result)]}
        items = {"headers": [translate(h) for h in headers], "data": rows}
        return metrics, summary_markdown(result), plots, items, str(json_path)

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
            task = gr.Radio(tr_choices(TASKS), value="caption", label=tr("Task"), elem_id="eval-task")
            with gr.Accordion(tr("Options"), open=False):
                limit = gr.Number(
                    value=0, minimum=0, maximum=MAX_ITEMS, precision=0, label=tr("Items at most (0 = all)")
                )
                source = gr.Radio(
                    tr_choices(SOURCES), value="voice", label=tr("Speech emotion: score the estimate from")
                )
                seed = gr.Number(
                    value=0, minimum=0, maximum=MAX_SEED, precision=0, label=tr("Text to image: seed of every image")
                )
            with gr.Accordion(tr("What the zip holds"), open=False):
                gr.Markdown(tr(FORMAT), elem_id="eval-format")
            button = gr.Button(tr("Evaluate"), variant="primary", elem_id="eval-button")
            summary = gr.Markdown(label=tr("About this run"), elem_id="eval-summary")
        with gr.Column(scale=2, min_width=300):
            metrics = gr.Dataframe(
                headers=METRIC_HEADERS, label=tr("Metrics"), interactive=False, wrap=True, elem_id="eval-metrics"
            )
            plots = gr.Gallery(label=tr("Plots"), columns=2, height=300, object_fit="contain", elem_id="eval-plots")
            results = gr.File(label=tr("Results (JSON)"), elem_id="eval-json")
    items = gr.Dataframe(label=tr("Items"), interactive=False, wrap=True, elem_id="eval-items")

    def check(dataset: Any, task: str = "caption", limit: Any = 0, source: str = "voice", *_: Any) -> None:
        check_zip(dataset["path"])  # (the gate has refused a request without a zip)
        require_models(manager, task, source)

    after(
        model_event(
            button.click,
            evaluate,
            [dataset, task, limit, source, seed],
            [metrics, summary, plots, items, results],
            api_name="evaluate",
            lane="evaluate",
            gpu_duration=300,
            manager=manager,
            check=check,
        )
    )
