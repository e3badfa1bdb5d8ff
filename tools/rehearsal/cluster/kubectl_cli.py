"""`kubectl` against the simulated cluster: the calls the stack's scripts and tools/verify.py make,
answered in kubectl's formats, messages and exit codes (kubectl v1.34, `staging/src/k8s.io/
kubectl/pkg/cmd/...`, named per command below).

Run as `python -m tools.rehearsal.cluster.kubectl_cli STATE_DIR ARGS...` by the `kubectl` wrapper
that `SimCluster.env()` puts first on PATH. Every call is logged with its answer and the virtual
seconds it took (a drain blocked by a PodDisruptionBudget costs its whole `--timeout` of virtual
time, no real time). Anything outside the modelled subset exits 3 with
"simulated kubectl: unsupported ...", so a new kubectl call in the stack fails its tests loudly.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.rehearsal.cluster import behaviours, jsonpath, selectors
from tools.rehearsal.cluster.store import APIError, State, Store, key_of, namespaced

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
    "--timeout": "timeout",
    "--grace-period": "grace_period",
    "--for": "for",
}
BOOL_FLAGS = {
    "--all-namespaces": "all_namespaces",
    "-A": "all_namespaces",
    "--ignore-not-found": "ignore_not_found",
    "--ignore-daemonsets": "ignore_daemonsets",
    "--delete-emptydir-data": "delete_emptydir_data",
    "--force": "force",
    "--overwrite": "overwrite",
    "--wait": "wait",
    "--all": "all",
    "-i": "stdin",
    "--stdin": "stdin",
}
# kubectl's names for kinds -> (resource, the name `-o name` and messages print)
KINDS = {
    **{k: ("pods", "pod") for k in ("pod", "pods", "po")},
    **{k: ("nodes", "node") for k in ("node", "nodes", "no")},
    **{k: ("daemonsets.apps", "daemonset.apps") for k in ("daemonset", "daemonsets", "ds")},
    **{k: ("deployments.apps", "deployment.apps") for k in ("deployment", "deployments", "deploy")},
    **{k: ("configmaps", "configmap") for k in ("configmap", "configmaps", "cm")},
    **{
        k: ("serviceaccounts", "serviceaccount")
        for k in ("serviceaccount", "serviceaccounts", "sa")
    },
    **{k: ("namespaces", "namespace") for k in ("namespace", "namespaces", "ns")},
    **{
        k: (
            "network-attachment-definitions.k8s.cni.cncf.io",
            "network-attachment-definition.k8s.cni.cncf.io",
        )
        for k in (
            "network-attachment-definitions.k8s.cni.cncf.io",
            "network-attachment-definitions",
            "network-attachment-definition",
            "net-attach-def",
        )
    },
    **{k: ("replicasets.apps", "replicaset.apps") for k in ("replicaset", "replicasets", "rs")},
    **{
        k: ("poddisruptionbudgets.policy", "poddisruptionbudget.policy")
        for k in ("pdb", "poddisruptionbudget", "poddisruptionbudgets")
    },
    **{
        k: (
            "customresourcedefinitions.apiextensions.k8s.io",
            "customresourcedefinition.apiextensions.k8s.io",
        )
        for k in ("crd", "crds", "customresourcedefinition", "customresourcedefinitions")
    },
}
HW_OFFLOAD_GET = ["ovs-vsctl", "--if-exists", "get", "Open_vSwitch", ".", "other_config:hw-offload"]
DUMP_FLOWS = ["ovs-appctl", "dpctl/dump-flows", "-m"]
DPCTL_SHOW = ["ovs-appctl", "dpctl/show"]
LIST_INTERFACES = [
    "ovs-vsctl",
    "--format=json",
    "--columns=name,ofport,external_ids",
    "list",
    "Interface",
]
# An ovs-ovn pod's answers before `SimCluster.set_ovs` says otherwise: an empty datapath
# (lib/dpctl.c `show_dpif` prints the datapath line alone) and an empty Interface table
# (lib/table.c `table_print_json__`: headings, no rows).
EMPTY_DPCTL_SHOW = "system@ovs-system:\n  lookups: hit:0 missed:0 lost:0\n  flows: 0\n"
EMPTY_INTERFACES = {"data": [], "headings": ["name", "ofport", "external_ids"]}
WEEK = 168 * 3600.0


class KubectlError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def unsupported(what: object) -> KubectlError:
    return KubectlError(f"simulated kubectl: unsupported {what}", 3)


@dataclass
class Call:
    words: list[str]
    flags: dict[str, Any]
    command: list[str]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def namespace(self) -> str:
        return str(self.flags.get("namespace") or "default")


def parse(args: list[str]) -> Call:
    """cobra/pflag: flags anywhere, `--f v` or `--f=v`, `-n v`, `-nv`, `-ojson`; `--` ends."""
    call = Call([], {}, [])
    at = 0
    while at < len(args):
        arg = args[at]
        if arg == "--":
            call.command = args[at + 1 :]
            break
        name, eq, value = arg.partition("=")
        if name in VALUE_FLAGS:
            if not eq:
                at += 1
                if at == len(args):
                    raise KubectlError(f"error: flag needs an argument: {arg}")
                value = args[at]
            call.flags[VALUE_FLAGS[name]] = value
        elif name in BOOL_FLAGS:
            call.flags[BOOL_FLAGS[name]] = value.lower() != "false" if eq else True
        elif re.fullmatch(r"-[nlocA][^-].*", arg) and arg[:2] in VALUE_FLAGS:
            call.flags[VALUE_FLAGS[arg[:2]]] = arg[2:].lstrip("=")
        elif arg.startswith("-"):
            raise unsupported(f"flag {arg}")
        else:
            call.words.append(arg)
        at += 1
    return call


def duration(text: str | None, default: float) -> float:
    """A Go duration (`600s`, `5m`, `1m30s`) or plain seconds; None: `default`."""
    if text is None:
        return default
    if re.fullmatch(r"\d+", text):
        return float(text)
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def go_duration(seconds: float) -> str:
    """time.Duration.String: 600s -> 10m0s, 90s -> 1m30s."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def kind_of(word: str) -> tuple[str, str]:
    if word not in KINDS:
        raise KubectlError(f'error: the server doesn\'t have a resource type "{word}"')
    return KINDS[word]


