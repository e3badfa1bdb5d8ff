"""The layout of the code, read from its import statements: no import circle among the modules of
`components/` and `tools/`; the program never imports the tools or the tests; the config model
imports no other component package; `components/names.py` imports nothing. And every module
imports on its own, in a fresh interpreter, in any order."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("components", "tools")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((REPO / package).rglob("*.py"))
}


def _module_level(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node that runs when the module is imported: not the bodies of functions."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _imported(node: ast.AST) -> list[str]:
    """The module names an import statement names (`from a.b import c`: `a.b.c` when that is a
    module of the repository, else `a.b`)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [
            f"{node.module}.{alias.name}"
            if f"{node.module}.{alias.name}" in MODULES
            else node.module
            for alias in node.names
        ]
    return []


def imports_of(name: str, *, at_import_only: bool) -> set[str]:
    tree = ast.parse(MODULES[name].read_text())
    nodes = _module_level(tree) if at_import_only else ast.walk(tree)
    return {imported for node in nodes for imported in _imported(node)}


def internal(names: set[str]) -> set[str]:
    return {n for n in names if n.split(".")[0] in (*PACKAGES, "tests")}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or of one importing itself
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_module_is_found() -> None:
    assert {"components.names", "components.config.models", "components.node.agilio_node"} <= (
        set(MODULES)
    )
    assert "tools.plan" in MODULES


def test_no_import_circle() -> None:
    graph = {
        name: {i for i in internal(imports_of(name, at_import_only=True)) if i in MODULES}
        for name in MODULES
    }
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("components")])
def test_the_program_imports_neither_tools_nor_tests(name: str) -> None:
    imported = internal(imports_of(name, at_import_only=False))
    assert not {i for i in imported if i.split(".")[0] in ("tools", "tests")}, name


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("components.config")])
def test_the_config_imports_no_other_component_package(name: str) -> None:
    imported = internal(imports_of(name, at_import_only=False))
    allowed = {"components.names", "components.config"}
    assert {i for i in imported if not i.startswith("components.config.")} <= allowed, name


def test_names_import_nothing_but_the_standard_library() -> None:
    tree = ast.parse(MODULES["components.names"].read_text())
    assert {n for node in ast.walk(tree) for n in _imported(node)} <= {"__future__"}


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_every_module_imports_in_a_fresh_interpreter_in_any_order(seed: int | None) -> None:
    order = sorted(MODULES)
    if seed is not None:
        random.Random(seed).shuffle(order)
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *order],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"order {order}:\n{done.stderr}"


def test_no_merge_conflict_marker_is_committed() -> None:
    """A merge's conflict markers once reached the docs unseen: every tracked text file is free
    of them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    markers = (b"<<<<<<< ", b">>>>>>> ", b"=======\n")
    found = []
    for name in filter(None, listed):
        path = REPO / name.decode()
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_bytes().splitlines(keepends=True), 1):
            if line.startswith(markers[:2]) or line == markers[2]:
                found.append(f"{name.decode()}:{number}")
    assert not found, f"conflict markers: {found}"
