"""Settings from environment variables and app.py flags."""

from __future__ import annotations

import pytest

from mmdemo import launcher as app
from mmdemo.errors import InputError
from mmdemo.settings import Settings, role_env_var


def test_defaults_without_env() -> None:
    s = Settings.from_env({})
    assert s.device == "auto" and s.dtype == "auto" and not s.offline
    assert s.models == {} and s.preload == ()
    assert s.max_upload_bytes == 50 * 1024 * 1024


def test_env_vars_are_read() -> None:
    s = Settings.from_env(
        {
            "MMDEMO_CAPTIONER_MODEL": "/models/blip",
            "MMDEMO_TEXT_TO_IMAGE_MODEL": "stabilityai/sd-turbo",
            "MMDEMO_DEVICE": "CPU",
            "MMDEMO_MEMORY_BUDGET_GB": "2.5",
            "MMDEMO_MAX_IMAGE_PIXELS": "1000",
            "MMDEMO_PRELOAD": "captioner, vqa",
            "HF_HUB_OFFLINE": "1",
        }
    )
    assert s.model_for("captioner") == "/models/blip"
    assert s.model_for("text_to_image") == "stabilityai/sd-turbo"
    assert s.model_for("vqa") is None
    assert s.device == "cpu" and s.memory_budget_gb == 2.5 and s.max_image_pixels == 1000
    assert s.preload == ("captioner", "vqa") and s.offline
    assert role_env_var("text_to_image") == "MMDEMO_TEXT_TO_IMAGE_MODEL"


@pytest.mark.parametrize(
    ("env", "word"),
    [
        ({"MMDEMO_DEVICE": "tpu"}, "device"),
        ({"MMDEMO_DTYPE": "int4"}, "dtype"),
        ({"MMDEMO_MEMORY_BUDGET_GB": "lots"}, "number"),
        ({"MMDEMO_OFFLINE": "maybe"}, "boolean"),
        ({"MMDEMO_MAX_UPLOAD_MB": "-1"}, "negative"),
        ({"MMDEMO_MODEL_DIR": "/no/such/folder"}, "folder"),
    ],
)
def test_bad_env_values_are_clear(env: dict[str, str], word: str) -> None:
    with pytest.raises(InputError, match=word):
        Settings.from_env(env)


def test_flags_override_env() -> None:
    base = Settings.from_env({"MMDEMO_DEVICE": "cuda", "MMDEMO_CAPTIONER_MODEL": "a/b"})
    args = app.build_parser().parse_args(
        ["--device", "cpu", "--model", "vqa=/tmp/vqa", "--preload", "all", "--memory-budget-gb", "3"]
    )
    s = app.settings_from_args(args, base)
    assert s.device == "cpu" and s.memory_budget_gb == 3
    assert s.models == {"captioner": "a/b", "vqa": "/tmp/vqa"}
    assert s.preload == ("all",)
    # flags not given keep the environment's values
    assert app.settings_from_args(app.build_parser().parse_args([]), base).device == "cuda"


def test_bad_model_flag() -> None:
    args = app.build_parser().parse_args(["--model", "captioner"])
    with pytest.raises(Exception, match="ROLE=ID"):
        app.settings_from_args(args, Settings.from_env({}))


def test_auth_pairs_and_file(tmp_path) -> None:
    f = tmp_path / "users.txt"
    f.write_text("# team\nann:s3cret\nbob:pa:ss\n")
    assert app.parse_auth(["eve:x"], str(f)) == [("eve", "x"), ("ann", "s3cret"), ("bob", "pa:ss")]
    with pytest.raises(Exception, match="user:password"):
        app.parse_auth(["nopassword"], None)
