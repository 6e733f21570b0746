"""What a model id names and how users may see it: a Hub id (``org/name``), weights inside an installed
package (``pip:<module>/<folder>``) or a local folder, which is never shown by its path.

Imports nothing from the app: :mod:`mmdemo.errors` names models with it, :mod:`mmdemo.models.hub` finds
their files.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_PREFIX = "pip:"
"""Model ids ``pip:<module>/<sub/folder>`` name weights shipped inside an installed Python package:
always available offline, nothing to download."""


def is_packaged(model_id: str) -> bool:
    return model_id.startswith(PACKAGE_PREFIX)


def looks_like_path(model_id: str) -> bool:
    """True for things a user meant as a folder (``./x``, ``/x``, ``~/x``, ``a/b/c``), not ``org/name``."""
    return (
        model_id.startswith((".", "/", "~", "\\"))
        or model_id.count("/") > 1
        or (len(model_id) > 1 and model_id[1] == ":")
    )


def public_model_id(model_id: str) -> str:
    """``model_id`` as users may see it: Hub and ``pip:`` ids unchanged, a local folder by its name only
    (a path tells visitors of a public app how the server is laid out)."""
    if is_packaged(model_id) or not (looks_like_path(model_id) or Path(model_id).expanduser().is_dir()):
        return model_id
    name = Path(model_id.rstrip("/\\")).name or "model"
    return f"local folder “{name}”"
