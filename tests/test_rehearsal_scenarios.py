"""Day-2 scenarios rehearsed end to end (issue 17): the real program under the engine model,
every step executed, remote commands over SSH on emulated Agilio nodes, kubectl scripts and
Kubernetes resources against the simulated cluster.

Each scenario asserts that the rehearsal finishes (or fails where the scenario says so), that at
no instant more than `rollout.maxUnavailable` (1) Agilio nodes are cordoned or disrupted, that the
end state is the config, and that a second run changes nothing. The emulated nodes are shared by
the module (reset between scenarios); the figures each scenario prints come from the tool.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from components.config import pins
from components.names import LOCAL_COMMAND, REMOTE_COMMAND
from components.waits import Waits
from tests.support.emulated_node.spec import NodeSpec
from tools.rehearsal.driver import Result, open_cluster, rehearse, seed_cluster
from tools.rehearsal.fleet import Fleet
from tools.rehearsal.report import figures
from tools.rehearsal.state import StackState

# One stack lives through the scenarios in file order: they must share a worker.
pytestmark = pytest.mark.xdist_group("rehearsal-scenarios")

STACK = "dev"
CONTEXT = "kind-agilio-lab"
WORKERS = ("w1", "w2", "w3")
BASE: dict[str, Any] = {
    "agilio-offload:nodes": [
        {"name": name, "host": f"192.0.2.{11 + i}", "pf": "ens1np0"}
        for i, name in enumerate(WORKERS)
    ],
    "agilio-offload:vfs": 4,
    "agilio-offload:rollout": {"maxUnavailable": 1, "drain": True},
    "agilio-offload:kubeOvn": {
        "chartVersion": "v1.16.2",
        "iface": "ens1np0",
        "masterNodes": [{"name": "cp1", "ip": "192.0.2.10"}],
    },
    "agilio-offload:kubernetes": {"context": CONTEXT},
}
NEW_PLUGIN_IMAGE = "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.9.1"
WAITS = Waits(
    pf_seconds=20, ssh_gone_seconds=4, vfs_advertised_seconds=8, vfs_advertised_interval=0.2
)


def config(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    for key, value in changes.items():
        values[f"agilio-offload:{key}"] = value
    return values


def nodes(*names: str, **per_node: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": n, "host": f"192.0.2.{10 + int(n[1:])}", "pf": "ens1np0", **per_node.get(n, {})}
        for n in names
    ]


class Stage:
    """One stack: its simulated cluster, the shared emulated nodes and the state it reached."""

    def __init__(self, fleet: Fleet, directory: Path, first: dict[str, Any]) -> None:
        self.fleet = fleet
        self.cluster: Any = open_cluster(directory, [CONTEXT])
        seed_cluster(self.cluster, _short(first))
        self.state = StackState()
        self.figures: list[dict[str, Any]] = []

    def up(
        self,
        overrides: dict[str, Any],
        *,
        destroy: bool = False,
        label: str = "",
        targets: tuple[str, ...] = (),
    ) -> Result:
        result = rehearse(
            stack=STACK,
            old=self.state,
            cluster=self.cluster,
            fleet=self.fleet,
            overrides=overrides,
            destroy=destroy,
            waits=WAITS,
            echo=lambda _line: None,
            targets=targets,
        )
        self.state = result.outcome.state
        found = {"run": label, **figures(result)}
        self.figures.append(found)
        print(found, result.outcome.failure[-400:] if not result.finished else "")
        return result

    def good(self, overrides: dict[str, Any], *, destroy: bool = False, label: str = "") -> Result:
        result = self.up(overrides, destroy=destroy, label=label)
        assert result.finished, result.outcome.failure
        assert result.outcome.peak_disrupted <= 1, result.outcome.disrupted_timeline
        assert result.end_state == [], result.end_state
        return result

    def settled(self, overrides: dict[str, Any], *, destroy: bool = False) -> None:
        """A second run changes nothing."""
        again = self.up(overrides, destroy=destroy, label="again")
        assert again.finished, again.outcome.failure
        assert [s.name for s in again.outcome.provider_steps] == []


def untouched(result: Result, *gone: str) -> None:
    """A removal of decommissioned nodes: no SSH, no kubectl, no node out; their steps' deletes
    only print."""
    assert result.outcome.peak_disrupted == 0, result.outcome.disrupted_timeline
    steps = [s for s in result.outcome.provider_steps if s.node in gone]
    assert steps
    for step in steps:
        if step.type == REMOTE_COMMAND:
            assert step.output == "", f"{step.name} ran on its node: {step.output[:200]}"
        elif step.type == LOCAL_COMMAND:
            assert step.output.startswith("agilio-offload: "), f"{step.name}: {step.output[:200]}"
            assert "decommissioned" in step.output, f"{step.name}: {step.output[:200]}"


def lift_pdb(cluster: Any, name: str) -> None:
    """The operator deletes the PodDisruptionBudget that blocked the drain."""
    with cluster.store.open() as state:
        state.remove("poddisruptionbudgets.policy", "default", name)


def _short(overrides: dict[str, Any]) -> dict[str, Any]:
    return {key.removeprefix("agilio-offload:"): value for key, value in overrides.items()}


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with Fleet() as shared:
        yield shared


@pytest.fixture(scope="module")
def day2(fleet: Fleet) -> Iterator[Stage]:
    """One stack living through the day-2 scenarios below, in file order, each starting from
    the state the one before left (as a real stack does): one first rollout for all of them."""
    fleet.reset()
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as directory:
        yield Stage(fleet, Path(directory), BASE)


def test_first_rollout_on_a_fresh_cluster(day2: Stage) -> None:
    day2.good(BASE, label="first rollout")
    day2.settled(BASE)


def test_vf_count_change(day2: Stage) -> None:
    changed = config(nodes=nodes(*WORKERS, w2={"vfs": 8}))
    result = day2.good(changed, label="VF count change (w2: 4 -> 8)")
    assert {s.node for s in result.outcome.provider_steps if s.node} == {"w2"}
    day2.settled(changed)
    day2.good(BASE, label="VF count back")


def test_device_plugin_image_upgrade(day2: Stage) -> None:
    with mock.patch.object(pins, "SRIOV_DEVICE_PLUGIN_IMAGE", NEW_PLUGIN_IMAGE):
        result = day2.good(BASE, label="device plugin image upgrade")
        assert "sriov-device-plugin-ds" in [s.name for s in result.outcome.provider_steps]
        day2.settled(BASE)


def test_kube_ovn_chart_upgrade(day2: Stage) -> None:
    upgraded = config(kubeOvn={**BASE["agilio-offload:kubeOvn"], "chartVersion": "v1.16.3"})
    start = len(day2.cluster.disruption_history())
    result = day2.good(upgraded, label="Kube-OVN chart upgrade")
    assert "kube-ovn-release" in [s.name for s in result.outcome.provider_steps]
    # ovs-ovn (maxSurge 1) restarts every Agilio node's datapath, one node at a time, and the
    # plan tool says the same figure for the change.
    restarted = [e["nodes"] for e in day2.cluster.disruption_history()[start:] if e["nodes"]]
    assert {n for nodes in restarted for n in nodes} >= set(WORKERS), restarted
    assert result.outcome.peak_disrupted == 1, result.outcome.disrupted_timeline
    assert result.planned_peak == 1
    day2.settled(upgraded)
    BASE["agilio-offload:kubeOvn"] = upgraded["agilio-offload:kubeOvn"]


def test_add_a_node(day2: Stage) -> None:
    day2.cluster.add_node("w4")
    added = config(nodes=nodes(*WORKERS, "w4"))
    day2.good(added, label="add a node (w4)")
    day2.settled(added)


def test_remove_one_node(day2: Stage) -> None:
    decommissioned = config(nodes=nodes(*WORKERS, "w4", w4={"decommission": True}))
    day2.good(decommissioned, label="decommission w4")
    day2.settled(decommissioned)
    removed = day2.good(BASE, label="then remove w4")
    untouched(removed, "w4")
    day2.settled(BASE)


def test_remove_two_nodes_is_refused_then_the_documented_path_works(day2: Stage) -> None:
    refused = day2.up(config(nodes=nodes("w1")), label="remove two nodes (refused)")
    assert not refused.finished
    assert refused.outcome.failed_step == "(program)"
    assert "node w2 leaves the config without a finished decommission" in refused.outcome.failure
    assert refused.outcome.peak_disrupted == 0
    both = {"decommission": True}
    decommissioned = config(nodes=nodes(*WORKERS, w2=both, w3=both))
    day2.good(decommissioned, label="decommission w2 and w3")
    removed = day2.good(config(nodes=nodes("w1")), label="then remove both")
    untouched(removed, "w2", "w3")
    day2.settled(config(nodes=nodes("w1")))
    day2.good(BASE, label="add w2, w3 back")


def test_pf_change_by_its_documented_path(day2: Stage) -> None:
    decommissioned = config(nodes=nodes(*WORKERS, w3={"decommission": True}))
    day2.good(decommissioned, label="PF change: decommission w3")
    moved = config(nodes=nodes(*WORKERS, w3={"pf": "ens2np0"}))
    day2.fleet.specs["w3"] = NodeSpec(node="w3", pf="ens2np0")
    day2.fleet.reset_node("w3")
    day2.good(moved, label="PF change: w3 on ens2np0")
    day2.settled(moved)
    back = config(nodes=nodes(*WORKERS, w3={"pf": "ens2np0", "decommission": True}))
    day2.good(back, label="decommission w3 (ens2np0)")
    day2.fleet.specs.pop("w3")
    day2.fleet.reset_node("w3")
    day2.good(BASE, label="w3 back on ens1np0")


def test_a_drain_that_fails_on_a_pdb_then_a_rerun(day2: Stage) -> None:
    day2.cluster.add_workload("guarded", "w2", pdb_max_unavailable=0)
    changed = config(nodes=nodes(*WORKERS, w2={"vfs": 6}))
    failed = day2.up(changed, label="VF change, drain blocked by a PDB")
    assert not failed.finished
    assert "w2-drain" in (failed.outcome.failed_step or "")
    assert failed.outcome.peak_disrupted <= 1
    lift_pdb(day2.cluster, "guarded")
    day2.good(changed, label="re-run after the PDB is lifted")
    day2.settled(changed)
    day2.good(BASE, label="VF count back")


def test_a_node_left_cordoned_is_counted_before_another_drain(day2: Stage) -> None:
    """A failed update leaves w2 cordoned (its drain hit a PDB). The operator then changes a
    value that re-runs w1 too: w1's drain would take a second node out while w2 waits behind it
    in the lane. The drain counts the Agilio nodes already cordoned and refuses, changing
    nothing; the documented way out (finish the failed update first) keeps the bound."""
    day2.cluster.add_workload("held", "w2", pdb_max_unavailable=0)
    first = config(vfs=6)
    failed = day2.up(first, label="VF change everywhere, w2's drain blocked by a PDB")
    assert not failed.finished
    assert "w2-drain" in (failed.outcome.failed_step or "")
    lift_pdb(day2.cluster, "held")
    other = config(vfs=5)
    refused = day2.up(other, label="another VF change before w2 finished")
    assert refused.outcome.peak_disrupted <= 1, refused.outcome.disrupted_timeline
    assert not refused.finished
    assert "w1-drain" in (refused.outcome.failed_step or "")
    assert "w2 is cordoned" in refused.outcome.failure, refused.outcome.failure
    day2.good(first, label="the failed update finished first")
    day2.good(other, label="then the other change")
    day2.good(BASE, label="VF count back")


def test_a_failed_decommission_then_another_one_keeps_the_bound(day2: Stage) -> None:
    """Issue 17's failed delete phase: removing w3 directly (its drain blocked by a PDB) failed
    in the delete phase with outputs that already lacked w3, and removing w1 next ran w3's
    remaining undo beside w1's whole undo: 2 nodes out (watched before the decommission path,
    as a rehearsal of the old program: w1 and w3 out at once). Now a removal needs a finished
    decommission, and a decommission runs in the node's lane."""
    day2.cluster.add_workload("guarded-too", "w3", pdb_max_unavailable=0)
    refused = day2.up(config(nodes=nodes("w1", "w2")), label="remove w3 directly (refused)")
    assert "node w3 leaves the config without a finished decommission" in refused.outcome.failure
    w3_out = config(nodes=nodes(*WORKERS, w3={"decommission": True}))
    failed = day2.up(w3_out, label="decommission w3, drain blocked")
    assert not failed.finished
    assert "w3-drain" in (failed.outcome.failed_step or "")
    assert failed.outcome.peak_disrupted <= 1
    # The failed drain gave the node back, and the outputs do not mark w3 decommissioned.
    assert "w3" not in day2.cluster.disrupted_nodes()
    again = day2.up(config(nodes=nodes("w1", "w2")), label="then remove w3 (refused)")
    assert "node w3 leaves the config without a finished decommission" in again.outcome.failure
    lift_pdb(day2.cluster, "guarded-too")
    out = {"decommission": True}
    both = config(nodes=nodes(*WORKERS, w1=out, w3=out))
    day2.good(both, label="decommission w1, re-run w3's")
    removed = day2.good(config(nodes=nodes("w2")), label="then remove w1 and w3")
    untouched(removed, "w1", "w3")
    day2.good(BASE, label="add w1, w3 back")


