"""The process-wide settings and model manager that the task functions use by default."""

from __future__ import annotations

import threading

from .models.manager import ModelManager
from .settings import Settings

_lock = threading.Lock()
_manager: ModelManager | None = None


def configure(settings: Settings) -> ModelManager:
    """Replace the default manager (models loaded by the previous one are released with it)."""
    global _manager
    with _lock:
        _manager = ModelManager(settings)
        return _manager


def get_manager() -> ModelManager:
    """The default manager, built from the environment on first use."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = ModelManager(Settings.from_env())
        return _manager
