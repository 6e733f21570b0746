"""The message catalogues are complete, read from the source: every key the code names exists and every key in
the catalogue is used; Chinese has every key with the same placeholders; no sentence a visitor or client can see
is raised or shown as a literal English sentence; and every page string the app builds has its Chinese.

Walks the AST of every module of ``mmdemo`` (``mmdemo/testing`` is the test kit: it is walked for keys, not for
sentences). Allowed exceptions are listed below, each with its reason.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mmdemo
from mmdemo.messages import FOLDER, KEY, LOCALES, catalogue, placeholders

PACKAGE = Path(mmdemo.__file__).resolve().parent
ZH = "zh-CN"
HAN = re.compile(r"[\u4e00-\u9fff]")

DYNAMIC_KEYS = {
    "value.what.": "params: what a number must be, by its kind (whole, number) and which limits it has",
    "gate.kind.": "gate: the kind of file a field takes (image, recording, video, file)",
    "media.kind.": "media.files: the kind of upload a size check is for (image, audio, video)",
    "media.advice.": "media.files: what to do with a file too large, by its kind",
    "media.is.": "media.files.what_it_is: what sniffing found a file to be (pdf, zip …)",
    "batch.column.": "ui.batch_caption: the table's headers, by the result's column names",
    "emotion.basis.": "ui.audio_emotion: which estimates a result rests on (voice, words, both)",
    "emotion.renamed.": "tasks.audio_emotion: which model's emotion names were renamed (voice, words)",
    "emotion.word.": "tasks.audio_emotion.emotion_word: an emotion label as a word (a model's unknown label stays)",
    "emotion.without.": "tasks.audio_emotion: what a result lacks when a model is missing, by what it lacks",
    "eval.definition.": "evaluation.report: how each task's metrics are computed, by task",
    "eval.title.": "evaluation.report: each task's name, by task",
    "eval.metric.edits_": "evaluation.report: the word-edit rows (substitutions, deletions, insertions)",
    "eval.source.": "evaluation.runner: which emotion estimate was asked for (voice, words, fused)",
    "t2i.clip.": "tasks.text_to_image.clip_words: a CLIP score in words, by its band",
    "t2i.decoder_used.": "ui.text_to_image: which image decoder a result used",
    "video_summary.method.": "ui.video_summary: how the summary was made, by the result's method",
    "video_summary.orientation.": "tasks.video_summary: the video's orientation (landscape, portrait, square)",
    "video_summary.stage.": "tasks.video_summary: the progress line of each stage, by stage",
}
"""Keys built from a prefix at run time (``Message(f"value.what.{kind}_range")``): the prefix, and why."""

ALLOWED_ENGLISH = {
    ("settings.py", "*", "*"): "the operator's environment variables and flags, checked before the app starts",
    ("launcher.py", "parse_auth", "MMDemoError"): "the operator's --auth flags or auth file: the app has not started",
    ("launcher.py", "settings_from_args", "InputError"): "a command-line usage error (--model): the operator's",
    ("deploy.py", "write_space", "InputError"): "a command-line usage error (deploy --hardware): the operator's",
    ("models/device.py", "resolve_device", "MMDemoError"): "the operator's --device / MMDEMO_DEVICE, at start-up",
    ("models/manager.py", "ModelManager.spec", "MMDemoError"): "a role the code (or the operator's --roles) names",
    ("ui/mcp.py", "AppMCPServer._follow", "append"): "an MCP note: Gradio's level name, then a rendered message",
}
"""(module, function or ``*``, what is called or ``*``) → why a user-facing sentence is written in English there.
Operator-only sentences raised as ``ValueError``, logs and prints are not user-facing errors and need no entry."""

USER_FACING_BASES = {"MMDemoError", "gr.Error", "gr.Warning", "gr.Info"}
"""What a visitor or client sees the sentence of (with every subclass defined in ``mmdemo``) …"""
KEYED_BY_CLASS = {"ModelUnavailableError": "its sentence is model.unavailable; reason and hint are the operator's"}
"""… except classes that build their keyed sentence themselves from other arguments."""
PER_MODULE = {"ui/mcp.py": {"RuntimeError"}}
"""Errors that reach a client only in one module (an MCP tool's failure is the text the client gets)."""
USER_ERROR_FUNCTIONS = {"user_error"}
"""Functions that make a user-facing error of their message (and title) argument."""
NOTE_LISTS = {"notes", "warnings"}
"""Lists of notes a result carries to the page (``notes.append(…)``, ``Result(notes=(…))``): each a message."""
ENGLISH_LOOKUPS = {"say", "translate"}
"""The functions of :mod:`mmdemo.ui.i18n` that look a finished English sentence (or template) up, to be removed
with its ``MESSAGES`` (``mmdemo.messages.say`` takes a key and is fine)."""


# --- reading the source --------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    """Path relative to ``mmdemo/`` (``ui/mcp.py``)."""
    tree: ast.Module
    constants: dict[str, ast.expr]
    """Module-level ``NAME = <expr>`` assignments."""
    imports: dict[str, str]
    """Local name → the ``mmdemo`` module (relative path) it is, for ``from ..media import image``."""
    names: dict[str, tuple[str, str]]
    """Local name → (module, name) it was imported as, for ``from .files import what_it_is``."""
    english_lookups: set[str]
    """Names imported from :mod:`mmdemo.ui.i18n` that look a sentence up by its English (``say``, ``translate``)."""


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _module_path(dotted: str) -> str | None:
    base = PACKAGE.parent / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return _relative(candidate)
    return None


def _read(path: Path) -> Module:
    return _parse(_relative(path), path.read_text(encoding="utf-8"))


def _parse(name: str, source: str) -> Module:
    tree = ast.parse(source, name)
    package = ["mmdemo", *Path(name).parent.parts]
    constants: dict[str, ast.expr] = {}
    imports: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {}
    lookups: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            constants[node.target.id] = node.value
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                module = _module_path(f"{source}.{alias.name}")
                if module is not None:
                    imports[alias.asname or alias.name] = module
                elif _module_path(source) is not None:
                    names[alias.asname or alias.name] = (str(_module_path(source)), alias.name)
                if source == "mmdemo.ui.i18n" and alias.name in ENGLISH_LOOKUPS:
                    lookups.add(alias.asname or alias.name)
    if name == "ui/i18n.py":
        lookups |= ENGLISH_LOOKUPS
    return Module(name, tree, constants, imports, names, lookups)


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return {_relative(path): _read(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _calls(module: Module) -> Iterator[tuple[str, ast.Call]]:
    """Every call in ``module`` with the qualified name of the function or class it is in (``""`` at the top)."""

    def walk(node: ast.AST, scope: str) -> Iterator[tuple[str, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from walk(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            if isinstance(child, ast.Call):
                yield scope, child
            yield from walk(child, scope)

    yield from walk(module.tree, "")


def _callee(call: ast.Call) -> str:
    """``Message``, ``InputError``, ``gr.Error``, ``say`` …: the last part, kept with ``gr.`` for Gradio's."""
    name = _dotted(call.func)
    last = name.rpartition(".")[2]
    return f"gr.{last}" if name.startswith(("gr.", "gradio.")) else last


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# --- (a) every key named exists, every key is used ----------------------------------------------------------


KEY_PREFIX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+[._]$")
"""The constant start of a key built at run time: ``"value.what."``, ``"eval.metric.edits_"``."""


def _prefix(node: ast.expr | None) -> tuple[str, str] | None:
    """``f"area.what.{name}"`` or ``"area.what." + name`` → (``"area.what."``, the variable's name or ``""``)."""
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        head, rest = _literal(node.values[0]) or "", node.values[1:]
        variable = rest[0].value if len(rest) == 1 and isinstance(rest[0], ast.FormattedValue) else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _literal(node.left) is not None:
        head, variable = _literal(node.left) or "", node.right
    else:
        return None
    return head, variable.id if isinstance(variable, ast.Name) else ""


def _literals(node: ast.expr | None) -> list[str]:
    """The strings ``node`` can only be: a literal, or either literal of ``"a" if … else "b"``."""
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    text = _literal(node)
    return [text] if text is not None else []


def _key_functions(module: Module) -> dict[str, str]:
    """Functions of ``module`` that only prefix their first argument to make a key (``def _refuse(what, **values):
    return ArchiveError(Message(f"archive.{what}", **values))``): name → prefix. Their calls with a literal
    (``_refuse("empty")``) name a key (``archive.empty``) as plainly as ``Message("archive.empty")`` does."""
    found = {}
    for node in ast.walk(module.tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.args.args:
            continue
        first = node.args.args[0].arg
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and _callee(call) == "Message" and call.args:
                prefix = _prefix(call.args[0])
                if prefix is not None and prefix[1] == first and prefix[0]:
                    found[node.name] = prefix[0]
    return found


def _built_keys(node: ast.AST, makers: set[str], english: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(prefix, line) of every key built at run time under ``node``, outside the key-making functions."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name in makers:
            continue  # its calls name the keys
        prefix = _prefix(child) if isinstance(child, ast.expr) else None
        if prefix is not None and KEY_PREFIX.match(prefix[0]) and any(k.startswith(prefix[0]) for k in english):
            yield prefix[0], getattr(child, "lineno", 0)
            continue
        yield from _built_keys(child, makers, english)


def _named_keys(modules: dict[str, Module]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Keys named literally → where: by ``Message("…")``/``say("…")``, or by a call of one of
    :func:`_key_functions` with a literal; and the prefixes of keys built at run time (an f-string or a sum that
    starts like a key, wherever it is) → where."""
    english = catalogue("en")
    literal: dict[str, list[str]] = {}
    dynamic: dict[str, list[str]] = {}
    own = {name: _key_functions(module) for name, module in modules.items()}
    for module in modules.values():
        makers = dict(own[module.name])
        for local, (source, name) in module.names.items():  # imported ones
            if name in own.get(source, {}):
                makers[local] = own[source][name]
        for _scope, call in _calls(module):
            callee = _callee(call)
            where = f"{module.name}:{call.lineno}"
            first = call.args[0] if call.args else None
            if callee in makers and first is not None:
                texts = _literals(first)
                for text in texts:
                    literal.setdefault(makers[callee] + text, []).append(where)
                if not texts:
                    dynamic.setdefault(makers[callee], []).append(where)
            elif callee in ("Message", "say"):
                for key in _literals(first):
                    if KEY.match(key):
                        literal.setdefault(key, []).append(where)

        for prefix, line in _built_keys(module.tree, set(own[module.name]), english):
            dynamic.setdefault(prefix, []).append(f"{module.name}:{line}")
    return literal, dynamic


def test_every_key_the_code_names_is_in_the_catalogue(modules: dict[str, Module]) -> None:
    literal, dynamic = _named_keys(modules)
    english = catalogue("en")
    assert literal, "no Message(…) found: the walk is broken"
    missing = {key: where for key, where in literal.items() if key not in english}
    assert missing == {}, "add them: python scripts/messages.py add KEY ENGLISH CHINESE"
    unexplained = {prefix: where for prefix, where in dynamic.items() if prefix not in DYNAMIC_KEYS}
    assert unexplained == {}, "a key built at run time: name it literally, or list its prefix in DYNAMIC_KEYS"
    assert set(DYNAMIC_KEYS) <= set(dynamic), "no longer built at run time: remove them from DYNAMIC_KEYS"
    for prefix in DYNAMIC_KEYS:
        assert any(key.startswith(prefix) for key in english), prefix


def test_every_key_in_the_catalogue_is_used(modules: dict[str, Module]) -> None:
    """Named literally (by ``Message``/``say``, a key-making function, or as a string a table hands to them), or
    built from a prefix of :data:`DYNAMIC_KEYS`; a key nothing uses is a sentence nobody maintains."""
    strings = {
        node.value
        for module in modules.values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    strings |= set(_named_keys(modules)[0])
    unused = [key for key in catalogue("en") if key not in strings and not key.startswith(tuple(DYNAMIC_KEYS))]
    assert unused == [], "remove them from every locale, or use them"


# --- (b) every locale has every key, with the same placeholders -----------------------------------------------


def test_every_locale_has_every_key_with_the_same_placeholders() -> None:
    english = catalogue("en")
    for locale in LOCALES[1:]:
        translated = catalogue(locale)
        assert set(translated) == set(english), locale
        for key, template in english.items():
            other = translated[key]
            assert KEY.match(key), key
            assert template.strip() and other.strip(), (locale, key)
            assert placeholders(template) == placeholders(other), (locale, key, other)
            if locale == ZH and re.search(r"[A-Za-z]{3}", re.sub(r"\{[a-z_]+\}", "", template)):
                assert HAN.search(other), (key, other)  # Chinese wherever there are words


def test_the_catalogue_files_are_as_the_script_writes_them() -> None:
    """Sorted keys, nothing but the known sections (``python scripts/messages.py`` writes them; people don't)."""
    for locale in LOCALES:
        data = json.loads((FOLDER / f"{locale}.json").read_text(encoding="utf-8"))
        assert set(data) <= {"messages", "page"}, locale
        assert list(data["messages"]) == sorted(data["messages"]), locale


def test_the_script_check_passes() -> None:
    import subprocess
    import sys

    script = PACKAGE.parent / "scripts" / "messages.py"
    done = subprocess.run([sys.executable, str(script), "check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# --- (c) no English sentence raised or shown as it is --------------------------------------------------------


def _user_facing_classes(modules: dict[str, Module]) -> set[str]:
    """:data:`USER_FACING_BASES` and every class ``mmdemo`` derives from them (by name)."""
    names = set(USER_FACING_BASES)
    classes = [node for m in modules.values() for node in ast.walk(m.tree) if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:
        grown = False
        for node in classes:
            bases = {b if b.startswith("gr.") else b.rpartition(".")[2] for b in map(_dotted, node.bases)}
            if node.name not in names and bases & names:
                names.add(node.name)
                grown = True
    return names - set(KEYED_BY_CLASS)


def _english(node: ast.expr | None, module: Module, modules: dict[str, Module], depth: int = 0) -> str | None:
    """How ``node`` is an English sentence written in the code (a literal, an f-string, a module constant, a
    sentence looked up by its English …), or None when it is not (a Message, a variable, ``err.message`` …)."""
    if node is None or depth > 3:
        return None
    text = _literal(node)
    if text is not None:
        return f"the literal {text[:60]!r}" if re.search(r"[A-Za-z]{2}", text) else None
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _english(node.left, module, modules, depth + 1) or _english(node.right, module, modules, depth + 1)
    if isinstance(node, ast.IfExp):
        return _english(node.body, module, modules, depth + 1) or _english(node.orelse, module, modules, depth + 1)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return _english(node.func.value, module, modules, depth + 1) and "a str.format()"
        if _is_english_lookup(node, module):
            return f"ui.i18n.{_callee(node)}() of English"
        return None
    if isinstance(node, ast.Name) and node.id in module.constants:
        found = _english(module.constants[node.id], module, modules, depth + 1)
        return found and f"the constant {node.id} ({found})"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        other = modules.get(module.imports.get(node.value.id, ""))
        if other is not None and node.attr in other.constants:
            found = _english(other.constants[node.attr], other, modules, depth + 1)
            return found and f"the constant {node.value.id}.{node.attr} ({found})"
    return None


def _is_english_lookup(call: ast.Call, module: Module) -> bool:
    """``say(…)``/``translate(…)`` of :mod:`mmdemo.ui.i18n` (imported by name, or as ``i18n.say``)."""
    name = _dotted(call.func)
    return name in module.english_lookups or name in {f"i18n.{n}" for n in ENGLISH_LOOKUPS}


def english_sentences(modules: dict[str, Module]) -> list[tuple[str, str, str]]:
    """(where, what is raised or shown, how it is English) for every user-facing sentence written in English."""
    classes = _user_facing_classes(modules)
    found = []
    for module in modules.values():
        if module.name.startswith("testing/") or module.name == "ui/i18n.py":
            continue  # the test kit; the regex translation itself (its removal is the lead's)
        facing = classes | PER_MODULE.get(module.name, set())
        for scope, call in _calls(module):
            callee = _callee(call)
            if {(module.name, scope, callee), (module.name, scope, "*"), (module.name, "*", "*")} & set(
                ALLOWED_ENGLISH
            ):
                continue
            arguments: list[ast.expr | None] = []
            if callee in facing:
                arguments = [_argument(call, 0, "message"), _argument(call, 99, "title")]
            elif callee in USER_ERROR_FUNCTIONS:
                arguments = [_argument(call, 0, "message"), _argument(call, 1, "title")]
            elif _is_english_lookup(call, module):
                arguments = [call]  # a sentence looked up by its English, wherever it goes
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "append" and call.args:
                if _dotted(call.func.value).rpartition(".")[2] in NOTE_LISTS:
                    arguments = [call.args[0]]
            for kw in call.keywords:
                if kw.arg in NOTE_LISTS and isinstance(kw.value, (ast.Tuple, ast.List)):
                    arguments += list(kw.value.elts)
            for argument in arguments:
                how = _english(argument, module, modules)
                if how:
                    found.append((f"{module.name}:{call.lineno}", callee, how))
    return found


def test_the_walk_finds_english_sentences_where_there_are_some(modules: dict[str, Module]) -> None:
    source = """
import gradio as gr
from mmdemo.errors import InputError
from mmdemo.ui.i18n import say
NO_IMAGE = "No image was provided: upload one."
class MyError(InputError): ...
def f(x):
    raise InputError("The file is empty.")
def g(x):
    raise MyError(f"{x} is too long.")
def h(x):
    raise InputError(NO_IMAGE)
def i(x):
    gr.Warning(say("No text found in this image."))
def j(x):
    raise gr.Error(Message("ocr.no_image"), title="Cannot do that")
def k(x):
    raise InputError(Message("ocr.no_image"))
def l(err):
    raise InputError(err.message)
def m(notes):
    notes.append(f"{len(notes)} frames were skipped.")
    return Result(notes=("The audio was empty.", Message("ocr.no_image")))
"""
    example = _parse("ui/example.py", source)
    found = [f for f in english_sentences({**modules, "ui/example.py": example}) if f[0].startswith("ui/example")]
    assert [(where.rpartition(":")[2], callee) for where, callee, _ in found] == [
        ("8", "InputError"),
        ("10", "MyError"),
        ("12", "InputError"),
        ("14", "gr.Warning"),
        ("14", "say"),
        ("16", "gr.Error"),
        ("22", "append"),
        ("23", "Result"),
    ]


NOT_YET_KEYED: set[str] = set()
"""Modules still being converted to keyed messages (issue 22): empty once every area is done."""


def test_no_user_facing_sentence_is_written_in_english(modules: dict[str, Module]) -> None:
    """``raise InputError("…")``, ``InputError(f"…")``, ``gr.Error(CONSTANT)``, ``gr.Warning(say("English"))``,
    ``translate(…)``: each one a sentence that a Chinese browser would get in English. Raise
    ``InputError(Message("area.what", …))`` instead (``python scripts/messages.py add``)."""
    found = english_sentences(modules)
    by_module: dict[str, list[str]] = {}
    for where, callee, how in found:
        by_module.setdefault(where.partition(":")[0], []).append(f"{where} {callee}: {how}")
    assert {m: lines for m, lines in by_module.items() if m not in NOT_YET_KEYED} == {}
    assert NOT_YET_KEYED <= set(by_module), "these are keyed now: remove them from NOT_YET_KEYED"


def test_the_allowed_english_is_still_there(modules: dict[str, Module]) -> None:
    """Each allowance names a call that exists (a renamed function would silently allow nothing)."""
    calls = {(m.name, scope, _callee(call)) for m in modules.values() for scope, call in _calls(m)}
    calls |= {(m, "*", "*") for m in modules}
    for allowed in ALLOWED_ENGLISH:
        assert allowed in calls, allowed


# --- (d) every page string has its Chinese ---------------------------------------------------------------------


def test_every_page_string_written_in_the_code_has_chinese(modules: dict[str, Module]) -> None:
    """``tr("…")``, ``tr_choices([("…", v)])`` and ``Page("…")`` literals (the page catalogue is keyed by the
    English): ``tr`` refuses unknown text only when it runs, ``Page`` falls back to English silently."""
    page = catalogue(ZH, "page")
    missing = []
    for module in modules.values():
        for _, call in _calls(module):
            callee = _callee(call)
            texts: list[str | None] = []
            if callee in ("tr", "Page"):
                texts = [_literal(call.args[0] if call.args else None)]
            elif callee == "tr_choices" and call.args and isinstance(call.args[0], (ast.List, ast.Tuple)):
                texts = [
                    _literal(item.elts[0])
                    for item in call.args[0].elts
                    if isinstance(item, (ast.List, ast.Tuple)) and item.elts
                ]
            missing += [(f"{module.name}:{call.lineno}", t) for t in texts if t is not None and t not in page]
    assert missing == [], "add them: python scripts/messages.py page ENGLISH CHINESE"


def test_every_declared_parameter_and_model_title_has_chinese() -> None:
    """What the page builds from declarations (labels, help lines, placeholders, choices) and what messages name
    by page text (the models' titles)."""
    import importlib
    import pkgutil

    import mmdemo.tasks
    from mmdemo.models.specs import SPECS
    from mmdemo.params import DECLARED, Choice, Text

    for info in pkgutil.iter_modules(mmdemo.tasks.__path__):
        importlib.import_module(f"mmdemo.tasks.{info.name}")
    page = catalogue(ZH, "page")
    texts = []
    for param in DECLARED:
        texts += [param.label, param.info]
        if isinstance(param, Text):
            texts.append(param.placeholder)
        if isinstance(param, Choice):
            texts += [label for label, _ in param.choices if not re.fullmatch(r"\d+ × \d+", label)]
    texts += [spec.title for spec in SPECS.values()]
    assert DECLARED
    assert [t for t in texts if t and t not in page] == []
    for english in page:
        assert page[english].strip() and placeholders(english) == placeholders(page[english]), english


def test_every_bold_span_renders_bold_in_every_locale() -> None:
    """``**…**`` closes only where CommonMark's flanking rules allow (as the browser's Markdown renders it): before
    a full-width colon a closing ``**`` followed by a Chinese character stays literal asterisks on the page."""
    from markdown_it import MarkdownIt  # gradio's dependency rich needs it: installed with the app

    def render(text: str) -> str:  # each placeholder filled with a word, as the app fills it
        return MarkdownIt("commonmark").render(re.sub(r"\{[a-z_]+\}", "word", text))

    literal = {
        (locale, key): text
        for locale in LOCALES
        for key, text in catalogue(locale).items()
        if "**" in text and "**" in render(text)
    }
    assert literal == {}
