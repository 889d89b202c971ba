"""The shape of the code: no import cycles in handbook/, and no module over 400 lines outside tests/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.apply_cli import REPO

MAX_LINES = 400
# Modules other helpers are splitting right now. The lead empties this list once their work is merged;
# a module on it must still exist (so that the list cannot rot).
# Modules allowed over the limit while they are being split; empty since the validation package,
# the schema registry/build split and the local control plane package landed.
TOO_LONG_FOR_NOW: set[str] = set()


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, in functions too, but not under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the modules of the package that importing it runs.

    Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` when the importer is outside ``a.b``,
    so that edge is part of the graph; the top package's own ``__init__`` is left out.
    """
    root = package_dir.parent
    top = package_dir.name
    files = {_module_name(p, root): p for p in package_dir.rglob("*.py")}
    packages = {name for name, p in files.items() if p.name == "__init__.py"}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        here = name if name in packages else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)] if node.level else []
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:
                    targets.append(f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module)
            for target in targets:
                if target not in files or target == top:
                    continue
                graph[name].add(target)
                parts = target.split(".")
                for depth in range(2, len(parts)):
                    ancestor = ".".join(parts[:depth])
                    if not (name == ancestor or name.startswith(ancestor + ".")):
                        graph[name].add(ancestor)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_handbook_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(REPO / "handbook"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "pkg"


@pytest.mark.parametrize(("files", "cycle"), [
    ({"pkg/__init__.py": "", "pkg/a.py": "from .b import x\n", "pkg/b.py": "def f():\n    from . import a\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
    # Importing pkg.sub.m from outside runs pkg/sub/__init__.py, which imports pkg.a back.
    ({"pkg/__init__.py": "", "pkg/a.py": "from .sub.m import y\n", "pkg/sub/__init__.py": "from ..a import z\n",
      "pkg/sub/m.py": "y = 1\n"}, ["pkg.a", "pkg.sub", "pkg.a"]),
    ({"pkg/__init__.py": "", "pkg/a.py": "from pkg import b\n", "pkg/b.py": "import pkg.a\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
])
def test_the_cycle_finder_sees_cycles(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    assert find_cycle(import_graph(_write(tmp_path, files))) == cycle


def test_the_cycle_finder_ignores_what_is_no_cycle(tmp_path: Path) -> None:
    package = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\nimport json\n",
        "pkg/b.py": "from .a import x\n",
        # A package's __init__ importing its own submodules, which import each other one way.
        "pkg/sub/__init__.py": "from . import m, n\n", "pkg/sub/m.py": "from .n import y\n", "pkg/sub/n.py": "y = 1\n",
    })
    graph = import_graph(package)
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.a"] == set()
    assert find_cycle(graph) is None


def _sources() -> list[Path]:
    skip = {".venv", ".cache", ".tools", "site", "site-offline", "tests", "node_modules", ".git"}
    return sorted(p for p in REPO.rglob("*.py") if not skip & set(p.relative_to(REPO).parts))


def test_no_module_outside_tests_is_over_400_lines() -> None:
    long = {p.relative_to(REPO).as_posix(): n for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    unexpected = {path: n for path, n in long.items() if path not in TOO_LONG_FOR_NOW}
    assert not unexpected, f"modules over {MAX_LINES} lines; split them by job: {unexpected}"
    missing = sorted(path for path in TOO_LONG_FOR_NOW if not (REPO / path).exists())
    assert not missing, f"remove from TOO_LONG_FOR_NOW (no longer exists): {missing}"