def go_json(document: Any) -> str:
    """kubectl's JSONPrinter: 4-space indent, keys sorted (unstructured maps), HTML escaped."""
    text = json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


# --- get --------------------------------------------------------------------------------------


def select(state: State, call: Call, resource: str) -> list[dict[str, Any]]:
    namespace = None if call.flags.get("all_namespaces") else call.namespace()
    items = state.list(resource, namespace if namespaced(resource) else None)
    try:
        terms = selectors.parse_fields(call.flags.get("field_selector"), resource.split(".")[0])
        requirements = call.flags.get("selector")
        selectors.parse_labels(requirements)
    except selectors.SelectorError as refused:
        # Recorded: the list handler's wrapping (registry/generic/registry/store.go `List`).
        group = resource.split(".", 1)[1] if "." in resource else ""
        version = "apps/v1" if group == "apps" else (f"{group}/v1" if group else "/v1")
        label_selector = call.flags.get("selector") or ""
        field_selector = call.flags.get("field_selector") or ""
        raise KubectlError(
            f'Error from server (BadRequest): Unable to find "{version}, '
            f'Resource={resource.split(".")[0]}" that match label selector "{label_selector}", '
            f'field selector "{field_selector}": {refused}'
        ) from None
    return [
        item
        for item in items
        if behaviours.labels_selected(item, requirements)
        and selectors.fields_match(item, terms, resource.split(".")[0])
    ]


