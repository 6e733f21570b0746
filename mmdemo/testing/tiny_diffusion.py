"""Tiny random-weight checkpoints for the text-to-image tab: an SD pipeline, a tiny autoencoder, CLIP.

Registered in :data:`mmdemo.testing.tiny_models.TINY_BUILDERS`. Each builder saves a folder the app's
real loaders open offline, exactly like a downloaded model:

* ``text_to_image``: ``StableDiffusionPipeline`` (UNet, 2-block ``AutoencoderKL`` so the VAE scale
  factor is 2, CLIP text encoder, local ``CLIPTokenizer``, Euler scheduler); native size 64 px.
* ``tiny_vae``: ``AutoencoderTiny`` with the same scale factor (2) and 4 latent channels.
* ``clip``: ``CLIPModel`` + ``CLIPProcessor`` for image–text scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CLIP_MAX_LENGTH = 77
"""As real CLIP: prompts beyond 77 tokens (start and end tokens included) are truncated."""
CLIP_IMAGE_SIZE = 32
LATENT_SIZE = 32
"""UNet sample size; × the VAE scale factor 2 = the pipeline's native 64 px."""
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def _byte_chars() -> list[str]:
    """The 256 printable characters byte-level BPE uses for the bytes 0–255 (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return list(chars.values())


def clip_tokenizer() -> Any:
    """A byte-level ``CLIPTokenizer`` over single characters (no merges): every word is a few tokens.

    Built from ``vocab=`` (a dict) and ``merges=`` (a list of tuples): transformers 5 ignores
    ``vocab_file=``/``merges_file=``.
    """
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    tokens = [*chars, *(c + "</w>" for c in chars), BOS, EOS]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = CLIPTokenizer(
        vocab=vocab,
        merges=[],
        model_max_length=CLIP_MAX_LENGTH,  # ≤ the text encoder's max_position_embeddings
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
    )
    if len(tokenizer) != len(vocab):  # guards against v5 silently dropping the vocabulary
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {len(vocab)}")
    return tokenizer


def _text_config(tokenizer: Any) -> dict[str, Any]:
    ids = tokenizer.convert_tokens_to_ids
    # Real token ids, or CLIP pools position 0 and every prompt embeds identically.
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": CLIP_MAX_LENGTH,
        "projection_dim": 32,
        "bos_token_id": ids(BOS),
        "eos_token_id": ids(EOS),
        "pad_token_id": ids(EOS),
    }


def build_tiny_sd_pipeline(path: str | Path) -> Path:
    """``StableDiffusionPipeline`` with tiny random components (role ``text_to_image``)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .tiny_kit import seeded

    path = Path(path)
    tokenizer = clip_tokenizer()
    with seeded():
        unet = UNet2DConditionModel(
            sample_size=LATENT_SIZE,
            in_channels=4,
            out_channels=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=4,
            norm_num_groups=8,  # must divide every channel count
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(16, 32),  # 2 blocks → VAE scale factor 2
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            norm_num_groups=8,
            sample_size=LATENT_SIZE * 2,
        )
        text_encoder = CLIPTextModel(CLIPTextConfig(**_text_config(tokenizer)))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return path


def build_tiny_autoencoder(path: str | Path) -> Path:
    """``AutoencoderTiny`` (TAESD's architecture) matching the tiny pipeline's latents (role ``tiny_vae``)."""
    from diffusers import AutoencoderTiny

    from .tiny_kit import seeded

    path = Path(path)
    with seeded():
        model = AutoencoderTiny(
            encoder_block_out_channels=(8, 8),
            decoder_block_out_channels=(8, 8),
            num_encoder_blocks=(1, 1),
            num_decoder_blocks=(1, 1),  # 2 blocks → one ×2 upsampling, as the tiny pipeline's VAE
            latent_channels=4,
        )
    model.save_pretrained(path)
    return path


def build_tiny_clip(path: str | Path) -> Path:
    """``CLIPModel`` + ``CLIPProcessor`` (role ``clip``)."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    from .tiny_kit import seeded

    path = Path(path)
    tokenizer = clip_tokenizer()
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": CLIP_IMAGE_SIZE,
        "patch_size": 8,
        "projection_dim": 32,
    }
    config = CLIPConfig(text_config=_text_config(tokenizer), vision_config=vision_config, projection_dim=32)
    with seeded():
        model = CLIPModel(config)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": CLIP_IMAGE_SIZE}, crop_size={"height": CLIP_IMAGE_SIZE, "width": CLIP_IMAGE_SIZE}
    )
    model.save_pretrained(path)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path
