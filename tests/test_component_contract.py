"""The component contract, read from the source: every `pulumi.ComponentResource` in
`components/` has a type token `agilio-offload:index:<Name>`, takes a typed `*Args` object, and
calls `register_outputs` exactly once, as the last statement of its `__init__`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPONENTS = Path(__file__).resolve().parents[1] / "components"


def component_classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for path in sorted(COMPONENTS.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base) == "pulumi.ComponentResource" for base in node.bases
            ):
                found.append((path, node))
    return found


def init_of(cls: ast.ClassDef) -> ast.FunctionDef:
    (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    return init


def test_the_components_are_found() -> None:
    names = {cls.name for _, cls in component_classes()}
    assert {"AgilioNode", "Preflight", "SriovDevicePlugin", "Multus", "OffloadNAD"} <= names


@pytest.mark.parametrize(
    ("path", "cls"), component_classes(), ids=lambda v: getattr(v, "name", str(v))
)
def test_register_outputs_is_called_once_and_last(path: Path, cls: ast.ClassDef) -> None:
    init = init_of(cls)
    calls = [
        n
        for n in ast.walk(init)
        if isinstance(n, ast.Call) and ast.unparse(n.func) == "self.register_outputs"
    ]
    where = f"{path.name}:{cls.name}"
    assert len(calls) == 1, f"{where}: register_outputs called {len(calls)} times"
    last = init.body[-1]
    assert isinstance(last, ast.Expr) and last.value is calls[0], (
        f"{where}: register_outputs is not the last statement of __init__"
    )


@pytest.mark.parametrize(
    ("path", "cls"), component_classes(), ids=lambda v: getattr(v, "name", str(v))
)
def test_each_component_takes_typed_args(path: Path, cls: ast.ClassDef) -> None:
    args = init_of(cls).args.args
    assert [a.arg for a in args[:3]] == ["self", "name", "args"], f"{path.name}:{cls.name}"
    annotation = ast.unparse(args[2].annotation) if args[2].annotation else ""
    assert annotation.endswith("Args"), f"{path.name}:{cls.name}: args is {annotation!r}"
