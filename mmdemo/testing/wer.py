"""Word error rate for tests and benchmarks: (substitutions + deletions + insertions) / reference words,
after a light normalisation (lower case; punctuation other than apostrophes removed)."""

from __future__ import annotations

import re


def normalise(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return float(bool(hyp))
    row = list(range(len(hyp) + 1))  # Levenshtein distance over words, one row at a time
    for i, word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(hyp, start=1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (word != other))
    return row[-1] / len(ref)
