"""The rollout: in which order the nodes change, and what every change waits for.

    every node's preflight + cluster checks + change guard ──> preflight-gate
    preflight-gate ──> node 1, node 2, ... node k             (k = rollout.maxUnavailable lanes)
    node i's first step (uncordon-after-undo, then drain) waits for node i-k's last (uncordon)

Node i joins lane i mod k: a lane is a chain of nodes, each starting as soon as the one before
it in the lane has finished, so at most k nodes are between drain and uncordon at any time and
no node waits for the slowest node of a batch (a rolling window, not barriers). A failed step
stops new work everywhere (the engine starts no new step after a failure).

`pulumi destroy` deletes dependents first: node i is undone before node i-k, one node per lane at
a time, so the bound holds in reverse too. A node leaves the config only once decommissioned
(`nodes[].decommission: true`: its undo runs at its place in its lane, as forward steps; the
change guard refuses any other removal), so its removal then runs no command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi

from components.config.models import StackConfig
from components.node.agilio_node import AgilioNode, AgilioNodeArgs, node_access
from components.node.change_guard import change_verdict
from components.node.preflight import Preflight, PreflightArgs
from components.waits import DEFAULT_WAITS, Waits


def lane_predecessor(index: int, lanes: int) -> int | None:
    """The node (by config index) that node `index` waits for, or None for a lane's first."""
    before = index - lanes
    return before if before >= 0 else None


def roll_out_nodes(
    config: StackConfig,
    private_key: pulumi.Input[str] | None,
    checks: Sequence[pulumi.Resource] = (),
    marks: Callable[[str, Sequence[pulumi.Resource]], Sequence[pulumi.Resource]] | None = None,
    waits: Waits = DEFAULT_WAITS,
) -> list[AgilioNode]:
    """Every Agilio node in config order, rolled out in `rollout.maxUnavailable` lanes after
    every node's preflight, the cluster `checks` and the change guard have passed.

    `marks(node, after)` makes what the node's VF registration wait needs on its Node (label,
    tunnel annotation), after `after` (the preflight gate): no node's rollout, so an added
    node's wait finds its own plugin pod."""
    access = node_access(config, private_key)
    resolved = config.resolved_nodes()
    preflight = Preflight(
        "preflight",
        PreflightArgs(
            nodes=resolved, access=access, checks=checks, verdicts=[change_verdict(config)]
        ),
    )
    lanes = config.rollout.max_unavailable
    nodes: list[AgilioNode] = []
    for index, node in enumerate(resolved):
        after: list[pulumi.Resource] = [preflight.gate]
        before = lane_predecessor(index, lanes)
        if before is not None:
            after.append(nodes[before].last_step)
        # A decommissioned node keeps none: its label goes (the device plugin leaves it) at
        # the end of the update that decommissions it.
        own_marks = marks(node.name, [preflight.gate]) if marks and not node.decommission else ()
        nodes.append(
            AgilioNode(
                node.name, AgilioNodeArgs(node, access, after=after, marks=own_marks, waits=waits)
            )
        )
    return nodes
