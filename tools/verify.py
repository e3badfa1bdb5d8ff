"""`python -m tools.verify`: prove the Agilio nodes are ready and their flows offloaded.

Usage::

    python -m tools.verify [--context CTX] [--namespace kube-system] [--json]
                           [--outputs FILE | --expect N] [--resource corigine.com/agilio_sriov]
                           [--selector app=ovs] [--container openvswitch]

Runs `kubectl` from PATH (KUBECONFIG from the environment applies as usual; `--context` is passed
on when given):

1. `kubectl get pods -n <namespace> -l app=ovs -o json`: the ovs-ovn pod of each node. Both
   installs carry `app: ovs`: install.sh only that, the kube-ovn-v2 chart also
   `app.kubernetes.io/name: kube-ovn-ovs` (`--selector` picks another label);
2. `kubectl get pods --all-namespaces -o json`: the Running pods that request or limit the VF
   resource, counted per node;
3. `kubectl get nodes -o json`: per Agilio node (label `agilio-offload/agilio-cx=true`, and every
   node named in `--outputs`) the resource's `status.capacity` and `status.allocatable`, beside
   the VF count expected: `nodes.<name>.vfs` of `--outputs FILE` (what `pulumi stack output
   --json` prints; its `sriovResource` is the resource unless `--resource` is given) or
   `--expect N` for every Agilio node (the runbook's registration check);
4. in each Running ovs-ovn pod (container `--container`): `ovs-vsctl --if-exists get
   Open_vSwitch . other_config:hw-offload` (what Kube-OVN's start-ovs.sh sets from HW_OFFLOAD;
   unset means off, Open vSwitch's default), then `ovs-appctl dpctl/dump-flows -m
   type=offloaded` and `type=non-offloaded`, parsed with `tools.flows`.

It prints one row a node: VF pods, the VFs expected and advertised, hw-offload, offloaded and
not-offloaded flows, packets and bytes, the offloaded share of the packets and a status: `ok`,
or each finding: `OFFLOAD OFF`, `NO OFFLOADED FLOWS` (VF pods, flows, none in hardware),
`NO TRAFFIC YET` (VF pods but not one datapath flow: offload not proven), `VFS NOT ADVERTISED`,
`FEWER VFS THAN EXPECTED`, `cannot check: <reason>`. `--json` prints the same as
`{"ok": ..., "exit_code": ..., "nodes": [...]}`.

Exit codes (the first that applies):

- 1 a failure: a node has hw-offload off, or runs VF pods whose flows are all outside the
  hardware, or (an Agilio node) advertises no VF or fewer than expected; each named on stderr;
- 2 cannot check: no kubectl, cluster unreachable or a kubectl error, no ovs-ovn pods, an
  unreadable `--outputs` file, output that does not parse, a node that could not be checked;
  a one-line error says what is missing and what to do;
- 3 not proven: every check passed, but a node runs VF pods and has no datapath flow at all
  (no traffic yet): send traffic between VF pods and run again;
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
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.names import AGILIO_NODE_LABEL as AGILIO_LABEL
from components.names import AGILIO_NODE_LABEL_VALUE as AGILIO_LABEL_VALUE
from components.names import DEFAULT_RESOURCE
from tools.flows import FlowParseError, FlowTotals, parse_dump, summarise

DEFAULT_NAMESPACE = "kube-system"
# The ovs-ovn pods' label that every install carries (kube-ovn v1.16.2): install.sh labels them
# `app: ovs` only; the kube-ovn-v2 chart adds `app.kubernetes.io/name: kube-ovn-ovs` and keeps
# `app: ovs` as a legacy label (templates/ovs-ovn/ovs-ovn-daemonset.yaml).
DEFAULT_SELECTOR = "app=ovs"
DEFAULT_CONTAINER = "openvswitch"
DEFAULT_TIMEOUT = 60.0
DEFAULT_JOBS = 8
DUMP_FLOWS = ("ovs-appctl", "dpctl/dump-flows", "-m")
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
STATUS_NOT_OFFLOADED = "NO OFFLOADED FLOWS"
STATUS_NO_TRAFFIC = "NO TRAFFIC YET"
STATUS_VFS_NONE = "VFS NOT ADVERTISED"
STATUS_VFS_FEWER = "FEWER VFS THAN EXPECTED"
STATUS_CANNOT_CHECK = "cannot check"

COLUMNS = (
    "NODE",
    "VF PODS",
    "VFS EXPECTED",
    "VFS CAPACITY",
    "VFS ALLOCATABLE",
    "HW-OFFLOAD",
    "OFFLOADED FLOWS",
    "OFFLOADED PACKETS",
    "OFFLOADED BYTES",
    "NOT-OFFLOADED FLOWS",
    "NOT-OFFLOADED PACKETS",
    "NOT-OFFLOADED BYTES",
    "OFFLOADED SHARE",
    "STATUS",
)


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


def vf_pods_per_node(document: Mapping[str, Any], resource: str) -> dict[str, int]:
    """Running pods scheduled to a node that use the VF resource, counted per node."""
    counts: dict[str, int] = {}
    for item in pod_items(document):
        node = pod_node(item)
        if node and pod_phase(item) == "Running" and requests_resource(item, resource):
            counts[node] = counts.get(node, 0) + 1
    return counts


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
class NodeReport:
    """What one node shows: VF pods, registration, hw-offload, flow totals, or why not."""

    node: str
    vf_pods: int
    ovs_pod: str | None = None
    offloaded: FlowTotals = field(default_factory=FlowTotals)
    not_offloaded: FlowTotals = field(default_factory=FlowTotals)
    problem: str | None = None  # set when the node's Open vSwitch could not be checked
    hw_offload: str | None = None  # other_config:hw-offload as read ("" = not set)
    registration: Registration | None = None
    resource: str = DEFAULT_RESOURCE

    @property
    def checked(self) -> bool:
        """Its Open vSwitch was read (hw-offload and both flow dumps)."""
        return self.problem is None

    @property
    def offload_on(self) -> bool | None:
        return None if self.hw_offload is None else hw_offload_on(self.hw_offload)

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
        if self.vf_pods == 0 or self.offloaded.flows > 0:
            return []
        if self.not_offloaded.flows > 0:
            message = (
                f"node {self.node} runs {self.vf_pods} VF pod(s) but has no offloaded flow "
                f"({self.not_offloaded.flows} not offloaded): check hw-tc-offload on the VF "
                "representors"
            )
            return [Finding(Severity.FAILED, STATUS_NOT_OFFLOADED, message)]
        message = (
            f"node {self.node} runs {self.vf_pods} VF pod(s) but has no datapath flow: no "
            "traffic yet, offload not proven; send traffic between VF pods and run again"
        )
        return [Finding(Severity.NOT_PROVEN, STATUS_NO_TRAFFIC, message)]

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
        """Every finding's status (with the reason when the node could not be checked)."""
        shown = [
            f"{f.status}: {self.problem}" if f.status == STATUS_CANNOT_CHECK else f.status
            for f in self.findings
        ]
        return ", ".join(shown) or STATUS_OK

    @property
    def share(self) -> float | None:
        """Offloaded packets as a percentage of all packets; None when there are none."""
        total = self.offloaded.packets + self.not_offloaded.packets
        if not self.checked or total == 0:
            return None
        return 100.0 * self.offloaded.packets / total


