"""agilio-offload: the Kube-OVN "Offload with Corigine" runbook as one Pulumi stack.

The chain, in runbook order; each component depends on the one before it. The cluster
preflight runs first: every node's first change waits for it.
"""

from collections.abc import Sequence

import pulumi

from components.cluster import (
    RELEASE_NAME,
    ClusterPreflight,
    ClusterPreflightArgs,
    KubeOvnOffload,
    KubeOvnOffloadArgs,
    Multus,
    MultusArgs,
    NodeMarks,
    NodeMarksArgs,
    OffloadNAD,
    OffloadNADArgs,
    SriovDevicePlugin,
    SriovDevicePluginArgs,
    VfRegistration,
    VfRegistrationArgs,
    adopting_provider,
    kubernetes_provider,
)
from components.config import load_stack_config
from components.node import roll_out_nodes
from components.outputs import export_stack_outputs, stack_outputs
from components.sdk_fixes import gc_tuning, sdk_corrections
from components.waits import current_waits

sdk_corrections.install()  # before any resource: the SDK's own check is quadratic in the rollout
gc_tuning.tune()
config, ssh_private_key = load_stack_config()
waits = current_waits()
provider = kubernetes_provider("kubernetes", config.kubernetes)
# The nodes that keep the offload: a decommissioned node keeps no label, annotation or VFs.
serving = [node for node in config.resolved_nodes() if not node.decommission]
tunnel_interfaces = {node.name: node.uplink for node in serving}
multus_installed = config.multus.install == "stack"


def on_cluster(after: list[pulumi.Resource]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers=[provider], depends_on=after)


cluster_preflight = ClusterPreflight(
    "cluster-preflight",
    ClusterPreflightArgs(
        # Only nodes that get patches must exist (a patch of a missing Node creates it); a
        # decommissioned node gets none, and may be one whose Node was deleted by hand.
        nodes=[node.name for node in serving],
        master_nodes=[master.name for master in config.kube_ovn.master_nodes],
        tunnel_interfaces=tunnel_interfaces,
        kube_ovn_install=config.kube_ovn.install,
        multus_install=config.multus.install,
        release=RELEASE_NAME,
        kubernetes=config.kubernetes,
        nad_name=config.nad.name,
        nad_namespace=config.nad.namespace,
    ),
)
marks: dict[str, NodeMarks] = {}


def node_marks(node: str, after: Sequence[pulumi.Resource]) -> list[pulumi.Resource]:
    """The node's label and tunnel annotation, before its own VF registration wait (not under
    the components that wait for every node: an added node would wait for itself)."""
    marks[node] = NodeMarks(
        f"{node}-marks",
        NodeMarksArgs(node, tunnel_interfaces.get(node), config.kubernetes),
        on_cluster(list(after)),
    )
    return marks[node].before_registration


nodes = roll_out_nodes(
    config, ssh_private_key, checks=[cluster_preflight.check], marks=node_marks, waits=waits
)
sriov = SriovDevicePlugin(
    "sriov-device-plugin",
    SriovDevicePluginArgs(
        config.sriov,
        [node.node_name for node in nodes],
        node_labels=[mark.label for mark in marks.values()],
    ),
    on_cluster(nodes),
)
# The registration check of the first rollout: each node's own wait found no plugin yet.
vfs_advertised = VfRegistration(
    "vfs-advertised",
    VfRegistrationArgs(
        {node.name: node.vfs for node in serving}, config.sriov, config.kubernetes, waits
    ),
    pulumi.ResourceOptions(depends_on=[sriov]),
)
before_nad: pulumi.Resource = sriov
if multus_installed:
    crd_provider = adopting_provider("kubernetes-adopt", config.kubernetes)
    before_nad = Multus("multus", MultusArgs(crd_provider=crd_provider), on_cluster([sriov]))
nad = OffloadNAD(
    "offload-nad",
    OffloadNADArgs(config.nad.name, config.nad.namespace, config.sriov.resource),
    on_cluster([before_nad]),
)
kube_ovn = KubeOvnOffload(
    "kube-ovn",
    KubeOvnOffloadArgs(
        chart_version=config.kube_ovn.chart_version,
        interface=config.kube_ovn.iface,
        master_nodes=config.kube_ovn.master_nodes,
        tunnel_interfaces=tunnel_interfaces,
        values=config.kube_ovn.values,
        install=config.kube_ovn.install,
        restart_multus=multus_installed,
        kubernetes=config.kubernetes,
        tunnel_annotations=[
            mark.tunnel_interface for mark in marks.values() if mark.tunnel_interface is not None
        ],
    ),
    on_cluster([nad]),
)

export_stack_outputs(stack_outputs(config, nodes))
