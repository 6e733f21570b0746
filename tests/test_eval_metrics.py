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
from mmdemo.evaluation.plots import BAR, bin_counts, cjk_font_path, confusion_image, histogram

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


# ------------------------------------------------------------------------------------------ plots' words

ZH = "zh-CN"
INF = float("inf")


def _result(task: str, pairs: list[tuple[str, str]]):
    from mmdemo.evaluation.runner import EvalResult, ItemResult, score

    items = [ItemResult(f"item-{n}", n, reference, prediction) for n, (reference, prediction) in enumerate(pairs, 1)]
    return EvalResult(task, "set", "set", items, score(task, items), ["m"], [], 1.0)


ASR = [("hello world", "hello world"), ("a b c d", "a b x d"), ("one two", "three")]
EMOTION = [("neu", "neutral"), ("sad", "sad"), ("ang", "happy"), ("hap", "happy")]


@pytest.fixture
def drawn(monkeypatch) -> list[tuple[str, tuple, dict]]:
    """The words each plot of ``write_report`` is drawn with: (function, positional, keyword arguments)."""
    from mmdemo.evaluation import plots

    calls: list[tuple[str, tuple, dict]] = []
    for name in ("histogram", "confusion_image"):
        original = getattr(plots, name)

        def record(*args, _name=name, _original=original, **kwargs):
            calls.append((_name, args, kwargs))
            return _original(*args, **kwargs)

        monkeypatch.setattr(plots, name, record)
    return calls


def _report(tmp_path, task: str, pairs: list[tuple[str, str]], **kwargs) -> tuple[str, Image.Image]:
    from mmdemo.evaluation.report import write_report

    folder = tmp_path / f"{task}-{kwargs.get('locale', 'default')}"
    report = write_report(_result(task, pairs), folder, **kwargs).read_text(encoding="utf-8")
    (png,) = folder.glob("*.png")
    return report, Image.open(png).convert("RGB")


def test_the_report_plots_are_in_the_visitors_language(tmp_path, drawn) -> None:
    """Issue 23: the Evaluate tab's plots said the app's own words in English on a Chinese page."""
    report, _ = _report(tmp_path, "asr", ASR, locale=ZH)
    _report(tmp_path, "emotion", EMOTION, locale=ZH)
    (_, _, hist), (_, (labels, matrix), confusion) = drawn
    assert hist["title"] == "语音识别：3 条" and hist["xlabel"] == "每条的词错误率（%）"
    assert hist["labels"][0] == "0" and hist["labels"][-1] == ">=100"  # numbers: the same in every language
    assert labels == ["中性", "开心", "悲伤", "愤怒"]  # the app's emotion words, as the Emotion tab says them
    assert confusion == {"title": "语音情绪：混淆矩阵", "predicted": "预测", "reference": "行：参考答案"}
    assert matrix == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]]
    # report.md stays English
    assert "## Plots" in report and "![Distribution of the word error rate per item (%)](wer-histogram.png)" in report
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in report)


def test_the_report_plots_in_english_are_unchanged(tmp_path, drawn) -> None:
    _, hist_image = _report(tmp_path, "asr", ASR)
    _, confusion_png = _report(tmp_path, "emotion", EMOTION, locale="en")
    (_, hist_args, hist), (_, confusion_args, confusion) = drawn
    assert hist["title"] == "Speech recognition: 3 items" and hist["xlabel"] == "word error rate per item (%)"
    assert confusion_args[0] == ["neutral", "happy", "sad", "angry"]
    assert confusion == {
        "title": "Speech emotion: confusion matrix",
        "predicted": "predicted",
        "reference": "rows: reference",
    }
    # the same pixels as the plots drawn with the English words the report always used (and the defaults)
    same = histogram(
        *hist_args, title="Speech recognition: 3 items", xlabel="word error rate per item (%)", labels=hist["labels"]
    )
    assert hist_image.tobytes() == same.convert("RGB").tobytes()
    before = confusion_image(*confusion_args, title="Speech emotion: confusion matrix")
    assert confusion_png.tobytes() == before.convert("RGB").tobytes()


def _ink(image: Image.Image, box: tuple[int, int, int, int]) -> bytes:
    """The pixels of ``box`` as ink (1) or paper (0)."""
    return image.crop(box).convert("L").point(lambda v: 1 if v < 160 else 0).tobytes()


@pytest.mark.skipif(
    cjk_font_path() is None,
    reason="no font with Chinese glyphs here (scripts/test.sh installs fonts-wqy-microhei)",
)
def test_chinese_plots_are_drawn_with_chinese_glyphs(tmp_path, monkeypatch) -> None:
    from mmdemo.evaluation import plots

    font = plots.font_for("语音识别", 20)
    assert font.path == plots.cjk_font_path() and plots.font_for("WER", 20).path != font.path  # Latin: bundled
    # a font with the glyphs draws each character differently (a font without draws one box for all of them)
    masks = {bytes(font.getmask(ch)) for ch in "语音识别混淆矩阵"}
    assert len(masks) == 8 and all(any(mask) for mask in masks)

    _, hist_en = _report(tmp_path, "asr", ASR, locale="en")
    _, hist_zh = _report(tmp_path, "asr", ASR, locale=ZH)
    _, confusion_en = _report(tmp_path, "emotion", EMOTION, locale="en")
    _, confusion_zh = _report(tmp_path, "emotion", EMOTION, locale=ZH)
    title_band = (0, 0, hist_zh.width, 45)
    assert _ink(hist_zh, title_band) != _ink(hist_en, title_band) and any(_ink(hist_zh, title_band))
    assert confusion_zh.tobytes() != confusion_en.tobytes()
    # the Chinese words drawn in Pillow's bundled font (boxes) are other pixels than in the Chinese font
    monkeypatch.setattr(plots, "cjk_font_path", lambda: None)
    edges = [0, 1e-9, 5, 10, 20, 30, 50, 100, INF]
    boxes = plots.histogram([0, 12, 100], edges, title="语音识别：3 条", xlabel="每条的词错误率（%）")
    assert _ink(boxes, title_band) != _ink(hist_zh, title_band)


def test_without_a_chinese_font_the_plots_are_english(tmp_path, drawn, monkeypatch, caplog) -> None:
    from mmdemo.evaluation import plots

    monkeypatch.setattr(plots, "cjk_font_path", lambda: None)
    assert not plots.can_draw("语音识别") and plots.can_draw("Speech recognition", "0-25")
    with caplog.at_level("WARNING", logger="mmdemo.evaluation.report"):
        _, image = _report(tmp_path, "emotion", EMOTION, locale=ZH)
    (_, (labels, _), confusion) = drawn[0]
    assert labels == ["neutral", "happy", "sad", "angry"] and confusion["title"] == "Speech emotion: confusion matrix"
    assert "No font with Chinese glyphs" in caplog.text and image.width >= 360
    # given Chinese words anyway, a plot is still drawn (boxes for the missing glyphs), not an error
    assert plots.confusion_image(["中性"], [[1]], title="语音情绪", predicted="预测", reference="行").width >= 360


def test_the_evaluate_tab_draws_its_plots_in_the_visitors_language(tmp_path, drawn, monkeypatch) -> None:
    from mmdemo.ui.evaluate import _shown

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    _, _, (plot,), _, _ = _shown(_result("asr", ASR), "asr", "set", ZH)
    assert plot.endswith("wer-histogram.png")
    ((_, _, hist),) = drawn
    assert hist["title"] == "语音识别：3 条" and hist["xlabel"] == "每条的词错误率（%）"
