"""The image tab's "Many photos" section: photos (or zips of photos) → a table of captions, optionally the text
in each photo and the answer to one question about each, with CSV and JSONL downloads.

The backend is :func:`~mmdemo.tasks.batch_caption.caption_batch` (batched by the memory left, a progress step
per photo, a bad photo recorded in its row). Its own queue lane (``caption_batch``): a single caption never
waits for a whole batch job, only for the batch the captioner is working on.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import gradio as gr

from ..media.archive import check_zip
from ..models.hub import public_model_id
from ..models.manager import ModelManager
from ..tasks import batch_caption
from ..tasks.batch_caption import BatchCaptionResult
from ..tasks.captioning import MAX_QUESTION_CHARS
from .common import model_event, output_folder, progress_to
from .i18n import say, tr, translate


def notes_markdown(result: BatchCaptionResult) -> str:
    rows, failed = len(result.rows), len(result.failed)
    models = ", ".join(f"`{public_model_id(m)}`" for m in result.model_ids) or "none ran"
    lines = [
        f"{rows} photo(s): {rows - failed} captioned, {failed} could not be read · batches of {result.batch_size} · "
        f"{result.seconds:.1f} s · models: {models}"
    ]
    lines += [f"- ⚠️ {note}" for note in result.notes]
    return "\n".join(lines)


def table(result: BatchCaptionResult) -> dict[str, list[Any]]:
    """The rows for the page: headers and errors in the request's language, empty cells for nothing."""
    data = [
        [translate(value) if key == "error" and value else (value or "") for key, value in record.items()]
        for record in result.records()
    ]
    return {"headers": [translate(column) for column in result.columns], "data": data}


def build_batch_section(manager: ModelManager, after: Callable[[Any], Any]) -> None:
    """The "Many photos" accordion, placed where it is called (under the image tab's photo and result)."""

    def caption_batch(
        files: Any,
        read_text: bool = False,
        question: str = "",
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[dict[str, list[Any]], list[str], str]:
        """Caption many photos at once: a table with one row per photo (file, caption, optionally the text read
        in it and the answer to one question, and the error for a photo that could not be read), and the same
        table as CSV and JSONL files.

        Args:
            files: photos (JPEG, PNG, WebP, GIF …) and/or zips of photos.
            read_text: also read the text in each photo (OCR).
            question: also ask this question about each photo (short answers); empty = no question.
        """
        workspace = output_folder()
        try:
            result = batch_caption.caption_batch(
                files,
                read_text=read_text,
                question=question,
                unpack_to=workspace,
                manager=manager,
                progress=progress_to(progress),
            )
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
        if not any(row.ok for row in result.rows):
            gr.Warning(say("No photo could be captioned: the table says why for each file."))
        paths = result.write(output_folder())
        return table(result), [str(p) for p in paths], notes_markdown(result)

    with gr.Accordion(tr("Many photos: a table of captions"), open=False, elem_id="batch-section"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                files = gr.File(
                    label=tr("Photos, or zips of photos"),
                    file_count="multiple",
                    file_types=["image", ".zip"],
                    elem_id="batch-files",
                )
                read_text = gr.Checkbox(value=False, label=tr("Also read the text in each photo"))
                question = gr.Textbox(
                    label=tr("Also ask each photo"),
                    value="",
                    placeholder=tr("Optional, e.g. How many people are there?"),
                    max_lines=1,
                    max_length=MAX_QUESTION_CHARS,
                    elem_id="batch-question",
                )
                button = gr.Button(tr("Caption all"), variant="primary", elem_id="batch-button")
            with gr.Column(scale=2, min_width=300):
                captions = gr.Dataframe(
                    headers=["file", "caption", "error"],
                    label=tr("Captions"),
                    interactive=False,
                    wrap=True,
                    elem_id="batch-table",
                )
                downloads = gr.File(label=tr("Download (CSV, JSONL)"), file_count="multiple", elem_id="batch-downloads")
                notes = gr.Markdown(label=tr("Notes"), elem_id="batch-notes")

    def check(files: Any, read_text: bool = False, question: str = "", *_: Any) -> None:
        batch_caption.check_batch(manager, read_text, question)  # (the gate has refused a request without files)
        for file in files:
            if str(file.get("orig_name") or file["path"]).lower().endswith(".zip"):
                check_zip(file["path"])

    after(
        model_event(
            button.click,
            caption_batch,
            [files, read_text, question],
            [captions, downloads, notes],
            api_name="caption_batch",
            lane="caption_batch",
            gpu_duration=300,
            manager=manager,
            check=check,
        )
    )
