"""What the four Kubernetes components share: the provider, node labels and annotations.

One `kubernetes.Provider` from the stack config (kubeconfig path and/or context; neither means
the ambient kubeconfig of whoever runs `pulumi`) is passed to every Kubernetes resource, so the
stack never writes to a cluster it was not pointed at.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.config import KubernetesConfig

# Set on every Agilio node; the SR-IOV device plugin runs only where it is.
AGILIO_NODE_LABEL = "agilio-offload/agilio-cx"
AGILIO_NODE_LABEL_VALUE = "true"
# Kube-OVN's own label for the nodes that run ovn-central.
KUBE_OVN_MASTER_LABEL = "kube-ovn/role"
KUBE_OVN_MASTER_LABEL_VALUE = "master"
SYSTEM_NAMESPACE = "kube-system"
LINUX_NODES = {"kubernetes.io/os": "linux"}


def kubernetes_provider(name: str, config: KubernetesConfig) -> k8s.Provider:
    """The one provider every Kubernetes resource of the stack uses."""
    return k8s.Provider(
        name,
        kubeconfig=config.kubeconfig_path,
        context=config.context,
        # Node labels are NodePatch resources, which need server-side apply.
        enable_server_side_apply=True,
    )


def label_node(
    name: str, node: str, labels: Mapping[str, str], parent: pulumi.Resource
) -> k8s.core.v1.NodePatch:
    """Add `labels` to an existing Node; `pulumi destroy` takes them off again."""
    return _patch_node(
        name, k8s.meta.v1.ObjectMetaPatchArgs(name=node, labels=dict(labels)), parent
    )


def annotate_node(
    name: str, node: str, annotations: Mapping[str, str], parent: pulumi.Resource
) -> k8s.core.v1.NodePatch:
    """Add `annotations` to an existing Node; `pulumi destroy` takes them off again."""
    metadata = k8s.meta.v1.ObjectMetaPatchArgs(name=node, annotations=dict(annotations))
    return _patch_node(name, metadata, parent)


def _patch_node(
    name: str, metadata: k8s.meta.v1.ObjectMetaPatchArgs, parent: pulumi.Resource
) -> k8s.core.v1.NodePatch:
    return k8s.core.v1.NodePatch(
        name, metadata=metadata, opts=pulumi.ResourceOptions(parent=parent)
    )
