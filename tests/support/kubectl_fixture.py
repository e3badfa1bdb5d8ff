"""The stand-in `kubectl` (tests/support/kubectl_standin.py) first on PATH, and builders for the
cluster it answers as.

Shared by the tests of `tools.verify` and of the registration wait. `StandIn(tmp_path,
monkeypatch)` writes `bin/kubectl` (a wrapper that runs the stand-in against a simulated cluster
in `tmp_path/cluster`), puts it first on PATH, points KUBECONFIG at the cluster's kubeconfig and
answers as an empty cluster until `answer(scenario)` seeds a fresh one. A scenario is a dict:

- `context`: the kubeconfig's one context (default "lab");
- `unreachable`: the API server does not answer;
- `nodes`: {name: `node(labels, *timeline)`}: registered as kubelet does, then each status of
  the timeline after so many reads of the node;
- `pods`: `pod(...)` objects (a `deletionTimestamp` one is deleted gracefully after its
  creation, as only the API server sets that field); `daemonsets`: DaemonSet objects;
- `exec`: per ovs-ovn pod what OVS in it answers: `container` (its container's name, default
  "openvswitch"), `hw_offload` (None: the key is not set), `flows` ({"offloaded": ...,
  "non-offloaded": ...}, or a list of them, one per `--watch` sample), `dpctl_show`,
  `interfaces` (the Interface table as `ovs-vsctl --format=json` prints it, decoded).

The cluster's controllers are stopped (`SimCluster.stop_controllers`): it answers as the objects
were at one instant, moved only by the stand-in's scripted kubelet.
"""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from components.names import (
    AGILIO_NODE_LABEL,
    AGILIO_NODE_LABEL_VALUE,
    DEVICE_PLUGIN_DAEMON_SET,
    DEVICE_PLUGIN_LABELS,
)
from tools.rehearsal.cluster import SimCluster, behaviours
from tools.rehearsal.cluster.store import State

STANDIN = Path(__file__).resolve().with_name("kubectl_standin.py")
SYSTEM = "kube-system"
# The ovs-ovn pods' labels as each install writes them (kube-ovn v1.16.2): dist/images/install.sh
# sets `app: ovs`, `component: network`, `type: infra`; charts/kube-ovn-v2 templates/ovs-ovn/
# ovs-ovn-daemonset.yaml sets `app.kubernetes.io/name: kube-ovn-ovs`, `app.kubernetes.io/part-of:
# kube-ovn` and keeps those three as "Legacy labels".
INSTALL_SH_OVS_LABELS = {"app": "ovs", "component": "network", "type": "infra"}
CHART_OVS_LABELS = {
    "app.kubernetes.io/name": "kube-ovn-ovs",
    "app.kubernetes.io/part-of": "kube-ovn",
    **INSTALL_SH_OVS_LABELS,
}
AGILIO_LABELS = {AGILIO_NODE_LABEL: AGILIO_NODE_LABEL_VALUE}


class StandIn:
    """The stand-in kubectl in tmp_path/bin, first on PATH."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.state_dir = tmp_path / "cluster"
        script = self.bin / "kubectl"
        command = [sys.executable, "-S", str(STANDIN), str(self.state_dir)]
        script.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        script.chmod(0o755)
        self.path = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        monkeypatch.setenv("PATH", self.path)
        monkeypatch.setenv("KUBECONFIG", str(self.state_dir / "kubeconfig"))
        self.cluster = self.answer({})

    def answer(self, scenario: dict[str, Any]) -> SimCluster:
        """A fresh cluster seeded with `scenario` (the calls so far are forgotten with the old)."""
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.cluster = seed(self.state_dir, scenario)
        return self.cluster

    def calls(self) -> list[list[str]]:
        return [call["argv"] for call in self.cluster.calls() if call["kind"] == "kubectl"]


# --- seeding the simulated cluster -------------------------------------------------------------


def seed(state_dir: Path, scenario: dict[str, Any]) -> SimCluster:
    cluster = SimCluster(state_dir, contexts=(scenario.get("context", "lab"),))
    cluster.stop_controllers()
    timelines = {
        name: add_node(cluster, name, spec) for name, spec in scenario.get("nodes", {}).items()
    }
    pods = {p["metadata"]["name"]: p for p in scenario.get("pods", [])}
    # OVS answers of the pods the scenario has, by node (the simulated cluster's OVS is a node's).
    answers = {name: ovs for name, ovs in scenario.get("exec", {}).items() if name in pods}
    nodes = {name: pods[name]["spec"]["nodeName"] for name in answers}
    with cluster.store.open() as state:
        for pod in pods.values():
            add_pod(state, pod, answers.get(pod["metadata"]["name"], {}).get("container"))
        for daemon_set in scenario.get("daemonsets", []):
            state.create(copy.deepcopy(daemon_set), "pulumi-kubernetes")
        samples = {
            nodes[name]: ovs["flows"]
            for name, ovs in answers.items()
            if isinstance(ovs.get("flows"), list)
        }
        state.data["standin"] = {"status_after_reads": timelines, "flow_samples": samples}
    for name, ovs in answers.items():
        flows = ovs.get("flows")
        cluster.set_ovs(
            nodes[name],
            hw_offload=ovs.get("hw_offload"),
            flows=flows if isinstance(flows, dict) else None,
            dpctl_show=ovs.get("dpctl_show"),
            interfaces=ovs.get("interfaces"),
        )
    if scenario.get("unreachable"):
        cluster.set_unreachable()
    return cluster


def add_node(cluster: SimCluster, name: str, spec: dict[str, Any]) -> list[list[Any]]:
    """A node registered as kubelet does, with the status of read 0 of its timeline; the
    timeline's statuses, each the registered status with its extended resources."""
    cluster.add_node(name, labels=spec["labels"])
    with cluster.store.open() as state:
        node = state.must_get("nodes", "", name)
        timeline = [
            [after, with_resources(node["status"], status)]
            for after, status in spec["status_after_reads"]
        ]
        first = [status for after, status in timeline if after <= 0]
        if first:
            state.write({**node, "status": first[-1]}, "kubelet", subresource="status")
    return timeline


