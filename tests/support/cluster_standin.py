"""A stand-in `kubectl` for the cluster preflight: answers `get` from a recorded cluster.

The cluster is a JSON file of objects (`STANDIN_CLUSTER`); every call is appended to
`STANDIN_CALLS`. It answers what the preflight script asks, as kubectl v1.3x does:

- `get KIND NAME [--namespace NS] [--ignore-not-found] -o jsonpath=T`: one object; a missing
  one prints nothing with `--ignore-not-found`, else `Error from server (NotFound)`, exit 1
  (kubectl `get.go` `RunGet`, IgnoreNotFound);
- `get KIND [--all-namespaces] [--selector k=v] -o jsonpath=T`: a `List` with `items`;
- `-o jsonpath=T` and `--selector` as the simulated cluster answers them
  (tools/rehearsal/cluster/jsonpath.py and selectors.py, grounded in a real kube-apiserver).

The emulation stops there: no other verbs, output formats or label-selector operators.
The builders below make the clusters the tests need, from upstream facts named in each.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from tools.rehearsal.cluster.jsonpath import render as render_jsonpath
from tools.rehearsal.cluster.selectors import labels_match

KINDS = {
    "node": "Node",
    "nodes": "Node",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "customresourcedefinition": "CustomResourceDefinition",
    "customresourcedefinitions": "CustomResourceDefinition",
    "configmap": "ConfigMap",
    "serviceaccount": "ServiceAccount",
    "namespace": "Namespace",
    "network-attachment-definitions.k8s.cni.cncf.io": "NetworkAttachmentDefinition",
}
CLUSTER_SCOPED = {"Node", "CustomResourceDefinition", "Namespace"}


# --- client-go util/jsonpath: the simulated cluster's one module -----------------------------


def jsonpath(template: str, data: Any) -> str:
    return render_jsonpath(template, data)


# --- kubectl get -----------------------------------------------------------------------------


def _options(args: list[str]) -> tuple[list[str], dict[str, str | bool]]:
    positional, options = [], {}
    flags_with_values = {"--kubeconfig", "--context", "--namespace", "-n", "--selector", "-l", "-o"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in flags_with_values:
            options[arg.lstrip("-")] = args[i + 1]
            i += 2
        elif arg.startswith("-o") and len(arg) > 2:
            options["o"] = arg[2:].lstrip("=")
            i += 1
        elif arg.startswith("--"):
            options[arg[2:]] = True
            i += 1
        else:
            positional.append(arg)
            i += 1
    return positional, options


def _matches(obj: dict[str, Any], selector: str | None) -> bool:
    return labels_match(obj["metadata"].get("labels", {}), selector)


def _forbidden(cluster: dict[str, Any], resource: str, name: list[str]) -> str:
    """The RBAC denial kube-apiserver answers (apiserver `forbidden` responsewriter: `User "U"
    cannot get resource "R" ... `) for a `[kind, name]` listed under `forbidden` (name "*":
    every get and list of the kind)."""
    for kind, denied_name in cluster.get("forbidden", []):
        if KINDS[resource] == KINDS[kind] and denied_name in ("*", *name):
            return (
                f'Error from server (Forbidden): {resource} "{denied_name}" is forbidden: User '
                f'"lab-admin" cannot get resource "{resource}" in API group "" in the namespace '
                '"kube-system"'
            )
    return ""


def _objects(cluster: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    return (obj for obj in cluster["objects"] if obj["kind"] == kind)


def main(argv: list[str]) -> int:
    with open(os.environ["STANDIN_CALLS"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    with open(os.environ["STANDIN_CLUSTER"]) as source:
        cluster = json.load(source)
    if cluster.get("unreachable"):
        print("The connection to the server 192.0.2.1:6443 was refused", file=sys.stderr)
        return 1
    positional, options = _options(argv)
    if positional[:1] != ["get"] or not str(options.get("o", "")).startswith("jsonpath="):
        print(f"stand-in kubectl: {argv} is beyond this stand-in", file=sys.stderr)
        return 3
    kind = KINDS[positional[1]]
    denied = _forbidden(cluster, positional[1], positional[2:3])
    if denied:
        print(denied, file=sys.stderr)
        return 1
    template = str(options["o"])[len("jsonpath=") :]
    namespace = options.get("namespace", options.get("n", "default"))
    objects = [
        obj
        for obj in _objects(cluster, kind)
        if options.get("all-namespaces")
        or kind in CLUSTER_SCOPED
        or obj["metadata"].get("namespace") == namespace
    ]
    if len(positional) > 2:
        name = positional[2]
        found = [obj for obj in objects if obj["metadata"]["name"] == name]
        if not found:
            if options.get("ignore-not-found"):
                return 0
            print(
                f'Error from server (NotFound): {positional[1]} "{name}" not found', file=sys.stderr
            )
            return 1
        sys.stdout.write(jsonpath(template, found[0]))
        return 0
    selected = [obj for obj in objects if _matches(obj, options.get("selector", options.get("l")))]
    sys.stdout.write(jsonpath(template, {"kind": "List", "items": selected}))
    return 0


# --- clusters ----------------------------------------------------------------------------------


def managed(*managers: str) -> list[dict[str, Any]]:
    return [{"manager": manager, "operation": "Update"} for manager in managers]


def owning(manager: str, *annotations: str, operation: str = "Update") -> dict[str, Any]:
    """A managedFields entry owning these annotations (fieldsV1 keys `f:<name>`, apimachinery
    fieldpath `SetToJSON`; `kubectl annotate` updates as manager "kubectl-annotate")."""
    owned = {f"f:{key}": {} for key in annotations}
    fields = {"f:metadata": {"f:annotations": owned}}
    return {"manager": manager, "operation": operation, "fieldsV1": fields}


def namespaces(*names: str) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in names or ("default", "kube-system", "kube-public", "kube-node-lease")
    ]


def runbook_device_plugin(manager: str = "kubectl-client-side-apply") -> list[dict[str, Any]]:
    """The objects the runbook's `kubectl apply` of sriov-network-device-plugin v3.11.0
    creates in kube-system (deployments/configMap.yaml, sriovdp-daemonset.yaml)."""
    metadata = {"namespace": "kube-system", "managedFields": managed(manager)}
    return [
        {"kind": "ConfigMap", "metadata": {"name": "sriovdp-config", **metadata}},
        {"kind": "ServiceAccount", "metadata": {"name": "sriov-device-plugin", **metadata}},
        {"kind": "DaemonSet", "metadata": {"name": "kube-sriov-device-plugin", **metadata}},
    ]


def attachment(name: str, namespace: str, manager: str) -> list[dict[str, Any]]:
    metadata = {"name": name, "namespace": namespace, "managedFields": managed(manager)}
    return [{"kind": "NetworkAttachmentDefinition", "metadata": metadata}]


def node(name: str, annotations: dict[str, str] | None = None, managers=("kubelet",)) -> dict:
    metadata = {"name": name, "annotations": annotations or {}, "managedFields": managed(*managers)}
    return {"apiVersion": "v1", "kind": "Node", "metadata": metadata}


def _workload(kind: str, name: str, metadata: dict, container: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "kube-system", **metadata},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def kube_ovn(
    *,
    hw_offload: str = "true",
    enable_lb: str = "false",
    enable_mirror: str = "false",
    iface: str = "",
    helm_release: str | None = None,
    extra_env: list[dict[str, str]] = (),
) -> list[dict]:
    """Kube-OVN v1.16.2 as install.sh applies it (dist/images/install.sh: ovs-ovn's openvswitch
    container env HW_OFFLOAD "$HW_OFFLOAD", kube-ovn-controller's `--enable-lb=$ENABLE_LB`,
    kube-ovn-cni's cni-server `--enable-mirror=$ENABLE_MIRROR` and `--iface=${IFACE}`; applied
    with kubectl), or as the kube-ovn-v2 chart renders the same (the same container names and
    args; Helm adds `meta.helm.sh/release-*` annotations and the managed-by label,
    pkg/action/validate.go `setMetadataVisitor`, and applies as field manager "helm")."""
    if helm_release:
        metadata = {
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {
                "meta.helm.sh/release-name": helm_release,
                "meta.helm.sh/release-namespace": "kube-system",
            },
            "managedFields": managed("helm"),
        }
    else:
        metadata = {"managedFields": managed("kubectl-client-side-apply")}
    env = [{"name": "ENABLE_SSL", "value": "false"}, {"name": "HW_OFFLOAD", "value": hw_offload}]
    return [
        _workload(
            "DaemonSet",
            "ovs-ovn",
            metadata,
            {"name": "openvswitch", "env": [*env, *extra_env]},
        ),
        _workload(
            "Deployment",
            "kube-ovn-controller",
            metadata,
            {
                "name": "kube-ovn-controller",
                "args": [
                    "/kube-ovn/start-controller.sh",
                    "--network-type=geneve",
                    f"--enable-lb={enable_lb}",
                    "--enable-np=true",
                ],
            },
        ),
        _workload(
            "DaemonSet",
            "kube-ovn-cni",
            metadata,
            {
                "name": "cni-server",
                "args": [
                    f"--enable-mirror={enable_mirror}",
                    "--encap-checksum=true",
                    f"--iface={iface}",
                ],
            },
        ),
    ]


def multus(*, thick: bool = True, manager: str = "kubectl-client-side-apply") -> list[dict]:
    """Multus v4.3.0 from upstream's deployments (multus-daemonset-thick.yml: DaemonSet
    kube-multus-ds, labels app/name multus, command multus-daemon; the thin
    multus-daemonset.yml runs /thin_entrypoint) and its NAD CRD."""
    command = ["/usr/src/multus-cni/bin/multus-daemon"] if thick else ["/thin_entrypoint"]
    daemon_set = _workload(
        "DaemonSet",
        "kube-multus-ds",
        {
            "labels": {"app": "multus", "name": "multus", "tier": "node"},
            "managedFields": managed(manager),
        },
        {"name": "kube-multus", "command": command},
    )
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "network-attachment-definitions.k8s.cni.cncf.io",
            "managedFields": managed(manager),
        },
    }
    return [daemon_set, crd]


def cluster(nodes: list[dict], *workloads: list[dict]) -> dict[str, Any]:
    objects = [*nodes, *(obj for group in workloads for obj in group)]
    if not any(obj["kind"] == "Namespace" for obj in objects):
        objects += namespaces()
    return {"objects": objects}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
