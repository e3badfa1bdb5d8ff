"""SimCluster: the simulated cluster's face (see docs/simulated-cluster.md)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tools.rehearsal.cluster import apply, behaviours, kube_ovn, kubectl_cli
from tools.rehearsal.cluster.store import Store

if TYPE_CHECKING:
    from tools.engine.resources import Resource

REPO = Path(__file__).resolve().parents[3]
SERVER = "https://127.0.0.1:6443"
# The namespaces every cluster has: kube-apiserver's system namespaces controller
# (pkg/controlplane/controller/systemnamespaces) keeps kube-system, kube-public and
# kube-node-lease; its bootstrap controller keeps `default`.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class SimCluster:
    """One simulated cluster whose state lives in `state_dir` (cluster.json + its lock)."""

    def __init__(self, state_dir: Path, *, contexts: Sequence[str] = ("sim",)) -> None:
        self.state_dir = Path(state_dir)
        self.store = Store(self.state_dir)
        self.contexts = list(contexts)
        with self.store.open() as state:
            state.data["settings"]["contexts"] = self.contexts
            for name in SYSTEM_NAMESPACES:
                if state.get("namespaces", "", name) is None:
                    namespace = {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": name},
                    }
                    state.create(namespace, "kube-apiserver")
        self._write_front_end()

    # --- environment for the stack's local commands ---

    def _write_front_end(self) -> None:
        bin_dir = self.state_dir / "bin"
        bin_dir.mkdir(exist_ok=True)
        wrapper = bin_dir / "kubectl"
        wrapper.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={shlex.quote(str(REPO))} exec {shlex.quote(sys.executable)} -S -m "
            f'tools.rehearsal.cluster.kubectl_cli {shlex.quote(str(self.state_dir))} "$@"\n'
        )
        wrapper.chmod(0o755)
        home = self.state_dir / "home"
        (home / ".kube").mkdir(parents=True, exist_ok=True)
        config = self._kubeconfig()
        (self.state_dir / "kubeconfig").write_text(config)
        (home / ".kube" / "config").write_text(config)

    def _kubeconfig(self) -> str:
        """A kubeconfig (client-go clientcmd/api/v1 Config) naming every context."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sim", "cluster": {"server": SERVER}}],
            "users": [{"name": "sim", "user": {"token": "simulated"}}],
            "contexts": [
                {"name": name, "context": {"cluster": "sim", "user": "sim"}}
                for name in self.contexts
            ],
            "current-context": self.contexts[0],
        }
        return json.dumps(document, indent=2) + "\n"

    def env(self) -> dict[str, str]:
        environment = dict(os.environ)
        environment["PATH"] = f"{self.state_dir / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
        environment["KUBECONFIG"] = str(self.state_dir / "kubeconfig")
        environment["HOME"] = str(self.state_dir / "home")
        return environment

    def kubectl(self, *args: str) -> tuple[str, str, int]:
        """A kubectl call in-process (what the front-end answers): stdout, stderr, exit."""
        return kubectl_cli.run(self.state_dir, list(args))

    # --- seeding ---

    def add_node(
        self, name: str, *, control_plane: bool = False, labels: Mapping[str, str] = {}
    ) -> None:
        """A Node as kubelet registers it (kubelet_node_status.go `initialNode`: the well-known
        labels and annotations, created by manager "kubelet", then its status through the status
        subresource) and kubeadm marks a control plane (role labels, NoSchedule taint); the same
        shape as the recordings' nodes."""
        node_labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **dict(labels),
        }
        spec: dict[str, Any] = {}
        if control_plane:
            node_labels["node-role.kubernetes.io/control-plane"] = ""
            node_labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
            spec["taints"] = [
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
            ]
        resources = {"cpu": "16", "memory": "65536Mi", "pods": "110"}
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": node_labels,
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": spec,
        }
        status = {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }
        with self.store.open() as state:
            created = state.create(node, "kubelet")
            state.write({**created, "status": status}, "kubelet", subresource="status")
            behaviours.reconcile(state)

    def install_kube_ovn(
        self,
        *,
        how: Literal["install.sh", "chart"],
        version: str,
        hw_offload: bool = True,
        enable_lb: bool = False,
        mirror: bool = False,
        release: str = "kube-ovn",
    ) -> None:
        with self.store.open() as state:
            if how == "chart":
                values = {
                    "features": {
                        "enableHardwareOffload": hw_offload,
                        "enableLoadbalancer": enable_lb,
                    },
                    "agent": {"mirroring": {"enabled": mirror}},
                }
                apply.install(state, release, kube_ovn.SYSTEM, version, values, upgrade=False)
            else:
                for obj in kube_ovn.install_sh_objects(version, hw_offload, enable_lb, mirror):
                    state.create(obj, "kubectl-client-side-apply")
                behaviours.reconcile(state)

    def add_workload(
        self,
        name: str,
        node: str,
        *,
        namespace: str = "default",
        labels: Mapping[str, str] = {},
        pdb_max_unavailable: int | None = None,
        pinned: bool = False,
    ) -> None:
        """A one-replica workload (a ReplicaSet, as a Deployment makes) whose pod runs on
        `node`, and optionally a PodDisruptionBudget over it. `pinned`: its template selects
        `node` (kubernetes.io/hostname), so a replacement waits for that node."""
        pod_labels = {"app": name, **dict(labels)}
        pod_spec: dict[str, Any] = {
            "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]
        }
        if pinned:
            pod_spec["nodeSelector"] = {"kubernetes.io/hostname": node}
        replica_set = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace, "labels": pod_labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": pod_labels},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": pod_spec,
                },
            },
        }
        with self.store.open() as state:
            owner = state.create(replica_set, "kube-controller-manager")
            behaviours.new_pod(state, owner, replica_set["spec"]["template"], node)
            if pdb_max_unavailable is not None:
                budget = {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {
                        "maxUnavailable": pdb_max_unavailable,
                        "selector": {"matchLabels": pod_labels},
                    },
                }
                state.create(budget, "kubectl-client-side-apply")
            behaviours.reconcile(state)

    def set_node_ready(self, name: str, ready: bool) -> None:
        """kubelet posting Ready, or stopping to (the node lifecycle controller then marks the
        condition Unknown: `tryUpdateNodeHealth`)."""
        with self.store.open() as state:
            node = state.must_get("nodes", "", name)
            condition = {"type": "Ready", "status": "True", "reason": "KubeletReady"}
            if not ready:
                condition = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}
            node["status"]["conditions"] = [condition]
            manager = "kubelet" if ready else "kube-controller-manager"
            state.write(node, manager, subresource="status")
            behaviours.reconcile(state)

    def set_node_devices(self, node: str, vfs: Sequence[Mapping[str, str]]) -> None:
        """What the node's PCI bus really has ([{vendor, device, driver, pf}]); a running device
        plugin sees it only when it restarts."""
        with self.store.open() as state:
            state.data["devices"][node] = [dict(vf) for vf in vfs]

    def set_ovs(
        self,
        node: str,
        *,
        hw_offload: str | None = None,
        flows: Mapping[str, str] | None = None,
        dpctl_show: str | None = None,
        interfaces: Mapping[str, Any] | None = None,
    ) -> None:
        """What OVS in the node's ovs-ovn pod answers: `other_config:hw-offload` (by default
        what the pod's HW_OFFLOAD made start-ovs.sh write), the datapath flow dumps
        (`offloaded` / `non-offloaded`, default none), `dpctl/show` and the Interface table
        as `ovs-vsctl --format=json` prints it (default: an empty datapath and table)."""
        with self.store.open() as state:
            entry = state.data["settings"].setdefault("ovs", {}).setdefault(node, {})
            if hw_offload is not None:
                entry["hw_offload"] = hw_offload
            if flows is not None:
                entry["flows"] = dict(flows)
            if dpctl_show is not None:
                entry["dpctl_show"] = dpctl_show
            if interfaces is not None:
                entry["interfaces"] = dict(interfaces)

    def set_unreachable(self, unreachable: bool = True) -> None:
        with self.store.open() as state:
            state.data["settings"]["unreachable"] = unreachable

    def deny(self, resource: str, name: str = "*") -> None:
        """RBAC refuses this user `get` of `resource` NAME ("*": every get and list of it);
        kubectl answers with kube-apiserver's Forbidden (kubectl_cli `check_access`)."""
        with self.store.open() as state:
            state.data["settings"].setdefault("forbidden", []).append([resource, name])

    def stop_controllers(self) -> None:
        """kube-apiserver alone: no controller manager, scheduler or kubelet moves anything, the
        objects stay as they were seeded (the tests' kubectl stand-ins answer from such a
        cluster at one instant)."""
        with self.store.open() as state:
            state.data["settings"]["controllers_stopped"] = True

    # --- the plan's Kubernetes resources ---

    def apply_resource(self, op: str, new: Resource | None, old: Resource | None) -> None:
        with self.store.open() as state:
            apply.apply_resource(state, op, new, old)

    def create(self, obj: Mapping[str, Any], manager: str = "kubectl-create") -> None:
        """An object created as `kubectl create` does (field manager "kubectl-create")."""
        with self.store.open() as state:
            state.create(json.loads(json.dumps(obj)), manager)
            behaviours.reconcile(state)

    def server_side_apply(
        self, body: Mapping[str, Any], manager: str, *, force: bool = False
    ) -> dict[str, Any]:
        """One server-side apply (what `kubectl apply --server-side` and the provider's patches
        send); raises ssa.ConflictError on a conflict without force."""
        with self.store.open() as state:
            applied = state.apply(json.loads(json.dumps(body)), manager, force=force)
            behaviours.reconcile(state)
            return applied

    # --- time ---

    def reconcile(self) -> None:
        with self.store.open() as state:
            behaviours.reconcile(state)

    # --- reading ---

    def snapshot(self) -> dict[str, Any]:
        with self.store.open(write=False) as state:
            return {key: obj for key, obj in state.snapshot()["objects"].items()}

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.store.open(write=False) as state:
            return state.list(resource, namespace)

    def node(self, name: str) -> dict[str, Any] | None:
        with self.store.open(write=False) as state:
            return state.get("nodes", "", name)

    def calls(self) -> list[dict[str, Any]]:
        with self.store.open(write=False) as state:
            return list(state.data["calls"])

    def clock(self) -> float:
        with self.store.open(write=False) as state:
            return state.clock

    def disrupted_nodes(self) -> set[str]:
        with self.store.open(write=False) as state:
            return behaviours.disrupted_nodes(state)

    def disruption_history(self) -> list[dict[str, Any]]:
        """Every change of the disrupted set: [{clock, nodes}], as the cluster ticked."""
        with self.store.open(write=False) as state:
            return list(state.data["history"])

    def max_disrupted(self, among: Sequence[str] | None = None) -> int:
        """The most nodes (of `among`, default all) disrupted at any recorded instant."""
        wanted = set(among) if among is not None else None
        return max(
            (
                len([n for n in entry["nodes"] if wanted is None or n in wanted])
                for entry in self.disruption_history()
            ),
            default=0,
        )
