"""A stand-in `kubectl` answering like a cluster described by `scenario.json` (see kubectl_fixture).

Run as `python kubectl_standin.py DIR ARGS...` by the `kubectl` wrapper that `kubectl_fixture`
puts first on PATH; DIR holds `scenario.json`, and this appends each call's argv to
`DIR/argv.log` and counts node reads in `DIR/reads.json`. What it models, and after what:

- flags anywhere on the line, `--flag value` and `--flag=value` (kubectl's cobra/pflag parsing);
  `--context` must name the scenario's context (kubeconfig loading fails otherwise);
- `get pods|nodes|daemonsets [NAME]` with `-n`/`--namespace`, `--all-namespaces`, `-l` equality
  selectors `k=v[,k=v]` (apimachinery labels.Parse), `--field-selector spec.nodeName=N` (the pod
  field selector), `--ignore-not-found`, and `-o json|name|jsonpath=...`; a missing NAME answers
  `Error from server (NotFound)` and exit 1 unless `--ignore-not-found`;
- `-o jsonpath=` and the selectors as the simulated cluster answers them
  (tools/rehearsal/cluster/jsonpath.py and selectors.py, grounded in a real kube-apiserver);
- a node's `status` changes after a number of reads of that node (`status_after_reads`),
  standing for kubelet's periodic node status updates;
- `exec -n NS POD -c C -- CMD`: `ovs-appctl dpctl/dump-flows -m type=offloaded|non-offloaded`
  (recorded text) and `ovs-vsctl --if-exists get Open_vSwitch . other_config:hw-offload`, which
  prints the value quoted as OVSDB strings `true`/`false` are (lib/ovsdb-data.c
  `string_needs_quotes`) or an empty line when the key is absent (lib/db-ctl-base.c `cmd_get`).

- OVS tables for `tools.verify`'s per-pod judgement (kept apart below, `ovs_tables`):
  `ovs-appctl dpctl/show` and `ovs-vsctl --format=json --columns=name,ofport,external_ids list
  Interface`, as recorded text (formats: OVS lib/dpctl.c `show_dpif`, lib/table.c
  `table_print_json__`); `flows` may be a list of dumps, one per `--watch` sample, the next one
  served once both halves (`type=offloaded`, `type=non-offloaded`) of the current were read.

Anything else exits 3 with "stand-in kubectl: unexpected ...", so a wrong command fails a test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Run as a script (`python -S kubectl_standin.py`): the repository root on the path for the
# simulated cluster's jsonpath and selectors.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.rehearsal.cluster import jsonpath, selectors

VALUE_FLAGS = {
    "--context": "context",
    "--kubeconfig": "kubeconfig",
    "-n": "namespace",
    "--namespace": "namespace",
    "-l": "selector",
    "--selector": "selector",
    "--field-selector": "field_selector",
    "-o": "output",
    "--output": "output",
    "-c": "container",
    "--container": "container",
}
BOOL_FLAGS = {"--all-namespaces": "all_namespaces", "-A": "all_namespaces"}
BOOL_FLAGS["--ignore-not-found"] = "ignore_not_found"
KINDS = {
    "pods": ("pods", "pod"),
    "pod": ("pods", "pod"),
    "nodes": ("nodes", "node"),
    "node": ("nodes", "node"),
    "daemonset": ("daemonsets", "daemonset.apps"),
    "daemonsets": ("daemonsets", "daemonset.apps"),
    "ds": ("daemonsets", "daemonset.apps"),
}
HW_OFFLOAD_GET = ["ovs-vsctl", "--if-exists", "get", "Open_vSwitch", ".", "other_config:hw-offload"]
DUMP_FLOWS = ["ovs-appctl", "dpctl/dump-flows", "-m"]


class KubectlError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def unexpected(what: object) -> KubectlError:
    return KubectlError(f"stand-in kubectl: unexpected {what}", 3)


def parse(args: list[str]) -> tuple[list[str], dict[str, Any], list[str]]:
    """(positional words, flags, command after `--`)."""
    words: list[str] = []
    flags: dict[str, Any] = {}
    rest: list[str] = []
    at = 0
    while at < len(args):
        arg = args[at]
        if arg == "--":
            rest = args[at + 1 :]
            break
        name, eq, value = arg.partition("=")
        if name in VALUE_FLAGS:
            if not eq:
                at += 1
                if at == len(args):
                    raise KubectlError(f"error: flag needs an argument: {arg}")
                value = args[at]
            flags[VALUE_FLAGS[name]] = value
        elif arg in BOOL_FLAGS:
            flags[BOOL_FLAGS[arg]] = True
        elif arg.startswith("-"):
            raise unexpected(f"flag {arg}")
        else:
            words.append(arg)
        at += 1
    return words, flags, rest


def labels_match(labels: dict[str, str], selector: str | None) -> bool:
    try:
        return selectors.labels_match(labels, selector)
    except selectors.SelectorError:
        raise unexpected(f"selector {selector}") from None


def field_match(item: dict[str, Any], selector: str | None) -> bool:
    try:
        terms = selectors.parse_fields(selector, "pods")
    except selectors.SelectorError:
        raise unexpected(f"field selector {selector}") from None
    return selectors.fields_match(item, terms, "pods")


# --- the cluster ------------------------------------------------------------------------------


class Cluster:
    def __init__(self, here: Path) -> None:
        self.here = here
        self.scenario = json.loads((here / "scenario.json").read_text())

    def node_objects(self) -> list[dict[str, Any]]:
        reads = self._reads()
        nodes = []
        for name, node in self.scenario.get("nodes", {}).items():
            status: dict[str, Any] = {}
            for after, candidate in node.get("status_after_reads", []):
                if reads.get(name, 0) >= after:
                    status = candidate
            metadata = {"name": name, "labels": node.get("labels", {})}
            nodes.append(
                {"apiVersion": "v1", "kind": "Node", "metadata": metadata, "status": status}
            )
        return nodes

    def objects(self, kind: str) -> list[dict[str, Any]]:
        if kind == "nodes":
            return self.node_objects()
        return self.scenario.get(kind, [])

    def _reads(self) -> dict[str, int]:
        path = self.here / "reads.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def count_read(self, node: str) -> None:
        reads = self._reads()
        reads[node] = reads.get(node, 0) + 1
        (self.here / "reads.json").write_text(json.dumps(reads))

    def get(self, words: list[str], flags: dict[str, Any]) -> str:
        if len(words) not in (2, 3) or words[1] not in KINDS:
            raise unexpected(words)
        kind, name_prefix = KINDS[words[1]]
        items = self.objects(kind)
        if kind != "nodes" and not flags.get("all_namespaces"):
            namespace = flags.get("namespace", "default")
            items = [i for i in items if i["metadata"].get("namespace") == namespace]
        items = [
            i for i in items if labels_match(i["metadata"].get("labels", {}), flags.get("selector"))
        ]
        items = [i for i in items if field_match(i, flags.get("field_selector"))]
        output = flags.get("output")
        if len(words) == 3:
            found = [i for i in items if i["metadata"]["name"] == words[2]]
            if kind == "nodes" and found:
                self.count_read(words[2])
            if not found:
                if flags.get("ignore_not_found"):
                    return ""
                raise KubectlError(f'Error from server (NotFound): {kind} "{words[2]}" not found')
            document: Any = found[0]
        else:
            document = {"apiVersion": "v1", "kind": "List", "items": items}
        if output == "json":
            return json.dumps(document) + "\n"
        if output == "name":
            chosen = [document] if len(words) == 3 else items
            return "".join(f"{name_prefix}/{i['metadata']['name']}\n" for i in chosen)
        if output and output.startswith("jsonpath="):
            return jsonpath.render(output.removeprefix("jsonpath="), document)
        raise unexpected(f"output {output}")

    def exec(self, words: list[str], flags: dict[str, Any], command: list[str]) -> str:
        if len(words) != 2 or "namespace" not in flags or "container" not in flags:
            raise unexpected(["exec", *words])
        pod = words[1]
        answers = self.scenario.get("exec", {})
        if pod not in answers:
            raise KubectlError(f'Error from server (NotFound): pods "{pod}" not found')
        if flags["container"] != answers[pod].get("container", "openvswitch"):
            raise KubectlError(f"error: container {flags['container']} is not valid for pod {pod}")
        if command == HW_OFFLOAD_GET:
            value = answers[pod].get("hw_offload")
            if value is None:
                return "\n"
            return (json.dumps(value) if needs_quotes(value) else value) + "\n"
        if command[:-1] == DUMP_FLOWS and command[-1] in ("type=offloaded", "type=non-offloaded"):
            return self.dump(pod, answers[pod]["flows"], command[-1].removeprefix("type="))
        return ovs_tables(answers[pod], command)

    def dump(self, pod: str, flows: dict[str, str] | list[dict[str, str]], kind: str) -> str:
        """The recorded dump; with a list, sample N = the N-th read of each half."""
        if isinstance(flows, dict):
            return flows[kind]
        path = self.here / "dumps.json"
        reads = json.loads(path.read_text()) if path.exists() else {}
        key = f"{pod} {kind}"
        reads[key] = reads.get(key, 0) + 1
        path.write_text(json.dumps(reads))
        return flows[min(reads[key], len(flows)) - 1][kind]


# --- OVS tables for tools.verify (move with the stand-in to the simulated cluster) -------------

DPCTL_SHOW = ["ovs-appctl", "dpctl/show"]
LIST_INTERFACES = [
    "ovs-vsctl",
    "--format=json",
    "--columns=name,ofport,external_ids",
    "list",
    "Interface",
]


def ovs_tables(answers: dict[str, Any], command: list[str]) -> str:
    """`dpctl/show` and the Interface table as recorded for the pod; a missing recording is
    an empty datapath / table, as a fresh ovs-vswitchd would print."""
    if command == DPCTL_SHOW:
        return answers.get("dpctl_show", "system@ovs-system:\n  port 0: ovs-system (internal)\n")
    if command == LIST_INTERFACES:
        empty = '{"data":[],"headings":["name","ofport","external_ids"]}\n'
        return answers.get("interfaces", empty)
    raise unexpected(command)


def needs_quotes(value: str) -> bool:
    """lib/ovsdb-data.c `string_needs_quotes`: how `ovs-vsctl get` prints a string."""
    if not value or not (value[0].isalpha() or value[0] == "_"):
        return True
    if any(not (char.isalnum() or char in "_-.") for char in value[1:]):
        return True
    return value in ("true", "false")


def main(here: Path, args: list[str]) -> int:
    with open(here / "argv.log", "a") as log:
        log.write(json.dumps(args) + "\n")
    cluster = Cluster(here)
    try:
        if cluster.scenario.get("fail"):
            raise KubectlError(cluster.scenario["fail"])
        words, flags, command = parse(args)
        context = cluster.scenario.get("context")
        if "context" in flags and context not in (None, flags["context"]):
            message = f"error: context was not found for specified context: {flags['context']}"
            raise KubectlError(message)
        if words[:1] == ["get"]:
            sys.stdout.write(cluster.get(words, flags))
        elif words[:1] == ["exec"]:
            sys.stdout.write(cluster.exec(words, flags, command))
        else:
            raise unexpected(words)
    except KubectlError as refused:
        sys.stderr.write(f"{refused}\n")
        return refused.code
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
