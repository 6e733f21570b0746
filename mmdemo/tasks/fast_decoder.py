"""The fast decoder of text to image: which tiny autoencoder (TAESD) fits which pipeline, decoding latents with
it, and the safety check that images decoded this way still pass (the pipeline's own runs only on its VAE path).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from ..errors import MemoryBudgetError, ModelUnavailableError
from ..messages import Message
from ..models.hub import public_model_id
from ..models.manager import ModelManager, ProgressFn

TINY_DECODER_FAMILIES = {"taesdxl": "sdxl", "taesd3": "sd3", "taef1": "flux", "taesd": "sd"}
"""TAESD decoders by the name their authors give them (madebyollin/taesd …) → the pipeline family they
decode for. Their configs are identical (taesd and taesdxl both have 4 latent channels), so the name is
the only way to tell; a decoder of the wrong family decodes wrongly without any error."""
FAMILY_NAMES = {"sd": "Stable Diffusion 1/2", "sdxl": "SDXL", "sd3": "SD3", "flux": "FLUX"}


def decoder_family(model_id: str) -> str | None:
    """The pipeline family a tiny decoder is for, from its id or folder name; None when it does not say."""
    name = model_id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    for marker in sorted(TINY_DECODER_FAMILIES, key=len, reverse=True):
        if marker in name:
            return TINY_DECODER_FAMILIES[marker]
    return None


def pipeline_family(pipe: Any) -> str | None:
    """``sd``, ``sdxl``, ``sd3`` or ``flux`` from the pipeline's class; None for anything else."""
    name = type(pipe).__name__
    if name.startswith("StableDiffusionXL"):
        return "sdxl"
    if name.startswith("StableDiffusion3"):
        return "sd3"
    if name.startswith("Flux"):
        return "flux"
    if name.startswith("StableDiffusion"):
        return "sd"
    return None


def tiny_decoder(
    manager: ModelManager, stack: ExitStack, pipe: Any, progress: ProgressFn | None
) -> tuple[Any, Message | None]:
    """The ``tiny_vae`` handle (entered on ``stack``), or None and why it cannot be used.

    The decoder must be made for this pipeline's family (checked from its name before it is loaded) and
    fit its latents (checked from both configs)."""
    shown = public_model_id(manager.model_id("tiny_vae"))
    wanted, offered = pipeline_family(pipe), decoder_family(manager.model_id("tiny_vae"))
    if wanted is None:
        return None, Message("t2i.tiny.no_family", kind=type(pipe).__name__)
    if offered is None:
        return None, Message("t2i.tiny.unknown", model=shown, names=", ".join(TINY_DECODER_FAMILIES))
    if offered != wanted:
        names = {"offered": FAMILY_NAMES[offered], "wanted": FAMILY_NAMES[wanted], "name": _decoder_for(wanted)}
        return None, Message("t2i.tiny.wrong_family", model=shown, **names)
    vae = getattr(pipe, "vae", None)
    try:
        tiny = stack.enter_context(manager.use("tiny_vae", progress))
    except (ModelUnavailableError, MemoryBudgetError) as err:
        return None, err.message
    channels = getattr(getattr(vae, "config", None), "latent_channels", None)
    if channels != tiny.model.config.latent_channels:
        return None, Message("t2i.tiny.latents", model=shown, channels=channels)
    return tiny, None


def _decoder_for(family: str) -> str:
    return next(marker for marker, f in TINY_DECODER_FAMILIES.items() if f == family)


def decode_tiny(pipe: Any, tiny: Any, latents: Any, device: Any) -> list[Any]:
    """Latents → PIL images with the tiny autoencoder (as diffusers does with ``pipe.vae = AutoencoderTiny``)."""
    latents = latents.to(device=tiny.device, dtype=tiny.dtype) / tiny.model.config.scaling_factor
    decoded = tiny.model.decode(latents, return_dict=False)[0]
    return pipe.image_processor.postprocess(decoded, output_type="pil")


def safety_check(pipe: Any, images: list[Any], device: Any, dtype: Any) -> tuple[list[Any], list[bool]]:
    """Run the pipeline's safety checker, if it has one, on images that bypassed it (tiny decoder)."""
    if getattr(pipe, "safety_checker", None) is None or not hasattr(pipe, "run_safety_checker"):
        return images, []
    import numpy as np

    array = np.stack([np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0 for img in images])
    checked, flagged = pipe.run_safety_checker(array, device, dtype)
    return pipe.image_processor.numpy_to_pil(checked), list(flagged or [])