def check_access(state: State, call: Call, resource: str) -> None:
    """A denial set by `SimCluster.deny`, as kube-apiserver words it: apiserver
    `responsewriters.forbiddenMessage` ("User U cannot VERB resource R in API group G in the
    namespace N" / "at the cluster scope") inside apimachinery `errors.NewForbidden`
    ("R.G \"NAME\" is forbidden: ..."; without a name for a list)."""
    name = call.words[2] if len(call.words) == 3 else ""
    for denied, denied_name in state.data["settings"].get("forbidden", []):
        if denied != resource or denied_name not in ("*", name):
            continue
        plural, _dot, group = resource.partition(".")
        verb = "get" if name else "list"
        scope = "at the cluster scope"
        if namespaced(resource) and not call.flags.get("all_namespaces"):
            scope = f'in the namespace "{call.namespace()}"'
        subject = f'{resource} "{name}"' if name else resource
        raise KubectlError(
            f'Error from server (Forbidden): {subject} is forbidden: User "sim" cannot {verb} '
            f'resource "{plural}" in API group "{group}" {scope}'
        )


def get(state: State, call: Call) -> None:
    """get.go `RunGet`: one object by name (NotFound unless --ignore-not-found) or a List."""
    if len(call.words) not in (2, 3):
        raise unsupported(call.words)
    resource, printed = kind_of(call.words[1])
    check_access(state, call, resource)
    output = call.flags.get("output")
    if len(call.words) == 3:
        namespace = call.namespace() if namespaced(resource) else ""
        found = state.get(resource, namespace, call.words[2])
        if found is None:
            if call.flags.get("ignore_not_found"):
                return
            raise KubectlError(
                f'Error from server (NotFound): {resource} "{call.words[2]}" not found'
            )
        items = [found]
        document: Any = found
    else:
        items = select(state, call, resource)
        document = {
            "apiVersion": "v1",
            "items": items,
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }
    if output == "json":
        call.out.append(go_json(document))
    elif output == "name":
        call.out += [f"{printed}/{item['metadata']['name']}\n" for item in items]
    elif output and output.startswith("jsonpath="):
        try:
            call.out.append(jsonpath.render(output.removeprefix("jsonpath="), document))
        except jsonpath.JSONPathError as refused:
            raise KubectlError(f"error: error parsing jsonpath {output}, {refused}") from None
    else:
        raise unsupported(f"output {output}")


# --- delete -----------------------------------------------------------------------------------


def delete(state: State, call: Call) -> None:
    """delete.go `DeleteResult`: deletes, prints `pod "NAME" deleted`, then waits for each to be
    gone, up to --timeout (0: a week, `effectiveTimeout = 168 * time.Hour`), --wait defaults to
    true (`delete_flags.go`)."""
    if len(call.words) < 2:
        raise unsupported(call.words)
    resource, printed = kind_of(call.words[1])
    if resource != "pods":
        delete_objects(state, call, resource, printed)
        return
    if len(call.words) > 2:
        targets = []
        for name in call.words[2:]:
            found = state.get(resource, call.namespace(), name)
            if found is None:
                if not call.flags.get("ignore_not_found"):
                    raise KubectlError(f'Error from server (NotFound): pods "{name}" not found')
                continue
            targets.append(found)
    else:
        if not (
            call.flags.get("selector") or call.flags.get("field_selector") or call.flags.get("all")
        ):
            raise KubectlError("error: resource(s) were provided, but no name was specified")
        targets = select(state, call, resource)
        if not targets:
            # Recorded (v1.36.2): on stdout, with or without --ignore-not-found.
            call.out.append("No resources found\n")
    for pod in targets:
        behaviours.delete_pod(state, copy.deepcopy(pod), "kubectl")
        # Recorded (v1.36.2): the namespace is named.
        namespace = pod["metadata"]["namespace"]
        call.out.append(
            f'{printed} "{pod["metadata"]["name"]}" deleted from {namespace} namespace\n'
        )
    if call.flags.get("wait") is False or not targets:
        return
    timeout = duration(call.flags.get("timeout"), 0.0) or WEEK
    uids = {pod["metadata"]["uid"]: pod for pod in targets}

    def gone() -> bool:
        return all(
            (found := state.get("pods", p["metadata"]["namespace"], p["metadata"]["name"])) is None
            or found["metadata"]["uid"] != uid
            for uid, p in uids.items()
        )

    if not wait_until(state, gone, timeout):
        left = [p for uid, p in uids.items() if not gone_one(state, p, uid)]
        name = left[0]["metadata"]["name"]
        raise KubectlError(f"error: timed out waiting for the condition on pods/{name}")


