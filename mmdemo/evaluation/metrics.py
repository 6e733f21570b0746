"""Evaluation metrics, in plain Python (no Java, no network), each with the definition it follows.

* Captions: BLEU-1…4 and CIDEr-D as the COCO caption evaluation (``pycocoevalcap``) computes them, on
  PTB-style tokens (:func:`ptb_tokenize`). METEOR and SPICE need Java and are not included.
* VQA: the VQAv2 accuracy with the official answer normalisation (:func:`vqa_normalize`, :func:`vqa_accuracy`).
* Speech recognition and OCR: word and character error rates from Levenshtein alignments (``jiwer``),
  after :func:`normalize_transcript` (ASR) or whitespace collapsing (OCR's character error rate).
* Speech emotion: accuracy, unweighted accuracy (macro recall) and the confusion matrix.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------ tokens

COCO_DROPPED = frozenset(
    {"''", "'", "``", "`", "-lrb-", "-rrb-", "-lcb-", "-rcb-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
)
"""The tokens pycocoevalcap removes after PTB tokenisation (quotes, brackets, sentence punctuation)."""

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr vs etc inc ltd co corp no mt ft prof gen col sgt capt lt rev jan feb mar apr jun jul "
    "aug sep sept oct nov dec".split()
)
_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
_SPLIT_PUNCT = re.compile(r"(\.\.\.|--|[?!;\"()\[\]{}])")
_COMMA_COLON = re.compile(r"(?<!\d)([,:])|([,:])(?!\d)")


def ptb_tokenize(text: str) -> list[str]:
    """Lower-cased Penn Treebank tokens with COCO's punctuation tokens removed (``pycocoevalcap``'s
    ``PTBTokenizer`` runs Stanford CoreNLP's PTBTokenizer with ``-lowerCase``; this re-implements its rules
    in Python): clitics split off (``don't`` → ``do n't``, ``man's`` → ``man 's``, ``can't`` → ``ca n't``),
    sentence punctuation, quotes and brackets separated and dropped, commas and colons inside numbers
    (``1,000``, ``3:30``) and abbreviations' periods (``mr.``, ``u.s.``) kept, hyphenated words kept whole,
    ``$``/``#`` split from what follows and ``%`` from what precedes."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = _SPLIT_PUNCT.sub(r" \1 ", text)
    text = _COMMA_COLON.sub(lambda m: f" {m.group(1) or m.group(2)} ", text)
    tokens: list[str] = []
    for raw in text.split():
        tokens.extend(_split_word(raw))
    return [t for t in tokens if t not in COCO_DROPPED and t not in {'"', "(", ")", "[", "]", "{", "}"}]


def _split_word(word: str) -> list[str]:
    """One whitespace-separated chunk → PTB tokens (leading quotes/currency, trailing period, clitics)."""
    if not any(ch.isalnum() for ch in word):  # "...", "--", "&": one token as it is
        return [word]
    before: list[str] = []
    after: list[str] = []
    while word and word[0] in "'`$#" and len(word) > 1:
        before.append(word[0])
        word = word[1:]
    while len(word) > 1 and word[-1] in "%'":
        if word[-1] == "'" and _CLITIC.match(word):
            break
        after.insert(0, word[-1])
        word = word[:-1]
    if len(word) > 1 and word.endswith(".") and not _is_abbreviation(word):
        after.insert(0, ".")
        word = word[:-1]
    match = _CLITIC.match(word)
    if match:
        stem, clitic = match.groups()
        return [*before, stem, clitic, *after]
    return [*before, word, *after]


def _is_abbreviation(word: str) -> bool:
    """``u.s.``, ``a.m.``, ``mr.``: periods that belong to the word (PTBTokenizer keeps them)."""
    stem = word[:-1]
    return stem in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", stem))


# ------------------------------------------------------------------------------------------ BLEU


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            counts[tuple(tokens[i : i + k])] += 1
    return counts


@dataclass(frozen=True)
class BleuResult:
    scores: tuple[float, ...]
    """BLEU-1 … BLEU-n (0–1), cumulative geometric means with the brevity penalty, as COCO reports them."""
    precisions: tuple[float, ...]
    """The clipped n-gram precisions over the corpus (matches / candidate n-grams), n = 1 … N."""
    brevity_penalty: float
    candidate_length: int
    reference_length: int
    """Sum over items of the reference length closest to each candidate's (ties: the shorter)."""


