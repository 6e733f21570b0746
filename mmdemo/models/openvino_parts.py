"""The rest of the CPU fast path's pipeline in OpenVINO: the text encoder, the VAE decoder and TAESD's decoder.

With the UNet in OpenVINO (:mod:`.openvino`), the parts still in PyTorch were where optimum-intel's all-OpenVINO
pipeline stayed ahead on an AVX2 CPU with the same UNet kernels (benchmarks/side_by_side.py): its text encoder,
TAESD and, most of all, the full VAE decoder ran in OpenVINO. Each part here is converted once like the UNet,
from the model's own float32 weights, into the same cache (``<model>/openvino/<part>-<revision>-…``), and swapped
in where the pipeline calls it:

* **text encoder**: ``pipe.text_encoder`` (a CLIP text model; the last layer's states, which SD 1/2 pipelines
  read; ``clip_skip`` or an attention mask raise instead of giving other embeddings);
* **VAE decoder**: ``pipe.vae.decoder``, so ``vae.decode`` keeps diffusers' own scaling, ``post_quant_conv``
  and tiling code;
* **TAESD**: the ``tiny_vae`` role's ``model.decoder``.

Batch and size are dynamic in the IR; each shape is compiled static on first use and the last
:data:`KEPT_SHAPES` are kept (the previews and the final images decode at different batch sizes). Precision
follows the manager's dtype as for the UNet. A part that fails to convert or compile stays in PyTorch: the log
says why and the precision text names only the parts that run in OpenVINO.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .conversion import ConversionCache, dtype_name, reporting_share, revision
from .openvino_ir import CACHE_ENV, TEXT_LENGTH, CompiledIR, inference_precision, telemetry_off
from .types import LoadedModel

log = logging.getLogger(__name__)

IR_NAME = "model"
CACHE = ConversionCache("openvino", CACHE_ENV, (f"{IR_NAME}.xml", f"{IR_NAME}.bin", "meta.json"))
"""The UNet's cache root and environment variable; each part's folder is named by its own key."""
FORMAT = 1
"""Bump when what is saved changes: old conversions are then ignored, not misread."""
KEPT_SHAPES = 2
"""Static compilations kept per part (a few to a few hundred MB each)."""
LATENT_SIDE = 64
"""The latent side a decoder is compiled for at load (512 px images: SD 1/2's size and TAESD's)."""


@dataclass(frozen=True)
class Part:
    """One part of a pipeline that can run in OpenVINO."""

    name: str
    """Shown in the precision text and the log."""
    subfolder: str
    """Its folder in the pipeline folder (``""``: the role's folder is the part's model)."""
    attribute: str
    """Where its owner (the pipeline, or an autoencoder) holds it: the module converted and replaced."""
    inputs: tuple[str, ...]
    """The IR's input names, in order."""


TEXT_ENCODER = Part("text encoder", "text_encoder", "text_encoder", ("input_ids",))
VAE_DECODER = Part("VAE decoder", "vae", "decoder", ("latent_sample",))
TINY_DECODER = Part("TAESD", "", "decoder", ("latent_sample",))


def cache_key(folder: Path, part: Part, precision: str) -> str:
    """Folder name of one converted part: the part, its revision, stored weight precision, OpenVINO version."""
    import openvino

    files = Path(folder, part.subfolder).glob("*")
    weights = "w16" if precision == "bf16" else "w32"
    version = openvino.get_version().split("-")[0]
    name = part.name.lower().replace(" ", "-")
    return f"{name}-{revision(folder, files)[:16]}-{weights}-ov{version}-p{FORMAT}"


# ------------------------------------------------------------------------------- conversion