def delete_objects(state: State, call: Call, resource: str, printed: str) -> None:
    """`kubectl delete KIND NAME...` of objects without a graceful phase: gone at once, their
    dependents deleted by the garbage collector (background propagation)."""
    if len(call.words) < 3:
        raise unsupported(call.words)
    namespace = call.namespace() if namespaced(resource) else ""
    for name in call.words[2:]:
        live = state.get(resource, namespace, name)
        if live is None:
            if call.flags.get("ignore_not_found"):
                continue
            raise KubectlError(f'Error from server (NotFound): {resource} "{name}" not found')
        state.remove(resource, namespace, name)
        # Imported here: the front-end runs once per kubectl call, and only this verb needs it.
        from tools.rehearsal.cluster import apply

        apply.collect_garbage(state, live)
        where = f" from {namespace} namespace" if namespace else ""
        call.out.append(f'{printed} "{name}" deleted{where}\n')


def gone_one(state: State, pod: dict[str, Any], uid: str) -> bool:
    found = state.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
    return found is None or found["metadata"]["uid"] != uid


def wait_until(state: State, done: Any, timeout: float, interval: float = 1.0) -> bool:
    """Poll `done` every `interval` virtual seconds while the cluster ticks; when the cluster
    has settled and `done` is still false, the rest of the timeout passes at once."""
    deadline = state.clock + timeout
    while True:
        if done():
            return True
        if state.clock >= deadline:
            return False
        state.advance(interval)
        if not behaviours.tick(state) and not done():
            state.data["clock"] = max(state.clock, deadline)
            behaviours.tick(state)
            return bool(done())


# --- cordon, uncordon, drain ------------------------------------------------------------------


def set_unschedulable(state: State, call: Call, name: str, value: bool) -> bool:
    """cordon.go `CordonHelper.PatchOrReplace` (field manager "kubectl-cordon"); False when the
    node already is so ("already cordoned")."""
    node = state.get("nodes", "", name)
    if node is None:
        raise KubectlError(f'Error from server (NotFound): nodes "{name}" not found')
    if bool(node.get("spec", {}).get("unschedulable")) == value:
        return False
    changed = copy.deepcopy(node)
    if value:
        changed.setdefault("spec", {})["unschedulable"] = True
    else:
        changed.get("spec", {}).pop("unschedulable", None)
    state.write(changed, "kubectl-cordon")
    return True


def cordon(state: State, call: Call, value: bool) -> None:
    if len(call.words) != 2:
        raise unsupported(call.words)
    name = call.words[1]
    verb = "cordoned" if value else "uncordoned"
    if set_unschedulable(state, call, name, value):
        call.out.append(f"node/{name} {verb}\n")
    else:
        call.out.append(f"node/{name} already {verb}\n")
    behaviours.tick(state)


@dataclass
class Eviction:
    pod: dict[str, Any]
    next_try: float = 0.0
    evicted: bool = False
    done: bool = False
    error: str | None = None


def drain(state: State, call: Call) -> None:
    """cmd/drain/drain.go `RunDrain` + pkg/drain `GetPodsForDeletion` (filters.go) and
    `evictPods`: cordon, refuse on unfiltered pods, evict all in parallel, retry a 429 every
    5 s, wait for each pod to be gone, give up at --timeout (0: never)."""
    if len(call.words) != 2:
        raise unsupported(call.words)
    name = call.words[1]
    cordoned = set_unschedulable(state, call, name, True)
    call.out.append(f"node/{name} {'cordoned' if cordoned else 'already cordoned'}\n")
    pods, problems, ignored = pods_for_deletion(state, call, name)
    if problems:
        error = "; ".join(problems) if len(problems) > 1 else problems[0]
        if len(problems) > 1:
            error = "[" + ", ".join(problems) + "]"
        call.err.append(
            f'error: unable to drain node "{name}" due to error: {error}, continuing command...\n'
        )
        call.err.append(f"There are pending nodes to be drained:\n {name}\n")
        raise KubectlError(error)
    if ignored:
        call.err.append(f"Warning: {'; '.join(ignored)}\n")
    timeout = duration(call.flags.get("timeout"), 0.0)
    errors = evict_all(state, call, pods, timeout)
    if not errors:
        call.out.append(f"node/{name} drained\n")
        return
    error = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    pending, _problems, _ignored = pods_for_deletion(state, call, name)
    if pending:
        call.err.append(
            f'There are pending pods in node "{name}" when an error occurred: {error}\n'
        )
        call.err += [f"pod/{p['metadata']['name']}\n" for p in pending]
    call.err.append(
        f'error: unable to drain node "{name}" due to error: {error}, continuing command...\n'
    )
    call.err.append(f"There are pending nodes to be drained:\n {name}\n")
    raise KubectlError(error)


