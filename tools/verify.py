"""`python -m tools.verify`: prove the Agilio nodes are ready and each VF pod's flows offloaded.

Usage::

    python -m tools.verify [--context CTX] [--namespace kube-system] [--json]
                           [--outputs FILE | --expect N] [--resource corigine.com/agilio_sriov]
                           [--selector app=ovs] [--container openvswitch]
                           [--threshold 95] [--watch SECONDS [--samples 2]]

Runs `kubectl` from PATH (KUBECONFIG from the environment applies as usual; `--context` is passed
on when given):

1. `kubectl get pods -n <namespace> -l app=ovs -o json`: the ovs-ovn pod of each node. Both
   installs carry `app: ovs`: install.sh only that, the kube-ovn-v2 chart also
   `app.kubernetes.io/name: kube-ovn-ovs` (`--selector` picks another label);
2. `kubectl get pods --all-namespaces -o json`: the Running pods that request or limit the VF
   resource (the VF pods), per node;
3. `kubectl get nodes -o json`: per Agilio node (label `agilio-offload/agilio-cx=true`, and every
   node named in `--outputs`) the resource's `status.capacity` and `status.allocatable`, beside
   the VF count expected: `nodes.<name>.vfs` of `--outputs FILE` (what `pulumi stack output
   --json` prints; its `sriovResource` is the resource unless `--resource` is given) or
   `--expect N` for every Agilio node (the runbook's registration check);
4. in each Running ovs-ovn pod (container `--container`): `ovs-vsctl --if-exists get
   Open_vSwitch . other_config:hw-offload` (unset means off, Open vSwitch's default),
   `ovs-appctl dpctl/show` (datapath port numbers and tunnel ports), `ovs-vsctl --format=json
   --columns=name,ofport,external_ids list Interface` (Kube-OVN records each pod on its OVS
   Interface: external_ids pod_name/pod_namespace) and `ovs-appctl dpctl/dump-flows -m
   type=offloaded` and `type=non-offloaded`, parsed with `tools.flows`.

Each VF pod is mapped to its OVS port (its VF representor; the pod's `*.kubernetes.io/
vf_representor` annotation picks it when the pod has other ports) and judged on that port's
flows: those entering from it (local; every recirculation pass) and the tunnel flows (encap from
it, decap delivering to it), counted apart. Hardware means the `offloaded:yes` token only: `dp:tc`
without it is a tc rule kept in software. A pod passes with at least `--threshold` percent of its
packets in hardware; a node passes when every VF pod with traffic passes.

It prints a table of nodes (VF pods, VFs expected/capacity/allocatable, hw-offload, pods passing
of those with traffic, status) and a table of VF pods (port, local and tunnel packets and their
offloaded share, verdict), each at most 100 columns; the reasons go to stderr, one line each.
`--json` prints `{"ok", "exit_code", "watch", "nodes": [{..., "pods": [...]}]}` with exact counts.

Datapath flows age out about 10 s after their last packet (OVS `max-idle`), so a read after the
traffic stopped finds none. `--watch SECONDS` reads the flows `--samples` times, SECONDS apart,
prints what each interval added per pod, and judges what the flows gained from the first read
to the last (flows matched by ufid).

Exit codes (the first that applies):

- 1 a failure: a node has hw-offload off, or a VF pod with traffic below the threshold, or (an
  Agilio node) advertises no VF or fewer than expected; each named on stderr;
- 2 cannot check: no kubectl, cluster unreachable or a kubectl error, no ovs-ovn pods, an
  unreadable `--outputs` file, output that does not parse, a VF pod with no OVS port, a node that
  could not be checked; a one-line error says what is missing and what to do;
- 3 not proven: every check passed, but a node runs VF pods and none has a datapath flow (no
  traffic now): run traffic between VF pods and run verify while it flows;
- 0 every node checked and nothing above. When no node runs a VF pod at all, stderr says that
  nothing proves offload yet.
"""

from __future__ import annotations

import argparse
import enum
import json
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from components.names import AGILIO_NODE_LABEL as AGILIO_LABEL
from components.names import AGILIO_NODE_LABEL_VALUE as AGILIO_LABEL_VALUE
from components.names import DECOMMISSIONED_FACT, DEFAULT_RESOURCE
from tools.flows import (
    LIST_INTERFACES,
    Counts,
    DatapathPorts,
    Flow,
    FlowParseError,
    PodPort,
    PortTraffic,
    attribute,
    parse_dpctl_show,
    parse_dump,
    pod_ports,
    since,
)

