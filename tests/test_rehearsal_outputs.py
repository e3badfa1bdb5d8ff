"""The rehearsal's inputs taken from another step's output (tools/rehearsal/outputs.py): the
`drained` step gets the old token where the engine does not run the drain, and keeps the
placeholder (filled in when it runs) where it does."""

from __future__ import annotations

import dataclasses

from tests.support.engine_scenarios import resource
from tools.engine import Resource, as_resource, plan_engine
from tools.rehearsal.outputs import PLACEHOLDER, lease_of, resolve_before_diff, with_lease

OLD_TOKEN = "ab" * 16


def drained(token: str) -> str:
    return f"#!/usr/bin/env bash\nNODE=w1\nLEASE={token}\nACTION=apply\nrest\n"


def stack(drain: str, token: str) -> list[Resource]:
    return [
        as_resource(resource("w1-drain", "command:local:Command", inputs={"create": drain})),
        as_resource(
            resource("w1-drained", inputs={"create": drained(token)}, depends_on=("w1-drain",))
        ),
    ]


def test_lease_of_and_with_lease() -> None:
    inputs = {"create": drained(PLACEHOLDER)}
    assert lease_of(inputs) == PLACEHOLDER
    assert lease_of(with_lease(inputs, OLD_TOKEN)) == OLD_TOKEN
    assert "\nLEASE=''\n" in with_lease(inputs, "")["create"]
    assert lease_of(with_lease(inputs, "")) == ""
    assert lease_of({"create": "echo no lease"}) is None


def test_a_drain_that_does_not_run_keeps_the_old_token() -> None:
    old, new = stack("drain", OLD_TOKEN), stack("drain", PLACEHOLDER)
    resolved = resolve_before_diff(plan_engine(old, new), old, new)
    assert lease_of(resolved[1].inputs) == OLD_TOKEN
    assert plan_engine(old, resolved).decision("w1-drained").because.startswith("decided not")


def test_a_drain_that_runs_leaves_the_placeholder_for_the_executor() -> None:
    old = stack("drain", OLD_TOKEN)
    new = stack("drain v2", PLACEHOLDER)
    new[0] = dataclasses.replace(new[0], inputs={"create": "drain v2", "triggers": ["b"]})
    old[0] = dataclasses.replace(old[0], inputs={"create": "drain", "triggers": ["a"]})
    resolved = resolve_before_diff(plan_engine(old, new), old, new)
    assert lease_of(resolved[1].inputs) == PLACEHOLDER
    assert str(plan_engine(old, resolved).decision("w1-drained").op) == "update"
