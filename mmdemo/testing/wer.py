"""Word error rate for tests and benchmarks: the evaluation's own normaliser and alignment
(:func:`~mmdemo.evaluation.metrics.normalize_transcript`, ``jiwer``), and one addition for references of real
recordings: ``{mind|manhood}`` marks a word that cannot be told apart by ear, where each reading counts as right."""

from __future__ import annotations

import re

from ..evaluation.metrics import EditCounts, normalize_transcript, word_edits

ALTERNATIVES = re.compile(r"\{([^{}]*)\}")
"""``{a|b}`` in a reference: either reading is right (the first is the one shown)."""


def edits(reference: str, hypothesis: str) -> EditCounts:
    """Word edits of ``hypothesis`` against ``reference`` (which may mark alternatives), both normalised."""
    hypothesis = normalize_transcript(hypothesis)
    for group in ALTERNATIVES.findall(reference):
        first, *others = (normalize_transcript(word) for word in group.split("|"))
        for other in others:
            hypothesis = re.sub(rf"\b{re.escape(other)}\b", first, hypothesis)
    reference = normalize_transcript(ALTERNATIVES.sub(lambda m: m.group(1).split("|")[0], reference))
    return word_edits(reference, hypothesis)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words; for an empty reference 1 if anything was
    written, else 0."""
    counts = edits(reference, hypothesis)
    return counts.rate if counts.rate is not None else float(bool(counts.insertions))
