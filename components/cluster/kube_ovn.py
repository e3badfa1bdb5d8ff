"""KubeOvnOffload: Kube-OVN with OVS hardware offload (runbook step 6).

`kubeOvn.install: helm` (default): a `helm.v3.Release` of the pinned `kube-ovn-v2` chart from
Kube-OVN's official repository, with the runbook's install flags as chart values:

| runbook        | chart value                       | here  |
|----------------|-----------------------------------|-------|
| HW_OFFLOAD     | features.enableHardwareOffload    | true  |
| ENABLE_LB      | features.enableLoadbalancer       | false (the NIC cannot offload dp_hash/hash) |
| ENABLE_MIRROR  | agent.mirroring.enabled           | false |
| IFACE          | agent.interface                   | empty: each node's node-IP NIC; see below |
| MASTER_NODES   | masterNodes                       | kubeOvn.masterNodes' IPs |

`kubeOvn.install: existing`: no release; the Kube-OVN already running (e.g. from install.sh) is
kept, and the cluster preflight (preflight.py) checks it has these flags.

The runbook's IFACE is "the NIC with the node IP". Set cluster-wide, a NIC name that only Agilio
nodes have makes kube-ovn-cni exit on every other node (it finds no NIC matching `--iface`), so
IFACE stays empty (Kube-OVN's default: each node's node-IP NIC) and each Agilio node instead
gets Kube-OVN's node annotation `ovn.kubernetes.io/tunnel_interface` with its own uplink
(`nodes[].uplink`, default `kubeOvn.iface`), which overrides IFACE on that node: the tunnel runs
over the Agilio port whatever the other nodes' NICs are called.

`masterNodes` is set explicitly so the chart needs no cluster `lookup` to find the OVN
databases; with `helm` the master nodes also get Kube-OVN's `kube-ovn/role=master` label, which
its ovn-central pods select. `pulumi destroy` leaves the release, these labels and the tunnel
annotations in place (retained): the Kube-OVN it leaves running needs all of them. User
`values` merge in underneath (components/config/kube_ovn_values.py refuses any that would undo
offload).

Once Kube-OVN is up, Multus (when the stack installs either of them) is restarted so it writes
its config over Kube-OVN's, as install.sh does.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from components.cluster.kubectl import kubectl_command
from components.cluster.multus import restart_multus
from components.cluster.preflight import TUNNEL_FIELD_MANAGER
from components.cluster.provider import (
    KUBE_OVN_MASTER_LABEL,
    KUBE_OVN_MASTER_LABEL_VALUE,
    SYSTEM_NAMESPACE,
    annotate_node,
    label_node,
)
from components.config import pins
from components.config.models import KubernetesConfig, MasterNode
from components.names import KUBE_OVN_OFFLOAD_TYPE

RELEASE_NAME = "kube-ovn"
# Written on ovs-ovn when the stack lets go of its release (destroy, or install: existing): the
# cluster preflight then knows a release of that name runs that this stack no longer has.
RETAINED_RELEASE_ANNOTATION = "agilio-offload/retained-release"
TUNNEL_INTERFACE_ANNOTATION = "ovn.kubernetes.io/tunnel_interface"
# Installing or upgrading the CNI of a cluster takes a while: every node's agent restarts.
RELEASE_TIMEOUT_SECONDS = 900


@dataclass
class KubeOvnOffloadArgs:
    chart_version: str
    # The Agilio nodes' default uplink (kubeOvn.iface); never IFACE of the whole cluster.
    interface: str | None
    master_nodes: Sequence[MasterNode]
    # Agilio node name -> the NIC that carries its node IP (its tunnel interface).
    tunnel_interfaces: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    # "helm": install the release; "existing": keep the running Kube-OVN.
    install: str = "helm"
    # Restart Multus once Kube-OVN is up (the stack installs Multus or Kube-OVN).
    restart_multus: bool = True
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    namespace: str = SYSTEM_NAMESPACE
    # The tunnel-interface annotations when made elsewhere (NodeMarks, before each node's own
    # registration wait); None: this component annotates `tunnel_interfaces` itself.
    tunnel_annotations: Sequence[pulumi.Resource] | None = None


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
    """The release's values: the user's `values` with what offload requires merged over them."""
    required = {
        "namespace": args.namespace,
        "masterNodes": [master.ip for master in args.master_nodes],
        "features": {"enableHardwareOffload": True, "enableLoadbalancer": False},
        # Empty (the chart's default): every kube-ovn-cni takes its node-IP NIC; Agilio nodes
        # tunnel over their uplink through their annotation.
        "agent": {"interface": "", "mirroring": {"enabled": False}},
    }
    return deep_merge(args.values, required)


def values_hash(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


# The values that shape the CNI config Multus copies from Kube-OVN: kube-ovn-cni's install-cni
# container moves the image's conflist into the CNI config directory (charts/kube-ovn-v2
# templates/agent/agent-daemonset.yaml `install-cni`, cmd/daemon/cniserver.go `mvCNIConf`), so
# it follows the image and the `cni` settings, nothing else in the values.
CNI_CONFIG_VALUE_PATHS = (("global", "registry", "address"), ("global", "images"), ("cni",))


def cni_config_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the release's values that decides Kube-OVN's CNI config file."""
    picked: dict[str, Any] = {}
    for path in CNI_CONFIG_VALUE_PATHS:
        value: Any = values
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is not None:
            picked[".".join(path)] = value
    return picked


