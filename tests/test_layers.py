"""The import graph of ``mmdemo``, read from the source (every ``import`` statement, at module level and inside
functions): no module is in an import circle, and no import runs back up a layer (:data:`LAYERS`: the lower layers
— errors, settings, progress, model ids, the model layer — then media, tasks, evaluation, the UI, the entry
points, the test kit); in particular the lower layers never import from the tasks, UI, evaluation or command
line they serve."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mmdemo

PACKAGE = Path(mmdemo.__file__).parent
LOWER = (
    *("mmdemo.errors", "mmdemo.messages", "mmdemo.params", "mmdemo.settings", "mmdemo.zerogpu", "mmdemo.progress"),
    *("mmdemo.model_ids", "mmdemo.models"),
)
"""The lower layers: modules named so, or inside packages named so. They import only each other (never the
tasks, UI, evaluation, command line or test kit they serve)."""
LAYERS: tuple[tuple[str, ...], ...] = (
    (*LOWER, "mmdemo.runtime"),
    ("mmdemo.media", "mmdemo.runner"),
    ("mmdemo.tasks",),
    ("mmdemo.evaluation",),
    ("mmdemo.ui",),
    ("mmdemo.deploy", "mmdemo.launcher", "mmdemo.cli", "mmdemo.__main__", "mmdemo.serve", "mmdemo.ray_runner"),
    ("mmdemo.testing",),
)
"""Every module of ``mmdemo`` by layer, bottom up: a module imports from its own layer and the ones below only."""


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """The ``mmdemo`` modules ``module``'s file imports, wherever the statement is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # ``from .models import manager`` imports the submodule; ``from .x import name`` the module x.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import mmdemo.x.y`` of a name inside a module
                target = target.rpartition(".")[0]
            if target.startswith("mmdemo") and target != "mmdemo" and target != module:
                yield target


def import_graph() -> dict[str, set[str]]:
    names = _module_names()
    known = set(names)
    return {module: set(_imported(module, path, known)) for module, path in names.items()}


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_every_kind_of_import() -> None:
    graph = import_graph()
    assert "mmdemo.models.manager" in graph["mmdemo.tasks.captioning"]  # from ..models.manager import …
    assert "mmdemo.models.openvino" in graph["mmdemo.models.specs"]  # inside a function
    assert "mmdemo.errors" in graph["mmdemo.models.hub"]
    assert "mmdemo.models" not in graph["mmdemo.models.manager"]  # relative imports resolve to modules


def test_the_lower_layers_form_no_import_circle() -> None:
    tangled = [c for c in circles(import_graph()) if any(_in(m, LOWER) for m in c)]
    assert tangled == []


def test_the_lower_layers_never_import_from_above() -> None:
    graph = import_graph()
    upward = {(m, t) for m, targets in graph.items() if _in(m, LOWER) for t in targets if not _in(t, LOWER)}
    assert upward == set()


def test_errors_import_nothing_from_the_model_layer() -> None:
    assert not any(_in(t, ("mmdemo.models",)) for t in import_graph()["mmdemo.errors"])


def test_the_model_layer_is_in_parts_of_at_most_600_lines() -> None:
    long = {m: n for m, p in _module_names().items() if _in(m, LOWER) and (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def _layer(module: str) -> int:
    return next(i for i, prefixes in enumerate(LAYERS) if _in(module, prefixes))


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in import_graph() if m != "mmdemo" and not any(_in(m, layer) for layer in LAYERS)]
    assert unplaced == []


def test_no_module_is_in_an_import_circle() -> None:
    """Anywhere in ``mmdemo``: the UI, the tasks and the test kit too (two modules that need each other are one
    module in two files, or share something that belongs in a third)."""
    assert circles(import_graph()) == []


def test_no_import_runs_back_up_a_layer() -> None:
    graph = import_graph()
    upward = sorted((m, t) for m, targets in graph.items() if m != "mmdemo" for t in targets if _layer(t) > _layer(m))
    assert upward == []


def test_a_circle_and_an_upward_import_are_found() -> None:
    """The checks above see what they look for (a made-up graph)."""
    graph = {"mmdemo.a": {"mmdemo.b"}, "mmdemo.b": {"mmdemo.c"}, "mmdemo.c": {"mmdemo.a"}, "mmdemo.d": {"mmdemo.a"}}
    assert circles(graph) == [["mmdemo.a", "mmdemo.b", "mmdemo.c"]]
    assert _layer("mmdemo.media.image") < _layer("mmdemo.tasks.captioning") < _layer("mmdemo.ui.events")
    assert _layer("mmdemo.models.manager") == _layer("mmdemo.errors") < _layer("mmdemo.testing.tiny_kit")