def with_resources(registered: dict[str, Any], advertised: dict[str, Any]) -> dict[str, Any]:
    """The registered node's status with the extended resources of `advertised`."""
    status = copy.deepcopy(registered)
    for section in ("capacity", "allocatable"):
        status[section].update(advertised.get(section, {}))
    return status


def add_pod(state: State, pod: dict[str, Any], container: str | None) -> None:
    """`pod` as it is at this instant: created, its status as its kubelet reports it, and
    deleted gracefully when it has a deletionTimestamp (registry/core/pod/strategy.go
    `CheckGracefulDelete`: a bound pod stays, Terminating, until its kubelet removes it)."""
    pod = copy.deepcopy(pod)
    terminating = pod["metadata"].pop("deletionTimestamp", None)
    status = pod.pop("status")
    if container:
        pod["spec"]["containers"][0]["name"] = container
    created = state.create(pod, "kubectl-create")
    if created["status"] != status:
        created = state.write({**created, "status": status}, "kubelet", subresource="status")
    if terminating:
        behaviours.delete_pod(state, copy.deepcopy(created), "kubectl")


# --- builders ----------------------------------------------------------------------------------


def pod(
    name: str,
    node: str | None,
    *,
    namespace: str = "default",
    phase: str = "Running",
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    terminating: bool = False,
    container: str = "main",
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec: dict[str, Any] = {"containers": [{"name": container, "resources": resources}]}
    if node:
        spec["nodeName"] = node
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if terminating:
        metadata["deletionTimestamp"] = "2026-12-01T08:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": phase},
    }


def ovs_pod(
    name: str, node: str, phase: str = "Running", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    labels = labels or CHART_OVS_LABELS
    return pod(name, node, namespace=SYSTEM, phase=phase, labels=labels, container="openvswitch")


def plugin_pod(name: str, node: str, phase: str = "Running", **kwargs: Any) -> dict[str, Any]:
    return pod(name, node, namespace=SYSTEM, phase=phase, labels=DEVICE_PLUGIN_LABELS, **kwargs)


def plugin_daemon_set() -> dict[str, Any]:
    """The stack's device plugin DaemonSet, as far as the wait reads it (its name)."""
    template = {
        "metadata": {"labels": dict(DEVICE_PLUGIN_LABELS)},
        "spec": {
            "nodeSelector": dict(AGILIO_LABELS),
            "containers": [{"name": "kube-sriovdp"}],
        },
    }
    selector = {"matchLabels": {"name": DEVICE_PLUGIN_LABELS["name"]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": DEVICE_PLUGIN_DAEMON_SET, "namespace": SYSTEM},
        "spec": {"selector": selector, "template": template},
    }


def advertised(resource: str, capacity: int | None, allocatable: int | None) -> dict[str, Any]:
    """A node status with `resource` in capacity/allocatable (None: not there at all)."""
    status: dict[str, Any] = {"capacity": {}, "allocatable": {}}
    if capacity is not None:
        status["capacity"][resource] = str(capacity)
    if allocatable is not None:
        status["allocatable"][resource] = str(allocatable)
    return status


def node(
    labels: dict[str, str] | None = None, *timeline: tuple[int, dict[str, Any]]
) -> dict[str, Any]:
    """A node: its labels and its status after so many reads of it (kubelet's updates)."""
    return {"labels": labels or {}, "status_after_reads": [list(step) for step in timeline]}


def interfaces(ports: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """`ovs-vsctl --format=json --columns=name,ofport,external_ids list Interface` with a pod on
    each named port (namespace, pod), as Kube-OVN's `configureNic` records it (kube-ovn v1.16.2
    pkg/daemon/ovs_linux.go); row and key layout of OVS lib/table.c `table_print_json__`."""
    rows: list[list[Any]] = [["br-int", 65534, ["map", []]]]
    for ofport, (name, (namespace, pod_name)) in enumerate(sorted(ports.items()), start=10):
        ids = [
            ["iface-id", f"{pod_name}.{namespace}"],
            ["pod_name", pod_name],
            ["pod_namespace", namespace],
            ["vendor", "kube-ovn"],
        ]
        rows.append([name, ofport, ["map", ids]])
    return {"data": rows, "headings": ["name", "ofport", "external_ids"]}