def _example(part: Part, module: Any) -> tuple[Any, list[list[int]]]:
    """A trace input for ``module`` and the IR's dynamic input shape."""
    if part is TEXT_ENCODER:
        vocab = int(module.config.vocab_size)
        return torch.arange(TEXT_LENGTH).remainder(vocab).reshape(1, -1), [[-1, TEXT_LENGTH]]
    channels = _latent_channels(module)
    return torch.randn(1, channels, LATENT_SIDE // 8, LATENT_SIDE // 8), [[-1, channels, -1, -1]]


def _latent_channels(decoder: Any) -> int:
    """The channels a decoder takes: its first convolution's input channels."""
    first = next(m for m in decoder.modules() if isinstance(m, torch.nn.Conv2d))
    return int(first.in_channels)


def convert_part(part: Part, module: Any, target: Path, precision: str) -> None:
    """Trace the float32 ``module`` with a dynamic batch (and size, for decoders); save its IR in ``target``."""
    import openvino

    class Flat(torch.nn.Module):
        """The module with one positional tensor input and one tensor output: what the converter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, value: Any) -> Any:
            if part is TEXT_ENCODER:
                return self.inner(input_ids=value).last_hidden_state
            return self.inner(value)

    example, shapes = _example(part, module)
    began = time.perf_counter()
    with torch.no_grad(), telemetry_off(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        model = openvino.convert_model(
            Flat().eval(), example_input=(example,), input=[openvino.PartialShape(s) for s in shapes]
        )
    for port, name in zip(model.inputs, part.inputs, strict=True):
        port.get_tensor().set_names({name})
    openvino.save_model(model, target / f"{IR_NAME}.xml", compress_to_fp16=precision == "bf16")
    meta = {"format": FORMAT, "part": part.name, "precision": precision}
    meta["convert_seconds"] = round(time.perf_counter() - began, 1)
    (target / "meta.json").write_text(json.dumps(meta, indent=1))


def converted_part(folder: Path, part: Part, precision: str, load: Callable[[], Any]) -> tuple[Path, bool]:
    """The folder of ``folder``'s ``part`` converted for ``precision``, converting it first (from the float32
    module ``load()`` gives) when it is not cached; returns (folder, whether it converted now)."""
    from .sizes import estimate_weight_bytes

    def make(out: Path) -> None:
        log.info("converting the %s of %s to OpenVINO (%s), once", part.name, folder, precision)
        convert_part(part, load(), out, precision)

    parameters = functools.partial(estimate_weight_bytes, Path(folder, part.subfolder), 1)  # 1 byte each: a count
    return CACHE.get(folder, cache_key(folder, part, precision), make, parameters=parameters)


# ------------------------------------------------------------------------------- the wrappers


class OpenVINOTextEncoder(CompiledIR):
    """The converted CLIP text model, called by the pipeline as ``pipe.text_encoder``: the last layer's states
    (``[0]`` of the output, which SD 1/2 pipelines read), in the manager's dtype."""

    def __init__(self, model: Any, config: Any, dtype: Any, weight_bytes: int) -> None:
        super().__init__(model, dtype, weight_bytes, KEPT_SHAPES, TEXT_ENCODER.name)
        self.config = config

    def forward(
        self, input_ids: Any, attention_mask: Any = None, output_hidden_states: bool | None = None, **unused: Any
    ) -> Any:
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        if output_hidden_states or attention_mask is not None:
            raise NotImplementedError("the OpenVINO text encoder gives the last layer's states only (no clip_skip)")
        states = self._infer([input_ids.detach().to("cpu", torch.int64).numpy()])
        return BaseModelOutputWithPooling(last_hidden_state=states.to(self.dtype))


class OpenVINODecoder(CompiledIR):
    """A converted image decoder (the VAE's or TAESD's ``decoder``), called by its autoencoder's ``decode``."""

    def forward(self, sample: Any, latent_embeds: Any = None) -> Any:
        if latent_embeds is not None:
            raise NotImplementedError("the OpenVINO decoder takes no latent_embeds")
        return self._infer([sample.detach().to("cpu", torch.float32).contiguous().numpy()]).to(sample.dtype)


def compile_part(
    part: Part, target: Path, dtype: Any, config: Any = None, channels: int = 4, side: int = LATENT_SIDE
) -> CompiledIR:
    """Read ``part``'s IR in ``target`` and compile it for the usual shape (77 tokens; latents of ``side``²)."""
    import openvino

    model = openvino.Core().read_model(target / f"{IR_NAME}.xml")
    weight_bytes = (target / f"{IR_NAME}.bin").stat().st_size
    if part is TEXT_ENCODER:
        encoder = OpenVINOTextEncoder(model, config, dtype, weight_bytes)
        encoder.compile_for(((1, TEXT_LENGTH),))
        return encoder
    decoder = OpenVINODecoder(model, dtype, weight_bytes, KEPT_SHAPES, part.name)
    decoder.compile_for(((1, channels, side, side),))
    return decoder


