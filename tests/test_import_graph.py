"""No import circles inside our packages, read from their source with `ast`.

Every import counts, at module level or inside a function, absolute or relative.
`from pkg import name` is an edge to the submodule `pkg.name` where there is one, else to
`pkg` itself (its `__init__`). Importing a submodule runs its parent package's `__init__`
first, but that is no edge of the graph: a package's `__init__` may re-export its modules
as long as none of them imports the package back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The packages known to be free of circles; add one once its circles are gone.
ACYCLIC = ["gallery", "prompts"]


def package_modules(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in `source`, wherever it is;
    relative imports are resolved against `module`."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
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


def test_circles_through_function_level_relative_and_package_imports_are_found(tmp_path):
    files = {
        "pkg/__init__.py": "from pkg.a import A\n",
        "pkg/a.py": "from pkg import b\nA = 1\n",
        "pkg/b.py": "def later():\n    from .sub import c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "from pkg import A\n",
    }
    for relative, source in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(source)
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.a"] == {"pkg.b"}  # a submodule, not the package
    assert graph["pkg.b"] == {"pkg.sub.c"}  # inside a function, relative
    assert graph["pkg.sub.c"] == {"pkg"}  # a name from the package's __init__
    assert find_cycle(graph) == ["pkg", "pkg.a", "pkg.b", "pkg.sub.c", "pkg"]
