"""The image tab: one photo, a task picker (caption, detailed caption, question, read text), one Run button;
under it, folded, "Many photos" (:mod:`.batch_caption`: a table of captions for many photos or a zip).

Each task stays its own API endpoint (``/caption``, ``/describe``, ``/vqa``, ``/ocr``) with its own queue
lane; the picker shows the Run button of the chosen task (the buttons look the same), so the page has
one Run button and API clients keep typed endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from ..media.files import Upload
from ..media.image import require_image
from ..messages import Message, text
from ..models.manager import ModelManager
from ..params import documented
from ..tasks.captioning import (
    MAX_NEW_TOKENS,
    MIN_NEW_TOKENS,
    NUM_BEAMS,
    PREFIX,
    QUESTION,
    DecodingOptions,
    answer_question,
    caption_image,
    check_question,
    describe_image,
)
from ..tasks.ocr import MIN_SCORE, annotate, read_text
from .availability import AvailabilityView, tab_availability
from .batch_caption import build_batch_section
from .events import model_event, progress_to, run_controls
from .i18n import request_locale, tr, tr_choices
from .send_to import Ports
from .streaming import Partial, streamed
from .widgets import photo_input, slider, textbox

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "images"
EXAMPLES = ["thanks-for-watching.jpg", "cheetah.jpg", "lion.jpg", "tower.jpg", "groot.jpeg"]
TASKS = [  # (the feature's name in FEATURES, its key here)
    ("Caption", "caption"),
    ("Detailed caption", "detailed"),
    ("Ask a question", "ask"),
    ("Read text", "read"),
]
UNAVAILABLE = {
    "Caption": "Caption (not on this server)",
    "Detailed caption": "Detailed caption (not on this server)",
    "Ask a question": "Ask a question (not on this server)",
    "Read text": "Read text (not on this server)",
}
"""A task's choice when its model is not installed here (page text: the words, not a glyph, say it)."""
LINE_COLUMNS = ["#", Message("ocr.column.text"), Message("ocr.column.confidence")]
"""The OCR table's headers (a table's headers are translated on the server, by the request)."""
LINE_HEADERS = [str(column) for column in LINE_COLUMNS]
"""… in English (the API's, and the page's before the first result)."""
PHOTO = "the photo (JPEG, PNG, WebP, GIF …)"
"""What an image parameter is, for the API page and MCP (how to send it is added from ui/file_params.py)."""


def task_choices(usable: dict[str, bool]) -> tuple[list[tuple[Any, str]], str]:
    """The task picker's choices (those that cannot run here marked so) and the task chosen first: the first one
    that can run here (Caption when none can)."""
    choices = tr_choices((name if usable.get(name, True) else UNAVAILABLE[name], key) for name, key in TASKS)
    first = next((key for name, key in TASKS if usable.get(name, True)), TASKS[0][1])
    return choices, first


def task_view(task: str) -> list[Any]:
    """Visibility of the task-specific parts for ``task``: question, caption options, OCR options,
    the four Run buttons, the boxes image and the lines table."""
    return [
        gr.update(visible=task == "ask"),
        gr.update(visible=task == "caption"),
        gr.update(visible=task == "read"),
        *(gr.update(visible=task == key) for _, key in TASKS),
        gr.update(visible=task == "read"),
        gr.update(visible=task == "read"),
    ]


