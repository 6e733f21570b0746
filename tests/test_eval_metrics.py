"""Evaluation metrics on cases computed by hand (the expected numbers are written out, not recomputed)."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from mmdemo.evaluation.metrics import (
    EditCounts,
    char_edits,
    cider_d,
    classification_metrics,
    collapse_whitespace,
    corpus_bleu,
    error_rate,
    normalize_transcript,
    ptb_tokenize,
    vqa_accuracy,
    vqa_normalize,
    word_edits,
)
from mmdemo.evaluation.plots import BAR, bin_counts, confusion_image, histogram

# ------------------------------------------------------------------------------------------ tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A man's dog, running.", ["a", "man", "'s", "dog", "running"]),
        ("Don't stop!", ["do", "n't", "stop"]),
        ("I can't; won't.", ["i", "ca", "n't", "wo", "n't"]),
        ("Two dogs' bowls (empty)", ["two", "dogs", "bowls", "empty"]),
        ('A "black-and-white" photo...', ["a", "black-and-white", "photo"]),
        ("Meet Mr. Smith at 3:30, in the U.S.", ["meet", "mr.", "smith", "at", "3:30", "in", "the", "u.s."]),
        ("It costs $5 -- or 50%?", ["it", "costs", "$", "5", "or", "50", "%"]),
        ("1,000 birds", ["1,000", "birds"]),
        ("  ", []),
    ],
)
def test_ptb_tokenize(text: str, tokens: list[str]) -> None:
    assert ptb_tokenize(text) == tokens


# ------------------------------------------------------------------------------------------ BLEU


def test_bleu_ngram_precisions_by_hand() -> None:
    """'the cat sat on the mat' against 'the cat is on the mat': 1-grams 5/6 (the ×2, cat, on, mat), 2-grams
    3/5 (the cat, on the, the mat), 3-grams 1/4 (on the mat), 4-grams 0/3; equal lengths, so no penalty."""
    result = corpus_bleu([ptb_tokenize("The cat sat on the mat.")], [[ptb_tokenize("the cat is on the mat")]])
    assert result.precisions[:3] == pytest.approx([5 / 6, 3 / 5, 1 / 4], rel=1e-8)
    assert result.precisions[3] < 1e-15  # COCO's smoothing: (0 + 1e-15) / (3 + 1e-9)
    assert result.scores[0] == pytest.approx(5 / 6, rel=1e-8)
    assert result.scores[1] == pytest.approx(math.sqrt(0.5), rel=1e-8)
    assert result.scores[2] == pytest.approx(0.5, rel=1e-8)
    # BLEU-4 is not 0 but (5/6 · 3/5 · 1/4 · 1e-15/3)^(1/4) ≈ 8.03e-5, as pycocoevalcap reports it
    assert result.scores[3] == pytest.approx((0.125 * 1e-15 / 3) ** 0.25, rel=1e-6)
    assert result.brevity_penalty == pytest.approx(1.0, abs=1e-9)
    assert (result.candidate_length, result.reference_length) == (6, 6)


def test_bleu_brevity_penalty() -> None:
    """A 2-word candidate against a 6-word reference: every n-gram it has matches, BP = exp(1 − 6/2)."""
    result = corpus_bleu([["the", "cat"]], [[["the", "cat", "sat", "on", "the", "mat"]]])
    assert result.precisions[:2] == pytest.approx([1.0, 1.0], rel=1e-8)
    assert result.brevity_penalty == pytest.approx(math.exp(-2), rel=1e-8)
    assert result.scores[0] == pytest.approx(math.exp(-2), rel=1e-8)
    assert result.scores[1] == pytest.approx(math.exp(-2), rel=1e-8)


def test_bleu_closest_reference_length_and_clipping() -> None:
    """References of 3 and 7 words: a 5-word candidate is 2 from both, and the tie goes to the shorter (3),
    so no penalty; a 6-word one is closest to 7: BP = exp(1 − 7/6). 'the the the …' is clipped to the
    reference's two 'the'."""
    refs = [["the", "cat", "sat"], ["the", "cat", "sat", "on", "the", "red", "mat"]]
    five = corpus_bleu([["the", "the", "the", "the", "the"]], [refs])
    assert five.reference_length == 3 and five.brevity_penalty == 1.0
    assert five.precisions[0] == pytest.approx(2 / 5, rel=1e-8)
    six = corpus_bleu([["the", "cat", "sat", "on", "a", "mat"]], [refs])
    assert six.reference_length == 7
    assert six.brevity_penalty == pytest.approx(math.exp(1 - 7 / 6), rel=1e-8)
    assert six.precisions[:2] == pytest.approx([5 / 6, 3 / 5], rel=1e-8)


