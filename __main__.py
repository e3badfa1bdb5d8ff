"""agilio-offload: the Kube-OVN "Offload with Corigine" runbook as one Pulumi stack.

The chain, in runbook order; each component depends on the one before it.
"""

import pulumi

from components import sdk_corrections
from components.agilio_node import agilio_nodes_in_batches
from components.cluster import kubernetes_provider
from components.config import load_stack_config
from components.kube_ovn import KubeOvnOffload, KubeOvnOffloadArgs
from components.multus import Multus, MultusArgs
from components.offload_nad import OffloadNAD, OffloadNADArgs
from components.outputs import export_stack_outputs, stack_outputs
from components.sriov_device_plugin import SriovDevicePlugin, SriovDevicePluginArgs

sdk_corrections.install()  # before any resource: the SDK's own check is quadratic in the rollout
config, ssh_private_key = load_stack_config()
provider = kubernetes_provider("kubernetes", config.kubernetes)


def on_cluster(after: list[pulumi.Resource]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers=[provider], depends_on=after)


nodes = agilio_nodes_in_batches(config, ssh_private_key)
sriov = SriovDevicePlugin(
    "sriov-device-plugin",
    SriovDevicePluginArgs(config.sriov, [node.node_name for node in nodes]),
    on_cluster(nodes),
)
multus = Multus("multus", MultusArgs(), on_cluster([sriov]))
nad = OffloadNAD(
    "offload-nad",
    OffloadNADArgs(config.nad.name, config.nad.namespace, config.sriov.resource),
    on_cluster([multus]),
)
kube_ovn = KubeOvnOffload(
    "kube-ovn",
    KubeOvnOffloadArgs(
        chart_version=config.kube_ovn.chart_version,
        interface=config.kube_ovn.iface,
        master_nodes=config.kube_ovn.master_nodes,
        tunnel_interfaces={node.name: node.uplink for node in config.resolved_nodes()},
        values=config.kube_ovn.values,
    ),
    on_cluster([nad]),
)

export_stack_outputs(stack_outputs(config, nodes))