def corpus_bleu(candidates: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]], n: int = 4):
    """BLEU as ``pycocoevalcap.bleu`` (``option='closest'``) computes it over tokenised captions.

    Matches and candidate n-gram counts are summed over the corpus (each candidate n-gram counts at most as
    often as in the reference that has it most often); BLEU-k = BP · (∏_{i≤k} p_i)^(1/k) with
    p_i = (matches_i + 1e-15) / (candidate n-grams_i + 1e-9) (COCO's smoothing: BLEU-4 of a corpus without a
    single matching 4-gram is a tiny number, not 0); BP = exp(1 − r/c) when the total candidate length c is
    below the total effective reference length r (per item, the reference length closest to the candidate's).
    """
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate")
    correct = [0] * n
    guess = [0] * n
    test_len = ref_len = 0
    for candidate, refs in zip(candidates, references, strict=True):
        if not refs:
            raise ValueError("every candidate needs at least one reference")
        test_len += len(candidate)
        ref_len += min((abs(len(r) - len(candidate)), len(r)) for r in refs)[1]
        max_counts: Counter[tuple[str, ...]] = Counter()
        for ref in refs:
            for gram, count in _ngrams(ref, n).items():
                max_counts[gram] = max(max_counts[gram], count)
        for gram, count in _ngrams(candidate, n).items():
            correct[len(gram) - 1] += min(max_counts.get(gram, 0), count)
        for k in range(n):
            guess[k] += max(0, len(candidate) - k)
    tiny, small = 1e-15, 1e-9
    precisions = [(correct[k] + tiny) / (guess[k] + small) for k in range(n)]
    ratio = (test_len + tiny) / (ref_len + small)
    penalty = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    scores = []
    product = 1.0
    for k in range(n):
        product *= precisions[k]
        scores.append(product ** (1 / (k + 1)) * penalty)
    return BleuResult(tuple(scores), tuple(precisions), penalty, test_len, ref_len)


# ------------------------------------------------------------------------------------------ CIDEr-D


def cider_d(
    candidates: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]], n: int = 4, sigma: float = 6.0
) -> tuple[float, list[float]]:
    """CIDEr-D as ``pycocoevalcap.cider`` computes it (the metric COCO's leaderboard calls CIDEr).

    Each n-gram (n = 1…4) is weighted by tf · idf, idf = log(N) − log(max(1, df)), where N is the number of
    items and df the number of items whose *references* contain the n-gram (so idf comes from the evaluated
    corpus itself). For each reference, per n: the candidate's and reference's tf-idf vectors are compared as
    Σ min(c, r)·r / (‖c‖·‖r‖) (clipped cosine; 0 when either vector is empty) times the length penalty
    exp(−δ²/(2σ²)), δ = difference of the two captions' bigram counts (= word counts for non-empty captions).
    An item's score is 10 × the mean over n of the mean over its references. Returns (corpus mean, per item).
    """
    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate")
    if not candidates:
        return 0.0, []
    ref_counts = [[_ngrams(r, n) for r in refs] for refs in references]
    document_frequency: Counter[tuple[str, ...]] = Counter()
    for refs in ref_counts:
        document_frequency.update({gram for counts in refs for gram in counts})
    log_items = math.log(len(candidates))

    def vector(counts: Counter[tuple[str, ...]]) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
        vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
        norms = [0.0] * n
        bigrams = 0
        for gram, tf in counts.items():
            weight = tf * (log_items - math.log(max(1.0, document_frequency[gram])))
            vec[len(gram) - 1][gram] = weight
            norms[len(gram) - 1] += weight * weight
            if len(gram) == 2:
                bigrams += tf
        return vec, [math.sqrt(x) for x in norms], bigrams

    scores = []
    for candidate, refs in zip(candidates, ref_counts, strict=True):
        if not refs:
            raise ValueError("every candidate needs at least one reference")
        c_vec, c_norm, c_len = vector(_ngrams(candidate, n))
        total = [0.0] * n
        for ref in refs:
            r_vec, r_norm, r_len = vector(ref)
            penalty = math.exp(-((c_len - r_len) ** 2) / (2 * sigma**2))
            for k in range(n):
                dot = sum(min(w, r_vec[k].get(g, 0.0)) * r_vec[k].get(g, 0.0) for g, w in c_vec[k].items())
                if c_norm[k] and r_norm[k]:
                    dot /= c_norm[k] * r_norm[k]
                total[k] += dot * penalty
        scores.append(10.0 * sum(total) / n / len(refs))
    return sum(scores) / len(scores), scores


# ------------------------------------------------------------------------------------------ VQA

_VQA_NUMBERS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_VQA_ARTICLES = frozenset({"a", "an", "the"})
_VQA_PUNCT = (";", ":", "/", "'", "[", "]", '"', "(", ")", "=", "+", "\\", "_", ">", "<", "@", "`", ",", "?")
# The official script's period pattern is written "(?!<=\d)(\.)(?!\d)": its first group is a lookahead (not
# the intended lookbehind) that always holds, so every period not followed by a digit is removed.
_VQA_PERIOD = re.compile(r"\.(?!\d)")
_VQA_DIGIT_COMMA = re.compile(r"(\d)(,)(\d)")