class KubeOvnOffload(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: KubeOvnOffloadArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(KUBE_OVN_OFFLOAD_TYPE, name, None, opts)
        helm = args.install == "helm"
        # install.sh labels its masters itself; the chart's ovn-central needs the label.
        # Retained (as every node patch): the retained release's ovn-central keeps selecting
        # these nodes.
        self.master_labels = [
            label_node(
                f"{master.name}-kube-ovn-master-label",
                master.name,
                {KUBE_OVN_MASTER_LABEL: KUBE_OVN_MASTER_LABEL_VALUE},
                self,
            )
            for master in (args.master_nodes if helm else ())
        ]
        self.tunnel_interfaces: list[pulumi.Resource] = list(args.tunnel_annotations or [])
        if args.tunnel_annotations is None:
            self.tunnel_interfaces = [
                annotate_node(
                    f"{node}-kube-ovn-tunnel-interface",
                    node,
                    {TUNNEL_INTERFACE_ANNOTATION: uplink},
                    self,
                    # Retained: kube-ovn-cni reads it at every start (else the wrong NIC).
                    field_manager=TUNNEL_FIELD_MANAGER,
                )
                for node, uplink in args.tunnel_interfaces.items()
            ]
        self.release: k8s.helm.v3.Release | None = None
        self.retained_marker: local.Command | None = None
        self.values: dict[str, Any] = {}
        ready: list[pulumi.Resource] = [*self.master_labels, *self.tunnel_interfaces]
        if helm:
            self.values = chart_values(args)
            self.release = self._release(name, args)
            self.retained_marker = self._retained_marker(name, args)
            ready = [self.release]
        self.multus_restart = None
        if args.restart_multus:
            self.multus_restart = restart_multus(
                f"{name}-multus-restart",
                args.kubernetes,
                # Again whenever Kube-OVN's CNI config may change: a new install, chart
                # version or image. Other values leave it as it is: no Multus pod restarts
                # cluster-wide for them. With `existing` the chart version installs nothing.
                triggers=[
                    args.install,
                    args.chart_version if helm else "",
                    values_hash(cni_config_values(self.values)),
                ],
                opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
            )
        self.register_outputs(
            {
                "install": args.install,
                "chartVersion": args.chart_version,
                "interface": args.interface,
            }
        )

    def _retained_marker(self, name: str, args: KubeOvnOffloadArgs) -> local.Command:
        """Does nothing when created; deleted (before the release is forgotten: it depends on
        it), it marks ovs-ovn with the release the stack leaves running. A later `up` with
        `install: helm` would otherwise fail at `helm install` (name in use), after the node
        steps: the cluster preflight finds the mark first and says how to adopt the release."""
        release = f"{args.namespace}/{RELEASE_NAME}"
        mark = kubectl_command(
            args.kubernetes,
            "annotate",
            "daemonset",
            "ovs-ovn",
            "--namespace",
            args.namespace,
            f"{RETAINED_RELEASE_ANNOTATION}={release}",
            "--overwrite",
        )
        return local.Command(
            f"{name}-release-retained-marker",
            create=shlex.join(["echo", f"agilio-offload: this stack manages release {release}"]),
            delete=mark,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )

    def _release(self, name: str, args: KubeOvnOffloadArgs) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
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
                # (README "Rolling back" says how to, and how a later `up` adopts it again).
                retain_on_delete=True,
            ),
        )
