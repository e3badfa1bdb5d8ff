"""A Kube-OVN chart upgrade in the plan (issue 17): the release step restarts ovs-ovn, the
datapath, of every Agilio node, one node at a time by the chart's update strategy; the plan
lists the nodes and counts them out. A release update that leaves the ovs-ovn pod template
alone, and a chartVersion under `install: existing`, restart nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from tests.support.engine_scenarios import BASE, plan_of, run_of
from tests.support.plan_runs import run_plan, write_stack
from tools import engine as er
from tools import plan_text
from tools.engine import datapath_restarts as dr
from tools.engine.mock_driver import stack_file

WORKERS = [n["name"] for n in BASE["nodes"]]
KUBE_OVN = {
    "chartVersion": "v1.16.2",
    "iface": "ens1np0",
    "masterNodes": [{"name": "cp1", "ip": "192.0.2.1"}],
}


def kube_ovn(**changes: Any) -> dict[str, Any]:
    return {"kubeOvn": {**KUBE_OVN, **changes}}


@pytest.fixture(scope="module")
def before() -> list[dict[str, Any]]:
    return plan_of(kube_ovn())


def release_wave(rollout: er.Rollout) -> er.Wave:
    (wave,) = [w for w in rollout.waves if any(s.name == "kube-ovn-release" for s in w.steps)]
    return wave


def test_a_chart_upgrade_restarts_every_agilio_node_one_at_a_time(before: list) -> None:
    rollout = er.analyse(before, plan_of(kube_ovn(chartVersion="v1.16.3")), 1)
    assert rollout.worst_case == 1, "the release restarts ovs-ovn: one node out at a time"
    (restart,) = rollout.datapath_restarts
    assert restart.nodes == tuple(sorted(WORKERS))
    assert restart.at_once == 1
    assert restart.strategy == "RollingUpdate, maxSurge 1, maxUnavailable 0"
    assert restart.why == ("version v1.16.2 -> v1.16.3",)
    assert release_wave(rollout).disrupted == tuple(restart.slots())
    assert not rollout.over_bound


def test_a_chart_upgrade_with_a_vf_change_runs_after_every_node_lane(before: list) -> None:
    nodes = copy.deepcopy(BASE["nodes"])
    nodes[1]["vfs"] = 6
    rollout = er.analyse(before, plan_of({**kube_ovn(chartVersion="v1.16.3"), "nodes": nodes}), 1)
    # The release waits for every node's last step (SriovDevicePlugin -> NAD -> KubeOvnOffload):
    # the drained node and the ovs-ovn restarts never overlap, in any order.
    assert rollout.worst_case == 1, rollout.worst_case_nodes
    wave = release_wave(rollout)
    assert "w2" not in wave.disrupted


def test_a_value_in_the_ovs_ovn_template_restarts_it(before: list) -> None:
    values = {"ovsOvn": {"resources": {"limits": {"cpu": "3"}}}}
    rollout = er.analyse(before, plan_of(kube_ovn(values=values)), 1)
    (restart,) = rollout.datapath_restarts
    assert restart.why == ("values ovsOvn.resources",)
    assert rollout.worst_case == 1


def test_a_value_outside_the_ovs_ovn_template_restarts_nothing(before: list) -> None:
    values = {"controller": {"resources": {"limits": {"cpu": "2"}}}}
    rollout = er.analyse(before, plan_of(kube_ovn(values=values)), 1)
    assert rollout.datapath_restarts == ()
    assert [k.changed for k in rollout.releases_kept] == [("controller.resources",)]
    assert rollout.worst_case == 0


def test_a_first_install_restarts_no_running_datapath() -> None:
    rollout = er.analyse([], plan_of(kube_ovn()), 1)
    assert rollout.datapath_restarts == ()


def test_a_strategy_wider_than_the_bound_is_over_it(before: list) -> None:
    # The stack's values allowlist refuses ovsOvn.updateStrategy (next test), so only a
    # hand-made state gets here: the model still says so.
    after = plan_of(kube_ovn(chartVersion="v1.16.3"))
    release = next(r for r in after if r["name"] == "kube-ovn-release")
    release["inputs"]["values"]["ovsOvn"] = {"updateStrategy": {"maxSurge": 2}}
    rollout = er.analyse(before, after, 1)
    assert rollout.worst_case == 2
    assert rollout.over_bound
    assert (
        "  DATAPATH RESTART OVER BOUND: 2 nodes at a time, more than rollout.maxUnavailable 1"
        in (plan_text.render_restarts(rollout))
    )


def test_the_stack_cannot_widen_the_ovs_ovn_update_strategy() -> None:
    values = {"ovsOvn": {"updateStrategy": {"maxSurge": 2}}}
    with pytest.raises(ConfigError, match=r"ovsOvn\.updateStrategy"):
        run_of(kube_ovn(values=values))


def test_a_chart_version_under_existing_changes_and_restarts_nothing() -> None:
    existing = {"install": "existing", "iface": "ens1np0", "masterNodes": KUBE_OVN["masterNodes"]}
    old = plan_of({"kubeOvn": {**existing, "chartVersion": "v1.16.2"}})
    new = plan_of({"kubeOvn": {**existing, "chartVersion": "v1.16.3"}})
    rollout = er.analyse(old, new, 1)
    assert [d.name for d in rollout.plan.decisions if d.op is not er.Op.SAME] == []
    assert rollout.datapath_restarts == () and rollout.worst_case == 0


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({}, 1),  # the chart's values.yaml: maxSurge 1, maxUnavailable 0
        ({"maxSurge": 0, "maxUnavailable": 2}, 2),  # no surge: maxUnavailable deleted first
        ({"maxSurge": "50%"}, 5),  # a percentage of a cluster the plan cannot count: all
        ({"maxSurge": 9}, 5),  # never more than the Agilio nodes
    ],
)
def test_at_once_follows_update_go(strategy: dict, expected: int) -> None:
    assert dr.at_once({"ovsOvn": {"updateStrategy": strategy}}, 5)[0] == expected


# --- what the plan tool prints ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "dev"
    assert run_plan(out, "--quiet") == 0
    return out


def dev_kube_ovn(**changes: Any) -> dict[str, Any]:
    document = yaml.safe_load(stack_file("dev").read_text())
    return {"kubeOvn": {**document["config"]["agilio-offload:kubeOvn"], **changes}}


def changed(
    dev_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict
) -> tuple[str, dict[str, Any]]:
    capsys.readouterr()
    out = tmp_path / "changed"
    stack = write_stack(tmp_path, changes)
    assert run_plan(out, "--quiet", "--stack-file", str(stack), "--baseline", str(dev_plan)) == 0
    return capsys.readouterr().out, json.loads((out / "engine.json").read_text())


def test_the_plan_of_a_chart_upgrade_names_the_nodes_and_counts_one_out(
    dev_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed, engine = changed(dev_plan, tmp_path, capsys, dev_kube_ovn(chartVersion="v1.16.3"))
    assert (
        "Datapath restarts: kube-ovn-release in R1 (version v1.16.2 -> v1.16.3) changes the "
        "ovs-ovn pod template:" in printed
    )
    assert "  Agilio nodes: lab-worker-1, lab-worker-2, 1 at a time" in printed
    assert "RollingUpdate, maxSurge 1, maxUnavailable 0" in printed
    assert "Nodes out at once: 1 at most" in printed
    assert "R1   update kube-ovn-release   [out: ovs-ovn restart (1 of 2 nodes at a time)]" in (
        printed
    )
    assert engine["worstCaseNodesOut"] == 1
    assert engine["datapathRestarts"] == [
        {
            "release": "kube-ovn-release",
            "why": ["version v1.16.2 -> v1.16.3"],
            "nodes": ["lab-worker-1", "lab-worker-2"],
            "atOnce": 1,
            "strategy": "RollingUpdate, maxSurge 1, maxUnavailable 0",
        }
    ]


def test_the_plan_of_a_values_change_says_whether_ovs_ovn_restarts(
    dev_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    controller = {"controller": {"resources": {"limits": {"cpu": "2"}}}}
    printed, engine = changed(dev_plan, tmp_path, capsys, dev_kube_ovn(values=controller))
    assert "values.controller.resources.limits.cpu (none) -> 2" in printed
    assert (
        "Datapath restarts: none from kube-ovn-release: what changes (controller.resources) is "
        "not in the ovs-ovn pod template" in printed
    )
    assert engine["worstCaseNodesOut"] == 0
    assert "digest of the node's hardware commands" not in printed, "no node's digest changed"