def _vqa_contractions() -> dict[str, str]:
    """Apostrophe-less spellings → the contraction, as the official VQA evaluation spells both (mostly with
    the typographic apostrophe ’; entries written with ' can never match, as the punctuation step has
    already removed every ', and are kept only to mirror the official table)."""
    table = (
        "aint:ain't arent:aren't cant:can't couldve:could've couldnt:couldn't couldn'tve:couldn’t’ve "
        "couldnt’ve:couldn’t’ve didnt:didn’t doesnt:doesn’t dont:don’t hadnt:hadn’t hadnt’ve:hadn’t’ve "
        "hadn'tve:hadn’t’ve hasnt:hasn’t havent:haven’t hed:he’d hed’ve:he’d’ve he’dve:he’d’ve hes:he’s "
        "howd:how’d howll:how’ll hows:how’s Id’ve:I’d’ve I’dve:I’d’ve Im:I’m Ive:I’ve isnt:isn’t itd:it’d "
        "itd’ve:it’d’ve it’dve:it’d’ve itll:it’ll let’s:let’s maam:ma’am mightnt:mightn’t mightnt’ve:mightn’t’ve "
        "mightn’tve:mightn’t’ve mightve:might’ve mustnt:mustn’t mustve:must’ve neednt:needn’t notve:not’ve "
        "oclock:o’clock oughtnt:oughtn’t ow’s’at:’ow’s’at ’ows’at:’ow’s’at ’ow’sat:’ow’s’at shant:shan’t "
        "shed’ve:she’d’ve she’dve:she’d’ve she’s:she’s shouldve:should’ve shouldnt:shouldn’t "
        "shouldnt’ve:shouldn’t’ve shouldn’tve:shouldn’t’ve somebody’d:somebodyd somebodyd’ve:somebody’d’ve "
        "somebody’dve:somebody’d’ve somebodyll:somebody’ll somebodys:somebody’s someoned:someone’d "
        "someoned’ve:someone’d’ve someone’dve:someone’d’ve someonell:someone’ll someones:someone’s "
        "somethingd:something’d somethingd’ve:something’d’ve something’dve:something’d’ve "
        "somethingll:something’ll thats:that’s thered:there’d thered’ve:there’d’ve there’dve:there’d’ve "
        "therere:there’re theres:there’s theyd:they’d theyd’ve:they’d’ve they’dve:they’d’ve theyll:they’ll "
        "theyre:they’re theyve:they’ve twas:’twas wasnt:wasn’t wed’ve:we’d’ve we’dve:we’d’ve weve:we've "
        "werent:weren’t whatll:what’ll whatre:what’re whats:what’s whatve:what’ve whens:when’s whered:where’d "
        "wheres:where's whereve:where’ve whod:who’d whod’ve:who’d’ve who’dve:who’d’ve wholl:who’ll whos:who’s "
        "whove:who've whyll:why’ll whyre:why’re whys:why’s wont:won’t wouldve:would’ve wouldnt:wouldn’t "
        "wouldnt’ve:wouldn’t’ve wouldn’tve:wouldn’t’ve yall:y’all yall’ll:y’all’ll y’allll:y’all’ll "
        "yall’d’ve:y’all’d’ve y’alld’ve:y’all’d’ve y’all’dve:y’all’d’ve youd:you’d youd’ve:you’d’ve "
        "you’dve:you’d’ve youll:you’ll youre:you’re youve:you’ve"
    )
    return dict(pair.split(":") for pair in table.split())  # type: ignore[misc]


_VQA_CONTRACTIONS = _vqa_contractions()


def vqa_normalize(answer: str) -> str:
    """An answer as the official VQA evaluation compares it: newlines/tabs → spaces; each of
    ``; : / ' [ ] " ( ) = + \\ _ > < @ ` , ?`` removed where it touches a space (or when the answer has a
    digit-comma-digit), else replaced by a space; periods not followed by a digit removed; lower-cased; number
    words zero–ten (and "none") → digits; articles (a, an, the) dropped; apostrophe-less contractions
    restored (``dont`` → ``don’t``)."""
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    out = text
    has_digit_comma = _VQA_DIGIT_COMMA.search(text) is not None
    for p in _VQA_PUNCT:
        if p + " " in text or " " + p in text or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = _VQA_PERIOD.sub("", out)
    words = [_VQA_NUMBERS.get(w, w) for w in out.lower().split()]
    words = [_VQA_CONTRACTIONS.get(w, w) for w in words if w not in _VQA_ARTICLES]
    return " ".join(words)


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """VQAv2 accuracy of one predicted answer (0–1).

    With the usual 10 human answers, as the official script computes it: for each answer i, the prediction
    scores min(#other answers equal to it / 3, 1) against the other 9 (a 10-choose-9 subset); the accuracy is
    the mean over the 10 subsets (1 when at least 4 humans gave the answer, 0.9 for 3, 0.6 for 2, 0.3 for 1).
    The same leave-one-out mean is used for any count of 4 or more answers; with 1–3 answers (no subset can
    reach 3 agreeing humans) it is 1 when the prediction equals any answer, else 0. Both sides are
    normalised with :func:`vqa_normalize` (the official script expects pre-normalised human answers).
    """
    if not answers:
        raise ValueError("at least one reference answer is needed")
    predicted = vqa_normalize(prediction)
    truth = [vqa_normalize(a) for a in answers]
    if len(truth) < 4:
        return float(predicted in truth)
    matches = sum(a == predicted for a in truth)
    per_subset = [min(1.0, (matches - (a == predicted)) / 3) for a in truth]
    return sum(per_subset) / len(per_subset)


