"""The change guard: refuses, before any node changes, the changes the engine cannot roll out
within `rollout.maxUnavailable`.

The Pulumi engine deletes the resources that vanished from the program after the program has run,
scheduling each delete only after the deletes of the vanished resources that depend on it (pulumi
`pkg/resource/deploy/step_generator.go` `ScheduleDeletes`): removed nodes that do not depend on
one another are undone (drained, VFs removed, driver reloaded) all at once, whatever the rollout
says. And a PF change replaces each hardware step delete-first, one step at a time
(delete-before-replace), so the old PF's undo interleaves with the new PF's apply.

The guard reads what the stack's last update exported (its own `nodes` output, through a
StackReference to itself: the engine's builtin provider answers it from the backend's latest
snapshot, `pkg/resource/deploy/builtins.go` `readStackReference` -> `GetStackOutputs`, and a
stack with no update yet has no outputs) and compares it with the config:
- a node leaves `nodes` only when the last outputs mark it decommissioned (`nodes[i].decommission:
  true` and a `pulumi up` that finished it: its mark waits for its last step). Its steps' deletes
  are then inert, so the delete waves cannot take it out whatever they are. Counting removals
  was not enough: after a failed delete phase the outputs (registered when the program ended,
  kept by the engine, `step_executor.go` `executeRegisterResourceOutputs`) already lack the node
  whose undo did not finish, and its remaining undo ran beside the next removal's;
- a node whose PF changed in place: refused unless it was decommissioned (its old steps'
  deletes are inert; the new PF is a fresh apply in the node's lane). Else: decommission it
  (`pulumi up`), then set the new PF with `decommission: false` (`pulumi up`).
Its verdict is an input of the preflight gate: a refusal fails the gate, so no node step changes
anything, and a failed program run makes the engine delete nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.config.models import StackConfig
from components.names import DECOMMISSIONED_FACT

NODES_OUTPUT = "nodes"


class ChangeRefused(pulumi.RunError):
    """A change the rollout cannot make safely: every reason, one per line, with the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"change refused before any node was touched:\n{lines}")


def was_decommissioned(facts: object) -> bool:
    """The last outputs' mark of a node whose decommission finished (components/outputs.py)."""
    return isinstance(facts, Mapping) and facts.get(DECOMMISSIONED_FACT) is True


def change_problems(config: StackConfig, previous_nodes: Mapping[str, object] | None) -> list[str]:
    """What is wrong with going from the last update's `nodes` output to `config`."""
    if not previous_nodes:
        return []  # the first update, or a stack that exported no nodes yet
    current = {node.name for node in config.nodes}
    problems = []
    for name in sorted(set(previous_nodes) - current):
        if not was_decommissioned(previous_nodes[name]):
            problems.append(
                f"agilio-offload:nodes: node {name} leaves the config without a finished "
                f"decommission: its undo (drain, VFs off, driver reload) would run in the "
                f"engine's delete waves, beside any other removal's, outside "
                f"rollout.maxUnavailable. Put it back, set its decommission: true, `pulumi up` "
                f"(its undo runs in its lane), then remove it and `pulumi up` again."
            )
    for index, node in enumerate(config.nodes):
        before = previous_nodes.get(node.name)
        old_pf = before.get("pf") if isinstance(before, Mapping) else None
        if isinstance(old_pf, str) and old_pf != node.pf and not was_decommissioned(before):
            problems.append(
                f"agilio-offload:nodes[{index}].pf: node {node.name}'s PF changes from {old_pf} "
                f"to {node.pf} in place, which would interleave the old PF's undo with the new "
                f"PF's apply. Keep pf {old_pf}, set nodes[{index}].decommission: true and "
                f"`pulumi up` (undoes {old_pf}), then set pf {node.pf} with decommission: false "
                f"and `pulumi up` again."
            )
    return problems


def _verdict(config: StackConfig, previous_nodes: object) -> str:
    problems = change_problems(
        config, previous_nodes if isinstance(previous_nodes, Mapping) else None
    )
    if problems:
        raise ChangeRefused(problems)
    return "the change guard found nothing to refuse"


def own_stack_name() -> str:
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


def change_verdict(config: StackConfig) -> pulumi.Output[str]:
    """The guard's verdict: a message, or a failed Output (ChangeRefused) that stops the gate."""
    last_update = pulumi.StackReference(own_stack_name())
    return last_update.get_output(NODES_OUTPUT).apply(lambda previous: _verdict(config, previous))