def test_destroy(day2: Stage) -> None:
    day2.good(BASE, destroy=True, label="destroy")
    assert day2.state.resources == []


@pytest.fixture()
def pair(fleet: Fleet) -> Iterator[Stage]:
    """A stack of its own with two Agilio nodes (w1, w2), rolled out."""
    fleet.reset()
    first = config(nodes=nodes("w1", "w2"))
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as directory:
        stage = Stage(fleet, Path(directory), first)
        stage.good(first, label="first rollout (w1, w2)")
        yield stage


def test_decommissioning_a_node_whose_node_object_is_gone_creates_no_node(pair: Stage) -> None:
    """The operator deleted w2's Node (`kubectl delete node`, e.g. a machine being retired),
    then decommissions w2 and removes it. Deleting a NodePatch is a server-side apply of the bare
    Node (pulumi-kubernetes ssa/actions.go `Relinquish`), which would create an empty Node w2
    (issue 17: "no phantom Node"); the decommission's drain and uncordon find no Node, its card
    is still undone over SSH."""
    _out, err, code = pair.cluster.kubectl("delete", "node", "w2")
    assert code == 0, err
    decommissioned = config(nodes=nodes("w1", "w2", w2={"decommission": True}))
    result = pair.good(decommissioned, label="decommission w2 whose Node is gone")
    outputs: dict[str, str] = {}
    for step in result.outcome.steps:  # a replacement is two steps of one name
        outputs[step.name] = outputs.get(step.name, "") + step.output
    assert pair.cluster.node("w2") is None, "a step created a Node w2"
    for step, verb in (("drain", "drain"), ("uncordon", "uncordon")):
        assert f"no Node w2 in the cluster: nothing to {verb}" in outputs[f"w2-{step}"], outputs
    # The patches are forgotten (retained); their cleanups found no Node to take fields off.
    for cleanup in ("agilio-label-cleanup-w2", "pulumi-annotations-cleanup-w2"):
        assert "no Node w2 in the cluster: nothing to take off it" in outputs[cleanup]
    assert pair.fleet.numvfs("w2") == 0
    removed = config(nodes=nodes("w1"))
    untouched(pair.good(removed, label="then remove w2"), "w2")
    assert pair.cluster.node("w2") is None, "a step created a Node w2"
    pair.settled(removed)


