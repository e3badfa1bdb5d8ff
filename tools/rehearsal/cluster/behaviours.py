"""What the cluster's controllers and kubelets do as time passes, one tick (1 virtual second) at
a time. Each behaviour names the upstream function it imitates (kubernetes v1.34 tree unless
said otherwise); `reconcile` runs ticks until nothing changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from tools.rehearsal.cluster.selectors import labels_match, match_labels_selector
from tools.rehearsal.cluster.store import State

SYSTEM = "kube-system"
TICK = 1.0
MAX_TICKS = 400
# kubelet device manager: a stopped plugin's resource stays in capacity this long
# (pkg/kubelet/cm/devicemanager/types.go `endpointStopGracePeriod`), allocatable drops at once.
ENDPOINT_STOP_GRACE = 300.0
DEVICE_PLUGIN_POD_LABEL = ("name", "sriov-device-plugin")
DEVICE_PLUGIN_CONFIG = (SYSTEM, "sriovdp-config", "config.json")
OVS_POD_LABEL = ("app", "ovs")
HASH_LABEL = "controller-revision-hash"

# daemon/util/daemonset_util.go `AddOrUpdateDaemonPodTolerations`: (key, effect), all
# `operator: Exists`; network-unavailable only with hostNetwork.
DAEMON_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


# --- small readers ---------------------------------------------------------------------------


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def name_of(obj: Mapping[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def node_ready(node: Mapping[str, Any]) -> bool:
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def terminating(pod: Mapping[str, Any]) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def tolerates(tolerations: list[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """core/v1 helper `Toleration.ToleratesTaint` (api/core/v1/toleration.go)."""
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key = toleration.get("key")
        if key and key != taint.get("key"):
            continue
        if not key and toleration.get("operator") != "Exists":
            continue
        if toleration.get("operator", "Equal") == "Exists":
            return True
        if toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def taints_tolerated(node: Mapping[str, Any], tolerations: list[Mapping[str, Any]]) -> bool:
    """The scheduler's TaintToleration filter and the DaemonSet controller's
    `predicates`: every NoSchedule and NoExecute taint must be tolerated."""
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    return True


def selector_matches(node: Mapping[str, Any], pod_spec: Mapping[str, Any]) -> bool:
    """nodeSelector (component-helpers scheduling/corev1 `GetRequiredNodeAffinity`; required
    node affinity terms of the stack's objects are not modelled)."""
    node_labels = labels(node)
    return all(node_labels.get(k) == v for k, v in (pod_spec.get("nodeSelector") or {}).items())


def daemon_tolerations(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """daemonset_util.go `AddOrUpdateDaemonPodTolerations`, on the template's tolerations."""
    found = [dict(t) for t in spec.get("tolerations") or []]
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in found):
            found.append({"key": key, "operator": "Exists", "effect": effect})
    return found


def template_hash(template: Mapping[str, Any]) -> str:
    """The pod template's revision (controller_utils.go `ComputeHash` stands here: a hash of
    the template)."""
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def scaled(value: Any, total: int, default: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)."""
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


# --- objects the controllers create ----------------------------------------------------------


def new_pod(
    state: State,
    owner: Mapping[str, Any],
    template: Mapping[str, Any],
    node: str | None,
    tolerations: list[dict[str, Any]] | None = None,
    *,
    for_node: str | None = None,
) -> dict[str, Any]:
    """A pod of `owner`: bound to `node`, or unbound for the scheduler; a DaemonSet's pod is
    unbound with a required node affinity to `for_node` (daemonset_util.go
    `ReplaceDaemonSetPodNodeNameNodeAffinity`; the scheduler binds it)."""
    meta = template.get("metadata") or {}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    if node:
        spec["nodeName"] = node
    if for_node:
        term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [for_node]}]}
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    if tolerations is not None:
        spec["tolerations"] = tolerations
    pod_labels = {**(meta.get("labels") or {}), HASH_LABEL: template_hash(template)}
    owner_meta = owner["metadata"]
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{owner_meta['name']}-{state.suffix()}",
            "namespace": owner_meta.get("namespace", "default"),
            "labels": pod_labels,
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": owner_meta["name"],
                    "uid": owner_meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
        "status": {"phase": "Pending"},
    }
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = dict(meta["annotations"])
    manager = "kube-controller-manager"
    return state.create(pod, manager)


def delete_pod(state: State, pod: dict[str, Any], manager: str = "kube-controller-manager") -> None:
    """A graceful delete (registry/core/pod/strategy.go `CheckGracefulDelete`): an unscheduled
    pod goes at once; a bound one gets deletionTimestamp and waits for its kubelet."""
    if not pod["spec"].get("nodeName"):
        state.remove("pods", pod["metadata"]["namespace"], name_of(pod))
        return
    if terminating(pod):
        return
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    pod["metadata"]["deletionTimestamp"] = state.now()
    pod["metadata"]["deletionGracePeriodSeconds"] = grace
    state.write(pod, manager)


# --- behaviours ------------------------------------------------------------------------------


def ready_status(node: Mapping[str, Any]) -> str | None:
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status"))
    return None


def node_lifecycle(state: State) -> None:
    """node_lifecycle_controller.go `doNoScheduleTaintingPass` (unschedulable ->
    `node.kubernetes.io/unschedulable:NoSchedule`; Ready False -> not-ready, Ready Unknown ->
    unreachable, NoSchedule) and `processTaintBaseEviction` (the same keys with NoExecute). A
    node that never posted a Ready condition (a Node a patch created) is left alone within the
    grace period (recorded: its spec stays empty)."""
    for node in state.list("nodes"):
        spec = node.setdefault("spec", {})
        taints = [dict(t) for t in spec.get("taints") or []]
        ready = ready_status(node)
        if ready is None:
            continue
        wanted = [t for t in taints if t["key"] not in _MANAGED_TAINT_KEYS]
        if spec.get("unschedulable"):
            wanted.append(dict(UNSCHEDULABLE_TAINT))
        if ready != "True":
            key = "node.kubernetes.io/not-ready" if ready == "False" else UNREACHABLE
            wanted += [{"key": key, "effect": "NoSchedule"}, {"key": key, "effect": "NoExecute"}]
        if ready != "True":
            mark_pods_not_ready(state, name_of(node))
        if _taint_set(wanted) != _taint_set(taints):
            # Keep the existing entries (and their timeAdded) where they stay.
            kept = [t for t in taints if _taint_key(t) in _taint_set(wanted)]
            kept += [
                {**t, "timeAdded": state.now()}
                for t in wanted
                if _taint_key(t) not in _taint_set(taints)
            ]
            spec["taints"] = kept
            if not kept:
                del spec["taints"]
            state.write(node, "kube-controller-manager")


UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def mark_pods_not_ready(state: State, node: str) -> None:
    """node_lifecycle_controller.go -> controller/util/node `MarkPodsNotReady`: the pods of a
    node that is not Ready get Ready False."""
    for pod in state.list("pods"):
        if pod["spec"].get("nodeName") != node or not pod_ready(pod):
            continue
        for condition in pod["status"].get("conditions") or []:
            if condition.get("type") == "Ready":
                condition["status"] = "False"
        state.write(pod, "kube-controller-manager", subresource="status")


_MANAGED_TAINT_KEYS = {
    "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/not-ready",
    UNREACHABLE,
}


def _taint_key(taint: Mapping[str, Any]) -> tuple[str, str]:
    return (str(taint.get("key")), str(taint.get("effect")))


def _taint_set(taints: list[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {_taint_key(t) for t in taints}


def _ds_pods(state: State, ds: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in state.list("pods", ds["metadata"]["namespace"]):
        owner = controller_of(pod)
        if owner and owner.get("kind") == "DaemonSet" and owner.get("name") == name_of(ds):
            by_node.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return by_node


def _unbound_ds_pods(state: State, ds: Mapping[str, Any]) -> set[str]:
    """The nodes an unbound pod of `ds` waits for (its node affinity)."""
    found = set()
    for pod in state.list("pods", ds["metadata"]["namespace"]):
        owner = controller_of(pod)
        unbound = owner and owner.get("name") == name_of(ds) and not pod["spec"].get("nodeName")
        target = affinity_node(pod) if unbound else None
        if target:
            found.add(target)
    return found


def affinity_node(pod: Mapping[str, Any]) -> str | None:
    required = ((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return None


def fits(node: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The scheduler's filters the stack meets (framework/plugins: NodeUnschedulable via the
    unschedulable taint, TaintToleration, NodeAffinity incl. matchFields metadata.name,
    NodeResourcesFit on the pod count: a Node that never posted status has no allocatable
    pods; recorded: a DaemonSet pod for such a node stays Pending, unbound)."""
    if int((node.get("status", {}).get("allocatable") or {}).get("pods", "0")) <= 0:
        return False
    target = affinity_node(pod)
    if target is not None and target != name_of(node):
        return False
    spec = pod["spec"]
    if node.get("spec", {}).get("unschedulable") and not tolerates(
        spec.get("tolerations") or [], UNSCHEDULABLE_TAINT
    ):
        return False
    return taints_tolerated(node, spec.get("tolerations") or []) and selector_matches(node, spec)


def should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """daemon_controller.go `NodeShouldRunDaemonPod` (shouldRun): the node selector matches and
    the pod (with the tolerations the controller adds) tolerates the node's NoSchedule and
    NoExecute taints (`predicates`)."""
    spec = ds["spec"]["template"].get("spec") or {}
    return selector_matches(node, spec) and taints_tolerated(node, daemon_tolerations(spec))


def should_continue_running(ds: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """`NodeShouldRunDaemonPod` (shouldContinueRunning): a running pod stays unless the
    selector no longer matches or a NoExecute taint is not tolerated; an untolerated
    NoSchedule taint only keeps a new pod off."""
    spec = ds["spec"]["template"].get("spec") or {}
    if not selector_matches(node, spec):
        return False
    tolerations = daemon_tolerations(spec)
    return all(
        tolerates(tolerations, taint)
        for taint in node.get("spec", {}).get("taints") or []
        if taint.get("effect") == "NoExecute"
    )


def daemon_sets(state: State) -> None:
    """daemon_controller.go `manage` (create a pod where one should run and none does, delete
    it where none should) and update.go `rollingUpdate` / OnDelete:
    - RollingUpdate with maxSurge 0: delete old-revision pods while at most maxUnavailable
      nodes lack an available pod, the next tick `manage` creates the new one;
    - RollingUpdate with maxSurge > 0: start the new pod beside the old one (at most maxSurge
      nodes at once), delete the old one once the new one is ready;
    - OnDelete: nothing; a pod deleted by someone comes back with the new template.
    Defaults: apps/v1 `SetDefaults_DaemonSet` (RollingUpdate, maxUnavailable 1, maxSurge 0)."""
    nodes = {name_of(n): n for n in state.list("nodes")}
    for ds in state.list("daemonsets.apps"):
        template = ds["spec"]["template"]
        revision = template_hash(template)
        pods = _ds_pods(state, ds)
        spec = template.get("spec") or {}
        eligible = [n for n, node in nodes.items() if should_run(ds, node)]
        for node_name, node_pods in pods.items():
            node = nodes.get(node_name)
            # `podsShouldBeOnNode`: pods on a node gone (`getUnscheduledPodsWithoutNode`) or
            # where they should not continue running are deleted.
            if node is None or not should_continue_running(ds, node):
                for pod in node_pods:
                    delete_pod(state, pod)
        pending = _unbound_ds_pods(state, ds)
        for node_name in eligible:
            live = [p for p in pods.get(node_name, []) if not terminating(p)]
            if not live and node_name not in pending:
                new_pod(state, ds, template, None, daemon_tolerations(spec), for_node=node_name)
        _roll(state, ds, revision, eligible, _ds_pods(state, ds))
        _ds_status(state, ds, eligible, revision)


def _roll(
    state: State,
    ds: dict[str, Any],
    revision: str,
    eligible: list[str],
    pods: dict[str, list[dict[str, Any]]],
) -> None:
    strategy = ds["spec"].get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge"), len(eligible), 0)
    unavailable_limit = scaled(rolling.get("maxUnavailable"), len(eligible), 1 if not surge else 0)
    template = ds["spec"]["template"]
    spec = template.get("spec") or {}

    def live(node: str) -> list[dict[str, Any]]:
        return [p for p in pods.get(node, []) if not terminating(p)]

    def is_new(pod: Mapping[str, Any]) -> bool:
        return labels(pod).get(HASH_LABEL) == revision

    if surge:
        surging = 0
        for node in eligible:
            old = [p for p in live(node) if not is_new(p)]
            new = [p for p in live(node) if is_new(p)]
            if old and new and all(pod_ready(p) for p in new):
                for pod in old:
                    delete_pod(state, pod)
            elif old and new:
                surging += 1
        for node in eligible:
            old = [p for p in live(node) if not is_new(p)]
            new = [p for p in live(node) if is_new(p)]
            if old and not new and surging < surge:
                tolerations = daemon_tolerations(spec)
                new_pod(state, ds, template, None, tolerations, for_node=node)
                surging += 1
        return
    unavailable = sum(1 for n in eligible if not any(pod_ready(p) for p in live(n)))
    for node in eligible:
        if unavailable >= unavailable_limit:
            break
        old = [p for p in live(node) if not is_new(p)]
        if old and all(pod_ready(p) for p in old):
            for pod in old:
                delete_pod(state, pod)
            unavailable += 1


def _ds_status(state: State, ds: dict[str, Any], eligible: list[str], revision: str) -> None:
    """daemon_controller.go `updateDaemonSetStatus`."""
    pods = _ds_pods(state, ds)
    current = [p for n in eligible for p in pods.get(n, []) if not terminating(p)]
    status = {
        "currentNumberScheduled": len({p["spec"]["nodeName"] for p in current}),
        "desiredNumberScheduled": len(eligible),
        "numberReady": sum(1 for p in current if pod_ready(p)),
        "numberAvailable": sum(1 for p in current if pod_ready(p)),
        "updatedNumberScheduled": sum(1 for p in current if labels(p).get(HASH_LABEL) == revision),
        "numberMisscheduled": 0,
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    status["numberUnavailable"] = status["desiredNumberScheduled"] - status["numberAvailable"]
    if ds.get("status") != status:
        ds["status"] = status
        state.write(ds, "kube-controller-manager", subresource="status")


def replica_sets(state: State) -> None:
    """replica_set.go `manageReplicas`: keep `replicas` active pods; the scheduler
    (`schedule_one.go` `schedulePod`, filters NodeUnschedulable, TaintToleration,
    NodeAffinity) binds each to the first fitting node by name."""
    for rs in state.list("replicasets.apps"):
        active = [
            p
            for p in state.list("pods", rs["metadata"]["namespace"])
            if (controller_of(p) or {}).get("name") == name_of(rs) and not terminating(p)
        ]
        for _ in range(int(rs["spec"].get("replicas", 1)) - len(active)):
            new_pod(state, rs, rs["spec"]["template"], None)
    for pod in state.list("pods"):
        if pod["spec"].get("nodeName") or terminating(pod):
            continue
        for node in state.list("nodes"):
            if fits(node, pod):
                pod["spec"]["nodeName"] = name_of(node)
                state.write(pod, "kube-scheduler")
                break


def kubelets(state: State) -> None:
    """What each Ready node's kubelet does with its pods (kubelet.go `SyncPod`,
    status/status_manager.go `syncPod`): a bound Pending pod runs and is Ready one tick later;
    a deleted pod is killed and removed (`canBeDeleted` -> delete with grace 0). A NotReady
    node's kubelet does nothing: its deleted pods stay Terminating. A pod created during a tick
    starts at the next one, so a starting pod is seen (`disrupted_nodes`)."""
    nodes = {name_of(n): n for n in state.list("nodes")}
    for pod in state.list("pods"):
        node = nodes.get(pod["spec"].get("nodeName", ""))
        if node is None or not node_ready(node):
            if node is None and terminating(pod) and pod["spec"].get("nodeName"):
                state.remove("pods", pod["metadata"]["namespace"], name_of(pod))
            continue
        if terminating(pod):
            state.remove("pods", pod["metadata"]["namespace"], name_of(pod))
            device_plugin_stopped(state, pod)
        elif pod["status"].get("phase") == "Pending" and started_before(state, pod):
            pod["status"] = {
                "phase": "Running",
                "hostIP": node["metadata"].get("annotations", {}).get("sim/ip", "192.0.2.1"),
                "startTime": state.now(),
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                ],
            }
            state.write(pod, "kubelet", subresource="status")
            device_plugin_started(state, pod)


def started_before(state: State, pod: Mapping[str, Any]) -> bool:
    """A pod created in this very tick starts in the next one (its containers take time)."""
    return str(pod["metadata"].get("creationTimestamp", "")) < state.now()


# --- the SR-IOV device plugin and kubelet's device manager -----------------------------------


def plugin_config(state: State) -> list[dict[str, Any]]:
    namespace, name, key = DEVICE_PLUGIN_CONFIG
    config_map = state.get("configmaps", namespace, name)
    if not config_map:
        return []
    try:
        return list(json.loads(config_map.get("data", {}).get(key, "{}")).get("resourceList", []))
    except (json.JSONDecodeError, AttributeError):
        return []


def _selected(vf: Mapping[str, str], selectors: Mapping[str, Any]) -> bool:
    """sriov-network-device-plugin `pkg/resources` selectors: each list given must hold the
    device's value (vendors, devices, drivers, pfNames)."""
    for selector, field in (
        ("vendors", "vendor"),
        ("devices", "device"),
        ("drivers", "driver"),
        ("pfNames", "pf"),
    ):
        wanted = selectors.get(selector)
        if wanted and vf.get(field) not in wanted:
            return False
    return True


def is_device_plugin(pod: Mapping[str, Any]) -> bool:
    key, value = DEVICE_PLUGIN_POD_LABEL
    return labels(pod).get(key) == value


def device_plugin_started(state: State, pod: Mapping[str, Any]) -> None:
    """The plugin discovers the node's devices once, when it starts (sriov-network-device-plugin
    `cmd/sriovdp/manager.go` `initServers` -> `discoverDevices`), and registers one resource
    per resourceList entry; kubelet (devicemanager `ManagerImpl.GetCapacity`) then reports
    capacity = allocatable = the healthy devices."""
    if not is_device_plugin(pod):
        return
    node = pod["spec"]["nodeName"]
    vfs = state.data["devices"].get(node, [])
    plugins = state.data.setdefault("plugins", {})
    counts = {}
    for entry in plugin_config(state):
        resource = f"{entry.get('resourcePrefix', 'intel.com')}/{entry['resourceName']}"
        counts[resource] = sum(1 for vf in vfs if _selected(vf, entry.get("selectors") or {}))
    plugins[node] = {
        "pod": name_of(pod),
        "counts": counts,
        "started": state.clock,
        "stopped": None,
    }


def device_plugin_stopped(state: State, pod: Mapping[str, Any]) -> None:
    if not is_device_plugin(pod):
        return
    entry = state.data.setdefault("plugins", {}).get(pod["spec"]["nodeName"])
    if entry and entry["pod"] == name_of(pod):
        entry["stopped"] = state.clock


def device_manager(state: State) -> None:
    """kubelet devicemanager `ManagerImpl.GetCapacity` into the node status: a running plugin's
    resources in capacity and allocatable; a stopped one's allocatable 0 at once, capacity kept
    for `endpointStopGracePeriod`, then removed. A plugin started in this tick registers and is
    reported from the next one (kubelet's next node status update; recorded: right after a
    plugin pod restart the node reads capacity 4, allocatable 0)."""
    for node in state.list("nodes"):
        if not node_ready(node):
            continue
        entry = state.data.get("plugins", {}).get(name_of(node))
        if entry and entry.get("started", -1.0) >= state.clock:
            continue
        status = node.setdefault("status", {})
        capacity = dict(status.get("capacity") or {})
        allocatable = dict(status.get("allocatable") or {})
        if entry:
            for resource, count in entry["counts"].items():
                if entry["stopped"] is None:
                    capacity[resource] = allocatable[resource] = str(count)
                elif state.clock - entry["stopped"] < ENDPOINT_STOP_GRACE:
                    capacity[resource] = str(count)
                    allocatable[resource] = "0"
                else:
                    capacity.pop(resource, None)
                    allocatable.pop(resource, None)
        if capacity != status.get("capacity") or allocatable != status.get("allocatable"):
            status["capacity"], status["allocatable"] = capacity, allocatable
            state.write(node, "kubelet", subresource="status")


def disruption_budgets(state: State) -> None:
    """disruption.go `updatePdbStatus`: currentHealthy = Ready matching pods; desiredHealthy =
    expected - maxUnavailable (or minAvailable); disruptionsAllowed = currentHealthy -
    desiredHealthy, at least 0. Expected = the matching pods' controllers' replicas
    (`getExpectedPodCount`; one per pod here)."""
    for pdb in state.list("poddisruptionbudgets.policy"):
        namespace = pdb["metadata"]["namespace"]
        selector = pdb["spec"].get("selector")
        pods = [
            p
            for p in state.list("pods", namespace)
            if match_labels_selector(selector, labels(p)) and not terminating(p)
        ]
        owners = {(controller_of(p) or {}).get("name", name_of(p)) for p in pods}
        expected = max(len(owners), len(pods))
        healthy = sum(1 for p in pods if pod_ready(p))
        if "maxUnavailable" in pdb["spec"]:
            desired = expected - scaled(pdb["spec"]["maxUnavailable"], expected, 0)
        else:
            desired = scaled(pdb["spec"].get("minAvailable"), expected, 0)
        status = {
            "currentHealthy": healthy,
            "desiredHealthy": max(desired, 0),
            "expectedPods": expected,
            "disruptionsAllowed": max(healthy - max(desired, 0), 0),
            "observedGeneration": pdb["metadata"].get("generation", 1),
        }
        if pdb.get("status") != status:
            pdb["status"] = status
            state.write(pdb, "kube-controller-manager", subresource="status")


# --- what is disrupted -----------------------------------------------------------------------


def ovs_pods_by_node(state: State) -> dict[str, list[dict[str, Any]]]:
    key, value = OVS_POD_LABEL
    ovs: dict[str, list[dict[str, Any]]] = {}
    for pod in state.list("pods"):
        if labels(pod).get(key) == value:
            ovs.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return ovs


def datapath_up(state: State) -> set[str]:
    """Nodes whose ovs-ovn has run Ready at some point: only there can a restart disrupt a
    datapath (the first start of Kube-OVN on a node takes nothing down)."""
    return set(state.data["settings"].get("datapath_up", []))


def disrupted_nodes(state: State) -> set[str]:
    """Nodes cordoned, or whose ovs-ovn (the datapath, once it ran) is not running Ready: no
    Ready pod of it, or a pod of it starting (a new ovs-ovn beside the old restarts the
    datapath)."""
    found = set()
    ran = datapath_up(state)
    key, value = OVS_POD_LABEL
    ovs: dict[str, list[dict[str, Any]]] = {}
    has_ovs_ds = any(
        (ds["spec"]["template"].get("metadata") or {}).get("labels", {}).get(key) == value
        for ds in state.list("daemonsets.apps")
    )
    for pod in state.list("pods"):
        if labels(pod).get(key) == value:
            ovs.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    for node in state.list("nodes"):
        name = name_of(node)
        if node["spec"].get("unschedulable"):
            found.add(name)
            continue
        pods = [p for p in ovs.get(name, []) if not terminating(p)]
        if (
            name in ran
            and has_ovs_ds
            and any(
                should_run(ds, node)
                for ds in state.list("daemonsets.apps")
                if labels(ds["spec"]["template"]).get(key) == value
            )
            and (not pods or not all(pod_ready(p) for p in pods))
        ):
            found.add(name)
    return found


def record(state: State) -> None:
    """Append the disrupted set to the history when it changes (after noting the nodes whose
    datapath now runs)."""
    ran = datapath_up(state)
    for node, pods in ovs_pods_by_node(state).items():
        if any(pod_ready(p) and not terminating(p) for p in pods):
            ran.add(node)
    state.data["settings"]["datapath_up"] = sorted(ran)
    now = sorted(disrupted_nodes(state))
    history = state.data["history"]
    if not history or history[-1]["nodes"] != now:
        history.append({"clock": state.clock, "nodes": now})


BEHAVIOURS: list[Callable[[State], None]] = [
    node_lifecycle,
    daemon_sets,
    replica_sets,
    kubelets,
    device_manager,
    disruption_budgets,
]


def tick(state: State) -> bool:
    """One second of the cluster: every behaviour once; True when anything changed. With the
    controllers stopped (`SimCluster.stop_controllers`) nothing runs: kube-apiserver alone."""
    if state.data["settings"].get("controllers_stopped"):
        return False
    before = json.dumps(state.data["objects"], sort_keys=True)
    plugins_before = json.dumps(state.data.get("plugins", {}), sort_keys=True)
    for behaviour in BEHAVIOURS:
        behaviour(state)
    record(state)
    changed = before != json.dumps(state.data["objects"], sort_keys=True)
    return changed or plugins_before != json.dumps(state.data.get("plugins", {}), sort_keys=True)


def reconcile(state: State, max_ticks: int = MAX_TICKS) -> int:
    """Ticks until nothing changes (at most `max_ticks`); the number of ticks run."""
    for count in range(1, max_ticks + 1):
        state.advance(TICK)
        if not tick(state):
            return count
    return max_ticks


def labels_selected(obj: Mapping[str, Any], selector: str | None) -> bool:
    return labels_match(labels(obj), selector)
