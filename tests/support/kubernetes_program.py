"""The program under Pulumi mocks, for the Kubernetes-layer tests: runs cached by config."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tools.engine.mock_driver import ProgramRun, Registration, run_stack

NODE_PATCH = "kubernetes:core/v1:NodePatch"
PROVIDER = "pulumi:providers:kubernetes"


@cache
def _run(stack: str, overrides_json: str) -> ProgramRun:
    result = run_stack(stack, json.loads(overrides_json))
    assert result.error is None, result.error
    return result


def run(overrides: dict[str, Any] | None = None, stack: str = "dev") -> ProgramRun:
    """`stack` with `overrides` (keys as in the stack file, without the namespace)."""
    return _run(stack, json.dumps({f"agilio-offload:{k}": v for k, v in (overrides or {}).items()}))


def run_error(overrides: dict[str, Any], stack: str = "dev") -> BaseException | None:
    """The error of `stack` with `overrides` (None when it ran)."""
    return run_stack(stack, {f"agilio-offload:{k}": v for k, v in overrides.items()}).error


def named(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return run(overrides).by_name(name).inputs


def kube_ovn_values(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return named("kube-ovn-release", overrides)["values"]


def dev_kube_ovn(**changes: Any) -> dict[str, Any]:
    return {
        "iface": "ens1np0",
        "masterNodes": [{"name": "lab-control-1", "ip": "192.0.2.10"}],
        **changes,
    }


def children_of(result: ProgramRun, component: str) -> set[str]:
    urn = result.by_name(component).urn
    return {r.urn for r in result.resources if r.parent == urn}


def depends_on_transitively(result: ProgramRun, resource: Registration) -> set[str]:
    """Every URN `resource` waits for, directly or through what it waits for (and parents'
    dependencies, which the engine also waits for)."""
    by_urn = result.by_urn()
    seen: set[str] = set()
    todo = list(resource.depends_on)
    parent = resource.parent
    while parent in by_urn:
        todo += by_urn[parent].depends_on
        parent = by_urn[parent].parent
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        todo += by_urn[urn].depends_on
        parent = by_urn[urn].parent
        while parent in by_urn:
            todo += by_urn[parent].depends_on
            parent = by_urn[parent].parent
    return seen