def test_targeted_vfs_change_refuses_without_a_fresh_drain(pair: Stage) -> None:
    """`pulumi up --target w2-vfs` after a VF count change: the drain and `drained` are not
    targeted, so they keep their old state (the engine's untargeted "same") and nothing drains
    w2; its vfs step refuses on the node before it changes anything. A full `up` then works."""
    changed = config(nodes=nodes("w1", "w2", w2={"vfs": 8}))

    refused = pair.up(changed, targets=("w2-vfs",), label="up --target w2-vfs")

    assert not refused.finished
    assert (refused.outcome.failed_step or "").endswith("::w2-vfs"), refused.outcome
    assert "is for another vfs command, need a fresh drain of w2" in refused.outcome.failure
    assert "--target" in refused.outcome.failure
    assert [s.name for s in refused.outcome.provider_steps] == ["w2-vfs"]
    assert pair.fleet.numvfs("w2") == 4
    assert refused.end_state == [
        "w2: 4 VFs on the card, config says 8",
        "w2: allocatable corigine.com/agilio_sriov=4, want 8",
    ]
    for name in ("w1", "w2"):
        assert not (pair.cluster.node(name).get("spec") or {}).get("unschedulable")

    pair.good(changed, label="then a full up")
    assert pair.fleet.numvfs("w2") == 8
    pair.settled(changed)
