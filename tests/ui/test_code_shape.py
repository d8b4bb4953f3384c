"""The shape of `ui/`, read from its source with `ast`: small functions that take a form whole
rather than long lists of inputs, no forwarding by `__getattr__`, and no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "ui"
MAX_PARAMETERS = 8
MAX_LINES = 120


def modules() -> dict[str, ast.Module]:
    """Every module of `ui/` by its dotted name."""
    found = {}
    for path in sorted(UI.rglob("*.py")):
        parts = path.relative_to(UI.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


def functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    return [
        (module, node)
        for module, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Parameters a caller can pass (`self` and `cls` not counted; `*args`, `**kwargs` one
    each)."""
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (args.vararg is not None) + (args.kwarg is not None)


def test_no_function_takes_more_than_eight_parameters():
    over = [
        f"{module}.{node.name} ({parameter_count(node)})"
        for module, node in functions()
        if parameter_count(node) > MAX_PARAMETERS
    ]
    assert over == []


def test_no_function_is_longer_than_120_lines():
    over = [
        f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module, node in functions()
        if node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert over == []


def test_nothing_forwards_by_getattr():
    forwarding = [
        f"{module}.__getattr__" for module, node in functions() if node.name == "__getattr__"
    ]
    assert forwarding == []


def imports_of(module: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The `ui` modules `module` imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known and name != module}


def test_no_import_circles_in_ui():
    trees = modules()
    graph = {name: imports_of(name, tree, set(trees)) for name, tree in trees.items()}
    circles = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_every_ui_package_is_in_a_non_editable_install():
    """A Space installs the project (`pip install .`): every folder of `ui/` with modules must
    be listed in pyproject's packages, and the page's static files in its package data."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((UI.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(path.parent.relative_to(UI.parent).parts)
        for path in UI.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert folders - listed == set()
    assert "static/*" in config["tool"]["setuptools"]["package-data"]["ui"]
