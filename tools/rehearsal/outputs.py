"""Inputs that come from another step's output: the node's `drained` step carries the token its
drain step printed (components/node/lease.py).

Under the mock driver no step has run, so the program would see the drain's stdout as unknown
and `drained`'s whole command as "[unknown]". `LeaseMocks` answers a drain step with a stdout
holding `PLACEHOLDER` instead, so the command is the real text with `LEASE=<PLACEHOLDER>` in its
prelude; the executor puts the real token there (the one the drain printed in this run, or the
old one when the drain did not run), as pulumi does: the SDK registers `drained` only once the
drain's outputs are known, so the engine diffs it with the real token (pulumi
`pkg/resource/deploy/step_generator.go` generateSteps runs per registration).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks

from components.names import DRAINED_STEP, LOCAL_COMMAND, node_of_step
from components.node.lease import LEASE_PARAM
from tools.engine import EnginePlan, Op, Resource
from tools.engine.mock_driver import EchoMocks

# 32 hex digits, as the drain prints; /dev/urandom gives it with a chance of 2**-128.
PLACEHOLDER = "0" * 32
_PRELUDE_LINE = re.compile(rf"^{LEASE_PARAM}=(?:([0-9a-f]{{32}})|'')$", re.MULTILINE)


class LeaseMocks(EchoMocks):
    """EchoMocks whose drain steps print the placeholder lease line."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        urn, outputs = super().new_resource(args)
        node = node_of_step(args.name, "drain")
        if args.typ == LOCAL_COMMAND and node is not None:
            outputs["stdout"] = f"agilio-offload: {node} drain lease {PLACEHOLDER}"
        return urn, outputs


def lease_of(inputs: Mapping[str, Any]) -> str | None:
    """The token in a command's `LEASE=` prelude line (None: the command has none)."""
    match = _PRELUDE_LINE.search(str(inputs.get("create") or ""))
    if match is None:
        return None
    return match.group(1) or ""


def with_lease(inputs: Mapping[str, Any], token: str) -> dict[str, Any]:
    """`inputs` with the token of the `LEASE=` prelude line replaced by `token`."""
    create = _PRELUDE_LINE.sub(
        f"{LEASE_PARAM}={token}" if token else f"{LEASE_PARAM}=''", str(inputs["create"])
    )
    return {**inputs, "create": create}


def resolve_before_diff(
    plan: EnginePlan, old: Sequence[Resource], new: Sequence[Resource]
) -> list[Resource]:
    """`new` with the placeholder lease replaced by the old token wherever the engine will not
    run the node's drain create (the drain is "same", also when left out by --target, or is
    updated: its update prints its previous lease line again, from PULUMI_COMMAND_STDOUT, which
    the executor does not model: the state keeps no stdout), so `drained` is diffed against its
    old inputs with the token it will really get. Where the drain is created or replaced the
    placeholder stays: the token is new, and the executor puts it in when the step runs."""
    old_by_urn = {r.urn: r for r in old}
    drains = {d.name: d.op for d in plan.decisions}
    resolved = []
    for resource in new:
        before = old_by_urn.get(resource.urn)
        node = node_of_step(resource.name, DRAINED_STEP)
        kept = node is not None and drains.get(f"{node}-drain") in (Op.SAME, Op.UPDATE)
        if before is not None and kept and lease_of(resource.inputs) == PLACEHOLDER:
            token = lease_of(before.inputs) or ""
            resource = dataclasses.replace(resource, inputs=with_lease(resource.inputs, token))
        resolved.append(resource)
    return resolved
