"""OffloadNAD: the NetworkAttachmentDefinition offloaded pods attach to (runbook step 5).

Its `resourceName` annotation makes Multus pass the pod's VF (from the SR-IOV device plugin) to
every plugin of the CNI chain: `kube-ovn`, which then plugs the VF's representor into OVS with
offload, and `portmap` for hostPort mappings. The CNI config is built as data and serialised
with `json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.names import OFFLOAD_NAD_TYPE

RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
KUBE_OVN_SOCKET = "/run/openvswitch/kube-ovn-daemon.sock"
CNI_VERSION = "0.3.1"


@dataclass
class OffloadNADArgs:
    name: str
    namespace: str
    sriov_resource: str  # <prefix>/<name>, e.g. corigine.com/agilio_sriov


def kube_ovn_provider(name: str, namespace: str) -> str:
    """Kube-OVN's provider string for an attachment: `<name>.<namespace>.ovn`."""
    return f"{name}.{namespace}.ovn"


def cni_config(name: str, namespace: str) -> dict[str, Any]:
    return {
        "cniVersion": CNI_VERSION,
        "name": "kube-ovn",
        "plugins": [
            {
                "type": "kube-ovn",
                "server_socket": KUBE_OVN_SOCKET,
                "provider": kube_ovn_provider(name, namespace),
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


class OffloadNAD(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: OffloadNADArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(OFFLOAD_NAD_TYPE, name, None, opts)
        self.provider_name = kube_ovn_provider(args.name, args.namespace)
        self.attachment = k8s.apiextensions.CustomResource(
            f"{name}-attachment",
            api_version="k8s.cni.cncf.io/v1",
            kind="NetworkAttachmentDefinition",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.name,
                namespace=args.namespace,
                annotations={RESOURCE_NAME_ANNOTATION: args.sriov_resource},
            ),
            spec={"config": json.dumps(cni_config(args.name, args.namespace), indent=2)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.network = f"{args.namespace}/{args.name}"
        self.register_outputs({"network": self.network, "provider": self.provider_name})
