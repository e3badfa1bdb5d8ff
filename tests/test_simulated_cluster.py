"""The simulated cluster (tools/rehearsal/cluster): its behaviours, its kubectl front-end under
the stack's own scripts, and pulumi-kubernetes' applies, each checked against what the
upstream function it follows does."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.cluster.vf_registration import wait_vfs_advertised_command
from components.config import KubernetesConfig, SriovConfig
from components.names import AGILIO_NODE_LABEL, DEFAULT_RESOURCE
from components.waits import Waits
from tests.support.kubernetes_program import run
from tools.engine import datapath_restarts
from tools.engine.resources import Options, Resource
from tools.rehearsal.cluster import SimCluster, jsonpath, selectors
from tools.rehearsal.cluster.apply import ApplyError
from tools.rehearsal.cluster.ssa import ConflictError

FIXTURES = Path(__file__).parent / "fixtures" / "kube-apiserver"
WORKERS = ("lab-worker-1", "lab-worker-2")
AGILIO_VF = {"vendor": "19ee", "device": "6003", "driver": "nfp_netvf", "pf": "ens1np0"}
LAB = KubernetesConfig(context="sim")

QUICK_WAIT = Waits(vfs_advertised_seconds=1, vfs_advertised_interval=0.05)


def _sh(cluster: SimCluster, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command],
        env=cluster.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fresh(tmp_path: Path) -> SimCluster:
    cluster = SimCluster(tmp_path / "cluster")
    cluster.add_node("lab-control-1", control_plane=True)
    for name in WORKERS:
        cluster.add_node(name)
    return cluster


def plan_resources(overrides: dict[str, Any] | None = None) -> dict[str, Resource]:
    result = run(overrides)
    return {
        r.name: r.as_resource()
        for r in result.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith("pulumi:")
    }


def apply_plan(cluster: SimCluster, skip: tuple[str, ...] = ()) -> dict[str, Resource]:
    resources = plan_resources()
    for name, resource in resources.items():
        if name not in skip:
            cluster.apply_resource("create", resource, None)
    return resources


def pods(cluster: SimCluster, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for pod in cluster.objects("pods"):
        if pod["metadata"]["name"].startswith(prefix):
            found.setdefault(pod["spec"]["nodeName"], []).append(pod)
    return found


# --- the recorded answers of a real kube-apiserver ------------------------------------------


def normalise(text: str) -> str:
    """As the fixtures were normalised: generated pod name suffixes and times."""
    names = "kube-multus-ds|web|db|stuck|kube-sriov-device-plugin"
    text = re.sub(rf"\b({names})-[a-z0-9]{{5}}\b", r"\1-XXXXX", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)


def hint_cause(text: str) -> str:
    """A registration wait's stderr with its hint cut after the cause's first clause."""
    return re.sub(r"(likely cause: [^:\n]*)[^\n]*", r"\1 ...", text)


def replay_act(cluster: SimCluster, act: list[Any]) -> None:
    kind, *args = act
    if kind == "kubectl":
        _out, err, code = cluster.kubectl(*args)
        assert code == 0, err
    elif kind == "create":
        cluster.create(args[0])
    elif kind == "workload":
        name, node, budget = args
        cluster.add_workload(name, node, pdb_max_unavailable=budget, pinned=True)
    elif kind == "settle":
        cluster.reconcile()
    elif kind == "ssa":
        body, manager, force = args
        cluster.server_side_apply(body, manager, force=force)
    elif kind == "kubelet-stops":
        cluster.set_node_ready(args[0], False)
    elif kind == "devices":  # the fake kubelet advertises N VFs for any plugin pod
        nodes, count = args
        for node in nodes:
            cluster.set_node_devices(node, [AGILIO_VF] * count)
    else:
        raise AssertionError(f"unknown fixture step {act}")


def replay_script(cluster: SimCluster, script: list[Any]) -> tuple[str, str, int]:
    """The stack's registration wait as recorded (3 s bound, 0.5 s interval, context ka)."""
    name, node, expected = script
    assert name == "wait-vfs-advertised"
    command = wait_vfs_advertised_command(
        KubernetesConfig(context="ka"),
        node,
        SriovConfig(),
        expected,
        Waits(vfs_advertised_seconds=3, vfs_advertised_interval=0.5),
    )
    answer = _sh(cluster, command)
    return answer.stdout, answer.stderr, answer.returncode


