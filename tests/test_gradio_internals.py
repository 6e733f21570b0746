"""The Gradio internals the app relies on, outside its MCP server (whose own guard is in tests/test_e2e_mcp.py):
requirements.txt pins the tested minor, and these fail first when a Gradio release changes their shape."""

from __future__ import annotations

import inspect

import gradio as gr


def _parameters(fn: object) -> list[str]:
    return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]


def test_the_gate_overrides_blocks_methods_of_the_same_shape() -> None:
    """mmdemo/ui/gate.py: GatedBlocks.preprocess_data checks every value before Gradio's own preprocessing, and
    get_api_info rewrites what the API page says."""
    from mmdemo.ui.gate import GatedBlocks

    assert _parameters(gr.Blocks.preprocess_data) == ["self", "block_fn", "inputs", "state", "explicit_call"]
    assert inspect.iscoroutinefunction(gr.Blocks.preprocess_data)
    assert _parameters(GatedBlocks.preprocess_data) == _parameters(gr.Blocks.preprocess_data)
    assert _parameters(gr.Blocks.get_api_info) == ["self", "all_endpoints", "page"]
    assert _parameters(GatedBlocks.get_api_info) == _parameters(gr.Blocks.get_api_info)


def test_what_client_gone_reads_of_the_queue_is_there() -> None:
    """mmdemo/ui/events.py client_gone(): the request's blocks and event id from LocalContext, the queue's
    active jobs (lists of events) and each event's id and liveness."""
    from gradio.context import LocalContext
    from gradio.queueing import Event, Queue

    for name in ("blocks", "event_id", "request", "progress"):
        assert hasattr(LocalContext, name), name
    assert "active_jobs" in inspect.getsource(Queue.__init__)
    source = inspect.getsource(Event.__init__)
    assert "self._id" in source and "self.alive" in source


def test_the_file_helpers_the_gate_calls_take_what_it_passes() -> None:
    """mmdemo/ui/gate.py copies assets into Gradio's cache with save_file_to_cache(path, cache_dir) and reads the
    cache folder from get_upload_folder(); mmdemo/ui/mcp.py stores data: URLs with save_bytes_to_cache."""
    from gradio.processing_utils import save_bytes_to_cache, save_file_to_cache
    from gradio.utils import get_upload_folder

    assert _parameters(save_file_to_cache)[:2] == ["file_path", "cache_dir"]
    assert _parameters(save_bytes_to_cache)[:3] == ["data", "file_name", "cache_dir"]
    assert isinstance(get_upload_folder(), str)