def test_bleu_sums_counts_over_the_corpus() -> None:
    """Corpus BLEU adds matches and n-gram counts over items (1/1 and 1/3 → 2/4 = 0.5, not their mean 2/3);
    lengths add up too (candidates 1 + 3 = 4, references 1 + 3 = 4)."""
    result = corpus_bleu([["dog"], ["a", "red", "car"]], [[["dog"]], [["a", "blue", "bus"]]])
    assert result.precisions[0] == pytest.approx(2 / 4, rel=1e-8)
    assert result.precisions[1] == pytest.approx(0 / 2, abs=1e-12)
    assert (result.candidate_length, result.reference_length) == (4, 4)


# ------------------------------------------------------------------------------------------ CIDEr-D


def test_cider_d_clipping_and_length_penalty_by_hand() -> None:
    """Two images, so idf = log 2 − log df: 'a' is in both images' references (idf 0), everything else in
    one (idf log 2 = L).

    Image 1, candidate 'a cat cat' (unigram weights a 0, cat 2L; bigrams 'a cat' L, 'cat cat' L):
    * vs 'a black cat': 1-grams Σmin(c,r)·r = min(2L, L)·L = L², norms 2L and √2·L → 1/(2√2); no shared
      2-, 3-grams; same bigram count (2), no penalty;
    * vs 'a cat': 1-grams L²/(2L·L) = 1/2, 2-grams 'a cat' L²/(√2·L·L) = 1/√2; bigram counts 2 vs 1 →
      penalty exp(−1/72).
    Score = 10 · (1/(2√2) + e^(−1/72)·(1/2 + 1/√2)) / 4 orders / 2 references.
    Image 2, 'a dog' = its reference: 1- and 2-gram cosines 1, no 3-, 4-grams → 10 · 2/4 = 5."""
    candidates = [ptb_tokenize("A cat, cat."), ptb_tokenize("a dog")]
    references = [[ptb_tokenize("a black cat"), ptb_tokenize("A cat")], [ptb_tokenize("a dog")]]
    corpus, per_item = cider_d(candidates, references)
    first = 10 * (1 / (2 * math.sqrt(2)) + math.exp(-1 / 72) * (0.5 + 1 / math.sqrt(2))) / 4 / 2
    assert per_item == pytest.approx([first, 5.0], rel=1e-9)
    assert first == pytest.approx(1.93001336, rel=1e-6)
    assert corpus == pytest.approx((first + 5.0) / 2, rel=1e-9)


def test_cider_d_all_four_orders_by_hand() -> None:
    """A 4-word candidate equal to its reference scores 10 (cosine 1 at every order). 'a dog' against
    'a dog runs' (all idf L): 1-grams 2L²/(√2L·√3L) = 2/√6, 2-grams L²/(L·√2L) = 1/√2, no 3-/4-grams,
    bigram counts 1 vs 2 → exp(−1/72); score 10 · (2/√6 + 1/√2) · e^(−1/72) / 4."""
    candidates = [["red", "bus", "stops", "here"], ["a", "dog"]]
    references = [[["red", "bus", "stops", "here"]], [["a", "dog", "runs"]]]
    corpus, per_item = cider_d(candidates, references)
    second = 10 * (2 / math.sqrt(6) + 1 / math.sqrt(2)) * math.exp(-1 / 72) / 4
    assert per_item == pytest.approx([10.0, second], rel=1e-9)
    assert corpus == pytest.approx((10 + second) / 2, rel=1e-9)


