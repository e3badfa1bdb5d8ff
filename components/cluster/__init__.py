"""The cluster layer, in runbook order after the nodes: the Kubernetes provider, the cluster
preflight and its script, the SR-IOV device plugin, the VF registration check, Multus, the
offload NAD and Kube-OVN; plus the kubectl command lines (`kubectl`) and the kubectl scripts
(`kubectl_scripts/`) the node steps share.
"""

from components.cluster.kube_ovn import RELEASE_NAME, KubeOvnOffload, KubeOvnOffloadArgs
from components.cluster.multus import Multus, MultusArgs
from components.cluster.node_marks import NodeMarks, NodeMarksArgs
from components.cluster.offload_nad import OffloadNAD, OffloadNADArgs
from components.cluster.preflight import ClusterPreflight, ClusterPreflightArgs
from components.cluster.provider import adopting_provider, kubernetes_provider
from components.cluster.sriov_device_plugin import SriovDevicePlugin, SriovDevicePluginArgs
from components.cluster.vf_registration import VfRegistration, VfRegistrationArgs

__all__ = [
    "RELEASE_NAME",
    "ClusterPreflight",
    "ClusterPreflightArgs",
    "KubeOvnOffload",
    "KubeOvnOffloadArgs",
    "Multus",
    "MultusArgs",
    "NodeMarks",
    "NodeMarksArgs",
    "OffloadNAD",
    "OffloadNADArgs",
    "SriovDevicePlugin",
    "SriovDevicePluginArgs",
    "VfRegistration",
    "VfRegistrationArgs",
    "adopting_provider",
    "kubernetes_provider",
]