# ------------------------------------------------------------------------------- the loaders


def swap_in(folder: Path, part: Part, owner: Any, dtype: Any, load: Callable[[], Any], side: int = LATENT_SIDE) -> bool:
    """Replace ``part`` of ``owner`` (the pipeline, or an autoencoder) by its OpenVINO form, converted once from
    ``load()``'s float32 model; on any failure leave it in PyTorch and log why. Returns whether it was swapped."""
    current = getattr(owner, part.attribute)
    try:
        target, converted = converted_part(folder, part, inference_precision(dtype), load)
        began = time.perf_counter()
        config = getattr(current, "config", None)
        channels = 0 if part is TEXT_ENCODER else _latent_channels(current)
        setattr(owner, part.attribute, compile_part(part, target, dtype, config, channels, side))
        how = "converted now" if converted else "cached"
        log.info("OpenVINO %s (%s: %s) compiled in %.1f s", part.name, how, target, time.perf_counter() - began)
        return True
    except Exception as err:  # the part stays in PyTorch: slower, same pictures
        log.warning("the %s of %s stays in PyTorch: %s: %s", part.name, folder, type(err).__name__, err, exc_info=err)
        return False


def pipeline_parts_in_openvino(
    pipe: Any, folder: Path, dtype: Any, side: int = LATENT_SIDE
) -> tuple[list[str], list[str]]:
    """Swap the text encoder and the VAE decoder of an SD 1/2 ``pipe`` for their OpenVINO forms (the decoder
    compiled for latents of ``side``²); returns the names of the parts now in OpenVINO and of those left in
    PyTorch because they failed."""
    swapped: list[str] = []
    kept: list[str] = []
    encoder = getattr(pipe, "text_encoder", None)
    vae = getattr(pipe, "vae", None)
    parts = []
    if type(encoder).__name__ == "CLIPTextModel":  # SD 1/2's (SDXL's second encoder projects: not this path)
        parts.append((TEXT_ENCODER, pipe, lambda: _float_model(type(encoder), Path(folder, TEXT_ENCODER.subfolder))))
    if vae is not None and isinstance(getattr(vae, "decoder", None), torch.nn.Module):
        parts.append((VAE_DECODER, vae, lambda: _float_model(type(vae), Path(folder, VAE_DECODER.subfolder)).decoder))
    for index, (part, owner, load) in enumerate(parts):
        with reporting_share(index / len(parts), (index + 1) / len(parts)):
            done = swap_in(folder, part, owner, dtype, load, side)
        (swapped if done else kept).append(part.name)
    return swapped, kept


def _float_model(kind: Any, folder: Path) -> Any:
    return kind.from_pretrained(folder, dtype=torch.float32).eval()


def load_tiny_autoencoder_openvino(
    folder: Path, dtype: Any, fallback: Callable[[Path, Any], LoadedModel]
) -> LoadedModel:
    """The ``tiny_vae`` role on the CPU fast path: TAESD with its decoder run by OpenVINO (its encoder, unused by
    text to image, stays in PyTorch); the plain model when OpenVINO is missing or the decoder fails."""
    loaded = fallback(folder, dtype)
    try:
        import openvino  # noqa: F401
    except ImportError:
        loaded.precision = f"{dtype_name(dtype)} (PyTorch: OpenVINO is not installed)"
        return loaded
    model = loaded.model
    load = lambda: _float_model(type(model), Path(folder)).decoder  # noqa: E731
    if swap_in(Path(folder), TINY_DECODER, model, dtype, load):
        loaded.precision = f"{dtype_name(dtype)} (OpenVINO decoder)"
    else:
        loaded.precision = f"{dtype_name(dtype)} (PyTorch: OpenVINO conversion failed)"
    return loaded
