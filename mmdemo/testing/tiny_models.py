"""Tiny random-weight checkpoints of the real architectures the app uses, for tests.

Each builder writes a complete Hugging Face folder (config, weights, processor/tokenizer files)
that the app's real loaders open offline, exactly like a downloaded model. The weights are random,
so outputs are nonsense, but they are real words and every code path (pre-processing, beam search,
batching, decoding) runs for real, in well under a second.

    dirs = build_tiny_models(tmp_path)   # {"captioner": tmp_path / "captioner", "vqa": ...}

Adding a role: write ``build_<thing>(path) -> Path`` that saves a model into ``path`` (an empty
folder that exists), register it in :data:`TINY_BUILDERS`, and bump :data:`KIT_VERSION` whenever
an existing builder changes, so cached folders are rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .tiny_audio import build_roberta_text_emotion, build_wav2vec2_emotion, build_whisper_asr
from .tiny_diffusion import build_tiny_autoencoder, build_tiny_clip, build_tiny_sd_pipeline
from .tiny_kit import (  # noqa: F401 (WORDS, SEED, wordpiece_vocab: the kit's, re-exported)
    SEED,
    WORDS,
    bert_tokenizer,
    seeded,
    wordpiece_vocab,
)
from .tiny_text import build_bart_summarizer

KIT_VERSION = "5"
"""Bump when any builder changes: folders stamped with another version are rebuilt."""
STAMP_PREFIX = ".mmdemo-tiny-"


def _stamp(folder: Path) -> Path:
    return folder / f"{STAMP_PREFIX}{KIT_VERSION}"


def is_built(folder: str | Path) -> bool:
    """True when ``folder`` holds a complete build of the current :data:`KIT_VERSION`."""
    return _stamp(Path(folder)).is_file()


# --------------------------------------------------------------------------------------------- BLIP

BLIP_IMAGE_SIZE = 32
BLIP_MAX_POSITIONS = 512
"""As real BLIP: the app allows 128 new tokens after a prefix of up to 200 characters."""
BLIP_MAX_LENGTH = 20
_SUPPRESSED_BIAS = -1e4


def _blip_processor() -> Any:
    from transformers import BlipImageProcessorPil, BlipProcessor

    # Real BLIP: "[DEC]" is the decoder's bos token, "[ENC]" marks image-grounded encoding.
    tokenizer = bert_tokenizer(
        ("[DEC]", "[ENC]"),
        model_max_length=BLIP_MAX_POSITIONS,
        bos_token="[DEC]",
        extra_special_tokens=["[ENC]"],
    )
    size = {"height": BLIP_IMAGE_SIZE, "width": BLIP_IMAGE_SIZE}  # must equal vision_config.image_size
    return BlipProcessor(image_processor=BlipImageProcessorPil(size=size), tokenizer=tokenizer)


def _blip_config(tokenizer: Any) -> Any:
    from transformers import BlipConfig

    ids = tokenizer.convert_tokens_to_ids
    # BLIP reads its token ids from text_config only; the defaults (bos 30522) overflow this vocab.
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": BLIP_MAX_POSITIONS,
        "projection_dim": 32,
        "initializer_range": 0.5,  # spread logits so different images give different words
        "bos_token_id": ids("[DEC]"),
        "eos_token_id": ids("[SEP]"),
        "sep_token_id": ids("[SEP]"),
        "pad_token_id": ids("[PAD]"),
    }
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": BLIP_IMAGE_SIZE,
        "patch_size": 8,
        "projection_dim": 32,
        "initializer_range": 0.2,
    }
    return BlipConfig(
        text_config=text_config, vision_config=vision_config, projection_dim=32, image_text_hidden_size=32
    )


def _suppress_specials(lm_head_model: Any, tokenizer: Any) -> None:
    """Never generate special tokens, [SEP] included: every caption is ``max_new_tokens`` real words."""
    import torch

    with torch.no_grad():
        lm_head_model.cls.predictions.bias[tokenizer.all_special_ids] = _SUPPRESSED_BIAS


def _build_blip(path: str | Path, model_class_name: str) -> Path:
    import transformers

    path = Path(path)
    processor = _blip_processor()
    config = _blip_config(processor.tokenizer)
    with seeded():
        model = getattr(transformers, model_class_name)(config)
    _suppress_specials(model.text_decoder, processor.tokenizer)
    # Only documents intent: BLIP's generate() delegates to text_decoder.generate(), whose generation
    # config is rebuilt at load time, so calls without max_new_tokens get the library default (20).
    model.generation_config.max_length = BLIP_MAX_LENGTH
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_blip_captioner(path: str | Path) -> Path:
    """``BlipForConditionalGeneration`` + ``BlipProcessor`` (role ``captioner``)."""
    return _build_blip(path, "BlipForConditionalGeneration")


def build_blip_vqa(path: str | Path) -> Path:
    """``BlipForQuestionAnswering`` + ``BlipProcessor`` (role ``vqa``)."""
    return _build_blip(path, "BlipForQuestionAnswering")


# ------------------------------------------------------------------------------------- the kit

TINY_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "captioner": build_blip_captioner,
    "vqa": build_blip_vqa,
    "text_to_image": build_tiny_sd_pipeline,
    "tiny_vae": build_tiny_autoencoder,
    "clip": build_tiny_clip,
    "emotion": build_wav2vec2_emotion,
    "asr": build_whisper_asr,
    "text_emotion": build_roberta_text_emotion,
    "summarizer": build_bart_summarizer,
}
"""Role (as in :data:`mmdemo.models.specs.SPECS`) → builder that saves a tiny model into a folder."""


TINY_FOLDERS = {"tiny_vae": "taesd"}
"""Folder names that differ from the role: a tiny decoder is matched to pipelines by its name (a TAESD for
Stable Diffusion 1/2, like the tiny pipeline)."""


def build_tiny_model(root: str | Path, role: str) -> Path:
    """Build ``role`` into ``root/<role>`` (or its :data:`TINY_FOLDERS` name) unless a current build is there.

    The model is written to a temporary sibling and renamed into place only once complete and
    stamped, so a crashed build never leaves a folder that looks finished; concurrent builders
    (e.g. pytest-xdist workers) are safe: the first rename wins and the others discard their copy.
    """
    try:
        builder = TINY_BUILDERS[role]
    except KeyError:
        known = ", ".join(TINY_BUILDERS)
        raise KeyError(f"No tiny model builder for role {role!r}; known: {known}") from None
    root = Path(root)
    final = root / TINY_FOLDERS.get(role, role)
    if is_built(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{role}.building-", dir=root))
    try:
        builder(tmp)
        _stamp(tmp).write_text(json.dumps({"role": role, "kit_version": KIT_VERSION, **_versions()}) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private
        if is_built(final):  # another process finished first: keep its folder (it may be in use)
            return final
        if final.exists():  # stale (older kit version, or not ours): move it aside, then delete it
            stale = Path(tempfile.mkdtemp(prefix=f".{role}.stale-", dir=root))
            try:
                os.replace(final, stale / role)
            except FileNotFoundError:
                pass  # another process moved it already
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_built(final):  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_tiny_models(root: str | Path, roles: Iterable[str] | None = None) -> dict[str, Path]:
    """Build (or reuse) ``root/<role>`` for each role; ``roles=None`` means all of :data:`TINY_BUILDERS`."""
    return {role: build_tiny_model(root, role) for role in (TINY_BUILDERS if roles is None else roles)}


def _versions() -> dict[str, str]:
    """Library versions recorded in the stamp (for humans; the stamp's name alone decides)."""
    from importlib import metadata

    versions = {}
    for name in ("torch", "transformers", "diffusers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions
