"""The stand-in `kubectl` (tests/support/kubectl_standin.py) first on PATH, and builders for
its cluster.

Shared by the tests of `tools.verify` and of the registration wait. `StandIn(tmp_path,
monkeypatch)` writes `bin/kubectl` (a wrapper that runs the stand-in with the scenario
directory), puts it first on PATH and answers with an empty cluster until `answer(...)`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from components.names import AGILIO_NODE_LABEL, AGILIO_NODE_LABEL_VALUE, DEVICE_PLUGIN_LABELS

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
        script = self.bin / "kubectl"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{STANDIN}" "{self.bin}" "$@"\n')
        script.chmod(0o755)
        self.path = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        monkeypatch.setenv("PATH", self.path)
        self.answer({})

    def answer(self, scenario: dict[str, Any]) -> None:
        (self.bin / "scenario.json").write_text(json.dumps(scenario))
        (self.bin / "reads.json").unlink(missing_ok=True)

    def calls(self) -> list[list[str]]:
        log = self.bin / "argv.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


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
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec: dict[str, Any] = {"containers": [{"name": "main", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if terminating:
        metadata["deletionTimestamp"] = "2026-12-01T08:00:00Z"
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


def ovs_pod(
    name: str, node: str, phase: str = "Running", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return pod(name, node, namespace=SYSTEM, phase=phase, labels=labels or CHART_OVS_LABELS)


def plugin_pod(name: str, node: str, phase: str = "Running", **kwargs: Any) -> dict[str, Any]:
    return pod(name, node, namespace=SYSTEM, phase=phase, labels=DEVICE_PLUGIN_LABELS, **kwargs)


def plugin_daemon_set() -> dict[str, Any]:
    metadata = {"name": "kube-sriov-device-plugin", "namespace": SYSTEM, "labels": {}}
    return {"metadata": metadata}


def advertised(resource: str, capacity: int | None, allocatable: int | None) -> dict[str, Any]:
    """A node status with `resource` in capacity/allocatable (None: not there at all)."""
    status: dict[str, Any] = {"capacity": {"cpu": "16"}, "allocatable": {"cpu": "15"}}
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


def interfaces(ports: dict[str, tuple[str, str]]) -> str:
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
    return json.dumps({"data": rows, "headings": ["name", "ofport", "external_ids"]}) + "\n"