DEFAULT_NAMESPACE = "kube-system"
# The ovs-ovn pods' label that every install carries (kube-ovn v1.16.2): install.sh labels them
# `app: ovs` only; the kube-ovn-v2 chart adds `app.kubernetes.io/name: kube-ovn-ovs` and keeps
# `app: ovs` as a legacy label (templates/ovs-ovn/ovs-ovn-daemonset.yaml).
DEFAULT_SELECTOR = "app=ovs"
DEFAULT_CONTAINER = "openvswitch"
DEFAULT_TIMEOUT = 60.0
DEFAULT_JOBS = 8
DEFAULT_THRESHOLD = 95.0
DEFAULT_SAMPLES = 2
WIDTH = 100  # the widest line the tables print
DUMP_FLOWS = ("ovs-appctl", "dpctl/dump-flows", "-m")
DPCTL_SHOW = ("ovs-appctl", "dpctl/show")
# Kube-OVN's pod annotation naming a VF pod's representor, after the provider prefix
# (kube-ovn v1.16.2 pkg/util/const.go VFRepresentorAnnotationTemplate).
VF_REPRESENTOR = ".kubernetes.io/vf_representor"
# `--if-exists`: an unset key prints an empty line instead of failing (lib/db-ctl-base.c
# cmd_get); Kube-OVN's start-ovs.sh sets the key to true or false from HW_OFFLOAD.
GET_HW_OFFLOAD = (
    "ovs-vsctl",
    "--if-exists",
    "get",
    "Open_vSwitch",
    ".",
    "other_config:hw-offload",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_OFFLOADED = EXIT_FAILED  # the name before hw-offload and registration were checked
EXIT_CANNOT_CHECK = 2
EXIT_NOT_PROVEN = 3

STATUS_OK = "ok"
STATUS_OFFLOAD_OFF = "OFFLOAD OFF"
STATUS_NOT_OFFLOADED = "NOT OFFLOADED"
STATUS_NO_TRAFFIC = "NO TRAFFIC YET"
STATUS_VFS_NONE = "VFS NOT ADVERTISED"
STATUS_VFS_FEWER = "FEWER VFS THAN EXPECTED"
STATUS_CANNOT_CHECK = "cannot check"
STATUS_NO_PORT = "VF POD WITHOUT OVS PORT"

POD_OFFLOADED = "offloaded"
POD_NOT_OFFLOADED = "NOT OFFLOADED"
POD_NO_TRAFFIC = "no traffic"
POD_NO_PORT = "NO OVS PORT"

NODE_COLUMNS = ("NODE", "VF PODS", "VFS EXP/CAP/ALLOC", "HW-OFFLOAD", "PODS OK", "STATUS")
POD_COLUMNS = ("NODE", "POD", "PORT", "LOCAL", "HW", "TUNNEL", "TUN HW", "ALL HW", "VERDICT")


@dataclass(frozen=True)
class Options:
    """The command line."""

    context: str | None
    namespace: str
    selector: str
    resource: str | None  # None: the outputs' sriovResource, else DEFAULT_RESOURCE
    container: str
    timeout: float
    jobs: int
    as_json: bool
    outputs: Path | None = None
    expect: int | None = None
    threshold: float = DEFAULT_THRESHOLD
    watch: float | None = None
    samples: int = DEFAULT_SAMPLES


class CannotCheckError(Exception):
    """Nothing can be checked: the one-line message says what is missing and what to do."""


class KubectlError(Exception):
    """A kubectl call that failed, timed out or answered something unreadable."""


# --- kubectl --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kubectl:
    """The kubectl on PATH, with the context to pass and a timeout per call."""

    executable: str
    context: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def command(self, args: Sequence[str]) -> list[str]:
        context = ["--context", self.context] if self.context else []
        return [self.executable, *context, *args]

    def run(self, args: Sequence[str]) -> str:
        """stdout of `kubectl [--context C] ARGS`; KubectlError with kubectl's stderr on failure."""
        shown = " ".join(["kubectl", *self.command(args)[1:]])
        try:
            done = subprocess.run(
                self.command(args),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise KubectlError(f"`{shown}` timed out after {self.timeout:g}s") from None
        except OSError as error:
            raise KubectlError(f"`{shown}` could not run: {error}") from None
        if done.returncode != 0:
            stderr = one_line(done.stderr) or "(no error output)"
            raise KubectlError(f"`{shown}` failed (exit {done.returncode}): {stderr}")
        return done.stdout

    def get_json(self, args: Sequence[str]) -> dict[str, Any]:
        """`kubectl get ... -o json`, decoded."""
        text = self.run([*args, "-o", "json"])
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise KubectlError(f"`kubectl {' '.join(args)} -o json` is not JSON: {error}") from None
        if not isinstance(document, dict):
            raise KubectlError(f"`kubectl {' '.join(args)} -o json` is not a JSON object")
        return document


def one_line(text: str) -> str:
    """Non-empty lines of `text` joined with '; '."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def find_kubectl(context: str | None, timeout: float) -> Kubectl:
    executable = shutil.which("kubectl")
    if executable is None:
        raise CannotCheckError(
            "kubectl not found on PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/) "
            "or add its directory to PATH, then run again"
        )
    return Kubectl(executable, context, timeout)


# --- pods -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OvsPod:
    """An ovs-ovn pod: name, node and phase."""

    name: str
    node: str
    phase: str
    terminating: bool = False

    @property
    def running(self) -> bool:
        return self.phase == "Running"


def pod_items(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = document.get("items")
    if not isinstance(items, list):
        raise KubectlError("kubectl answered a pod list without 'items'")
    return [item for item in items if isinstance(item, dict)]


def pod_name(pod: Mapping[str, Any]) -> str:
    return str(pod.get("metadata", {}).get("name", "?"))


def pod_node(pod: Mapping[str, Any]) -> str | None:
    node = pod.get("spec", {}).get("nodeName")
    return str(node) if node else None


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str(pod.get("status", {}).get("phase") or "Unknown")


def ovs_pods(document: Mapping[str, Any]) -> dict[str, OvsPod]:
    """The ovs-ovn pod of each node: a Running one, not terminating, when there is one."""
    chosen: dict[str, OvsPod] = {}
    for item in pod_items(document):
        node = pod_node(item)
        if node is None:
            continue  # not scheduled yet: no node to report
        pod = OvsPod(
            name=pod_name(item),
            node=node,
            phase=pod_phase(item),
            terminating=bool(item.get("metadata", {}).get("deletionTimestamp")),
        )
        if node not in chosen or _rank(pod) < _rank(chosen[node]):
            chosen[node] = pod
    return chosen


def _rank(pod: OvsPod) -> tuple[bool, bool, str]:
    return (not pod.running, pod.terminating, pod.name)


def requests_resource(pod: Mapping[str, Any], resource: str) -> bool:
    """True when any (init) container requests or limits `resource`."""
    spec = pod.get("spec", {})
    containers = [*spec.get("containers", []), *spec.get("initContainers", [])]
    for container in containers:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            if resource in (resources.get(kind) or {}):
                return True
    return False


@dataclass(frozen=True)
class VfPod:
    """A Running pod that uses the VF resource, and the representors Kube-OVN annotated on it
    (`<provider>.kubernetes.io/vf_representor`, kube-ovn v1.16.2 pkg/daemon/ovs_linux.go
    `configureNic`); empty when not annotated (then every OVS port of the pod is its own)."""

    namespace: str
    name: str
    representors: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def shown(self) -> str:
        return f"{self.namespace}/{self.name}"


def representors(pod: Mapping[str, Any]) -> tuple[str, ...]:
    annotations = pod.get("metadata", {}).get("annotations") or {}
    found = {str(v) for k, v in annotations.items() if str(k).endswith(VF_REPRESENTOR) and v}
    return tuple(sorted(found))


def vf_pods_per_node(document: Mapping[str, Any], resource: str) -> dict[str, list[VfPod]]:
    """Running pods scheduled to a node that use the VF resource, per node, by name."""
    found: dict[str, list[VfPod]] = {}
    for item in pod_items(document):
        node = pod_node(item)
        if node and pod_phase(item) == "Running" and requests_resource(item, resource):
            namespace = str(item.get("metadata", {}).get("namespace") or "default")
            vf_pod = VfPod(namespace, pod_name(item), representors(item))
            found.setdefault(node, []).append(vf_pod)
    return {node: sorted(pods, key=lambda p: p.key) for node, pods in found.items()}


# --- what each node is expected to advertise ------------------------------------------------------


@dataclass(frozen=True)
class Expectations:
    """The VF resource and the VF count each node should advertise (None: not known)."""

    resource: str
    per_node: Mapping[str, int | None] = field(default_factory=dict)
    default: int | None = None  # --expect, for every Agilio node

    def expected(self, node: str) -> int | None:
        return self.per_node.get(node, self.default)


def read_outputs(path: Path) -> tuple[str | None, dict[str, int | None]]:
    """`sriovResource` and `nodes.<name>.vfs` of `pulumi stack output --json` saved in `path`."""
    fix = f"write it with `pulumi stack output --json > {path}` and pass it again"
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        message = f"--outputs {path}: cannot read it ({error.strerror}): {fix}"
        raise CannotCheckError(message) from None
    except json.JSONDecodeError as error:
        raise CannotCheckError(f"--outputs {path}: not JSON ({error}): {fix}") from None
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, dict):
        raise CannotCheckError(
            f"--outputs {path}: no 'nodes' object (the stack outputs of agilio-offload have "
            f"one): {fix}"
        )
    expected: dict[str, int | None] = {}
    for name, facts in nodes.items():
        if isinstance(facts, dict) and facts.get(DECOMMISSIONED_FACT) is True:
            continue  # decommissioned: no offload node any more (its label and VFs are gone)
        vfs = facts.get("vfs") if isinstance(facts, dict) else None
        if vfs is not None and (isinstance(vfs, bool) or not isinstance(vfs, int) or vfs < 0):
            raise CannotCheckError(f"--outputs {path}: nodes.{name}.vfs is not a VF count: {vfs!r}")
        expected[str(name)] = vfs
    resource = document.get("sriovResource")
    return (resource if isinstance(resource, str) and resource else None), expected


def expectations(options: Options) -> Expectations:
    if options.outputs is None:
        return Expectations(options.resource or DEFAULT_RESOURCE, default=options.expect)
    resource, per_node = read_outputs(options.outputs)
    return Expectations(options.resource or resource or DEFAULT_RESOURCE, per_node)


# --- what the nodes advertise ---------------------------------------------------------------------


@dataclass(frozen=True)
class Advertised:
    """A node's capacity and allocatable of the VF resource (None: the node has no such key)."""

    agilio: bool
    capacity: int | None
    allocatable: int | None


def quantity(value: object, node: str, where: str) -> int | None:
    """A device count as kubelet writes it (a plain integer), or None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise KubectlError(f"node {node}: {where} is not a device count: {value!r}")


def advertised_per_node(document: Mapping[str, Any], resource: str) -> dict[str, Advertised]:
    """Every node of `kubectl get nodes -o json`: Agilio or not, and what it advertises."""
    found: dict[str, Advertised] = {}
    for item in pod_items(document):
        metadata = item.get("metadata", {})
        name = str(metadata.get("name", "?"))
        labels = metadata.get("labels") or {}
        status = item.get("status", {})
        found[name] = Advertised(
            agilio=labels.get(AGILIO_LABEL) == AGILIO_LABEL_VALUE,
            capacity=quantity((status.get("capacity") or {}).get(resource), name, "capacity"),
            allocatable=quantity(
                (status.get("allocatable") or {}).get(resource), name, "allocatable"
            ),
        )
    return found


@dataclass(frozen=True)
class Registration:
    """The registration check of one node: expected VFs beside what kubelet advertises."""

    expected: int | None
    capacity: int | None = None
    allocatable: int | None = None
    in_cluster: bool = True

    @property
    def verdict(self) -> str:
        """ok, VFS NOT ADVERTISED (none while some are expected) or FEWER VFS THAN EXPECTED."""
        have = self.allocatable or 0
        if not self.in_cluster or (have == 0 and self.expected != 0):
            return STATUS_VFS_NONE
        if self.expected is not None and have < self.expected:
            return STATUS_VFS_FEWER
        return STATUS_OK


def registration(
    node: str, expected: Expectations, advertised: Mapping[str, Advertised]
) -> Registration | None:
    """The check for an Agilio node or a node named in the outputs; None for any other node."""
    seen = advertised.get(node)
    if seen is None:
        if node in expected.per_node:
            return Registration(expected.expected(node), in_cluster=False)
        return None
    if not seen.agilio and node not in expected.per_node:
        return None
    return Registration(expected.expected(node), seen.capacity, seen.allocatable)


# --- flows and per-node reports -------------------------------------------------------------------


class Severity(enum.IntEnum):
    """How bad a finding is; the worst sets the exit code."""

    NOT_PROVEN = 1
    CANNOT_CHECK = 2
    FAILED = 3


EXIT_CODES = {
    Severity.FAILED: EXIT_FAILED,
    Severity.CANNOT_CHECK: EXIT_CANNOT_CHECK,
    Severity.NOT_PROVEN: EXIT_NOT_PROVEN,
}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    status: str
    message: str  # the stderr line, without the "verify: " prefix


def hw_offload_on(value: str) -> bool:
    """What ovs-vswitchd makes of the value: only "true", in any case, turns offload on
    (lib/smap.c smap_get_bool with the default false, lib/netdev-offload.c
    netdev_set_flow_api_enabled)."""
    return value.lower() == "true"


def parse_hw_offload(output: str) -> str:
    """The value `ovs-vsctl get` printed: unquoted (OVSDB strings such as "true" are printed
    quoted, lib/ovsdb-data.c string_needs_quotes); empty when the key is not set."""
    text = output.strip()
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"not an OVSDB string: {text!r}") from None
        return str(value)
    if "\n" in text:
        raise ValueError(f"more than one value: {text!r}")
    return text


@dataclass(frozen=True)
class OvsView:
    """One read of a node's Open vSwitch: hw-offload, the pods' ports and the flows."""

    hw_offload: str  # other_config:hw-offload as read ("" = not set)
    ports: DatapathPorts
    pod_ports: Mapping[tuple[str, str], list[PodPort]]
    flows: tuple[Flow, ...]


@dataclass(frozen=True)
class PodReport:
    """One VF pod: its OVS ports and their flows (local and tunnel), and the verdict."""

    pod: VfPod
    ports: tuple[str, ...]
    traffic: PortTraffic
    threshold: float

    @property
    def share(self) -> float | None:
        """Offloaded packets as a percentage of the pod's packets; None when there are none."""
        total = self.traffic.total
        return 100.0 * total.hw_packets / total.packets if total.packets else None

    @property
    def verdict(self) -> str:
        if not self.ports:
            return POD_NO_PORT
        share = self.share
        if share is None:
            return POD_NO_TRAFFIC
        return POD_OFFLOADED if share >= self.threshold else POD_NOT_OFFLOADED


def pod_report(pod: VfPod, view: OvsView, threshold: float) -> PodReport:
    """The pod's ports (its annotated representors when there are, else every Interface that
    Kube-OVN recorded for it that still has a netdev) and their flows, added up."""
    known = view.pod_ports.get(pod.key, [])
    live = [port.interface for port in known if port.ofport != -1]
    ports = [name for name in live if not pod.representors or name in pod.representors]
    per_port = attribute(view.flows, ports, view.ports)
    traffic = PortTraffic()
    for one in per_port.values():
        traffic = PortTraffic(traffic.local + one.local, traffic.tunnel + one.tunnel)
    return PodReport(pod, tuple(sorted(ports)), traffic, threshold)


@dataclass(frozen=True)
class NodeReport:
    """What one node shows: VF pods, registration, hw-offload, each VF pod's flows, or why not."""

    node: str
    vf_pods: tuple[VfPod, ...] = ()
    ovs_pod: str | None = None
    view: OvsView | None = None
    problem: str | None = None  # set when the node's Open vSwitch could not be checked
    registration: Registration | None = None
    resource: str = DEFAULT_RESOURCE
    threshold: float = DEFAULT_THRESHOLD

    @property
    def checked(self) -> bool:
        """Its Open vSwitch was read (hw-offload, ports and flows)."""
        return self.problem is None and self.view is not None

    @property
    def hw_offload(self) -> str | None:
        return self.view.hw_offload if self.view else None

    @property
    def offload_on(self) -> bool | None:
        return None if self.hw_offload is None else hw_offload_on(self.hw_offload)

    @property
    def pods(self) -> list[PodReport]:
        if self.view is None:
            return []
        return [pod_report(pod, self.view, self.threshold) for pod in self.vf_pods]

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.FAILED for f in self.findings)

    @property
    def findings(self) -> list[Finding]:
        return [*self._registration_findings(), *self._offload_findings()]

    def _registration_findings(self) -> list[Finding]:
        check = self.registration
        if check is None or check.verdict == STATUS_OK:
            return []
        numbers = (
            f"capacity {count_text(check.capacity)}, allocatable {count_text(check.allocatable)}"
            f", expected {count_text(check.expected, unknown='not given')}"
        )
        if not check.in_cluster:
            what = f"is named in the stack outputs but is not in the cluster ({numbers})"
        elif check.verdict == STATUS_VFS_NONE:
            what = f"advertises no {self.resource} ({numbers})"
        else:
            what = f"advertises fewer {self.resource} than it has VFs ({numbers})"
        fix = (
            "check its device plugin pod (kube-system, name=sriov-device-plugin) and the "
            'selectors sriov.vendors/devices/drivers (README "Registration check")'
        )
        return [Finding(Severity.FAILED, check.verdict, f"node {self.node} {what}: {fix}")]

    def _offload_findings(self) -> list[Finding]:
        if not self.checked:
            message = f"cannot check node {self.node}: {self.problem}"
            return [Finding(Severity.CANNOT_CHECK, STATUS_CANNOT_CHECK, message)]
        if not self.offload_on:
            shown = self.hw_offload or "not set"
            message = (
                f"node {self.node} has Open vSwitch hw-offload off (other_config:hw-offload: "
                f"{shown}): run Kube-OVN with HW_OFFLOAD=true (chart: "
                "features.enableHardwareOffload) and restart its ovs-ovn pod"
            )
            return [Finding(Severity.FAILED, STATUS_OFFLOAD_OFF, message)]
        pods = self.pods
        findings = [self._not_offloaded(p) for p in pods if p.verdict == POD_NOT_OFFLOADED]
        findings += [self._no_port(p) for p in pods if p.verdict == POD_NO_PORT]
        if pods and not any(p.share is not None for p in pods) and not findings:
            message = (
                f"node {self.node} runs {len(pods)} VF pod(s) but none has a datapath flow: no "
                "traffic now (flows age out ~10 s after the last packet), offload not proven; "
                "run traffic between VF pods and run again while it flows (or use --watch)"
            )
            findings.append(Finding(Severity.NOT_PROVEN, STATUS_NO_TRAFFIC, message))
        return findings

    def _not_offloaded(self, pod: PodReport) -> Finding:
        total, tunnel = pod.traffic.total, pod.traffic.tunnel
        tunnel_text = ""
        if tunnel.packets:
            tunnel_share = 100.0 * tunnel.hw_packets / tunnel.packets
            tunnel_text = f"; tunnel {tunnel.packets} packets, {share_text(tunnel_share)} offloaded"
        message = (
            f"node {self.node}: VF pod {pod.pod.shown} (port {', '.join(pod.ports)}) has "
            f"{share_text(pod.share)} of {total.packets} packets offloaded, below "
            f"{self.threshold:g}%{tunnel_text}: check hw-tc-offload on its representor and the "
            "PF (`ethtool -k <dev> | grep hw-tc-offload`), and `dp:tc` flows without "
            "`offloaded:yes` (tc kept them in software)"
        )
        return Finding(Severity.FAILED, STATUS_NOT_OFFLOADED, message)

    def _no_port(self, pod: PodReport) -> Finding:
        message = (
            f"node {self.node}: VF pod {pod.pod.shown} has no OVS Interface with "
            "external_ids:pod_name/pod_namespace (Kube-OVN has not attached it yet, or its "
            "representor is gone): check the kube-ovn-cni pod of the node"
        )
        return Finding(Severity.CANNOT_CHECK, STATUS_NO_PORT, message)

    @property
    def worst(self) -> Finding | None:
        findings = self.findings
        return max(findings, key=lambda f: f.severity) if findings else None

    @property
    def verdict(self) -> str:
        """ok, or the status of the worst finding."""
        worst = self.worst
        return worst.status if worst else STATUS_OK

    @property
    def status(self) -> str:
        """Every finding's status, once each (the reasons are on stderr)."""
        return ", ".join(dict.fromkeys(f.status for f in self.findings)) or STATUS_OK


def count_text(count: int | None, unknown: str = "none") -> str:
    return unknown if count is None else str(count)


def in_ovs(kubectl: Kubectl, pod: OvsPod, options: Options, command: Sequence[str]) -> str:
    """stdout of `command` in the pod's Open vSwitch container."""
    exec_args = ["exec", "-n", options.namespace, pod.name, "-c", options.container, "--"]
    return kubectl.run([*exec_args, *command])


def dump_flows(kubectl: Kubectl, pod: OvsPod, options: Options, kind: str) -> str:
    """`ovs-appctl dpctl/dump-flows -m type=<kind>` in the pod's container."""
    return in_ovs(kubectl, pod, options, [*DUMP_FLOWS, f"type={kind}"])


def read_flows(kubectl: Kubectl, pod: OvsPod, options: Options) -> tuple[Flow, ...]:
    """Both halves of the datapath table; a flow that moved between the two reads is kept once
    (by ufid, the later read)."""
    flows: dict[object, Flow] = {}
    for kind in ("offloaded", "non-offloaded"):
        try:
            parsed = parse_dump(dump_flows(kubectl, pod, options, kind))
        except FlowParseError as error:
            raise ValueError(f"type={kind} dump of {pod.name}: {error}") from None
        for index, flow in enumerate(parsed):
            flows[flow.ufid or (kind, index)] = flow
    return tuple(flows.values())


def read_view(kubectl: Kubectl, pod: OvsPod, options: Options) -> OvsView:
    """hw-offload, `dpctl/show`, the Interface table and the flows; KubectlError or
    ValueError (naming what did not parse)."""
    try:
        hw_offload = parse_hw_offload(in_ovs(kubectl, pod, options, GET_HW_OFFLOAD))
    except ValueError as error:
        raise ValueError(f"other_config:hw-offload of {pod.name}: {error}") from None
    ports = parse_dpctl_show(in_ovs(kubectl, pod, options, DPCTL_SHOW))
    try:
        pods = pod_ports(in_ovs(kubectl, pod, options, LIST_INTERFACES))
    except ValueError as error:
        raise ValueError(f"Interface table of {pod.name}: {error}") from None
    return OvsView(hw_offload, ports, pods, read_flows(kubectl, pod, options))


def check_node(
    kubectl: Kubectl,
    node: str,
    pod: OvsPod | None,
    vf_pods: Sequence[VfPod],
    options: Options,
    extra: Mapping[str, Any],
) -> NodeReport:
    """One node's report: its Open vSwitch as read, or the reason it could not be read."""
    base = NodeReport(node, tuple(vf_pods), threshold=options.threshold, **extra)
    if pod is None:
        problem = f"no ovs-ovn pod ({options.selector} in {options.namespace}) on this node"
        return replace(base, problem=problem)
    if not pod.running:
        return replace(base, ovs_pod=pod.name, problem=f"ovs-ovn pod {pod.name} is {pod.phase}")
    try:
        return replace(base, ovs_pod=pod.name, view=read_view(kubectl, pod, options))
    except (KubectlError, ValueError) as error:
        return replace(base, ovs_pod=pod.name, problem=str(error))


def resample(
    kubectl: Kubectl, report: NodeReport, pod: OvsPod | None, options: Options
) -> NodeReport:
    """The report with its flows read again (a `--watch` sample); a failed read keeps none."""
    if report.view is None or pod is None:
        return report
    try:
        view = replace(report.view, flows=read_flows(kubectl, pod, options))
    except (KubectlError, ValueError) as error:
        return replace(report, view=None, problem=str(error))
    return replace(report, view=view)


def between(first: NodeReport, last: NodeReport) -> NodeReport:
    """`last` with only what its flows gained since `first` (flows matched by ufid)."""
    if first.view is None or last.view is None:
        return last
    flows = tuple(since(first.view.flows, last.view.flows))
    return replace(last, view=replace(last.view, flows=flows))


@dataclass(frozen=True)
class Cluster:
    """What the first reads found: the ovs-ovn pod of each node and the node reports."""

    ovs: Mapping[str, OvsPod]
    reports: list[NodeReport]


def collect(kubectl: Kubectl, options: Options) -> Cluster:
    """A report per node that has an ovs-ovn pod, runs VF pods or is an Agilio node, by name."""
    expected = expectations(options)
    try:
        ovs = ovs_pods(
            kubectl.get_json(["get", "pods", "-n", options.namespace, "-l", options.selector])
        )
        if not ovs:
            raise CannotCheckError(
                f"no ovs-ovn pods found (label {options.selector} in namespace "
                f"{options.namespace}): is Kube-OVN installed in this cluster/context? "
                "Pass --namespace or --selector if it runs elsewhere"
            )
        vf = vf_pods_per_node(
            kubectl.get_json(["get", "pods", "--all-namespaces"]), expected.resource
        )
        advertised = advertised_per_node(kubectl.get_json(["get", "nodes"]), expected.resource)
    except KubectlError as error:
        raise CannotCheckError(
            f"{error} (check KUBECONFIG, --context and that the cluster is reachable)"
        ) from None
    agilio = {name for name, seen in advertised.items() if seen.agilio}
    nodes = sorted(set(ovs) | set(vf) | agilio | set(expected.per_node))
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = []
        for node in nodes:
            extra = {
                "registration": registration(node, expected, advertised),
                "resource": expected.resource,
            }
            futures.append(
                pool.submit(
                    check_node, kubectl, node, ovs.get(node), vf.get(node, []), options, extra
                )
            )
        return Cluster(ovs, [future.result() for future in futures])


def sample_again(kubectl: Kubectl, cluster: Cluster, options: Options) -> list[NodeReport]:
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = [
            pool.submit(resample, kubectl, report, cluster.ovs.get(report.node), options)
            for report in cluster.reports
        ]
        return [future.result() for future in futures]


def pause(seconds: float) -> None:
    """Wait between `--watch` samples (a function of its own, so tests can count the waits)."""
    time.sleep(seconds)


def watch(kubectl: Kubectl, cluster: Cluster, options: Options, show: bool) -> list[NodeReport]:
    """Sample every `--watch` seconds, `--samples` reads in all; print each interval's figures
    (when `show`); the reports judge what the flows gained from the first read to the last."""
    first = previous = cluster.reports
    assert options.watch is not None
    for number in range(1, options.samples):
        pause(options.watch)
        current = sample_again(kubectl, cluster, options)
        if show:
            interval = [between(a, b) for a, b in zip(previous, current, strict=True)]
            print(f"sample {number + 1}: the {options.watch:g} s since sample {number}")
            print(render_pods(interval) or "(no VF pods)")
            print()
        previous = current
    return [between(a, b) for a, b in zip(first, previous, strict=True)]


# --- output ---------------------------------------------------------------------------------------


def share_text(share: float | None) -> str:
    """One decimal; never "100.0%" while some packets missed hardware, nor "0.0%" while some hit."""
    if share is None:
        return "-"
    text = f"{share:.1f}"
    if text == "100.0" and share < 100:
        return ">99.9%"
    if text == "0.0" and share > 0:
        return "<0.1%"
    return f"{text}%"


def amount(count: int) -> str:
    """A count in at most 6 characters: exact below 100000, else k/M/G/T with 3 digits."""
    if count < 100_000:
        return str(count)
    value = float(count)
    for unit in ("k", "M", "G", "T", "P"):
        value /= 1000
        if value < 1000:
            return f"{value:.{max(0, 2 - len(str(int(value))) + 1)}f}{unit}"
    return f"{value:.0f}P"


def hw_offload_text(report: NodeReport) -> str:
    if report.hw_offload is None:
        return "-"
    return report.hw_offload or "unset"


def vfs_text(check: Registration | None) -> str:
    """expected/capacity/allocatable of the VF resource."""
    if check is None:
        return "-"
    parts = (check.expected, check.capacity, check.allocatable)
    return "/".join(count_text(part, unknown="-") for part in parts)


def node_row(report: NodeReport) -> list[str]:
    pods = report.pods
    with_traffic = [p for p in pods if p.share is not None]
    passing = [p for p in with_traffic if p.verdict == POD_OFFLOADED]
    shown = f"{len(passing)}/{len(with_traffic)}" if report.checked else "-"
    return [
        report.node,
        str(len(report.vf_pods)),
        vfs_text(report.registration),
        hw_offload_text(report),
        shown,
        report.status,
    ]


def pod_row(report: NodeReport, pod: PodReport) -> list[str]:
    local, tunnel = pod.traffic.local, pod.traffic.tunnel
    return [
        report.node,
        pod.pod.shown,
        ",".join(pod.ports) or "-",
        amount(local.packets),
        share_text(100.0 * local.hw_packets / local.packets if local.packets else None),
        amount(tunnel.packets),
        share_text(100.0 * tunnel.hw_packets / tunnel.packets if tunnel.packets else None),
        share_text(pod.share),
        pod.verdict,
    ]


def table(columns: Sequence[str], rows: Sequence[list[str]], left: set[int]) -> str:
    """Aligned columns (the `left` ones to the left), at most WIDTH wide: the widest left
    column is cut (with "~") to fit."""
    cells = [list(columns), *rows]
    widths = [max(len(row[at]) for row in cells) for at in range(len(columns))]
    over = sum(widths) + 2 * (len(widths) - 1) - WIDTH
    if over > 0:
        cut = max((at for at in left if at != len(columns) - 1), key=lambda at: widths[at])
        widths[cut] = max(len(columns[cut]), widths[cut] - over)
    lines = []
    for row in cells:
        padded = []
        for at, (cell, width) in enumerate(zip(row, widths, strict=True)):
            text = cell if len(cell) <= width or at == len(row) - 1 else cell[: width - 1] + "~"
            padded.append(text.ljust(width) if at in left else text.rjust(width))
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def render_nodes(reports: Iterable[NodeReport]) -> str:
    rows = [node_row(report) for report in reports]
    return table(NODE_COLUMNS, rows, {0, len(NODE_COLUMNS) - 1})


def render_pods(reports: Iterable[NodeReport]) -> str:
    """One row per VF pod of the checked nodes; empty when there are none."""
    rows = [pod_row(report, pod) for report in reports for pod in report.pods]
    return table(POD_COLUMNS, rows, {0, 1, 2, len(POD_COLUMNS) - 1}) if rows else ""


def render_table(reports: Sequence[NodeReport]) -> str:
    pods = render_pods(reports)
    return render_nodes(reports) + (f"\n\n{pods}" if pods else "")


def counts_json(counts: Counts) -> dict[str, int]:
    return {
        "flows": counts.flows,
        "packets": counts.packets,
        "bytes": counts.bytes,
        "offloaded_flows": counts.hw_flows,
        "offloaded_packets": counts.hw_packets,
        "offloaded_bytes": counts.hw_bytes,
    }


def pod_json(pod: PodReport) -> dict[str, Any]:
    return {
        "namespace": pod.pod.namespace,
        "name": pod.pod.name,
        "port": ",".join(pod.ports) or None,
        "local": counts_json(pod.traffic.local),
        "tunnel": counts_json(pod.traffic.tunnel),
        "offloaded_share": None if pod.share is None else round(pod.share, 4),
        "verdict": pod.verdict,
    }


def report_json(report: NodeReport) -> dict[str, Any]:
    check = report.registration
    return {
        "node": report.node,
        "agilio": check is not None,
        "ovs_pod": report.ovs_pod,
        "vf_pods": len(report.vf_pods),
        "vfs_expected": check.expected if check else None,
        "vfs_capacity": check.capacity if check else None,
        "vfs_allocatable": check.allocatable if check else None,
        "registration": check.verdict if check else None,
        "hw_offload": report.offload_on,
        "hw_offload_value": report.hw_offload,
        "threshold": report.threshold,
        "pods": [pod_json(pod) for pod in report.pods],
        "status": report.verdict,
        "findings": [finding.status for finding in report.findings],
        "reason": report.problem,
    }


def exit_code(reports: Sequence[NodeReport]) -> int:
    """1 for any failure, else 2 when a node was not checked, else 3 when one is not proven."""
    worst = [report.worst for report in reports]
    severities = [finding.severity for finding in worst if finding is not None]
    return EXIT_CODES[max(severities)] if severities else EXIT_OK


def wrapped(text: str) -> str:
    """`text` in lines of at most WIDTH columns, the later ones indented by two spaces."""
    return textwrap.fill(
        text, WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def complaints(reports: Iterable[NodeReport]) -> list[str]:
    """One stderr message per finding, each naming its node, wrapped at WIDTH columns."""
    return [
        wrapped(f"verify: {finding.message}") for report in reports for finding in report.findings
    ]


def nothing_to_prove(reports: Sequence[NodeReport], resource: str) -> str | None:
    """A note when every node was checked but none runs a VF pod: no failure, no proof either."""
    if reports and all(r.checked for r in reports) and not any(r.vf_pods for r in reports):
        return (
            f"verify: no node runs a pod with {resource}: nothing shows offload yet; run a pod "
            'on a VF (README "Stack outputs") and check again'
        )
    return None


# --- command line ---------------------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option help (where there is one), the epilog as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


EPILOG = f"""\
A node passes when every VF pod on it that has traffic has at least --threshold percent of its
packets in flows marked offloaded:yes (tc flows in hardware). A pod's flows are those entering
from its OVS port (its VF representor) plus tunnel flows that deliver to it, shown apart.
Datapath flows age out about 10 s after the last packet: run verify while traffic flows, or use
--watch to judge only what the flows gain while you watch.

exit codes:
  {EXIT_OK}  every node checked; every VF pod with traffic offloaded
  {EXIT_FAILED}  a failure: a VF pod below the threshold, hw-offload off, VFs not advertised
  {EXIT_CANNOT_CHECK}  cannot check: kubectl, access, no ovs-ovn pod, output that does not parse
  {EXIT_NOT_PROVEN}  not proven: VF pods, but none has traffic now

example (traffic between two VF pods running, e.g. iperf3 -t 60):
  python -m tools.verify --outputs outputs.json --watch 5 --samples 3
"""


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify",
        description="Check the Agilio nodes: VFs advertised, hw-offload on, and each VF pod's "
        "flows offloaded.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help="ovs-ovn pods' namespace")
    parser.add_argument("--selector", default=DEFAULT_SELECTOR, help="ovs-ovn pods' label")
    parser.add_argument(
        "--resource",
        help=f"the VF extended resource (default: the outputs', or {DEFAULT_RESOURCE})",
    )
    parser.add_argument("--container", default=DEFAULT_CONTAINER, help="ovs-ovn container")
    expected = parser.add_mutually_exclusive_group()
    expected.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="the stack's outputs (`pulumi stack output --json > FILE`): VFs expected per node",
    )
    expected.add_argument(
        "--expect", type=int, metavar="N", help="VFs every Agilio node should advertise"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per kubectl call"
    )
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="nodes checked at once")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="PERCENT",
        help="share of a VF pod's packets that must be offloaded",
    )
    parser.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="sample the flows every SECONDS and judge what they gain (default: one read)",
    )
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="reads in all with --watch"
    )
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if not 0 < args.threshold <= 100:
        parser.error("--threshold must be more than 0 and at most 100")
    if args.watch is not None and args.watch <= 0:
        parser.error("--watch must be more than 0 seconds")
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    if args.timeout <= 0:
        parser.error("--timeout must be more than 0 seconds")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.expect is not None and args.expect < 0:
        parser.error("--expect must be 0 or more VFs")
    return Options(
        context=args.context,
        namespace=args.namespace,
        selector=args.selector,
        resource=args.resource,
        container=args.container,
        timeout=args.timeout,
        jobs=args.jobs,
        as_json=args.as_json,
        outputs=args.outputs,
        expect=args.expect,
        threshold=args.threshold,
        watch=args.watch,
        samples=args.samples,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        kubectl = find_kubectl(options.context, options.timeout)
        cluster = collect(kubectl, options)
    except CannotCheckError as error:
        print(f"verify: cannot check: {error}", file=sys.stderr)
        if options.as_json:
            document = {"ok": False, "exit_code": EXIT_CANNOT_CHECK, "error": str(error)}
            print(json.dumps({**document, "nodes": []}, indent=2))
        return EXIT_CANNOT_CHECK
    reports = cluster.reports
    if options.watch is not None:
        reports = watch(kubectl, cluster, options, show=not options.as_json)
    code = exit_code(reports)
    if options.as_json:
        nodes = [report_json(report) for report in reports]
        document = {"ok": code == EXIT_OK, "exit_code": code, "watch": options.watch}
        print(json.dumps({**document, "nodes": nodes}, indent=2))
    else:
        print(render_table(reports))
    for line in complaints(reports):
        print(line, file=sys.stderr)
    resource = reports[0].resource if reports else options.resource or DEFAULT_RESOURCE
    note = nothing_to_prove(reports, resource)
    if note:
        print(wrapped(note), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
