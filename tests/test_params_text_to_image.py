"""Text to image, round trip and send-to take their parameters from one set of declarations
(mmdemo/tasks/text_to_image.py): the page, the API gate, the command line and the library refuse a value with
the same sentence, in the visitor's language; the server's own caps narrow the page and are the task's to say."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace
from typing import Any

import pytest

from mmdemo.errors import InputError
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks import text_to_image as t2i

HAN = re.compile(r"[\u4e00-\u9fff]")
REFUSED = [  # (parameter, value the API sends, the same value on the command line)
    (t2i.PROMPT, "x" * 1500, ["x" * 1500]),
    (t2i.SEED, -5, ["a cat", "--seed", "-5"]),
    (t2i.SEED, 2**32, ["a cat", "--seed", str(2**32)]),
    (t2i.STEPS, 500, ["a cat", "--steps", "500"]),
    (t2i.NUM_IMAGES, 9, ["a cat", "--num-images", "9"]),
    (t2i.GUIDANCE_SCALE, 31.5, ["a cat", "--guidance-scale", "31.5"]),
]
"""Refused by every way in, with one sentence."""
EXPECTED = {
    "prompt": (
        "Prompt (prompt) is too long (1500 characters; at most 1000).",
        "提示词（prompt）太长（1500 个字符；最多 1000 个）。",
    ),
    "seed": (
        "Seed (seed) must be a whole number from 0 to 4294967295 (got -5).",
        "种子（seed）必须是介于 0 和 4294967295 之间的整数（收到的是 -5）。",
    ),
    "steps": (
        "Steps (steps) must be a whole number from 0 to 100 (got 500).",
        "步数（steps）必须是介于 0 和 100 之间的整数（收到的是 500）。",
    ),
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(device="cpu", offline=True)  # no model is installed: nothing may load


@pytest.fixture(scope="module")
def app(settings: Settings) -> Any:
    from mmdemo.ui import build_app

    return build_app(ModelManager(settings))


def _inputs(app: Any, api_name: str) -> dict[str, Any]:
    """The input components of an endpoint by the handler's parameter name."""
    from mmdemo.ui.gate import parameter_names

    (block_fn,) = [fn for fn in app.fns.values() if fn.api_name == api_name]
    return dict(zip(parameter_names(block_fn.fn), block_fn.inputs, strict=False))


def _library(param: Any, value: Any, settings: Settings) -> InputError:
    arguments = {"prompt": "a cat", param.name: value}
    with pytest.raises(InputError) as info:
        t2i.generate_images(**arguments, manager=ModelManager(settings))
    return info.value


