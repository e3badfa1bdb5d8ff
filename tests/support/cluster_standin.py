"""The cluster the preflight script's `kubectl` answers from: the simulated cluster
(tools/rehearsal/cluster), seeded by the builders below and run with its controllers stopped.

A cluster is a list of seeds, each a step on a fresh `SimCluster`, in order: nodes registered as
kubelet does, objects created by the field manager that makes them (install.sh's
`kubectl apply`, Helm, the stack's pulumi-kubernetes), annotations set with `kubectl annotate` or
by the stack's server-side apply patches, so managedFields are the API server's own. Faults:
`denied` (RBAC refuses a read, kube-apiserver's Forbidden) and `unreachable`.

`StandIn.check(seeds, command)` runs the program's check command with /bin/sh, as
pulumi-command's local.Command does, with the cluster's `kubectl` first on PATH, its kubeconfig
and a HOME of its own.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.rehearsal.cluster import SimCluster
from tools.rehearsal.cluster import kube_ovn as sim_kube_ovn
from tools.rehearsal.cluster.apply import PATCH_FORCE
from tools.rehearsal.cluster.kubectl_cli import KINDS

Seed = Callable[[SimCluster], None]
SYSTEM = "kube-system"
KUBE_OVN_VERSION = "1.16.2"
CONTEXTS = ("kind-agilio-lab", "lab-admin")
CLIENT_SIDE_APPLY = "kubectl-client-side-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    calls: list[list[str]]


class StandIn:
    """A fresh simulated cluster per check, under `tmp_path`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.checks = 0
        self.home = tmp_path

    def check(self, seeds: list[Seed], command: str) -> Outcome:
        self.checks += 1
        cluster = SimCluster(self.tmp_path / f"cluster-{self.checks}", contexts=CONTEXTS)
        cluster.stop_controllers()
        for step in seeds:
            step(cluster)
        env = cluster.env()
        self.home = Path(env["HOME"])
        # `~/.kube/lab` of the kubeconfig test: the cluster's own kubeconfig.
        (self.home / ".kube" / "lab").write_text(Path(env["KUBECONFIG"]).read_text())
        seeded = len(cluster.calls())
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls = [call["argv"] for call in cluster.calls()[seeded:] if call["kind"] == "kubectl"]
        return Outcome(done.returncode, done.stdout, done.stderr, calls)


# --- seeds -------------------------------------------------------------------------------------


def kubectl(*args: str) -> Seed:
    def step(cluster: SimCluster) -> None:
        _out, err, code = cluster.kubectl(*args)
        assert code == 0, err

    return step


def created(obj: dict[str, Any], manager: str) -> Seed:
    """`obj` created by `manager`; `kubectl apply` (client side) saves the configuration it
    applied in an annotation (kubectl pkg/util/apply.go `CreateApplyAnnotation`)."""
    obj = copy.deepcopy(obj)
    if manager == CLIENT_SIDE_APPLY:
        applied = json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"
        obj["metadata"].setdefault("annotations", {})[LAST_APPLIED] = applied
    return lambda cluster: cluster.create(obj, manager)


def node(name: str, annotations: dict[str, str] | None = None) -> Seed:
    """A node as kubelet registers it, its annotations set with `kubectl annotate`."""

    def step(cluster: SimCluster) -> None:
        cluster.add_node(name)
        if annotations:
            annotated("node", name, annotations)(cluster)

    return step


def annotated(kind: str, name: str, annotations: dict[str, str], namespace: str = "") -> Seed:
    """`kubectl annotate --overwrite` (field manager "kubectl-annotate")."""
    pairs = [f"{key}={value}" for key, value in annotations.items()]
    where = ["--namespace", namespace] if namespace else []
    return kubectl("annotate", kind, name, *pairs, "--overwrite", *where)


def patched(name: str, manager: str, annotations: dict[str, str]) -> Seed:
    """The stack's node annotation patch: a forced server-side apply by its field manager with
    `pulumi.com/patchForce` (pulumi-kubernetes, tools/rehearsal/cluster/apply.py)."""
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {PATCH_FORCE: "true", **annotations}},
    }

    def step(cluster: SimCluster) -> None:
        cluster.server_side_apply(body, manager, force=True)

    return step


