"""One settings object for the whole app, read from environment variables and command-line flags.

Every field has an environment variable (``MMDEMO_…``); ``app.py`` flags override them. Model ids
are per *role* (``captioner``, ``vqa`` …): a Hugging Face Hub id or a local folder.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .zerogpu import zerogpu_active

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float32", "float16", "bfloat16")
UNET_WEIGHTS = ("float", "int8", "hybrid")
"""The CPU fast path's forms of the text-to-image UNet (``cpu_unet_weights``; ``mmdemo/models/openvino.py``)."""


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


def _env_float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number.") from None
    if value < 0:
        raise InputError(f"{name}={raw!r} must not be negative.")
    return value


def _env_int_or_none(env: Mapping[str, str], name: str) -> int | None:
    value = _env_float(env, name, None)
    if value is None:
        return None
    if value != int(value) or not 1 <= value <= 100:
        raise InputError(f"{name}={env[name]!r} must be a whole number from 1 to 100.")
    return int(value)


def _env_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


SPACES_PROXIES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
"""On Hugging Face Spaces the app is reached only through the platform's proxy, which connects from its
internal network and appends the visitor's address to ``X-Forwarded-For``: the hops trusted there."""

CPU_STEP_MEGAPIXELS = 1.0
GPU_STEP_MEGAPIXELS = 2.0
"""The text-to-image step caps by device when ``t2i_step_megapixels`` is not set (see :class:`Settings`): on a CPU,
a few-step model's four 512² images (its default size) fit one step."""

PROFILES: dict[str, dict[str, object]] = {
    "local": {},
    "cpu": {  # a CPU-basic Space (2 vCPU, 16 GB): keep requests short enough for shared visitors
        "device": "cpu",
        "max_upload_mb": 25.0,
        "max_audio_seconds": 300.0,
        "max_video_seconds": 300.0,
        "max_generated_side": 512,
        "max_generated_images": 2,
        "max_keyframes": 8,
        "rate_limit_per_minute": 20,
        "max_upload_mb_per_minute": 100.0,
        "t2i_request_megapixel_steps": 30.0,
        "t2i_client_megapixel_steps_per_hour": 150.0,
    },
    "gpu": {"device": "cuda"},  # a dedicated GPU: larger defaults (chosen per device), lazy LRU loading
    "zerogpu": {  # ZeroGPU: models placed on "cuda" eagerly at start-up, the GPU attached per call
        "device": "cuda",
        "preload": ("all",),
        "memory_budget_gb": 40.0,
        "rate_limit_per_minute": 20,
    },
}
"""Hardware profiles: defaults for where the app runs. Any MMDEMO_* variable or flag still wins."""


def detect_profile(env: Mapping[str, str]) -> str:
    """``zerogpu`` on ZeroGPU Spaces, ``gpu``/``cpu`` on other Spaces, else ``local`` (no changes)."""
    if zerogpu_active(env):
        return "zerogpu"
    if env.get("SPACE_ID"):
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "local"


