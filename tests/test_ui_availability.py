"""The first screen says what works here: per-tab notices and disabled buttons from the files alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.ui.availability import FEATURES, tab_availability


def test_with_every_model_installed_no_tab_has_a_notice(tiny_settings: Settings) -> None:
    manager = ModelManager(tiny_settings)
    for tab in FEATURES:
        state = tab_availability(manager, tab)
        assert state.notice == "" and all(state.usable.values()), tab


def test_a_fresh_offline_install_says_what_cannot_run_and_keeps_the_fix_for_the_operator() -> None:
    manager = ModelManager(Settings(device="cpu", offline=True))
    generate = tab_availability(manager, "generate")
    assert generate.usable == {"Generate": False}
    user, _, operator = generate.notice.partition("<details>")
    assert "<strong>Generate</strong> is not available on this server" in user and "stabilityai/sd-turbo" in user
    assert "prefetch" not in user and "MMDEMO_" not in user  # the user gets one sentence …
    assert "python -m mmdemo prefetch --roles text_to_image" in operator  # … the operator the fix
    assert "MMDEMO_TEXT_TO_IMAGE_MODEL" in operator
    assert "decoder" not in user  # nothing about optional parts of a feature that cannot run

    caption = tab_availability(manager, "caption")
    assert caption.usable == {"Caption": False, "Detailed caption": False, "Ask a question": False, "Read text": True}

    emotion = tab_availability(manager, "emotion")  # partial results: never disabled, says what is missing
    assert emotion.usable == {"Analyse": True}
    assert "Speech emotion (acoustic) is not installed here: there is no emotion from the voice" in emotion.notice
    assert "smaller offline model" in emotion.notice
    assert tab_availability(manager, "video").usable == {"Summarise": True}


def test_models_that_download_on_first_use_are_named(tiny_settings: Settings) -> None:
    manager = ModelManager(tiny_settings.replace(models={"text_to_image": "stabilityai/sd-turbo"}, offline=False))
    state = tab_availability(manager, "generate")
    assert state.usable == {"Generate": True}
    assert "The first use downloads <code>stabilityai/sd-turbo</code> from the Hugging Face Hub" in state.notice


def test_a_failed_load_is_said_but_the_feature_stays_usable(tiny_settings: Settings) -> None:
    manager = ModelManager(tiny_settings)
    manager.problems["vqa"] = "The vqa model 'x' is not available: its weights are damaged. Download it again."
    state = tab_availability(manager, "caption")
    assert state.usable["Ask a question"] is True
    assert "failed last time; the next request tries again" in state.notice
    assert "weights are damaged" in state.notice.partition("<details>")[2]


def test_model_names_are_escaped_and_paths_are_not_shown(tiny_settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "<img src=x onerror=alert(1)>"
    manager = ModelManager(tiny_settings.replace(models={"text_to_image": str(folder)}))
    notice = tab_availability(manager, "generate").notice
    assert "<img" not in notice and "&lt;img" in notice
    assert str(tmp_path) not in notice  # not even in the operator's part: visitors can unfold it


def test_a_failed_download_is_no_longer_announced_as_a_first_use_download(tiny_settings: Settings) -> None:
    """A machine without the Hub (and without offline mode set): before a try, the notice says what the first
    use downloads; after the download failed it says the load failed, not that it will download."""
    from mmdemo.errors import ModelUnavailableError

    manager = ModelManager(tiny_settings.replace(models={"text_to_image": "stabilityai/sd-turbo"}, offline=False))
    assert "The first use downloads" in tab_availability(manager, "generate").notice
    with pytest.raises(ModelUnavailableError), manager.use("text_to_image"):  # the Hub cannot be reached here
        pass
    notice = tab_availability(manager, "generate").notice
    assert "The first use downloads" not in notice
    assert "Loading <code>stabilityai/sd-turbo</code> failed last time; the next request tries again." in notice
