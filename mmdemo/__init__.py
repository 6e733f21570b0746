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
    "answer_question",
    "caption_image",
    "caption_images",
    "configure",
    "get_manager",
]

_LAZY = {
    "Settings": "mmdemo.settings",
    "answer_question": "mmdemo.tasks.captioning",
    "caption_image": "mmdemo.tasks.captioning",
    "caption_images": "mmdemo.tasks.captioning",
    "configure": "mmdemo.runtime",
    "get_manager": "mmdemo.runtime",
}


def __getattr__(name: str) -> Any:  # lazy, so `import mmdemo` stays cheap
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmdemo' has no attribute {name!r}")