def pods_for_deletion(
    state: State, call: Call, node: str
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """pkg/drain/filters.go `GetPodsForDeletion`: (pods to evict, errors, warnings). The
    filters run in `makeFilters` order (DaemonSet, local storage, no controller) and the first
    that refuses a pod names it; --force and --ignore-daemonsets turn refusals into warnings
    (recorded: "Warning: deleting Pods that declare no controller: ...; ignoring DaemonSet-managed
    Pods: ...")."""
    pods = [p for p in state.list("pods") if p["spec"].get("nodeName") == node]
    evict, ignored, forced = [], [], []
    no_controller, local, daemons = [], [], []
    for pod in pods:
        ref = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        owner = behaviours.controller_of(pod)
        finished = pod["status"].get("phase") in ("Succeeded", "Failed")
        if owner and owner.get("kind") == "DaemonSet" and not finished:
            (ignored if call.flags.get("ignore_daemonsets") else daemons).append(ref)
            continue
        local_storage = any("emptyDir" in v for v in pod["spec"].get("volumes") or [])
        if local_storage and not finished and not call.flags.get("delete_emptydir_data"):
            local.append(ref)
            continue
        if not owner and not finished:
            if not call.flags.get("force"):
                no_controller.append(ref)
                continue
            forced.append(ref)
        evict.append(pod)
    problems = []
    if no_controller:
        problems.append(
            "cannot delete Pods that declare no controller (use --force to override): "
            + ", ".join(no_controller)
        )
    if daemons:
        problems.append(
            "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
            + ", ".join(daemons)
        )
    if local:
        problems.append(
            "cannot delete Pods with local storage (use --delete-emptydir-data to override): "
            + ", ".join(local)
        )
    warnings = []
    if forced:
        warnings.append(f"deleting Pods that declare no controller: {', '.join(forced)}")
    if ignored:
        warnings.append(f"ignoring DaemonSet-managed Pods: {', '.join(ignored)}")
    return evict, problems, warnings


def evict(state: State, pod: dict[str, Any]) -> APIError | None:
    """The eviction subresource (registry/core/pod/storage/eviction.go `Create`,
    `checkAndDecrement`): a Pending/finished/terminating pod skips the PDB check
    (`canIgnorePDB`); more than one PDB -> 500; a PDB with no disruption left -> 429."""
    live = state.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
    if live is None or live["metadata"]["uid"] != pod["metadata"]["uid"]:
        return APIError("NotFound", 404, f'pods "{pod["metadata"]["name"]}" not found')
    ignore_pdb = live["status"].get("phase") in (
        "Pending",
        "Succeeded",
        "Failed",
    ) or behaviours.terminating(live)
    if not ignore_pdb:
        budgets = [
            b
            for b in state.list("poddisruptionbudgets.policy", live["metadata"]["namespace"])
            if selectors.match_labels_selector(b["spec"].get("selector"), behaviours.labels(live))
        ]
        if len(budgets) > 1:
            return APIError(
                "InternalError",
                500,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support.",
            )
        if budgets:
            budget = budgets[0]
            if (budget.get("status") or {}).get("disruptionsAllowed", 0) <= 0:
                return APIError(
                    "TooManyRequests",
                    429,
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                )
            budget["status"]["disruptionsAllowed"] -= 1
            state.write(budget, "kube-apiserver")
    behaviours.delete_pod(state, copy.deepcopy(live), "kubectl")
    return None


def evict_all(state: State, call: Call, pods: list[dict[str, Any]], timeout: float) -> list[str]:
    """pkg/drain/drain.go `evictPods`, one goroutine per pod, in virtual seconds."""
    global_timeout = timeout or float("inf")
    shown = go_duration(timeout) if timeout else "2562047h47m16.854775807s"
    deadline = state.clock + global_timeout
    work = [Eviction(pod) for pod in pods]
    while not all(item.done for item in work):
        for item in work:
            if item.done or item.evicted or item.next_try > state.clock:
                continue
            pod_name = item.pod["metadata"]["name"]
            namespace = item.pod["metadata"]["namespace"]
            call.out.append(f"evicting pod {namespace}/{pod_name}\n")
            if state.clock >= deadline:
                item.error = (
                    f'error when evicting pods/"{pod_name}" -n "{namespace}": '
                    f"global timeout reached: {shown}"
                )
                item.done = True
                continue
            refused = evict(state, item.pod)
            if refused is None:
                item.evicted = True
            elif refused.reason == "NotFound":
                item.done = True
            elif refused.reason == "TooManyRequests":
                call.err.append(
                    f'error when evicting pods/"{pod_name}" -n "{namespace}" '
                    f"(will retry after 5s): {refused.message}\n"
                )
                item.next_try = state.clock + 5
            else:
                item.error = (
                    f'error when evicting pods/"{pod_name}" -n "{namespace}": {refused.message}'
                )
                item.done = True
        for item in work:
            if item.evicted and not item.done:
                if gone_one(state, item.pod, item.pod["metadata"]["uid"]):
                    call.out.append(f"pod/{item.pod['metadata']['name']} evicted\n")
                    item.done = True
                elif state.clock >= deadline:
                    item.error = (
                        f'error when waiting for pod "{item.pod["metadata"]["name"]}" in namespace '
                        f'"{item.pod["metadata"]["namespace"]}" to terminate: '
                        "context deadline exceeded"
                    )
                    item.done = True
        if all(item.done for item in work):
            break
        state.advance(1.0)
        changed = behaviours.tick(state)
        waiting = [i for i in work if not i.done and not i.evicted]
        if not changed and waiting and not any(i.evicted and not i.done for i in work):
            # Nothing moves: jump to the next retry.
            next_try = min(i.next_try for i in waiting)
            if next_try > state.clock:
                state.data["clock"] = next_try
        elif not changed and not waiting and state.clock < deadline:
            if deadline == float("inf"):
                raise unsupported("a drain that never ends (no --timeout, a pod never goes away)")
            state.data["clock"] = deadline
    return [item.error for item in work if item.error]


# --- annotate, label --------------------------------------------------------------------------


def annotate(state: State, call: Call, section: str) -> None:
    """annotate.go / label.go `RunAnnotate`/`RunLabel`: `k=v` sets (refused without
    --overwrite when k has another value), `k-` removes; field manager "kubectl-annotate" /
    "kubectl-label". A missing object is the resource builder's GET answer (NotFound, exit 1):
    neither ever creates one."""
    if len(call.words) < 4:
        raise unsupported(call.words)
    resource, printed = kind_of(call.words[1])
    name = call.words[2]
    namespace = call.namespace() if namespaced(resource) else ""
    live = state.get(resource, namespace, name)
    if live is None:
        raise KubectlError(f'Error from server (NotFound): {resource} "{name}" not found')
    changed = copy.deepcopy(live)
    values = changed["metadata"].setdefault(section, {})
    added: set[str] = set()
    removed: set[str] = set()
    for change in call.words[3:]:
        if change.endswith("-") and "=" not in change:
            key = change[:-1]
            if key in values:
                removed.add(key)
            elif section == "labels":
                # label.go `RunLabel`: said before the object's line, still exit 0.
                call.out.append(f'label "{key}" not found.\n')
            values.pop(key, None)
            continue
        key, _eq, value = change.partition("=")
        if key in values and values[key] != value and not call.flags.get("overwrite"):
            raise KubectlError(_overwrite_refused(section, key, values[key]))
        if values.get(key) != value:
            added.add(key)
        values[key] = value
    if not values:
        del changed["metadata"][section]
    if changed != live:
        manager = "kubectl-annotate" if section == "annotations" else "kubectl-label"
        state.write(changed, manager)
    if section == "annotations":
        # Recorded (v1.36.2): annotate says "annotated" also when nothing changed.
        call.out.append(f"{printed}/{name} annotated\n")
        return
    # label.go `updateDataChangeMsg`.
    verb = "not labeled"
    if added and removed:
        verb = "modified"
    elif added:
        verb = "labeled"
    elif removed:
        verb = "unlabeled"
    call.out.append(f"{printed}/{name} {verb}\n")


def _overwrite_refused(section: str, key: str, value: str) -> str:
    """Recorded (v1.36.2): annotate.go and label.go `validateNoOverwrites` word it apart."""
    if section == "labels":
        return f"error: '{key}' already has a value ({value}), and --overwrite is false"
    return (
        "error: --overwrite is false but found the following declared annotation(s): "
        f"'{key}' already has a value ({value})"
    )


# --- rollout status ---------------------------------------------------------------------------


def rollout_status(state: State, call: Call) -> None:
    """rollout_status.go + polymorphichelpers `DaemonSetStatusViewer.Status`."""
    if call.words[:2] != ["rollout", "status"] or len(call.words) != 3:
        raise unsupported(call.words)
    kind, _slash, name = call.words[2].partition("/")
    resource, _printed = kind_of(kind)
    if resource != "daemonsets.apps":
        raise unsupported(call.words)
    namespace = call.namespace()
    if state.get(resource, namespace, name) is None:
        raise KubectlError(f'Error from server (NotFound): daemonsets.apps "{name}" not found')
    last = ""

    def status() -> str | None:
        ds = state.must_get(resource, namespace, name)
        s = ds.get("status") or {}
        desired = s.get("desiredNumberScheduled", 0)
        updated = s.get("updatedNumberScheduled", 0)
        if updated < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: '
                f"{updated} out of {desired} new pods have been updated...\n"
            )
        if s.get("numberAvailable", 0) < desired:
            return (
                f'Waiting for daemon set "{name}" rollout to finish: '
                f"{s.get('numberAvailable', 0)} of {desired} updated pods are available...\n"
            )
        return None

    def done() -> bool:
        nonlocal last
        message = status()
        if message is None:
            return True
        if message != last:
            call.out.append(message)
            last = message
        return False

    if not wait_until(state, done, duration(call.flags.get("timeout"), 0.0) or WEEK):
        raise KubectlError("error: timed out waiting for the condition")
    call.out.append(f'daemon set "{name}" successfully rolled out\n')


