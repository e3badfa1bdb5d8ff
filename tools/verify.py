"""`python -m tools.verify`: prove the datapath flows are offloaded (runbook step 8).

Usage::

    python -m tools.verify [--context CTX] [--namespace kube-system] [--json]
                           [--resource corigine.com/agilio_sriov] [--container openvswitch]

Runs `kubectl` from PATH (KUBECONFIG from the environment applies as usual; `--context` is passed
on when given):

1. `kubectl get pods -n <namespace> -l app.kubernetes.io/name=kube-ovn-ovs -o json`: the
   ovs-ovn pod of each node (`--selector app=ovs` for Kube-OVN installed by install.sh);
2. `kubectl get pods --all-namespaces -o json`: the Running pods that request or limit the VF
   resource, counted per node;
3. in each Running ovs-ovn pod, `ovs-appctl dpctl/dump-flows -m type=offloaded` and
   `type=non-offloaded` (container `--container`), parsed with `tools.flows`.

It prints one row a node: VF pods, offloaded and not-offloaded flows, packets and bytes, the
offloaded share of the packets and a status: `ok`, `NO OFFLOADED FLOWS` (the node runs VF pods
but not one flow is in hardware) or `cannot check: <reason>`. `--json` prints the same as
`{"ok": ..., "nodes": [...]}`.

Exit codes: 0 every node checked and every node that runs VF pods has offloaded flows; 1 some
node that runs VF pods has no offloaded flow (each named on stderr); 2 cannot check (no kubectl,
cluster unreachable or a kubectl error, no ovs-ovn pods, output that does not parse, a node that
could not be checked), with a one-line error saying what is missing and what to do.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tools.flows import FlowParseError, FlowTotals, parse_dump, summarise

DEFAULT_NAMESPACE = "kube-system"
# The label of the ovs-ovn pods of the kube-ovn-v2 chart this stack installs; Kube-OVN installed
# with install.sh or the older kube-ovn chart labels them app=ovs (use --selector app=ovs).
DEFAULT_SELECTOR = "app.kubernetes.io/name=kube-ovn-ovs"
DEFAULT_RESOURCE = "corigine.com/agilio_sriov"
DEFAULT_CONTAINER = "openvswitch"
DEFAULT_TIMEOUT = 60.0
DEFAULT_JOBS = 8
DUMP_FLOWS = ("ovs-appctl", "dpctl/dump-flows", "-m")

EXIT_OK = 0
EXIT_NOT_OFFLOADED = 1
EXIT_CANNOT_CHECK = 2

STATUS_OK = "ok"
STATUS_NOT_OFFLOADED = "NO OFFLOADED FLOWS"
STATUS_CANNOT_CHECK = "cannot check"

COLUMNS = (
    "NODE",
    "VF PODS",
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
    resource: str
    container: str
    timeout: float
    jobs: int
    as_json: bool


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


# --- flows and per-node reports -------------------------------------------------------------------


@dataclass(frozen=True)
class NodeReport:
    """What one node shows: its VF pods, flow totals and, if it could not be checked, why."""

    node: str
    vf_pods: int
    ovs_pod: str | None = None
    offloaded: FlowTotals = field(default_factory=FlowTotals)
    not_offloaded: FlowTotals = field(default_factory=FlowTotals)
    problem: str | None = None  # set when the node could not be checked

    @property
    def checked(self) -> bool:
        return self.problem is None

    @property
    def failed(self) -> bool:
        """Runs VF pods but not one flow is offloaded."""
        return self.checked and self.vf_pods > 0 and self.offloaded.flows == 0

    @property
    def verdict(self) -> str:
        """ok, NO OFFLOADED FLOWS or cannot check."""
        if not self.checked:
            return STATUS_CANNOT_CHECK
        return STATUS_NOT_OFFLOADED if self.failed else STATUS_OK

    @property
    def status(self) -> str:
        """The verdict, with the reason when the node could not be checked."""
        return self.verdict if self.checked else f"{self.verdict}: {self.problem}"

    @property
    def share(self) -> float | None:
        """Offloaded packets as a percentage of all packets; None when there are none."""
        total = self.offloaded.packets + self.not_offloaded.packets
        if not self.checked or total == 0:
            return None
        return 100.0 * self.offloaded.packets / total


def dump_flows(kubectl: Kubectl, pod: OvsPod, namespace: str, container: str, kind: str) -> str:
    """`ovs-appctl dpctl/dump-flows -m type=<kind>` in the pod's container."""
    exec_args = ["exec", "-n", namespace, pod.name, "-c", container, "--"]
    return kubectl.run([*exec_args, *DUMP_FLOWS, f"type={kind}"])


