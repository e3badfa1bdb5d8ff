"""`nodes[].decommission: true` (issue 17): a node's undo as forward steps in its lane, then a
removal that runs nothing. What the engine model (tools/engine/, pulumi's step_generator.go and
pulumi-command's rules) does with each of the node's resources, and what the plan shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.names import (
    AGILIO_NODE_TYPE,
    DRAINED_STEP,
    HARDWARE_STEPS,
    KUBECTL_STEPS,
    SSH_RETURN_STEPS,
)
from tests.support.engine_scenarios import generated_nodes, run_of
from tools import engine as er
from tools.engine import Op
from tools.engine.rollout_analysis import command_text, runs_undo
from tools.plan import render_disruption
from tools.plan_text import render_order

NODE_STEPS = (DRAINED_STEP, "reload-wait", *HARDWARE_STEPS, *KUBECTL_STEPS, *SSH_RETURN_STEPS)
GONE = ("w1", "w5")


def with_decommissioned(*names: str, pf: dict[str, str] | None = None) -> list[dict[str, Any]]:
    nodes = generated_nodes()
    for node in nodes:
        node["decommission"] = node["name"] in names
        node["pf"] = (pf or {}).get(node["name"], node["pf"])
    return nodes


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    """The program's runs: rolled out, w1 and w5 decommissioned, then removed."""
    rolled = run_of({})
    decommissioned = run_of({"nodes": with_decommissioned(*GONE)}, rolled.outputs)
    kept = [n for n in generated_nodes() if n["name"] not in GONE]
    removed = run_of({"nodes": kept}, decommissioned.outputs)
    return {"rolled": rolled, "decommissioned": decommissioned, "removed": removed}


def resources(run: Any) -> list[dict[str, Any]]:
    return [r.as_json() for r in run.resources]


def of_node(run: Any, node: str) -> dict[str, Any]:
    parent = f"{AGILIO_NODE_TYPE}::{node}"
    return {
        r.name.removeprefix(f"{node}-"): r
        for r in run.resources
        if r.parent and r.parent.endswith(parent)
    }


def test_a_decommissioned_node_keeps_its_step_names_with_undo_creates_and_inert_deletes(
    states: dict[str, Any],
) -> None:
    rolled, decommissioned = (
        of_node(states["rolled"], "w1"),
        of_node(states["decommissioned"], "w1"),
    )
    assert set(decommissioned) == set(rolled) == set(NODE_STEPS)
    for step in (DRAINED_STEP, "reload-wait", *HARDWARE_STEPS):
        inputs = decommissioned[step].inputs
        assert runs_undo(inputs["create"]), step
        assert inputs.get("delete") is None, step  # pulumi-command dials nothing on delete
        assert inputs["triggers"] == rolled[step].inputs["triggers"] == ["ens1np0"], step
    for step in (*KUBECTL_STEPS, *SSH_RETURN_STEPS):
        assert decommissioned[step].inputs["delete"].startswith("echo "), step
    assert runs_undo(decommissioned["ssh-return-after-undo"].inputs["create"])
    # The brackets keep no triggers (an update), the others get new ones (a replacement).
    for step in ("uncordon-after-undo", "drain-before-undo", "ssh-return-after-undo"):
        assert decommissioned[step].inputs.get("triggers") is None, step


def test_a_decommissioned_node_keeps_no_label_annotation_or_registration_wait(
    states: dict[str, Any],
) -> None:
    names = {r.name for r in states["decommissioned"].resources}
    assert "w2-agilio-label" in names and "vfs-advertised-w2" in names
    assert not {"w1-agilio-label", "w1-kube-ovn-tunnel-interface", "vfs-advertised-w1"} & names


def test_the_outputs_mark_a_decommissioned_node(states: dict[str, Any]) -> None:
    nodes = states["decommissioned"].outputs["nodes"]
    assert nodes["w1"] == {"pf": "ens1np0", "decommissioned": True}
    assert "decommissioned" not in nodes["w2"]