# --- exec into ovs-ovn --------------------------------------------------------------------------


def needs_quotes(value: str) -> bool:
    """openvswitch lib/ovsdb-data.c `string_needs_quotes`: how `ovs-vsctl get` prints a string."""
    if not value or not (value[0].isalpha() or value[0] == "_"):
        return True
    if any(not (char.isalnum() or char in "_-.") for char in value[1:]):
        return True
    return value in ("true", "false")


def started_hw_offload(pod: dict[str, Any], container: str) -> str | None:
    """What ovs-ovn's start script wrote (kube-ovn dist/images/start-ovs.sh @v1.16.2:
    `other_config:hw-offload=true` when HW_OFFLOAD is "true", else `=false`); None for a
    container without HW_OFFLOAD (not an ovs-ovn)."""
    for spec in pod["spec"].get("containers") or []:
        if spec.get("name") != container:
            continue
        for variable in spec.get("env") or []:
            if variable.get("name") == "HW_OFFLOAD":
                return "true" if variable.get("value") == "true" else "false"
    return None


def exec_(state: State, call: Call) -> None:
    """exec.go: the answers of OVS inside an ovs-ovn pod (`SimCluster.set_ovs`)."""
    if len(call.words) != 2:
        raise unsupported(call.words)
    pod = state.get("pods", call.namespace(), call.words[1])
    if pod is None:
        raise KubectlError(f'Error from server (NotFound): pods "{call.words[1]}" not found')
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    container = call.flags.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise KubectlError(
            f"Error from server (BadRequest): container {container} is not valid for pod "
            f"{call.words[1]}"
        )
    ovs = state.data["settings"].get("ovs", {}).get(pod["spec"].get("nodeName", ""), {})
    if call.command == HW_OFFLOAD_GET:
        value = ovs.get("hw_offload", started_hw_offload(pod, container))
        if value is None:
            call.out.append("\n")
        else:
            call.out.append((json.dumps(value) if needs_quotes(value) else value) + "\n")
        return
    if call.command == DPCTL_SHOW:
        call.out.append(ovs.get("dpctl_show", EMPTY_DPCTL_SHOW))
        return
    if call.command == LIST_INTERFACES:
        call.out.append(json.dumps(ovs.get("interfaces", EMPTY_INTERFACES)) + "\n")
        return
    if call.command[:-1] == DUMP_FLOWS and call.command[-1] in (
        "type=offloaded",
        "type=non-offloaded",
    ):
        call.out.append(ovs.get("flows", {}).get(call.command[-1].removeprefix("type="), ""))
        return
    raise unsupported(call.command)