def role_env_var(role: str) -> str:
    """Environment variable that sets the model of ``role``: ``captioner`` → ``MMDEMO_CAPTIONER_MODEL``."""
    return f"MMDEMO_{role.upper()}_MODEL"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build it with :meth:`from_env`, adjust with :meth:`replace`."""

    models: Mapping[str, str] = field(default_factory=dict)
    """Role → Hub id or local folder. Roles not listed use the spec's default for the device."""
    device: str = "auto"
    """``auto`` (CUDA, then Apple MPS, then CPU), ``cuda``, ``cuda:N``, ``mps`` or ``cpu``."""
    dtype: str = "auto"
    """``auto`` = bfloat16/float16 on CUDA, float16 on MPS; on CPU bfloat16 where the CPU fast path is on and
    the CPU has native bf16 (AVX-512 BF16, AMX), else float32."""
    cpu_fast_path: bool = False
    """On CPU: bf16 where the CPU has it natively, OpenVINO for the diffusion pipeline, CTranslate2 int8 for
    Whisper. Off here (``Settings()`` in code is the plain PyTorch float32 reference path); on in
    :meth:`from_env`, which the app and the CLI use (``MMDEMO_CPU_FAST_PATH=0`` turns it off)."""
    cpu_int8: bool = False
    """With the CPU fast path: the captioner's linear layers in int8 (dynamic quantization; faster, a small
    change in numerics, see ``mmdemo/models/blip.py``). Off by default; ``MMDEMO_CPU_INT8=1`` turns it on."""
    cpu_unet_weights: str = "float"
    """With the CPU fast path: the text-to-image UNet's weights in OpenVINO, one of :data:`UNET_WEIGHTS`: ``float``
    (bf16/f32 as the CPU computes), ``int8`` (8-bit weights), ``hybrid`` (8-bit weights, 8-bit convolution and
    attention activations). Each converted once and cached (``MMDEMO_CPU_UNET_WEIGHTS``)."""
    memory_budget_gb: float | None = None
    """Models kept on the compute device at once (GPU memory on CUDA, RAM on CPU). None = auto."""
    offload_budget_gb: float | None = None
    """RAM for models moved off the GPU before they are dropped (CUDA only). None = auto."""
    memory_headroom_gb: float = 1.0
    """Left free for activations on top of the models (subtracted from the auto budget)."""
    evict_wait_s: float = 60.0
    """How long a load waits for busy (pinned) models to finish before giving up."""
    max_upload_mb: float = 50.0
    max_image_pixels: int = 50_000_000
    max_audio_seconds: float = 600.0
    max_video_seconds: float = 1800.0
    max_keyframes: int = 12
    """Most keyframes the video summary captions and reads (scene changes beyond it: the most distinct kept)."""
    max_request_zip_entries: int = 10_000
    """Entries (files and folders) all the zips of one request may hold together (Many photos), counted from their
    directories before anything is unpacked; each zip on its own: at most 2000."""
    max_request_unpacked_mb: float = 1024.0
    """Megabytes all the zips of one request may unpack to together (Many photos), counted before anything is
    unpacked; each zip on its own: at most 512 MB."""
    max_request_pixels: int = 2_500_000_000
    """Decoded pixels one request may process in all (Many photos: every photo's width × height added up)."""
    max_eval_items: int = 2000
    """Items an uploaded evaluation data set may list (lines of its ``metadata.jsonl``); reading stops there."""
    max_generated_side: int = 1024
    """Largest width or height of a generated image (text-to-image), in pixels; a multiple of 8."""
    max_generated_images: int = 4
    """Most images one text-to-image request may ask for."""
    t2i_steps: int | None = None
    """Steps a text-to-image request gets when it asks for 0 (auto); None = the model's recommendation."""
    t2i_guidance: float | None = None
    """Guidance a text-to-image request gets when it asks for 0 (auto); None = the model's recommendation."""
    offline: bool = False
    """Never contact the Hub (also set by ``HF_HUB_OFFLINE=1``)."""
    model_dir: str | None = None
    """Folder of prefetched models (``<model_dir>/<org>/<name>``), looked up before the Hub."""
    preload: tuple[str, ...] = ()
    """Roles loaded in the background at start-up (``all`` = every role)."""
    profile: str = "local"
    """Hardware profile whose defaults were applied (see :data:`PROFILES`)."""
    max_queue: int = 64
    """Requests waiting in the queue at most; more are turned away with "the app is busy"."""
    rate_limit_per_minute: int = 0
    """Model requests one client (login, else IP address) may make per minute; 0 = no limit."""
    max_jobs_per_client: int = 8
    """Requests one client may have queued or running at once, all tasks together; more are refused when they
    are submitted (:mod:`mmdemo.ui.admission`), so one client cannot fill the queue (``max_queue``) for everyone."""
    max_upload_mb_per_minute: float = 200.0
    """Megabytes one client may upload in any sliding minute (0 = no limit; never less than ``max_upload_mb``:
    see :attr:`upload_bytes_per_minute`)."""
    t2i_step_megapixels: float | None = None
    """Text to image: most megapixels (2**20 pixels) one denoising step may process: width × height × images,
    doubled with classifier-free guidance (guidance above 1). It bounds how long a step runs, and so how soon an
    abandoned request stops (it stops between steps). None = by device (:attr:`step_megapixels_on`): 1 on a
    CPU (four 512² images, or one 1024² image, without guidance), 2 on a GPU (one 1024² image with guidance)."""
    t2i_request_megapixel_steps: float = 100.0
    """Text to image: most work one request may ask for, in megapixel-steps (a step's megapixels × steps)."""
    t2i_client_megapixel_steps_per_hour: float = 1000.0
    """Text to image: most work one client may use in any sliding hour, in megapixel-steps (0 = no limit)."""
    mcp_server: bool = False
    """Also serve every task as an MCP tool (Gradio's MCP server at ``/gradio_api/mcp/``)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses/networks of reverse proxies whose ``X-Forwarded-For`` is believed (else the peer address
    identifies the client). Default: none; on Hugging Face Spaces the platform's internal network."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, profile: str | None = None) -> Settings:
        """Settings from ``MMDEMO_*`` variables over the defaults of ``profile`` (``MMDEMO_PROFILE``, else
        detected: see :func:`detect_profile`)."""
        env = os.environ if env is None else env
        prefix, suffix = "MMDEMO_", "_MODEL"
        models = {
            key[len(prefix) : -len(suffix)].lower(): value.strip()
            for key, value in env.items()
            if key.startswith(prefix) and key.endswith(suffix) and value.strip()
        }
        defaults = cls()
        settings = cls(
            models=models,
            device=env.get("MMDEMO_DEVICE", defaults.device).strip().lower() or "auto",
            dtype=env.get("MMDEMO_DTYPE", defaults.dtype).strip().lower() or "auto",
            memory_budget_gb=_env_float(env, "MMDEMO_MEMORY_BUDGET_GB", None),
            offload_budget_gb=_env_float(env, "MMDEMO_OFFLOAD_BUDGET_GB", None),
            memory_headroom_gb=_env_float(env, "MMDEMO_MEMORY_HEADROOM_GB", defaults.memory_headroom_gb),
            evict_wait_s=_env_float(env, "MMDEMO_EVICT_WAIT_S", defaults.evict_wait_s),
            max_upload_mb=_env_float(env, "MMDEMO_MAX_UPLOAD_MB", defaults.max_upload_mb),
            max_image_pixels=int(_env_float(env, "MMDEMO_MAX_IMAGE_PIXELS", defaults.max_image_pixels)),
            max_audio_seconds=_env_float(env, "MMDEMO_MAX_AUDIO_SECONDS", defaults.max_audio_seconds),
            max_video_seconds=_env_float(env, "MMDEMO_MAX_VIDEO_SECONDS", defaults.max_video_seconds),
            max_keyframes=int(_env_float(env, "MMDEMO_MAX_KEYFRAMES", defaults.max_keyframes)),
            max_request_zip_entries=int(
                _env_float(env, "MMDEMO_MAX_REQUEST_ZIP_ENTRIES", defaults.max_request_zip_entries)
            ),
            max_request_unpacked_mb=_env_float(env, "MMDEMO_MAX_REQUEST_UNPACKED_MB", defaults.max_request_unpacked_mb),
            max_request_pixels=int(_env_float(env, "MMDEMO_MAX_REQUEST_PIXELS", defaults.max_request_pixels)),
            max_eval_items=int(_env_float(env, "MMDEMO_MAX_EVAL_ITEMS", defaults.max_eval_items)),
            max_generated_side=int(_env_float(env, "MMDEMO_MAX_GENERATED_SIDE", defaults.max_generated_side)),
            max_generated_images=int(_env_float(env, "MMDEMO_MAX_GENERATED_IMAGES", defaults.max_generated_images)),
            t2i_steps=_env_int_or_none(env, "MMDEMO_T2I_STEPS"),
            t2i_guidance=_env_float(env, "MMDEMO_T2I_GUIDANCE", None),
            offline=_env_bool(env, "MMDEMO_OFFLINE", False) or _env_bool(env, "HF_HUB_OFFLINE", False),
            model_dir=env.get("MMDEMO_MODEL_DIR") or None,
            preload=tuple(r.strip().lower() for r in env.get("MMDEMO_PRELOAD", "").split(",") if r.strip()),
            max_queue=int(_env_float(env, "MMDEMO_MAX_QUEUE", defaults.max_queue)),
            rate_limit_per_minute=int(_env_float(env, "MMDEMO_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute)),
            max_jobs_per_client=int(_env_float(env, "MMDEMO_MAX_JOBS_PER_CLIENT", defaults.max_jobs_per_client)),
            max_upload_mb_per_minute=_env_float(
                env, "MMDEMO_MAX_UPLOAD_MB_PER_MINUTE", defaults.max_upload_mb_per_minute
            ),
            t2i_step_megapixels=_env_float(env, "MMDEMO_T2I_STEP_MEGAPIXELS", None) or None,
            t2i_request_megapixel_steps=_env_float(
                env, "MMDEMO_T2I_REQUEST_MEGAPIXEL_STEPS", defaults.t2i_request_megapixel_steps
            ),
            t2i_client_megapixel_steps_per_hour=_env_float(
                env, "MMDEMO_T2I_CLIENT_MEGAPIXEL_STEPS_PER_HOUR", defaults.t2i_client_megapixel_steps_per_hour
            ),
            trusted_proxies=_env_list(env, "MMDEMO_TRUSTED_PROXIES", SPACES_PROXIES if env.get("SPACE_ID") else ()),
            mcp_server=_env_bool(env, "MMDEMO_MCP", False),
            cpu_fast_path=_env_bool(env, "MMDEMO_CPU_FAST_PATH", True),
            cpu_int8=_env_bool(env, "MMDEMO_CPU_INT8", defaults.cpu_int8),
            cpu_unet_weights=env.get("MMDEMO_CPU_UNET_WEIGHTS", "").strip().lower() or defaults.cpu_unet_weights,
        )
        name = (profile or env.get("MMDEMO_PROFILE", "").strip().lower() or "auto").lower()
        name = detect_profile(env) if name == "auto" else name
        if name not in PROFILES:
            raise InputError(f"Unknown profile {name!r}: use auto or one of {', '.join(PROFILES)}.")
        fields = {f.name for f in dataclasses.fields(cls)}
        overrides = {
            key: value
            for key, value in PROFILES[name].items()
            if key in fields and f"MMDEMO_{key.upper()}" not in env  # what the user set wins
        }
        return dataclasses.replace(settings, profile=name, **overrides).validated()  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied (``None`` values are ignored, so unset flags keep env values)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "models" in changes:
            changes["models"] = {**self.models, **changes["models"]}  # type: ignore[dict-item]
        return dataclasses.replace(self, **changes).validated()  # type: ignore[arg-type]

    def validated(self) -> Settings:
        device = self.device.lower()
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            raise InputError(f"Unknown device {self.device!r}: use one of {', '.join(DEVICES)} or cuda:N.")
        if self.dtype not in DTYPES:
            raise InputError(f"Unknown dtype {self.dtype!r}: use one of {', '.join(DTYPES)}.")
        if self.cpu_unet_weights not in UNET_WEIGHTS:
            raise InputError(f"Unknown UNet weights {self.cpu_unet_weights!r}: use one of {', '.join(UNET_WEIGHTS)}.")
        if self.max_upload_mb <= 0 or self.max_image_pixels <= 0:
            raise InputError("Upload limits must be positive.")
        if self.max_generated_side < 64 or self.max_generated_side % 8:
            raise InputError("MMDEMO_MAX_GENERATED_SIDE must be a multiple of 8, at least 64.")
        if not 1 <= self.max_keyframes <= 64:
            raise InputError("MMDEMO_MAX_KEYFRAMES must be between 1 and 64.")
        if min(self.max_request_zip_entries, self.max_request_unpacked_mb, self.max_request_pixels) <= 0:
            raise InputError("Request budgets (MMDEMO_MAX_REQUEST_*) must be positive.")
        if self.max_eval_items < 1:
            raise InputError("MMDEMO_MAX_EVAL_ITEMS must be at least 1.")
        if self.max_generated_images < 1:
            raise InputError("MMDEMO_MAX_GENERATED_IMAGES must be at least 1.")
        if self.max_queue < 1:
            raise InputError("MMDEMO_MAX_QUEUE must be at least 1.")
        if self.max_jobs_per_client < 1:
            raise InputError("MMDEMO_MAX_JOBS_PER_CLIENT must be at least 1.")
        if self.t2i_request_megapixel_steps < (self.t2i_step_megapixels or 0):
            raise InputError("MMDEMO_T2I_STEP_MEGAPIXELS must be at most MMDEMO_T2I_REQUEST_MEGAPIXEL_STEPS.")
        for item in self.trusted_proxies:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise InputError(
                    f"MMDEMO_TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 10.0.0.0/8, 127.0.0.1)."
                ) from None
        if self.model_dir is not None and not Path(self.model_dir).expanduser().is_dir():
            raise InputError(f"MMDEMO_MODEL_DIR {self.model_dir!r} is not a folder.")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def step_megapixels_on(self, device: str | None = None) -> float:
        """The text-to-image step cap (``t2i_step_megapixels``) on ``device`` (``cpu``, ``cuda:0`` …; None: not
        known yet, the largest that any device gets)."""
        if self.t2i_step_megapixels:
            return self.t2i_step_megapixels
        return CPU_STEP_MEGAPIXELS if (device or "").startswith("cpu") else GPU_STEP_MEGAPIXELS

    @property
    def upload_bytes_per_minute(self) -> int:
        """Bytes one client may upload in any sliding minute (0 = no limit): ``max_upload_mb_per_minute``, but never
        less than one upload of the largest size."""
        if self.max_upload_mb_per_minute <= 0:
            return 0
        return int(max(self.max_upload_mb_per_minute, self.max_upload_mb) * 1024 * 1024)

    def model_for(self, role: str) -> str | None:
        """The model configured for ``role``, or None to use the spec's default."""
        return self.models.get(role) or None
