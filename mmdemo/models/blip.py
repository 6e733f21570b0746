"""BLIP captioning on the CPU fast path: the same model, beam search and processor, with two changes.

* **No copying of the image's keys and values in beam search** (exact, always on in the fast path). At every
  step transformers reorders the whole cache to follow the surviving beams, the cross-attention part too:
  12 layers × keys and values of 577 image tokens per beam, 64 MB in bfloat16, copied 30 times a caption into
  fresh memory (page faults). Every beam of an image attends to the same image, so those rows are equal and
  the reorder leaves them as they are: only the self-attention part (the text so far) is reordered here.
* **int8 linear layers** (``Settings.cpu_int8``, off by default, ``MMDEMO_CPU_INT8=1``; it changes numerics).
  Every ``nn.Linear`` of
  the vision encoder and the text decoder (LM head included) gets int8 weights, one scale per output
  channel, and runs with dynamically quantized activations on fbgemm's int8 kernels
  (``torch.ao.nn.quantized.dynamic.Linear``: deprecated in favour of torchao, still in torch 2.13, not
  installed here). The rest (embeddings, layer norms, attention, GELU) stays in the manager's dtype.
  Quantized at load time from the float32 weights (a few seconds: nothing to cache). On x86 only (its
  kernels are the ones measured); elsewhere, or when quantization fails, the model loads without it and
  ``LoadedModel.precision`` says why.

Measured with ``benchmarks/blip_cpu.py`` (see benchmarks/README.md, "BLIP captioning on CPU").
"""

from __future__ import annotations

import importlib
import logging
import os
import types
import warnings
from pathlib import Path
from typing import Any

import torch

from .conversion import dtype_name
from .types import LoadedModel

log = logging.getLogger(__name__)

INT8_ENGINES = ("x86", "fbgemm")
"""PyTorch quantized engines whose int8 kernels the fast path uses (the measured ones: x86 CPUs)."""


def vnni_kernels() -> bool:
    """Whether fbgemm runs its AVX-512 VNNI kernels here: the CPU has them and ``FBGEMM_ENABLE_INSTRUCTIONS``
    (fbgemm's own limit, used to measure the AVX2 class) does not hold it below them."""
    limit = os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS", "").strip().upper()
    try:
        return bool(torch.cpu._is_vnni_supported()) and limit in ("", "AVX512_E1")
    except (AttributeError, RuntimeError):
        return False


FULL_RANGE = vnni_kernels()
"""Activations quantized to the full 8 bits only with VNNI kernels (int32 sums). Elsewhere fbgemm sums pairs of
u8×s8 products in saturating int16, so activations get 7 bits (``reduce_range``): more drift (module doc)."""


class Int8Linear(torch.nn.Module):
    """A ``Linear`` with int8 weights (per output channel) and activations quantized per call, computed in
    float32 by fbgemm; input and output in the caller's dtype. A ``meta`` buffer the size of the packed
    weights lets the model manager count its memory (the packed weights are not tensors it can see)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig

        source = torch.nn.utils.skip_init(  # no random fill: the weights are set next
            torch.nn.Linear, linear.in_features, linear.out_features, bias=linear.bias is not None
        )
        source.weight.data = linear.weight.detach().float()
        if linear.bias is not None:
            source.bias.data = linear.bias.detach().float()
        source.qconfig = per_channel_dynamic_qconfig  # type: ignore[assignment]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao.quantization: "use torchao"
            warnings.simplefilter("ignore", UserWarning)  # quantized tensor constructors: the same notice
            self.linear = DynamicLinear.from_float(source)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        packed = linear.out_features * (linear.in_features + 4 + 8 + (4 if linear.bias is not None else 0))
        self.register_buffer("int8_weights", torch.empty(packed, dtype=torch.uint8, device="meta"), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self.linear._packed_params._packed_params
        y = torch.ops.quantized.linear_dynamic(x.float(), packed, reduce_range=not FULL_RANGE)
        return y.to(x.dtype)

    def _apply(self, fn: Any, recurse: bool = True) -> Int8Linear:
        return self  # .to(dtype)/.cpu(): the packed int8 weights stay as they are (CPU only)


def quantize_linears(module: torch.nn.Module) -> int:
    """Replace every ``nn.Linear`` under ``module`` by an :class:`Int8Linear` (weights read as float32).
    Returns how many were replaced."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, Int8Linear(child))
            count += 1
        else:
            count += quantize_linears(child)
    return count


def int8_unavailable() -> str:
    """Why int8 linear layers cannot be used here ('' when they can)."""
    engine = torch.backends.quantized.engine
    if engine not in INT8_ENGINES:
        return f"no x86 int8 kernels (PyTorch's quantized engine here: {engine})"
    try:
        importlib.import_module("torch.ao.nn.quantized.dynamic")
    except ImportError as err:  # a torch without eager-mode quantization
        return f"torch.ao.nn.quantized.dynamic is not available ({err})"
    return ""


def share_image_keys_in_beam_search(model: Any) -> None:
    """Make beam search reorder only the text decoder's self-attention cache (module doc): the
    cross-attention keys and values are the same for every beam of an image."""
    from transformers.cache_utils import EncoderDecoderCache

    def reorder(self: Any, cache: Any, beam_idx: torch.Tensor) -> Any:
        if isinstance(cache, EncoderDecoderCache):
            cache.self_attention_cache.reorder_cache(beam_idx)
        else:
            cache.reorder_cache(beam_idx)
        return cache

    # transformers' beam search calls the model's own ``_reorder_cache`` when it has one (RAG, RecurrentGemma …)
    model.text_decoder._reorder_cache = types.MethodType(reorder, model.text_decoder)


def load_captioner(folder: Path, dtype: Any, int8: bool) -> LoadedModel:
    """``BlipForConditionalGeneration`` and its processor from ``folder`` for the CPU fast path: in
    ``dtype``, beam search without copying the image's keys and values, and with ``int8`` its linear layers
    in int8 where :func:`int8_unavailable` allows (else without, saying why in ``precision``)."""
    import transformers

    processor = transformers.AutoProcessor.from_pretrained(folder)
    why_not = int8_unavailable() if int8 else ""
    quantize = int8 and not why_not
    weights_dtype = torch.float32 if quantize else dtype  # quantized from the float32 weights
    model = transformers.BlipForConditionalGeneration.from_pretrained(folder, dtype=weights_dtype).eval()
    precision = None
    if quantize:
        try:
            count = quantize_linears(model.vision_model) + quantize_linears(model.text_decoder)
        except Exception as err:  # fbgemm refusing a shape, a torch that changed the API …
            log.warning("int8 quantization of %s failed: %s: %s", folder, type(err).__name__, err, exc_info=err)
            why_not = f"int8 quantization failed ({type(err).__name__})"
            model = transformers.BlipForConditionalGeneration.from_pretrained(folder, dtype=dtype).eval()
        else:
            log.info("%s: %d linear layers in int8", folder, count)
            precision = f"int8 + {dtype_name(dtype)} (dynamic quantization)"
        model.to(dtype)
    if why_not:
        if not quantize:  # (a failed quantization was logged with its cause above)
            log.warning("captioner %s without int8 linear layers: %s", folder, why_not)
        precision = f"{dtype_name(dtype)} (PyTorch: {why_not})"
    share_image_keys_in_beam_search(model)
    return LoadedModel(model=model, processor=processor, precision=precision)
