"""KubeOvnOffload: Kube-OVN with OVS hardware offload, from its Helm chart (runbook step 6).

A `helm.v3.Release` of the pinned `kube-ovn-v2` chart from Kube-OVN's official repository, with
the runbook's install flags as chart values:

| runbook        | chart value                       | here  |
|----------------|-----------------------------------|-------|
| HW_OFFLOAD     | features.enableHardwareOffload    | true  |
| ENABLE_LB      | features.enableLoadbalancer       | false (the NIC cannot offload dp_hash/hash) |
| ENABLE_MIRROR  | agent.mirroring.enabled           | false (default; values may turn it on) |
| IFACE          | agent.interface                   | kubeOvn.iface |
| MASTER_NODES   | masterNodes                       | kubeOvn.masterNodes' IPs |

Each Agilio node also gets Kube-OVN's node annotation `ovn.kubernetes.io/tunnel_interface` with
its own uplink (`nodes[].uplink`, default `kubeOvn.iface`), which overrides IFACE on that node:
the tunnel runs over the Agilio port whatever the other NICs are called. (IFACE with several
names is one regular expression matched against the node's NICs in kernel order, not a list.)

`masterNodes` is set explicitly so the chart needs no cluster `lookup` to find the OVN
databases; the master nodes also get Kube-OVN's `kube-ovn/role=master` label, which its
ovn-central pods select. User `values` merge in underneath: they cannot undo offload or turn the
load balancer on.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.cluster import (
    KUBE_OVN_MASTER_LABEL,
    KUBE_OVN_MASTER_LABEL_VALUE,
    SYSTEM_NAMESPACE,
    annotate_node,
    label_node,
)
from components.config import MasterNode

TYPE = "agilio-offload:index:KubeOvnOffload"
RELEASE_NAME = "kube-ovn"
TUNNEL_INTERFACE_ANNOTATION = "ovn.kubernetes.io/tunnel_interface"
# Installing or upgrading the CNI of a cluster takes a while: every node's agent restarts.
RELEASE_TIMEOUT_SECONDS = 900


@dataclass
class KubeOvnOffloadArgs:
    chart_version: str
    interface: str
    master_nodes: Sequence[MasterNode]
    # Agilio node name -> the NIC that carries its node IP (its tunnel interface).
    tunnel_interfaces: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    namespace: str = SYSTEM_NAMESPACE


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` merged in: nested mappings merge, everything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def chart_values(args: KubeOvnOffloadArgs) -> dict[str, Any]:
    """The release's values: runbook defaults < the user's `values` < what offload requires."""
    defaults = {"agent": {"mirroring": {"enabled": False}}}
    required = {
        "namespace": args.namespace,
        "masterNodes": [master.ip for master in args.master_nodes],
        "features": {"enableHardwareOffload": True, "enableLoadbalancer": False},
        "agent": {"interface": args.interface},
    }
    return deep_merge(deep_merge(defaults, args.values), required)


class KubeOvnOffload(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubeOvnOffloadArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.master_labels = [
            label_node(
                f"{master.name}-kube-ovn-master-label",
                master.name,
                {KUBE_OVN_MASTER_LABEL: KUBE_OVN_MASTER_LABEL_VALUE},
                self,
            )
            for master in args.master_nodes
        ]
        self.tunnel_interfaces = [
            annotate_node(
                f"{node}-kube-ovn-tunnel-interface",
                node,
                {TUNNEL_INTERFACE_ANNOTATION: uplink},
                self,
            )
            for node, uplink in args.tunnel_interfaces.items()
        ]
        self.values = chart_values(args)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=pins.KUBE_OVN_CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pins.KUBE_OVN_HELM_REPO),
            namespace=args.namespace,
            values=self.values,
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*self.master_labels, *self.tunnel_interfaces],
                # Kube-OVN is the cluster's network: `pulumi destroy` must not uninstall it
                # (README "Rolling back" says how to, when that is really meant).
                retain_on_delete=True,
            ),
        )
        self.register_outputs({"chartVersion": args.chart_version, "interface": args.interface})