def replay_call(cluster: SimCluster, step: dict[str, Any]) -> tuple[str, str, int]:
    if "script" in step:
        return replay_script(cluster, step["script"])
    if "ssa" in step:
        body, manager, force = step["ssa"]
        try:
            cluster.server_side_apply(body, manager, force=force)
        except ConflictError as conflict:
            # kubectl prints the server's message after "error: ", then its own advice.
            return "", f"error: {conflict}\n", 1
        return "", "", 0
    return cluster.kubectl(*step["argv"])


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_the_simulated_cluster_answers_as_the_real_api_server(tmp_path: Path, fixture: str) -> None:
    recorded = json.loads((FIXTURES / fixture).read_text())
    cluster = SimCluster(tmp_path / "cluster", contexts=("ka",))
    for name, control_plane in recorded["cluster"]["nodes"]:
        cluster.add_node(name, control_plane=control_plane)
    differences = []
    for step in recorded["steps"]:
        if "act" in step:
            replay_act(cluster, step["act"])
            continue
        out, err, code = replay_call(cluster, step)
        expected_err = step["stderr"]
        if "ssa" in step:  # the server's message: kubectl's first line
            expected_err = expected_err.split("\n", 1)[0] + "\n" if expected_err else ""
        answer = (normalise(out), normalise(err), code)
        if "script" in step:
            # The hint's words are the script's own, not the server's: its first clause (which
            # cause) is compared.
            answer = (answer[0], hint_cause(answer[1]), code)
            step = {**step, "stderr": hint_cause(step["stderr"])}
            expected_err = step["stderr"]
        if step.get("argv", [""])[0] == "get":
            # A list is in name order; normalised names lose it.
            answer = ("".join(sorted(answer[0].splitlines(True))), *answer[1:])
            step = {**step, "stdout": "".join(sorted(step["stdout"].splitlines(True)))}
        if step.get("compare") == "first-and-last-lines":
            # How many "Waiting ..." lines come between depends on the real kubelet's pace.
            def ends(text: str) -> str:
                lines = text.splitlines(True)
                return "".join([*lines[:1], *lines[-1:]])

            answer = (ends(answer[0]), *answer[1:])
            step = {**step, "stdout": ends(step["stdout"])}
        if answer != (step["stdout"], expected_err, step["exit"]):
            differences.append((step["call"], answer, (step["stdout"], expected_err, step["exit"])))
    assert differences == []


# --- jsonpath and selectors ------------------------------------------------------------------


def test_jsonpath_renders_the_templates_the_scripts_use() -> None:
    node = {
        "metadata": {
            "name": "n1",
            "annotations": {"meta.helm.sh/release-name": "kube-ovn"},
            "managedFields": [{"manager": "kubelet"}, {"manager": "mine"}],
        },
        "status": {"capacity": {"corigine.com/agilio_sriov": "4"}, "allocatable": {}},
    }
    listing = {"items": [node, {"metadata": {"name": "n2"}}]}
    assert jsonpath.render("{.items[*].metadata.name}", listing) == "n1 n2"
    assert (
        jsonpath.render(
            "{.status.capacity.corigine\\.com/agilio_sriov}/"
            "{.status.allocatable.corigine\\.com/agilio_sriov}",
            node,
        )
        == "4/"
    )
    assert jsonpath.render('{.metadata.managedFields[?(@.manager=="mine")].manager}', node) == (
        "mine"
    )
    assert jsonpath.render("{.metadata.annotations.meta\\.helm\\.sh/release-name}", node) == (
        "kube-ovn"
    )
    assert (
        jsonpath.render(
            '{range .items[*]}{.metadata.name}{" "}{.status.phase}{"\\n"}{end}', listing
        )
        == "n1 \nn2 \n"
    )
    assert jsonpath.render("{.status.capacity}", node) == '{"corigine.com/agilio_sriov":"4"}'


def test_selectors_follow_apimachinery() -> None:
    labels = {"app": "ovs", "tier": "node"}
    assert selectors.labels_match(labels, "app=ovs,tier==node")
    assert selectors.labels_match(labels, "app in (ovs, multus),!missing")
    assert not selectors.labels_match(labels, "app!=ovs")
    assert selectors.labels_match({}, "app notin (ovs)")
    with pytest.raises(selectors.SelectorError, match=r"field label not supported: spec\.foo"):
        selectors.parse_fields("spec.foo=x", "pods")
    terms = selectors.parse_fields("spec.nodeName=n1", "pods")
    assert selectors.fields_match({"spec": {"nodeName": "n1"}}, terms, "pods")


# --- kubectl answers -------------------------------------------------------------------------


