"""The tiny-model kit: on-disk caching, atomic builds, and that the saved folders load and generate
through the same classes and calls the app uses (random weights: only types and shapes are checked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from mmdemo.testing import tiny_models
from mmdemo.testing.tiny_models import (
    KIT_VERSION,
    STAMP_PREFIX,
    TINY_BUILDERS,
    TINY_FOLDERS,
    build_blip_captioner,
    build_tiny_models,
    is_built,
)


def _counting(builder: Callable[[Path], Path], calls: list[str], role: str) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        calls.append(role)
        return builder(path)

    return build


# ------------------------------------------------------------------------------------- the kit


def _weights(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.safetensors"))


def test_builds_every_role_once_then_reuses_the_stamped_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for role, builder in list(TINY_BUILDERS.items()):
        monkeypatch.setitem(TINY_BUILDERS, role, _counting(builder, calls, role))

    dirs = build_tiny_models(tmp_path)
    assert set(dirs) == set(TINY_BUILDERS)
    for role, folder in dirs.items():
        assert folder == tmp_path / TINY_FOLDERS.get(role, role)
        assert (folder / f"{STAMP_PREFIX}{KIT_VERSION}").is_file()
        assert (folder / "config.json").is_file() or (folder / "model_index.json").is_file()  # model or pipeline
        assert _weights(folder)
    assert sorted(calls) == sorted(TINY_BUILDERS)
    mtimes = {role: [w.stat().st_mtime_ns for w in _weights(folder)] for role, folder in dirs.items()}

    assert build_tiny_models(tmp_path) == dirs
    assert build_tiny_models(tmp_path, roles=["vqa"]) == {"vqa": tmp_path / "vqa"}
    assert sorted(calls) == sorted(TINY_BUILDERS)  # nothing rebuilt
    assert {role: [w.stat().st_mtime_ns for w in _weights(f)] for role, f in dirs.items()} == mtimes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp leftovers


def test_a_crashed_build_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(path: Path) -> Path:
        (path / "config.json").write_text("{}")
        raise RuntimeError("boom")

    monkeypatch.setitem(TINY_BUILDERS, "captioner", crash)
    with pytest.raises(RuntimeError, match="boom"):
        build_tiny_models(tmp_path, roles=["captioner"])
    assert list(tmp_path.iterdir()) == []


def test_an_unstamped_or_outdated_folder_is_rebuilt(tmp_path: Path) -> None:
    old = tmp_path / "captioner"
    old.mkdir()
    (old / f"{STAMP_PREFIX}0-old").write_text("")
    (old / "junk.txt").write_text("half a build")

    folder = build_tiny_models(tmp_path, roles=["captioner"])["captioner"]
    assert is_built(folder)
    assert not (folder / "junk.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captioner"]


def test_unknown_role_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no-such-role"):
        build_tiny_models(tmp_path, roles=["no-such-role"])


def test_builds_are_deterministic(tmp_path: Path) -> None:
    a, b = build_blip_captioner(tmp_path / "a"), build_blip_captioner(tmp_path / "b")
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_vocabulary_is_real_words() -> None:
    vocab = tiny_models.wordpiece_vocab(("[DEC]",))
    assert list(vocab)[:6] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert len(vocab) > 250 and {"cheetah", "dog", "red", "a", "photography"} <= set(vocab)


# ------------------------------------------------------------------- loading like the app does


@pytest.fixture(scope="module")
def blip_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_tiny_models(tmp_path_factory.mktemp("tiny"), roles=["captioner", "vqa"])


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from gradio.media import get_image

    with Image.open(get_image("cheetah1.jpg")) as im:
        return im.convert("RGB")


@pytest.fixture(scope="module")
def photos(photo: Image.Image) -> list[Image.Image]:
    """Three sizes (the processor resizes all of them to the model's input size)."""
    return [photo, photo.resize((640, 120)), photo.crop((10, 20, 17, 25))]


@pytest.fixture(scope="module")
def captioner(blip_dirs: dict[str, Path]) -> tuple[Any, Any]:
    from transformers import AutoProcessor, BlipForConditionalGeneration, BlipProcessor

    proc = AutoProcessor.from_pretrained(blip_dirs["captioner"])
    assert isinstance(proc, BlipProcessor)
    model = BlipForConditionalGeneration.from_pretrained(blip_dirs["captioner"], dtype=torch.float32).eval()
    return proc, model


def _assert_words(texts: Any, n: int) -> None:
    assert isinstance(texts, list) and len(texts) == n
    assert all(isinstance(t, str) and t.strip() for t in texts)


@pytest.mark.parametrize("text", [None, ""], ids=["no-text", "empty-text"])
@pytest.mark.parametrize("num_beams", [1, 3])
def test_unconditional_caption(
    captioner: tuple[Any, Any], photo: Image.Image, text: str | None, num_beams: int
) -> None:
    proc, model = captioner
    kwargs = {} if text is None else {"text": text}
    inputs = proc(images=photo, return_tensors="pt", **kwargs)
    assert tuple(inputs["pixel_values"].shape) == (1, 3, 32, 32)
    out = model.generate(**inputs, max_new_tokens=20, num_beams=num_beams)
    assert out.shape[0] == 1 and out.shape[1] <= 21
    _assert_words(proc.batch_decode(out, skip_special_tokens=True), 1)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_caption_with_prefix(captioner: tuple[Any, Any], photo: Image.Image, num_beams: int) -> None:
    proc, model = captioner
    inputs = proc(images=photo, text="a photography of", return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=20, num_beams=num_beams)
    (text,) = proc.batch_decode(out, skip_special_tokens=True)
    assert text.startswith("a photography of ") and len(text) > len("a photography of ")


@pytest.mark.parametrize("prefix", ["", "a picture of"])
def test_caption_batch_of_different_sizes(captioner: tuple[Any, Any], photos: list[Image.Image], prefix: str) -> None:
    proc, model = captioner
    text = [prefix] * len(photos) if prefix else None  # as mmdemo.tasks.captioning does
    inputs = proc(images=photos, text=text, return_tensors="pt", padding=True)
    assert tuple(inputs["pixel_values"].shape) == (3, 3, 32, 32)
    out = model.generate(**inputs, max_new_tokens=12, num_beams=3)
    assert out.shape[0] == 3
    texts = proc.batch_decode(out, skip_special_tokens=True)
    _assert_words(texts, 3)
    assert all(t.startswith(prefix) for t in texts)


@pytest.mark.filterwarnings("ignore:Using the model-agnostic default `max_length`")
def test_generation_is_bounded(captioner: tuple[Any, Any], photo: Image.Image) -> None:
    proc, model = captioner
    inputs = proc(images=photo, return_tensors="pt")
    assert model.generate(**inputs).shape[1] <= 21  # no max_new_tokens: library default length
    assert model.generate(**inputs, max_new_tokens=128, num_beams=8).shape[1] <= 129


@pytest.mark.parametrize("num_beams", [1, 3])
def test_vqa(blip_dirs: dict[str, Path], photo: Image.Image, photos: list[Image.Image], num_beams: int) -> None:
    from transformers import AutoProcessor, BlipForQuestionAnswering, BlipProcessor

    proc = AutoProcessor.from_pretrained(blip_dirs["vqa"])
    assert isinstance(proc, BlipProcessor)
    vqa = BlipForQuestionAnswering.from_pretrained(blip_dirs["vqa"], dtype=torch.float32).eval()

    inputs = proc(images=photo, text="what is in the picture?", return_tensors="pt")
    out = vqa.generate(**inputs, max_new_tokens=10, num_beams=num_beams)
    assert out.shape[0] == 1 and out.shape[1] <= 11
    _assert_words(proc.batch_decode(out, skip_special_tokens=True), 1)

    questions = ["what is it?", "how many dogs are there?", "what color is the sky?"]
    inputs = proc(images=photos, text=questions, return_tensors="pt", padding=True)
    out = vqa.generate(**inputs, max_new_tokens=10, num_beams=num_beams)
    _assert_words(proc.batch_decode(out, skip_special_tokens=True), 3)
