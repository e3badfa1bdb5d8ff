"""The stack outputs contract (DESIGN.md), which other stacks read with `StackReference`.

Nothing secret goes into an output: the SSH key only ever reaches the node connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.config.models import StackConfig
from components.node.agilio_node import AgilioNode
from components.offloaded_pod import DEFAULT_NETWORK_ANNOTATION


def network_attachment(config: StackConfig) -> str:
    # Multus reads a bare name as kube-system/<name>: always write the namespace.
    return f"{config.nad.namespace}/{config.nad.name}"


def pod_annotations(config: StackConfig) -> dict[str, str]:
    return {DEFAULT_NETWORK_ANNOTATION: network_attachment(config)}


def pod_resources(config: StackConfig) -> dict[str, dict[str, str]]:
    """One VF per pod, requested and limited (extended resources need both equal)."""
    one_vf = {config.sriov.resource: "1"}
    return {"requests": dict(one_vf), "limits": dict(one_vf)}


def kube_ovn_summary(config: StackConfig) -> dict[str, Any]:
    return {
        "chartVersion": config.kube_ovn.chart_version,
        "hwOffload": True,
        "enableLb": False,
        "iface": config.kube_ovn.iface,
    }


def stack_outputs(config: StackConfig, nodes: Sequence[AgilioNode]) -> dict[str, Any]:
    """Every output of the contract; `nodes` carries each node's facts from its steps' JSON."""
    return {
        "sriovResource": config.sriov.resource,
        "networkAttachment": network_attachment(config),
        "podAnnotations": pod_annotations(config),
        "podResources": pod_resources(config),
        "nodes": {node.node_name: node.facts for node in nodes},
        "kubeOvn": kube_ovn_summary(config),
    }


def export_stack_outputs(outputs: dict[str, Any]) -> None:
    for name, value in outputs.items():
        pulumi.export(name, value)
