"""The image captioning tab: caption (optionally from a prefix) and visual question answering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..models.manager import ModelManager
from ..tasks.captioning import DecodingOptions, answer_question, caption_image
from ..tasks.ocr import annotate, read_text
from .common import model_event, progress_to

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "images"
EXAMPLES = ["cheetah.jpg", "lion.jpg", "tower.jpg", "groot.jpeg"]


def build_captioning_tab(manager: ModelManager, after: Callable[[Any], Any]) -> None:
    """Lay out the tab inside the current ``gr.Blocks``; ``after`` chains the status refresh."""

    def caption(
        image: Any,
        prefix: str = "",
        max_new_tokens: int = 30,
        min_new_tokens: int = 0,
        num_beams: int = 3,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> str:
        options = DecodingOptions(max_new_tokens, min_new_tokens, num_beams)
        result = caption_image(image, prefix=prefix, options=options, manager=manager, progress=progress_to(progress))
        return result.text

    def ask(
        image: Any,
        question: str,
        num_beams: int = 3,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> str:
        options = DecodingOptions(max_new_tokens=10, num_beams=num_beams)
        result = answer_question(image, question, options=options, manager=manager, progress=progress_to(progress))
        return result.answer

    def read(
        image: Any, min_score: float = 0.5, progress: gr.Progress = gr.Progress(track_tqdm=True)
    ) -> tuple[Any, str, list[list[Any]]]:
        result = read_text(image, min_score=min_score, manager=manager, progress=progress_to(progress))
        if not result.lines:
            gr.Info("No text found in this image.")
        rows = [[i, line.text, line.score] for i, line in enumerate(result.lines, start=1)]
        return annotate(result), result.text, rows

    gr.Markdown(
        "Describe a photo in one sentence, steer the description by giving its first words, "
        "ask a question about the photo (short answers: *yes*, *two*, *red*…), or read the text in it."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            # type="filepath" + preprocess=False below: the backend decodes the original upload itself,
            # so odd files (CMYK, 16-bit, EXIF-rotated, corrupt, bombs) get our checks and messages.
            image = gr.Image(
                label="Photo",
                type="filepath",
                image_mode=None,
                sources=["upload", "clipboard", "webcam"],
                height=380,
                elem_id="caption-image",
            )
            gr.Examples(
                examples=[[str(ASSETS / name)] for name in EXAMPLES if (ASSETS / name).exists()],
                inputs=[image],
                label="Example photos (click one, then Caption)",
                examples_per_page=10,
            )
        with gr.Column(scale=1):
            prefix = gr.Textbox(
                label="Start the caption with (optional)",
                value="",
                placeholder="e.g. a photograph of",
                max_lines=1,
                max_length=200,
                elem_id="caption-prefix",
            )
            with gr.Accordion("Caption length and search", open=False):
                max_tokens = gr.Slider(5, 100, value=30, step=1, precision=0, label="Maximum length (tokens)")
                min_tokens = gr.Slider(
                    0, 40, value=0, step=1, precision=0, label="Minimum length (tokens)", info="Raise for more detail."
                )
                beams = gr.Slider(
                    1, 8, value=3, step=1, precision=0, label="Beams", info="More = more careful, slower."
                )
            caption_button = gr.Button("Caption", variant="primary", elem_id="caption-button")
            caption_out = gr.Textbox(label="Caption", interactive=False, buttons=["copy"], elem_id="caption-output")
            gr.Markdown("### Ask about the photo")
            question = gr.Textbox(
                label="Question",
                value="",
                placeholder="e.g. What animal is this?",
                max_lines=1,
                max_length=300,
                elem_id="vqa-question",
            )
            ask_button = gr.Button("Ask", variant="secondary", elem_id="vqa-button")
            answer_out = gr.Textbox(label="Answer", interactive=False, buttons=["copy"], elem_id="vqa-output")
            gr.Markdown("### Read the text in it")
            with gr.Row():
                min_score = gr.Slider(0, 1, value=0.5, step=0.05, label="Minimum confidence", scale=3)
                read_button = gr.Button("Read text", variant="secondary", elem_id="ocr-button", scale=1)
            ocr_text = gr.Textbox(
                label="Text (reading order)", lines=3, interactive=False, buttons=["copy"], elem_id="ocr-text"
            )
            with gr.Accordion("Where the text is", open=True):
                ocr_image = gr.Image(label="Text boxes", type="pil", interactive=False, elem_id="ocr-image")
                ocr_lines = gr.Dataframe(
                    headers=["#", "Text", "Confidence"], interactive=False, wrap=True, elem_id="ocr-lines"
                )

    after(
        model_event(
            [caption_button.click, prefix.submit],
            caption,
            [image, prefix, max_tokens, min_tokens, beams],
            caption_out,
            api_name="caption",
            lane="caption",
            gpu_duration=30,
        )
    )
    after(
        model_event(
            [ask_button.click, question.submit],
            ask,
            [image, question, beams],
            answer_out,
            api_name="vqa",
            lane="vqa",
            gpu_duration=20,
        )
    )
    # OCR runs on ONNX Runtime on the CPU whatever the device: its own lane, never behind GPU work.
    after(
        model_event(
            read_button.click, read, [image, min_score], [ocr_image, ocr_text, ocr_lines], api_name="ocr", lane="ocr"
        )
    )
