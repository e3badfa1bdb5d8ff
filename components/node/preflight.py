"""Preflight: every node's read-only checks and the gate that holds back every change.

Each node's `<node>-preflight` step (scripts/preflight.sh) checks the node without changing
it. The `preflight-gate` waits for all of them, for the cluster-level checks passed in, and for
the change guard's verdicts (change_guard.py): a node that fails its checks, a
cluster that is not ready, or a change the rollout cannot make safely stops the update before
any hardware step anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import local, remote

from components.config.models import ResolvedNode
from components.names import GATE_NAME, PREFLIGHT_STEP, PREFLIGHT_TYPE
from components.node.agilio_node import NodeAccess, NodeStepFactory, echo_command

MIN_KERNEL = "5.7"


@dataclass
class PreflightArgs:
    nodes: Sequence[ResolvedNode]
    access: NodeAccess
    # Cluster-level checks that must pass before any node changes.
    checks: Sequence[pulumi.Resource] = ()
    # Verdicts on the change as a whole; an Output that fails stops the gate.
    verdicts: Sequence[pulumi.Output[str]] = field(default_factory=list)


class Preflight(pulumi.ComponentResource):
    """Every node's preflight step and the gate after them."""

    node_checks: dict[str, remote.Command]
    gate: local.Command

    def __init__(
        self, name: str, args: PreflightArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(PREFLIGHT_TYPE, name, None, opts)
        self.node_checks = {node.name: self._node_check(node, args.access) for node in args.nodes}
        self.gate = local.Command(
            GATE_NAME,
            create=pulumi.Output.all(*args.verdicts).apply(self._gate_message),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*self.node_checks.values(), *args.checks]
            ),
        )
        self.register_outputs({"nodes": sorted(self.node_checks), "gate": self.gate.id})

    def _node_check(self, node: ResolvedNode, access: NodeAccess) -> remote.Command:
        steps = NodeStepFactory(node, access, parent=self)
        sriov = access.sriov
        params = {
            "MIN_KERNEL": MIN_KERNEL,
            "VFS": node.vfs,
            # What the device plugin will look for: the card's VFs must match (issue 14).
            "VENDORS": " ".join(sriov.vendors),
            "DEVICES": " ".join(sriov.devices),
            "DRIVERS": " ".join(sriov.drivers),
        }
        return steps.remote_step(PREFLIGHT_STEP, steps.commands(PREFLIGHT_STEP, params, undo=False))

    @staticmethod
    def _gate_message(verdicts: list[str]) -> str:
        return echo_command("; ".join(["every node passed its preflight checks", *verdicts]))
