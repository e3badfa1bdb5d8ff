"""Shared by the engine tests: resources as resources.json has them, and the stack changes of
issue 10 planned before and after (the real program under the mock engine)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from components.node import agilio_node as node_steps
from tools.engine.mock_driver import ORGANIZATION, EchoMocks, run_program, stack_config

PROJECT = "agilio-offload"
STACK_URN = f"urn:pulumi:dev::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-dev"
NODE_COUNT = 5


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::{PROJECT}::{type_}::{name}"


def resource(
    name: str,
    type_: str = "command:remote:Command",
    *,
    inputs: Mapping[str, Any] | None = None,
    depends_on: tuple[str, ...] = (),
    parent: str | None = None,
    provider: str | None = None,
    custom: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """One resource in resources.json form. `depends_on` and `parent` take URNs, or names of
    remote commands (the type most tests use)."""
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "parent": _urn(parent) if parent else None,
        "dependsOn": [_urn(n) for n in depends_on],
        "inputs": dict(inputs or {}),
        "custom": custom,
        "provider": provider,
        "options": dict(options),
    }


def _urn(name_or_urn: str) -> str:
    return (
        name_or_urn
        if name_or_urn.startswith("urn:")
        else urn("command:remote:Command", name_or_urn)
    )


def generated_nodes(count: int = NODE_COUNT, pf: str = "ens1np0") -> list[dict[str, Any]]:
    return [{"name": f"w{i}", "host": f"192.0.2.{10 + i}", "pf": pf} for i in range(1, count + 1)]


BASE = {"nodes": generated_nodes(), "rollout": {"maxUnavailable": 1, "drain": True}}


OWN_STACK = f"{ORGANIZATION}/agilio-offload/dev"


def run_of(overrides: Mapping[str, Any], last_outputs: Mapping[str, Any] | None = None) -> Any:
    """The dev stack with `overrides`, planned after an update that exported `last_outputs`
    (what the program's change guard reads through its StackReference to the stack)."""
    config, secret_keys = stack_config("dev", {**BASE, **overrides})
    mocks = EchoMocks({OWN_STACK: last_outputs} if last_outputs else None)
    run = run_program(config, stack="dev", secret_keys=secret_keys, mocks=mocks)
    if run.error is not None:
        raise run.error
    return run


def plan_of(
    overrides: Mapping[str, Any], last_outputs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """resources.json's content of `run_of`."""
    return [r.as_json() for r in run_of(overrides, last_outputs).resources]


@contextmanager
def changed_scripts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every node script one comment line longer: a script change as a code change makes it."""
    original = node_steps.render_script

    def render(step: str, params: Any) -> str:
        return original(step, params) + "\n# changed\n"

    monkeypatch.setattr(node_steps, "render_script", render)
    yield
    monkeypatch.setattr(node_steps, "render_script", original)


def scenario(
    name: str, monkeypatch: pytest.MonkeyPatch, *, guarded: bool = True
) -> tuple[list, list, int]:
    """(old resources, new resources, maxUnavailable) of one change of issue 10.

    `guarded`: the new plan runs after the old one's outputs, as `pulumi up` after the last
    update, so the program's change guard sees what changed (and may refuse: ChangeRefused).
    Unguarded shows what the engine would do with the registrations alone."""
    before = run_of({})
    old = [r.as_json() for r in before.resources]
    last = before.outputs if guarded else None
    if name == "drain off":
        return old, plan_of({"rollout": {"maxUnavailable": 1, "drain": False}}, last), 1
    if name == "destroy":
        return old, [], 1
    if name == "remove 3 nodes":
        kept = [n for n in generated_nodes() if n["name"] not in REMOVED]
        return old, plan_of({"nodes": kept}, last), 1
    if name == "pf change":
        nodes = generated_nodes()
        nodes[0]["pf"] = "ens2np0"
        return old, plan_of({"nodes": nodes}, last), 1
    if name == "script change":
        with changed_scripts(monkeypatch):
            return old, plan_of({}, last), 1
    raise KeyError(name)


REMOVED = ("w1", "w3", "w5")
SCENARIOS = ("drain off", "destroy", "remove 3 nodes", "pf change", "script change")
