"""The image tab's "Many photos" section: photos (or zips of photos) → a table of captions, optionally the text
in each photo and the answer to one question about each, with CSV and JSONL downloads.

The backend is :func:`~mmdemo.tasks.batch_caption.caption_batch` (batched by the memory left, a progress step
per photo, a bad photo recorded in its row). Its own queue lane (``caption_batch``): a single caption never
waits for a whole batch job, only for the batch the captioner is working on. The page shows the table's headers,
its errors and the notes in the visitor's language; the CSV and JSONL downloads are English (data files: their
column names are the same for everyone).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from typing import Any

import gradio as gr

from ..media.archive import ZipBudget
from ..media.files import Upload
from ..messages import Message, Page
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..params import documented
from ..tasks import batch_caption
from ..tasks.batch_caption import QUESTION, READ_TEXT, BatchCaptionResult
from .events import model_event, output_folder, progress_to, run_controls
from .i18n import request_locale, tr
from .widgets import checkbox, textbox

FILES = "photos (JPEG, PNG, WebP, GIF …) and/or zips of photos"
"""What the files parameter is, for the API page and MCP."""
EMPTY_HEADERS = [""]
"""The table's headers before the first run: one empty one (the table shows once a run starts; a result's headers are in
the visitor's language)."""


def notes_markdown(result: BatchCaptionResult, locale: str = "en") -> str:
    """One plain sentence, the notes, and the run's details (batch size, time, models) folded under "Details"."""
    rows, failed = len(result.rows), len(result.failed)
    models = ", ".join(f"`{public_model_id(m)}`" for m in result.model_ids) or Message("batch.no_models")
    summary = Message("batch.result", count=rows, captioned=rows - failed, failed=failed)
    details = Message("batch.details", batch=result.batch_size, seconds=f"{result.seconds:.1f}", models=models)
    return "\n".join(
        [
            summary.text(locale),
            *(f"- {note.text(locale)}" for note in result.notes),
            "",
            f"<details><summary>{Page('Details').text(locale)}</summary>\n\n{details.text(locale)}\n</details>",
        ]
    )


def table(result: BatchCaptionResult, locale: str = "en") -> dict[str, list[Any]]:
    """The rows for the page: headers and errors in ``locale``, empty cells for nothing."""
    data = [[value or "" for value in record.values()] for record in result.records(locale)]
    return {"headers": [Message(f"batch.column.{c}").text(locale) for c in result.columns], "data": data}


@documented([READ_TEXT, QUESTION], files=FILES)
def caption_batch(
    manager: ModelManager,
    files: list[Upload],
    read_text: bool = READ_TEXT.default,
    question: str = QUESTION.default,
    progress: gr.Progress = gr.Progress(),
) -> tuple[dict[str, list[Any]], list[str], str]:
    """Caption many photos at once: a table with one row per photo (file, caption, optionally the text read
    in it and the answer to one question, and the error for a photo that could not be read), and the same
    table as CSV and JSONL files."""
    locale = request_locale()
    workspace = output_folder()
    try:
        result = batch_caption.caption_batch(
            files,
            read_text=read_text,
            question=question,
            unpack_to=workspace,
            manager=manager,
            progress=progress_to(progress, locale),
        )
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    if not any(row.ok for row in result.rows):
        gr.Warning(Message("batch.none_captioned").text(locale))
    paths = result.write(output_folder())
    return table(result, locale), [str(p) for p in paths], notes_markdown(result, locale)


def check(manager: ModelManager, files: list[Upload], read_text: bool = False, question: str = "", *_: Any) -> None:
    """The browser's precheck: the options, the models, every zip and the request's budget, from the zips'
    directories (the gate has refused a request without files)."""
    batch_caption.check_batch(manager, read_text, question)
    batch_caption.plan_inputs(files, [], budget=ZipBudget.from_settings(manager.settings))


def build_batch_section(manager: ModelManager, after: Callable[[Any], Any]) -> None:
    """The "Many photos" accordion, placed where it is called (under the image tab's photo and result)."""
    with gr.Accordion(tr("Many photos: a table of captions"), open=False, elem_id="batch-section"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                files = gr.File(
                    label=tr("Photos, or zips of photos"),
                    file_count="multiple",
                    file_types=["image", ".zip"],
                    elem_id="batch-files",
                )
                read_text = checkbox(READ_TEXT)
                question = textbox(QUESTION, max_lines=1, elem_id="batch-question")
                button = gr.Button(tr("Caption all"), variant="primary", elem_id="batch-button")
                controls = run_controls("batch")
            with gr.Column(scale=2, min_width=300):
                captions = gr.Dataframe(
                    headers=EMPTY_HEADERS,
                    label=tr("Captions"),
                    interactive=False,
                    wrap=True,
                    visible=False,  # shown when a run starts
                    max_height=600,
                    elem_id="batch-table",
                )
                notes = gr.Markdown(label=tr("Notes"), elem_id="batch-notes")
                downloads = gr.File(
                    label=tr("Download (CSV, JSONL)"),
                    file_count="multiple",
                    interactive=False,  # a result, never a drop zone
                    visible=False,
                    elem_id="batch-downloads",
                )

    after(
        model_event(
            button.click,
            functools.partial(caption_batch, manager),
            [files, read_text, question],
            [captions, downloads, notes],
            api_name="caption_batch",
            lane="caption_batch",
            gpu_duration=300,
            manager=manager,
            check=functools.partial(check, manager),
            controls=controls,
            reveal=[captions, downloads],
        )
    )
