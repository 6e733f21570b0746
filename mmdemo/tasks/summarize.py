"""Text summarisation: abstractive (BART family, role ``summarizer``) with an extractive fallback that
picks sentences by sentence embeddings (all-MiniLM-L6-v2, role ``embedder``).

Same shape as the other task modules: inputs → preprocess (sentences, chunks) → model (through the
manager) → postprocess → a frozen result. The video summary uses it; it works on any text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import InputError, MemoryBudgetError, ModelUnavailableError
from ..messages import Message
from ..models.manager import ModelManager
from ..params import check_choice
from ..progress import ProgressFn
from ..runtime import get_manager

Method = Literal["auto", "abstractive", "extractive"]
METHODS: tuple[str, ...] = ("auto", "abstractive", "extractive")
SUMMARY_MAX_TOKENS = 142
"""Longest abstractive summary (tokens): bart-large-cnn's own ``max_length``."""
WINDOW_TOKENS = 1024
"""Longest input BART reads; longer documents are summarised in sentence-aligned chunks first."""
EMBED_MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained on at most 256 tokens per text."""
EXTRACTIVE_SENTENCES = 3
MMR_LAMBDA = 0.7
"""Relevance versus novelty when picking sentences (maximal marginal relevance)."""
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Summary:
    text: str
    method: str
    """``abstractive``, ``extractive`` (embedding-picked sentences) or ``first sentences`` (no model)."""
    model_id: str
    """The model that wrote or picked it (``""`` for ``first sentences``)."""
    notes: tuple[Message, ...] = ()
    """Why a fallback was used, in words a user can act on."""


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after ``.!?…`` before a capital or digit; newlines always split)."""
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(s.strip() for s in _SENTENCE_END.split(" ".join(line.split())) if s.strip())
    return sentences


def embed_texts(
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Unit-length sentence embeddings (``len(texts) × dim``, float32): mean of the token vectors.

    Raises :class:`ModelUnavailableError` when the embedder cannot be loaded.
    """
    import torch

    manager = manager or get_manager()
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    rows: list[np.ndarray] = []
    with manager.use("embedder", progress) as handle:
        tokenizer = handle.processor
        limit = min(EMBED_MAX_TOKENS, int(getattr(tokenizer, "model_max_length", EMBED_MAX_TOKENS)))
        for start in range(0, len(texts), batch_size):
            batch = [t if t.strip() else "." for t in texts[start : start + batch_size]]
            inputs = tokenizer(batch, padding=True, truncation=True, max_length=limit, return_tensors="pt")
            inputs = handle.prepare(inputs)
            hidden = handle.model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            rows.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
    return np.concatenate(rows).astype(np.float32, copy=False)


def pick_sentences(embeddings: np.ndarray, k: int, lam: float = MMR_LAMBDA) -> list[int]:
    """Indices (in order) of ``k`` sentences close to the document's centroid and unlike each other (MMR)."""
    n = len(embeddings)
    if n <= k:
        return list(range(n))
    centroid = embeddings.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    relevance = embeddings @ centroid
    similarity = embeddings @ embeddings.T
    chosen: list[int] = []
    while len(chosen) < k:
        redundancy = similarity[:, chosen].max(axis=1) if chosen else np.zeros(n)
        score = lam * relevance - (1 - lam) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return sorted(chosen)


def _chunks(tokenizer: Any, sentences: Sequence[str], limit: int) -> list[str]:
    """Sentences joined into pieces of at most ``limit`` tokens (a longer sentence is its own piece)."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in sentences:
        n = len(tokenizer(sentence, add_special_tokens=False)["input_ids"]) + 1
        if current and used + n > limit:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += n
    if current:
        pieces.append(" ".join(current))
    return pieces


def abstractive_summary(
    text: str,
    *,
    max_tokens: int = SUMMARY_MAX_TOKENS,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> Summary:
    """Summarise ``text`` with the ``summarizer`` model; texts beyond its window are summarised chunk by
    chunk, then the chunk summaries once more. Raises :class:`ModelUnavailableError` when unavailable."""
    manager = manager or get_manager()
    sentences = split_sentences(text)
    if not sentences:
        raise InputError(Message("summarize.no_text"))
    with manager.use("summarizer", progress) as handle:
        tokenizer, model = handle.processor, handle.model
        window = min(WINDOW_TOKENS, int(getattr(tokenizer, "model_max_length", WINDOW_TOKENS))) - 2
        generation = model.generation_config
        longest = min(max_tokens, int(generation.max_length or max_tokens))

        def run(pieces: list[str]) -> list[str]:
            outputs = []
            for i, piece in enumerate(pieces):
                if progress and len(pieces) > 1:
                    progress(i / len(pieces), Message("summarize.part", number=i + 1, total=len(pieces)))
                inputs = tokenizer([piece], truncation=True, max_length=window + 2, return_tensors="pt")
                length = int(inputs["input_ids"].shape[1])
                shortest = min(int(generation.min_length or 0), max(length // 3, 1), longest - 1)
                ids = model.generate(**handle.prepare(inputs), max_length=longest, min_length=max(shortest, 0))
                outputs.append(" ".join(tokenizer.batch_decode(ids, skip_special_tokens=True)[0].split()))
            return outputs

        partial = run(_chunks(tokenizer, sentences, window))
        if len(partial) > 1:
            partial = run(_chunks(tokenizer, partial, window)[:1])
        summary = " ".join(p for p in partial if p)
        return Summary(summary, "abstractive", handle.model_id)


def extractive_summary(
    sentences: Sequence[str],
    *,
    k: int = EXTRACTIVE_SENTENCES,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> Summary:
    """The ``k`` most central, least redundant sentences in their original order (embedder model);
    the first ``k`` sentences when the embedder is unavailable too."""
    manager = manager or get_manager()
    sentences = list(dict.fromkeys(s for s in sentences if s.strip()))
    if not sentences:
        raise InputError(Message("summarize.no_text"))
    try:
        embeddings = embed_texts(sentences, manager=manager, progress=progress)
    except (ModelUnavailableError, MemoryBudgetError) as err:
        note = Message("summarize.first_sentences", reason=err.message)
        return Summary(" ".join(sentences[:k]), "first sentences", "", (note,))
    chosen = pick_sentences(embeddings, k)
    return Summary(" ".join(sentences[i] for i in chosen), "extractive", manager.model_id("embedder"))


def summarize(
    text: str,
    *,
    method: Method = "auto",
    sentences: Sequence[str] | None = None,
    manager: ModelManager | None = None,
    progress: ProgressFn | None = None,
) -> Summary:
    """Summarise ``text``: ``abstractive`` (the model, or an error), ``extractive`` (picked sentences),
    or ``auto``: abstractive, falling back to extractive (with a note saying so) when the summariser
    model is unavailable (offline, not downloaded, too large for the memory budget).

    ``sentences``: the candidate sentences for the extractive method (default: those of ``text``).
    """
    check_choice(method, "method", METHODS)
    manager = manager or get_manager()
    candidates = list(sentences) if sentences is not None else split_sentences(text)
    if method != "extractive":
        try:
            return abstractive_summary(text, manager=manager, progress=progress)
        except (ModelUnavailableError, MemoryBudgetError) as err:
            if method == "abstractive":
                raise
            fallback = extractive_summary(candidates, manager=manager, progress=progress)
            why = Message("summarize.extractive_fallback", reason=err.message)
            return Summary(fallback.text, fallback.method, fallback.model_id, (why, *fallback.notes))
    return extractive_summary(candidates, manager=manager, progress=progress)
