"""The engine's plan of the changes of issue 10 on the real program: the operations and waves
they really get (tools/engine/), and the plan tool's `--baseline`/`--destroy` output.

What a fix of the rollout may change (how many nodes are out at once) is asserted in
tests/test_engine_defects.py; here only what holds before and after: the model is consistent and
the providers' rules give these operations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.engine_scenarios import REMOVED, SCENARIOS, plan_of, resource, scenario
from tools import engine as er
from tools import plan
from tools.engine import Op

HARDWARE = er.HARDWARE_STEPS


@pytest.fixture(scope="module")
def plans() -> dict[str, tuple[list, list, er.Rollout]]:
    monkeypatch = pytest.MonkeyPatch()
    found = {}
    for name in SCENARIOS:
        # What the engine does with the registrations (the change guard would refuse some).
        old, new, bound = scenario(name, monkeypatch, guarded=False)
        found[name] = (old, new, er.analyse(old, new, bound))
    monkeypatch.undo()
    return found


def _decision(rollout: er.Rollout, name: str) -> er.Decision:
    return rollout.plan.decision(name)


def _nodes(resources: list[dict]) -> list[str]:
    return er.node_names(resources)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_resource_gets_one_decision_and_every_step_one_wave(plans: dict, name: str) -> None:
    old, new, rollout = plans[name]
    urns = [d.urn for d in rollout.plan.decisions]
    assert sorted(urns) == sorted({r["urn"] for r in [*old, *new]}), name
    in_waves = [s.id for w in rollout.waves for s in w.steps if s.calls_provider]
    calls = [s.id for s in er.all_steps(rollout.plan) if s.calls_provider]
    assert sorted(in_waves) == sorted(calls), f"{name}: a step is in no wave or in two"


@pytest.mark.parametrize("name", SCENARIOS)
def test_delete_waves_run_dependents_first(plans: dict, name: str) -> None:
    old, _, rollout = plans[name]
    wave_of = {s.resource["urn"]: i for i, w in enumerate(rollout.plan.delete_waves) for s in w}
    for item in old:
        for dependency in er.dependencies(item):
            if item["urn"] in wave_of and dependency in wave_of:
                assert wave_of[item["urn"]] < wave_of[dependency], (
                    f"{name}: {item['name']} is deleted after {dependency}, which it needs"
                )


def test_script_change_updates_every_hardware_step_which_runs_create_again(plans: dict) -> None:
    _, new, rollout = plans["script change"]
    for node in _nodes(new):
        for step in HARDWARE:
            decision = _decision(rollout, f"{node}-{step}")
            assert decision.op is Op.UPDATE, decision.because
            assert "create" in decision.changed
            (update,) = rollout.plan.chains[decision.urn]
            assert update.op is Op.UPDATE
            assert "# changed" in update.resource["inputs"]["create"]


def test_pf_change_replaces_the_node_steps_delete_before_replace(plans: dict) -> None:
    _, _, rollout = plans["pf change"]
    for step in HARDWARE:
        decision = _decision(rollout, f"w1-{step}")
        assert decision.op is Op.REPLACE and decision.delete_before_replace, decision.because
        undo, apply = rollout.plan.chains[decision.urn]
        assert (undo.op, apply.op) == (Op.DELETE_REPLACED, Op.CREATE_REPLACEMENT)
        assert "PF=ens1np0" in undo.resource["inputs"]["delete"], "the old PF is undone"
        assert "PF=ens2np0" in apply.resource["inputs"]["create"], "the new PF is applied"
    for step in HARDWARE:
        assert _decision(rollout, f"w2-{step}").op is Op.SAME, "other nodes are not touched"


def test_destroy_forgets_the_retained_release_and_crd_and_undoes_every_node(plans: dict) -> None:
    old, _, rollout = plans["destroy"]
    retained = {d.name for d in rollout.plan.decisions if d.retained}
    # The release, the CRD, and every node patch (issue 17: deleting one is a server-side
    # apply that re-creates a Node deleted by hand): what the retained Kube-OVN needs (its
    # master label and the tunnel-interface annotations) stays, the Agilio label's cleanup
    # step takes it off.
    nodes = _nodes(old)
    assert retained == {
        "kube-ovn-release",
        "multus-nad-crd",
        "lab-control-1-kube-ovn-master-label",
        *(f"{node}-kube-ovn-tunnel-interface" for node in nodes),
        *(f"{node}-agilio-label" for node in nodes),
    }
    deleted = {s.name for w in rollout.plan.delete_waves for s in w}
    assert {f"agilio-label-cleanup-{node}" for node in nodes} <= deleted
    wave_of = {s.name: i for i, w in enumerate(rollout.plan.delete_waves) for s in w}
    for node in _nodes(old):
        undo = [
            s
            for w in rollout.plan.delete_waves
            for s in w
            if s.name in {f"{node}-{step}" for step in HARDWARE}
        ]
        assert len(undo) == len(HARDWARE)
        assert all("ACTION=undo" in s.resource["inputs"]["delete"] for s in undo)
        assert wave_of[f"{node}-vfs"] < wave_of[f"{node}-firmware"], "VFs go before firmware"


def test_drain_off_touches_no_hardware_step(plans: dict) -> None:
    _, new, rollout = plans["drain off"]
    for node in _nodes(new):
        for step in HARDWARE:
            assert _decision(rollout, f"{node}-{step}").op is Op.SAME


def test_removing_nodes_undoes_them_and_leaves_the_others(plans: dict) -> None:
    old, _, rollout = plans["remove 3 nodes"]
    for node in _nodes(old):
        for step in HARDWARE:
            decision = _decision(rollout, f"{node}-{step}")
            assert decision.op is (Op.DELETE if node in REMOVED else Op.SAME), decision.because


# --- the plan tool renders it ---------------------------------------------------------------------


def _baseline(tmp_path: Path, resources: list[dict]) -> Path:
    directory = tmp_path / "baseline"
    directory.mkdir()
    (directory / "resources.json").write_text(json.dumps(resources))
    return directory


def _foreign_nodes() -> list[dict]:
    """Two nodes of an earlier plan whose undo drains are not ordered: one delete wave."""
    found = []
    for node in ("old-1", "old-2"):
        component = resource(node, er.NODE_COMPONENT, custom=False)
        found += [
            component,
            resource(
                f"{node}-drain-before-undo",
                er.LOCAL_COMMAND,
                inputs={"create": "echo", "delete": f"kubectl drain {node}"},
                parent=component["urn"],
            ),
        ]
    return found


def test_plan_exits_3_and_names_the_waves_over_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["--stack", "dev", "--out", str(tmp_path / "now"), "--quiet"]) == 0
    current = json.loads((tmp_path / "now" / "resources.json").read_text())
    baseline = _baseline(tmp_path, [*current, *_foreign_nodes()])
    capsys.readouterr()
    out = tmp_path / "after"
    code = plan.main(["--stack", "dev", "--out", str(out), "--baseline", str(baseline), "--quiet"])
    printed = capsys.readouterr()
    assert code == plan.EXIT_OVER_BOUND
    assert "DISRUPTION OVER BOUND" in printed.err and "waves D1" in printed.err
    assert (
        "old-1: drain (cordon, evict its pods) before the undo; "
        "old-2: drain (cordon, evict its pods) before the undo" in printed.out
    )
    engine = json.loads((out / "engine.json").read_text())
    assert engine["overBound"] is True and engine["worstCaseNodesOut"] == 2
    assert {"name": "old-1-drain-before-undo", "op": "delete"} in engine["waves"][0]["steps"]


def test_plan_against_itself_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    assert plan.main(["--stack", "dev", "--out", str(first), "--quiet"]) == 0
    capsys.readouterr()
    assert (
        plan.main(["--stack", "dev", "--out", str(tmp_path / "b"), "--baseline", str(first)]) == 0
    )
    printed = capsys.readouterr().out
    assert "0 create, 0 update, 0 replace (0 delete-before-replace), 0 delete" in printed
    assert "Nodes out at once: 0" in printed


def test_plan_destroy_lists_every_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    assert plan.main(["--stack", "dev", "--out", str(first), "--quiet"]) == 0
    resources = json.loads((first / "resources.json").read_text())
    capsys.readouterr()
    out = tmp_path / "destroy"
    plan.main(["--stack", "dev", "--destroy", "--baseline", str(first), "--out", str(out)])
    printed = capsys.readouterr().out
    engine = json.loads((out / "engine.json").read_text())
    assert len(engine["operations"]) == len(resources)
    assert {o["op"] for o in engine["operations"]} == {"delete"}
    assert "delete (retained: forgotten, left running)" in printed
    assert "lab-worker-1: undo vfs (VFs to 0)" in printed, "the node undo is shown in its wave"


def test_plan_destroy_needs_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "dev", "--destroy"]) == 2
    assert "--destroy needs --baseline" in capsys.readouterr().err


def test_turning_drain_on_drains_no_node(monkeypatch: pytest.MonkeyPatch) -> None:
    # drain off -> on updates the kubectl steps; an update runs a Command's `update` (here a
    # no-op), not its `create` (a drain): no node is taken out by the switch itself.
    before = plan_of({"rollout": {"maxUnavailable": 1, "drain": False}})
    after = plan_of({"rollout": {"maxUnavailable": 1, "drain": True}})
    rollout = er.analyse(before, after, 1)
    drains = [d for d in rollout.plan.decisions if d.name.endswith("-drain")]
    assert drains and all(d.op is Op.UPDATE for d in drains)
    assert rollout.worst_case == 0, rollout.worst_case_nodes
    for step in er.all_steps(rollout.plan):
        if step.op is Op.UPDATE and step.name.endswith("-drain"):
            text = er.command_text(step.op, step.resource["inputs"])
            assert text.startswith("echo "), text
