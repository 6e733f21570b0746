"""The app on replicas of its CPU default models: the real checkpoints' architectures, processors,
generation configs and token ids with random weights (mmdemo/testing/replicas.py), at reduced depth.
Every tab runs end to end over HTTP; what depends on the real shapes and settings is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio.media import get_audio, get_image, get_video
from gradio_client import Client, handle_file

from mmdemo.models.manager import estimate_weight_bytes, module_bytes
from mmdemo.models.specs import SPECS
from mmdemo.settings import Settings


@pytest.fixture(scope="module")
def replica_client(replica_dirs: dict[str, Path], launch_app) -> Iterator[Client]:
    settings = Settings(models={role: str(path) for role, path in replica_dirs.items()}, device="cpu", offline=True)
    with launch_app(settings) as url:
        yield Client(url, verbose=False)


def test_every_tab_runs_on_replicas(replica_client: Client) -> None:
    photo = handle_file(get_image("lion.jpg"))
    caption = replica_client.predict(photo, "", 12, 0, 2, api_name="/caption")
    assert caption and "[DEC]" not in caption and "[SEP]" not in caption  # BLIP's special tokens stripped
    assert replica_client.predict(photo, "What animal is this?", 2, api_name="/vqa")
    gallery, _seed, info = replica_client.predict(
        "a lighthouse at dusk", "", 0, 0, "auto", 1, 7, False, "auto", True, api_name="/generate"
    )
    # sd-turbo's real shapes: 512 px native, 1 step and no guidance (a turbo model), the matching TAESD decoder
    assert len(gallery) == 1 and "1 steps · guidance 0 · 512×512 · fast decoder" in info, info
    outputs = replica_client.predict(handle_file(get_audio("heath_ledger.mp3")), 3, 1.5, True, 0.5, api_name="/emotion")
    fused, text, voice, notes = outputs[0], outputs[3], outputs[4], outputs[-1]
    assert {c["label"] for c in voice["confidences"]} == {"neutral", "happy", "angry", "sad"}  # SUPERB's 4 labels
    assert {c["label"] for c in text["confidences"]} == {
        "angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"
    }  # fmt: skip
    assert fused["label"] in {"neutral", "happy", "angry", "sad"} and "language:" in notes
    summary, _chapters, keyframes, _transcript, files, _notes = replica_client.predict(
        handle_file(get_video("world.mp4")), 2, True, True, True, "auto", api_name="/summarize"
    )
    assert summary and keyframes and len(files) >= 2


@pytest.mark.parametrize("role", ["captioner", "vqa", "text_to_image", "clip", "emotion", "asr", "summarizer"])
def test_size_estimates_match_what_loads(replica_dirs: dict[str, Path], role: str) -> None:
    """The manager budgets memory from the files: within 5 % of what the loaded replica really takes."""
    import torch

    folder = replica_dirs[role]
    loaded = module_bytes(SPECS[role].loader(folder, torch.float32).model)
    estimate = estimate_weight_bytes(folder, 4)
    assert abs(estimate - loaded) <= 0.05 * loaded, (role, estimate, loaded)


def test_whisper_replica_detects_a_real_language_code(replica_dirs: dict[str, Path]) -> None:
    """Whisper-base's real generation config (99 languages, task ids, no-timestamps id) drives detection."""
    import torch

    from mmdemo.media.audio import load_audio
    from mmdemo.models.manager import ModelManager

    manager = ModelManager(Settings(models={"asr": str(replica_dirs["asr"])}, device="cpu", offline=True))
    samples = load_audio(get_audio("cate_blanch.mp3"), sample_rate=16_000).samples
    with manager.use("asr") as handle, torch.inference_mode():
        config = handle.model.generation_config
        features = handle.processor.feature_extractor([samples], sampling_rate=16_000, return_tensors="pt")
        detected = int(handle.model.detect_language(input_features=features["input_features"])[0])
    assert len(config.lang_to_id) == 99 and config.no_timestamps_token_id == 50363
    assert config.task_to_id == {"translate": 50358, "transcribe": 50359}
    assert detected in config.lang_to_id.values()


def test_space_preload_is_what_the_loader_reads(replica_dirs: dict[str, Path]) -> None:
    """The Space's preload list for the CPU text-to-image default names exactly the weight files the
    app's loader reads from its replica, and the replica's pipeline has the components listed."""
    from mmdemo.deploy import PIPELINE_COMPONENTS, preload_files
    from mmdemo.models.manager import loaded_weight_files

    folder = replica_dirs["text_to_image"]
    index = json.loads((folder / "model_index.json").read_text())
    model_id = "stabilityai/sd-turbo"
    assert {k: tuple(v) for k, v in index.items() if isinstance(v, list) and v[0]} == PIPELINE_COMPONENTS[model_id]
    read = sorted(str(p.relative_to(folder)) for p in loaded_weight_files(folder))
    assert read == sorted(f for f in preload_files(model_id) if f.endswith(".safetensors"))