def check_node(
    kubectl: Kubectl, node: str, pod: OvsPod | None, vf_pods: int, options: Options
) -> NodeReport:
    """One node's report: its flow totals, or the reason they could not be read."""
    if pod is None:
        problem = f"no ovs-ovn pod ({options.selector} in {options.namespace}) on this node"
        return NodeReport(node, vf_pods, problem=problem)
    if not pod.running:
        return NodeReport(node, vf_pods, pod.name, problem=f"ovs-ovn pod {pod.name} is {pod.phase}")
    totals: dict[str, FlowTotals] = {}
    for kind in ("offloaded", "non-offloaded"):
        try:
            output = dump_flows(kubectl, pod, options.namespace, options.container, kind)
            totals[kind] = summarise(parse_dump(output))
        except KubectlError as error:
            return NodeReport(node, vf_pods, pod.name, problem=str(error))
        except FlowParseError as error:
            problem = f"type={kind} dump of {pod.name}: {error}"
            return NodeReport(node, vf_pods, pod.name, problem=problem)
    return NodeReport(node, vf_pods, pod.name, totals["offloaded"], totals["non-offloaded"])


def collect(kubectl: Kubectl, options: Options) -> list[NodeReport]:
    """A report per node that has an ovs-ovn pod or runs VF pods, sorted by node name."""
    try:
        ovs = ovs_pods(
            kubectl.get_json(["get", "pods", "-n", options.namespace, "-l", options.selector])
        )
        if not ovs:
            raise CannotCheckError(
                f"no ovs-ovn pods found (label {options.selector} in namespace "
                f"{options.namespace}): is Kube-OVN installed in this cluster/context? "
                "Pass --namespace if it runs elsewhere"
            )
        vf = vf_pods_per_node(
            kubectl.get_json(["get", "pods", "--all-namespaces"]), options.resource
        )
    except KubectlError as error:
        raise CannotCheckError(
            f"{error} (check KUBECONFIG, --context and that the cluster is reachable)"
        ) from None
    nodes = sorted(set(ovs) | set(vf))
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = [
            pool.submit(check_node, kubectl, node, ovs.get(node), vf.get(node, 0), options)
            for node in nodes
        ]
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


def row(report: NodeReport) -> list[str]:
    numbers: list[str] = ["-"] * 6
    if report.checked:
        on, off = report.offloaded, report.not_offloaded
        values = (on.flows, on.packets, on.bytes, off.flows, off.packets, off.bytes)
        numbers = [str(value) for value in values]
    return [report.node, str(report.vf_pods), *numbers, share_text(report.share), report.status]


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
    return {
        "node": report.node,
        "ovs_pod": report.ovs_pod,
        "vf_pods": report.vf_pods,
        "offloaded_flows": on.flows if on else None,
        "offloaded_packets": on.packets if on else None,
        "offloaded_bytes": on.bytes if on else None,
        "not_offloaded_flows": off.flows if off else None,
        "not_offloaded_packets": off.packets if off else None,
        "not_offloaded_bytes": off.bytes if off else None,
        "offloaded_share": None if report.share is None else round(report.share, 2),
        "status": report.verdict,
        "reason": report.problem,
    }


def exit_code(reports: Sequence[NodeReport]) -> int:
    """1 when a node with VF pods has no offloaded flow, else 2 when a node was not checked."""
    if any(report.failed for report in reports):
        return EXIT_NOT_OFFLOADED
    if any(not report.checked for report in reports):
        return EXIT_CANNOT_CHECK
    return EXIT_OK


def complaints(reports: Iterable[NodeReport]) -> list[str]:
    """One stderr line per node that failed or could not be checked."""
    lines = []
    for report in reports:
        if report.failed:
            lines.append(
                f"verify: node {report.node} runs {report.vf_pods} VF pod(s) but has no "
                f"offloaded flow ({report.not_offloaded.flows} not offloaded): check "
                "hw-offload in Open vSwitch and hw-tc-offload on the VF representors"
            )
        elif not report.checked:
            lines.append(f"verify: cannot check node {report.node}: {report.problem}")
    return lines


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
        description="Check that the datapath flows of each node are offloaded (dp:tc).",
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help="ovs-ovn pods' namespace")
    parser.add_argument("--selector", default=DEFAULT_SELECTOR, help="ovs-ovn pods' label")
    parser.add_argument("--resource", default=DEFAULT_RESOURCE, help="the VF extended resource")
    parser.add_argument("--container", default=DEFAULT_CONTAINER, help="ovs-ovn container")
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
    return Options(
        context=args.context,
        namespace=args.namespace,
        selector=args.selector,
        resource=args.resource,
        container=args.container,
        timeout=args.timeout,
        jobs=args.jobs,
        as_json=args.as_json,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        kubectl = find_kubectl(options.context, options.timeout)
        reports = collect(kubectl, options)
    except CannotCheckError as error:
        print(f"verify: cannot check: {error}", file=sys.stderr)
        if options.as_json:
            print(json.dumps({"ok": False, "error": str(error), "nodes": []}, indent=2))
        return EXIT_CANNOT_CHECK
    code = exit_code(reports)
    if options.as_json:
        nodes = [report_json(report) for report in reports]
        print(json.dumps({"ok": code == EXIT_OK, "nodes": nodes}, indent=2))
    else:
        print(render_table(reports))
    for line in complaints(reports):
        print(line, file=sys.stderr)
    note = nothing_to_prove(reports, options.resource)
    if note:
        print(note, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