def denied(kind: str, name: str = "*") -> Seed:
    """RBAC refuses get (and, with "*", list) of `kind` NAME."""
    return lambda cluster: cluster.deny(KINDS[kind][0], name)


def unreachable() -> Seed:
    return lambda cluster: cluster.set_unreachable()


# --- clusters ----------------------------------------------------------------------------------


def runbook_device_plugin(manager: str = CLIENT_SIDE_APPLY) -> list[Seed]:
    """The objects the runbook's `kubectl apply` of sriov-network-device-plugin v3.11.0
    creates in kube-system (deployments/configMap.yaml, sriovdp-daemonset.yaml), or the stack
    (its ServiceAccount does not mount a token)."""
    metadata = {"namespace": SYSTEM}
    labels = {"name": "sriov-device-plugin"}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sriovdp-config", **metadata},
        "data": {"config.json": '{"resourceList": []}'},
    }
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sriov-device-plugin", **metadata},
    }
    if manager != CLIENT_SIDE_APPLY:
        account["automountServiceAccountToken"] = False
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-sriov-device-plugin", **metadata},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "kube-sriovdp"}]},
            },
        },
    }
    return [created(obj, manager) for obj in (config_map, account, daemon_set)]


def attachment(name: str, namespace: str, manager: str) -> list[Seed]:
    obj = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"config": '{"cniVersion": "0.3.1", "type": "kube-ovn"}'},
    }
    return [created(obj, manager)]


def kube_ovn(
    *,
    hw_offload: str = "true",
    enable_lb: str = "false",
    enable_mirror: str = "false",
    iface: str = "",
    helm_release: str | None = None,
    extra_env: tuple[dict[str, str], ...] = (),
) -> list[Seed]:
    """Kube-OVN v1.16.2 as install.sh applies it (field manager "kubectl-client-side-apply"),
    or as the kube-ovn-v2 chart release `helm_release` renders it (manager "helm"): the
    simulated cluster's objects of either install (tools/rehearsal/cluster/kube_ovn.py), with
    `extra_env` after ovs-ovn's own environment."""
    on = {name: value == "true" for name, value in (("hw", hw_offload), ("lb", enable_lb))}
    mirror = enable_mirror == "true"
    if helm_release:
        values = {
            "features": {"enableHardwareOffload": on["hw"], "enableLoadbalancer": on["lb"]},
            "agent": {"mirroring": {"enabled": mirror}, "interface": iface},
        }
        objects = sim_kube_ovn.chart_objects(helm_release, SYSTEM, KUBE_OVN_VERSION, values, None)
        manager = "helm"
    else:
        objects = sim_kube_ovn.install_sh_objects(
            KUBE_OVN_VERSION, on["hw"], on["lb"], mirror, iface
        )
        manager = CLIENT_SIDE_APPLY
    objects[0]["spec"]["template"]["spec"]["containers"][0]["env"] += list(extra_env)
    return [created(obj, manager) for obj in objects]


def multus(*, thick: bool = True, manager: str = CLIENT_SIDE_APPLY) -> list[Seed]:
    """Multus v4.3.0 from upstream's deployments (multus-daemonset-thick.yml: DaemonSet
    kube-multus-ds, labels app/name multus, command multus-daemon; the thin
    multus-daemonset.yml runs /thin_entrypoint) and its NAD CRD."""
    command = ["/usr/src/multus-cni/bin/multus-daemon"] if thick else ["/thin_entrypoint"]
    labels = {"app": "multus", "name": "multus", "tier": "node"}
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-multus-ds", "namespace": SYSTEM, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"name": "multus"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "kube-multus", "command": command}]},
            },
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
        "spec": {
            "group": "k8s.cni.cncf.io",
            "scope": "Namespaced",
            "names": {
                "kind": "NetworkAttachmentDefinition",
                "plural": "network-attachment-definitions",
            },
        },
    }
    return [created(daemon_set, manager), created(crd, manager)]


def cluster(nodes: list[Seed], *workloads: list[Seed]) -> list[Seed]:
    return [*nodes, *(step for group in workloads for step in group)]