@pytest.mark.parametrize(("param", "value", "argv"), REFUSED, ids=lambda x: getattr(x, "name", None))
def test_the_api_gate_the_cli_and_the_library_refuse_alike(
    app: Any, settings: Settings, capsys: pytest.CaptureFixture, param: Any, value: Any, argv: list[str]
) -> None:
    """A 1500-character prompt (the page took 1000, the CLI 2000), an out-of-range seed or steps: one sentence
    from the API gate, the command line and the library — and one Chinese sentence for a zh-CN visitor."""
    from mmdemo.cli import main
    from mmdemo.ui.gate import GateError, check_value

    with pytest.raises(GateError) as gate:
        check_value(_inputs(app, "generate")[param.name], value, "(the declaration names the field)")
    library = _library(param, value, settings)
    assert main(["--offline", "generate", *argv]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("error: ")
    assert gate.value.message == str(library) == cli, param.name
    chinese = gate.value.mmdemo_message.text("zh-CN")
    assert chinese == library.text("zh-CN") and HAN.search(chinese) and f"（{param.name}）" in chinese
    if param.name in EXPECTED and value != 2**32:
        assert (cli, chinese) == EXPECTED[param.name]


def test_the_walk_from_the_api_to_the_pipeline(app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22's walk of one /generate request: the seed is checked by its declaration twice (the API gate, then
    the task: one sentence), the size parsed and range-checked once at the gate and once in the task (the handler
    passes the text on), and nothing else checks them."""
    import collections

    from mmdemo.errors import ModelUnavailableError
    from mmdemo.params import Number
    from mmdemo.ui.gate import check_value
    from mmdemo.ui.text_to_image import generate

    calls: collections.Counter[str] = collections.Counter()
    parse, side, check = t2i.Size.parse, t2i.Size.side, Number.check

    def counted(name: str, fn: Any) -> Any:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls[name if name != "check" else self.name] += 1
            return fn(self, *args, **kwargs)

        return run

    monkeypatch.setattr(t2i.Size, "parse", counted("parse", parse))
    monkeypatch.setattr(t2i.Size, "side", counted("side", side))
    monkeypatch.setattr(Number, "check", counted("check", check))
    values = {"prompt": "a cat", "negative_prompt": "", "steps": 2, "guidance_scale": 1.0, "size": "64x80"}
    values |= {"num_images": 1, "seed": 7, "randomize_seed": False, "decoder": "auto", "clip_score": False}
    for name, block in _inputs(app, "generate").items():
        check_value(block, values[name], name)  # the gate
    with pytest.raises(ModelUnavailableError):  # (nothing is installed): checked, then the model is asked for
        list(generate(ModelManager(settings), **values))
    assert (calls["seed"], calls["steps"], calls["parse"], calls["side"]) == (2, 2, 2, 4)  # a side: width, height


def test_round_trip_takes_the_same_seed_and_steps(app: Any) -> None:
    """No second copy: the round trip's seed and steps are the text-to-image declarations, refused alike."""
    from mmdemo.ui.gate import GateError, check_value
    from mmdemo.ui.widgets import declaration

    trip, generate = _inputs(app, "round_trip"), _inputs(app, "generate")
    for name in ("seed", "steps"):
        assert declaration(trip[name]) is declaration(generate[name]) is getattr(t2i, name.upper())
        refusals = []
        for block in (trip[name], generate[name]):
            with pytest.raises(GateError) as info:
                check_value(block, 10**12, name)
            refusals.append(info.value.message)
        assert refusals[0] == refusals[1]


def test_the_page_and_send_to_cut_prompts_at_the_declared_length(app: Any) -> None:
    from mmdemo.ui.send_to import PROMPT_JS

    inputs = _inputs(app, "generate")
    assert inputs["prompt"].max_length == inputs["negative_prompt"].max_length == t2i.PROMPT.max_length == 1000
    assert f".slice(0, {t2i.PROMPT.max_length})" in PROMPT_JS


def test_a_zh_cn_request_is_refused_in_chinese_through_the_gate(app: Any) -> None:
    """The gate itself, as a request from a Chinese browser meets it (the refusal a client reads)."""
    from mmdemo.ui import i18n
    from mmdemo.ui.gate import GateError, check_inputs

    (block_fn,) = [fn for fn in app.fns.values() if fn.api_name == "generate"]
    values = ["x" * 1500, "", 1, 1.0, "64x64", 1, 7, False, "auto", False]
    with pytest.raises(GateError) as info:
        check_inputs(block_fn, values)
    token = i18n.current_request.set(SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"}))
    try:
        assert i18n.localized(info.value).message == EXPECTED["prompt"][1]
    finally:
        i18n.current_request.reset(token)


def test_the_size_is_parsed_and_checked_by_its_declaration() -> None:
    assert t2i.SIZE.sides("auto") == (None, None) and t2i.SIZE.sides(" 768 x 512 ") == (768, 512)
    refusals = {
        "big": "Size (size) must be 'auto' or WIDTHxHEIGHT such as 768x512 (got 'big').",
        "100x64": "Width (width) must be a multiple of 8 (got 100).",
        "64x32": "Height (height) must be a whole number from 64 to 1024 (got 32).",
        "64x4096": "Height (height) must be a whole number from 64 to 1024 (got 4096).",
    }
    for size, sentence in refusals.items():
        with pytest.raises(InputError) as info:
            t2i.SIZE.sides(size, 1024)
        assert str(info.value) == sentence
    assert t2i.SIZE.check("64x4096") == "64x4096"  # the gate has no server settings: the task caps the side
    with pytest.raises(InputError) as info:
        t2i.SIZE.sides("64x4096", 1024)
    assert info.value.text("zh-CN") == "高度（height）必须是介于 64 和 1024 之间的整数（收到的是 4096）。"


def test_the_servers_caps_narrow_the_page_and_the_task_says_them() -> None:
    """A CPU Space makes at most 2 images of at most 512 pixels a side: the page offers no more, and a client
    asking for more gets the declaration's sentence with the server's limit."""
    from mmdemo.ui import build_app

    small = Settings(device="cpu", offline=True, max_generated_images=2, max_generated_side=512)
    inputs = _inputs(build_app(ModelManager(small)), "generate")
    assert (inputs["num_images"].minimum, inputs["num_images"].maximum) == (1, 2)
    assert [value for _, value in inputs["size"].choices] == ["auto", "512x512"]
    with pytest.raises(InputError) as info:
        t2i.check_inputs("a cat", num_images=3, settings=small)
    assert str(info.value) == "Images (num_images) must be a whole number from 1 to 2 (got 3)."
    assert info.value.text("zh-CN") == "图片（num_images）必须是介于 1 和 2 之间的整数（收到的是 3）。"
    with pytest.raises(InputError, match=r"Width \(width\) must be a whole number from 64 to 512"):
        t2i.check_inputs("a cat", width=768, settings=small)


def test_a_server_may_allow_more_images_than_the_declared_default_and_the_gate_agrees() -> None:
    """MMDEMO_MAX_GENERATED_IMAGES sets the most (6 here, above the declared 4): the slider, the API gate and the
    task take 6 and refuse 7 with one sentence; one image only shows a fixed slider and the gate refuses 2."""
    from mmdemo.ui import build_app
    from mmdemo.ui.gate import GateError, check_value

    for most in (6, 1):
        settings = Settings(device="cpu", offline=True, max_generated_images=most)
        widget = _inputs(build_app(ModelManager(settings)), "generate")["num_images"]
        assert widget.maximum == max(most, 2) and widget.interactive is (None if most > 1 else False)
        assert check_value(widget, most, "n") == most
        assert t2i.check_inputs("a cat", num_images=most, settings=settings).num_images == most
        sentence = f"Images (num_images) must be a whole number from 1 to {most} (got {most + 1})."
        with pytest.raises(GateError) as refused:
            check_value(widget, most + 1, "n")
        assert str(refused.value.mmdemo_message) == sentence
        with pytest.raises(InputError, match=re.escape(sentence)):
            t2i.check_inputs("a cat", num_images=most + 1, settings=settings)


def test_results_are_written_in_the_visitors_language() -> None:
    from PIL import Image

    from mmdemo.messages import Message
    from mmdemo.tasks.round_trip import RoundTripResult, Similarities
    from mmdemo.ui import round_trip, text_to_image

    images = tuple(t2i.GeneratedImage(Image.new("RGB", (8, 8)), 5 + i, 31.0 - 7 * i) for i in range(2))
    result = t2i.GenerationResult(
        images=images,
        prompt="a cat",
        negative_prompt="",
        seed=5,
        steps=2,
        guidance_scale=1.0,
        width=64,
        height=64,
        decoder="full",
        model_id="org/model",
        decoder_model_id=None,
        clip_model_id="clip",
        notes=(Message("t2i.negative_unused"), Message("t2i.no_clip", reason="no CLIP here")),
        seconds=0.5,
    )
    # One plain sentence, the notes a visitor needs, then the rest folded under "Details" (the technical notes too).
    assert text_to_image.describe(result).split("\n\n") == [
        "**Seed 5** (images use 5–6): the same prompt and seed make the same picture again. "
        "Match with the prompt: good match.",
        "⚠️ The negative prompt has no effect with a guidance of 1 or less: raise the guidance under Advanced.",
        "<details><summary>Details</summary>",
        "2 steps · guidance 1 · 64×64 · full decoder · `org/model` · 0.5 s",
        "CLIP score (how well the image matches the prompt, 0–100): 31.0 (good match), 24.0 (weak match)",
        "CLIP score not shown: no CLIP here",
        "</details>",
    ]
    chinese = text_to_image.describe(result, "zh-CN")
    assert chinese.startswith(
        "**种子 5**（各图依次使用 5–6）：相同的提示词和种子会再次生成同样的图片。与提示词的契合程度：契合度高。"
    )
    assert "反向提示词不起作用" in chinese and "<summary>详细信息</summary>" in chinese
    assert "2 步 · 引导强度 1" in chinese
    assert text_to_image.image_caption(images[0]) == "seed 5 · CLIP 31.0"
    assert text_to_image.image_caption(images[0], "zh-CN") == "种子 5 · CLIP 31.0"

    trip = RoundTripResult(
        caption=None,  # type: ignore[arg-type]  # not shown by describe()
        generated=images[0].image,
        seed=7,
        caption_back=None,  # type: ignore[arg-type]
        similarities=Similarities(85.0, 30.5, 26.0, 90.0),
        model_ids={"captioner": "org/blip"},
        notes=(Message("round_trip.no_scores", reason="x"),),
        seconds=1.0,
    )
    english, chinese = round_trip.describe(trip), round_trip.describe(trip, "zh-CN")
    head, details = english.split("\n\n<details><summary>Details</summary>\n\n")
    assert head.startswith("**How much survived the trip: 85.0 of 100**: how alike your photo") and "CLIP" not in head
    assert "Seed 7 · 1.0 s · captioner: `org/blip`" in details and "No similarity scores: x" in details
    assert chinese.startswith("**往返后保留了多少：85.0 / 100**") and "种子 7 · 1.0 秒" in chinese
    assert "没有相似度评分" in chinese
    unmeasured = round_trip.describe(dataclasses.replace(trip, similarities=None), "zh-CN")
    assert unmeasured.startswith("你的照片和根据其描述生成的图片并排显示；此服务器无法衡量两者有多相似。")


def test_nothing_to_send_is_said_in_chinese() -> None:
    import gradio as gr

    from mmdemo.ui import i18n
    from mmdemo.ui.send_to import gallery_item

    token = i18n.current_request.set(SimpleNamespace(headers={"accept-language": "zh-CN"}))
    try:
        with pytest.raises(gr.Error) as info:
            gallery_item([], 0)
    finally:
        i18n.current_request.reset(token)
    assert info.value.message == "还没有可发送的图片：请先运行任务。"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 0), ("zh-CN,zh;q=0.9", 1)],
    ids=["api-client", "zh-CN"],
)
def test_over_http_the_refusal_is_the_cli_sentence_or_its_chinese(app_url: str, header: Any, expected: int) -> None:
    """The running app, called as a client does: a 1500-character prompt and a side beyond the server's largest
    (refused by the task, not the gate) in English for API clients, in Chinese for a zh-CN request."""
    from mmdemo.testing.http import call_raw

    headers = {"accept-language": header} if header else None
    args = ["x" * 1500, "", 1, 1.0, "64x64", 1, 7, False, "auto", False]
    result = call_raw(app_url, "generate", args, headers=headers)
    assert result.event == "error" and result.message == EXPECTED["prompt"][expected]
    args[0], args[4] = "a cat", "64x4096"
    result = call_raw(app_url, "generate", args, headers=headers)
    said = (
        "Height (height) must be a whole number from 64 to 1024 (got 4096).",
        "高度（height）必须是介于 64 和 1024 之间的整数（收到的是 4096）。",
    )
    assert result.event == "error" and result.message == said[expected]