def test_cider_d_degenerate_cases() -> None:
    """No shared n-gram scores 0; one image alone gives every n-gram idf log 1 − log 1 = 0, so 0 too (CIDEr
    needs a corpus); an empty corpus is 0."""
    assert cider_d([["a", "red", "car"], ["a", "dog"]], [[["blue", "bus"]], [["a", "dog"]]])[1][0] == 0.0
    assert cider_d([["a", "dog"]], [[["a", "dog"]]]) == (0.0, [0.0])
    assert cider_d([], []) == (0.0, [])
    with pytest.raises(ValueError):
        cider_d([["a"]], [[]])


# ------------------------------------------------------------------------------------------ VQA


@pytest.mark.parametrize(("humans", "accuracy"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_vqa_accuracy_with_ten_answers(humans: int, accuracy: float) -> None:
    """k of 10 humans said it: each 9-answer subset scores min(matches/3, 1); averaged over the 10 subsets
    (k=3: three subsets with 2 matches → 2/3, seven with 3 → 1, mean 0.9; k=2: 2·(1/3) + 8·(2/3) = 6 → 0.6)."""
    answers = ["red"] * humans + ["blue"] * (10 - humans)
    assert vqa_accuracy("red", answers) == pytest.approx(accuracy, abs=1e-12)


def test_vqa_normalisation() -> None:
    assert vqa_normalize("Two.") == "2"
    assert vqa_normalize("a Dog") == "dog"
    assert vqa_normalize("the  tennis racket ") == "tennis racket"
    assert vqa_normalize("dont") == "don’t"  # the official contraction table (typographic apostrophe)
    assert vqa_normalize("yes!") == "yes!"  # '!' is not in the official list
    assert vqa_normalize("3.5") == "3.5"  # a period before a digit stays
    assert vqa_normalize("1,000") == "1000"  # digit-comma-digit: punctuation removed, not spaced
    assert vqa_normalize("black/white") == "black white"
    assert vqa_normalize("none") == "0"
    # 'Two.', '2', 'two' and 'the 2' all count as the prediction '2': 4 humans → 1.0
    assert vqa_accuracy("2", ["Two.", "2", "two", "the 2", *["3"] * 6]) == 1.0
    assert vqa_accuracy("a dog", ["dog", "dog", "Dog", *["cat"] * 7]) == pytest.approx(0.9)


def test_vqa_accuracy_with_other_answer_counts() -> None:
    """1–3 answers: exact match after normalisation; 4 or more: the same leave-one-out mean (5 answers, 2 of
    them the prediction: 2 subsets with 1 match (1/3) and 3 with 2 (2/3) → (2/3 + 2)/5 = 8/15)."""
    assert vqa_accuracy("Lion", ["lion"]) == 1.0
    assert vqa_accuracy("tiger", ["lion", "cat", "big cat"]) == 0.0
    assert vqa_accuracy("cat", ["cat", "cat", "dog", "dog", "dog"]) == pytest.approx(8 / 15)
    with pytest.raises(ValueError):
        vqa_accuracy("x", [])


# ------------------------------------------------------------------------------------------ WER / CER


def test_transcript_normaliser() -> None:
    assert normalize_transcript("Hello, World!  It's a well-known fact—really?") == (
        "hello world its a well known fact really"
    )
    assert normalize_transcript("Don’t PANIC…\n42 $") == "dont panic 42"
    assert normalize_transcript(" ¿Qué? ") == "qué"
    assert collapse_whitespace(" Line one\n\tLine  Two ") == "Line one Line Two"


def test_word_edits_substitution_insertion_deletion() -> None:
    # 'a b c d' → 'a x c d e': b→x substituted, e inserted: 2 errors / 4 words
    assert word_edits("a b c d", "a x c d e") == EditCounts(1, 0, 1, 4)
    assert word_edits("a b c d", "a x c d e").rate == 0.5
    # 'a c d': b deleted
    assert word_edits("a b c d", "a c d") == EditCounts(0, 1, 0, 4)
    # the cat sat on the mat → the cat sit on mat mat x: sat→sit, the→mat, x inserted
    assert word_edits("the cat sat on the mat", "the cat sit on mat mat x").errors == 3
    assert word_edits("", "two words") == EditCounts(0, 0, 2, 0)
    assert word_edits("", "two words").rate is None
    assert word_edits("two words", "") == EditCounts(0, 2, 0, 2)
    # corpus rate: (2 + 1) errors / (4 + 4) words, not the mean of 0.5 and 0.25
    assert error_rate([word_edits("a b c d", "a x c d e"), word_edits("a b c d", "a c d")]) == 3 / 8


def test_char_edits() -> None:
    # 'kitten' → 'sitting': k→s, e→i, g inserted (the classic distance 3)
    assert char_edits("kitten", "sitting") == EditCounts(2, 0, 1, 6)
    # spaces are characters: 'ab cd' → 'abcd' is one deletion in 5
    assert char_edits("ab cd", "abcd") == EditCounts(0, 1, 0, 5)
    assert char_edits("ab cd", "abcd").rate == pytest.approx(0.2)
    assert char_edits("same", "same").errors == 0


# ------------------------------------------------------------------------------------------ emotion


def test_classification_metrics_by_hand() -> None:
    """neutral 1 of 2 right, happy 1 of 1, sad 1 of 3: accuracy 3/6; UA (1/2 + 1 + 1/3)/3 = 11/18;
    'angry' is only predicted, so it has a column and a row of zeros but no recall."""
    refs = ["neutral", "neutral", "happy", "sad", "sad", "sad"]
    preds = ["neutral", "happy", "happy", "sad", "neutral", "angry"]
    result = classification_metrics(refs, preds, order=("neutral", "happy", "sad", "angry"))
    assert result.labels == ("neutral", "happy", "sad", "angry")
    assert result.confusion == ((1, 1, 0, 0), (0, 1, 0, 0), (1, 0, 1, 1), (0, 0, 0, 0))
    assert result.accuracy == 0.5
    assert result.unweighted_accuracy == pytest.approx(11 / 18)
    assert result.recall == pytest.approx({"neutral": 0.5, "happy": 1.0, "sad": 1 / 3})
    # labels outside the given order follow in order of appearance
    assert classification_metrics(["calm", "x"], ["x", "x"], order=("x",)).labels == ("x", "calm")


# ------------------------------------------------------------------------------------------ plots


def test_histogram_bins_and_bars() -> None:
    edges = [0, 1e-9, 5, 10, float("inf")]
    assert bin_counts([0, 0, 3, 5, 7.5, 10, 250], edges) == [2, 1, 2, 2]  # an edge value goes up; ≥ last bin
    image = histogram([0, 0, 0, 0, 7], edges, title="t", xlabel="x")
    assert image.size == (720, 420)
    heights = []
    for x in range(image.width):
        column = [image.getpixel((x, y)) for y in range(image.height)]
        if BAR in column:
            heights.append(column.count(BAR))
    bars = sorted(set(heights))
    assert len(bars) == 2 and bars[1] == pytest.approx(4 * bars[0], rel=0.02)  # 4 items vs 1


def test_confusion_image_cells() -> None:
    image = confusion_image(["neutral", "happy"], [[3, 1], [0, 2]], title="t")
    assert isinstance(image, Image.Image) and image.width >= 360
    assert image.getpixel((image.width // 2, image.height // 2)) != (255, 255, 255)