def test_get_answers_in_kubectls_formats(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    out, err, code = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
    assert (out, err, code) == ("lab-control-1 lab-worker-1 lab-worker-2", "", 0)
    assert cluster.kubectl("get", "node", "ghost") == (
        "",
        'Error from server (NotFound): nodes "ghost" not found\n',
        1,
    )
    assert cluster.kubectl("get", "daemonset", "x", "-n", "kube-system", "--ignore-not-found")[
        :3
    ] == ("", "", 0)
    assert cluster.kubectl("get", "daemonset", "ovs-ovn", "-n", "kube-system")[1:] == (
        'Error from server (NotFound): daemonsets.apps "ovs-ovn" not found\n',
        1,
    )
    assert cluster.kubectl("--context", "other", "get", "nodes", "-o", "name") == (
        "",
        "Error in configuration: context was not found for specified context: other\n",
        1,
    )
    document = json.loads(cluster.kubectl("get", "node", "lab-worker-1", "-o", "json")[0])
    assert document["metadata"]["managedFields"][0]["manager"] == "kubelet"


def test_a_denied_read_is_kube_apiservers_forbidden(tmp_path: Path) -> None:
    """apiserver responsewriters `forbiddenMessage` inside apimachinery `errors.NewForbidden`:
    the resource with its group, get or list, the namespace or the cluster scope."""
    cluster = fresh(tmp_path)
    cluster.deny("deployments.apps", "kube-ovn-controller")
    cluster.deny("nodes")
    get = ("get", "deployment", "kube-ovn-controller", "-n", "kube-system", "--ignore-not-found")
    assert cluster.kubectl(*get) == (
        "",
        'Error from server (Forbidden): deployments.apps "kube-ovn-controller" is forbidden: '
        'User "sim" cannot get resource "deployments" in API group "apps" in the namespace '
        '"kube-system"\n',
        1,
    )
    assert cluster.kubectl("get", "deployment", "other", "-n", "kube-system")[1].startswith(
        'Error from server (NotFound): deployments.apps "other"'
    )
    assert cluster.kubectl("get", "nodes", "-o", "name")[1:] == (
        'Error from server (Forbidden): nodes is forbidden: User "sim" cannot list resource '
        '"nodes" in API group "" at the cluster scope\n',
        1,
    )


def test_stopped_controllers_leave_the_objects_as_seeded(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.stop_controllers()
    cluster.kubectl("cordon", "lab-worker-1")
    cluster.reconcile()
    node = cluster.node("lab-worker-1")
    # No node lifecycle controller: the cordon is not followed by its taint.
    assert node is not None and node["spec"]["unschedulable"] is True
    assert "taints" not in node["spec"]


def test_the_front_end_subprocess_shares_the_store(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    answer = subprocess.run(
        ["kubectl", "cordon", "lab-worker-1"],
        env=cluster.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (answer.stdout, answer.stderr, answer.returncode) == (
        "node/lab-worker-1 cordoned\n",
        "",
        0,
    )
    node = cluster.node("lab-worker-1")
    assert node is not None and node["spec"]["unschedulable"] is True
    # node_lifecycle_controller: the cordon taint follows.
    assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items() <= (
        node["spec"]["taints"][0].items()
    )
    assert cluster.disrupted_nodes() == {"lab-worker-1"}
    assert cluster.calls()[-1]["argv"] == ["cordon", "lab-worker-1"]


# --- drain and eviction ------------------------------------------------------------------------


def test_drain_evicts_and_the_workload_moves(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.install_kube_ovn(how="chart", version="1.16.2")
    cluster.add_workload("web", "lab-worker-1", pdb_max_unavailable=1)
    out, err, code = cluster.kubectl(
        "drain", "lab-worker-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"
    )
    web = next(p for p in cluster.objects("pods", "default"))
    assert code == 0, err
    assert out.splitlines()[0] == "node/lab-worker-1 cordoned"
    assert out.splitlines()[-1] == "node/lab-worker-1 drained"
    assert "pod/web-" in out and "evicted" in out
    assert err.startswith("Warning: ignoring DaemonSet-managed Pods: kube-system/kube-ovn-cni-")
    assert web["spec"]["nodeName"] == "lab-worker-2"


def test_a_pdb_blocks_the_drain_until_its_timeout(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.add_workload("db", "lab-worker-1", pdb_max_unavailable=0)
    before = cluster.clock()
    out, err, code = cluster.kubectl(
        "drain", "lab-worker-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"
    )
    pod = next(p["metadata"]["name"] for p in cluster.objects("pods", "default"))
    retry = (
        f'error when evicting pods/"{pod}" -n "default" (will retry after 5s): Cannot evict pod '
        "as it would violate the pod's disruption budget."
    )
    final = f'error when evicting pods/"{pod}" -n "default": global timeout reached: 1m0s'
    assert code == 1
    assert out.count(f"evicting pod default/{pod}\n") == 13  # every 5 s for 60 s, then once more
    assert err.count(retry) == 12
    assert err.endswith(
        f'There are pending pods in node "lab-worker-1" when an error occurred: {final}\n'
        f"pod/{pod}\n"
        f'error: unable to drain node "lab-worker-1" due to error: {final}, continuing command...\n'
        "There are pending nodes to be drained:\n lab-worker-1\n"
        f"{final}\n"
    )
    assert 60 <= cluster.clock() - before <= 70
    assert cluster.disrupted_nodes() == {"lab-worker-1"}


def test_a_pod_on_a_not_ready_node_stays_terminating_and_delete_waits_a_week(
    tmp_path: Path,
) -> None:
    cluster = fresh(tmp_path)
    cluster.install_kube_ovn(how="install.sh", version="1.16.2")  # its datapath runs everywhere
    assert cluster.disrupted_nodes() == set()
    cluster.add_workload("web", "lab-worker-2")
    cluster.set_node_ready("lab-worker-2", False)
    before = cluster.clock()
    out, err, code = cluster.kubectl(
        "delete", "pod", "--namespace", "default", "--selector", "app=web"
    )
    pod = next(
        p for p in cluster.objects("pods", "default") if p["metadata"].get("deletionTimestamp")
    )
    assert out == f'pod "{pod["metadata"]["name"]}" deleted from default namespace\n'
    assert (err, code) == (
        f"error: timed out waiting for the condition on pods/{pod['metadata']['name']}\n",
        1,
    )
    assert cluster.clock() - before >= 168 * 3600  # delete.go: no --timeout waits a week
    # Its pods are marked not Ready (MarkPodsNotReady), ovs-ovn's too: the node is disrupted.
    assert cluster.disrupted_nodes() == {"lab-worker-2"}


# --- DaemonSets --------------------------------------------------------------------------------


def test_the_device_plugin_runs_only_on_labelled_nodes_cordoned_or_not(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.kubectl("cordon", "lab-worker-1")
    apply_plan(cluster, skip=("lab-worker-2-agilio-label",))
    plugin = pods(cluster, "kube-sriov-device-plugin-")
    # AddOrUpdateDaemonPodTolerations: the unschedulable taint is tolerated; the nodeSelector
    # keeps the unlabelled node out.
    assert set(plugin) == {"lab-worker-1"}
    assert set(pods(cluster, "kube-multus-ds-")) == {"lab-control-1", *WORKERS}


def test_the_added_node_waits_for_a_plugin_that_needs_its_label(tmp_path: Path) -> None:
    """Issue 17's add-node failure, and its pass once the node is labelled."""
    cluster = fresh(tmp_path)
    for name in WORKERS:
        cluster.set_node_devices(name, [AGILIO_VF] * 4)
    resources = apply_plan(cluster, skip=("lab-worker-2-agilio-label",))
    command = wait_vfs_advertised_command(LAB, "lab-worker-2", SriovConfig(), 4, QUICK_WAIT)

    def wait() -> subprocess.CompletedProcess[str]:
        return _sh(cluster, command)

    failed = wait()
    assert failed.returncode == 1
    assert (
        "likely cause: no device plugin pod on lab-worker-2: the node lacks the label "
        f"{AGILIO_NODE_LABEL}=true the DaemonSet kube-system/kube-sriov-device-plugin selects"
    ) in failed.stderr
    cluster.apply_resource("create", resources["lab-worker-2-agilio-label"], None)
    passed = wait()
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout.splitlines()[-1])["capacity"] == 4


def _wait_vfs(cluster: SimCluster, node: str) -> subprocess.CompletedProcess[str]:
    command = wait_vfs_advertised_command(LAB, node, SriovConfig(), 4, QUICK_WAIT)
    return _sh(cluster, command)


def _taint(cluster: SimCluster, node: str, taint: dict[str, str]) -> None:
    with cluster.store.open() as state:
        live = state.must_get("nodes", "", node)
        live["spec"]["taints"] = [*live["spec"].get("taints", []), taint]
        state.write(live, "kubectl-taint")


def test_the_hint_names_the_taint_that_keeps_the_plugin_off_and_not_the_cordon(
    tmp_path: Path,
) -> None:
    """The DaemonSet controller's own tolerations (cordon among them) never keep the plugin
    pod off (recorded, f_daemonset_cordon_vfs: it starts on a cordoned, labelled node); any
    other NoSchedule/NoExecute taint does, and the hint names it."""
    cluster = fresh(tmp_path)
    cluster.kubectl("cordon", "lab-worker-1")
    _taint(cluster, "lab-worker-1", {"key": "example.com/maintenance", "effect": "NoSchedule"})
    _taint(cluster, "lab-worker-1", {"key": "example.com/soft", "effect": "PreferNoSchedule"})
    apply_plan(cluster)
    assert set(pods(cluster, "kube-sriov-device-plugin-")) == {"lab-worker-2"}
    failed = _wait_vfs(cluster, "lab-worker-1")
    assert failed.returncode == 1
    (cause,) = [line for line in failed.stderr.splitlines() if "likely cause" in line]
    assert cause.startswith(
        "  likely cause: no device plugin pod on lab-worker-1: the node has the taint(s) "
        "example.com/maintenance:NoSchedule, which the DaemonSet "
        "kube-system/kube-sriov-device-plugin does not tolerate (its controller adds "
        "tolerations only for the not-ready and unreachable NoExecute taints and the disk-, "
        "memory- and pid-pressure, unschedulable (cordon) and network-unavailable NoSchedule"
    ), cause
    # A node that is not Ready: not-ready/unreachable NoExecute is tolerated, NoSchedule not.
    cluster.set_node_ready("lab-worker-2", False)
    cluster.kubectl("delete", "pod", "-n", "kube-system", "-l", "name=sriov-device-plugin")
    with cluster.store.open() as state:  # the kubelet that stopped never finishes it
        for pod in state.list("pods", "kube-system"):
            if pod["metadata"]["name"].startswith("kube-sriov-device-plugin-"):
                state.remove("pods", "kube-system", pod["metadata"]["name"])
    cluster.reconcile()
    cause = _wait_vfs(cluster, "lab-worker-2").stderr
    assert "the node has the taint(s) node.kubernetes.io/unreachable:NoSchedule, which" in cause


def test_the_plugin_counts_vfs_when_it_starts_and_allocatable_drops_when_it_stops(
    tmp_path: Path,
) -> None:
    cluster = fresh(tmp_path)
    cluster.set_node_devices("lab-worker-1", [AGILIO_VF] * 4)
    apply_plan(cluster)

    def counts() -> tuple[str | None, str | None]:
        node = cluster.node("lab-worker-1") or {}
        status = node.get("status", {})
        return (
            status.get("capacity", {}).get(DEFAULT_RESOURCE),
            status.get("allocatable", {}).get(DEFAULT_RESOURCE),
        )

    assert counts() == ("4", "4")
    # Eight VFs now, but the running plugin counted at its start.
    cluster.set_node_devices("lab-worker-1", [AGILIO_VF] * 8)
    cluster.reconcile()
    assert counts() == ("4", "4")
    # A VF of another device id is not selected.
    cluster.set_node_devices("lab-worker-1", [AGILIO_VF] * 8 + [{**AGILIO_VF, "device": "3803"}])
    _out, err, code = cluster.kubectl(
        "delete",
        "pod",
        "--namespace",
        "kube-system",
        "--selector",
        "name=sriov-device-plugin",
        "--field-selector",
        "spec.nodeName=lab-worker-1",
        "--ignore-not-found",
    )
    assert code == 0, err
    cluster.reconcile()  # the DaemonSet starts a new plugin pod, which counts again
    assert counts() == ("8", "8")
    cluster.set_node_ready("lab-worker-1", True)
    # The plugin's pod stopped (node NotReady is not needed): drop allocatable, keep capacity.
    apply_plan_delete = plan_resources()["sriov-device-plugin-ds"]
    cluster.apply_resource("delete", None, apply_plan_delete)
    assert counts() == ("8", "0")


def test_a_chart_upgrade_rolls_ovs_ovn_one_node_at_a_time_with_a_surge(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.install_kube_ovn(how="chart", version="1.16.1")
    start = len(cluster.disruption_history())
    old = {node: p[0]["metadata"]["name"] for node, p in pods(cluster, "ovs-ovn-").items()}
    cluster.reconcile()
    release = Resource(
        urn="urn:pulumi:dev::agilio-offload::kubernetes:helm.sh/v3:Release::kube-ovn-release",
        type="kubernetes:helm.sh/v3:Release",
        name="kube-ovn-release",
        inputs={"name": "kube-ovn", "namespace": "kube-system", "version": "1.16.2", "values": {}},
    )
    cluster.apply_resource("update", release, release)
    new = pods(cluster, "ovs-ovn-")
    assert all(len(p) == 1 and p[0]["metadata"]["name"] != old[n] for n, p in new.items())
    history = cluster.disruption_history()[start:]
    disrupted = [entry["nodes"] for entry in history if entry["nodes"]]
    # maxSurge 1, maxUnavailable 0: every node's datapath restarts, one node at a time.
    assert sorted(n for nodes in disrupted for n in nodes) == sorted(["lab-control-1", *WORKERS])
    assert max(len(nodes) for nodes in disrupted) == 1


PROGRAM_VALUES: dict[str, Any] = {
    "namespace": "kube-system",
    "masterNodes": ["192.0.2.10"],
    "features": {"enableHardwareOffload": True, "enableLoadbalancer": False},
    "agent": {"interface": "", "mirroring": {"enabled": False}},
}


def release_of(version: str, values: dict[str, Any]) -> Resource:
    return Resource(
        urn="urn:pulumi:dev::agilio-offload::kubernetes:helm.sh/v3:Release::kube-ovn-release",
        type="kubernetes:helm.sh/v3:Release",
        name="kube-ovn-release",
        inputs={
            "chart": "kube-ovn-v2",
            "name": "kube-ovn",
            "namespace": "kube-system",
            "version": version,
            "values": values,
        },
    )


@pytest.mark.parametrize(
    "values",
    [
        {"ovsOvn": {"resources": {"limits": {"cpu": "3"}}}},
        {"ovsOvn": {"podAnnotations": {"example.com/team": "net"}}},
        {"networking": {"tunnelType": "vxlan", "networkType": "vxlan"}},
        {"global": {"images": {"kubeovn": {"tag": "v1.16.2-fix1"}}}},
        {"image": {"pullPolicy": "Always"}},
        {"masterNodes": ["192.0.2.10", "192.0.2.9"]},
        {"controller": {"resources": {"limits": {"cpu": "2"}}}},
        {"networking": {"enableMetrics": False}},
    ],
    ids=lambda v: json.dumps(v, sort_keys=True),
)
def test_a_values_upgrade_restarts_ovs_ovn_exactly_when_the_plan_says(
    tmp_path: Path, values: dict[str, Any]
) -> None:
    """The simulated chart's ovs-ovn template reads what the real one does (of the values the
    stack may set), so the rehearsal and the plan (tools/engine/datapath_restarts.py) agree."""
    cluster = fresh(tmp_path)
    before = release_of("v1.16.2", PROGRAM_VALUES)
    cluster.apply_resource("create", before, None)
    old = {
        node: [p["metadata"]["name"] for p in found]
        for node, found in pods(cluster, "ovs-ovn-").items()
    }
    start = len(cluster.disruption_history())
    after = release_of("v1.16.2", {**PROGRAM_VALUES, **values})
    cluster.apply_resource("update", after, before)
    new = {
        node: [p["metadata"]["name"] for p in found]
        for node, found in pods(cluster, "ovs-ovn-").items()
    }
    planned = datapath_restarts.template_changes(before.inputs, after.inputs)
    assert (new != old) == bool(planned), (planned, old, new)
    disrupted = [e["nodes"] for e in cluster.disruption_history()[start:] if e["nodes"]]
    assert max((len(nodes) for nodes in disrupted), default=0) == (1 if planned else 0)


# --- pulumi-kubernetes applies -----------------------------------------------------------------


def test_node_patches_apply_with_their_manager_and_relinquish_on_delete(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    resources = apply_plan(cluster)
    tunnel = resources["lab-worker-1-kube-ovn-tunnel-interface"]
    node = cluster.node("lab-worker-1") or {}
    annotations = node["metadata"]["annotations"]
    assert annotations["ovn.kubernetes.io/tunnel_interface"] == "ens1np0"
    managers = {e["manager"]: e for e in node["metadata"]["managedFields"]}
    assert managers["agilio-offload-tunnel-interface"]["operation"] == "Apply"
    assert "f:pulumi.com/patchFieldManager" in json.dumps(
        managers["agilio-offload-tunnel-interface"]["fieldsV1"]
    )
    # Every node patch is retained (issue 17: a relinquish creates a Node deleted by hand):
    # deleting it forgets it; the fields stay.
    label = resources["lab-worker-1-agilio-label"]
    assert tunnel.options.retain_on_delete and label.options.retain_on_delete
    cluster.apply_resource("delete", None, tunnel)
    cluster.apply_resource("delete", None, label)
    node = cluster.node("lab-worker-1") or {}
    assert node["metadata"]["annotations"]["ovn.kubernetes.io/tunnel_interface"] == "ens1np0"
    assert node["metadata"]["labels"][AGILIO_NODE_LABEL] == "true"
    # A patch not retained is relinquished (ssa/actions.go `Relinquish`): its label goes;
    # patchForce stays, the tunnel patch's manager still owns it.
    relinquished = dataclasses.replace(label, options=Options())
    cluster.apply_resource("delete", None, relinquished)
    node = cluster.node("lab-worker-1") or {}
    assert AGILIO_NODE_LABEL not in node["metadata"]["labels"]
    assert node["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


def test_a_conflict_needs_force_and_a_patch_of_a_missing_node_creates_it(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.kubectl("annotate", "node", "lab-worker-1", "ovn.kubernetes.io/tunnel_interface=eth9")
    tunnel = plan_resources()["lab-worker-1-kube-ovn-tunnel-interface"]
    inputs = json.loads(json.dumps(dict(tunnel.inputs)))
    inputs["metadata"]["annotations"].pop("pulumi.com/patchForce")
    unforced = Resource(urn=tunnel.urn, type=tunnel.type, name=tunnel.name, inputs=inputs)
    with pytest.raises(ApplyError, match='conflict with "kubectl-annotate"'):
        cluster.apply_resource("create", unforced, None)
    cluster.apply_resource("create", tunnel, None)
    node = cluster.node("lab-worker-1") or {}
    assert node["metadata"]["annotations"]["ovn.kubernetes.io/tunnel_interface"] == "ens1np0"
    # Relinquishing a patch of a Node that is gone creates an empty Node (issue 17).
    ghost = Resource(
        urn=tunnel.urn.replace("lab-worker-1", "ghost"),
        type=tunnel.type,
        name="ghost-agilio-label",
        inputs={**inputs, "metadata": {"name": "ghost", "labels": {AGILIO_NODE_LABEL: "true"}}},
    )
    cluster.apply_resource("delete", None, ghost)
    phantom = cluster.node("ghost")
    assert phantom is not None and not phantom["metadata"].get("labels")


def test_a_plain_create_of_an_existing_object_is_already_exists(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    resources = apply_plan(cluster)
    with pytest.raises(ApplyError, match="already exists"):
        cluster.apply_resource("create", resources["multus-ds"], None)


# --- the stack's read-only tools against it ----------------------------------------------------


def test_the_cluster_preflight_and_verify_run_against_it(tmp_path: Path) -> None:
    """The dev stack's cluster preflight (context kind-agilio-lab) passes on a fresh cluster and
    finds a foreign tunnel interface; tools/verify.py reads the stack's end state."""
    cluster = SimCluster(tmp_path / "cluster", contexts=("kind-agilio-lab",))
    cluster.add_node("lab-control-1", control_plane=True)
    for name in WORKERS:
        cluster.add_node(name)
        cluster.set_node_devices(name, [AGILIO_VF] * 4)
    preflight = run().by_name("cluster-preflight-checks").inputs["create"]

    def check() -> subprocess.CompletedProcess[str]:
        return _sh(cluster, preflight)

    assert check().returncode == 0, check().stderr
    cluster.kubectl("annotate", "node", "lab-worker-2", "ovn.kubernetes.io/tunnel_interface=eth9")
    refused = check()
    assert refused.returncode != 0
    assert "annotation ovn.kubernetes.io/tunnel_interface is 'eth9'" in refused.stderr
    cluster.kubectl("annotate", "node", "lab-worker-2", "ovn.kubernetes.io/tunnel_interface-")
    apply_plan(cluster)
    verify = subprocess.run(
        [sys.executable, "-m", "tools.verify", "--context", "kind-agilio-lab", "--json"],
        env=cluster.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(verify.stdout)
    nodes = {entry["node"]: entry for entry in report["nodes"]}
    assert {nodes[name]["registration"] for name in WORKERS} == {"ok"}
    assert {nodes[name]["hw_offload_value"] for name in WORKERS} == {"true"}


def test_a_device_plugin_image_upgrade_rolls_one_node_at_a_time(tmp_path: Path) -> None:
    """A plain resource's update: server-side apply with the resource's own manager after the
    create's fields are handed over; the DaemonSet then rolls (RollingUpdate, maxUnavailable 1
    by default)."""
    cluster = fresh(tmp_path)
    cluster.install_kube_ovn(how="chart", version="1.16.2")
    for name in WORKERS:
        cluster.set_node_devices(name, [AGILIO_VF] * 4)
    old = apply_plan(cluster)["sriov-device-plugin-ds"]
    inputs = json.loads(json.dumps(dict(old.inputs)))
    container = inputs["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"] + "-next"
    new = Resource(urn=old.urn, type=old.type, name=old.name, inputs=inputs)
    start = len(cluster.disruption_history())
    before = {n: p[0]["metadata"]["name"] for n, p in pods(cluster, "kube-sriov-").items()}
    cluster.apply_resource("update", new, old)
    after = pods(cluster, "kube-sriov-")
    assert set(after) == set(before) == set(WORKERS)
    assert all(after[n][0]["spec"]["containers"][0]["image"].endswith("-next") for n in after)
    assert all(after[n][0]["metadata"]["name"] != before[n] for n in after)
    ds = cluster.objects("daemonsets.apps", "kube-system")
    plugin = next(d for d in ds if d["metadata"]["name"] == "kube-sriov-device-plugin")
    managers = {(e["manager"], e["operation"]) for e in plugin["metadata"]["managedFields"]}
    assert ("pulumi-kubernetes", "Update") not in managers  # fixCSAFieldManagers
    assert any(m.startswith("pulumi-kubernetes-") and op == "Apply" for m, op in managers)
    # The plugin is not the datapath: no node counts as disrupted by it.
    assert cluster.disruption_history()[start:] == []


def test_the_chart_cannot_take_over_an_install_sh_kube_ovn(tmp_path: Path) -> None:
    cluster = fresh(tmp_path)
    cluster.install_kube_ovn(how="install.sh", version="1.16.2")
    release = plan_resources()["kube-ovn-release"]
    with pytest.raises(ApplyError, match='DaemonSet "ovs-ovn" in namespace "kube-system" exists'):
        cluster.apply_resource("create", release, None)


def test_drain_refusals_and_force_as_the_shared_recordings_show(tmp_path: Path) -> None:
    """As recorded in the shared k8s recordings (e_drain, f_daemonset_cordon_vfs): a bare pod
    needs --force, then is named in the warning; annotate says "annotated" even unchanged."""
    cluster = fresh(tmp_path)
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain", "namespace": "default"},
        "spec": {"nodeName": "lab-worker-1", "containers": [{"name": "main", "image": "x"}]},
    }
    cluster.create(bare)
    refused = cluster.kubectl("drain", "lab-worker-1", "--ignore-daemonsets", "--timeout=30s")
    problem = "cannot delete Pods that declare no controller (use --force to override): "
    assert refused[2] == 1
    assert refused[1].endswith(f"{problem}default/plain\n")
    out, err, code = cluster.kubectl(
        "drain", "lab-worker-1", "--ignore-daemonsets", "--force", "--timeout=30s"
    )
    assert code == 0, err
    assert err == "Warning: deleting Pods that declare no controller: default/plain\n"
    assert out.endswith(
        "evicting pod default/plain\npod/plain evicted\nnode/lab-worker-1 drained\n"
    )
    for _ in range(2):
        assert cluster.kubectl("annotate", "node", "lab-worker-2", "a=b", "--overwrite")[0] == (
            "node/lab-worker-2 annotated\n"
        )


# --- a Node deleted by hand (issue 17: no phantom Node) ----------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        # Recorded (shared k8s recordings, e_drain): drain, cordon, uncordon of a missing node.
        ("drain", "ghost", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s"),
        ("cordon", "ghost"),
        ("uncordon", "ghost"),
        # kubectl label.go `RunLabel` / annotate.go `RunAnnotate`: the resource builder GETs the
        # object first (`Latest()`), so a missing one is the server's NotFound.
        ("label", "node", "ghost", f"{AGILIO_NODE_LABEL}-"),
        ("annotate", "node", "ghost", "pulumi.com/patchForce-"),
    ],
)
def test_kubectl_on_a_missing_node_is_not_found_and_creates_none(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    cluster = fresh(tmp_path)
    assert cluster.kubectl(*argv) == (
        "",
        'Error from server (NotFound): nodes "ghost" not found\n',
        1,
    )
    assert cluster.kubectl("get", "node", "ghost", "--ignore-not-found", "-o", "name") == (
        "",
        "",
        0,
    )
    assert cluster.node("ghost") is None


def test_label_says_what_it_changed(tmp_path: Path) -> None:
    """label.go `updateDataChangeMsg`; a label to remove that is not there is named first."""
    cluster = fresh(tmp_path)
    label = f"{AGILIO_NODE_LABEL}=true"
    assert cluster.kubectl("label", "node", "lab-worker-1", label)[0] == (
        "node/lab-worker-1 labeled\n"
    )
    assert cluster.kubectl("label", "node", "lab-worker-1", label)[0] == (
        "node/lab-worker-1 not labeled\n"
    )
    assert cluster.kubectl("label", "node", "lab-worker-1", f"{AGILIO_NODE_LABEL}-")[0] == (
        "node/lab-worker-1 unlabeled\n"
    )
    assert cluster.kubectl("label", "node", "lab-worker-1", f"{AGILIO_NODE_LABEL}-") == (
        f'label "{AGILIO_NODE_LABEL}" not found.\nnode/lab-worker-1 not labeled\n',
        "",
        0,
    )
    # Recorded (shared k8s recordings, d_ssa_conflict).
    cluster.kubectl("label", "node", "lab-worker-1", label)
    assert cluster.kubectl("label", "node", "lab-worker-1", f"{AGILIO_NODE_LABEL}=maybe") == (
        "",
        f"error: '{AGILIO_NODE_LABEL}' already has a value (true), and --overwrite is false\n",
        1,
    )


def test_the_node_mark_cleanups_take_the_label_off_only_an_existing_node(tmp_path: Path) -> None:
    """The label and tunnel patches are retained (their delete, a relinquish, would create a
    Node deleted by hand); the cleanup steps' deletes take the label and the `pulumi.com/*`
    annotations off with kubectl, which never creates a Node."""
    cluster = SimCluster(tmp_path / "cluster", contexts=("kind-agilio-lab",))
    cluster.add_node("lab-control-1", control_plane=True)
    for name in WORKERS:
        cluster.add_node(name)
    apply_plan(cluster)
    program = run()
    label_cleanup = program.by_name("agilio-label-cleanup-lab-worker-1").inputs["delete"]
    tunnel_cleanup = program.by_name("pulumi-annotations-cleanup-lab-worker-1").inputs["delete"]
    for command in (label_cleanup, tunnel_cleanup):
        done = _sh(cluster, command)
        assert done.returncode == 0, done.stderr
    meta = (cluster.node("lab-worker-1") or {})["metadata"]
    assert AGILIO_NODE_LABEL not in meta["labels"]
    assert not [k for k in meta["annotations"] if k.startswith("pulumi.com/")]
    assert meta["annotations"]["ovn.kubernetes.io/tunnel_interface"] == "ens1np0"
    # Removed fields leave their Apply owners too: nothing of the patches is owned any more.
    owned = json.dumps([e for e in meta["managedFields"] if e["operation"] == "Apply"])
    assert AGILIO_NODE_LABEL not in owned and "pulumi.com" not in owned
    # Again (a re-run after a failure): nothing left to take off, still a pass.
    assert _sh(cluster, label_cleanup).returncode == 0
    # The Node deleted by hand: it says so, passes, and creates no Node.
    cluster.kubectl("delete", "node", "lab-worker-1")
    gone = _sh(cluster, label_cleanup)
    assert (gone.returncode, gone.stderr) == (0, "")
    assert gone.stdout == (
        "agilio-offload: no Node lab-worker-1 in the cluster: nothing to take off it\n"
    )
    assert cluster.node("lab-worker-1") is None
    # A cluster it cannot read is no missing Node: the step fails.
    cluster.set_unreachable()
    failed = _sh(cluster, label_cleanup)
    assert failed.returncode == 1 and "was refused" in failed.stderr


def test_the_undo_brackets_act_on_an_existing_node_and_pass_a_deleted_one(tmp_path: Path) -> None:
    """drain-before-undo and uncordon-after-undo (their deletes): kubectl on the Node as ever;
    on a Node deleted by hand, kubectl's NotFound (recorded, e_drain) would fail the removal:
    the step says there is nothing to drain and passes; an unreadable cluster still fails."""
    cluster = SimCluster(tmp_path / "cluster", contexts=("kind-agilio-lab",))
    for name in WORKERS:
        cluster.add_node(name)
    program = run()
    drain = program.by_name("lab-worker-1-drain-before-undo").inputs["delete"]
    uncordon = program.by_name("lab-worker-1-uncordon-after-undo").inputs["delete"]
    drained = _sh(cluster, drain)
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.splitlines()[-1] == "node/lab-worker-1 drained"
    assert (cluster.node("lab-worker-1") or {})["spec"]["unschedulable"] is True
    assert _sh(cluster, uncordon).stdout == "node/lab-worker-1 uncordoned\n"
    cluster.add_workload("guarded", "lab-worker-1", pdb_max_unavailable=0)
    blocked = _sh(cluster, drain.replace("--timeout=600s", "--timeout=5s"))
    assert blocked.returncode == 1 and "disruption budget" in blocked.stderr
    cluster.kubectl("delete", "node", "lab-worker-1")
    for command, verb in ((drain, "drain before"), (uncordon, "uncordon after")):
        gone = _sh(cluster, command)
        assert (gone.returncode, gone.stderr) == (0, ""), gone.stderr
        assert gone.stdout == (
            f"agilio-offload: no Node lab-worker-1 in the cluster: nothing to {verb} its undo\n"
        )
    assert cluster.node("lab-worker-1") is None
    cluster.set_unreachable()
    assert _sh(cluster, drain).returncode == 1