def count_text(count: int | None, unknown: str = "none") -> str:
    return unknown if count is None else str(count)


def in_ovs(kubectl: Kubectl, pod: OvsPod, options: Options, command: Sequence[str]) -> str:
    """stdout of `command` in the pod's Open vSwitch container."""
    exec_args = ["exec", "-n", options.namespace, pod.name, "-c", options.container, "--"]
    return kubectl.run([*exec_args, *command])


def dump_flows(kubectl: Kubectl, pod: OvsPod, options: Options, kind: str) -> str:
    """`ovs-appctl dpctl/dump-flows -m type=<kind>` in the pod's container."""
    return in_ovs(kubectl, pod, options, [*DUMP_FLOWS, f"type={kind}"])


def check_node(
    kubectl: Kubectl,
    node: str,
    pod: OvsPod | None,
    vf_pods: int,
    options: Options,
    extra: Mapping[str, Any],
) -> NodeReport:
    """One node's report: hw-offload and flow totals, or the reason they could not be read."""
    if pod is None:
        problem = f"no ovs-ovn pod ({options.selector} in {options.namespace}) on this node"
        return NodeReport(node, vf_pods, problem=problem, **extra)
    if not pod.running:
        problem = f"ovs-ovn pod {pod.name} is {pod.phase}"
        return NodeReport(node, vf_pods, pod.name, problem=problem, **extra)
    try:
        hw_offload = parse_hw_offload(in_ovs(kubectl, pod, options, GET_HW_OFFLOAD))
    except KubectlError as error:
        return NodeReport(node, vf_pods, pod.name, problem=str(error), **extra)
    except ValueError as error:
        problem = f"other_config:hw-offload of {pod.name}: {error}"
        return NodeReport(node, vf_pods, pod.name, problem=problem, **extra)
    totals: dict[str, FlowTotals] = {}
    for kind in ("offloaded", "non-offloaded"):
        try:
            totals[kind] = summarise(parse_dump(dump_flows(kubectl, pod, options, kind)))
        except KubectlError as error:
            return NodeReport(node, vf_pods, pod.name, problem=str(error), **extra)
        except FlowParseError as error:
            problem = f"type={kind} dump of {pod.name}: {error}"
            return NodeReport(node, vf_pods, pod.name, problem=problem, **extra)
    return NodeReport(
        node,
        vf_pods,
        pod.name,
        totals["offloaded"],
        totals["non-offloaded"],
        hw_offload=hw_offload,
        **extra,
    )