def test_the_decommission_updates_in_the_lanes_and_keeps_the_bound(
    states: dict[str, Any],
) -> None:
    rollout = er.analyse(resources(states["rolled"]), resources(states["decommissioned"]), 1)
    ops = {d.name: d.op for d in rollout.plan.decisions}
    for node in GONE:
        for step in ("reload-wait", *HARDWARE_STEPS, "uncordon-after-undo", "drain-before-undo"):
            assert ops[f"{node}-{step}"] is Op.UPDATE, (node, step)
        assert ops[f"{node}-ssh-return-after-undo"] is Op.UPDATE
        for step in ("drain", "device-plugin-restart", "vfs-advertised", "uncordon"):
            assert ops[f"{node}-{step}"] is Op.REPLACE, (node, step)
    assert not [d for d in rollout.plan.decisions if d.op is Op.CREATE]
    assert rollout.worst_case == 1, rollout.worst_case_nodes
    # The hardware undo runs while the program registers, never in the delete waves.
    for wave in rollout.plan.delete_waves:
        for step in wave:
            text = command_text(step.op, step.resource.inputs)
            assert not text or text.startswith("echo ") or "kubectl" in text, step.id
            assert "drain" not in text.split(), step.id


def test_the_plan_shows_the_decommission_per_node(states: dict[str, Any]) -> None:
    rollout = er.analyse(resources(states["rolled"]), resources(states["decommissioned"]), 1)
    order = "\n".join(render_order(rollout))
    for node in GONE:
        assert f"{node}: undo vfs (VFs to 0)" in order
        assert f"{node}: undo firmware (link back, nfp reload)" in order
        assert f"{node}: wait for the SSH port after the undo's reload (TCP probe)" in order
    assert "VFs (after the reload)" not in order
    assert render_disruption(rollout)[1].endswith(f"this update finished: {', '.join(GONE)}")


def test_removing_decommissioned_nodes_runs_nothing(states: dict[str, Any]) -> None:
    rollout = er.analyse(resources(states["decommissioned"]), resources(states["removed"]), 1)
    node_steps = [
        s
        for s in er.all_steps(rollout.plan)
        if s.op is not Op.SAME and any(s.resource.name.startswith(f"{n}-") for n in GONE)
    ]
    assert node_steps
    for step in node_steps:
        text = command_text(step.op, step.resource.inputs)
        assert not text or text.startswith("echo "), f"{step.id} runs {text[:80]!r}"
    assert rollout.worst_case == 0


def test_a_pf_change_after_a_decommission_is_a_fresh_apply(states: dict[str, Any]) -> None:
    moved = with_decommissioned("w1", pf={"w5": "ens2np0"})
    run = run_of({"nodes": moved}, states["decommissioned"].outputs)
    rollout = er.analyse(resources(states["decommissioned"]), resources(run), 1)
    for step in ("reload-wait", *HARDWARE_STEPS):
        decision = rollout.plan.decision(f"w5-{step}")
        assert decision.op is Op.REPLACE and decision.delete_before_replace, step
    # The old steps' deletes are inert; the new creates apply on ens2np0.
    for step in er.all_steps(rollout.plan):
        if step.resource.name.startswith("w5-") and step.op is Op.DELETE_REPLACED:
            text = command_text(step.op, step.resource.inputs)
            assert not text or text.startswith("echo "), step.id
    assert "w5-agilio-label" in {r.name for r in run.resources}
    assert rollout.worst_case == 1


def test_taking_a_decommissioned_node_back_drains_it_before_its_apply(
    states: dict[str, Any],
) -> None:
    back = run_of({"nodes": with_decommissioned("w1")}, states["decommissioned"].outputs)
    rollout = er.analyse(resources(states["decommissioned"]), resources(back), 1)
    ops = {d.name: d.op for d in rollout.plan.decisions}
    assert ops["w5-drain"] is Op.REPLACE and ops["w5-uncordon"] is Op.REPLACE
    assert ops["w5-vfs"] is Op.UPDATE
    order = "\n".join(render_order(rollout))
    assert order.index("w5: drain (cordon, evict its pods)") < order.index("w5: VFs")
    assert rollout.worst_case == 1
