"""Our packages' import graphs, read from their source with `ast`: no circles, and the layers
point one way (ui -> prompts, engine, gallery; engine may use prompts' text helpers).

Every import counts, at module level or inside a function, absolute or relative; only those
under `if TYPE_CHECKING:` are left out, as they never run. `from pkg import name` is an edge to
the submodule `pkg.name` where there is one, else to `pkg` itself (its `__init__`). Importing a
submodule runs its parent package's `__init__` first, but that is no edge of the graph: a
package's `__init__` may re-export its modules as long as none of them imports the package
back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The packages known to be free of circles; add one once its circles are gone.
ACYCLIC = [
    "engine",
    "gallery",
    "prompts",
]

# What a package's modules may not import (top-level names), at any depth of the package.
FORBIDDEN = {
    "prompts": {"torch", "gradio", "engine", "gallery", "ui"},
    "engine": {"gradio", "gallery", "ui"},
    "gallery": {"torch", "gradio", "engine", "ui"},
}


def package_modules(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST):
    """Every Import/ImportFrom under `node`, skipping `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes(other)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in `source`, wherever it is;
    relative imports are resolved against `module`."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[str, list[str]]] = []
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        else:
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((target, [alias.name for alias in node.names]))
    return found


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of `package` -> the modules of `package` it imports."""
    modules = package_modules(package, root)

    def ours(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or None

    graph = {}
    for name, path in modules.items():
        edges: set[str | None] = set()
        source = path.read_text(encoding="utf-8")
        for target, names in imported_names(source, name, path.name == "__init__.py"):
            submodules = {f"{target}.{n}" for n in names if f"{target}.{n}" in modules}
            edges |= submodules
            if not names or len(submodules) < len(names):
                edges.add(ours(target))
        graph[name] = {edge for edge in edges if edge is not None and edge != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle as [a, b, ..., a], or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and (cycle := visit(nxt)):
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("package", ACYCLIC)
def test_a_package_has_no_import_circles(package):
    graph = import_graph(package)
    assert len(graph) > 3, graph  # the package was found and read
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_point_one_way(package):
    bad = []
    for name, path in package_modules(package).items():
        source = path.read_text(encoding="utf-8")
        for target, _ in imported_names(source, name, path.name == "__init__.py"):
            if target.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{name} imports {target}")
    assert not bad, bad


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source)


def test_circles_through_function_level_relative_and_package_imports_are_found(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "from pkg import b\nA = 1\n",
            "pkg/b.py": "def later():\n    from .sub import c\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from pkg import A\n",
        },
    )
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.a"] == {"pkg.b"}  # a submodule, not the package
    assert graph["pkg.b"] == {"pkg.sub.c"}  # inside a function, relative
    assert graph["pkg.sub.c"] == {"pkg"}  # a name from the package's __init__
    assert find_cycle(graph) == ["pkg", "pkg.a", "pkg.b", "pkg.sub.c", "pkg"]


def test_a_circle_of_plain_imports_is_found_and_typing_only_imports_are_not_edges(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b.c\n",
            "pkg/b/__init__.py": "",
            "pkg/b/c.py": "def later():\n    from ..d import run\n",
            "pkg/d.py": "import typing\nif typing.TYPE_CHECKING:\n    import pkg.a\nimport pkg.a\n",
            "pkg/e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
        },
    )
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.e"] == set()  # typing-only imports never run
    assert find_cycle(graph) == ["pkg.a", "pkg.b.c", "pkg.d", "pkg.a"]


def test_a_forbidden_import_anywhere_in_a_module_is_named(tmp_path):
    source = "import json\n\ndef later():\n    from torch import nn\n"
    names = [target for target, _ in imported_names(source, "prompts.x", False)]
    assert names == ["json", "torch"]
