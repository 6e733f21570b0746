"""The Evaluate tab: a data set uploaded as a zip, scored by the same code as ``python -m mmdemo eval``.

The zip (``metadata.jsonl`` and the media, the CLI's folder format) is unpacked safely into a fresh folder in
Gradio's cache (:func:`~mmdemo.evaluation.upload.read_zipped_dataset`; removed after the run), run through
:func:`~mmdemo.evaluation.runner.evaluate` with a progress step per item, and shown as the report shows it:
the metrics table, the plots (the report's PNGs), every item, and the JSON the CLI's ``--json`` writes. Its own
queue lane (``evaluate``): a long evaluation never holds up the other tabs' requests.

The options are the evaluation's declarations (:data:`~mmdemo.evaluation.datasets.TASK`,
:data:`~mmdemo.evaluation.runner.LIMIT` …). The tables, the summary and the messages are in the visitor's
language, the plots too where the machine has a font with Chinese glyphs (else English, with a warning in the log);
the JSON is English (data).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import ModelUnavailableError
from ..evaluation import runner
from ..evaluation.datasets import BUILTIN, METADATA, TASK, Dataset, DatasetError, resolve_dataset
from ..evaluation.report import (
    DEFINITIONS,
    METRIC_HEADERS,
    TITLES,
    item_table,
    metric_rows,
    nothing_right,
    write_json,
    write_report,
)
from ..evaluation.runner import EMOTION_SOURCE, LIMIT, SEED, EvalOptions, EvalResult
from ..evaluation.upload import read_zipped_dataset
from ..media.archive import ArchiveError, check_zip
from ..media.files import Upload
from ..messages import Message, Page, text
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from .admission import work_charge
from .audio_emotion import details_block
from .availability import AvailabilityView
from .events import model_event, output_folder, progress_to, run_controls
from .i18n import request_locale, tr
from .models_panel import model_name
from .widgets import number, radio

DATASET = "a zip of metadata.jsonl and the media files, as python -m mmdemo eval reads a folder"
"""What the data set parameter is, for the API page and MCP."""
INTRO = (
    "Score a model of this app on a data set: try a built-in example, or upload a zip of your own and pick the "
    "task. You get the metrics, plots, every item and a JSON file."
)
FORMAT = (
    "The zip holds the media files and a file named metadata.jsonl, at its top or in one folder. metadata.jsonl "
    "has one line per item: a JSON object with `file_name` (the file's path in the zip) and the reference the "
    "task compares with:\n\n"
    "- Captions: `text`, one caption or a list of them\n"
    "- Questions about photos: `question` and `answers` (a list)\n"
    "- Reading text, speech recognition: `text`\n"
    "- Speech emotion: `label` (happy, sad …)\n"
    "- Text to image: `prompt` (no file needed)\n\n"
    'For example, one line for a photo of a sign: `"file_name": "sign.png", "text": "OPEN 24 HOURS"` between '
    "curly brackets."
)
"""The format of a data set zip, on the page (the errors about a zip point at it)."""
EXAMPLES = {"text-images": "Signs and notes: reading text", "speech": "Speech clips: speech recognition"}
"""The built-in sets (:data:`~mmdemo.evaluation.datasets.BUILTIN`) the page offers as one-click examples, with
their buttons' text."""
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm"}
MAX_METADATA_BYTES = 1_000_000
"""How much of an uploaded zip's metadata.jsonl is read to tell its task (the run reads it all)."""
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
    """One plain sentence (what was scored on what, how many items), the warnings (every score 0, failed items,
    the set's notes), and a folded Details section: the time, the models and how the metrics are measured."""
    agg = result.aggregates
    models = ", ".join(f"`{model_name(m, locale)}`" for m in result.models) or Message("eval.no_models")
    head = Message(
        "eval.summary.line",
        title=TITLES[result.task],
        dataset=result.dataset,
        items=agg["items"],
        scored=agg["scored"],
        failed=agg["failed"],
    )
    lines = [head.text(locale)]
    if nothing_right(result):
        lines.append("⚠️ " + Message("eval.all_zero").text(locale))
    if agg["failed"]:
        lines.append("⚠️ " + Message("eval.items_failed", count=agg["failed"]).text(locale))
    lines += [f"⚠️ {text(note, locale)}" for note in result.notes if not _is_detail(note)]
    details = [
        Message("eval.summary.run", seconds=f"{result.seconds:.1f}", models=models).text(locale),
        *(text(note, locale) for note in result.notes if _is_detail(note)),
        Message("eval.how_measured", definition=DEFINITIONS[result.task]).text(locale),
    ]
    lines.append(details_block(details, locale))
    return "\n\n".join(lines)


