"""A real browser (headless Chromium via Playwright) uses the audio emotion tab like a person would."""

from __future__ import annotations

import pytest

from mmdemo.testing.odd_audio import make_odd_audio

LABELS = ("neutral", "happy", "angry", "sad")


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
    page.get_by_role("button", name="Analyse", exact=True).click()
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
    assert "from the voice and the words" in notes and "windows" in notes
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
        " document.querySelector('#emotion-notes').innerText.includes('7.9 s of audio')"
    )
    if clear.count():
        clear.first.click()
    page.locator("#emotion-audio input[type=file]").set_input_files(str(files["silence.wav"]))
    page.locator("#emotion-audio a[data-testid='download-link'][href*='silence']").wait_for(state="attached")
    page.get_by_role("button", name="Analyse", exact=True).click()
    # the error toast (innerText holds rendered text only; a hidden copy of the message must not count)
    page.wait_for_function("() => document.body.innerText.includes('No speech detected')")
