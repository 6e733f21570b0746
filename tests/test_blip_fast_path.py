"""The captioner's CPU fast path (``mmdemo/models/blip.py``): beam search that leaves the image's keys and values
in place (exact: the same tokens as transformers' own, the same scores up to float32 rounding), and int8 linear
layers (``Settings.cpu_int8``:
used when on, a bounded drift from float32, a clean fall-back when int8 is unavailable or fails)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from PIL import Image

import mmdemo.models.blip as blip
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.captioning import DecodingOptions, caption_image

OPTIONS = DecodingOptions(30, 0, 3)
"""The app's default decoding: 30 new tokens, 3 beams."""


def _images(real_photos: dict[str, str]) -> list[Image.Image]:
    return [Image.open(real_photos[name]).convert("RGB") for name in ("lion.jpg", "tower.jpg")]


def _generate(manager: ModelManager, images: list[Image.Image], prefix: str = "", **kwargs: Any) -> Any:
    with manager.use("captioner") as handle:
        text = [prefix] * len(images) if prefix else None
        inputs = handle.prepare(handle.processor(images=images, text=text, return_tensors="pt", padding=True))
        return handle.model.generate(**inputs, return_dict_in_generate=True, **kwargs)


ROUNDING = 1e-5
"""How far (relative, over the whole tensor) scores and logits of the exact changes may differ: float32 rounding.
They are bit-identical on the AVX2 kernels; on an AVX-512/AMX Xeon they differed by up to 7e-7, because its matrix
kernels sum in an order that depends on a product's shape, which the fused layers and the one image row change."""


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same shape and non-finite entries (beam search's -inf), the rest within :data:`ROUNDING`."""
    finite = b.isfinite()
    if a.shape != b.shape or not torch.equal(a.isfinite(), finite) or not torch.equal(a[~finite], b[~finite]):
        return False
    return float((a[finite].double() - b[finite].double()).norm()) <= ROUNDING * float(b[finite].double().norm())


def _modules(manager: ModelManager, kind: type) -> list[Any]:
    with manager.use("captioner") as handle:
        return [m for m in handle.model.modules() if isinstance(m, kind)]


def _row(manager: ModelManager) -> Any:
    (row,) = [s for s in manager.status() if s.role == "captioner"]
    return row


def _text_layers(manager: ModelManager) -> int:
    from transformers.models.blip.modeling_blip_text import BlipTextLayer

    return len(_modules(manager, BlipTextLayer))


def _fast(settings: Settings, **changes: Any) -> ModelManager:
    """The CPU fast path with int8 on (opt-in) unless ``changes`` say otherwise."""
    return ModelManager(settings.replace(**{"cpu_fast_path": True, "dtype": "float32", "cpu_int8": True, **changes}))


@pytest.mark.parametrize("prefix", ["", "a photo of"])
def test_beam_search_without_copying_image_keys_is_exact(
    tiny_settings: Settings, real_photos: dict[str, str], prefix: str
) -> None:
    """Two different images in one batch (beams of one image never see the other's keys), with and without a
    prefix: the same tokens as transformers' beam search in float32, and the same scores (:func:`_same`)."""
    images = _images(real_photos)
    plain = _generate(ModelManager(tiny_settings), images, prefix, max_new_tokens=30, num_beams=3, output_scores=True)
    fast = _fast(tiny_settings, cpu_int8=False)
    ours = _generate(fast, images, prefix, max_new_tokens=30, num_beams=3, output_scores=True)
    assert torch.equal(ours.sequences, plain.sequences)
    assert _same(ours.sequences_scores, plain.sequences_scores)
    assert all(_same(a, b) for a, b in zip(ours.scores, plain.scores, strict=True))
    with fast.use("captioner") as handle:
        assert hasattr(handle.model.text_decoder, "_reorder_cache")  # the path under test is the one taken
    assert _row(fast).dtype == "float32" and not _modules(fast, blip.Int8Linear)


def test_int8_linear_layers_are_used_when_on(tiny_settings: Settings, real_photos: dict[str, str]) -> None:
    reference = ModelManager(tiny_settings)
    linears = len(_modules(_fast(tiny_settings, cpu_int8=False), torch.nn.Linear))  # the fused projections …
    assert linears == len(_modules(reference, torch.nn.Linear)) - 3 * _text_layers(reference)  # … 5 → 2 a layer
    fast = _fast(tiny_settings, cpu_int8=True)  # opt-in
    assert fast.settings.cpu_int8 is True
    assert len(_modules(fast, blip.Int8Linear)) == linears  # every one: vision encoder, text decoder, LM head
    assert not _modules(fast, torch.nn.Linear)
    assert _row(fast).dtype == "int8 + float32 (dynamic quantization)"
    assert 0 < _row(fast).bytes < _row(reference).bytes  # the packed int8 weights are counted, and smaller
    assert caption_image(real_photos["lion.jpg"], options=OPTIONS, manager=fast).text  # the task runs on it
    assert not _modules(_fast(tiny_settings, cpu_int8=False), blip.Int8Linear)
    assert not _modules(ModelManager(tiny_settings.replace(cpu_int8=True)), blip.Int8Linear)  # fast path off


def test_int8_logits_drift_is_bounded(tiny_settings: Settings, real_photos: dict[str, str]) -> None:
    """First-step logits against float32 on the tiny seeded model: changed (int8 is really used), and within
    the bound the README states for the replica (relative difference under 10 %)."""
    images = _images(real_photos)
    kwargs = {"max_new_tokens": 1, "output_logits": True}
    reference = _generate(ModelManager(tiny_settings), images, **kwargs).logits[0]
    int8 = _generate(_fast(tiny_settings), images, **kwargs).logits[0]
    relative = float((int8 - reference).norm() / reference.norm())
    assert 0 < relative < 0.10
    assert torch.equal(int8.argmax(-1), reference.argmax(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_int8_linear_matches_the_float_layer(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    layer = blip.Int8Linear(linear).to(dtype)
    x = torch.randn(3, 5, 64)
    with torch.inference_mode():
        expected, got = linear(x), layer(x.to(dtype))
    assert got.dtype == dtype and got.shape == expected.shape
    assert float((got.float() - expected).norm() / expected.norm()) < 0.03


def test_falls_back_without_int8_kernels(
    monkeypatch: pytest.MonkeyPatch, tiny_settings: Settings, real_photos: dict[str, str]
) -> None:
    """A quantized engine other than the measured x86 one (ARM's qnnpack …): no int8, and the panel says why."""
    monkeypatch.setattr(blip, "INT8_ENGINES", ("not-this-one",))
    engine = torch.backends.quantized.engine
    assert blip.int8_unavailable() == f"no x86 int8 kernels (PyTorch's quantized engine here: {engine})"
    manager = _fast(tiny_settings)
    assert caption_image(real_photos["lion.jpg"], options=OPTIONS, manager=manager).text
    assert not _modules(manager, blip.Int8Linear)
    assert _row(manager).dtype == f"float32 (PyTorch: no x86 int8 kernels (PyTorch's quantized engine here: {engine}))"


def test_falls_back_when_quantization_fails(
    monkeypatch: pytest.MonkeyPatch, tiny_settings: Settings, real_photos: dict[str, str]
) -> None:
    def refuse(module: torch.nn.Module) -> int:
        raise RuntimeError("fbgemm refused a shape")

    monkeypatch.setattr(blip, "quantize_linears", refuse)
    manager = _fast(tiny_settings)
    exact = caption_image(real_photos["lion.jpg"], options=OPTIONS, manager=_fast(tiny_settings, cpu_int8=False))
    assert caption_image(real_photos["lion.jpg"], options=OPTIONS, manager=manager).text == exact.text
    assert not _modules(manager, blip.Int8Linear)
    assert _row(manager).dtype == "float32 (PyTorch: int8 quantization failed (RuntimeError))"


def test_int8_engine_check() -> None:
    assert blip.int8_unavailable() == ""  # x86 CI and dev machines: the measured kernels
    assert torch.backends.quantized.engine in blip.INT8_ENGINES


def test_int8_setting_from_the_environment() -> None:
    assert Settings().cpu_int8 is False  # opt-in: it changes the seeded captions (int8 drift)
    assert Settings.from_env({}).cpu_int8 is False
    assert Settings.from_env({"MMDEMO_CPU_INT8": "1"}).cpu_int8 is True


def _unchanged_fast_path(monkeypatch: pytest.MonkeyPatch, settings: Settings, int8: bool) -> ModelManager:
    """The fast path as it was before the fused projections and the one image row per image (loaded now)."""
    with monkeypatch.context() as patch:
        patch.setattr(blip, "fuse_attention_projections", lambda decoder: 0)
        patch.setattr(blip, "one_image_row_per_image", lambda model: None)
        manager = _fast(settings, cpu_int8=int8)
        with manager.use("captioner") as handle:
            assert not hasattr(handle.model.text_decoder.bert.encoder.layer[0].attention.self, "qkv")
    return manager


@pytest.mark.parametrize("prefix", ["", "a photo of"])
@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_fused_projections_and_one_image_row_per_image_are_exact(
    monkeypatch: pytest.MonkeyPatch, tiny_settings: Settings, real_photos: dict[str, str], prefix: str, int8: bool
) -> None:
    """Two images, 3 beams, with and without a prefix: the fused query/key/value layers and the image's keys and
    values kept once per image give the same tokens as the fast path without them, and the same scores and logits
    (:func:`_same`; int8: the same activation scale for the fused layer's input, weights per output channel) and,
    in float32, the same tokens as the plain model (the first step's logits within :data:`ROUNDING`)."""
    images = _images(real_photos)
    kwargs = {"max_new_tokens": 30, "num_beams": 3, "output_scores": True, "output_logits": True}
    before = _generate(_unchanged_fast_path(monkeypatch, tiny_settings, int8), images, prefix, **kwargs)
    fast = _fast(tiny_settings, cpu_int8=int8)
    ours = _generate(fast, images, prefix, **kwargs)
    with fast.use("captioner") as handle:
        layers = [m for m in handle.model.text_decoder.modules() if hasattr(m, "crossattention")]
        assert layers and all(
            hasattr(layer.attention.self, "qkv") and hasattr(layer.crossattention.self, "kv") for layer in layers
        )
        assert isinstance(layers[0].attention.self.qkv, blip.Int8Linear if int8 else torch.nn.Linear)
        # the image's keys and values: one row per image in the cache, not one per beam
        out = handle.model.generate(
            **handle.prepare(handle.processor(images=images, return_tensors="pt")),
            max_new_tokens=2,
            num_beams=3,
            return_dict_in_generate=True,
        )
        assert out.cache.cross_attention_cache.layers[0].keys.shape[0] == len(images)
        assert out.cache.self_attention_cache.layers[0].keys.shape[0] == 3 * len(images)
    assert torch.equal(ours.sequences, before.sequences)
    assert _same(ours.sequences_scores, before.sequences_scores)
    assert all(_same(a, b) for a, b in zip(ours.logits, before.logits, strict=True))
    assert all(_same(a, b) for a, b in zip(ours.scores, before.scores, strict=True))
    first = {"max_new_tokens": 1, "output_logits": True}
    if not int8:
        plain = _generate(ModelManager(tiny_settings), images, prefix, **kwargs)
        assert torch.equal(ours.sequences, plain.sequences)
        reference = _generate(ModelManager(tiny_settings), images, prefix, **first).logits[0]
        logits = _generate(fast, images, prefix, **first).logits[0]
        assert _same(logits, reference)
    text = [
        caption_image(p, options=OPTIONS, manager=fast).text
        for p in (real_photos["lion.jpg"], real_photos["tower.jpg"])
    ]
    reference_manager = _unchanged_fast_path(monkeypatch, tiny_settings, int8)
    assert text == [
        caption_image(p, options=OPTIONS, manager=reference_manager).text
        for p in (real_photos["lion.jpg"], real_photos["tower.jpg"])
    ]


def test_one_row_per_beam_still_works(tiny_settings: Settings, real_photos: dict[str, str]) -> None:
    """The patched cross-attention with the image given once per text row (a caller's own ``forward``, no beams):
    the same logits as the plain model's."""
    images = _images(real_photos)
    outputs = []
    for manager in (ModelManager(tiny_settings), _fast(tiny_settings, cpu_int8=False)):
        with manager.use("captioner") as handle:
            inputs = handle.prepare(handle.processor(images=images, text=["a photo of"] * 2, return_tensors="pt"))
            with torch.inference_mode():
                outputs.append(handle.model(**inputs).logits)
    assert torch.equal(outputs[0], outputs[1])