def _is_detail(note: Message | str) -> bool:
    """A note for the Details section: how model labels were put into the app's emotion words."""
    return isinstance(note, Message) and note.key == "emotion.renamed"


Outputs = tuple[dict[str, list[Any]], str, list[str], dict[str, list[Any]], str]


def _shown(result: EvalResult, task: str, stem: str, locale: str) -> Outputs:
    """The page's outputs of a finished run: metrics, summary, plots, items and the JSON file."""
    out = output_folder()
    json_path = write_json(result, out / f"{stem}.{task}.json")
    write_report(result, out, locale=locale)
    plots = [str(p) for p in sorted(out.glob("*.png"))]
    headers, rows = item_table(result, locale)
    metrics = {
        "headers": [header.text(locale) for header in METRIC_HEADERS],
        "data": [list(row) for row in metric_rows(result, locale)],
    }
    return metrics, summary_markdown(result, locale), plots, {"headers": headers, "data": rows}, str(json_path)


def _with_format_help(err: DatasetError | ArchiveError) -> DatasetError | ArchiveError:
    """The same refusal, pointing at the format described on the page."""
    return type(err)(Message("eval.see_format_help", problem=err.message), detail=err.detail)


@documented([TASK, LIMIT, EMOTION_SOURCE, SEED], dataset=DATASET)
def evaluate(
    manager: ModelManager,
    dataset: Upload,
    task: str | None = TASK.default,
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
    charge = work_charge()  # text to image: the client's budget, as on its tab
    options = EvalOptions(limit=limit, emotion_source=emotion_source, seed=seed, charge=charge)  # checked by the run
    work = output_folder()
    try:
        step(0.0, Message("eval.progress.unpacking"))
        try:
            data = read_zipped_dataset(
                dataset,
                task,
                work / "data",
                name=Path(dataset.name).stem,
                max_items=manager.settings.max_eval_items,
                progress=step,
            )
        except (DatasetError, ArchiveError) as err:
            raise _with_format_help(err) from None
        result = runner.evaluate(data, manager, options, progress=False, step=step)
        _public(result, data.folder, dataset.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the unpacked media are not served
    return _shown(result, task, _stem(dataset.name), locale)


def evaluate_example(
    manager: ModelManager,
    name: str,
    limit: int = LIMIT.default,
    emotion_source: str = EMOTION_SOURCE.default,
    seed: int = SEED.default,
    progress: gr.Progress = gr.Progress(),
) -> tuple[Any, ...]:
    """One click on an example: built-in set ``name`` (made on first use) scored on its own task, as
    ``python -m mmdemo eval TASK`` does; the page's task is set to that task."""
    locale = request_locale()
    task = BUILTIN[name].task
    require_models(manager, task, emotion_source)
    options = EvalOptions(limit=limit, emotion_source=emotion_source, seed=seed, charge=work_charge())
    data: Dataset = resolve_dataset(task, name)
    shown = Message("eval.example.set", name=Page(EXAMPLES[name]))
    result = runner.evaluate(data, manager, options, progress=False, step=progress_to(progress, locale))
    result.dataset = shown.text(locale)
    _public(result, data.folder, name)
    return (*_shown(result, task, name, locale), gr.update(value=task))


def check_example(
    manager: ModelManager, name: str, limit: Any = None, source: str = EMOTION_SOURCE.default, *_: Any
) -> None:
    """The browser's precheck of an example: the models its task needs."""
    require_models(manager, BUILTIN[name].task, source)


def task_of_zip(path: str | Path) -> str | None:
    """The task an uploaded data set zip is for, from its metadata.jsonl's columns and its files: ``question``
    → vqa, ``label`` → emotion, ``prompt`` → t2i, ``text`` with recordings → asr; None when it cannot be told
    (``text`` with images: captions or text reading) or the zip cannot be read (the run says why)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            found = sorted((n for n in names if n.rsplit("/", 1)[-1] == METADATA), key=lambda n: n.count("/"))
            if not found:
                return None
            with archive.open(found[0]) as metadata:
                raw = metadata.read(MAX_METADATA_BYTES).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, NotImplementedError):
        return None
    columns: set[str] = set()
    for line in raw.splitlines()[:200]:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            columns |= set(row)
    for column, task in (("question", "vqa"), ("label", "emotion"), ("prompt", "t2i")):
        if column in columns:
            return task
    if "text" in columns and any(Path(n).suffix.lower() in AUDIO_SUFFIXES for n in names):
        return "asr"
    return None


def task_from_upload(dataset: Upload | None) -> Any:
    """The page's task when a zip is uploaded: the one its data set is for; else left as the visitor chose it
    (none at first: there is no default)."""
    task = task_of_zip(dataset) if dataset is not None else None
    return gr.update() if task is None else gr.update(value=task)


def can_run(task: str | None) -> Any:
    """The Evaluate button: enabled once a task is chosen (there is no default: a wrong one scores 0)."""
    return gr.update(interactive=task is not None)


def check(
    manager: ModelManager,
    dataset: Upload,
    task: str | None = TASK.default,
    limit: int = LIMIT.default,
    source: str = EMOTION_SOURCE.default,
    *_: Any,
) -> None:
    """The browser's precheck: the zip's directory and the models the task needs (the gate has refused a
    request without a zip)."""
    try:
        check_zip(dataset.path)
    except ArchiveError as err:
        raise _with_format_help(err) from None
    require_models(manager, task, source)


def build_evaluate_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh.

    The examples and the Evaluate button come first (above the fold on a phone); the task has no default (a
    zip's own is chosen on upload when it can be told); the results show once there are some (no empty tables
    with English headers)."""
    gr.Markdown(tr(INTRO), elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            gr.Markdown(tr("Try an example (one click runs it):"), elem_id="eval-examples-label")
            with gr.Row(elem_id="eval-examples"):
                examples = {
                    name: gr.Button(tr(label), size="sm", elem_id=f"eval-example-{name}")
                    for name, label in EXAMPLES.items()
                }
            dataset = gr.File(label=tr("Data set (zip)"), file_types=[".zip"], height=120, elem_id="eval-zip")
            task = radio(TASK, elem_id="eval-task")  # no default: the zip's task, or the visitor's choice
            button = gr.Button(tr("Evaluate"), variant="primary", interactive=False, elem_id="eval-button")
            controls = run_controls("eval")
            with gr.Accordion(tr("What the zip holds"), open=False, elem_id="eval-format-help"):
                gr.Markdown(tr(FORMAT), elem_id="eval-format")
            with gr.Accordion(tr("Options"), open=False, elem_id="eval-options"):
                limit = number(LIMIT, elem_id="eval-limit")
                source = radio(EMOTION_SOURCE)
                seed = number(SEED)
            # room for the progress of a run (an empty Markdown has no height to draw it in)
            summary = gr.Markdown(label=tr("About this run"), min_height=80, elem_id="eval-summary")
        with gr.Column(scale=2, min_width=300):
            metrics = gr.Dataframe(
                headers=[str(header) for header in METRIC_HEADERS],
                label=tr("Metrics"),
                interactive=False,
                wrap=True,
                visible=False,
                elem_id="eval-metrics",
            )
            plots = gr.Gallery(
                label=tr("Plots"),
                columns=1,  # each plot at the column's width, drawn whole (the gallery as tall as its plots: app.py)
                height="auto",
                object_fit="contain",
                interactive=False,  # a result, never a drop zone
                visible=False,
                elem_id="eval-plots",
                elem_classes="mmdemo-gallery",
            )
            results = gr.File(label=tr("Results (JSON)"), interactive=False, visible=False, elem_id="eval-json")
    items = gr.Dataframe(label=tr("Items"), interactive=False, wrap=True, visible=False, elem_id="eval-items")
    outputs = [metrics, summary, plots, items, results]

    def show_results() -> list[Any]:
        return [gr.update(visible=True) for _ in (metrics, plots, items, results)]

    dataset.upload(
        task_from_upload, dataset, task, preprocess=False, queue=False, show_progress="hidden", api_visibility="private"
    )
    task.change(can_run, task, button, queue=False, show_progress="hidden", api_visibility="private")
    run = model_event(
        button.click,
        functools.partial(evaluate, manager),
        [dataset, task, limit, source, seed],
        outputs,
        api_name="evaluate",
        lane="evaluate",
        gpu_duration=300,
        manager=manager,
        check=functools.partial(check, manager),
        controls=controls,
        progress_on=summary,
    )

    def then_show(event: Any) -> None:
        """After a run (the visitor's zip or an example): its result tables shown, the status refreshed."""
        event.success(
            show_results,
            None,
            [metrics, plots, items, results],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        after(event)

    then_show(run)
    for name, example in examples.items():
        tried = model_event(
            example.click,
            functools.partial(evaluate_example, manager, name),
            [limit, source, seed],
            [*outputs, task],
            api_name=f"evaluate_example_{name.replace('-', '_')}",
            api_visibility="private",
            lane="evaluate",
            gpu_duration=300,
            manager=manager,
            check=functools.partial(check_example, manager, name),
            controls=controls,
            progress_on=summary,
        )
        then_show(tried)