# ------------------------------------------------------------------------------------------ WER / CER

_APOSTROPHES = ("'", "\u2019", "\u2018", "`", "\u00b4")


def normalize_transcript(text: str) -> str:
    """The ASR normaliser: Unicode NFKC, lower case, apostrophes deleted (``don't`` → ``dont``), every other
    punctuation or symbol character (Unicode categories P* and S*) replaced by a space, whitespace collapsed
    to single spaces. Numbers are not spelled out: "2,000" and "two thousand" differ."""
    text = unicodedata.normalize("NFKC", text).lower()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(text.split())


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace (line breaks included) → one space; ends stripped. Case and punctuation kept."""
    return " ".join(text.split())


@dataclass(frozen=True)
class EditCounts:
    """A Levenshtein alignment of a hypothesis against a reference, in words or characters."""

    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float | None:
        """(S + D + I) / N; None for an empty reference (the errors still count in corpus totals)."""
        return self.errors / self.reference_length if self.reference_length else None

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_length + other.reference_length,
        )


ZERO_EDITS = EditCounts(0, 0, 0, 0)


def word_edits(reference: str, hypothesis: str) -> EditCounts:
    """Word-level alignment of two already normalised texts (words = whitespace-separated tokens)."""
    import jiwer

    ref, hyp = reference.split(), hypothesis.split()
    if not ref or not hyp:
        return EditCounts(0, len(ref), len(hyp), len(ref))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return EditCounts(out.substitutions, out.deletions, out.insertions, len(ref))


def char_edits(reference: str, hypothesis: str) -> EditCounts:
    """Character-level alignment of two already normalised texts (spaces count as characters)."""
    import jiwer

    if not reference or not hypothesis:
        return EditCounts(0, len(reference), len(hypothesis), len(reference))
    out = jiwer.process_characters(reference, hypothesis)
    return EditCounts(out.substitutions, out.deletions, out.insertions, len(reference))


def error_rate(counts: Iterable[EditCounts]) -> float | None:
    """Corpus error rate: all errors / all reference units (None when the references are all empty)."""
    total = sum(counts, ZERO_EDITS)
    return total.rate


# ------------------------------------------------------------------------------------------ classification


@dataclass(frozen=True)
class ClassificationResult:
    labels: tuple[str, ...]
    """Row and column order of :attr:`confusion`: reference labels and predicted labels, in the given order."""
    confusion: tuple[tuple[int, ...], ...]
    """``confusion[i][j]``: items whose reference is ``labels[i]`` that were predicted as ``labels[j]``."""
    accuracy: float
    """Correct / all items (weighted accuracy, WA)."""
    unweighted_accuracy: float
    """Mean over the reference classes of their recall (UA, macro recall): each class counts the same."""
    recall: dict[str, float]
    """Recall per label that occurs in the references."""


def classification_metrics(
    references: Sequence[str], predictions: Sequence[str], order: Sequence[str] = ()
) -> ClassificationResult:
    """Accuracy, unweighted accuracy (macro recall over the classes present in the references) and the
    confusion matrix. ``order``: preferred label order; labels not in it follow in order of appearance."""
    if len(references) != len(predictions):
        raise ValueError("one prediction per reference")
    if not references:
        raise ValueError("nothing to score")
    seen = list(dict.fromkeys([*references, *predictions]))
    rank = {label: i for i, label in enumerate(order)}
    labels = sorted(seen, key=lambda label: (rank.get(label, len(rank)), seen.index(label)))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for ref, pred in zip(references, predictions, strict=True):
        matrix[index[ref]][index[pred]] += 1
    recall = {
        label: matrix[index[label]][index[label]] / sum(matrix[index[label]])
        for label in labels
        if sum(matrix[index[label]])
    }
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return ClassificationResult(
        labels=tuple(labels),
        confusion=tuple(tuple(row) for row in matrix),
        accuracy=correct / len(references),
        unweighted_accuracy=sum(recall.values()) / len(recall),
        recall=recall,
    )