# --- the front-end ----------------------------------------------------------------------------


def check_context(state: State, call: Call) -> None:
    """client-go clientcmd: `--context` must name a context of the kubeconfig."""
    path = call.flags.get("kubeconfig") or os.environ.get("KUBECONFIG", "")
    if path and not Path(path).exists():
        raise KubectlError(f"error: stat {path}: no such file or directory")
    contexts = state.data["settings"].get("contexts", ["sim"])
    if "context" in call.flags and call.flags["context"] not in contexts:
        # Recorded (kubectl v1.36.2): clientcmd's validation error, "Error in configuration".
        raise KubectlError(
            "Error in configuration: context was not found for specified context: "
            f"{call.flags['context']}"
        )


def dispatch(state: State, call: Call) -> None:
    verb = call.words[0] if call.words else ""
    if state.data["settings"].get("unreachable"):
        raise KubectlError(
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the "
            "right host or port?"
        )
    if verb == "get":
        get(state, call)
    elif verb == "delete":
        delete(state, call)
    elif verb == "drain":
        drain(state, call)
    elif verb in ("cordon", "uncordon"):
        cordon(state, call, verb == "cordon")
    elif verb == "annotate":
        annotate(state, call, "annotations")
    elif verb == "label":
        annotate(state, call, "labels")
    elif verb == "rollout":
        rollout_status(state, call)
    elif verb == "exec":
        exec_(state, call)
    else:
        raise unsupported(call.words)


