"""A real browser (headless Chromium via Playwright) uses the audio emotion tab like a person would."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio.media import get_audio

from mmdemo.testing.browser import BUTTON_JS, DESKTOP, PHONE, open_page, stop_the_run
from mmdemo.testing.odd_audio import make_odd_audio

LABELS = ("neutral", "happy", "angry", "sad")
EMOTION_BOXES = ("#emotion-overall", "#emotion-text", "#emotion-voice", "#emotion-timeline")


@pytest.fixture(scope="module", autouse=True)
def _emotion_tab(page) -> None:
    page.get_by_role("tab", name="Emotion").click()
    page.get_by_role("button", name="Analyse", exact=True).wait_for()
    page.get_by_text("Spectrogram, pitch and loudness").click()  # folded by default (results first)


def _wait_for_results(page) -> None:
    page.wait_for_function(
        "() => { const t = document.querySelector('#emotion-transcript textarea');"
        " return t && t.value.trim().startsWith('[0:'); }",
        timeout=180_000,
    )
    page.locator("#emotion-overall").get_by_text("neutral").first.wait_for()
    page.locator("#emotion-timeline canvas, #emotion-timeline svg").first.wait_for()
    page.locator("#emotion-spectrogram img").first.wait_for()


def _analyse(page) -> None:
    """Click Analyse and wait until that run is over. Waiting for result text alone is not enough: the
    previous run's text may match, and a click while a run is still pending is ignored (trigger once).
    The run has started when its progress shows or the notes change (a quick run may end between polls;
    the notes carry the run's model time)."""
    tracker = "document.querySelector('#emotion-overall [data-testid=status-tracker]')"
    before = page.locator("#emotion-notes").inner_text()
    page.locator("#emotion-button").click()
    page.wait_for_function(
        f"""(before) => {{ const t = {tracker}; const n = document.querySelector('#emotion-notes');
        return (t && !t.classList.contains('hide')) || (n && n.innerText !== before); }}""",
        arg=before,
        timeout=180_000,
    )
    page.wait_for_function(f"() => {tracker} && {tracker}.classList.contains('hide')", timeout=180_000)


def test_analyse_an_example(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    page.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
    page.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
    _analyse(page)
    _wait_for_results(page)
    overall = page.locator("#emotion-overall").inner_text().lower()
    assert all(label in overall for label in LABELS), overall
    notes = page.locator("#emotion-notes").inner_text()
    # one plain sentence; the numbers, the models and the label matching folded under Details
    headline = notes.splitlines()[0]
    assert headline.endswith("from the voice and the words") and headline.split(" (")[0].lower() in LABELS, notes
    for hidden in ("windows", "model time", "emotion:", "text_emotion", "→", "local folder"):
        assert hidden not in notes, hidden
    page.locator("#emotion-notes summary").get_by_text("Details", exact=True).click()
    details = page.locator("#emotion-notes details").inner_text()
    assert "5 windows (5 with speech)" in details and "Speech emotion (acoustic): local folder “emotion”" in details
    assert "Voice model: neu → neutral" in details
    page.locator("#emotion-notes summary").click()  # folded again
    timeline = page.locator("#emotion-timeline").bounding_box()
    assert timeline is not None and timeline["height"] > 150, timeline  # a real plot, not a strip
    shot = tmp_path_factory.mktemp("screens") / "audio-emotion.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_upload_a_browser_recording_and_a_bad_file(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    files = make_odd_audio(tmp_path_factory.mktemp("odd-audio"))
    clear = page.locator("#emotion-audio button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    # What a browser's MediaRecorder produces: Opus in WebM, typed audio/webm (as a .webm file picked from
    # disk, the browser would type it video/webm, which gr.Audio's upload does not take).
    recording = {"name": "recording.webm", "mimeType": "audio/webm", "buffer": files["speech.webm"].read_bytes()}
    page.locator("#emotion-audio input[type=file]").set_input_files(recording)
    page.locator("#emotion-audio a[data-testid='download-link'][href*='recording.webm']").wait_for(state="attached")
    _analyse(page)
    page.wait_for_function(
        "() => document.querySelector('#emotion-notes') &&"
        " document.querySelector('#emotion-notes').textContent.includes('7.9 s of audio')"  # in Details
    )
    if clear.count():
        clear.first.click()
    page.locator("#emotion-audio input[type=file]").set_input_files(str(files["silence.wav"]))
    page.locator("#emotion-audio a[data-testid='download-link'][href*='silence']").wait_for(state="attached")
    before = page.locator("#emotion-transcript textarea").input_value()
    page.locator("#emotion-button").click()
    # said once, in the line under the button (no toast); the results of the recording before stay
    page.locator("#emotion-message").get_by_text("No speech detected", exact=False).wait_for()
    assert page.get_by_test_id("toast-body").filter(has_text="No speech").count() == 0
    assert page.locator("#emotion-transcript textarea").input_value() == before
    page.wait_for_function(BUTTON_JS, arg=["#emotion-button", "Analyse", False])


def test_stop_stops_an_analysis(page, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Stop, shown while a long recording (3 minutes) is analysed, ends the run on the page at once and on the
    server at its next step."""
    import numpy as np
    import soundfile as sf

    from mmdemo.media.audio import load_audio

    audio = load_audio(get_audio("cate_blanch.mp3"), sample_rate=16_000)
    long = np.tile(audio.samples, -(-180 * 16_000 // len(audio.samples)))[: 180 * 16_000]
    sf.write(tmp_path / "three-minutes.flac", long, 16_000)  # (under the test app's 5 MB upload limit)
    clear = page.locator("#emotion-audio button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator("#emotion-audio input[type=file]").set_input_files(str(tmp_path / "three-minutes.flac"))
    page.locator("#emotion-audio a[data-testid='download-link'][href*='three-minutes']").wait_for(state="attached")
    page.locator("#emotion-button").click()
    stop_the_run(page, "emotion", "#emotion-button", "Analyse", caplog, "emotion")


def test_a_clip_of_one_window_shows_no_timeline(page, tmp_path: Path) -> None:
    """3 s of speech in 3 s windows: one estimate, so no line over time; the emotion boxes are there. At desktop
    size and on a phone."""
    import soundfile as sf

    from mmdemo.media.audio import load_audio

    audio = load_audio(get_audio("cate_blanch.mp3"))
    sf.write(tmp_path / "three.wav", audio.samples[: audio.sample_rate * 3], audio.sample_rate)
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        clear = page.locator("#emotion-audio button[aria-label='Clear']")
        if clear.count():
            clear.first.click()
        page.locator("#emotion-audio input[type=file]").set_input_files(str(tmp_path / "three.wav"))
        page.locator("#emotion-audio a[data-testid='download-link'][href*='three']").wait_for(state="attached")
        _analyse(page)
        page.wait_for_function(
            "() => (document.querySelector('#emotion-notes') || {}).textContent?.includes('1 windows (1 with speech)')"
        )
        page.locator("#emotion-overall").wait_for(state="visible")
        assert page.locator("#emotion-timeline").is_hidden(), size
        assert page.locator("#emotion-voice").is_visible() and page.locator("#emotion-text").is_visible()
    page.set_viewport_size({"width": 1280, "height": 1000})


TITLES_JS = """(selector) => [...document.querySelectorAll(
  selector + ' svg .role-axis-title, ' + selector + ' svg .role-legend-title')].map((t) => t.textContent)"""
"""The axis and legend titles a plot draws (Vega's SVG)."""
WATCH_TITLES_JS = """() => { window.__plotTitles = new Set(); const seen = () => document.querySelectorAll(
  '[id^=emotion-] svg .role-axis-title, [id^=emotion-] svg .role-legend-title').forEach(
  (t) => window.__plotTitles.add(t.textContent));
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true}); seen(); }"""
"""Records every axis and legend title the Emotion tab's plots ever draw (``window.__plotTitles``)."""
PLOT_TITLES = {
    "en": {
        "#emotion-timeline": ["time (s, window centre)", "probability", "Emotion"],
        "#emotion-pitch": ["time (s)", "pitch (Hz)"],
        "#emotion-loudness": ["time (s)", "loudness (dBFS)"],
    },
    "zh-CN": {
        "#emotion-timeline": ["时间（秒，窗口中心）", "概率", "情绪"],
        "#emotion-pitch": ["时间（秒）", "音高（Hz）"],
        "#emotion-loudness": ["时间（秒）", "响度（dBFS）"],
    },
}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_plots_titles_are_in_the_visitors_language(browser, app_url: str, locale: str) -> None:
    """The timeline's, pitch and loudness plots' axis and legend titles read as text in the visitor's language
    after a run, and are never drawn as a translation key (``__i18n__{…}``, which Gradio leaves in a plot shown
    after the load), not even for a moment before the run's last update."""
    chinese = locale == "zh-CN"
    page = open_page(browser, app_url, DESKTOP, chinese=chinese)
    try:
        page.get_by_role("tab", name="情绪" if chinese else "Emotion", exact=True).click()
        page.locator("#emotion-examples .gallery-item, #emotion-examples button").first.click()
        page.locator("#emotion-audio a[data-testid='download-link'][href*='cate_blanch']").wait_for(state="attached")
        page.locator("#emotion-prosody").get_by_text(
            "频谱图、音高与响度" if chinese else "Spectrogram, pitch and loudness"
        ).click()
        page.evaluate(WATCH_TITLES_JS)
        page.locator("#emotion-button").click()
        for plot in PLOT_TITLES[locale]:
            page.locator(f"{plot} svg .role-axis-title").first.wait_for(timeout=300_000)
        shown: dict[str, list[str]] = {}
        for _ in range(20):  # the titles come with the run's last update
            shown = {plot: page.evaluate(TITLES_JS, plot) for plot in PLOT_TITLES[locale]}
            if shown == PLOT_TITLES[locale]:
                break
            page.wait_for_timeout(250)
        assert shown == PLOT_TITLES[locale]
        drawn = page.evaluate("() => [...window.__plotTitles]")
        assert set(drawn) >= {title for titles in PLOT_TITLES[locale].values() for title in titles}
        assert not [title for title in drawn if "__i18n__" in title], drawn
    finally:
        page.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_offline_the_missing_emotion_is_said_once_in_place(browser, offline_url: str, size: dict[str, int]) -> None:
    """No emotion model here: no empty emotion box and no collapsed timeline, before a run or after it; one sentence
    under the button says what is missing (once on the page); which models, with their ids, is in Details."""
    page = browser.new_page()
    try:
        page.set_viewport_size(size)
        page.set_default_timeout(60_000)
        page.goto(offline_url)
        page.get_by_role("tab", name="Emotion").click()
        page.locator("#emotion-button").wait_for()  # the tab is drawn: its boxes are there or left out
        for box in EMOTION_BOXES:
            assert page.locator(box).is_hidden(), box  # no box is drawn empty before a run either
        page.locator("#emotion-audio input[type=file]").set_input_files(get_audio("cate_blanch.mp3"))
        page.locator("#emotion-audio a[data-testid='download-link']").wait_for(state="attached")
        page.locator("#emotion-button").click()
        page.wait_for_function(
            "() => (document.querySelector('#emotion-transcript textarea') || {}).value?.includes('dagger')",
            timeout=120_000,
        )
        page.locator("#emotion-notes").get_by_text("No emotion estimate:", exact=True).wait_for()
        page.wait_for_timeout(500)  # the boxes' visibility follows the results
        for box in EMOTION_BOXES:
            assert page.locator(box).is_hidden(), box
        text = page.locator(".gradio-container").first.inner_text()
        assert text.count("No emotion estimate") == 1 and text.count("is not available on this server") == 0, text
        notes = page.locator("#emotion-notes").inner_text()
        assert "superb/wav2vec2-base-superb-er" not in notes and "pip:" not in notes
        button = page.locator("#emotion-button").bounding_box()
        said = page.locator("#emotion-notes").bounding_box()
        assert button and said and 0 <= said["y"] - (button["y"] + button["height"]) < 80  # right under the button
        page.locator("#emotion-notes summary").get_by_text("Details", exact=True).click()
        details = page.locator("#emotion-notes details").inner_text()
        assert "superb/wav2vec2-base-superb-er" in details and "median pitch" in details
    finally:
        page.close()
