"""BLIP captioning on the CPU fast path: the same model, beam search and processor, with these changes. "Exact"
below: the same tokens, and scores and logits equal up to float32 rounding (bit-identical on AVX2 kernels; an
AVX-512/AMX CPU's matrix kernels sum in an order that depends on a product's shape: up to 7e-7 relative there).

* **No copying of the image's keys and values in beam search** (exact, always on in the fast path). At every
  step transformers reorders the whole cache to follow the surviving beams, the cross-attention part too:
  12 layers × keys and values of 577 image tokens per beam, 64 MB in bfloat16, copied 30 times a caption into
  fresh memory (page faults). Every beam of an image attends to the same image, so those rows are equal and
  the reorder leaves them as they are: only the self-attention part (the text so far) is reordered here.
* **The image's keys and values once per image, not once per beam** (exact, always on in the fast path).
  ``generate`` copies the image (577 tokens) once per beam, so the first step computed the cross-attention's
  keys and values 3 times (12 layers × 2 projections of 577 × 768: about two thirds of the vision encoder's
  linear work again), kept 3 copies of them in the cache and read all 3 every step. Here the image keeps one
  row per image (:func:`one_image_row_per_image`) and the cross-attention (:func:`_cross_attention`) attends
  each image's beams to it: the scores one beam at a time (one product with several query rows sums in
  another order: not the same bits), the weighted sum of the values for all its beams in one product (the same
  bits), so the values are read once a step.
* **Fused projections** (exact): in each decoder layer one ``Linear`` computes the self-attention's query, key
  and value (``qkv``) and one the cross-attention's key and value (``kv``), split afterwards
  (:func:`fuse_attention_projections`): 2 calls fewer a layer and step, which at 3 rows cost their call overhead,
  not their weights. In int8 the fused layer's results are the separate ones' too: the activations get one scale
  per call (the same input), the weights one per output channel.
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
import math
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


def one_image_row_per_image(model: Any) -> None:
    """Make ``generate`` leave the image (``encoder_hidden_states`` and its mask) at one row per image instead
    of copying it once per beam: :func:`_cross_attention` attends all of an image's beams to its one row."""
    decoder = model.text_decoder
    expand = decoder._expand_inputs_for_generation  # transformers' own (bound)

    def expand_text_only(self: Any, *args: Any, **model_kwargs: Any) -> Any:
        image = {
            k: model_kwargs.pop(k) for k in ("encoder_hidden_states", "encoder_attention_mask") if k in model_kwargs
        }
        input_ids, model_kwargs = expand(*args, **model_kwargs)
        return input_ids, {**model_kwargs, **image}

    decoder._expand_inputs_for_generation = types.MethodType(expand_text_only, decoder)


