"""agilio-offload: the Kube-OVN "Offload with Corigine" runbook as one Pulumi stack.

The chain, in runbook order; each component depends on the one before it.
"""

import pulumi

from components.agilio_node import agilio_nodes_in_batches
from components.config import load_stack_config
from components.kube_ovn import KubeOvnOffload
from components.multus import Multus
from components.offload_nad import OffloadNAD
from components.sriov_device_plugin import SriovDevicePlugin

config, ssh_private_key = load_stack_config()

nodes = agilio_nodes_in_batches(config, ssh_private_key)
sriov = SriovDevicePlugin("sriov-device-plugin", pulumi.ResourceOptions(depends_on=nodes))
multus = Multus("multus", pulumi.ResourceOptions(depends_on=[sriov]))
nad = OffloadNAD("offload-nad", pulumi.ResourceOptions(depends_on=[multus]))
kube_ovn = KubeOvnOffload("kube-ovn", pulumi.ResourceOptions(depends_on=[nad]))

pulumi.export("sriovResource", config.sriov.resource)
pulumi.export("networkAttachment", f"{config.nad.namespace}/{config.nad.name}")