def collect(kubectl: Kubectl, options: Options) -> list[NodeReport]:
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
                    check_node, kubectl, node, ovs.get(node), vf.get(node, 0), options, extra
                )
            )
        return [future.result() for future in futures]


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


def hw_offload_text(report: NodeReport) -> str:
    if report.hw_offload is None:
        return "-"
    return report.hw_offload or "unset"


def registration_cells(check: Registration | None) -> list[str]:
    if check is None:
        return ["-", "-", "-"]
    return [
        count_text(check.expected, unknown="-"),
        count_text(check.capacity),
        count_text(check.allocatable),
    ]


def row(report: NodeReport) -> list[str]:
    numbers: list[str] = ["-"] * 6
    if report.checked:
        on, off = report.offloaded, report.not_offloaded
        values = (on.flows, on.packets, on.bytes, off.flows, off.packets, off.bytes)
        numbers = [str(value) for value in values]
    return [
        report.node,
        str(report.vf_pods),
        *registration_cells(report.registration),
        hw_offload_text(report),
        *numbers,
        share_text(report.share),
        report.status,
    ]


def render_table(reports: Iterable[NodeReport]) -> str:
    """Aligned columns: names and status to the left, numbers to the right."""
    rows = [list(COLUMNS), *(row(report) for report in reports)]
    widths = [max(len(cells[column]) for cells in rows) for column in range(len(COLUMNS))]
    lines = []
    for cells in rows:
        padded = [
            cell.ljust(width) if column in (0, len(COLUMNS) - 1) else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def report_json(report: NodeReport) -> dict[str, Any]:
    on = report.offloaded if report.checked else None
    off = report.not_offloaded if report.checked else None
    check = report.registration
    return {
        "node": report.node,
        "agilio": check is not None,
        "ovs_pod": report.ovs_pod,
        "vf_pods": report.vf_pods,
        "vfs_expected": check.expected if check else None,
        "vfs_capacity": check.capacity if check else None,
        "vfs_allocatable": check.allocatable if check else None,
        "registration": check.verdict if check else None,
        "hw_offload": report.offload_on,
        "hw_offload_value": report.hw_offload,
        "offloaded_flows": on.flows if on else None,
        "offloaded_packets": on.packets if on else None,
        "offloaded_bytes": on.bytes if on else None,
        "not_offloaded_flows": off.flows if off else None,
        "not_offloaded_packets": off.packets if off else None,
        "not_offloaded_bytes": off.bytes if off else None,
        "offloaded_share": None if report.share is None else round(report.share, 2),
        "status": report.verdict,
        "findings": [finding.status for finding in report.findings],
        "reason": report.problem,
    }


def exit_code(reports: Sequence[NodeReport]) -> int:
    """1 for any failure, else 2 when a node was not checked, else 3 when one is not proven."""
    worst = [report.worst for report in reports]
    severities = [finding.severity for finding in worst if finding is not None]
    return EXIT_CODES[max(severities)] if severities else EXIT_OK


def complaints(reports: Iterable[NodeReport]) -> list[str]:
    """One stderr line per finding, each naming its node."""
    return [f"verify: {finding.message}" for report in reports for finding in report.findings]


def nothing_to_prove(reports: Sequence[NodeReport], resource: str) -> str | None:
    """A note when every node was checked but none runs a VF pod: no failure, no proof either."""
    if reports and all(r.checked for r in reports) and not any(r.vf_pods for r in reports):
        return (
            f"verify: no node runs a pod with {resource}: nothing shows offload yet; run a pod "
            'on a VF (README "Stack outputs") and check again'
        )
    return None


# --- command line ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify",
        description="Check the Agilio nodes: VFs advertised, hw-offload on, flows offloaded.",
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
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
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
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        kubectl = find_kubectl(options.context, options.timeout)
        reports = collect(kubectl, options)
    except CannotCheckError as error:
        print(f"verify: cannot check: {error}", file=sys.stderr)
        if options.as_json:
            document = {"ok": False, "exit_code": EXIT_CANNOT_CHECK, "error": str(error)}
            print(json.dumps({**document, "nodes": []}, indent=2))
        return EXIT_CANNOT_CHECK
    code = exit_code(reports)
    if options.as_json:
        nodes = [report_json(report) for report in reports]
        print(json.dumps({"ok": code == EXIT_OK, "exit_code": code, "nodes": nodes}, indent=2))
    else:
        print(render_table(reports))
    for line in complaints(reports):
        print(line, file=sys.stderr)
    resource = reports[0].resource if reports else options.resource or DEFAULT_RESOURCE
    note = nothing_to_prove(reports, resource)
    if note:
        print(note, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
