"""mmdemo: a multimodal AI demo (Gradio UI + a backend that owns model loading and memory).

Plain Python use::

    from mmdemo import caption_image, answer_question
    caption_image("photo.jpg").text
    answer_question("photo.jpg", "What colour is the bus?").answer
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Settings",
    "analyze_emotion",
    "answer_question",
    "caption_batch",
    "caption_image",
    "caption_images",
    "configure",
    "generate_images",
    "get_manager",
    "read_text",
    "summarize_video",
    "transcribe",
]

_LAZY = {
    "Settings": "mmdemo.settings",
    "analyze_emotion": "mmdemo.tasks.audio_emotion",
    "answer_question": "mmdemo.tasks.captioning",
    "caption_batch": "mmdemo.tasks.batch_caption",
    "caption_image": "mmdemo.tasks.captioning",
    "caption_images": "mmdemo.tasks.captioning",
    "configure": "mmdemo.runtime",
    "generate_images": "mmdemo.tasks.text_to_image",
    "get_manager": "mmdemo.runtime",
    "read_text": "mmdemo.tasks.ocr",
    "summarize_video": "mmdemo.tasks.video_summary",
    "transcribe": "mmdemo.tasks.transcription",
}


def __getattr__(name: str) -> Any:  # lazy, so `import mmdemo` stays cheap
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmdemo' has no attribute {name!r}")
