"""Gradio UI: one module per tab plus the Blocks app."""

from .app import build_app, launch_kwargs

__all__ = ["build_app", "launch_kwargs"]
