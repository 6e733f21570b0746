"""Every parameter is declared once, by its task (mmdemo/params.py), and the page's widget, the API gate, the
command line and the API/MCP help all agree with the declaration."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from mmdemo.errors import InputError
from mmdemo.messages import Message
from mmdemo.params import DECLARED, Choice, Flag, Number, Param, Text, check_number
from mmdemo.settings import Settings


@pytest.fixture(scope="module")
def app() -> Any:
    from mmdemo.models.manager import ModelManager
    from mmdemo.ui import build_app

    return build_app(ModelManager(Settings(device="cpu", offline=True)))


def _widgets(app: Any) -> dict[str, list[Any]]:
    from mmdemo.ui.widgets import declaration

    found: dict[str, list[Any]] = {}
    for block in app.blocks.values():
        param = declaration(block)
        if param is not None:
            found.setdefault(param.name, []).append((param, block))
    return found


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every option of every subcommand (two subcommands may each have a ``--seed``, of different tasks)."""
    options = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options += _options(sub)
        elif action.option_strings:
            options.append(action)
    return options


def _outside(param: Param) -> list[Any]:
    """Values the declaration refuses."""
    if isinstance(param, Number):
        bad: list[Any] = ["3", True, float("nan")]
        bad += [param.minimum - 1] if param.minimum is not None else []
        bad += [param.maximum + 1] if param.maximum is not None else []
        return bad + ([1.5] if param.integer else [])
    if isinstance(param, Text):
        return [7, "x" * (param.max_length + 1)]
    if isinstance(param, Choice):
        return ["not-a-choice", 3]
    assert isinstance(param, Flag)
    return ["yes", 1]


NOT_ON_THE_PAGE = {"language", "batch_size"}
"""Declared parameters the page does not show (the command line and the library take them): the speech
language is detected on the page; how many photos or keyframes a batch takes is the server's to decide."""


def test_every_declared_parameter_has_one_widget_that_agrees(app: Any) -> None:
    widgets = _widgets(app)
    for param in DECLARED:
        if param.name in NOT_ON_THE_PAGE and param.name not in widgets:
            continue
        built = [  # (two tasks may each have a "seed"; a widget may take a server's setting as its ceiling)
            (bound, block)
            for bound, block in widgets.get(param.name, [])
            if bound is param or getattr(bound, "declared", None) is param
        ]
        assert built, f"{param.name} is declared but no widget is built from it"
        for bound, block in built:
            assert block.value == bound.default or (block.value in ("", None) and bound.default in ("", None))
            if isinstance(param, Number):
                assert (block.minimum, block.maximum) == (bound.minimum, bound.maximum), param.name
                assert (block.precision == 0) == param.integer, param.name
            if isinstance(param, Text):
                assert block.max_length == param.max_length, param.name


def test_the_gate_refuses_with_the_declarations_own_sentence(app: Any) -> None:
    """A value the declaration refuses gets, from the API gate, exactly the sentence the task's own check gives
    (the CLI and the library), in English and in Chinese."""
    from mmdemo.ui.gate import GateError, check_value

    for name, bound in _widgets(app).items():
        for param, block in {id(param): (param, block) for param, block in bound}.values():  # each declaration
            for value in _outside(param):
                with pytest.raises(InputError) as task:
                    param.check(value)
                with pytest.raises(GateError) as gate:
                    check_value(block, value, "ignored: the declaration names its field")
                assert gate.value.message == str(task.value), (name, value)
                assert gate.value.mmdemo_message.text("zh-CN") == task.value.text("zh-CN"), (name, value)
                assert f"({name})" in str(task.value)  # it names the field


def test_the_command_line_takes_every_option_as_declared() -> None:
    from mmdemo.cli import build_parser

    for action in _options(build_parser()):  # not every parameter is a CLI option (e.g. the page's random seed)
        if action.help == argparse.SUPPRESS:
            continue  # an option's older spelling, kept working, hidden
        declared = [param for param in DECLARED if param.name == action.dest]
        if declared:  # an option named as a parameter is built from (one of) its declaration(s)
            assert any(_agrees(action, param) for param in declared), (action.option_strings, action.default)


def _agrees(action: argparse.Action, param: Param) -> bool:
    if param.flag not in action.option_strings or action.default != param.default:
        return False
    if isinstance(param, Number) and action.type is not (int if param.integer else float):
        return False
    return not isinstance(param, Choice) or list(action.choices or ()) == param.values


def test_help_says_the_limits_once_for_api_mcp_and_cli() -> None:
    from mmdemo.tasks.captioning import MAX_NEW_TOKENS, NUM_BEAMS

    assert MAX_NEW_TOKENS.help() == "longest caption, in tokens (5-100)"
    assert NUM_BEAMS.help() == "beam-search width: more is more careful and slower (1-8)"


def test_caption_limits_agree_between_the_api_and_the_cli(tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    """120 tokens were refused by the API and accepted by the CLI: now both refuse it, with the same sentence."""
    from mmdemo.cli import main

    photo = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(photo)
    assert main(["caption", str(photo), "--max-new-tokens", "120"]) == 2
    expected = "Maximum length (tokens) (max_new_tokens) must be a whole number from 5 to 100 (got 120)."
    assert capsys.readouterr().err.strip() == f"error: {expected}"


def test_messages_name_fields_in_the_visitors_language() -> None:
    from mmdemo.params import field

    with pytest.raises(InputError) as info:
        check_number(11, field("Seed", "seed"), minimum=0, maximum=10, integer=True)
    assert str(info.value) == "Seed (seed) must be a whole number from 0 to 10 (got 11)."
    assert info.value.text("zh-CN") == "种子（seed）必须是介于 0 和 10 之间的整数（收到的是 11）。"
    assert isinstance(info.value.message, Message) and info.value.message.key == "value.number"