@documented([PREFIX, MAX_NEW_TOKENS, MIN_NEW_TOKENS, NUM_BEAMS], image=PHOTO)
def caption(
    manager: ModelManager,
    image: Upload,
    prefix: str = PREFIX.default,
    max_new_tokens: int = MAX_NEW_TOKENS.default,
    min_new_tokens: int = MIN_NEW_TOKENS.default,
    num_beams: int = NUM_BEAMS.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> Iterator[str]:
    """Describe a photo in one sentence (BLIP image captioning). Streams: the caption grows as it is
    generated (with beam search the best hypothesis so far, which may still change), then the final one."""
    options = DecodingOptions(max_new_tokens, min_new_tokens, num_beams)
    report = progress_to(progress)
    for item in streamed(
        lambda on_text: caption_image(
            image, prefix=prefix, options=options, manager=manager, progress=report, on_text=on_text
        )
    ):
        yield item.value if isinstance(item, Partial) else item.text


@documented([], image=PHOTO)
def describe(
    manager: ModelManager, image: Upload, progress: gr.Progress = gr.Progress(track_tqdm=True)
) -> Iterator[str]:
    """A detailed description of a photo: a longer caption, then "The text in it reads: ..." when it
    contains text."""
    report = progress_to(progress)
    for item in streamed(lambda on_text: describe_image(image, manager=manager, progress=report, on_text=on_text)):
        if isinstance(item, Partial):
            yield item.value
            continue
        for note in item.notes:
            gr.Warning(note.text(request_locale()))
        yield item.text


@documented([QUESTION, NUM_BEAMS], image=PHOTO)
def vqa(
    manager: ModelManager,
    image: Upload,
    question: str,
    num_beams: int = NUM_BEAMS.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> Iterator[str]:
    """Answer a question about a photo with a short answer (yes, two, red...): BLIP visual question
    answering."""
    options = DecodingOptions(max_new_tokens=10, num_beams=num_beams)
    report = progress_to(progress)
    for item in streamed(
        lambda on_text: answer_question(
            image, question, options=options, manager=manager, progress=report, on_text=on_text
        )
    ):
        yield item.value if isinstance(item, Partial) else item.answer


@documented([MIN_SCORE], image=PHOTO)
def ocr(
    manager: ModelManager,
    image: Upload,
    min_score: float = MIN_SCORE.default,
    progress: gr.Progress = gr.Progress(track_tqdm=True),
) -> tuple[Any, str, dict[str, list[Any]]]:
    """Read the text in a photo (PP-OCR): the photo with the text boxes drawn, the text in reading
    order, and one row per line (number, text, confidence)."""
    locale = request_locale()
    result = read_text(image, min_score=min_score, manager=manager, progress=progress_to(progress, locale))
    if not result.lines:
        gr.Info(Message("ocr.no_text").text(locale))
    rows = [[i, line.text, round(line.score, 3)] for i, line in enumerate(result.lines, start=1)]
    return annotate(result), result.text, {"headers": [text(h, locale) for h in LINE_COLUMNS], "data": rows}


def image_given(image: Upload | None, *_: Any) -> None:
    """The browser's check before a run: a photo is there."""
    require_image(image)


def image_and_question(image: Upload | None, question: str, *_: Any) -> None:
    """The browser's check before a question: a photo and a question."""
    require_image(image)
    check_question(question)


def build_captioning_tab(manager: ModelManager, after: Callable[[Any], Any], view: AvailabilityView) -> Ports:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""
    gr.Markdown(tr("Describe a photo, ask about it, or read the text in it."), elem_classes="tab-intro")
    view.notice("caption")
    usable = tab_availability(manager, "caption").usable  # files only: nothing loaded
    choices, first = task_choices(usable)
    # On a phone the columns stack with the examples last: photo, task, Run, result, then examples (CSS in app.py).
    with gr.Row(equal_height=False, elem_id="caption-row"):
        with gr.Column(scale=1, min_width=300, elem_id="caption-left"):
            image = photo_input("caption-image", height=360)
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[image],
                label=tr("Example photos (the first one has text to read)"),
                examples_per_page=10,
                elem_id="caption-examples",
            )
        with gr.Column(scale=1, min_width=300, elem_id="caption-right"):
            task = gr.Radio(choices, value=first, label=tr("Task"), elem_id="caption-task")
            question = textbox(QUESTION, max_lines=1, visible=first == "ask", elem_id="vqa-question")
            with (
                gr.Group(visible=first == "caption") as caption_options,
                gr.Accordion(tr("Caption options"), open=False),
            ):
                prefix = textbox(PREFIX, max_lines=1, elem_id="caption-prefix")
                max_tokens = slider(MAX_NEW_TOKENS)
                min_tokens = slider(MIN_NEW_TOKENS)
                beams = slider(NUM_BEAMS)
            with gr.Group(visible=first == "read") as read_options:
                min_score = slider(MIN_SCORE)
            buttons = {
                key: gr.Button(
                    tr("Run"),
                    variant="primary",
                    visible=key == first,
                    interactive=usable.get(name, True),
                    elem_id=f"{key}-button",
                )
                for name, key in TASKS
            }
            controls = run_controls("caption")
            result = gr.Textbox(
                label=tr("Result"), lines=3, interactive=False, buttons=["copy"], elem_id="caption-output"
            )
            to_prompt = gr.Button(tr("Use as a prompt"), size="sm", elem_id="caption-to-prompt")
            boxes = gr.Image(
                label=tr("Text found (boxes on the photo)"),
                type="pil",
                interactive=False,
                visible=first == "read",
                elem_id="ocr-image",
            )
            with gr.Accordion(tr("Lines found"), open=False, visible=first == "read") as lines_box:
                ocr_lines = gr.Dataframe(
                    headers=LINE_HEADERS,
                    label=tr("Lines found"),
                    show_label=False,
                    interactive=False,
                    wrap=True,
                    elem_id="ocr-lines",
                )
    build_batch_section(manager, after)  # "Many photos", folded under the photo and its result

    task.change(
        task_view,
        task,
        [question, caption_options, read_options, *buttons.values(), boxes, lines_box],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    for feature, key in TASKS:
        view.gate("caption", feature, buttons[key])

    after(
        model_event(
            [buttons["caption"].click, prefix.submit],
            partial(caption, manager),
            [image, prefix, max_tokens, min_tokens, beams],
            result,
            api_name="caption",
            lane="caption",
            gpu_duration=30,
            check=image_given,
            manager=manager,
            controls=controls,
        )
    )
    after(
        model_event(
            buttons["detailed"].click,
            partial(describe, manager),
            [image],
            result,
            api_name="describe",
            lane="caption",
            gpu_duration=40,
            check=image_given,
            manager=manager,
            controls=controls,
        )
    )
    after(
        model_event(
            [buttons["ask"].click, question.submit],
            partial(vqa, manager),
            [image, question, beams],
            result,
            api_name="vqa",
            lane="vqa",
            gpu_duration=20,
            check=image_and_question,
            manager=manager,
            controls=controls,
        )
    )
    # OCR runs on ONNX Runtime on the CPU whatever the device: its own lane, never behind GPU work.
    after(
        model_event(
            buttons["read"].click,
            partial(ocr, manager),
            [image, min_score],
            [boxes, result, ocr_lines],
            api_name="ocr",
            lane="ocr",
            progress_on=result,
            check=image_given,
            manager=manager,
            controls=controls,
        )
    )
    return Ports(image=image, texts=[(to_prompt, result)])
