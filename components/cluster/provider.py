"""What the Kubernetes components share: the providers, node labels and annotations.

One `kubernetes.Provider` from the stack config (kubeconfig path and/or context; neither means
the ambient kubeconfig of whoever runs `pulumi`) is passed to every Kubernetes resource, so the
stack never writes to a cluster it was not pointed at. A second provider to the same cluster,
with `upsertExistingObjects`, serves only the objects `pulumi destroy` leaves behind (the NAD
CRD), so the next `up` adopts them instead of failing with AlreadyExists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
from pulumi_command import local

from components.cluster.kubectl import if_node_exists, kubectl_command
from components.config.models import KubernetesConfig

# Kube-OVN's own label for the nodes that run ovn-central.
KUBE_OVN_MASTER_LABEL = "kube-ovn/role"
KUBE_OVN_MASTER_LABEL_VALUE = "master"
SYSTEM_NAMESPACE = "kube-system"
LINUX_NODES = {"kubernetes.io/os": "linux"}


# pulumi-kubernetes annotations (provider/pkg/metadata/annotations.go): `patchForce` makes a
# server-side apply win field conflicts (await.go `patchForce`), `patchFieldManager` names the
# field manager (provider.go `fieldManagerName`), `skipAwait` skips the readiness wait.
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"


def _pinned_inputs(config: KubernetesConfig, *, upsert: bool) -> dict[str, object]:
    """Every provider input, none left for the SDK to read from the environment.

    pulumi_kubernetes 4.34.2 `provider.py` `Provider._internal_init` fills each input left at
    None from the environment of whoever runs `pulumi` (`kubeconfig` from $KUBECONFIG,
    `enable_patch_force` from PULUMI_K8S_ENABLE_PATCH_FORCE, ...) and stores it in the state;
    `up` from CI or a second laptop would then diff the provider (DiffConfig) and replace every
    Kubernetes resource. So each is set here. Without `kubernetes.kubeconfigPath` the input is
    "" (unset for the provider's Configure, which then loads client-go's default rules at run
    time, as every kubectl step does), never the value of $KUBECONFIG.
    """
    return {
        "kubeconfig": config.kubeconfig_path or "",
        "context": config.context,
        # Node labels are NodePatch resources, which need server-side apply.
        "enable_server_side_apply": True,
        "upsert_existing_objects": upsert,
        "enable_patch_force": False,
        "delete_unreachable": False,
        "skip_update_unreachable": False,
        "enable_config_map_mutable": False,
        "enable_secret_mutable": False,
        "suppress_deprecation_warnings": False,
        "suppress_helm_hook_warnings": False,
    }


def kubernetes_provider(name: str, config: KubernetesConfig) -> k8s.Provider:
    """The one provider every Kubernetes resource of the stack uses (retained ones aside)."""
    return k8s.Provider(name, **_pinned_inputs(config, upsert=False))  # type: ignore[arg-type]


def adopting_provider(name: str, config: KubernetesConfig) -> k8s.Provider:
    """The same cluster, for the objects `pulumi destroy` retains: creating one that exists
    updates it (server-side apply) instead of failing.

    Since pulumi-kubernetes 4.29 a create is a client-side create that returns AlreadyExists
    for an existing object (await.go `Creation`: SSA patch only with `UpsertExistingObjects` or
    for Patch resources); a retained CRD is still there after `destroy`, so the next `up` would
    stop there. Only retained objects use this provider, so nothing else is ever adopted.
    """
    return k8s.Provider(name, **_pinned_inputs(config, upsert=True))  # type: ignore[arg-type]


def label_node(
    name: str, node: str, labels: Mapping[str, str], parent: pulumi.Resource
) -> k8s.core.v1.NodePatch:
    """Add `labels` to an existing Node. They stay when the patch leaves the stack (see
    `_patch_node`); `node_fields_cleanup` takes them off where they must go."""
    metadata = k8s.meta.v1.ObjectMetaPatchArgs(name=node, labels=dict(labels))
    return _patch_node(name, metadata, parent)


def annotate_node(
    name: str,
    node: str,
    annotations: Mapping[str, str],
    parent: pulumi.Resource,
    *,
    field_manager: str | None = None,
) -> k8s.core.v1.NodePatch:
    """Add `annotations` to an existing Node; they stay as labels do (`label_node`).
    `field_manager` names who owns them on the Node (the cluster preflight looks for it to
    tell this stack's value from someone else's)."""
    metadata = k8s.meta.v1.ObjectMetaPatchArgs(name=node, annotations=dict(annotations))
    return _patch_node(name, metadata, parent, field_manager=field_manager)


def _patch_node(
    name: str,
    metadata: k8s.meta.v1.ObjectMetaPatchArgs,
    parent: pulumi.Resource,
    *,
    field_manager: str | None = None,
) -> k8s.core.v1.NodePatch:
    """A NodePatch of fields this stack owns, never deleted by the provider (retainOnDelete).

    Server-side apply creates a missing object, so a patch of a Node that does not exist would
    create a phantom Node: the cluster preflight checks every named node exists first. The
    fields are ours by config, so a conflict with another manager's value (the preflight
    reports a foreign tunnel interface before anything changes) is won (`patchForce`).

    pulumi-kubernetes deletes a patch by a server-side apply too (provider.go
    `kubeProvider.Delete` -> await.go `Deletion` -> ssa/actions.go `Relinquish`: the bare
    `{apiVersion, kind, metadata.name}` with the patch's field manager), which creates the Node
    again when it was deleted meanwhile (recorded: kube-apiserver v1.36.2), an empty Node that
    a later drain passes. No check before it can close that window, so no patch of a Node is
    ever deleted: destroy (and a node leaving the config) forgets it, and a
    `node_fields_cleanup` step removes what must go, with kubectl label/annotate, which answer
    NotFound for a missing Node and never create one.
    """
    pulumi_annotations = {PATCH_FORCE_ANNOTATION: "true"}
    if field_manager:
        pulumi_annotations[FIELD_MANAGER_ANNOTATION] = field_manager
    metadata = k8s.meta.v1.ObjectMetaPatchArgs(
        name=metadata.name,
        labels=metadata.labels,
        annotations={**(metadata.annotations or {}), **pulumi_annotations},
    )
    return k8s.core.v1.NodePatch(
        name,
        metadata=metadata,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
    )


def node_fields_cleanup(
    name: str,
    kubernetes: KubernetesConfig,
    node: str,
    patch: pulumi.Resource,
    parent: pulumi.Resource,
    *,
    labels: Sequence[str] = (),
) -> local.Command:
    """A step whose delete (before `patch`'s, which it depends on) takes `labels` off the Node,
    and the `pulumi.com/*` annotations pulumi-kubernetes sent with the patch (await.go
    `Creation` applies them with the fields; nothing takes them off a retained patch), if the
    Node is still there. kubectl label/annotate patch an existing object only (NotFound
    otherwise, kubectl label.go `RunLabel` / annotate.go `RunAnnotate` through the resource
    builder's GET), so no Node is ever created by it; a cluster that cannot be read fails it."""
    removals = {
        "label": [f"{key}-" for key in labels],
        "annotate": [f"{key}-" for key in (PATCH_FORCE_ANNOTATION, FIELD_MANAGER_ANNOTATION)],
    }
    commands = [
        kubectl_command(kubernetes, verb, "node", node, *keys)
        for verb, keys in removals.items()
        if keys
    ]
    delete = if_node_exists(
        kubernetes,
        node,
        " && ".join(commands),
        otherwise=f"no Node {node} in the cluster: nothing to take off it",
    )
    return local.Command(
        name,
        create="true",
        delete=delete,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[patch]),
    )