def _self_attention(
    self: Any,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    encoder_hidden_states: torch.Tensor | None = None,
    encoder_attention_mask: torch.Tensor | None = None,
    cache: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' ``BlipTextSelfAttention.forward`` for the decoder's self-attention, with the query, key and
    value computed by one layer (``self.qkv``, :func:`fuse_attention_projections`) and split afterwards."""
    from transformers.cache_utils import EncoderDecoderCache

    shape = (*hidden_states.shape[:-1], 3, self.num_attention_heads, self.attention_head_size)
    qkv = self.qkv(hidden_states).view(shape)
    query, key, value = (qkv.select(-3, i).transpose(1, 2) for i in range(3))
    if cache is not None:
        own = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
        key, value = own.update(key, value, self.layer_idx, kwargs=kwargs)
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
    if attention_mask is not None:
        scores = scores + attention_mask.to(scores.device)
    probs = torch.softmax(scores, dim=-1)
    context = torch.matmul(self.dropout(probs), value).permute(0, 2, 1, 3).contiguous()
    return context.view(*context.shape[:-2], self.all_head_size), probs


def _cross_attention(
    self: Any,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    encoder_hidden_states: torch.Tensor | None = None,
    encoder_attention_mask: torch.Tensor | None = None,
    cache: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' ``BlipTextSelfAttention.forward`` for the decoder's cross-attention, with the image's keys
    and values computed once per image, not once per beam (module doc): ``encoder_hidden_states`` has one row
    per image and ``hidden_states`` ``group`` consecutive rows per image (its beams), whose queries become extra
    query rows of that image's attention. Keys and values come from one layer (``self.kv``)."""
    from transformers.cache_utils import EncoderDecoderCache

    if encoder_hidden_states is None:
        raise ValueError("the captioner's cross-attention needs the image (encoder_hidden_states)")
    rows, length = hidden_states.shape[:2]
    images = encoder_hidden_states.shape[0]
    if rows % images:
        raise ValueError(f"{rows} text rows for {images} images: not a whole number of beams per image")
    group, heads, size = rows // images, self.num_attention_heads, self.attention_head_size
    query = self.query(hidden_states).view(images, group, length, heads, size).transpose(2, 3)
    own, done = cache, False
    if isinstance(cache, EncoderDecoderCache):
        own, done = cache.cross_attention_cache, bool(cache.is_updated.get(self.layer_idx))
    if own is not None and done:
        key, value = own.layers[self.layer_idx].keys, own.layers[self.layer_idx].values
    else:
        kv = self.kv(encoder_hidden_states).view(images, -1, 2, heads, size)
        key, value = kv.select(2, 0).transpose(1, 2), kv.select(2, 1).transpose(1, 2)
        if own is not None:
            key, value = own.update(key, value, self.layer_idx, kwargs=kwargs)
            if isinstance(cache, EncoderDecoderCache):
                cache.is_updated[self.layer_idx] = True
    # The scores one beam at a time (the same kernels, so the same bits, as one row per beam: several query rows in
    # one product sum in another order); the weighted sum of the values for all beams at once (the same bits).
    keys = key.transpose(-1, -2)
    scores = torch.cat([torch.matmul(query[:, beam], keys) for beam in range(group)], dim=2) / math.sqrt(size)
    mask = encoder_attention_mask  # as transformers': the layer's ``attention_mask`` is not used here
    if mask is not None:
        if mask.shape[0] == rows and group > 1:  # one row per beam: the beams of an image share it
            mask = mask[::group]
        if mask.shape[-2] != 1:  # one mask row per query position: the same for every beam
            mask = mask.repeat(1, 1, group, 1)
        scores = scores + mask.to(scores.device)
    probs = torch.softmax(scores, dim=-1)
    context = torch.matmul(self.dropout(probs), value)  # images × heads × (group · length) × size
    context = context.view(images, heads, group, length, size).permute(0, 2, 3, 1, 4)
    probs = probs.view(images, heads, group, length, -1).transpose(1, 2).reshape(rows, heads, length, -1)
    return context.reshape(rows, length, heads * size), probs


def _fused(*linears: torch.nn.Linear) -> torch.nn.Linear:
    """One ``Linear`` computing the outputs of ``linears`` (same input) side by side."""
    first = linears[0]
    out = sum(linear.out_features for linear in linears)
    bias = any(linear.bias is not None for linear in linears)  # (BLIP's all have one; a missing one adds 0)
    fused = torch.nn.utils.skip_init(
        torch.nn.Linear, first.in_features, out, bias=bias, dtype=first.weight.dtype, device=first.weight.device
    )
    with torch.no_grad():
        fused.weight.copy_(torch.cat([linear.weight for linear in linears]))
        if bias:
            fused.bias.copy_(torch.cat([_bias(linear) for linear in linears]))
    return fused


def _bias(linear: torch.nn.Linear) -> torch.Tensor:
    if linear.bias is not None:
        return linear.bias.detach()
    return torch.zeros(linear.out_features, dtype=linear.weight.dtype, device=linear.weight.device)


def fuse_attention_projections(text_decoder: torch.nn.Module) -> int:
    """In every layer of the text decoder: one ``Linear`` for the self-attention's query, key and value
    (``qkv``) and one for the cross-attention's key and value (``kv``), with the forwards above (module doc).
    Returns how many layers were changed."""
    from transformers.models.blip.modeling_blip_text import BlipTextLayer

    count = 0
    for layer in text_decoder.modules():
        if not isinstance(layer, BlipTextLayer) or not hasattr(layer, "crossattention"):
            continue
        own, cross = layer.attention.self, layer.crossattention.self
        own.qkv = _fused(own.query, own.key, own.value)
        cross.kv = _fused(cross.key, cross.value)
        del own.query, own.key, own.value, cross.key, cross.value
        own.forward = types.MethodType(_self_attention, own)
        cross.forward = types.MethodType(_cross_attention, cross)
        count += 1
    return count


def load_captioner(folder: Path, dtype: Any, int8: bool) -> LoadedModel:
    """``BlipForConditionalGeneration`` and its processor from ``folder`` for the CPU fast path: in
    ``dtype``, beam search without copying the image's keys and values, the image's keys and values once per
    image, fused attention projections (module doc), and with ``int8`` its linear layers
    in int8 where :func:`int8_unavailable` allows (else without, saying why in ``precision``)."""
    import transformers

    processor = transformers.AutoProcessor.from_pretrained(folder)
    why_not = int8_unavailable() if int8 else ""
    quantize = int8 and not why_not
    weights_dtype = torch.float32 if quantize else dtype  # quantized from the float32 weights
    model = transformers.BlipForConditionalGeneration.from_pretrained(folder, dtype=weights_dtype).eval()
    fuse_attention_projections(model.text_decoder)  # before quantizing: the fused layers get int8 too
    precision = None
    if quantize:
        try:
            count = quantize_linears(model.vision_model) + quantize_linears(model.text_decoder)
        except Exception as err:  # fbgemm refusing a shape, a torch that changed the API …
            log.warning("int8 quantization of %s failed: %s: %s", folder, type(err).__name__, err, exc_info=err)
            why_not = f"int8 quantization failed ({type(err).__name__})"
            model = transformers.BlipForConditionalGeneration.from_pretrained(folder, dtype=dtype).eval()
            fuse_attention_projections(model.text_decoder)
        else:
            log.info("%s: %d linear layers in int8", folder, count)
            precision = f"int8 + {dtype_name(dtype)} (dynamic quantization)"
        model.to(dtype)
    if why_not:
        if not quantize:  # (a failed quantization was logged with its cause above)
            log.warning("captioner %s without int8 linear layers: %s", folder, why_not)
        precision = f"{dtype_name(dtype)} (PyTorch: {why_not})"
    share_image_keys_in_beam_search(model)
    one_image_row_per_image(model)
    return LoadedModel(model=model, processor=processor, precision=precision)