def run(
    state_dir: Path, args: list[str], before: Callable[[State, Call], None] | None = None
) -> tuple[str, str, int]:
    """One kubectl call against the cluster in `state_dir`: (stdout, stderr, exit code).
    `before` (a test stand-in's hook) sees the parsed call and the state first, in the lock."""
    store = Store(state_dir)
    with store.open() as state:
        started = state.clock
        # A kubectl call takes about a second: the cluster moves one tick before it answers, so
        # a polling script sees a restart in progress (SimCluster.reconcile settles it all).
        state.advance(behaviours.TICK)
        behaviours.tick(state)
        call = Call([], {}, [])
        code = 0
        try:
            call = parse(args)
            if before is not None:
                before(state, call)
            check_context(state, call)
            dispatch(state, call)
        except KubectlError as failed:
            call.err.append(failed.message + "\n")
            code = failed.code
        except APIError as refused:
            call.err.append(f"Error from server ({refused.reason}): {refused.message}\n")
            code = 1
        stdout, stderr = "".join(call.out), "".join(call.err)
        state.log(
            {
                "kind": "kubectl",
                "argv": args,
                "stdout": stdout,
                "stderr": stderr,
                "exit": code,
                "seconds": state.clock - started,
            }
        )
    return stdout, stderr, code


def main(argv: list[str]) -> int:
    stdout, stderr, code = run(Path(argv[0]), argv[1:])
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = ["key_of", "main", "run"]
