"""Tiny random-weight audio and text models for the audio emotion tab (registered in ``tiny_models``).

* ``emotion``: ``Wav2Vec2ForSequenceClassification`` + ``Wav2Vec2FeatureExtractor`` with the label
  codes of ``superb/wav2vec2-base-superb-er`` (``neu``, ``hap``, ``ang``, ``sad``);
* ``asr``: a multilingual ``WhisperForConditionalGeneration`` + ``WhisperProcessor`` whose byte-level
  BPE tokenizer is built here (words, special tokens, the 1501 timestamp tokens);
* ``text_emotion``: ``RobertaForSequenceClassification`` + a byte-level BPE ``RobertaTokenizer`` with
  the seven labels of ``j-hartmann/emotion-english-distilroberta-base``.

Outputs are random but come from the real classes through the real loaders, in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

SAMPLING_RATE = 16_000
ACOUSTIC_LABELS: tuple[str, ...] = ("neu", "hap", "ang", "sad")
"""As ``superb/wav2vec2-base-superb-er``'s ``id2label``: short codes the app renames for display."""
TEXT_LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
"""As ``j-hartmann/emotion-english-distilroberta-base``'s ``id2label``."""
TEXT_MAX_LENGTH = 64
"""The tiny text classifier's ``model_max_length`` (tokens): small, so truncation/splitting is exercised."""
WHISPER_LANGUAGES: tuple[str, ...] = ("en", "de")
WHISPER_MAX_LENGTH = 24
"""Random weights emit timestamps and loop: a small ``max_length`` keeps each chunk under a second."""
_WHISPER_SPECIALS_BEFORE_LANGS = ("<|endoftext|>", "<|startoftranscript|>")
_WHISPER_SPECIALS_AFTER_LANGS = (
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",  # must be the last special token: timestamp ids start right after it
)


@lru_cache(maxsize=1)
def _byte_chars() -> tuple[str, ...]:
    """GPT-2's byte → printable unicode table (the alphabet of byte-level BPE), in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + n)
            n += 1
    return tuple(chars[b] for b in range(256))


def byte_bpe(
    front: Sequence[str] = (), words: Sequence[str] | None = None
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary and merges: ``front`` tokens, the 256 byte symbols, then each word
    with a leading space (``Ġword``) and its prefixes, with merges that build them left to right.

    Merges are tuples (transformers 5 ignores ``merges_file=`` and wants pairs, not strings).
    ``words`` defaults to the kit's :data:`~mmdemo.testing.tiny_kit.WORDS`.
    """
    if words is None:
        from .tiny_kit import WORDS as words
    tokens = [*front, *_byte_chars()]
    merges: list[tuple[str, str]] = []
    for word in words:
        piece = "Ġ" + word
        for end in range(2, len(piece) + 1):
            prefix = piece[:end]
            if prefix not in tokens:
                tokens.append(prefix)
                merges.append((piece[: end - 1], piece[end - 1]))
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    return vocab, merges


# -------------------------------------------------------------------------------- wav2vec2 emotion


def build_wav2vec2_emotion(path: str | Path, labels: Sequence[str] = ACOUSTIC_LABELS) -> Path:
    """``Wav2Vec2ForSequenceClassification`` + ``Wav2Vec2FeatureExtractor`` (role ``emotion``)."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    from .tiny_kit import seeded

    path = Path(path)
    config = Wav2Vec2Config(
        vocab_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),  # conv_dim / conv_kernel / conv_stride: same length
        conv_kernel=(10, 3, 3),
        conv_stride=(5, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,  # must divide hidden_size
        feat_extract_norm="group",
        classifier_proj_size=16,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        initializer_range=0.1,  # spread the logits so windows get visibly different probabilities
    )
    with seeded():
        model = Wav2Vec2ForSequenceClassification(config)
    model.eval()
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLING_RATE,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=False,  # like wav2vec2-base checkpoints (group norm, no attention mask)
    )
    model.save_pretrained(path)
    extractor.save_pretrained(path)
    return path


# ----------------------------------------------------------------------------------------- Whisper


def _whisper_tokens() -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    vocab, merges = byte_bpe()
    languages = [f"<|{code}|>" for code in WHISPER_LANGUAGES]
    specials = [*_WHISPER_SPECIALS_BEFORE_LANGS, *languages, *_WHISPER_SPECIALS_AFTER_LANGS]
    for token in [*specials, *(f"<|{i * 0.02:.2f}|>" for i in range(1501))]:
        vocab[token] = len(vocab)
    return vocab, merges, specials


def build_whisper_asr(path: str | Path) -> Path:
    """Multilingual ``WhisperForConditionalGeneration`` + ``WhisperProcessor`` (role ``asr``)."""
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    from .tiny_kit import seeded

    path = Path(path)
    vocab, merges, specials = _whisper_tokens()
    tokenizer = WhisperTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=specials[1:],  # <|endoftext|> is bos/eos/unk already
        model_max_length=448,
    )
    if len(tokenizer) != len(vocab):  # guards against v5 silently dropping the vocabulary
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {len(vocab)}")
    ids = tokenizer.convert_tokens_to_ids
    no_timestamps = ids("<|notimestamps|>")
    if tokenizer.all_special_ids[-1] != no_timestamps:
        raise RuntimeError("<|notimestamps|> must be the last special token (timestamps follow it)")
    extractor = WhisperFeatureExtractor(feature_size=16, sampling_rate=SAMPLING_RATE)
    processor = WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer)

    eot = ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=16,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,  # 30 s of features after the stride-2 convolution, as real Whisper
        max_target_positions=64,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        begin_suppress_tokens=None,  # generation settings live in the generation config below only
        suppress_tokens=None,
        init_std=0.5,
    )
    with seeded():
        model = WhisperForConditionalGeneration(config)
    model.eval()
    # A generation config of its own: one marked "_from_model_config" is rebuilt from the model
    # config at load time, losing the Whisper-specific fields below.
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        no_timestamps_token_id=no_timestamps,
        begin_suppress_tokens=[eot],
        suppress_tokens=[],
        max_length=WHISPER_MAX_LENGTH,
        is_multilingual=True,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in WHISPER_LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        prev_sot_token_id=ids("<|startofprev|>"),
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


# ------------------------------------------------------------------------------------ text emotion


def build_roberta_text_emotion(path: str | Path, labels: Sequence[str] = TEXT_LABELS) -> Path:
    """``RobertaForSequenceClassification`` + byte-level BPE ``RobertaTokenizer`` (role ``text_emotion``)."""
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizer

    from .tiny_kit import seeded

    path = Path(path)
    vocab, merges = byte_bpe(("<s>", "<pad>", "</s>", "<unk>"))
    vocab["<mask>"] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=TEXT_MAX_LENGTH)
    if len(tokenizer) != len(vocab):
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {len(vocab)}")
    config = RobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=TEXT_MAX_LENGTH + 2,  # RoBERTa's positions start after the padding index
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        initializer_range=0.2,  # visibly different, not saturated, probabilities per text
    )
    with seeded():
        model = RobertaForSequenceClassification(config)
    model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
